"""`neuroreview models --verify`: every bundled model verified, the ONNX Runtime wheel named, and the
provider each session really got reported (CPU here; the GPU wheel may list CUDA it cannot load)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_models_verify_reports_runtime_and_provider():
    out = subprocess.run([sys.executable, "-m", "app", "models", "--verify"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ONNX Runtime ") and "CPUExecutionProvider" in lines[0]
    rows = json.loads(subprocess.run([sys.executable, "-m", "app", "models", "--verify", "--json"],
                                     capture_output=True, text=True, timeout=300).stdout)
    assert {r["name"] for r in rows} >= {"ich_cnn", "ich_bilstm", "bg_laterality", "skullstrip_qc"}
    for r in rows:
        assert r["status"] == "sha256 ok" and r["provider"] == "CPUExecutionProvider" and r["device"] == "CPU"
        assert any(line.startswith(f"{r['name']} ") and "runs on CPU (CPUExecutionProvider)" in line for line in lines)


def test_card_lines_name_what_is_missing_and_never_print_question_marks():
    from app.cli.models import key_figures, training_line

    ct = {"what": "phantoms", "series_train": 118, "slices_train": 3458, "series_held_out": 37, "split": "by series"}
    assert training_line(ct) == "phantoms (118 series, 3458 slices); held out 37 series, split by series"
    qc = {"what": "strips", "n_train": 180, "n_held_out": 60, "split": "by subject"}
    assert training_line(qc) == "strips (180 volumes); held out 60 volumes, split by subject"
    assert training_line({}) == "not stated"
    table = {"any": {"auc": 0.95, "n": 10, "n_positive": 4}, "epidural": {"auc": None, "n": 10, "n_positive": 0},
             "subdural": {"auc": 0.99, "n": 10, "n_positive": 3}}
    assert key_figures({"held_out": table}) == ("held_out: AUC 0.950-0.990 over 2 of 3 labels; "
                                                "no AUC for epidural (no positive case)")


def test_listing_of_the_bundled_cards_has_no_unknowns():
    out = subprocess.run([sys.executable, "-m", "app", "models"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "?" not in out.stdout, out.stdout


def test_real_test_figures_come_first_with_their_ci_and_counts():
    """The CT cards keep their real-data figures one level down (metrics.real_test.<set>.any): `models` must show
    them, not 'no held-out metrics'."""
    from app.cli.models import key_figures

    any_ = {"auc": 0.9415, "auc_ci": [0.9124, 0.9707], "n": 400, "positives": 53}
    metrics = {"unseen_generated_set": {"series": 60, "slice": {"any": {"auc": 0.9, "n": 9}, "subdural": {"auc": 0.8, "n": 9}}},
               "real_test": {"CT-ICH": {"patients": 14, "any": any_},
                             "series": {"any": {"auc": None, "n": 5, "n_positive": 5}, "slices_with_series_context": {}}},
               "series_level": {"any": {"auc": 0.85, "n": 13}, "epidural": {"auc": 0.93, "n": 13}, "slices_with_series_context": {"any": {}}}}
    line = key_figures(metrics)
    assert line.startswith("real test CT-ICH: any hemorrhage AUC 0.942 (0.912-0.971), 400 slices of 14 patients; "
                           "real test series: no AUC for any hemorrhage (no negative case)")
    assert "unseen_generated_set slice: AUC 0.800-0.900 over 2 labels" in line
    assert "series_level: AUC 0.850-0.930 over 2 labels" in line  # the nested block beside the labels is left out
    # a card without an "any" output (BG laterality, the OOD guard) does not print the ICH model's real-test figure as its own
    assert not key_figures(metrics, labels=["none", "left", "right"]).startswith("real test")
    assert key_figures(metrics, labels=["any", "subdural"]) == line


def test_bg_and_ood_cards_show_their_own_real_test_blocks():
    """Since stop 19 evaluate_real gives each CT card its own real-test block (training.evaluate_real.card_real_test)."""
    from app.cli.models import key_figures
    from training.evaluate_real import BG_REAL_TEST_NOTE, card_real_test

    blocks = {"CT-ICH": {"patients": 14, "slices": 433, "any": {"auc": 0.94, "n": 433}, "ood_slices_outside": 0.0162,
                         "ood_series_median_max": 0.751, "reliability_any": [], "series_level": {}},
              "generated_unseen": {"series": 60}}
    ood = card_real_test("ich_ood", blocks)
    assert ood == {"CT-ICH": {"patients": 14, "slices": 433, "ood_slices_outside": 0.0162, "ood_series_median_max": 0.751}}
    assert key_figures({"real_test": ood}, labels=["ood_score"]) == (
        "real test CT-ICH: 1.6% of 433 slices of 14 patients outside the training data (highest series median 0.751)")
    bg = card_real_test("bg_laterality", blocks)
    assert "any" not in bg["CT-ICH"] and bg["note"] == BG_REAL_TEST_NOTE
    assert key_figures({"real_test": bg}, labels=["none", "left", "right"]) == f"real test: {BG_REAL_TEST_NOTE}"
    assert "reliability_any" not in card_real_test("ich_cnn", blocks)["CT-ICH"]
