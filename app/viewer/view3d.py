"""The 3D pane: VTK volume rendering of a `core.volume.Volume` inside Qt, in patient space (RAS mm),
seen from the front (anterior view, superior up) like a radiologist's 3D reformat.

Headless notes (DESIGN.md section 4): under `QT_QPA_PLATFORM=offscreen` the VTK Qt widget renders
garbage unless VTK draws with OSMesa, so this module selects `vtkOSOpenGLRenderWindow` itself when Qt
runs offscreen (before the render window exists). Under Xvfb/xcb and on a desktop it uses the normal
on-screen window. A QVTK widget may come out black in `QWidget.grab()`: use `render_to_array()` or
`paint_over()` to put the real render into screenshots.

Responsiveness (software OpenGL renders a full-quality frame in seconds): `set_volume` returns at once;
the voxels are prepared in a worker thread (`prepare`), the first frame is drawn at preview quality
(coarse rays and samples), and the still-quality frame is drawn only when the pane has been idle for
`REFINE_DELAY_MS`, is visible and still shows that volume. Nothing renders while the pane is hidden.
Rendering itself stays on the GUI thread (VTK/OpenGL contexts are not thread-safe).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QObject, QPoint, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.viewer.presets3d import CT_PRESETS, Preset3D, brain_and_skull_mask, mr_preset, presets_for, upsample_z, z_factor
from core.volume import Volume

ALL_PRESETS = (*CT_PRESETS, "mr")
MAX_RENDER_DIM = 256  # in-plane voxels handed to the renderer; larger volumes are strided (speed)
STILL_UPDATE_RATE = 0.0001  # frames/s asked for when still: full quality (~1 fps in software)
INTERACTIVE_UPDATE_RATE = 10.0  # frames/s asked for while dragging: VTK lowers sampling to get there
PREVIEW_RAYS = 160  # preview quality: about this many rays across the longer side of the pane
REFINE_DELAY_MS = 700  # idle time after the last change or interaction before the still-quality frame
CURSOR_DEBOUNCE_MS = 150  # slice scrolling in the 2D views: one preview frame once the scrolling pauses
STILL_BUDGET_S = 1.5  # an idle refine that took longer makes the next ones coarser (software OpenGL)
SOFTWARE_STILL_ISD = 1.6  # software OpenGL starts the idle refine at this ray spacing (px), not at 1
SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software rasterizer", "basic render driver")
DEFAULT_AZIMUTH = -25.0  # reset view: anterior-oblique, from the patient's right ...
DEFAULT_ELEVATION = 15.0  # ... and a little from above


def _select_gl_backend() -> None:
    """Offscreen Qt cannot host an X/WGL OpenGL window: let VTK draw with OSMesa instead."""
    app = QGuiApplication.instance()
    platform = app.platformName() if app is not None else os.environ.get("QT_QPA_PLATFORM", "")
    if platform == "offscreen":
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")


def render_stride(shape_zyx: tuple[int, int, int], max_dim: int = MAX_RENDER_DIM) -> int:
    """Integer in-plane stride so that y and x fit in `max_dim` (z is kept: CT slices are thick)."""
    return max(1, math.ceil(max(shape_zyx[1], shape_zyx[2]) / max_dim))


@dataclass
class Prepared:
    """What the renderer needs for one volume, built off the GUI thread by `prepare`."""

    generation: int
    volume: Volume
    stride: int
    zf: int
    vox: np.ndarray  # display voxels (strided in-plane, interpolated in z)
    image: object  # vtkImageData of `vox`
    bounds: tuple[float, ...]  # RAS bounds of the head (not the scanner's field of view)
    box_yx: tuple[int, int, int, int]  # the head's in-plane index box (y0, y1, x0, x1) on the volume grid
    mr: Preset3D | None  # the MR preset (percentiles of `vox`), None for CT
    seconds: float = 0.0


def prepare(volume: Volume, generation: int = 0) -> Prepared:
    """Downsample, interpolate in z, wrap as vtkImageData, find the head's bounds: pure data work, safe
    on a worker thread (no rendering, no OpenGL)."""
    t0 = time.perf_counter()
    s = render_stride(volume.shape)
    zf = z_factor(volume.spacing, s)
    vox = upsample_z(volume.voxels[:, ::s, ::s], zf)
    if volume.modality == "CT":
        vox = np.clip(np.rint(vox), -32768, 32767).astype(np.int16)  # HU fit int16: half the texture
    image = to_vtk(vox, volume.spacing, s, zf)
    bounds, box = content_bounds(volume)
    mr = mr_preset(vox) if volume.modality != "CT" else None
    return Prepared(generation, volume, s, zf, vox, image, bounds, box, mr, time.perf_counter() - t0)


def prepare_brain(p: Prepared):
    """The CT brain preset's image: bone and intracranial voxels (the rest air) on the display grid,
    from the original slices (nearest in z, a light in-plane blur against noise): the terrace smoothing
    of `upsample_z` would spread the skull's HU inwards into the 50-90 HU of acute blood."""
    from scipy import ndimage

    s = p.stride
    raw = p.volume.voxels[:, ::s, ::s]
    keep = brain_and_skull_mask(raw)
    smooth = ndimage.gaussian_filter(raw, sigma=(0, 0.7, 0.7))
    nearest = np.minimum(np.rint(np.arange(p.vox.shape[0]) / p.zf).astype(int), raw.shape[0] - 1)
    vox = np.where(keep[nearest], smooth[nearest], np.float32(-1024.0))
    return to_vtk(np.rint(vox).astype(np.int16), p.volume.spacing, s, p.zf)


def to_vtk(vox: np.ndarray, spacing_zyx, stride: int, zf: int):
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData

    dz, dy, dx = spacing_zyx
    img = vtkImageData()
    img.SetDimensions(vox.shape[2], vox.shape[1], vox.shape[0])  # VTK x fastest = our x
    img.SetSpacing(dx * stride, dy * stride, dz / zf)
    img.SetOrigin(0.0, 0.0, 0.0)
    img.GetPointData().SetScalars(numpy_to_vtk(np.ascontiguousarray(vox).ravel(), deep=True))
    return img


def content_bounds(volume: Volume) -> tuple[tuple[float, ...], tuple[int, int, int, int]]:
    """RAS bounds of what is not background (CT: above -500 HU; MR: above the 60th percentile), so
    the reset camera frames the head rather than the scanner's field of view; and the in-plane index
    box of the same (the axial-plane outline is drawn around it)."""
    v = volume.voxels[:, ::4, ::4]
    thr = -500.0 if volume.modality == "CT" else float(np.percentile(v, 60))
    idx = np.argwhere(v > thr)
    nz, ny, nx = volume.shape
    if idx.size == 0:
        lo, hi = np.zeros(3, int), np.array([nz - 1, ny - 1, nx - 1])
    else:
        lo = idx.min(axis=0) * (1, 4, 4)
        hi = np.minimum(idx.max(axis=0) * (1, 4, 4) + (0, 3, 3), (nz - 1, ny - 1, nx - 1))
    corners = np.array([(z, y, x) for z in (lo[0], hi[0]) for y in (lo[1], hi[1]) for x in (lo[2], hi[2])], float)
    ras = volume.index_to_world(corners)
    mn, mx = ras.min(axis=0), ras.max(axis=0)
    return (mn[0], mx[0], mn[1], mx[1], mn[2], mx[2]), (int(lo[1]), int(hi[1]), int(lo[2]), int(hi[2]))


class _Worker(QThread):
    """Runs `prepare` (then the CT brain image) for one volume; results go back by queued signals."""

    prepared = Signal(object)  # Prepared
    brain = Signal(int, object)  # generation, vtkImageData
    failed = Signal(int, str)  # generation, message

    def __init__(self, volume: Volume, generation: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume, self.generation = volume, generation

    def run(self) -> None:
        try:
            p = prepare(self.volume, self.generation)
            self.prepared.emit(p)
            if self.volume.modality == "CT":
                self.brain.emit(self.generation, prepare_brain(p))
        except Exception as exc:  # shown in the pane, never swallowed
            self.failed.emit(self.generation, f"{type(exc).__name__}: {exc}")


class VolumeView3D(QWidget):
    """Volume rendering pane. Call `set_volume`, `set_preset`, `reset_camera`; `close()` releases VTK.

    `set_volume` returns before anything is rendered: `ready` is emitted when the first (preview)
    frame of that volume is up, `refined` when the still-quality frame is. Optional: `set_cursor((z, y, x))`
    outlines that axial plane around the head (off with None)."""

    ready = Signal()
    refined = Signal()
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, show_controls: bool = True) -> None:
        super().__init__(parent)
        _select_gl_backend()
        import vtkmodules.qt

        vtkmodules.qt.PyQtImpl = "PySide6"
        import vtkmodules.vtkInteractionStyle  # noqa: F401  (registers the trackball style)
        import vtkmodules.vtkRenderingFreeType  # noqa: F401  (text actors)
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL backend)
        import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (GPU ray cast)
        from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
        from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
        from vtkmodules.vtkRenderingCore import vtkRenderer, vtkTextActor

        self._closed = False
        self._volume: Volume | None = None
        self._prep: Prepared | None = None  # the data of the volume on screen
        self._preset: str | None = None
        self._image_brain = None  # same grid, only the intracranial voxels (CT brain preset), from the worker
        self._actor = None
        self._mapper = None
        self._plane_actor = None
        self._cursor: tuple[int, int, int] | None = None
        self._bounds: tuple[float, ...] = (0, 1, 0, 1, 0, 1)
        self._wanted: str | None = None  # last preset asked for (kept across volumes)
        self._hold = False  # True while a batch of changes waits for one render
        self._cut: int | None = None
        self._rendered_size: tuple[int, ...] = ()
        self._generation = 0  # bumped by every set_volume: late worker results are dropped
        self._workers: list[_Worker] = []
        self._quality = "preview"
        self._still_isd = 1.0  # image sample distance of the idle refine; grows if it overran its budget
        self.software_gl: bool | None = None  # known after the first frame (OpenGL renderer string)
        self._dirty = False  # something changed that is not on screen yet (e.g. while hidden)
        self._t_open = 0.0
        self.first_frame_s: float | None = None  # set_volume -> first frame of that volume
        self.renders: list[tuple[str, float]] = []  # (quality, seconds) of every frame VTK drew
        self.error: str | None = None

        self.vtk_widget = QVTKRenderWindowInteractor(self)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        win = self.vtk_widget.GetRenderWindow()
        win.AddRenderer(self.renderer)
        win.SetDesiredUpdateRate(STILL_UPDATE_RATE)
        win.AddObserver("StartEvent", self._on_render_start)
        win.AddObserver("EndEvent", self._on_render_end)
        self._t_render = 0.0
        iren = win.GetInteractor()
        style = vtkInteractorStyleTrackballCamera()
        iren.SetInteractorStyle(style)
        iren.SetDesiredUpdateRate(INTERACTIVE_UPDATE_RATE)  # used while a button is down
        iren.SetStillUpdateRate(STILL_UPDATE_RATE)  # used for the final frame after release
        style.AddObserver("StartInteractionEvent", lambda *_: self._interacting(True))
        style.AddObserver("EndInteractionEvent", lambda *_: self._interacting(False))
        iren.Initialize()
        self.vtk_widget.installEventFilter(self)

        self._busy = vtkTextActor()  # "preparing 3D..." drawn in the pane itself: no volume, cheap
        self._busy.SetInput("preparing 3D\u2026")
        self._busy.GetTextProperty().SetFontSize(18)
        self._busy.GetTextProperty().SetColor(0.85, 0.85, 0.85)
        self._busy.GetTextProperty().SetJustificationToCentered()
        self._busy.GetTextProperty().SetVerticalJustificationToCentered()
        self._busy.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self._busy.SetPosition(0.5, 0.5)
        self._busy.SetVisibility(False)
        self.renderer.AddViewProp(self._busy)

        self._refine_timer = QTimer(self)
        self._refine_timer.setSingleShot(True)
        self._refine_timer.setInterval(REFINE_DELAY_MS)
        self._refine_timer.timeout.connect(self._refine)
        self._soon = QTimer(self)  # coalesces bursts (cursor scrolling) into one preview frame
        self._soon.setSingleShot(True)
        self._soon.setInterval(CURSOR_DEBOUNCE_MS)
        self._soon.timeout.connect(lambda: self._render("preview"))

        self.preset_box = QComboBox()
        self.preset_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.preset_box.setMinimumContentsLength(16)
        self.preset_box.currentIndexChanged.connect(self._on_preset_box)
        reset = QPushButton("Reset view")
        reset.setToolTip("Anterior-oblique view: face to you, from the patient's right and above, superior up")
        reset.clicked.connect(lambda: self.reset_camera())
        self.info = QLabel("")
        self.info.setStyleSheet("color: #aaa")
        self.info.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # a longer text never widens the pane
        self.info.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("3D"))
        bar.addWidget(self.preset_box)
        bar.addWidget(reset)
        bar.addWidget(self.info, 1)
        self._controls = QWidget()
        self._controls.setLayout(bar)
        self._controls.setVisible(show_controls)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self._controls)
        lay.addWidget(self.vtk_widget, 1)

    # -- public API -----------------------------------------------------------------------------
    def presets(self) -> list[str]:
        """Preset names for the current volume ('bone', 'skin', 'brain' for CT; 'mr' otherwise)."""
        if self._volume is None:
            return list(CT_PRESETS)
        return presets_for(self._volume.modality)

    @property
    def preset(self) -> str | None:
        return self._preset

    @property
    def stride(self) -> int:
        """In-plane stride used for the renderer (1: full resolution)."""
        return self._prep.stride if self._prep is not None else 1

    @property
    def quality(self) -> str:
        """'preview' (coarse: the first frame, dragging), 'still' (the idle refine, within
        STILL_BUDGET_S) or 'full' (every ray and fine samples: screenshots, `render_to_array`)."""
        return self._quality

    @property
    def preparing(self) -> bool:
        """True from set_volume until its data is on the renderer."""
        return self._volume is not None and (self._prep is None or self._prep.volume is not self._volume)

    def set_volume(self, volume: Volume | None, preset: str | None = None) -> None:
        """Show `volume` (None clears) with `preset`, else the last preset asked for if this volume
        offers it, else its first preset (CT: bone). Returns at once: the voxels are prepared on a
        worker thread (strided in-plane to <= MAX_RENDER_DIM voxels, thick slices interpolated in z,
        see presets3d.upsample_z) and "preparing 3D..." shows until the first frame (`ready`)."""
        if self._closed:
            return
        self._generation += 1
        self._refine_timer.stop()
        if self._actor is not None:
            self.renderer.RemoveVolume(self._actor)
            self._actor = None
        self._set_plane_actor(None)
        self._cut = None
        self._volume, self._prep, self._image_brain = volume, None, None
        self._preset = None
        self.first_frame_s = None
        self.error = None
        if preset is not None:
            if preset not in ALL_PRESETS:
                raise ValueError(f"unknown 3D preset {preset!r}; choose one of {list(ALL_PRESETS)}")
            self._wanted = preset
        self._fill_box()
        self._busy.SetVisibility(volume is not None)
        self.info.setText("preparing 3D\u2026" if volume is not None else "")
        self._render("preview")  # the empty pane or the label: no volume, no cost
        if volume is None:
            return
        self._t_open = time.perf_counter()
        worker = _Worker(volume, self._generation, self)
        worker.prepared.connect(self._on_prepared)
        worker.brain.connect(self._on_brain)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(lambda w=worker: self._forget(w))
        self._workers.append(worker)
        worker.start(QThread.LowPriority)

    def wait_ready(self, timeout_s: float = 120.0, refined: bool = False) -> bool:
        """Run the event loop until the volume given to set_volume is on screen (and refined, if asked):
        for headless screenshots and scripts. False on timeout or failure."""
        t_end = time.monotonic() + timeout_s
        while not self._closed and time.monotonic() < t_end:
            if self.error is not None:
                return False
            done = not self.preparing and (self._preset != "brain" or self._image_brain is not None)
            if done and (not refined or self._quality in ("still", "full")):
                return True
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        return False

    def set_preset(self, name: str) -> bool:
        """Apply a preset by name. A known preset that the current volume does not offer (e.g. 'bone'
        on an MR) is kept as the preference for the next volume that does, and False is returned;
        an unknown name raises ValueError."""
        if name not in ALL_PRESETS:
            raise ValueError(f"unknown 3D preset {name!r}; choose one of {list(ALL_PRESETS)}")
        if self._closed:
            return False
        self._wanted = name
        if name not in self.presets():
            return False
        self._preset = name
        if self._actor is not None:
            self._apply_preset()
        i = self.preset_box.findData(name)
        if i >= 0 and i != self.preset_box.currentIndex():
            self.preset_box.blockSignals(True)
            self.preset_box.setCurrentIndex(i)
            self.preset_box.blockSignals(False)
        self._render("preview")
        return True

    def reset_camera(self, azimuth: float = DEFAULT_AZIMUTH, elevation: float = DEFAULT_ELEVATION) -> None:
        """Face the patient (camera anterior, looking posterior), superior up, whole head in view;
        then turn by `azimuth` (degrees, negative = towards the patient's right) and `elevation`
        (positive = from above). The default is an anterior-oblique view from the right and above;
        (0, 0) is the straight anterior view (patient's right on the screen's left)."""
        if self._closed or self._actor is None:
            return
        b = self._bounds
        c = ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2)
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(*c)
        cam.SetPosition(c[0], c[1] + 1000.0, c[2])  # +y is anterior in RAS
        cam.SetViewUp(0.0, 0.0, 1.0)
        cam.Azimuth(azimuth)
        cam.Elevation(elevation)
        cam.OrthogonalizeViewUp()
        self.renderer.ResetCamera(b)
        cam.Zoom(1.25)  # ResetCamera fits the bounding sphere: generous for a box-shaped head
        self.renderer.ResetCameraClippingRange()
        self._render("preview")

    def set_cursor(self, zyx: tuple[int, int, int] | None) -> None:
        """Outline the axial plane through the cursor (voxel index on the volume's grid) around the
        head; None hides it. Scrolling through slices coalesces into one preview frame."""
        if self._closed:
            return
        self._cursor = tuple(int(v) for v in zyx) if zyx is not None and self._volume is not None else None
        if self._prep is None:  # drawn once the volume is prepared
            return
        self._set_plane_actor(self._outline(self._cursor) if self._cursor is not None else None)
        self._dirty = True
        self._soon.start()

    def set_cut(self, z: int | None) -> None:
        """Cut the render at axial slice `z` (voxel index), keeping what is inferior: look into the
        skull at that level (inner and outer table, skull base). None removes the cut."""
        if self._closed or self._actor is None:
            return
        from vtkmodules.vtkCommonDataModel import vtkPlane

        mapper = self._actor.GetMapper()
        mapper.RemoveAllClippingPlanes()
        self._cut = None
        if z is not None:
            nz = self._volume.shape[0]
            z = int(np.clip(z, 0, nz - 1))
            up = self._volume.affine[:3, 2] / np.linalg.norm(self._volume.affine[:3, 2])  # index z in RAS
            plane = vtkPlane()
            plane.SetOrigin(*self._volume.index_to_world((z, 0, 0)))
            plane.SetNormal(*(-up))  # VTK keeps the side the normal points to
            mapper.AddClippingPlane(plane)
            self._cut = z
        self._render("preview")

    @property
    def cut(self) -> int | None:
        return self._cut

    def bind(self, state) -> None:
        """Follow an `app.viewer.state.ViewerState`: its volume, and the cursor's axial plane."""
        state.volumeChanged.connect(lambda: (self.set_volume(state.volume), self.set_cursor(state.cursor)))
        state.cursorChanged.connect(lambda: self.set_cursor(state.cursor if state.volume is not None else None))
        if state.volume is not None:
            self.set_volume(state.volume)
            self.set_cursor(state.cursor)

    def render_to_array(self) -> np.ndarray:
        """The current render at full quality as RGB uint8 [h, w, 3] (top row first), read back from
        VTK's frame buffer; renders first if the frame on screen is not full quality, stale or resized."""
        if self._closed:
            raise RuntimeError("the 3D view is closed")
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

        win = self.vtk_widget.GetRenderWindow()
        if self._dirty or self._quality != "full" or tuple(win.GetSize()) != self._rendered_size:
            self._render("full", force=True)
        grab = vtkWindowToImageFilter()
        grab.SetInput(win)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.ShouldRerenderOff()
        grab.Update()
        out = grab.GetOutput()
        w, h, _ = out.GetDimensions()
        return vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3].copy()

    def render_to_qimage(self) -> QImage:
        rgb = np.ascontiguousarray(self.render_to_array())
        h, w, _ = rgb.shape
        return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()

    def paint_over(self, pixmap: QPixmap, root: QWidget) -> None:
        """Draw the real render onto `pixmap` (a `root.grab()`), where the VTK widget sits in `root`:
        QWidget.grab() cannot see the OpenGL surface and leaves that rectangle black or stale."""
        if self._closed or not self.vtk_widget.isVisible():
            return
        img = self.render_to_qimage()
        top_left = self.vtk_widget.mapTo(root, QPoint(0, 0))
        ratio = pixmap.devicePixelRatio() or 1.0
        size = self.vtk_widget.size()
        painter = QPainter(pixmap)
        painter.drawImage(top_left, img.scaled(int(size.width() * ratio), int(size.height() * ratio),
                                               Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
                          if img.width() != int(size.width() * ratio) else img)
        painter.end()

    def close(self) -> bool:  # noqa: A003  (QWidget.close, extended)
        """Release the VTK objects (render window finalised through the QVTK widget's own close),
        then close the widget. Safe to call twice."""
        self._release()
        return super().close()

    def closeEvent(self, event) -> None:  # noqa: N802
        self._release()
        super().closeEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._dirty:  # changed while hidden (1x1 layout): draw now, refine later
            self._soon.start()
        elif self._quality == "preview" and self._actor is not None:
            self._refine_timer.start()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """A resize makes QVTK repaint: let that be a preview frame, refined when the resizing stops."""
        if obj is self.vtk_widget and event.type() == QEvent.Resize and self._actor is not None:
            self._set_quality("preview")
            self._refine_timer.start()
        return False

    # -- internals ------------------------------------------------------------------------------
    def _visible(self) -> bool:
        return not self._closed and self.isVisible() and self.vtk_widget.isVisible()

    def _render(self, quality: str = "preview", force: bool = False) -> None:
        """Draw a frame now if the pane is visible (else remember to); a preview frame schedules the refine."""
        if self._closed or self._hold:
            return
        if not (force or self._visible()):
            self._dirty = True
            return
        self._soon.stop()
        self._set_quality(quality)
        win = self.vtk_widget.GetRenderWindow()
        win.Render()
        self._rendered_size = tuple(win.GetSize())
        self._dirty = False
        if self._actor is not None:
            if self.first_frame_s is None:
                self.first_frame_s = time.perf_counter() - self._t_open
                self.ready.emit()
            if quality != "preview":
                self._refine_timer.stop()
            else:
                self._refine_timer.start()

    def _refine(self) -> None:
        """The idle timer: the still-quality frame, unless hidden, closed or the volume is not there yet."""
        if self._closed or self._actor is None or not self._visible() or self._quality != "preview":
            return
        if self.software_gl is None:
            caps = self.vtk_widget.GetRenderWindow().ReportCapabilities() or ""
            line = next((ln for ln in caps.splitlines() if "renderer string" in ln.lower()), "")
            self.software_gl = any(name in line.lower() for name in SOFTWARE_GL)
            if self.software_gl:
                self._still_isd = max(self._still_isd, SOFTWARE_STILL_ISD)
        t0 = time.perf_counter()
        self._render("still")
        took = time.perf_counter() - t0
        if took > STILL_BUDGET_S:  # software OpenGL: fewer rays next time (time ~ 1 / distance^2)
            self._still_isd = min(2.0, self._still_isd * math.sqrt(took / STILL_BUDGET_S))
        self.refined.emit()

    def _set_quality(self, quality: str) -> None:
        self._quality = quality
        if self._actor is None:
            return
        mapper = self._actor.GetMapper()
        spacing = self._prep.image.GetSpacing()
        if quality in ("still", "full"):
            mapper.SetImageSampleDistance(self._still_isd if quality == "still" else 1.0)
            mapper.SetSampleDistance(0.66 * min(spacing))
        else:
            w, h = self.vtk_widget.GetRenderWindow().GetSize()
            mapper.SetImageSampleDistance(float(max(1.0, min(6.0, max(w, h) / PREVIEW_RAYS))))
            mapper.SetSampleDistance(1.5 * min(spacing))

    def _interacting(self, on: bool) -> None:
        if on:
            self._refine_timer.stop()
            self._set_quality("preview")
        else:
            self._refine_timer.start()  # VTK draws the release frame at preview quality; refine when idle

    def _on_render_start(self, *_args) -> None:
        self._t_render = time.perf_counter()

    def _on_render_end(self, *_args) -> None:
        if self._actor is not None:
            self.renders.append((self._quality, time.perf_counter() - self._t_render))

    def _on_prepared(self, p: Prepared) -> None:
        if self._closed or p.generation != self._generation:
            return  # another volume arrived meanwhile
        from vtkmodules.vtkRenderingCore import vtkVolume
        from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkOpenGLGPUVolumeRayCastMapper

        self._prep = p
        if self._mapper is None:  # one mapper for every volume: its shaders are built once
            self._mapper = vtkOpenGLGPUVolumeRayCastMapper()
            self._mapper.SetBlendModeToComposite()
            self._mapper.SetAutoAdjustSampleDistances(False)  # quality set explicitly: preview, then still when idle
        mapper = self._mapper
        mapper.RemoveAllClippingPlanes()
        mapper.SetInputData(p.image)
        actor = vtkVolume()
        actor.SetMapper(mapper)
        actor.SetUserMatrix(self._user_matrix(p.volume))
        self._actor = actor
        self._bounds = p.bounds
        names = presets_for(p.volume.modality)
        wanted = self._wanted
        self._preset = wanted if wanted in names else names[0]
        i = self.preset_box.findData(self._preset)
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(max(i, 0))
        self.preset_box.blockSignals(False)
        self.info.setText(self._info_text())
        if self._preset == "brain" and self._image_brain is None:
            self.info.setText("preparing 3D (brain)\u2026")
            return  # _on_brain shows it
        self._show_prepared()

    def _show_prepared(self) -> None:
        self._busy.SetVisibility(False)
        self.renderer.AddVolume(self._actor)
        self._hold = True
        try:
            self._apply_preset()
            self.reset_camera()
            if self._cursor is not None:
                self._set_plane_actor(self._outline(self._cursor))
        finally:
            self._hold = False
        self._render("preview")

    def _on_brain(self, generation: int, image) -> None:
        if self._closed or generation != self._generation:
            return
        self._image_brain = image
        if self._preset == "brain" and self._prep is not None:
            self.info.setText(self._info_text())
            if not self.renderer.HasViewProp(self._actor):
                self._show_prepared()
            else:
                self._apply_preset()
                self._render("preview")

    def _info_text(self) -> str:
        """Short enough for a narrow pane (the label is cut, never widens it); the whole story in the tooltip."""
        p = self._prep
        nz, ny, nx = p.vox.shape
        self.info.setToolTip(f"3D grid {nx} x {ny} x {nz} voxels"
                             + (f"; in-plane resolution 1/{p.stride} of the series (speed)" if p.stride > 1 else "")
                             + (f"; slices interpolated x{p.zf} (cubic)" if p.zf > 1 else ""))
        return f"{nx}x{ny}x{nz}" + (f" 1/{p.stride}" if p.stride > 1 else "")

    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self._generation or self._closed:
            return
        self.error = message
        self._busy.SetInput(f"3D not available:\n{message}")
        self.info.setText("3D failed")
        self._render("preview")
        self.failed.emit(message)

    def _forget(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        worker.deleteLater()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._refine_timer.stop()
        self._soon.stop()
        for w in list(self._workers):
            w.wait()  # a worker only computes (seconds at most); its late signals are ignored
        if self._actor is not None:
            self.renderer.RemoveVolume(self._actor)
        self._set_plane_actor(None)
        self._actor = self._mapper = self._prep = self._image_brain = self._volume = None
        self.vtk_widget.setUpdatesEnabled(False)
        self.vtk_widget.close()  # QVTK closeEvent -> render window Finalize, without a later repaint
        self.vtk_widget.hide()

    def _fill_box(self) -> None:
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        for name in self.presets():
            label = CT_PRESETS[name].label if name in CT_PRESETS else "MR (percentiles)"
            self.preset_box.addItem(label, name)
        self.preset_box.setEnabled(self._volume is not None)
        self.preset_box.blockSignals(False)

    def _on_preset_box(self, index: int) -> None:
        name = self.preset_box.itemData(index)
        if name and name != self._preset:
            self.set_preset(name)

    def _set_plane_actor(self, actor) -> None:
        if self._plane_actor is not None:
            self.renderer.RemoveActor(self._plane_actor)
        self._plane_actor = actor
        if actor is not None:
            self.renderer.AddActor(actor)

    def _outline(self, zyx: tuple[int, int, int]):
        """A thin rectangle in the axial plane through `zyx`, around the head (its in-plane box plus a
        small margin), not around the scanner's whole field of view."""
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        vol = self._volume
        nz, ny, nx = vol.shape
        y0, y1, x0, x1 = self._prep.box_yx
        my, mx = 0.04 * (y1 - y0 + 1), 0.04 * (x1 - x0 + 1)
        y0, y1 = max(0.0, y0 - my), min(ny - 1.0, y1 + my)
        x0, x1 = max(0.0, x0 - mx), min(nx - 1.0, x1 + mx)
        z = float(np.clip(zyx[0], 0, nz - 1))
        corners = [(z, y0, x0), (z, y0, x1), (z, y1, x1), (z, y1, x0)]
        ras = vol.index_to_world(np.array(corners, float))
        pts = vtkPoints()
        for p in ras:
            pts.InsertNextPoint(*p)
        lines = vtkCellArray()
        lines.InsertNextCell(5)
        for i in (0, 1, 2, 3, 0):
            lines.InsertCellPoint(i)
        poly = vtkPolyData()
        poly.SetPoints(pts)
        poly.SetLines(lines)
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(poly)
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(1.0, 0.85, 0.0)
        actor.GetProperty().SetLineWidth(2.0)
        actor.GetProperty().LightingOff()
        return actor

    @staticmethod
    def _user_matrix(volume: Volume):
        """Image coordinates (index x spacing, origin 0) -> RAS mm: the affine's direction cosines and
        origin. Handles oblique affines (MR) as well as the axis-aligned canonical CT grid."""
        from vtkmodules.vtkCommonMath import vtkMatrix4x4

        dz, dy, dx = volume.spacing
        m = volume.affine.copy()
        m[:3, 0] /= dx
        m[:3, 1] /= dy
        m[:3, 2] /= dz
        out = vtkMatrix4x4()
        for i in range(4):
            for j in range(4):
                out.SetElement(i, j, float(m[i, j]))
        return out

    def _apply_preset(self) -> None:
        """Transfer functions of the current preset on the current actor (and the brain image for 'brain')."""
        from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
        from vtkmodules.vtkRenderingCore import vtkColorTransferFunction, vtkVolumeProperty

        p: Preset3D = self._prep.mr if self._preset == "mr" else CT_PRESETS[self._preset]
        if p.intracranial and self._volume.modality == "CT" and self._image_brain is None:
            self.info.setText("preparing 3D (brain)\u2026")  # the worker is still on it: _on_brain applies it
            return
        color = vtkColorTransferFunction()
        for v, r, g, b in p.colors:
            color.AddRGBPoint(float(v), r, g, b)
        opacity = vtkPiecewiseFunction()
        for v, a in p.opacity:
            opacity.AddPoint(float(v), a)
        prop = vtkVolumeProperty()
        prop.SetColor(color)
        prop.SetScalarOpacity(opacity)
        prop.SetScalarOpacityUnitDistance(max(1.0, min(self._volume.spacing[1:]) * self._prep.stride))
        if p.gradient:
            grad = vtkPiecewiseFunction()
            for g, a in p.gradient:
                grad.AddPoint(float(g), a)
            prop.SetGradientOpacity(grad)
        prop.SetInterpolationTypeToLinear()
        prop.ShadeOn()
        prop.SetAmbient(p.ambient)
        prop.SetDiffuse(p.diffuse)
        prop.SetSpecular(p.specular)
        prop.SetSpecularPower(p.specular_power)
        self.info.setText(self._info_text())
        mapper = self._actor.GetMapper()
        if p.intracranial and self._volume.modality == "CT":
            mapper.SetInputData(self._image_brain)
        else:
            mapper.SetInputData(self._prep.image)
        self._actor.SetProperty(prop)
        self._set_quality(self._quality)
