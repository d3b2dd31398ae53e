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


def test_a_variant_kind_is_drawn_only_when_a_mix_names_it():
    assert _insert_counts(EXTRA_AXIAL_MIX)["subdural_thin"] == 0
    thin = _insert_counts({**EXTRA_AXIAL_MIX, "inserted_kind": {**EXTRA_AXIAL_MIX["inserted_kind"], "subdural_thin": 30}})
    assert thin["subdural_thin"] == 30 and thin["subdural"] == 250


def test_a_thin_subdural_insert_is_labelled_subdural():
    from training.ct_data.pools import LABEL_INDEX
    from core.imaging.pseudo_hu import hu_to_window8
    from tests.training.ct_data.test_insert import _slice

    img = hu_to_window8(_slice(ventricle_px=6))[None].repeat(3, axis=0)
    p = Pools.build([SliceSeries("ct_a", "ct-ich", img, np.zeros((3, 6), np.float32), np.zeros(3, np.int8), None, patient="ct_a")])
    rng = np.random.default_rng(4)
    samples = [s for s in (p.inserted(rng, "subdural_thin") for _ in range(10)) if s is not None]
    assert samples
    for s in samples:
        assert s.labels[0] == 1 and s.labels[LABEL_INDEX["subdural"]] == 1 and s.labels[LABEL_INDEX["epidural"]] == 0


def test_thin_mix_adds_thin_subdurals_and_ventricular_blood_to_the_extra_axial_mix():
    from training.ct_data.pools import THIN_MIX

    thin, extra = _insert_counts(THIN_MIX), _insert_counts(EXTRA_AXIAL_MIX)
    assert thin["subdural_thin"] == 200 and thin["intraventricular"] == 200
    for kind in ("epidural", "subdural", "intraparenchymal", "subarachnoid", "bg_left", "bg_right", "calcification"):
        assert thin[kind] == extra[kind], kind
