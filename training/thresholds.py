"""Operating thresholds fitted on validation scores, shared by the CT and the skull-strip QC training.

Why one function: ct_post once had its own Youden search that tried scores rounded to 3 decimals as thresholds
but compared the unrounded scores with them, so a positive at 0.8006 fell below its own candidate 0.801.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def youden_threshold(y: np.ndarray, p: np.ndarray, at: Literal["middle", "score"] = "middle") -> float:
    """The cut maximising sensitivity + specificity of `p >= cut`.

    Labels below 0 are unknown and ignored; with one class known there is nothing to fit and 0.5 is returned.
    at="middle" (QC): cuts midway between neighbouring scores, the middle one of a plateau of equal J: the most room
    either way for scores not seen here. at="score" (CT, as its cards were always fitted): the cut is a validation
    score itself, the lowest one reaching the best J (on separable scores: the lowest positive's).
    """
    y, p = np.asarray(y), np.asarray(p, dtype=np.float64)
    known = y >= 0
    t, p = y[known].astype(bool), p[known]
    if t.all() or not t.any():
        return 0.5
    s = np.unique(p)
    cuts = s if at == "score" else np.r_[s[0] - 1e-9, (s[1:] + s[:-1]) / 2, s[-1] + 1e-9]
    # p >= cut counted with sorted scores: O(n log n), not one pass over the data per cut
    pos, neg = np.sort(p[t]), np.sort(p[~t])
    se = 1.0 - np.searchsorted(pos, cuts, side="left") / len(pos)
    sp = np.searchsorted(neg, cuts, side="left") / len(neg)
    j = se + sp
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float(cuts[best[0]] if at == "score" else cuts[best[len(best) // 2]])
