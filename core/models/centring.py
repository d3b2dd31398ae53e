"""The head moved to the middle of the model grid, one offset per series.

Why (stop 23's probe, training.series_vs_slices --centre): shifted 8 pixels in the field of view, the series model's
call flipped on 18 % of validation series for epidural and 16 % for intraparenchymal; read head-centred, 4.5 % and
1.5 %. A series model fitted on centred readings declares it in its card (`input_centring: "series"`), and
`core.tasks.ct.CTScorer` then centres what the CNN reads; Grad-CAM and occlusion maps go back through
`ModelGrid.shift`. Training (training.head_centre) and inference call these same functions.

The head is found on the 8-bit brain-window grid (air and fat are about 0): per slice the largest connected region of
the pixels above HEAD_LEVEL with their holes filled, so the couch and small specks do not count; the median of the
larger sections' box centres gives the centre. One offset per series keeps the slices aligned for the series model.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

MIN_HEAD_PIXELS = 200  # a slice whose largest region is smaller (a vertex cap, noise) does not place the head
#: grey level (of the 0..80 HU brain window) above which a pixel is tissue: CT-ICH's exports put air at 1-2, not 0,
#: and a threshold at 0 took the whole canvas for the head (skin is 100-190)
HEAD_LEVEL = 16
#: the value of a model card's extra["input_centring"] that asks for one centring offset per series
SERIES_CENTRING = "series"


def head_region(img2d: np.ndarray) -> np.ndarray:
    """bool [h, w]: the largest connected region above HEAD_LEVEL of one 8-bit slice, holes filled (empty when none).

    Holes are filled first, then the largest region kept: the skin ring closes over the dark fat and skull inside
    it (core.models.preprocess.head_mask_2d, for occlusion boxes, keeps the largest region of HU > -300 first)."""
    filled = ndimage.binary_fill_holes(img2d > HEAD_LEVEL)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(filled.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(img2d.shape, dtype=bool)
    return lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def centre_offset(img: np.ndarray) -> tuple[int, int]:
    """(dx, dy) in pixels that move the head of an 8-bit [z, h, w] series to the grid's middle: the median over the
    series' larger head sections (at least half the largest's area: the skull base and vertex are small and
    off-centre) of their box centres. A median, not the box around all slices, because one slice where the head
    touches the headrest makes one region of both. (0, 0) when no slice shows a head."""
    centres, areas = [], []
    for sl in img:
        r = head_region(sl)
        if r.sum() >= MIN_HEAD_PIXELS:
            ys, xs = np.nonzero(r)
            centres.append(((xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2))
            areas.append(r.sum())
    if not centres:
        return 0, 0
    big = np.array(areas) >= 0.5 * max(areas)
    cx, cy = np.median(np.array(centres)[big], axis=0)
    h, w = img.shape[1:]
    # floor(v + 0.5), not round(): banker's rounding would move x.5 offsets of two shifted copies to different sides
    return int(np.floor(w / 2 - cx + 0.5)), int(np.floor(h / 2 - cy + 0.5))


def shift_stack(img: np.ndarray, dx: int, dy: int, fill: float = 0) -> np.ndarray:
    """[..., h, w] moved by dx columns (+ right) and dy rows (+ down); what leaves the grid is lost, `fill` comes in."""
    out = np.full_like(img, fill)
    h, w = img.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = img[..., src_y, src_x]
    return out


def centred_stack(img: np.ndarray, fill: float = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """An 8-bit [z, h, w] series with its head moved to the grid's middle, and the (dx, dy) it moved: the one centring
    step for series held as brain-window exports (training.head_centre, training.series_outputs)."""
    dx, dy = centre_offset(img)
    return (img if (dx, dy) == (0, 0) else shift_stack(img, dx, dy, fill)), (dx, dy)
