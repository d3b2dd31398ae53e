"""Synchronous scoring for the screenshot CLI and scripts: run the bundled models on the state's volume
and put the results (and a chosen heat map) into the `ViewerState`, exactly as the panels would.
The interactive window never calls this on the GUI thread (the findings panel scores in a worker)."""

from __future__ import annotations

import numpy as np

from app.viewer.state import ViewerState
from core.errors import InputError

KIND_TITLES = {"gradcam": "Grad-CAM", "occlusion": "Occlusion"}


def run_models(state: ViewerState) -> None:
    vol = state.volume
    if vol is None:
        raise InputError("no volume loaded")
    if vol.modality == "CT":
        from core.tasks.ct import CTScorer

        scorer = CTScorer()
        state.set_findings(ich=scorer.score_ich(vol), bg=scorer.score_bg(vol))
    else:
        from core.tasks.skullstrip import score_skullstrip

        state.set_findings(qc=score_skullstrip(vol))


def _legend(kind: str, label: str, model) -> str:
    return f"{KIND_TITLES[kind]} {label} - {model.name} {model.version} ({model.device or model.provider})"


def gradcam_volume(state: ViewerState, label: str) -> tuple[np.ndarray, str]:
    """The Grad-CAM of an ICH label (or BG 'left'/'right') on the volume grid, 0..1, and its legend."""
    from core.explain.gradcam import gradcam_to_volume

    vol, ich, bg = state.volume, state.ich, state.bg
    if ich is not None and label in ich.labels:
        return gradcam_to_volume(ich.cam, ich.labels.index(label), vol), _legend("gradcam", label, ich.models[0])
    if bg is not None and label in bg.classes:
        return gradcam_to_volume(bg.cam, bg.classes.index(label), vol), _legend("gradcam", label, bg.model)
    known = (list(ich.labels) if ich is not None else []) + ([c for c in bg.classes if c != "none"] if bg is not None else [])
    raise InputError(f"no Grad-CAM for label {label!r}; labels: {', '.join(known) or 'none (score first)'}")


def occlusion_volume(state: ViewerState, label: str, z: int) -> tuple[np.ndarray, str]:
    """Occlusion drop of an ICH label on axial slice z (patch 32, stride 16 at the model grid), on the
    volume grid (other slices zero), and its legend."""
    import cv2

    from core.explain.occlusion import occlusion_map
    from core.models.preprocess import display_slices, ich_input
    from core.models.runtime import load_model
    from core.models.registry import ModelRegistry
    from core.tasks.ct import ICH_LABELS

    vol = state.volume
    if label not in ICH_LABELS:
        raise InputError(f"occlusion is for the ICH labels ({', '.join(ICH_LABELS)}), got {label!r}")
    model = load_model("ich_cnn", ModelRegistry())
    hu = display_slices(vol)[z]
    drop, _base, _n = occlusion_map(model, ich_input(hu[None])[0], hu, patch=32, stride=16)
    nz, ny, nx = vol.shape
    out = np.zeros((nz, ny, nx), dtype=np.float32)
    m = np.clip(drop[ICH_LABELS.index(label)], 0, None)
    out[z] = cv2.resize(m, (nx, ny), interpolation=cv2.INTER_LINEAR)[::-1, ::-1]  # display -> canonical
    info = state.ich.models[0] if state.ich is not None else None
    legend = _legend("occlusion", label, info) if info else f"Occlusion {label} - ich_cnn"
    return out, legend


def show_overlay(state: ViewerState, kind: str, label: str) -> None:
    if kind == "gradcam":
        data, legend = gradcam_volume(state, label)
        state.set_overlay(kind=kind, label=label, data=data, vmin=0.0, vmax=1.0, legend=legend, slices=None, visible=True)
    elif kind == "occlusion":
        z = state.cursor[0]
        data, legend = occlusion_volume(state, label, z)
        peak = float(data.max()) or 1.0
        state.set_overlay(kind=kind, label=label, data=data, vmin=0.0, vmax=peak, threshold=0.1 * peak,
                          legend=legend, slices=(z,), visible=True)
    else:
        raise InputError(f"unknown overlay kind {kind!r}")
