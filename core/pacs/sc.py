"""Grad-CAM of each flagged label as a DICOM Secondary Capture image in the source study.

The picture is the slice where the series model is most certain of the label, in the brain window,
displayed radiologically (patient left on image right), with the closed-form Grad-CAM blended in a
jet colour map and the label, probability, model and "research use only" burned in (so the image is
honest wherever it is shown, BurnedInAnnotation YES).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from pydicom import Dataset
from pydicom.uid import generate_uid

from core.explain import gradcam_to_volume
from core.models.preprocess import ModelGrid
from core.pacs.findings import Findings
from core.pacs.sr import with_type2
from core.tasks.ct import ICHResult
from core.volume import Volume

BRAIN = (80.0, 40.0)  # width, level (DESIGN.md windows)


def overlay_rgb(hu: np.ndarray, cam: np.ndarray, threshold: float = 0.3, alpha: float = 0.5) -> np.ndarray:
    """uint8 RGB of one slice: brain window grey with the map (0..1) coloured where it exceeds `threshold`."""
    w, lvl = BRAIN
    grey = np.clip((hu - (lvl - w / 2)) / w, 0, 1)
    base = np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)
    heat = cv2.cvtColor(cv2.applyColorMap((np.clip(cam, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    mask = ((cam >= threshold) & (hu > -100))[..., None]  # tissue only: no colour painted on the air around the head
    blended = (base * (1 - alpha) + heat * alpha).astype(np.uint8)
    return np.where(mask, blended, base)


def _burn(img: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    out = np.ascontiguousarray(img)
    scale = max(out.shape[1] / 900, 0.4)
    for i, text in enumerate(lines):
        y = int((22 + 22 * i) * scale * 1.3)
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def build_secondary_captures(volume: Volume, ich: ICHResult, findings: Findings, reference: Dataset,
                             series_number: int = 9902) -> list[Dataset]:
    """One SC image per flagged label (none when nothing is flagged), all in one new series of the source study."""
    from highdicom.sc import SCImage

    ref = with_type2(reference)
    series_uid = generate_uid()
    model = next((m for m in findings.models if m["name"] == "ich_cnn"), findings.models[0])
    out = []
    for n, label in enumerate(findings.flagged, start=1):
        j = ich.labels.index(label)
        z = _best_slice(volume, ich.slice_probs[:, j])
        cam = gradcam_to_volume(ich.cam[z:z + 1], j, _one_slice(volume, z), ich.grid)[0]
        rgb = square_pixels(overlay_rgb(volume.voxels[z, ::-1, ::-1], cam[::-1, ::-1]), *volume.spacing[1:])
        rgb = _burn(rgb, [f"Grad-CAM {label}: P={findings.probs[label]:.3f} (slice {z + 1}/{volume.shape[0]})",
                          f"{model['name']} {model['version']}", "RESEARCH USE ONLY - NOT FOR CLINICAL USE"])
        sc = SCImage.from_ref_dataset(ref, rgb, "RGB", 8, "PATIENT", series_uid, series_number, generate_uid(), n,
                                      "NeuroReview project", patient_orientation=("L", "P"))
        sc.SeriesDescription = "NeuroReview Grad-CAM - research use only, not for clinical use"
        sc.BurnedInAnnotation = "YES"
        sc.Laterality = ""  # Type 2C; a head is not a paired body part
        sc.ImageComments = f"Grad-CAM of {label} (P={findings.probs[label]:.3f}) on slice {z + 1}, radiological display"
        sc.DerivationDescription = f"closed-form Grad-CAM of {model['name']} {model['version']} sha256={model['sha256']}"
        src = Dataset()
        src.ReferencedSOPClassUID = reference.SOPClassUID
        src.ReferencedSOPInstanceUID = _source_uid(volume, z, reference)
        sc.SourceImageSequence = [src]
        out.append(sc)
    return out


def square_pixels(rgb: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """The picture with square pixels in mm: a Secondary Capture carries no pixel spacing, so every viewer shows
    its pixels square, and a slice with unequal row and column spacing would be shown stretched. The finer-spaced
    axis is kept, the coarser one resampled up (physical extent kept): ModelGrid.square_shape, as for the models."""
    ny, nx = ModelGrid(rgb.shape[0], rgb.shape[1], float(dy), float(dx)).square_shape
    if (ny, nx) == rgb.shape[:2]:
        return rgb
    return cv2.resize(rgb, (nx, ny), interpolation=cv2.INTER_LINEAR)


def _best_slice(volume: Volume, probs: np.ndarray) -> int:
    """The most probable slice; among near-ties (within 0.02) the one showing the most tissue."""
    near = np.flatnonzero(probs >= probs.max() - 0.02)
    area = [(volume.voxels[z] > -100).sum() for z in near]
    return int(near[int(np.argmax(area))])


def _one_slice(volume: Volume, z: int) -> Volume:
    from dataclasses import replace

    return replace(volume, voxels=volume.voxels[z:z + 1])


def _source_uid(volume: Volume, z: int, reference: Dataset) -> str:
    """SOP Instance UID of the slice shown (file order = slice order); the reference's when unknown."""
    import pydicom

    files = volume.ids.files
    if len(files) == volume.shape[0]:
        return str(pydicom.dcmread(files[z], stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
    return str(reference.SOPInstanceUID)
