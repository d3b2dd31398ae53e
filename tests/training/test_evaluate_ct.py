"""evaluate_ct on a small generated set, as the app scores it (real ONNX Runtime): Table 3 layout,
BG laterality with Wilson intervals and named misses, and the unseen-set block written into the
cards without touching the .onnx (the registry still verifies the sha256)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from core.models import ModelRegistry
from core.paths import models_dir
from training.evaluate_ct import main
from training.synth.__main__ import main as synth_main


@pytest.mark.slow
def test_generated_set_report_and_cards(tmp_path):
    data = tmp_path / "ct"
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models, ignore=shutil.ignore_patterns("skullstrip*"))
    assert synth_main(["ct", "--n", "4", "--out", str(data), "--seed", "7", "--size", "128", "--bg-fraction", "1.0"]) == 0
    sides = pd.read_csv(data / "bg_labels.csv")["bg_side"]
    assert (sides != "none").all()  # --bg-fraction 1.0: every head has a basal-ganglia hematoma

    out = tmp_path / "report.json"
    assert main(["--data", str(data), "--json", str(out), "--write-cards", "--cards-dir", str(models)]) == 0
    report = json.loads(out.read_text())
    assert report["series"] == 4
    t3 = report["table3"]
    for level in ("slice", "series"):
        for model in ("cnn", "cnn_bilstm"):
            assert set(t3[level][model]) == {"any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"}
    assert t3["series"]["cnn_bilstm"]["intraparenchymal"]["n_positive"] == 4  # a BG hematoma is intraparenchymal
    bg = report["bg"]
    assert bg["n_hemorrhage"] == 4 and bg["n_none"] == 0 and bg["auc_hemorrhage_vs_none"] is None
    lo, hi = bg["laterality_accuracy_ci95"]
    assert lo <= bg["laterality_accuracy"] <= hi
    assert len(bg["misses"]) == 4 - bg["laterality_correct"]
    assert all("hematoma_ml" in m and m["truth"] != m["called"] for m in bg["misses"])

    reg = ModelRegistry([models])
    for name in ("ich_cnn", "ich_bilstm", "bg_laterality"):
        card = reg.verify(name)  # the .onnx is untouched: sha256 still matches
        assert card.metrics["unseen_generated_set"]["n_series" if name != "bg_laterality" else "n"] == 4
    assert "table3" in reg.card("ich_bilstm").metrics["unseen_generated_set"]
