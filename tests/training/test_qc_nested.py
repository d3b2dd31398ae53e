"""Nested leave-one-head-out stacking (training.qc_nested): the held-out head is never seen in any
form (its labels and measures change nothing in its fold's choices, stack or threshold), the
threshold is Youden's, and a head-independent measure beats a logit that shifts by head."""

from __future__ import annotations

import numpy as np

from core.qc.measures import Measures
from training.qc_nested import LABELS, nested, shipped, youden_threshold

HEADS = ("a", "b", "c", "d")


def _data(seed: int = 0, n: int = 40):
    rng = np.random.default_rng(seed)
    groups = np.repeat(HEADS, n)
    y = (rng.random((len(groups), 3)) < 0.4).astype(np.float64)
    shift = {h: s for h, s in zip(HEADS, (-2.0, -1.0, 1.0, 2.0))}  # the CNN's brain-loss logit shifts by head
    meas = []
    for i, g in enumerate(groups):
        m = Measures.empty()
        m.plane_lost_pct = float(8.0 * y[i, 1] + rng.normal(0, 2.0))  # head-independent evidence of a cut
        m.rim_rel, m.rim_dark, m.dark_frac, m.plane_frac = (float(v) for v in rng.uniform(0, 1, 4))
        m.face_ml, m.kept_ml, m.below_ml, m.width_mm = max(0.0, float(400 * y[i, 0] + rng.normal(0, 80))), 1500.0, 100.0, 140.0
        m.background_zero = float(1 - y[i, 2] + rng.normal(0, 0.1))
        meas.append(m)

    def logits(noise_seed: int) -> np.ndarray:
        r = np.random.default_rng(noise_seed)
        lg = 3 * (y - 0.5) + r.normal(0, 1.5, y.shape)
        lg[:, 1] += np.array([shift[g] for g in groups])
        return lg

    singles = {h: logits(10 + k) for k, h in enumerate(HEADS)}
    pairs = {frozenset((h, g)): logits(100 + 10 * a + b) for a, h in enumerate(HEADS) for b, g in enumerate(HEADS) if a < b}
    return groups, y, meas, singles, pairs


def test_youden_threshold():
    t = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    assert 0.3 < youden_threshold(t, p) < 0.6


def test_held_out_head_is_never_seen():
    groups, y, meas, singles, pairs = _data()
    res = nested(groups, y, meas, singles, pairs)
    assert set(res["table"]) == set(HEADS)
    # change everything about head "a" except what its own fold CNN predicts: the fold's choices are the same
    y2 = y.copy()
    a = groups == "a"
    y2[a] = 1 - y2[a]
    meas2 = [Measures.empty() if g == "a" else m for m, g in zip(meas, groups)]
    pairs2 = {k: (v + 5.0 * a[:, None] if "a" in k else v) for k, v in pairs.items()}
    res2 = nested(groups, y2, meas2, singles, pairs2)
    assert res2["choices"]["a"] == res["choices"]["a"]
    assert res2["table"]["a"]["brain_loss"]["threshold"] == res["table"]["a"]["brain_loss"]["threshold"]


def test_head_independent_measure_transfers():
    groups, y, meas, singles, pairs = _data()
    res = nested(groups, y, meas, singles, pairs)
    for h in HEADS:
        row = res["table"][h]["brain_loss"]
        assert row["auc"] > row["cnn_only_auc"] - 0.02
        assert row["sensitivity"] > 0.7 and row["specificity"] > 0.7, (h, row)  # the fold threshold fits every head
        assert "plane_lost_pct" in __import__("training.qc_nested", fromlist=["CANDIDATES"]).CANDIDATES["brain_loss"][res["choices"][h]["brain_loss"]["features"]]
    ship = shipped(groups, y, meas, singles, res["pooled"])
    assert set(ship["thresholds"]) == set(LABELS)
    assert set(ship["stack"]["outputs"]) == set(LABELS)


def test_write_card_keeps_the_network_and_puts_in_the_nested_stack(tmp_path):
    """--write-card on a copy of the bundled card: new version, stack and thresholds; the same weights."""
    import shutil

    import onnx

    from core.models.card import ModelCard
    from core.models.registry import ModelRegistry
    from training.qc_nested import at_threshold, write_card

    src = ModelRegistry().card("skullstrip_qc")
    for suffix in (".onnx", ".json"):
        shutil.copy(src.onnx_path.with_suffix(suffix), tmp_path / f"skullstrip_qc{suffix}")
    groups, y, meas, singles, pairs = _data()
    res = nested(groups, y, meas, singles, pairs)
    ship = shipped(groups, y, meas, singles, res["pooled"])
    out = {"table": res["table"], "choices": res["choices"], "shipped": ship,
           "at_shipped_thresholds": at_threshold(y, groups, res["pooled"], ship["thresholds"]), "pooled_auc": {}}
    write_card(tmp_path, out, "9.9.9")
    card = ModelCard.read(tmp_path / "skullstrip_qc.json")
    assert card.version == "9.9.9" and card.thresholds == ship["thresholds"]
    assert card.extra["stack"] == ship["stack"] and card.metrics["leave_one_head_out"] == res["table"]
    a, b = onnx.load(str(src.onnx_path)).graph.initializer, onnx.load(str(tmp_path / "skullstrip_qc.onnx")).graph.initializer
    assert [t.raw_data for t in a] == [t.raw_data for t in b]


def test_write_card_refits_only_the_asked_output(tmp_path):
    import shutil

    from core.models.card import ModelCard
    from core.models.registry import ModelRegistry
    from training.qc_nested import at_threshold, write_card

    src = ModelRegistry().card("skullstrip_qc")
    for suffix in (".onnx", ".json"):
        shutil.copy(src.onnx_path.with_suffix(suffix), tmp_path / f"skullstrip_qc{suffix}")
    groups, y, meas, singles, pairs = _data()
    groups = np.array([{"a": "colin27", "b": "mni", "c": "robex_atlas", "d": "studyforrest"}[g] for g in groups])
    singles = {{"a": "colin27", "b": "mni", "c": "robex_atlas", "d": "studyforrest"}[h]: v for h, v in singles.items()}
    pairs = {frozenset({"a": "colin27", "b": "mni", "c": "robex_atlas", "d": "studyforrest"}[x] for x in k): v for k, v in pairs.items()}
    res = nested(groups, y, meas, singles, pairs, ("brain_loss",))
    ship = shipped(groups, y, meas, singles, res["pooled"], ("brain_loss",))
    out = {"table": res["table"], "choices": res["choices"], "shipped": ship, "only": ["brain_loss"],
           "at_shipped_thresholds": at_threshold(y, groups, res["pooled"], ship["thresholds"]), "pooled_auc": {}}
    write_card(tmp_path, out, "9.9.9")
    card = ModelCard.read(tmp_path / "skullstrip_qc.json")
    for lab in ("face", "not_stripped"):
        assert card.extra["stack"]["outputs"][lab] == src.extra["stack"]["outputs"][lab]
        assert card.thresholds[lab] == src.thresholds[lab]
        assert card.metrics["leave_one_head_out"]["mni"][lab] == src.metrics["leave_one_head_out"]["mni"][lab]
    assert card.extra["stack"]["outputs"]["brain_loss"] == ship["stack"]["outputs"]["brain_loss"]
    assert card.thresholds["brain_loss"] == ship["thresholds"]["brain_loss"]
    assert card.metrics["leave_one_head_out"]["mni"]["brain_loss"] == res["table"]["mni"]["brain_loss"]
