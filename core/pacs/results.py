"""Score one series and write its results as DICOM files: the SR and the Grad-CAM secondary captures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom

from core.errors import InputError
from core.pacs.findings import Findings, summarize
from core.pacs.sc import build_secondary_captures
from core.pacs.sr import build_sr
from core.tasks.ct import BGResult, CTScorer, ICHResult
from core.volume import Volume


@dataclass
class Written:
    sr: Path
    secondary_captures: list[Path]
    findings: Findings

    @property
    def paths(self) -> list[Path]:
        return [self.sr, *self.secondary_captures]


def source_headers(volume: Volume) -> list[pydicom.Dataset]:
    """Headers of the DICOM files the volume was read from (the SR's evidence)."""
    if not volume.ids.files:
        raise InputError("DICOM results need a DICOM source series (this volume has no DICOM files)", volume.ids.source)
    return [pydicom.dcmread(f, stop_before_pixels=True) for f in volume.ids.files]


def write_sr(volume: Volume, ich: ICHResult, bg: BGResult, out: str | Path) -> tuple[Path, Findings]:
    findings = summarize(ich, bg)
    sr = build_sr(findings, source_headers(volume))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sr.save_as(out, enforce_file_format=True)
    return out, findings


def write_results(volume: Volume, ich: ICHResult, bg: BGResult, out_dir: str | Path) -> Written:
    """SR + one secondary capture per flagged label into `out_dir` (files named by SOP Instance UID)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    headers = source_headers(volume)
    findings = summarize(ich, bg)
    sr = build_sr(findings, headers)
    sr_path = out_dir / f"SR_{sr.SOPInstanceUID}.dcm"
    sr.save_as(sr_path, enforce_file_format=True)
    scs = []
    for sc in build_secondary_captures(volume, ich, findings, headers[0]):
        p = out_dir / f"SC_{sc.SOPInstanceUID}.dcm"
        sc.save_as(p, enforce_file_format=True)
        scs.append(p)
    return Written(sr_path, scs, findings)


def score_and_write(path: str, out_dir: str | Path, series_uid: str | None = None, scorer: CTScorer | None = None) -> Written:
    from core.io import load

    scorer = scorer or CTScorer()
    vol = load(path, series_uid=series_uid)
    return write_results(vol, scorer.score_ich(vol), scorer.score_bg(vol), out_dir)
