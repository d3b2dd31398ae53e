"""The head moved to the middle of the model grid, one offset per series: a probe of whether centring would make the
shipped CT models' calls independent of where the head sits in the field of view.

Why (stop 23): shifted 8 pixels, the shipped series model's call flips on 18 % of validation series for epidural
and 16 % for intraparenchymal. If every series were centred before the CNN reads it, a shift would change nothing
but what the border cuts off. This module measures that (`training.series_vs_slices --centre`); it is not in the
app's path, and a model change built on it must be judged like any candidate (the CNN's training moves heads by up to
8 % of the grid, training.ct_data.augment, but never centres them; the BiLSTM read uncentred series only).

The head is found on the 8-bit brain-window grid (air and fat are about 0): per slice the largest connected region of
the pixels above HEAD_LEVEL with their holes filled, so the couch and small specks do not count; the median of the
larger sections' box centres gives the centre. One offset per series keeps the slices aligned for the series model.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from scipy import ndimage

from training.series_jitter import shift_series

MIN_HEAD_PIXELS = 200  # a slice whose largest region is smaller (a vertex cap, noise) does not place the head
#: grey level (of the 0..80 HU brain window) above which a pixel is tissue: CT-ICH's exports put air at 1-2, not 0,
#: and a threshold at 0 took the whole canvas for the head (skin is 100-190)
HEAD_LEVEL = 16


def head_region(img2d: np.ndarray) -> np.ndarray:
    """bool [h, w]: the largest connected region above HEAD_LEVEL of one 8-bit slice, holes filled (empty when none)."""
    filled = ndimage.binary_fill_holes(img2d > HEAD_LEVEL)  # first: the skin ring closes over the dark fat and skull inside it
    n, lab, stats, _ = cv2.connectedComponentsWithStats(filled.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(img2d.shape, dtype=bool)
    return lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def centre_offset(img: np.ndarray) -> tuple[int, int]:
    """(dx, dy) in pixels that move the head to the grid's middle: the median over the series' larger head sections
    (at least half the largest's area: the skull base and vertex are small and off-centre) of their box centres. A
    median, not the box around all slices, because one slice where the head touches the headrest makes one region
    of both. (0, 0) when no slice shows a head."""
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


def centred(s):
    """SliceSeries s with its images (and blood mask) moved by centre_offset; the key says so."""
    dx, dy = centre_offset(s.img)
    if (dx, dy) == (0, 0):
        return replace(s, key=f"{s.key}#c")
    return replace(s, img=shift_series(s.img, dx, dy), mask=None if s.mask is None else shift_series(s.mask, dx, dy), key=f"{s.key}#c")
