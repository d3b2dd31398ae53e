"""The findings panel on real ONNX Runtime sessions and the demo series: scoring from the button in a
worker thread while the event loop keeps running, the same numbers as CTScorer called directly,
cancel, clear errors for what the CT models refuse, MRI QC scores, chart click to slice, a label
row to its Grad-CAM overlay."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer

from app.viewer.findings import FindingsPanel
from app.viewer.scoring import ScoringRunner, shared_ct_scorer
from app.viewer.state import ViewerState
from core.io import load
from core.paths import demo_dir
from core.tasks import CTScorer
from core.tasks.skullstrip import SkullStripScorer

RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def ct():
    return load(demo_dir() / "ct" / "hemorrhage")


@pytest.fixture(scope="module")
def direct(ct):
    """The reference: the core scorer called directly, in its own sessions."""
    s = CTScorer(threads=2)
    return s.score_ich(ct), s.score_bg(ct)


@pytest.fixture
def panel(qtbot):
    state = ViewerState()
    p = FindingsPanel(state, ScoringRunner(state, ct_scorer=shared_ct_scorer()))
    qtbot.addWidget(p)
    p.resize(460, 720)
    p.show()
    yield p
    p.shutdown()


def test_run_from_the_button_populates_the_same_numbers_and_the_ui_keeps_running(qtbot, panel, ct, direct):
    ich, bg = direct
    panel.state.set_volume(ct)
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    stages: list[str] = []
    panel.runner.progress.connect(lambda stage, done, total: stages.append(stage))
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as done:
        qtbot.mouseClick(panel.run_button, Qt.LeftButton)
        assert panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    elapsed = time.perf_counter() - t0
    timer.stop()
    assert done.args == ["done"]
    # the event loop ran all along: ticks throughout, no long gap (a frozen GUI shows one gap = the run)
    gaps = np.diff([t0, *ticks])
    assert len(ticks) >= 10 and gaps.max() < max(0.5, elapsed / 3), (len(ticks), gaps.max(), elapsed)
    for stage in ("loading models", "ICH + BG CNN", "BiLSTM"):  # BG's head runs in the CNN pass (one trunk)
        assert stage in stages
    assert "BG laterality" not in stages
    st = panel.state
    np.testing.assert_allclose(st.ich.slice_probs, ich.slice_probs, atol=1e-5)
    np.testing.assert_allclose(st.bg.slice_probs, bg.slice_probs, atol=1e-5)
    assert st.bg.side == bg.side  # the panel shows what the scorer called
    shown = panel.row_values()
    for lab in ich.labels:
        p, flagged = shown[lab]
        assert p == pytest.approx(ich.series_probs[lab], abs=1e-5)
        assert flagged == ich.flagged()[lab]  # the card's per-label thresholds
    # whether those flags match the phantom's truth is the model's business: tests/core/tasks/test_ct_scoring.py
    assert shown["bg_left"][0] == pytest.approx(bg.series_probs["left"], abs=1e-5)
    text = panel.models_label.text()
    for m in (*ich.models, bg.model):
        assert f"{m.name} {m.version}" in text
    assert "CPU (CPUExecutionProvider)" in text
    called = "no side flagged" if bg.side == "none" else bg.side.upper()
    assert called in panel.summary.text() or f"Basal-ganglia hemorrhage: {bg.side}" in panel.summary.text(), panel.summary.text()
    assert panel.status.text().startswith("Scored in")
    assert panel.legend_entries() == [*ich.labels, "basal ganglia"]


def test_cancel_leaves_the_state_untouched_and_says_cancelled(qtbot, panel, ct):
    panel.state.set_volume(replace(ct, voxels=ct.voxels.copy()))  # a new series: the scorer's CNN cache has not seen it
    after_cancel: list[str] = []

    def on_progress(stage: str, done: int, total: int) -> None:
        if panel.cancel_button.isEnabled() and stage == "ICH + BG CNN":
            qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
        elif not panel.cancel_button.isEnabled():
            after_cancel.append(stage)

    panel.runner.progress.connect(on_progress)
    panel.runner.progress.connect(lambda *a: None)
    findings_changed: list[int] = []
    panel.state.findingsChanged.connect(lambda: findings_changed.append(1))
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as done:
        panel.run()
    assert done.args == ["cancelled"]
    assert panel.state.ich is None and panel.state.bg is None and not findings_changed
    assert "cancelled" in panel.status.text().lower()
    assert "BG laterality" not in after_cancel  # stopped between batches, before the BG model
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.table.rowCount() == 0


def test_what_the_ct_models_refuse_is_a_clear_message_in_the_panel(qtbot, panel, ct):
    mr = load(demo_dir() / "mri" / "good.nii.gz")
    panel.state.set_volume(mr)
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as done:
        assert panel.run(task="ct")
    assert done.args == ["failed"]
    msg = panel.status.text()
    assert msg.startswith("Cannot score:") and "needs a CT series" in msg and "MR" in msg and "good.nii.gz" in msg
    assert panel.state.ich is None and panel.run_button.isEnabled()
    panel.state.set_volume(replace(ct, voxels=ct.voxels[10:13]))  # a 3-slice CT series
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as done:
        qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    assert done.args == ["failed"]
    assert "at least 5 slices" in panel.status.text() and "has 3" in panel.status.text()


def test_mri_shows_the_qc_scores_with_flags(qtbot, panel):
    vol = load(demo_dir() / "mri" / "face_kept.nii.gz")
    ref = SkullStripScorer(threads=2).score(vol)
    panel.state.set_volume(vol)
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as done:
        panel.run()
    assert done.args == ["done"]
    shown = panel.row_values()
    assert set(shown) == {"face", "brain_loss"}
    assert shown["face"][0] == pytest.approx(ref.p_face, abs=1e-5) and shown["face"][1] == ref.flags["face"] is True
    assert shown["brain_loss"][0] == pytest.approx(ref.p_brain_loss, abs=1e-5) and shown["brain_loss"][1] == ref.flags["brain_loss"]
    assert not panel.chart.isVisible()  # no per-slice scores for a 3-D model
    assert ref.verdict in panel.summary.text() and "skullstrip_qc" in panel.models_label.text()  # face kept / not skull-stripped
    panel.select_label("face")  # the QC model's 3-D Grad-CAM
    assert panel.state.overlay.kind == "gradcam" and panel.state.overlay.data.shape == vol.shape
    assert panel.state.overlay.legend.startswith("Grad-CAM face - skullstrip_qc ")


def test_chart_click_goes_to_the_slice_and_the_line_follows_the_cursor(qtbot, panel, ct, direct):
    panel.state.set_volume(ct)
    panel.state.set_findings(ich=direct[0], bg=direct[1])
    qtbot.wait(50)
    vb = panel.plot.getViewBox()
    for k in (4, 17, 25):  # the chart counts images from 1, as the views' corner text does
        scene = vb.mapViewToScene(QPointF(k + 1, 0.5))
        pos = panel.chart.mapFromScene(scene)
        qtbot.mouseClick(panel.chart.viewport(), Qt.LeftButton, pos=pos)
        assert panel.state.cursor[0] == k
        assert panel.cursor_line.value() == k + 1
    panel.state.set_cursor(z=9)
    assert panel.cursor_line.value() == 10


def test_clicking_a_label_row_shows_its_gradcam(qtbot, panel, ct, direct):
    panel.state.set_volume(ct)
    panel.state.set_findings(ich=direct[0], bg=direct[1])
    row = panel.labels().index("subdural")
    rect = panel.table.visualItemRect(panel.table.item(row, 0))
    qtbot.mouseClick(panel.table.viewport(), Qt.LeftButton, pos=rect.center())
    o = panel.state.overlay
    assert o.kind == "gradcam" and o.label == "subdural" and o.visible and o.slices is None
    assert o.data.shape == ct.shape and (o.vmin, o.vmax) == (0.0, 1.0) and 0.0 < o.data.max() <= 1.0  # cut to the intracranial space
    assert o.legend == f"Grad-CAM subdural - ich_cnn {direct[0].models[0].version} (CPU)"
    # set elsewhere (the overlay panel, a key): the row selection follows without re-setting the overlay
    panel.state.set_overlay(label="intraventricular")
    assert panel.table.currentRow() == panel.labels().index("intraventricular")
    assert panel.state.overlay.legend.startswith("Grad-CAM subdural")


def test_opening_another_series_during_a_run_cancels_it_and_keeps_the_new_state_clean(qtbot, panel, ct):
    ct = replace(ct, voxels=ct.voxels.copy())  # a new series: the scorer's CNN cache has not seen it
    panel.state.set_volume(ct)
    other = replace(ct, voxels=ct.voxels.copy())

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "ICH + BG CNN" and panel.state.volume is ct:
            panel.state.set_volume(other)  # the user opens another series mid-run

    panel.runner.progress.connect(on_progress)
    with qtbot.waitSignal(panel.runner.finished, timeout=RUN_TIMEOUT_MS) as done:
        panel.run()
    assert done.args == ["cancelled"]
    assert panel.state.volume is other and panel.state.ich is None and panel.state.bg is None
    assert panel.run_button.isEnabled()


def test_the_chosen_label_shows_its_single_slice_cnn_curve_beside_the_series_curve(qtbot, panel, ct, direct):
    """The slice model alone, dotted, for the chosen CT label only: where it and the series model disagree a reader
    sees it; the flag in the row stays the series model's."""
    ich = direct[0]
    panel.state.set_volume(ct)
    panel.state.set_findings(ich=ich, bg=direct[1])
    qtbot.wait(50)
    assert not panel.cnn_curve.isVisible() and not panel.cnn_note.isVisible()  # nothing chosen yet
    row = panel.labels().index("subdural")
    qtbot.mouseClick(panel.table.viewport(), Qt.LeftButton, pos=panel.table.visualItemRect(panel.table.item(row, 0)).center())
    j = ich.labels.index("subdural")
    x, y = panel.cnn_curve.getData()
    assert panel.cnn_curve.isVisible() and list(x) == list(range(1, ct.shape[0] + 1))
    np.testing.assert_allclose(y, ich.cnn_slice_probs[:, j])
    top = int(ich.cnn_slice_probs[:, j].argmax())
    note = panel.cnn_note.text()
    assert panel.cnn_note.isVisible() and "single-slice CNN" in note and f"image {top + 1}" in note
    assert f"({ich.series_probs['subdural']:.2f})" in note
    assert panel.row_values()["subdural"][1] == ich.flagged()["subdural"]  # the row's flag is unchanged
    panel.state.set_overlay(label="intraventricular")  # chosen elsewhere: the dotted curve follows
    np.testing.assert_allclose(panel.cnn_curve.getData()[1], ich.cnn_slice_probs[:, ich.labels.index("intraventricular")])
    panel.state.set_overlay(label="bg_left")  # a basal-ganglia row has no slice CNN of its own
    assert not panel.cnn_curve.isVisible() and not panel.cnn_note.isVisible()


def test_j_goes_to_the_chosen_findings_most_likely_image_and_shift_j_to_the_cnns(qtbot, panel, ct, direct):
    ich, bg = direct
    panel.state.set_volume(ct)
    panel.state.set_findings(ich=ich, bg=bg)
    qtbot.wait(50)
    j = ich.labels.index("any")
    assert panel.go_to_peak() == int(ich.slice_probs[:, j].argmax())  # nothing chosen: "any"
    assert panel.state.cursor[0] == int(ich.slice_probs[:, j].argmax())
    panel.select_label("subdural")
    k = ich.labels.index("subdural")
    assert panel.go_to_peak() == int(ich.slice_probs[:, k].argmax())
    z = panel.go_to_peak(single_slice=True)
    assert z == int(ich.cnn_slice_probs[:, k].argmax()) and panel.state.cursor[0] == z
    assert panel.status.text() == f"Image {z + 1}: where subdural is most likely (single-slice CNN)"
    panel.select_label("bg_right")
    assert panel.go_to_peak() == int(bg.slice_probs[:, bg.classes.index("right")].argmax())
    before = panel.state.cursor[0]
    assert panel.go_to_peak(single_slice=True) is None and panel.state.cursor[0] == before  # BG has no single-slice CNN
    assert "No per-image curve" in panel.status.text()


def test_the_watched_scorer_opens_two_ct_models_that_share_nothing_without_deadlock(monkeypatch):
    """When the ICH and BG files share no computation the CT CNN is the plain ich_cnn session, opened from inside the
    scorer's own (non-reentrant) lock: it must not wait for itself."""
    import threading

    import core.tasks.ct as ct
    from app.viewer.scoring import WatchedCTScorer

    monkeypatch.setattr(ct, "load_shared_trunk", lambda *a, **k: None)
    scorer, got = WatchedCTScorer(threads=1), []
    worker = threading.Thread(target=lambda: got.append(scorer.raw_model(ct.CT_CNN)), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "raw_model(CT_CNN) deadlocked on the scorer's lock"
    assert got[0].card.name == "ich_cnn" and got[0].second_outputs is None
    assert scorer.raw_model("ich_cnn") is got[0]  # one session, not two
