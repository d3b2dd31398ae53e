"""Hemorrhages inserted into head CT slices (training.ct_data.insert): every insert is visible in the
brain-window export (extra-axial blood also against the saturated skull), a slice without room for a subtype
gets none, and a training view whose extra-axial blood the export look merged with bone is not labelled."""

from __future__ import annotations

import numpy as np
import pytest

from training.ct_data.augment import BONE_WHITE_8BIT, MIN_SEEN_BLOOD_PX, blood_seen_against_bone
from training.ct_data.insert import (BONE_DISTINCT_HU, EXTRA_AXIAL, EXTRA_AXIAL_SHAPE, KINDS, MIN_VISIBLE_MM2, anatomy, insert_lesion,
                                     visible_mm2)


def _slice(ventricle_px: int) -> np.ndarray:
    """256x256 at 1 mm: air, a 7 mm skull ring, brain 35 HU with sulci, two ventricles of the given half-size."""
    yy, xx = np.mgrid[:256, :256]
    r = np.hypot((yy - 128) / 1.15, xx - 128)
    hu = np.full((256, 256), -1000.0, np.float32)
    hu[r < 100] = 1000.0
    hu[r < 93] = 35.0
    hu[(r > 80) & (r < 92) & ((xx + yy) % 9 < 2)] = 5.0  # sulcal CSF near the cortex
    for cx in (115, 141):
        hu[(abs(yy - 128) < ventricle_px * 3) & (abs(xx - cx) < ventricle_px)] = 5.0
    return hu + np.random.default_rng(0).normal(0, 2, hu.shape).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_every_insert_is_visible_in_the_brain_window(kind):
    hu = _slice(ventricle_px=6)
    assert anatomy(hu) is not None
    rng = np.random.default_rng(1)
    made = 0
    for _ in range(12):
        res = insert_lesion(hu, kind, rng)
        if res is None:
            continue
        new, mask = res
        made += 1
        assert visible_mm2(hu, new) >= MIN_VISIBLE_MM2
        if kind in EXTRA_AXIAL:  # told from the inner table: enough of it darker than bone white
            assert visible_mm2(hu, new, below_bone=True) >= MIN_VISIBLE_MM2
            assert np.median(new[mask]) <= BONE_DISTINCT_HU + 6
        assert mask.any() and np.median(new[mask]) > np.median(hu[mask]) + 15  # blood is brighter where it was put
    assert made > 0, f"no {kind} could be inserted into a normal slice"


def test_a_fleck_of_csf_takes_no_intraventricular_blood():
    hu = _slice(ventricle_px=1)  # 1x5 px ventricles: too small to show layering blood (size and visibility rules)
    rng = np.random.default_rng(2)
    assert all(insert_lesion(hu, "intraventricular", rng) is None for _ in range(10))


def test_visible_area_counts_only_what_the_brain_window_shows():
    before = np.full((10, 10), 35.0, np.float32)
    after = before.copy()
    after[:5, :5] = 70.0  # 25 px brighter by 35 HU
    after[5:, 5:] = 45.0  # 25 px brighter by 10 HU: below VISIBLE_HU
    assert visible_mm2(before, after) == 25.0 and visible_mm2(before, after, px_mm=0.5) == 6.25
    bone = np.full((4, 4), 300.0, np.float32)
    assert visible_mm2(bone, bone + 100) == 0.0  # above the window: nothing to see


def test_blood_at_bone_level_is_not_visible_as_extra_axial():
    before = np.full((10, 10), 35.0, np.float32)
    after = before.copy()
    after[:5, :5] = 70.0  # 25 px of blood darker than bone
    after[5:, 5:] = 85.0  # 25 px of blood as white as the skull in a brain window
    assert visible_mm2(before, after) == 50.0
    assert visible_mm2(before, after, below_bone=True) == 25.0


def test_a_view_that_merged_the_blood_with_bone_is_unlabelled():
    torch = pytest.importorskip("torch")  # noqa: F841  (training.ct_real imports it)
    from training.ct_data.pools import Sample
    from training.ct_real import unseen_extra_axial_unlabelled

    mask = np.zeros((16, 16), bool)
    mask[2:8, 2:8] = True  # 36 blood pixels
    seen = np.full((16, 16), 100.0, np.float32)
    seen[mask] = 210.0
    white = seen.copy()
    white[mask] = 255.0
    labels = np.array([1, 0, 0, 0, 0, 1], np.float32)  # any + subdural
    sdh = Sample(np.zeros((16, 16), np.uint8), labels, 0, mask, "inserted")
    assert blood_seen_against_bone(seen, mask) and not blood_seen_against_bone(white, mask)
    assert (unseen_extra_axial_unlabelled(sdh, seen, mask) == labels).all()
    y = unseen_extra_axial_unlabelled(sdh, white, mask)
    assert y[0] == -1 and y[5] == -1 and (y[1:5] == 0).all()
    assert (sdh.labels == labels).all()  # the pool's sample is not changed
    real = Sample(sdh.img, labels, 0, None, "ct-ich")  # a real slice's label is never touched
    assert (unseen_extra_axial_unlabelled(real, white, None) == labels).all()
    iph = Sample(sdh.img, np.array([1, 0, 1, 0, 0, 0], np.float32), 0, mask, "inserted")
    assert (unseen_extra_axial_unlabelled(iph, white, mask) == iph.labels).all()  # a white clot in brain is still seen
    assert MIN_SEEN_BLOOD_PX <= 36 and BONE_WHITE_8BIT < 255


def _thickness_and_arc(an, mask: np.ndarray) -> tuple[float, float]:
    """Greatest depth of the blood from the inner table (mm, 1 mm grid) and the arc it covers (degrees)."""
    depth = an.depth[mask].max()
    ang = np.sort(np.degrees(an.angle[mask]))
    gaps = np.diff(np.concatenate([ang, ang[:1] + 360.0]))
    return float(depth), float(360.0 - gaps.max())


def test_thick_subdurals_are_drawn_and_stay_crescents_longer_than_epidural_lenses():
    """Acute subdurals reach 10-20 mm; a generator that draws them thin leaves every thick collection to the
    epidural (0.7.0 read the real demo's 12 mm subdural as epidural)."""
    assert EXTRA_AXIAL_SHAPE["subdural"][0][1] >= 15.0 and EXTRA_AXIAL_SHAPE["subdural"][1][0] >= EXTRA_AXIAL_SHAPE["epidural"][1][1]
    hu = _slice(ventricle_px=6)
    an = anatomy(hu)
    rng = np.random.default_rng(5)
    shapes = {kind: [] for kind in EXTRA_AXIAL}
    for kind in EXTRA_AXIAL:
        while len(shapes[kind]) < 40:
            res = insert_lesion(hu, kind, rng, an=an)
            if res is not None:
                shapes[kind].append(_thickness_and_arc(an, res[1]))
    sd, ed = np.array(shapes["subdural"]), np.array(shapes["epidural"])
    assert (sd[:, 0] >= 10.0).mean() > 0.25  # thick subdurals exist
    assert np.median(sd[:, 1]) > 1.5 * np.median(ed[:, 1])  # and they are long arcs, not lenses
    thick_sd = sd[sd[:, 0] >= 10.0]
    assert thick_sd[:, 1].min() > 60.0  # a thick subdural still spans a long arc


def test_thin_subdurals_are_thin_long_crescents_labelled_subdural():
    """subdural_thin (CT-ICH's real subdurals are 2-5 mm): at most 5 mm deep, visible against bone, not in KINDS."""
    from training.ct_data.insert import LABEL_OF_KIND

    assert "subdural_thin" not in KINDS and LABEL_OF_KIND["subdural_thin"] == "subdural"
    hu = _slice(ventricle_px=6)
    an = anatomy(hu)
    rng = np.random.default_rng(3)
    made = 0
    for _ in range(12):
        res = insert_lesion(hu, "subdural_thin", rng, an=an)
        if res is None:
            continue
        made += 1
        new, mask = res
        assert an.depth[mask].max() <= 5.0 + 1e-6
        assert visible_mm2(hu, new, below_bone=True) >= MIN_VISIBLE_MM2
        assert np.median(new[mask]) <= 70 + 6
    assert made > 0


@pytest.mark.parametrize("kind", EXTRA_AXIAL)
def test_extra_axial_blood_does_not_ring_an_intracranial_calcification(kind):
    """A calcified choroid plexus is bone-bright, a hole in the intracranial space: not an inner table."""
    from scipy import ndimage as ndi

    hu = _slice(ventricle_px=6)
    yy, xx = np.mgrid[:256, :256]
    calc = np.hypot(yy - 150, xx - 141) < 3
    hu[calc] = 300.0
    an = anatomy(hu)
    assert an is not None and calc.sum() > 0 and not an.intracranial[calc].any()
    near = ndi.binary_dilation(calc, iterations=4)
    rng = np.random.default_rng(5)
    made = 0
    for _ in range(12):
        res = insert_lesion(hu, kind, rng, an=an)
        if res is None:
            continue
        made += 1
        assert not (res[1] & near).any()
    assert made > 0


def test_a_series_insert_keeps_one_collection_through_contiguous_slices():
    from training.ct_data.insert_series import insert_extra_axial_series

    hus = np.stack([_slice(ventricle_px=6)] * 8)
    hus[0] = -1000.0  # a slice without a head: never part of the block
    res = insert_extra_axial_series(hus, "subdural", np.random.default_rng(7))
    assert res is not None
    new, lab = res
    idx = np.flatnonzero(lab)
    assert not lab[0] and len(idx) >= 1 and (np.diff(idx) == 1).all()  # one contiguous block
    changed = [np.flatnonzero(np.abs(new[k] - hus[k]).sum(axis=0) > 0) for k in idx]
    sides = {bool(c.mean() > 128) for c in changed}
    assert len(sides) == 1  # the same side of the head on every slice
    assert all((new[k] == hus[k]).all() for k in range(8) if not lab[k])  # unlabelled slices are untouched
    with pytest.raises(ValueError):
        insert_extra_axial_series(hus, "intraventricular", np.random.default_rng(0))


def test_an_epidural_and_a_subdural_in_one_series_lie_on_opposite_sides():
    from training.ct_data.insert_series import insert_both_extra_axial_series

    hus = np.stack([_slice(ventricle_px=6)] * 10)
    made = 0
    for seed in range(6):
        res = insert_both_extra_axial_series(hus, np.random.default_rng(seed))
        if res is None:
            continue
        made += 1
        new, edh, sdh = res
        assert edh.any() and sdh.any()
        for lab in (edh, sdh):
            idx = np.flatnonzero(lab)
            assert (np.diff(idx) == 1).all()  # each its own contiguous block
        k = int(np.flatnonzero(edh & sdh)[0]) if (edh & sdh).any() else None
        if k is not None:  # on a slice with both, blood lies on two opposite sides of the head
            ys, xs = np.nonzero(np.abs(new[k] - hus[k]) > 0)
            ang = np.arctan2(ys - 128, xs - 128)
            assert np.ptp(np.cos(ang)) > 1.0 or np.ptp(np.sin(ang)) > 1.0
    assert made >= 3


def test_series_insert_defaults_repeat_earlier_draws():
    """Given theta0 equal to the drawn angle and the default block fraction, the insert is the same: earlier seeds'
    validation series stay what they were."""
    from training.ct_data.insert_series import insert_extra_axial_series

    hus = np.stack([_slice(ventricle_px=6)] * 8)
    a = insert_extra_axial_series(hus, "subdural", np.random.default_rng(11))
    b = insert_extra_axial_series(hus, "subdural", np.random.default_rng(11), max_fraction=0.6)
    assert a is not None and b is not None
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    longer = [insert_extra_axial_series(hus, "subdural", np.random.default_rng(s), max_fraction=1.0) for s in range(12)]
    assert max(int(r[1].sum()) for r in longer if r is not None) > max(
        int(r[1].sum()) for r in (insert_extra_axial_series(hus, "subdural", np.random.default_rng(s)) for s in range(12)) if r is not None)
