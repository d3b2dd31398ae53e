"""Overlay controls on real results: sliders, colormap, visibility and label write `state.overlay`;
the colorbar follows the map's range and units; occlusion for the current slice runs in a worker
(real ONNX Runtime) with progress, covers that slice only, is reused from the cache, cancels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.viewer.overlay_panel import OverlayPanel
from app.viewer.scoring import shared_ct_scorer
from app.viewer.state import ViewerState
from core.io import load
from core.paths import demo_dir
from core.tasks import CTScorer

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def ct():
    return load(demo_dir() / "ct" / "hemorrhage")


@pytest.fixture(scope="module")
def results(ct):
    s = CTScorer(threads=2)
    return s.score_ich(ct), s.score_bg(ct)


@pytest.fixture
def panel(qtbot, ct, results):
    state = ViewerState()
    state.set_volume(ct)
    state.set_findings(ich=results[0], bg=results[1])
    p = OverlayPanel(state, scorer=shared_ct_scorer())
    qtbot.addWidget(p)
    p.resize(440, 560)
    p.show()
    yield p
    p.shutdown()


def _choose(combo, data) -> None:
    combo.setCurrentIndex(combo.findData(data))
    combo.activated.emit(combo.currentIndex())  # what a user's pick emits


def test_label_opacity_threshold_colormap_and_visibility_write_the_state(qtbot, panel):
    st = panel.state
    assert st.overlay.opacity == 0.5 and panel.opacity.value() == 50  # the default
    assert panel.legend.text().startswith("No overlay")
    _choose(panel.label, "subdural")
    o = st.overlay
    assert o.kind == "gradcam" and o.label == "subdural" and o.data.shape == st.volume.shape
    assert panel.legend.text() == o.legend == f"Grad-CAM subdural - ich_cnn {st.ich.models[0].version} (CPU)"
    assert panel.colorbar.levels() == pytest.approx((0.0, 1.0))
    assert "~29 mm" in panel.note.text()  # 8 cells over 512 x 0.449 mm
    assert panel.units.text() == "Colour scale: Grad-CAM relative to the series peak (0 to 1)"
    panel.opacity.setValue(70)
    assert st.overlay.opacity == pytest.approx(0.7)
    panel.threshold.setValue(40)
    assert st.overlay.threshold == pytest.approx(0.4)
    assert panel.colorbar_threshold.value() == pytest.approx(0.4 * 256)  # 40% along the bar
    _choose(panel.cmap, "viridis")
    assert st.overlay.cmap == "viridis"
    assert panel.colorbar.colorMap().name == "viridis"
    qtbot.mouseClick(panel.visible, Qt.LeftButton, pos=QPoint(8, panel.visible.height() // 2))  # on the box
    assert st.overlay.visible is False
    panel.toggle()
    assert st.overlay.visible is True and panel.visible.isChecked()
    # settings made elsewhere show up in the controls
    st.set_overlay(opacity=0.25)
    assert panel.opacity.value() == 25 and panel.opacity_value.text() == "0.25"
    _choose(panel.label, "bg_right")
    assert st.overlay.legend.startswith("Grad-CAM bg_right - bg_laterality ")
    assert st.overlay.opacity == 0.25 and st.overlay.cmap == "viridis"  # the user's choices are kept


def test_occlusion_for_the_current_slice_in_the_background(qtbot, panel):
    st = panel.state
    st.set_cursor(z=15)
    _choose(panel.label, "subdural")
    panel.occlusion_grid.setCurrentIndex(1)  # coarse: 64 patch positions at most, quick on 2 cores
    steps: list[tuple[int, int]] = []
    panel.occlusion_runner.progress.connect(lambda stage, done, total: steps.append((done, total)))
    with qtbot.waitSignal(panel.occlusion_runner.finished, timeout=TIMEOUT_MS) as done:
        qtbot.mouseClick(panel.occlusion_button, Qt.LeftButton)
        assert not panel.occlusion_button.isEnabled()
    assert done.args == ["done"]
    o = st.overlay
    assert o.kind == "occlusion" and o.label == "subdural" and o.slices == (15,)
    assert not np.delete(o.data, 15, axis=0).any() and o.data[15].max() > 0.05
    assert o.vmin == 0.0 and o.vmax == pytest.approx(float(o.data[15].max()))
    assert o.legend.startswith("Occlusion subdural, slice 15 - ich_cnn ") and o.legend.endswith("(CPU)")
    assert panel.colorbar.levels() == pytest.approx((0.0, o.vmax), abs=1e-4)
    assert "drop in P(subdural)" in panel.units.text() and f"(0 to {o.vmax:.3g})" in panel.units.text()
    assert steps and steps[-1][0] == steps[-1][1] - 1  # the last model run was reported against the right total
    assert "model runs" in panel.occlusion_status.text()
    # another label on the same slice comes from the same runs: no new job
    _choose(panel.label, "any")
    assert not panel.occlusion_runner.is_running()
    assert st.overlay.kind == "occlusion" and st.overlay.label == "any" and st.overlay.slices == (15,)
    # back to Grad-CAM
    _choose(panel.kind, "gradcam")
    assert st.overlay.kind == "gradcam" and st.overlay.slices is None and st.overlay.label == "any"


def test_occlusion_cancel_leaves_the_overlay_as_it_was(qtbot, panel):
    st = panel.state
    _choose(panel.label, "intraventricular")
    before = st.overlay

    def on_progress(stage: str, done: int, total: int) -> None:
        if done == 1 and panel.occlusion_cancel.isEnabled():
            qtbot.mouseClick(panel.occlusion_cancel, Qt.LeftButton)

    panel.occlusion_runner.progress.connect(on_progress)
    st.set_cursor(z=13)
    with qtbot.waitSignal(panel.occlusion_runner.finished, timeout=TIMEOUT_MS) as done:
        assert panel.run_occlusion()
    assert done.args == ["cancelled"]
    assert st.overlay is before and "cancelled" in panel.occlusion_status.text()
    assert panel.occlusion_button.isEnabled()


def test_mri_offers_its_own_labels_and_no_occlusion(qtbot, panel):
    st = panel.state
    st.set_volume(load(demo_dir() / "mri" / "good.nii.gz"))
    assert [panel.label.itemData(i) for i in range(panel.label.count())] == ["face", "brain_loss"]
    assert not panel.occlusion_button.isEnabled()
    assert panel.run_occlusion() is False and "CT slice models" in panel.occlusion_status.text()
    assert panel.show_gradcam("face") is False and "Run the AI first" in panel.note.text()
