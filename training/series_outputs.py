"""The exported CT models' outputs on ordered slice series, as the app computes them: the BiLSTM's inputs
(the CNN's embedding and calibrated probabilities per slice) and its series and per-slice outputs.

One place for the CNN -> BiLSTM loop that training.series_vs_slices, training.bilstm_refit and
training.evaluate_real all read, so that a figure in a card and the comparison that chose a model are computed
the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.imaging.pseudo_hu import window8_to_hu
from core.models.centring import centred_stack
from core.tasks.ct import CTScorer
from training.ct_post import series_label


def bilstm_inputs(scorer: CTScorer, s, cache: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(embedding [z, F], calibrated probs [z, 6]) of one series from the exported CNN: what the app feeds the BiLSTM,
    head-centred when the series model's card asks for it (as CTScorer does; a series centred already stays as it is).
    Cached by the CNN's sha256 and the images (training.bilstm_refit reads every training series through it)."""
    import hashlib

    # the app reads such a series head-centred (CTScorer.model_slices): so does every figure here
    img = centred_stack(s.img)[0] if scorer.centres_series else s.img
    path = None
    if cache is not None:
        path = cache / f"bilstm_in_{scorer.model('ich_cnn').card.sha256[:12]}_{hashlib.sha256(img.tobytes()).hexdigest()[:16]}.npz"
        if path.exists():
            z = np.load(path)
            return z["emb"], z["probs"]
    out, _ = scorer._cnn(window8_to_hu(img).hu)
    emb, probs = out["embedding"].astype(np.float32), out["probs"].astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, emb=emb, probs=probs)
    return emb, probs


def series_scores(series, scorer: CTScorer, cache: Path | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels [s, 6], BiLSTM series probs [s, 6], CNN slice-max probs [s, 6], BiLSTM per-slice probs [slices, 6])."""
    lstm = scorer.model("ich_bilstm")
    ys, bil, cnn, ctx = [], [], [], []
    for s in series:
        emb, probs = bilstm_inputs(scorer, s, cache)
        r = lstm.run({"embedding": emb[None], "cnn_probs": probs[None]})
        ys.append(series_label(s.labels))
        bil.append(r["series_probs"][0])
        cnn.append(probs.max(axis=0))
        ctx.append(r["slice_probs"][0])
    return np.array(ys, np.float32), np.array(bil), np.array(cnn), np.concatenate(ctx)
