"""Generated head CT: determinism, HU per tissue, lesion morphology facts, labels from masks."""

from __future__ import annotations

import numpy as np
import pytest

from training.synth.ct import ICH_LABELS, MIN_LESION_MM2, make_ct_case
from training.synth.ct_lesions import SUBTYPES


@pytest.fixture(scope="module")
def mixed_case():
    return make_ct_case(11, size=192, lesions=("subdural", "intraventricular"), bg_side="none")


def test_same_seed_same_voxels_and_masks():
    a = make_ct_case(5, size=96, n_slices=10)
    b = make_ct_case(5, size=96, n_slices=10)
    np.testing.assert_array_equal(a.hu, b.hu)
    assert a.masks.keys() == b.masks.keys()
    c = make_ct_case(6, size=96, n_slices=10)
    assert not np.array_equal(a.hu, c.hu)


def test_geometry_covers_skull_base_to_vertex_at_5mm(mixed_case):
    assert 28 <= mixed_case.hu.shape[0] <= 40
    assert mixed_case.spacing[0] == 5.0
    top = mixed_case.hu[-1]
    assert (top > 300).sum() < (mixed_case.hu[len(mixed_case.hu) // 2] > 300).sum() * 1.5


def test_tissue_hu_ranges(mixed_case):
    hu = mixed_case.hu.astype(np.float32)
    mid = hu[len(hu) // 2 + 2]
    assert np.percentile(hu, 1) <= -990  # air
    assert 1000 <= np.percentile(mid[mid > 300], 90) <= 1950  # skull tables
    brain = mid[(mid > 15) & (mid < 50)]
    assert 25 <= np.median(brain) <= 42
    csf = hu[mixed_case.masks["intraventricular"] == 0]
    assert csf.size > 0


@pytest.mark.parametrize("kind", SUBTYPES)
def test_each_subtype_has_acute_blood_hu_and_labels_from_mask(kind):
    case = make_ct_case(100 + SUBTYPES.index(kind), size=160, lesions=(kind,), bg_side="none")
    mask = case.masks[kind]
    assert mask.any()
    blood = case.hu[mask].astype(np.float32)
    assert 45 <= np.median(blood) <= 95, np.median(blood)
    dx = case.spacing[2]
    expected = mask.reshape(mask.shape[0], -1).sum(axis=1) >= MIN_LESION_MM2 / (dx * dx)
    np.testing.assert_array_equal(case.slice_labels[kind], expected)
    np.testing.assert_array_equal(case.slice_labels["any"], expected)
    for other in set(SUBTYPES) - {kind}:
        assert not case.slice_labels[other].any()


def test_epidural_is_lens_against_the_skull_and_subdural_is_wider():
    edh = make_ct_case(3, size=160, lesions=("epidural",), bg_side="none")
    sdh = make_ct_case(3, size=160, lesions=("subdural",), bg_side="none")
    from scipy import ndimage

    def shape_stats(mask):
        k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
        m = mask[k]
        dist = ndimage.distance_transform_edt(m)
        return m.sum(), dist.max()  # area, max half-thickness in pixels
    a_e, t_e = shape_stats(edh.masks["epidural"])
    a_s, t_s = shape_stats(sdh.masks["subdural"])
    # the epidural lens is thick for its area; the subdural crescent is thin and long
    assert t_e / np.sqrt(a_e) > t_s / np.sqrt(a_s)


@pytest.mark.parametrize("side", ["left", "right"])
def test_bg_hematoma_on_the_patients_side(side):
    case = make_ct_case(21, size=160, lesions=(), bg_side=side)
    mask = case.masks["bg_hematoma"]
    assert case.bg_side == side and mask.any()
    zz, yy, xx = np.nonzero(mask)
    world_x = case.affine[0, 0] * xx.mean() + case.affine[0, 3]
    # RAS: x > 0 is the patient's right; the head is centred within +-10 mm
    assert (world_x > 5) if side == "right" else (world_x < -5)
    assert case.slice_labels["intraparenchymal"].any() and case.slice_labels["any"].any()
    assert case.bg_slices[np.unique(zz)].mean() > 0.5  # the hematoma sits on BG-level slices


def test_normal_case_has_no_positive_labels():
    case = make_ct_case(8, size=128, lesions=(), bg_side="none")
    assert not any(case.slice_labels[k].any() for k in ICH_LABELS)
    assert case.bg_side == "none"


def test_unknown_lesion_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown lesion"):
        make_ct_case(1, size=64, lesions=("chronic",))


def test_bg_fraction_sets_the_share_of_hematomas_without_changing_other_draws():
    from training.synth.ct import draw_findings

    def sides(fraction, n=400):  # one generator per head, as make_ct_case has
        return [draw_findings(np.random.default_rng(i), None, None, fraction)[1] for i in range(n)]

    default, half = sides(0.25), sides(0.5)
    share = lambda s: np.mean([v != "none" for v in s])  # noqa: E731
    assert 0.18 < share(default) < 0.32 and 0.42 < share(half) < 0.58
    assert sides(0.0).count("none") == 400 and "none" not in sides(1.0)
    assert abs(half.count("left") - half.count("right")) < 40
    # a head with a hematoma at 0.25 keeps one at 0.5 (its head anatomy is drawn before, so it is the same)
    assert all(h != "none" for d, h in zip(default, half) if d != "none")
    # the default is the generator's historical rule (r < 0.125 left, r < 0.25 right): existing seeds reproduce
    assert default == [("left" if r < 0.125 else "right" if r < 0.25 else "none")
                       for r in (np.random.default_rng(i).random() for i in range(400))]
    with pytest.raises(ValueError, match="bg_fraction"):
        draw_findings(np.random.default_rng(0), None, None, 1.5)
