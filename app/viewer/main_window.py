"""The reading-room main window: three linked slice views and a 3-D pane in a 1x1 or 2x2 layout,
menus and keys built from `app.viewer.keys`, background loading, series info, and docks for the
findings and overlay panels.

Start-up order matters for the first image: the window and the 2-D views come first; VTK (3-D pane)
and the AI panels (ONNX Runtime) are created only after the first slice is painted.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QGridLayout, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar,
                               QStackedLayout, QWidget)

from app.viewer.info_panel import InfoPanel
from app.viewer.keys import CINE_FPS, OBLIQUE_STEP_DEG, PAGE_STEP, SHORTCUTS, SLAB_STEP_MM, check_unique
from app.viewer.open_dialog import BackgroundLoader
from app.viewer.settings import ViewerSettings
from app.viewer.slice_view import SliceView
from app.viewer.state import ViewerState

ORDER_2X2 = (("axial", 0, 0), ("coronal", 0, 1), ("sagittal", 1, 0))
TITLE = "NeuroReview (research use only, not for clinical use)"


class Pane3D(QWidget):
    """Holds the VTK volume view, created on demand (VTK is slow to import); says plainly when the
    3-D view is not available instead of showing an empty pane."""

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.view = None
        self.error: str | None = None
        self._stack = QStackedLayout(self)
        self.placeholder = QLabel("3-D view: starts after the first image")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #bbb; background: #111; font-size: 13px; padding: 12px;")
        self._stack.addWidget(self.placeholder)
        self._preset: str | None = None

    def ensure(self) -> bool:
        """Create the VTK view (importing VTK now). False, with the reason on screen, if it cannot."""
        if self.view is not None:
            return True
        if self.error is not None:
            return False
        try:
            from app.viewer.view3d import VolumeView3D

            view = VolumeView3D(self)
        except Exception as exc:  # not built, VTK missing or no OpenGL: say so, never pretend
            self.error = f"{type(exc).__name__}: {exc}"
            self.placeholder.setText(f"3-D view not available\n({self.error})")
            return False
        self.view = view
        self._stack.addWidget(view)
        self._stack.setCurrentWidget(view)
        view.bind(self.state)  # follows the volume and the axial plane through the cursor
        if self._preset:
            view.set_preset(self._preset)
        return True

    def set_preset(self, name: str) -> None:
        self._preset = name
        if self.view is not None:
            self.view.set_preset(name)

    def wait_ready(self, timeout_s: float = 120.0) -> bool:
        """Headless screenshots: run the event loop until the 3-D view shows the volume (it is prepared
        on a worker thread). True at once when there is no view or no volume."""
        if self.view is None or self.state.volume is None:
            return True
        return self.view.wait_ready(timeout_s)

    def paint_over(self, pixmap, root: QWidget) -> None:
        """QWidget.grab() cannot see the OpenGL surface: draw the real render into a window grab."""
        if self.view is not None and self.isVisible():
            self.view.paint_over(pixmap, root)

    def shutdown(self) -> None:
        if self.view is not None:
            self.view.close()  # close(), never Finalize() (DESIGN.md: segfault on the next repaint)
            self.view = None


class ViewerWindow(QMainWindow):
    volumeLoaded = Signal()
    loadFailed = Signal(str)
    _facts_ready = Signal(object, object)  # volume, header facts (from a worker thread)
    firstPainted = Signal(float)

    def __init__(self, state: ViewerState | None = None, settings: ViewerSettings | None = None,
                 layout: str | None = None, panels: bool = True, view3d: bool = True, auto_score: bool = True,
                 annotation_db: str | Path | None = None) -> None:
        super().__init__()
        check_unique()
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.state = state or ViewerState()
        self.settings = settings or ViewerSettings()
        self.want_panels = panels
        self.want_auto_score = auto_score  # score each series when it opens (background, cancellable)
        self.want_3d = view3d  # False: the 3-D pane is created only when asked (tests of the 2-D parts)
        self.current_path: str | None = None
        self.error_box: QMessageBox | None = None
        self.last_error: str | None = None
        self.first_paint_s: float | None = None
        self.active = "axial"
        self.layout_name = layout or self.settings.layout
        self.panels: dict[str, QWidget] = {}

        self.views = {o: SliceView(self.state, o) for o in ("axial", "coronal", "sagittal")}
        for v in self.views.values():
            v.activated.connect(self.set_active)
            v.doubleClicked.connect(self._on_double_click)
        self.views["axial"].firstPainted.connect(self._on_first_paint)
        self.pane3d = Pane3D(self.state)
        central = QWidget()
        self.grid = QGridLayout(central)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        central.setObjectName("viewerCentral")
        central.setStyleSheet("#viewerCentral { background: #000; }")  # not inherited by the 3-D pane's controls
        self.setCentralWidget(central)

        self.info = InfoPanel(self.state)
        self.info_dock = self._dock("Series", self.info, "info")
        from app.viewer.measure_panel import MeasurePanel
        from app.viewer.series_browser import SeriesBrowser

        self.measure_panel = MeasurePanel(self.state)
        self.measure_dock = self._dock("Measurements", self.measure_panel, "measurements")
        self.tabifyDockWidget(self.info_dock, self.measure_dock)
        self.info_dock.raise_()
        self.browser = SeriesBrowser(self.state)
        self.browser.openRequested.connect(self.open_series)
        self.browser_dock = self._dock("Series browser", self.browser, "browser", Qt.LeftDockWidgetArea)
        self.browser_dock.hide()  # shown when a folder is scanned
        self.tag_viewer = None
        self.oblique = None  # app.viewer.oblique_view.ObliqueView, made the first time it is shown
        self.oblique_dock = self._dock("Oblique", QWidget(), "oblique")
        self.oblique_dock.hide()
        self.oblique_dock.toggleViewAction().triggered.connect(lambda on: on and self._ensure_oblique())
        self.oblique_dock.visibilityChanged.connect(lambda on: self.state.set_oblique(shown=on))
        # measurements are kept per series; the database lives beside the settings (NEUROREVIEW_HOME in tests)
        self._annotation_db = annotation_db or self.settings.path.parent / "viewer.sqlite"
        self._annotation_store = None  # created after the first image (SQLAlchemy is slow to import)
        self.state.annotationsChanged.connect(self._store_annotations)
        self._facts_ready.connect(self._on_facts)
        self.state.set_corner(anonymised=self.settings.anonymised, fields=self.settings.corner_fields)

        self.loader = BackgroundLoader(self)
        self.loader.scanned.connect(self._on_scanned)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy.connect(self._on_busy)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(140)
        self.busy.setVisible(False)
        self.statusBar().addPermanentWidget(self.busy)
        self.warn_label = QLabel()
        self.statusBar().addPermanentWidget(self.warn_label)

        self.cine = QTimer(self)
        self.cine.setInterval(int(1000 / CINE_FPS))
        self.cine.timeout.connect(lambda: self.views[self.active].step(1, wrap=True))

        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self.set_layout(self.layout_name, remember=False)
        self.set_active("axial")
        geo = self.settings.geometry()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 900)

    # -- building ---------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, name: str, area=Qt.RightDockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _handlers(self) -> dict:
        st = self.state
        step = lambda n: (lambda: self.views[self.active].step(n))  # noqa: E731
        h = {
            "file.open_folder": self.open_folder_dialog,
            "file.open_file": self.open_file_dialog,
            "file.open_demo": self.open_demo,
            "file.save_screenshot": self.save_screenshot_dialog,
            "file.quit": self.close,
            "slice.next": step(1), "slice.prev": step(-1), "slice.next_alt": step(1), "slice.prev_alt": step(-1),
            "slice.page_up": step(PAGE_STEP), "slice.page_down": step(-PAGE_STEP),
            "slice.first": lambda: self.views[self.active].go_to(0),
            "slice.last": lambda: self.views[self.active].go_to(10**9),
            "cine.toggle": self.toggle_cine,
            "view.next_active": self.next_active,
            "layout.toggle": lambda: self.set_layout("1x1" if self.layout_name == "2x2" else "2x2"),
            "view.fit": lambda: [v.fit() for v in self.views.values()],
            "view.zoom_in": lambda: self.views[self.active].zoom(1.25),
            "view.zoom_out": lambda: self.views[self.active].zoom(0.8),
            "view.crosshair": self.toggle_crosshair,
            "view.info": lambda: st.set_corner(visible=not st.corner.visible),
            "view.anonymise": self.toggle_anonymised,
            "view.tags": self.show_tags,
            "view.browser": lambda: self.browser_dock.setVisible(not self.browser_dock.isVisible()),
            "series.next": lambda: self.browser.step(1),
            "series.prev": lambda: self.browser.step(-1),
            "view.oblique": self.toggle_oblique,
            "oblique.up": lambda: st.set_oblique(st.oblique_deg + OBLIQUE_STEP_DEG),
            "oblique.down": lambda: st.set_oblique(st.oblique_deg - OBLIQUE_STEP_DEG),
            "mpr.interp": lambda: st.set_mpr(interp="nearest" if st.mpr.interp == "linear" else "linear"),
            "mpr.slab": self.cycle_slab,
            "mpr.thicker": lambda: st.set_mpr(slab_mm=st.mpr.slab_mm + SLAB_STEP_MM),
            "mpr.thinner": lambda: st.set_mpr(slab_mm=max(0.0, st.mpr.slab_mm - SLAB_STEP_MM)),
            "tool.measure": lambda: self.toggle_tool("ruler"),
            "tool.ellipse": lambda: self.toggle_tool("ellipse"),
            "tool.freehand": lambda: self.toggle_tool("freehand"),
            "tool.angle": lambda: self.toggle_tool("angle"),
            "tool.delete": self.delete_last_measurement,
            "tool.export_csv": self.export_csv_dialog,
            "tool.clear": self.clear_tools,
            "file.export_sc": self.export_sc_dialog,
            "view3d.bone": lambda: self.pane3d.set_preset("bone"),
            "view3d.skin": lambda: self.pane3d.set_preset("skin"),
            "view3d.brain": lambda: self.pane3d.set_preset("brain"),
            "overlay.toggle": lambda: st.set_overlay(visible=not st.overlay.visible),
            "overlay.gradcam": lambda: self._panel_call("overlay.gradcam"),
            "overlay.occlusion": lambda: self._panel_call("overlay.occlusion"),
            "findings.run": lambda: self._panel_call("findings.run"),
            "findings.peak": lambda: self._panel_call("findings.peak"),
            "findings.cnn_peak": lambda: self._panel_call("findings.cnn_peak"),
            "help.shortcuts": self.show_cheatsheet,
        }
        for name in ("brain", "subdural", "soft_tissue", "bone", "stroke", "acute_blood", "dicom", "auto"):
            h[f"preset.{name}"] = (lambda n: lambda: st.set_preset(n))(name)
        return h

    def _build_actions(self) -> None:
        handlers = self._handlers()
        menus: dict[str, QMenu] = {}
        for title in ("File", "View", "Navigate", "Window", "Tools", "AI", "Help"):
            menus[title] = self.menuBar().addMenu(title if title != "Window" else "W/L")
        for s in SHORTCUTS:
            act = QAction(s.description, self)
            act.setShortcut(QKeySequence(s.key))
            act.setShortcutContext(Qt.WindowShortcut)
            act.triggered.connect(handlers[s.action])
            act.setObjectName(s.action)
            self.addAction(act)  # active even when its menu is not (hidden views, 1x1)
            if s.menu:
                menus[s.menu].addAction(act)
            self.actions[s.action] = act
            if s.action == "file.open_demo":
                self.recent_menu = menus["File"].addMenu("Recent")
                self._rebuild_recent()
        for a in ("overlay.gradcam", "overlay.occlusion", "findings.run", "findings.peak", "findings.cnn_peak"):
            self.actions[a].setEnabled(False)
            self.actions[a].setToolTip("the AI panel is not loaded")
        layout_menu = menus["View"].addMenu("Layout")
        for name in ("1x1", "2x2"):
            act = layout_menu.addAction(name)
            act.triggered.connect((lambda n: lambda: self.set_layout(n))(name))
        for dock in (self.info_dock, self.measure_dock, self.browser_dock, self.oblique_dock):
            menus["View"].addAction(dock.toggleViewAction())
        qr = QAction("Query/Retrieve…", self)  # PACS (issue 14): app/worklist/query_retrieve.py
        qr.setObjectName("file.query_retrieve")
        qr.triggered.connect(self.open_query_retrieve)
        menus["File"].insertAction(self.actions["file.quit"], qr)
        self.menus = menus

    def open_query_retrieve(self):
        """File > Query/Retrieve...: find a study on a PACS node, retrieve a series, open it here."""
        from app.worklist.query_retrieve import QueryRetrieveDialog

        dlg = QueryRetrieveDialog(self)
        dlg.retrieved.connect(self.open_path)
        dlg.show()
        return dlg

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        items = self.settings.recent
        for path in items:
            act = self.recent_menu.addAction(path)
            act.triggered.connect((lambda p: lambda: self.open_path(p))(path))
        if items:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear", lambda: (self.settings.clear_recent(), self._rebuild_recent()))
        self.recent_menu.setEnabled(bool(items))

    # -- layout & active view ---------------------------------------------------------------------
    def set_layout(self, name: str, remember: bool = True) -> None:
        if name not in ("1x1", "2x2"):
            raise ValueError(f"layout must be 1x1 or 2x2, got {name!r}")
        self.layout_name = name
        for w in list(self.views.values()) + [self.pane3d]:
            self.grid.removeWidget(w)
            w.hide()
        for r in range(2):
            self.grid.setRowStretch(r, 0)
            self.grid.setColumnStretch(r, 0)
        if name == "2x2":
            for o, r, c in ORDER_2X2:
                self.grid.addWidget(self.views[o], r, c)
                self.views[o].show()
            self.grid.addWidget(self.pane3d, 1, 1)
            self.pane3d.show()
            for r in range(2):
                self.grid.setRowStretch(r, 1)
                self.grid.setColumnStretch(r, 1)
            if self.first_paint_s is not None and self.want_3d:
                QTimer.singleShot(0, self.pane3d.ensure)
        else:
            self.grid.addWidget(self.views[self.active], 0, 0)
            self.views[self.active].show()
            self.grid.setRowStretch(0, 1)
            self.grid.setColumnStretch(0, 1)
        if remember:
            self.settings.layout = name
        QTimer.singleShot(0, lambda: [v.fit() for v in self.views.values() if v.isVisible()])

    def set_active(self, orientation: str) -> None:
        if orientation == self.active and self.views[orientation].active:
            return
        self.active = orientation
        for o, v in self.views.items():
            v.set_active(o == orientation)
        if self.layout_name == "1x1":
            self.set_layout("1x1", remember=False)

    def next_active(self) -> None:
        order = ["axial", "coronal", "sagittal"]
        self.set_active(order[(order.index(self.active) + 1) % 3])

    def _on_double_click(self, orientation: str) -> None:
        self.active = orientation
        self.set_active(orientation)
        self.set_layout("2x2" if self.layout_name == "1x1" else "1x1")

    # -- tools --------------------------------------------------------------------------------------
    def toggle_cine(self) -> None:
        if self.cine.isActive():
            self.cine.stop()
            self.statusBar().showMessage("cine stopped", 1500)
        elif self.state.volume is not None:
            self.cine.start()
            self.statusBar().showMessage(f"cine: {CINE_FPS} slices/s (Space stops)")

    def toggle_crosshair(self) -> None:
        on = not self.views["axial"].show_crosshair
        for v in self.views.values():
            v.set_crosshair_visible(on)

    def _ensure_oblique(self):
        if self.oblique is None:
            from app.viewer.oblique_view import ObliqueView

            self.oblique = ObliqueView(self.state)
            self.oblique_dock.setWidget(self.oblique)
        return self.oblique

    def toggle_oblique(self) -> None:
        if not self.oblique_dock.isVisible():
            self._ensure_oblique()
        self.oblique_dock.setVisible(not self.oblique_dock.isVisible())

    def toggle_anonymised(self) -> None:
        on = not self.state.corner.anonymised
        self.state.set_corner(anonymised=on)
        self.settings.anonymised = on
        self.statusBar().showMessage("anonymised corner text" if on else "corner text with patient lines", 3000)

    def toggle_tool(self, tool: str) -> None:
        self.state.set_tool(None if self.state.tool == tool else tool)

    def clear_tools(self) -> None:
        self.cine.stop()
        self.state.set_tool(None)

    def cycle_slab(self) -> None:
        """off -> MIP -> MinIP -> average -> off; a slab starts at 10 mm."""
        st = self.state
        order = ["off", "mip", "minip", "avg"]
        now = "off" if st.mpr.slab_mm <= 0 else st.mpr.slab_mode
        nxt = order[(order.index(now) + 1) % len(order)]
        if nxt == "off":
            st.set_mpr(slab_mm=0.0)
        else:
            st.set_mpr(slab_mode=nxt, slab_mm=st.mpr.slab_mm if st.mpr.slab_mm > 0 else 2 * SLAB_STEP_MM)

    def delete_last_measurement(self) -> None:
        here = self.views[self.active].annotations_here()
        if here:
            self.state.remove_annotation(here[-1].id)

    @property
    def annotations(self):
        """The measurement store (app.viewer.annotation_store), opened on first use."""
        if self._annotation_store is None:
            from app.viewer.annotation_store import AnnotationStore

            self._annotation_store = AnnotationStore(self._annotation_db)
        return self._annotation_store

    def finish_loading(self, wait: bool = True) -> None:
        """The slower parts of showing a series: its stored measurements and the header facts of the corner text
        (read in a thread unless `wait`: a long series' headers must not stall the GUI)."""
        vol = self.state.volume
        if vol is None:
            return
        from app.viewer.header_facts import series_facts

        try:
            saved = self.annotations.load(vol)
        except Exception as exc:  # an unreadable database: the series still opens, and the user is told
            saved = []
            self.statusBar().showMessage(f"saved measurements not available: {type(exc).__name__}: {exc}", 10000)
        self._stored_for = vol  # from now on, changes of this volume's list are written through
        self.state.set_annotations(saved + [a for a in self.state.annotations if a.id not in {s.id for s in saved}])
        if wait:
            self.state.set_facts(series_facts(vol))
            return
        import threading

        def work() -> None:
            from shiboken6 import isValid

            facts = series_facts(vol)
            if not isValid(self):  # the window closed meanwhile
                return
            try:
                self._facts_ready.emit(vol, facts)
            except (RuntimeError, TypeError):  # closed between the check and the emit: PySide raises either
                pass

        threading.Thread(target=work, name="neuroreview-facts", daemon=True).start()

    def _on_facts(self, vol, facts: dict) -> None:
        if vol is self.state.volume:  # not a series the user has already left
            self.state.set_facts(facts)

    def _store_annotations(self) -> None:
        """Every change is written at once, so closing (or a crash) loses nothing."""
        vol = self.state.volume
        if vol is None or getattr(self, "_stored_for", None) is not vol:  # its stored list is not loaded yet
            return
        try:
            self.annotations.sync(vol, self.state.annotations)
        except Exception as exc:  # the database is locked or read-only: say so, keep the marks on screen
            self.statusBar().showMessage(f"measurements NOT saved: {type(exc).__name__}: {exc}", 10000)

    def export_csv_dialog(self) -> None:
        from app.viewer.measure import write_csv

        path, _ = QFileDialog.getSaveFileName(self, "Export measurements", str(Path.home() / "measurements.csv"), "CSV (*.csv)")
        if path:
            n = write_csv(self.state.annotations, path)
            self.statusBar().showMessage(f"wrote {n} measurement(s) to {path}", 5000)

    def show_tags(self):
        from app.viewer.tag_viewer import TagViewer

        if self.tag_viewer is None:
            self.tag_viewer = TagViewer(self)
        self.tag_viewer.show_volume(self.state.volume, self.state.cursor[0])
        self.tag_viewer.show()
        self.tag_viewer.raise_()
        return self.tag_viewer

    def export_view(self, path: str | Path) -> tuple[Path, Path]:
        """The active view as rendered (window, overlay, measurements, corner text) to a DICOM secondary
        capture at `path` and a PNG beside it."""
        from PySide6.QtGui import QImage
        import numpy as np

        from app.viewer.header_facts import slice_dataset
        from app.viewer.secondary_capture import write_secondary_capture

        vol = self.state.volume
        if vol is None:
            raise ValueError("no series loaded")
        view = self.views[self.active]
        img = view.grab().toImage().convertToFormat(QImage.Format_RGB888)
        w, h = img.width(), img.height()
        rgb = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, -1)[:, : w * 3]
        rgb = rgb.reshape(h, w, 3).copy()
        path = Path(path)
        png = path.with_suffix(".png")
        png.parent.mkdir(parents=True, exist_ok=True)
        if not img.save(str(png)):
            raise OSError(f"could not write {png}")
        src = slice_dataset(vol, self.state.cursor[0])
        desc = f"{self.active} view of {vol.ids.series_description or 'series'}"
        return write_secondary_capture(path, rgb, src, desc), png

    def export_sc_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view as DICOM secondary capture",
                                              str(Path.home() / "neuroreview_view.dcm"), "DICOM (*.dcm)")
        if path:
            try:
                dcm, png = self.export_view(path)
            except (OSError, ValueError) as exc:
                self.statusBar().showMessage(f"could not export: {exc} [{path}]", 10000)
                return
            self.statusBar().showMessage(f"wrote {dcm} and {png}", 6000)

    def show_cheatsheet(self):
        from app.viewer.cheatsheet import CheatSheet

        self.cheatsheet = CheatSheet(self)
        self.cheatsheet.open()
        return self.cheatsheet

    # -- panels (findings, overlay controls) ----------------------------------------------------------
    def _panel_call(self, action: str) -> None:
        handler = getattr(self, "_panel_handlers", {}).get(action)
        if handler is None:
            self.statusBar().showMessage("the AI panel is not available", 3000)
            return
        handler()

    def ensure_panels(self) -> None:
        """Create the AI docks (findings, overlay controls); they load models in the background."""
        if self.panels or not self.want_panels:
            return
        from app.viewer.panels import attach_panels

        attach_panels(self)

    # -- opening ------------------------------------------------------------------------------------
    def open_demo(self) -> None:
        from core.paths import demo_ct_dir

        self.open_path(str(demo_ct_dir()))

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a DICOM folder", self._start_dir())
        if path:
            self.open_path(path)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a file", self._start_dir(),
                                              "Images (*.dcm *.DCM *.nii *.nii.gz *.IMA);;All files (*)")
        if path:
            self.open_path(path)

    def _start_dir(self) -> str:
        recent = self.settings.recent
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def open_path(self, path: str | os.PathLike, series_uid: str | None = None) -> None:
        """Open a DICOM folder/file or a NIfTI file in the background (the UI keeps working)."""
        path = str(path)
        self.statusBar().showMessage(f"opening {path} ...")
        name = path.lower()
        if series_uid is not None:
            self.loader.load(path, series_uid)
        elif os.path.isfile(path) and (name.endswith(".nii") or name.endswith(".nii.gz")):
            self.loader.load(path)
        else:
            self.loader.scan(path)

    def open_series(self, path: str, series_uid: str = "") -> None:
        """A series of the browser's study (its scan is reused: no second pass over the folder)."""
        scan = self.browser.scan
        if series_uid and scan is not None and series_uid in getattr(scan, "_stacks", {}):
            self.statusBar().showMessage(f"opening {path} ...")
            self.loader.load(path, series_uid, scan)
        else:
            self.open_path(path, series_uid or None)

    def open_prefetched(self, prefetch) -> None:
        """Open what `app.viewer.prefetch` is reading in a forked process (the launch path)."""
        self.statusBar().showMessage(f"opening {prefetch.path} ...")
        self.loader.adopt(prefetch)

    def _on_scanned(self, path: str, result) -> None:
        if not result.series:
            first = f"; first unreadable: {result.problems[0]}" if result.problems else ""
            self._on_failed(path, f"no DICOM series or NIfTI volume found ({len(result.problems)} file(s) unreadable{first}) [{path}]")
            return
        from core.io.series_choice import default_series  # core.io is loaded by now (it scanned)

        chosen, _ = default_series(result.series)  # what `load` opens: a soft-tissue axial CT before a larger bone series
        self.browser.set_scan(path, result)
        if len(result.series) > 1:  # the browser shows them all; the default series opens first
            self.browser_dock.show()
            self.browser_dock.raise_()
        if chosen.kind == "nifti":
            self.loader.load(chosen.path)
        else:
            self.loader.load(path, chosen.series_uid, result)

    def _on_loaded(self, path: str, volume) -> None:
        self.set_volume(volume, path)

    def set_volume(self, volume, path: str | None = None) -> None:
        """Show a loaded Volume (also the synchronous entry for scripts and the screenshot CLI)."""
        self.cine.stop()
        self.current_path = path or volume.ids.source or None
        self.state.set_volume(volume)
        if self.first_paint_s is not None:  # else after the first image (keeps pydicom and SQLAlchemy off the start path)
            self.finish_loading(wait=False)
        if self.current_path:
            self.settings.add_recent(self.current_path)
            self._rebuild_recent()
        desc = volume.ids.series_description or Path(volume.ids.source or "").name
        self.setWindowTitle(f"{desc} - {TITLE}")
        n = len(volume.warnings)
        self.warn_label.setText(f"<b style='color:#c77700'>{n} loader warning(s)</b>: "
                                + ", ".join(sorted({w.code.value for w in volume.warnings})) if n else "no loader warnings")
        self.warn_label.setToolTip("\n".join(str(w) for w in volume.warnings))
        if n:  # warnings are news: bring the series tab to the front
            self.info_dock.show()
            self.info_dock.raise_()
        nz, ny, nx = volume.shape
        self.statusBar().showMessage(f"{volume.modality} {nz} x {ny} x {nx}  {self.current_path or ''}", 8000)
        self.volumeLoaded.emit()

    def _on_failed(self, path: str, message: str) -> None:
        """A loader error: a message naming the file; the window and any open case stay usable."""
        self.last_error = message
        self.statusBar().showMessage(f"could not open: {message}", 10000)
        box = QMessageBox(QMessageBox.Critical, "Cannot open", f"Could not open\n{path}\n\n{message}", QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose, False)
        box.open()  # window-modal, not blocking
        self.error_box = box
        self.loadFailed.emit(message)

    def _on_busy(self, on: bool) -> None:
        self.busy.setVisible(on)
        if on:
            self.busy.setToolTip("loading")

    def _on_first_paint(self, dt: float) -> None:
        if self.first_paint_s is None:
            self.first_paint_s = dt
            self.firstPainted.emit(dt)
            if os.environ.get("NEUROREVIEW_REPORT_FIRST_PAINT") == "exit":  # start-up profiling and benchmarks
                from PySide6.QtWidgets import QApplication

                QTimer.singleShot(0, QApplication.quit)
                return
            QTimer.singleShot(50, self._after_first_paint)

    def _after_first_paint(self) -> None:
        """What may be slow to import comes after the first image: header facts and measurements, the AI
        panels, then VTK."""
        self.finish_loading(wait=False)
        self.ensure_panels()
        if self.layout_name == "2x2" and self.want_3d:
            self.pane3d.ensure()

    # -- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        from app.viewer.series_browser import MIME

        if ev.mimeData().hasUrls() or ev.mimeData().hasFormat(MIME):
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802
        from app.viewer.series_browser import MIME

        if ev.mimeData().hasFormat(MIME):  # a series dragged from the browser
            path, _, uid = bytes(ev.mimeData().data(MIME)).decode().partition("\n")
            self.open_path(path, uid or None)
            ev.acceptProposedAction()
            return
        urls = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])
            ev.acceptProposedAction()

    # -- screenshots & closing ------------------------------------------------------------------
    def save_screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", str(Path.home() / "neuroreview.png"), "PNG (*.png)")
        if path:
            self.screenshot().save(path)
            self.statusBar().showMessage(f"saved {path}", 4000)

    def screenshot(self):
        """The window as a pixmap, with the 3-D render painted in (grab() cannot see OpenGL)."""
        pix = self.grab()
        self.pane3d.paint_over(pix, self)
        return pix

    def closeEvent(self, ev) -> None:  # noqa: N802
        self.cine.stop()
        self.settings.set_geometry(self.saveGeometry())
        for panel in self.panels.values():
            stop = getattr(panel, "shutdown", None)
            if stop:
                stop()
        self.pane3d.shutdown()
        if self._annotation_store is not None:
            self._annotation_store.close()
        super().closeEvent(ev)

    def view_pixel(self, orientation: str, zyx: tuple[int, int, int]) -> QPoint:
        """Window-relative pixel of a voxel on a view (tests check rendered values there)."""
        v = self.views[orientation]
        return v.mapTo(self, v.widget_pos(zyx))
