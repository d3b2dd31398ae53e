"""QC preprocessing and deterministic measures on small generated volumes."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.qc.measures import measure
from core.qc.preprocess import MODEL_SHAPE, qc_input
from core.volume import Volume


def _ball(shape=(80, 100, 90), radius_mm=40.0, spacing=(1.5, 1.0, 1.2)) -> Volume:
    dz, dy, dx = spacing
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    r = np.sqrt(z * z + y * y + x * x)
    vox = np.where(r <= radius_mm, 100.0 + 50.0 * (r < radius_mm - 4), 0.0).astype(np.float32)  # dark rim, bright core
    affine = np.diag([dx, dy, dz, 1.0])
    return Volume(voxels=vox, affine=affine, modality="MR")


def test_qc_input_shape_range_and_refusals():
    v = _ball()
    x = qc_input(v.voxels)
    assert x.shape == MODEL_SHAPE and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    with pytest.raises(InputError, match="3-D"):
        qc_input(np.ones((100, 100), np.float32), source="flat.nii")
    with pytest.raises(InputError, match="constant"):
        qc_input(np.zeros((20, 20, 20), np.float32), source="empty.nii.gz")


def test_measures_volume_and_flat_cut():
    v = _ball()
    m = measure(v)
    expected_ml = 4 / 3 * np.pi * 40.0 ** 3 / 1000
    assert m.kept_ml == pytest.approx(expected_ml, rel=0.03)
    assert m.anterior_mm == pytest.approx(40.0, abs=3.0)  # on the <= 2 mm grid of the measures
    assert m.inferior_ai_ml == 0.0  # nothing 40 mm in front of the centre and below it
    assert m.boundary_bright < 0.8  # a dark rim on the surface, like CSF around a good strip
    cut = Volume(voxels=v.voxels.copy(), affine=v.affine, modality="MR")
    cut.voxels[v.voxels.shape[0] // 2 + 5:] = 0  # a cap sheared off by an axial plane
    mc = measure(cut)
    assert mc.flat_top > 0.5 > m.flat_top
    assert mc.boundary_bright > m.boundary_bright  # bright tissue exposed on the cut
    assert mc.kept_ml < m.kept_ml * 0.75
    assert any(s.startswith("kept_ml") for s in mc.outside_normal())


def test_qc_input_sees_millimetres_not_voxels():
    """The same ball at 1.0 mm and at 1.6 x 0.7 x 1.2 mm gives nearly the same network input (a fixed
    4 mm grid centred on the tissue), so voxel size and field of view do not change what the model sees."""
    a = _ball(shape=(100, 100, 100), spacing=(1.0, 1.0, 1.0))
    b = _ball(shape=(64, 150, 90), spacing=(1.6, 0.7, 1.2))
    xa, xb = qc_input(a.voxels, a.spacing), qc_input(b.voxels, b.spacing)
    assert np.abs(xa - xb).mean() < 0.01
    assert (xa > 0.5).sum() * 64 / 1000 == pytest.approx(4 / 3 * np.pi * 40 ** 3 / 1000, rel=0.1)  # ml on the 4 mm grid


def test_frontal_cut_and_scanner_background_are_measured():
    v = _ball()
    cut = Volume(voxels=v.voxels.copy(), affine=v.affine, modality="MR")
    cut.voxels[:, v.voxels.shape[1] // 2 + 20:] = 0  # the front sheared off by a coronal plane
    m = measure(cut)
    assert m.cut_side == "front" and m.cut_plane > 0.5
    assert "front surface in one plane" in m.explain({"brain_loss": True})
    assert m.background_zero == 1.0  # a tool's output: exact zeros outside
    noisy = Volume(voxels=v.voxels + np.random.default_rng(0).random(v.voxels.shape, dtype=np.float32) * 5, affine=v.affine, modality="MR")
    mn = measure(noisy)
    assert mn.background_zero < 0.1  # scanner noise: never stripped
    assert "background exactly 0" in mn.explain({"not_stripped": True})


def test_head_frame_measures_see_a_face_and_its_removal():
    """A head-sized ellipsoid with a nose-and-cheeks block low in front: tissue in the face region and
    its reach past the forehead rise; cutting the block off (defacing) brings them back down."""
    spacing = (1.5, 1.5, 1.5)
    shape = (150, 160, 120)
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    head = (x / 72) ** 2 + (y / 95) ** 2 + (z / 100) ** 2 <= 1  # top at z = 100 mm
    face = (y > 40) & (y < 110) & (z > -60) & (z < 10) & (np.abs(x) < 40)  # 90-160 mm below the top, past the forehead
    whole = Volume(voxels=np.where(head | face, 100.0, 0.0).astype(np.float32), affine=np.diag([1.5, 1.5, 1.5, 1.0]), modality="MR")
    defaced = Volume(voxels=np.where(head & ~face, 100.0, 0.0).astype(np.float32), affine=whole.affine, modality="MR")
    mw, md = measure(whole), measure(defaced)
    assert mw.face_forward_mm > md.face_forward_mm + 15  # the block sticks out ~30 mm past the ellipsoid's front
    assert mw.face_ml > md.face_ml + 100
    assert 170 <= mw.height_mm <= 205 and 125 <= mw.width_mm <= 146  # 1st-99th percentile extents of 200 and 144 mm
    assert "past the forehead" in mw.explain({"face": True})


def _brainish(spacing=(1.5, 1.0, 1.2), shape=(100, 130, 110), radius=60.0):
    """A ball with a 4 mm dark rim (CSF) around bright tissue, and its coordinates in mm."""
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    r = np.sqrt(z * z + y * y + x * x)
    vox = np.where(r <= radius, 30.0 + 120.0 * (r < radius - 4), 0.0).astype(np.float32)
    return vox, np.diag([spacing[2], spacing[1], spacing[0], 1.0]), (z, y, x, r)


def test_cut_disc_measures_a_plane_cut_in_any_direction():
    """A flat cut leaves a disc on a tangent plane: plane_frac rises, plane_lost_pct estimates the cut
    (scale-free, from the disc and the kept volume), plane_side names its direction, oblique included."""
    vox, aff, (z, y, x, r) = _brainish()
    whole = measure(Volume(voxels=vox, affine=aff, modality="MR"))
    assert whole.plane_frac < 0.07 and whole.plane_lost_pct < 1.0
    for name, keep, true_pct in (("top", z <= 45, 4.3), ("oblique", z * 0.6 + y * 0.8 <= 40, 7.4), ("bottom", z >= -40, 7.4)):
        m = measure(Volume(voxels=np.where(keep, vox, 0).astype(np.float32), affine=aff, modality="MR"))
        assert m.plane_side == name, (name, m.plane_side)
        assert m.plane_frac > 2 * whole.plane_frac
        assert 0.5 * true_pct < m.plane_lost_pct < 1.6 * true_pct, (name, m.plane_lost_pct)
    assert "plane" in m.explain({"brain_loss": True})


def test_rim_tells_an_eroded_strip_from_a_good_one():
    """A good strip ends in dark CSF (rim darker than the tissue), one eroded 6 mm into the brain in
    bright tissue; a dilated one (skull, dark on T1) stays dark."""
    vox, aff, (z, y, x, r) = _brainish()
    good = measure(Volume(voxels=vox, affine=aff, modality="MR"))
    eroded = measure(Volume(voxels=np.where(r <= 54, vox, 0).astype(np.float32), affine=aff, modality="MR"))
    assert good.rim_rel < 0.75 < eroded.rim_rel
    assert good.rim_dark > 0.3 > eroded.rim_dark
    assert good.dark_frac > eroded.dark_frac


def test_brain_tissue_at_the_edge_means_an_eroded_strip():
    """Bright 'brain' under 2 mm of CSF: a good strip's rim 2-4 mm inside its edge is partly CSF, a
    strip eroded 5 mm has brain tissue all along its rim."""
    vox, aff, (z, y, x, r) = _brainish()
    vox = np.where(r <= 60, 20.0, 0.0) + np.where(r <= 57, 75.0, 0.0) + np.where(r <= 50, 15.0, 0.0)  # CSF 20, GM 95, WM 110
    good = measure(Volume(voxels=vox.astype(np.float32), affine=aff, modality="MR"))
    eroded = measure(Volume(voxels=np.where(r <= 55, vox, 0).astype(np.float32), affine=aff, modality="MR"))
    assert good.rim_bright < 0.6 < 0.9 < eroded.rim_bright
    assert "brain tissue in" in eroded.explain({"brain_loss": True})
