"""Export and scanner randomisation on 8-bit brain-window slices at the model grid.

What differs between sources of real head CT that the model must ignore: the export's window (not
every "brain window" is 40/80), gamma, JPEG compression, noise and reconstruction sharpness, field of
view and crop (tight crops to the head, wide fields with the table), rotation, left/right mirroring.
Masks travel with the image; a mirror swaps the basal-ganglia side.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.models.preprocess import MODEL_SIZE


def affine_params(rng: np.random.Generator, size: int = MODEL_SIZE) -> np.ndarray:
    angle = rng.uniform(-18, 18)
    scale = float(np.exp(rng.uniform(np.log(0.72), np.log(1.4))))
    shift = rng.uniform(-0.08, 0.08, 2) * size
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += shift
    return m


def export_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float [0..255] brain-window image -> what another exporter/scanner might have written."""
    x = img.astype(np.float32)
    if rng.random() < 0.6:  # the export's window differs from 40/80: re-window the pseudo-HU and read it as 40/80
        hu = x * (80.0 / 255.0)
        level, width = rng.uniform(30, 50), rng.uniform(60, 110)
        x = np.clip((hu - (level - width / 2)) / width * 255.0, 0, 255)
    if rng.random() < 0.4:
        x = 255.0 * (x / 255.0) ** rng.uniform(0.75, 1.35)
    if rng.random() < 0.4:  # reconstruction: smoother or sharper kernel
        blur = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.3))
        x = blur if rng.random() < 0.5 else np.clip(x + rng.uniform(0.3, 1.0) * (x - blur), 0, 255)
    if rng.random() < 0.5:
        x = x + rng.normal(0, rng.uniform(1, 6), x.shape).astype(np.float32)
    x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        x = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return x.astype(np.float32)


def augment(img: np.ndarray, mask: np.ndarray | None, bg: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, int]:
    """One training view of a slice: geometry, mirror (swapping the BG side), export look."""
    size = img.shape[0]
    m = affine_params(rng, size)
    x = cv2.warpAffine(img.astype(np.float32), m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    mk = None if mask is None else cv2.warpAffine(mask.astype(np.uint8), m, (size, size), flags=cv2.INTER_NEAREST, borderValue=0).astype(bool)
    if rng.random() < 0.5:
        x = x[:, ::-1]
        mk = None if mk is None else mk[:, ::-1]
        bg = {1: 2, 2: 1}.get(bg, bg)
    return export_look(x, rng), mk, bg


#: a training view shows an extra-axial collection only if this many of its blood pixels stay below bone white
MIN_SEEN_BLOOD_PX = 20
BONE_WHITE_8BIT = 240


def blood_seen_against_bone(view: np.ndarray, mask: np.ndarray | None) -> bool:
    """Whether the export look left the blood of a training view distinguishable from the saturated skull.

    A narrow re-window can push blood to white; along the inner table it then reads as bone, and a label of
    "subdural" on that view would teach the model that blood looks like skull.
    """
    if mask is None or not mask.any():
        return False
    return int((view[mask] < BONE_WHITE_8BIT).sum()) >= MIN_SEEN_BLOOD_PX
