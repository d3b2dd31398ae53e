"""The stacked QC scores (core.qc.stack): the formula on a hand-made stack, and the shipped card's
stack names only features the engine computes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.models.registry import ModelRegistry
from core.qc.measures import Measures
from core.qc.stack import features, stacked_probs


def test_formula_on_a_hand_made_stack():
    m = Measures.empty()
    m.face_ml, m.width_mm = 400.0, 150.0
    stack = {"labels": ["face", "brain_loss", "not_stripped"], "outputs": {
        "face": {"features": ["logit_face", "log_face_ml"], "mean": [0.0, 5.0], "std": [2.0, 1.0], "coef": [1.0, 0.5], "intercept": -0.2},
        "brain_loss": {"features": ["logit_brain_loss"], "mean": [0.0], "std": [1.0], "coef": [1.0], "intercept": 0.0},
        "not_stripped": {"features": ["kept_per_width3"], "mean": [0.0], "std": [1.0], "coef": [0.0], "intercept": 3.0}}}
    p = stacked_probs(np.array([0.8, 0.3, 0.5]), m, stack)
    z_face = -0.2 + math.log(0.8 / 0.2) / 2.0 + 0.5 * (math.log1p(400.0) - 5.0)
    assert p[0] == pytest.approx(1 / (1 + math.exp(-z_face)))
    assert p[1] == pytest.approx(0.3)  # the logit alone gives the CNN's probability back
    assert p[2] == pytest.approx(1 / (1 + math.exp(-3.0)))


def test_shipped_card_stack_names_known_features():
    card = ModelRegistry().card("skullstrip_qc")
    stack = card.extra.get("stack")
    assert stack is not None, "skullstrip_qc card has no stack"
    known = set(features(np.array([0.5, 0.5, 0.5]), Measures.empty()))
    assert stack["labels"] == ["face", "brain_loss", "not_stripped"]
    for lab in stack["labels"]:
        s = stack["outputs"][lab]
        assert set(s["features"]) <= known
        assert len(s["features"]) == len(s["mean"]) == len(s["std"]) == len(s["coef"])
        assert min(s["std"]) > 0
