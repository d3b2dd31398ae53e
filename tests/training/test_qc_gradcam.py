"""The shipped skull-strip QC model's Grad-CAM of P(face) points at the face: on strips whose kept
face is known (the generator's loose strips of pydeface's real head, face mask known), most of the
map's mass, put back on the volume, lies in the face region (the face mask grown by 16 mm: half a
map cell of 32 mm). skullstrip_qc 2.0 put 15-17 % there (GAP head); 2.1 scores the face per cell."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.io import load
from core.tasks.skullstrip import SkullStripScorer


@pytest.mark.parametrize("subject", [3, 11])
def test_face_gradcam_mass_lies_on_the_face(subject, tmp_path):
    from training.synth.mri import load_template, make_mri_head, strip, write_nifti

    head = make_mri_head(subject, load_template())
    s = next(s for s in (strip(head, 500 + subject * 10 + k, "loose") for k in range(30)) if s.face_kept_frac >= 0.5)
    path = tmp_path / "loose.nii.gz"
    write_nifti(s, path)
    vol = load(str(path))
    res = SkullStripScorer(threads=1).score(vol)
    assert res.flags["face"], res.to_dict()
    cam = res.cam_on_volume(0, vol)
    face = np.ascontiguousarray((s.face & s.kept).transpose(2, 1, 0))  # generator arrays are [x, y, z]
    assert face.shape == vol.voxels.shape  # written in RAS: canonical on load
    grown = ndimage.distance_transform_edt(~face, sampling=vol.spacing) <= 16.0
    mass = float(cam[grown].sum() / cam.sum())
    assert mass > 0.5, f"only {mass:.0%} of the face map on the face"
