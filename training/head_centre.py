"""The head moved to the middle of the model grid, one offset per series, on the training side's 8-bit series.

Why (stop 23): shifted 8 pixels, the shipped series model's call flips on 18 % of validation series for epidural
and 16 % for intraparenchymal. The head finder and the offset are core's (core.models.centring), so that a series
model fitted or judged on centred readings here (training.bilstm_refit --centre, training.series_vs_slices --centre)
sees what the app's centring input path gives it (the CNN's training moves heads by up to 8 % of the grid,
training.ct_data.augment, but never centres them).
"""

from __future__ import annotations

from dataclasses import replace

from core.models.centring import HEAD_LEVEL, MIN_HEAD_PIXELS, centre_offset, centred_stack, head_region  # noqa: F401 (re-exported)
from training.series_jitter import shift_series


def centred(s):
    """SliceSeries s with its images (and blood mask) moved by centre_offset; the key says so."""
    img, (dx, dy) = centred_stack(s.img)
    mask = s.mask if s.mask is None or (dx, dy) == (0, 0) else shift_series(s.mask, dx, dy)
    return replace(s, img=img, mask=mask, key=f"{s.key}#c")
