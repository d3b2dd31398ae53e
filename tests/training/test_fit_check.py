"""training.fit_check on generated slices: one AUC per kind of positive, from the logits it is given."""

from __future__ import annotations

import numpy as np
import pytest

from core.imaging.pseudo_hu import hu_to_window8
from training.ct_data.insert import KINDS
from training.ct_data.phantom import SliceSeries
from training.ct_data.pools import Pools
from training.fit_check import POSITIVES, draw_fit_set, fit_table
from tests.training.ct_data.test_insert import _slice


def test_fit_table_ranks_by_the_logit_it_is_given():
    img = np.stack([hu_to_window8(_slice(ventricle_px=6)) for _ in range(3)])
    series = SliceSeries("ge_a", "ge", img, np.zeros((3, 6), np.float32), np.zeros(3, np.int8), None, patient="ge_a")
    sets = draw_fit_set(Pools.build([series]), np.random.default_rng(0), n=6)
    assert len(sets["negative"]) == 6 and sets["real ct-ich"] == []  # no CT-ICH here: backgrounds are the negatives
    assert all(len(sets[k]) == 6 for k in KINDS)
    base = img[0].astype(np.float32)
    brightness = lambda x: (x.astype(np.float32) - base).clip(0).sum(axis=(1, 2))  # noqa: E731  (inserts add blood)
    table = fit_table(brightness, sets)
    assert table["real ct-ich"] is None and set(table) == set(POSITIVES)
    assert all(table[k] == pytest.approx(1.0) for k in KINDS)  # every insert brightens its slice: a perfect ranking
    assert all(v == pytest.approx(0.5) for v in fit_table(lambda x: np.zeros(len(x)), sets).values() if v is not None)
