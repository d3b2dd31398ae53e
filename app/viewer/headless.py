"""Synchronous scoring for the screenshot CLI and scripts: run the bundled models on the state's volume
and put the results (and a chosen heat map) into the `ViewerState`, exactly as the panels would.
The interactive window never calls this on the GUI thread (the findings panel scores in a worker)."""

from __future__ import annotations

import numpy as np

from app.viewer.state import ViewerState
from core.errors import InputError
from core.tasks.dispatch import analyses_for


_CT_SCORER = None


def _ct_scorer():
    global _CT_SCORER
    if _CT_SCORER is None:
        from core.tasks.ct import CTScorer

        _CT_SCORER = CTScorer()
    return _CT_SCORER


def run_models(state: ViewerState) -> None:
    vol = state.volume
    if vol is None:
        raise InputError("no volume loaded")
    found = analyses_for(vol)  # the one dispatch decision (core.tasks.dispatch)
    if found.kind == "ct":
        scorer = _ct_scorer()
        state.set_findings(ich=scorer.score_ich(vol), bg=scorer.score_bg(vol))
    elif found.kind == "mr":
        from core.tasks.skullstrip import score_skullstrip

        state.set_findings(qc=score_skullstrip(vol))
    else:
        raise InputError(found.reason, vol.ids.source or None, code="no-model-applies")


ALIASES = {"left": "bg_left", "right": "bg_right"}


def show_overlay(state: ViewerState, kind: str, label: str) -> None:
    """Build a map as the overlay panel does (same functions, same legend) and put it in the state."""
    from app.viewer.findings import overlay_cache
    from app.viewer.overlays import apply_map, gradcam_labels, occlusion_model_name, occlusion_overlay, occlusion_slice

    vol = state.volume
    label = ALIASES.get(label, label)
    if kind == "gradcam":
        known = gradcam_labels(state.ich, state.bg, state.qc)
        if label not in known:
            raise InputError(f"no Grad-CAM for label {label!r}; labels: {', '.join(known) or 'none'}")
        m = overlay_cache(state).gradcam(vol, label, state.ich, state.bg, state.qc)
    elif kind == "occlusion":
        name = occlusion_model_name(label)
        if name is None or analyses_for(vol).kind != "ct":
            raise InputError(f"occlusion is available for the CT labels, not {label!r}")
        scorer = _ct_scorer()
        z = state.cursor[0]
        occ = occlusion_slice(scorer.model(name), scorer.slice_inputs(vol), z, grid=scorer.grid(vol))
        if label not in occ.labels:
            raise InputError(f"model {name} has no label {label!r}; labels: {', '.join(occ.labels)}")
        overlay_cache(state).put_occlusion(vol, occ)
        m = occlusion_overlay(occ, label, vol)
    else:
        raise InputError(f"unknown overlay kind {kind!r}")
    apply_map(state.set_overlay, state.overlay, m)


def cursor_to_peak(state: ViewerState, keep_slice: bool = True) -> None:
    """Move the crosshair to the overlay's maximum: on the current axial slice, or anywhere."""
    data = state.overlay.data
    if data is None:
        return
    if keep_slice:
        z = state.cursor[0]
        y, x = np.unravel_index(int(np.argmax(data[z])), data[z].shape)
    else:
        z, y, x = np.unravel_index(int(np.argmax(data)), data.shape)
    state.set_cursor(z=int(z), y=int(y), x=int(x))
