"""Epoch composition (training.ct_data.pools): a mix may set the number of inserts per subtype."""

from __future__ import annotations

from collections import Counter

import numpy as np

from training.ct_data.phantom import SliceSeries
from training.ct_data.pools import EXTRA_AXIAL_MIX, INSERT_MIX, Pools, epoch_samples


def _pools() -> Pools:
    n = 4
    img = np.zeros((n, 32, 32), np.uint8)
    return Pools.build([SliceSeries("ge_a", "ge", img, np.zeros((n, 6), np.float32), np.zeros(n, np.int8), None, patient="ge_a")])


def _insert_counts(mix: dict) -> Counter:
    draws = epoch_samples(_pools(), np.random.default_rng(0), mix)
    return Counter(arg for kind, arg in draws if kind == "insert")


def test_extra_axial_mix_draws_more_epidural_and_subdural_inserts_only():
    base, extra = _insert_counts(INSERT_MIX), _insert_counts(EXTRA_AXIAL_MIX)
    assert base["subdural"] == base["epidural"] == base["intraparenchymal"] == INSERT_MIX["inserted_each"]
    assert extra["subdural"] == extra["epidural"] == 250
    for kind in ("intraparenchymal", "intraventricular", "subarachnoid", "bg_left", "bg_right", "calcification"):
        assert extra[kind] == base[kind], kind
