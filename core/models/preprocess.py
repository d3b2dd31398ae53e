"""Model inputs from a CT Volume or an 8-bit slice image, shared by training and inference
(one function, one behaviour).

Slices are taken in radiological display orientation (patient left on image right, anterior up,
as RSNA's DICOM pixel arrays are stored), resized to 256 with area averaging as seed 002 did.
Since model version 0.3 the CT models read only what a brain-window 8-bit export keeps
(`core.imaging.pseudo_hu`): every real training image came that way, and a DICOM series reduced to
it gives the model the same input as a PNG of the same slice. The three channels are windows inside
the brain window (brain 80/40, stroke 40/40, blood 30/65: blood saturates to white, as seed 003's
narrow windows make it), normalised with the ImageNet mean/std of seed 002's code.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.errors import InputError
from core.imaging.pseudo_hu import as_model_window_hu, to_gray8, window8_to_hu
from core.imaging.windows import PRESETS, window_unit
from core.volume import Volume, WarningCode, Window

MODEL_SIZE = 256
#: channel windows, all inside the brain window (0..80 HU) an 8-bit export keeps
CHANNEL_WINDOWS: dict[str, Window] = {"brain": PRESETS["brain"], "stroke": PRESETS["stroke"], "blood": Window(width=30, level=65)}
ICH_WINDOWS = ("brain", "stroke", "blood")
BG_WINDOWS = ICH_WINDOWS  # one input for both CT models (they share a trunk since 0.3)
ROTATIONS = (0, 90, 180, 270)
CHANNEL_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
CHANNEL_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MIN_SLICES = 5


def check_ct_series(volume: Volume, task: str) -> None:
    """Refuse what a CT slice model cannot honestly score, with the reason."""
    if volume.modality != "CT":
        raise InputError(f"{task} needs a CT series; this volume is {volume.modality}", volume.ids.source or None, code="wrong-modality")
    nz = volume.shape[0]
    if nz < MIN_SLICES:
        raise InputError(f"{task} needs a head CT series of at least {MIN_SLICES} slices; this one has {nz}", volume.ids.source or None, code="too-few-slices")
    if min(volume.shape[1:]) < 64:
        raise InputError(f"slices of {volume.shape[1]}x{volume.shape[2]} pixels are too small for {task}", volume.ids.source or None)
    vmin, vmax = float(volume.voxels.min()), float(volume.voxels.max())
    if not (np.isfinite(vmin) and np.isfinite(vmax)) or any(w.code == WarningCode.NON_FINITE_VALUES for w in volume.warnings):
        # NaN fails every comparison below, and NaN voxels the loader filled in are not HU: refuse either
        raise InputError(f"the volume holds NaN or infinite values: {task} refused", volume.ids.source or None, code="non-finite-values")
    if vmin > -500 or vmax < 300:
        raise InputError(f"values {vmin:.0f}..{vmax:.0f} do not look like CT Hounsfield units (air about -1000, bone > 300)", volume.ids.source or None, code="not-hu")


def display_slices(volume: Volume, size: int = MODEL_SIZE) -> np.ndarray:
    """[z, size, size] float32 HU, radiological orientation, area-resized."""
    out = np.empty((volume.shape[0], size, size), dtype=np.float32)
    for k, sl in enumerate(volume.voxels):
        view = np.ascontiguousarray(sl[::-1, ::-1])
        interp = cv2.INTER_AREA if view.shape[0] > size else cv2.INTER_LINEAR
        out[k] = cv2.resize(view, (size, size), interpolation=interp)
    return out


def windowed_input(hu: np.ndarray, windows: tuple[str, str, str] = ICH_WINDOWS) -> np.ndarray:
    """[n, H, W] HU -> [n, 3, H, W] float32: reduced to the brain-window export, windowed to [0, 1],
    then mean/std normalised. Full HU and pseudo-HU from 8-bit images give the same result."""
    hu = as_model_window_hu(hu)
    chans = [window_unit(hu, CHANNEL_WINDOWS[w]) for w in windows]
    x = np.stack(chans, axis=1)
    x -= CHANNEL_MEAN[None, :, None, None]
    x /= CHANNEL_STD[None, :, None, None]
    return x


def ich_input(hu: np.ndarray) -> np.ndarray:
    return windowed_input(hu, ICH_WINDOWS)


def bg_input(hu: np.ndarray) -> np.ndarray:
    return windowed_input(hu, BG_WINDOWS)


def square_pad(image: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """Pad a 2-D image to a square, centred, with `fill` (air): never stretch the anatomy."""
    h, w = image.shape
    n = max(h, w)
    if h == w:
        return image
    out = np.full((n, n), fill, dtype=image.dtype)
    y0, x0 = (n - h) // 2, (n - w) // 2
    out[y0:y0 + h, x0:x0 + w] = image
    return out


def slice_image_to_hu(image: np.ndarray, window: str = "brain", rotate: int = 0, size: int = MODEL_SIZE) -> np.ndarray:
    """An 8-bit windowed head CT slice image (gray or RGB, any size) -> [size, size] pseudo-HU at the model grid.

    `rotate` turns the image clockwise by that many degrees first (the model's convention is anterior
    up, patient left on image right); the image is padded to a square with air, never stretched.
    """
    if rotate not in ROTATIONS:
        raise ValueError(f"rotate must be one of {ROTATIONS}, not {rotate}")
    img = to_gray8(image)
    if rotate:
        img = np.rot90(img, k=-rotate // 90)
    img = square_pad(np.ascontiguousarray(img), 0)
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    img = cv2.resize(img.astype(np.float32), (size, size), interpolation=interp)
    return window8_to_hu(img, window).hu


def head_mask_2d(hu_slice: np.ndarray) -> np.ndarray:
    """Pixels inside the head (skin outline, holes filled): where occlusion patches are worth trying."""
    body = (hu_slice > -300).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(body, connectivity=8)
    if n <= 1:
        return body.astype(bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)
