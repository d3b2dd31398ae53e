"""Attaches the AI panels (findings with background scoring, overlay controls) to the main window as
docks, wires the AI keys to them, and scores each newly opened series automatically (in the worker,
cancellable; a series opened while another is being scored gets its own run when that one stops).

Imported after the first image is shown: the panels load the models' runtime (ONNX Runtime)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer


class AutoScore(QObject):
    """Start scoring when a series is shown, once per volume."""

    def __init__(self, win, findings) -> None:
        super().__init__(win)
        self.win, self.findings = win, findings
        self.enabled = True
        self._scored_for = None
        win.volumeLoaded.connect(self.kick)
        findings.runner.finished.connect(lambda _status: QTimer.singleShot(0, self.kick))

    def kick(self) -> None:
        st = self.win.state
        vol = st.volume
        if not self.enabled or vol is None or vol is self._scored_for or self.findings.runner.is_running():
            return
        if st.ich is not None or st.qc is not None:  # results came another way (the screenshot CLI)
            self._scored_for = vol
            return
        if self.findings.run():
            self._scored_for = vol


def attach_panels(win) -> None:
    from app.viewer.findings import FindingsPanel
    from app.viewer.overlay_panel import OverlayPanel

    findings = FindingsPanel(win.state)
    overlay = OverlayPanel(win.state)
    win.panels = {"findings": findings, "overlay": overlay}
    win.findings_dock = win._dock("AI findings", findings, "findings")
    win.overlay_dock = win._dock("Overlay", overlay, "overlay")
    win.splitDockWidget(win.findings_dock, win.overlay_dock, Qt.Vertical)
    win.tabifyDockWidget(win.info_dock, win.findings_dock)  # series info one tab away from the findings
    win.findings_dock.show()
    vol = win.state.volume
    (win.info_dock if vol is not None and vol.warnings else win.findings_dock).raise_()  # loader warnings first
    width = max(findings.sizeHint().width(), overlay.sizeHint().width(), 380)
    win.resizeDocks([win.findings_dock], [min(width, win.width() // 3)], Qt.Horizontal)

    def gradcam() -> None:
        label = overlay.current_label() or (findings.labels()[0] if findings.labels() else "any")
        overlay.show_gradcam(label)

    win._panel_handlers = {
        "findings.run": lambda: findings.run(),
        "overlay.gradcam": gradcam,
        "overlay.occlusion": lambda: overlay.run_occlusion(),
        "findings.peak": lambda: findings.go_to_peak(),
        "findings.cnn_peak": lambda: findings.go_to_peak(single_slice=True),
    }
    for name in win._panel_handlers:
        win.actions[name].setEnabled(True)
        win.actions[name].setToolTip("")
    for dock in (win.findings_dock, win.overlay_dock):
        win.menus["View"].addAction(dock.toggleViewAction())
    win.auto_score = AutoScore(win, findings)
    win.auto_score.enabled = win.want_auto_score
    auto = win.menus["AI"].addAction("Score each series when it opens")
    auto.setCheckable(True)
    auto.setChecked(win.want_auto_score)
    auto.toggled.connect(lambda on: setattr(win.auto_score, "enabled", on))
    win.auto_score.kick()
