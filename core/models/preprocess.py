"""Model inputs from a CT Volume or an 8-bit slice image, shared by training and inference
(one function, one behaviour).

Slices are taken in radiological display orientation (patient left on image right, anterior up,
as RSNA's DICOM pixel arrays are stored), made square-pixelled and padded to a square with air (never
stretched: `ModelGrid`), and resized to 256 with area averaging as seed 002 did.
Since model version 0.3 the CT models read only what a brain-window 8-bit export keeps
(`core.imaging.pseudo_hu`): every real training image came that way, and a DICOM series reduced to
it gives the model the same input as a PNG of the same slice. The three channels are windows inside
the brain window (brain 80/40, stroke 40/40, blood 30/65: blood saturates to white, as seed 003's
narrow windows make it), normalised with the ImageNet mean/std of seed 002's code.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import InputError
from core.imaging.pseudo_hu import as_model_window_hu, hu_to_window8, to_gray8, window8_to_hu
from core.imaging.windows import PRESETS, window_unit
from core.models.centring import centre_offset, shift_stack
from core.volume import Volume, WarningCode, Window

MODEL_SIZE = 256
AIR_HU = -1024.0
#: in-plane spacings closer than this (relative) count as equal: ordinary scans are not resampled
SQUARE_PIXEL_TOLERANCE = 0.01
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
    if problem := not_hu(vmin, vmax):
        raise InputError(problem, volume.ids.source or None, code="not-hu")


def not_hu(vmin: float, vmax: float) -> str:
    """Why a CT image's value range cannot be Hounsfield units of a head ('' when it can): a head slice holds air
    and bone, so a range without them is a window, an 8-bit export or another scale, not HU."""
    if vmin > -500 or vmax < 300:
        return f"values {vmin:.0f}..{vmax:.0f} do not look like CT Hounsfield units (air about -1000, bone > 300)"
    return ""


def display_slices(volume: Volume, size: int = MODEL_SIZE) -> np.ndarray:
    """[z, size, size] float32 HU on the model grid (`ModelGrid`: radiological, square pixels, air-padded, area-resized)."""
    grid = ModelGrid.of(volume, size)
    out = np.empty((volume.shape[0], size, size), dtype=np.float32)
    for k, sl in enumerate(volume.voxels):
        out[k] = grid.to_model(sl)
    return out


def centring_offset(hu: np.ndarray) -> tuple[int, int]:
    """(dx, dy) that move the head of a [z, size, size] model-grid HU stack to the grid's middle, found on what the
    models read (the brain-window 8-bit export: core.models.centring.centre_offset, as training.head_centre)."""
    return centre_offset(hu_to_window8(hu, "brain"))


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


def to_square_grid(image: np.ndarray, fill: float, size: int = MODEL_SIZE, nearest: bool = False) -> np.ndarray:
    """Pad a 2-D image centred to a square with `fill`, then resize to [size, size]: area averaging when
    shrinking, bilinear when enlarging (nearest for masks). The one last step of every path onto the model grid."""
    img = square_pad(image, fill)
    if nearest:
        interp = cv2.INTER_NEAREST
    else:
        interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


@dataclass(frozen=True)
class ModelGrid:
    """How a canonical slice [y, x] (R, A, S) of one volume lands on the square model grid, and how a map comes back.

    Forward (`to_model`): flip to radiological display, resample the coarser-spaced axis up so pixels are square in
    mm (physical extent kept), pad centred to a square with air, resize to `size`. The CT models never saw
    stretched anatomy. Square slices with square pixels (spacings within SQUARE_PIXEL_TOLERANCE) take exactly
    the original flip + resize, bit for bit. `to_volume` is the inverse for maps (crop the padding, undo the
    rescale, flip back); Grad-CAM and occlusion overlays are drawn with it.

    `shift` (dx, dy), in model-grid pixels, moves the slice on the grid last (core.models.centring: a series read
    head-centred); `to_volume` moves a map back first. (0, 0), the default, changes nothing.
    """

    ny: int
    nx: int
    dy: float = 1.0
    dx: float = 1.0
    size: int = MODEL_SIZE
    shift: tuple[int, int] = (0, 0)

    @classmethod
    def of(cls, volume: Volume, size: int = MODEL_SIZE) -> ModelGrid:
        _, ny, nx = volume.shape
        _, dy, dx = volume.spacing
        return cls(ny, nx, float(dy), float(dx), size)

    @property
    def square_shape(self) -> tuple[int, int]:
        """(rows, cols) of the slice once its pixels are square: the coarser-spaced axis gains samples."""
        dy, dx = self.dy, self.dx
        if min(dy, dx) <= 0 or abs(dy - dx) < SQUARE_PIXEL_TOLERANCE * max(dy, dx):
            return self.ny, self.nx
        if dy > dx:
            return max(1, round(self.ny * dy / dx)), self.nx
        return self.ny, max(1, round(self.nx * dx / dy))

    @property
    def side(self) -> int:
        """Side of the padded square, in square pixels."""
        return max(self.square_shape)

    @property
    def pad(self) -> tuple[int, int]:
        """(top, left) padding of the radiological view in square pixels (`square_pad`'s centring)."""
        h, w = self.square_shape
        return (self.side - h) // 2, (self.side - w) // 2

    def to_model(self, sl: np.ndarray, fill: float = AIR_HU, nearest: bool = False) -> np.ndarray:
        """Canonical [ny, nx] slice -> [size, size] on the model grid, dtype kept (HU; uint8 masks with nearest=True)."""
        if sl.shape != (self.ny, self.nx):
            raise ValueError(f"slice of shape {sl.shape} does not fit a grid made for ({self.ny}, {self.nx})")
        view = np.ascontiguousarray(sl[::-1, ::-1])
        h, w = self.square_shape
        if (h, w) != view.shape:
            view = cv2.resize(view, (w, h), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)
        out = to_square_grid(view, fill, self.size, nearest)
        return shift_stack(out, *self.shift, fill) if self.shift != (0, 0) else out

    def to_volume(self, m: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """[h, w] map covering the model grid (any resolution: an 8x8 Grad-CAM, a 256x256 occlusion map) ->
        float32 [ny, nx] on the volume's canonical grid, written into `out` when given.

        The small map is flipped first (bilinear resizing with pixel-centre alignment commutes with flips); with
        no padding to crop, a single resize straight into `out`, as the original path did."""
        if out is None:
            out = np.empty((self.ny, self.nx), dtype=np.float32)
        if self.shift != (0, 0):  # undo the centring at full grid resolution (a shift is not a whole 8x8 cell)
            full = cv2.resize(np.asarray(m, dtype=np.float32), (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            m = shift_stack(full, -self.shift[0], -self.shift[1], 0.0)
        canon = np.ascontiguousarray(m[::-1, ::-1], dtype=np.float32)
        h, w = self.square_shape
        if (h, w) != (self.side, self.side):
            top, left = self.pad
            y0, x0 = self.side - top - h, self.side - left - w  # where the slice sits in the flipped (canonical) square
            full = cv2.resize(canon, (self.side, self.side), interpolation=cv2.INTER_LINEAR)
            canon = np.ascontiguousarray(full[y0:y0 + h, x0:x0 + w])
        cv2.resize(canon, (self.nx, self.ny), dst=out, interpolation=cv2.INTER_LINEAR)
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
    img = to_square_grid(np.ascontiguousarray(img, dtype=np.float32), 0.0, size)
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
