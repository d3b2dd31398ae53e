"""`python -m training.synth mri --n N`: exactly N volumes on disk, each with its label row, and the message
says so (the last subject is cut short instead of writing a volume without a label)."""

from __future__ import annotations

import argparse
import csv

import pytest

from training.synth.mri_cli import run_mri


@pytest.mark.slow
def test_writes_exactly_n_volumes_with_labels(tmp_path, capsys):
    out = tmp_path / "mri"
    run_mri(argparse.Namespace(out=str(out), n=2, seed=0, strips=3, settings=None, workers=1))
    files = sorted(p.name for p in out.glob("*.nii.gz"))
    labels = [r["Filename"] for r in csv.DictReader(open(out / "label_file.csv"))]
    assert files == sorted(labels) == ["SYN00000_strip1.nii.gz", "SYN00000_strip2.nii.gz"]
    assert "wrote 2 stripped volumes (1 subjects)" in capsys.readouterr().out
