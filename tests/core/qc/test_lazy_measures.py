"""The brain-intrinsic measures (core.qc.measures: plane_frac, rim_*, dark_frac; ~55 ms of CPU a volume) are
computed lazily when the card's stack does not use them: for flagged files, or when asked (the review
window). Lazily or not, they are the same numbers; a passing file's CSV row leaves them empty."""

from __future__ import annotations

import csv
import json
import math
import shutil

import pytest

from core.io import load
from core.paths import demo_dir
from core.qc.measures import INTRINSIC, add_intrinsic, measure
from core.qc.preprocess import prepared
from core.tasks.skullstrip import SkullStripScorer, stack_uses_intrinsic
from tests.qc_thresholds import lenient_resources


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    # a passing file is needed: the bundled model flags the demo's good strip (known miss, test_skullstrip.py), so this
    # scorer reads a card copy that flags brain loss at 0.7 (tests/qc_thresholds.py); the model and its outputs are the real ones
    from core.models.registry import ModelRegistry

    res = lenient_resources(tmp_path_factory.mktemp("qc"))
    return SkullStripScorer(ModelRegistry([res / "models"]), threads=1)


def _vol(name: str):
    return load(str(demo_dir() / "mri" / f"{name}.nii.gz"))


def test_measure_without_intrinsic_then_added_gives_the_same_numbers():
    vol = _vol("brain_cut")
    grid = prepared(vol.voxels, vol.spacing)
    full = measure(vol, grid)
    lazy = measure(vol, grid, intrinsic=False)
    assert full.has_intrinsic and not lazy.has_intrinsic
    assert all(math.isnan(getattr(lazy, k)) for k in INTRINSIC) and lazy.plane_side == ""
    d = lazy.to_dict()
    assert all(d[k] is None for k in INTRINSIC)  # an empty CSV cell, null in JSON
    json.dumps(d, allow_nan=False)
    assert all(f"{k}=" not in s for k in INTRINSIC for s in lazy.outside_normal())  # not computed is never "outside normal"
    assert {k: v for k, v in lazy.to_dict().items() if k not in INTRINSIC} == {k: v for k, v in full.to_dict().items() if k not in INTRINSIC}
    added = add_intrinsic(lazy, vol)  # without the shared grid: prepared again, same result
    assert added == full and add_intrinsic(lazy, vol, grid) == full
    assert "nan" not in lazy.explain({"brain_loss": True})  # left out of the sentence, not printed as nan


def test_scorer_computes_them_only_for_flagged_files_unless_asked(scorer):
    assert not stack_uses_intrinsic(scorer.model.card.extra.get("stack"))  # the bundled stack: explanation only
    good, cut = _vol("good"), _vol("brain_cut")
    res = scorer.score(good)
    assert res.verdict == "pass" and not res.measures.has_intrinsic and "measures_intrinsic" not in res.timings
    asked = scorer.score(good, intrinsic=True)
    assert asked.measures == measure(good) and (asked.p_face, asked.p_brain_loss) == (res.p_face, res.p_brain_loss)
    flagged = scorer.score(cut)
    assert flagged.flags["brain_loss"] and "measures_intrinsic" in flagged.timings
    assert flagged.measures == measure(cut)
    assert "rim 2-4 mm inside the edge" in flagged.explanation()


def test_a_stack_that_uses_them_always_gets_them():
    stack = {"outputs": {"brain_loss": {"features": ["logit_brain_loss", "plane_frac"]}, "face": {"features": ["logit_face"]}}}
    assert stack_uses_intrinsic(stack) and not stack_uses_intrinsic(None)
    assert not stack_uses_intrinsic({"outputs": {"face": {"features": ["logit_face", "log_kept_ml"]}}})


def test_batch_row_of_a_passing_file_leaves_them_empty(tmp_path, monkeypatch):
    from core.qc import engine
    from core.qc.engine import run_batch

    monkeypatch.setenv("NEUROREVIEW_RESOURCES", str(lenient_resources(tmp_path)))  # see the scorer fixture
    monkeypatch.setattr(engine, "_SCORER", None)  # the per-process scorer reads the card when first made

    root = tmp_path / "in"
    root.mkdir()
    for n in ("good", "brain_cut"):
        shutil.copy(demo_dir() / "mri" / f"{n}.nii.gz", root / f"{n}.nii.gz")
    out = tmp_path / "res.csv"
    run_batch(root, out, workers=1, progress=False, thumbs=False)
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(open(out, newline=""))}
    assert rows["good.nii.gz"]["verdict"] == "pass" and all(rows["good.nii.gz"][k] == "" for k in INTRINSIC)
    assert rows["brain_cut.nii.gz"]["flag_brain_loss"] == "1"
    assert all(rows["brain_cut.nii.gz"][k] != "" for k in INTRINSIC)
    assert float(rows["brain_cut.nii.gz"]["plane_frac"]) == pytest.approx(measure(_vol("brain_cut")).plane_frac, abs=1e-3)
