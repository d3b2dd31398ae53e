"""Options shared by several subcommands (kept light: imported when the parser is built)."""

from __future__ import annotations

import argparse


def add_modality_argument(parser: argparse.ArgumentParser) -> None:
    """`--modality CT|MR`: override the file's modality (NIfTI has none; it is recognised from the header and values)."""
    parser.add_argument("--modality", type=str.upper, choices=("CT", "MR"), default=None,
                        help="treat the volume as CT or MR (default: the DICOM Modality tag; for NIfTI, recognised from "
                             "the header text and the values: HU-like air and bone mean CT)")
