"""The 3D pane: VTK volume rendering of a `core.volume.Volume` inside Qt, in patient space (RAS mm),
seen from the front (anterior view, superior up) like a radiologist's 3D reformat.

Headless notes (DESIGN.md section 4): under `QT_QPA_PLATFORM=offscreen` the VTK Qt widget renders
garbage unless VTK draws with OSMesa, so this module selects `vtkOSOpenGLRenderWindow` itself when Qt
runs offscreen (before the render window exists). Under Xvfb/xcb and on a desktop it uses the normal
on-screen window. A QVTK widget may come out black in `QWidget.grab()`: use `render_to_array()` or
`paint_over()` to put the real render into screenshots.
"""

from __future__ import annotations

import math
import os

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.viewer.presets3d import CT_PRESETS, Preset3D, brain_and_skull_mask, mr_preset, presets_for, upsample_z, z_factor
from core.volume import Volume

ALL_PRESETS = (*CT_PRESETS, "mr")
MAX_RENDER_DIM = 256  # in-plane voxels handed to the renderer; larger volumes are strided (speed)
STILL_UPDATE_RATE = 0.0001  # frames/s asked for when still: full quality (~1 fps in software)
INTERACTIVE_UPDATE_RATE = 10.0  # frames/s asked for while dragging: VTK lowers sampling to get there


def _select_gl_backend() -> None:
    """Offscreen Qt cannot host an X/WGL OpenGL window: let VTK draw with OSMesa instead."""
    app = QGuiApplication.instance()
    platform = app.platformName() if app is not None else os.environ.get("QT_QPA_PLATFORM", "")
    if platform == "offscreen":
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")


def render_stride(shape_zyx: tuple[int, int, int], max_dim: int = MAX_RENDER_DIM) -> int:
    """Integer in-plane stride so that y and x fit in `max_dim` (z is kept: CT slices are thick)."""
    return max(1, math.ceil(max(shape_zyx[1], shape_zyx[2]) / max_dim))


class VolumeView3D(QWidget):
    """Volume rendering pane. Call `set_volume`, `set_preset`, `reset_camera`; `close()` releases VTK.

    Optional: `set_cursor((z, y, x))` outlines that axial plane in the render (off with None)."""

    def __init__(self, parent: QWidget | None = None, show_controls: bool = True) -> None:
        super().__init__(parent)
        _select_gl_backend()
        import vtkmodules.qt

        vtkmodules.qt.PyQtImpl = "PySide6"
        import vtkmodules.vtkInteractionStyle  # noqa: F401  (registers the trackball style)
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL backend)
        import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (GPU ray cast for the smart mapper)
        from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
        from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
        from vtkmodules.vtkRenderingCore import vtkRenderer

        self._closed = False
        self._volume: Volume | None = None
        self._preset: str | None = None
        self._image = None  # vtkImageData of the (strided) voxels
        self._image_brain = None  # same grid, only the intracranial voxels (CT brain preset), lazy
        self._actor = None
        self._plane_actor = None
        self._bounds: tuple[float, ...] = (0, 1, 0, 1, 0, 1)
        self._stride = 1
        self._wanted: str | None = None  # last preset asked for (kept across volumes)
        self._hold = False  # True while set_volume batches changes into one render
        self._cut: int | None = None
        self._rendered_size: tuple[int, ...] = ()
        self._zf = 1  # new slices per original slice (cubic in z for thick slices)
        self._vox: np.ndarray | None = None  # the voxels handed to VTK

        self.vtk_widget = QVTKRenderWindowInteractor(self)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        win = self.vtk_widget.GetRenderWindow()
        win.AddRenderer(self.renderer)
        win.SetDesiredUpdateRate(STILL_UPDATE_RATE)
        iren = win.GetInteractor()
        iren.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        iren.SetDesiredUpdateRate(INTERACTIVE_UPDATE_RATE)  # used while a button is down
        iren.SetStillUpdateRate(STILL_UPDATE_RATE)  # used for the final frame after release
        iren.Initialize()

        self.preset_box = QComboBox()
        self.preset_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.preset_box.setMinimumContentsLength(16)
        self.preset_box.currentIndexChanged.connect(self._on_preset_box)
        reset = QPushButton("Reset view")
        reset.setToolTip("Anterior view, superior up")
        reset.clicked.connect(lambda: self.reset_camera())
        self.info = QLabel("")
        self.info.setStyleSheet("color: #aaa")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("3D"))
        bar.addWidget(self.preset_box)
        bar.addWidget(reset)
        bar.addStretch(1)
        bar.addWidget(self.info)
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
        return self._stride

    def set_volume(self, volume: Volume | None, preset: str | None = None) -> None:
        """Show `volume` (None clears) with `preset`, else the last preset asked for if this volume
        offers it, else its first preset (CT: bone). Large volumes are strided in-plane to <= MAX_RENDER_DIM voxels;
        thick slices get cubic-interpolated slices in between (see presets3d.upsample_z)."""
        if self._closed:
            return
        from vtkmodules.vtkRenderingCore import vtkVolume
        from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

        if self._actor is not None:
            self.renderer.RemoveVolume(self._actor)
            self._actor = None
        self._set_plane_actor(None)
        self._cut = None
        self._volume, self._image, self._image_brain, self._vox = volume, None, None, None
        if volume is None:
            self._preset = None
            self.info.setText("")
            self._fill_box()
            self._render()
            return
        self._stride = s = render_stride(volume.shape)
        self._zf = z_factor(volume.spacing, s)
        self._vox = vox = upsample_z(volume.voxels[:, ::s, ::s], self._zf)
        self._image = self._to_vtk(vox)
        mapper = vtkSmartVolumeMapper()
        mapper.SetInputData(self._image)
        mapper.SetBlendModeToComposite()
        mapper.SetInteractiveAdjustSampleDistances(True)
        mapper.SetAutoAdjustSampleDistances(True)
        actor = vtkVolume()
        actor.SetMapper(mapper)
        actor.SetUserMatrix(self._user_matrix(volume, s))
        self._actor = actor
        self.renderer.AddVolume(actor)
        self._bounds = self._content_bounds(volume, actor)
        names = presets_for(volume.modality)
        self._preset = None
        self._fill_box()
        wanted = preset or self._wanted
        self._hold = True  # one render at the end, not one per step
        try:
            self.set_preset(wanted if wanted in names else names[0])
            self._wanted = wanted or self._wanted  # an MR's 'mr' does not replace a CT preference
            self.reset_camera()
        finally:
            self._hold = False
        nz, ny, nx = vox.shape
        self.info.setText(f"{nx}x{ny}x{nz}" + (f" (1/{s} in-plane)" if s > 1 else "") + (f" (z x{self._zf} cubic)" if self._zf > 1 else ""))
        self._render()

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
        if self._actor is not None and self._volume is not None:
            p = mr_preset(self._image_voxels()) if name == "mr" else CT_PRESETS[name]
            self._apply(p)
        i = self.preset_box.findData(name)
        if i >= 0 and i != self.preset_box.currentIndex():
            self.preset_box.blockSignals(True)
            self.preset_box.setCurrentIndex(i)
            self.preset_box.blockSignals(False)
        self._render()
        return True

    def reset_camera(self, azimuth: float = 0.0, elevation: float = 0.0) -> None:
        """Face the patient (camera anterior, looking posterior), superior up, whole head in view;
        then turn by `azimuth` (degrees, positive = towards the patient's left) and `elevation`."""
        if self._closed or self._actor is None:
            return
        b = self._bounds
        c = ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2)
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(*c)
        cam.SetPosition(c[0], c[1] + 1000.0, c[2])  # +y is anterior in RAS
        cam.SetViewUp(0.0, 0.0, 1.0)
        self.renderer.ResetCamera(b)
        cam.Zoom(1.25)  # ResetCamera fits the bounding sphere: generous for a box-shaped head
        cam.Azimuth(azimuth)
        cam.Elevation(elevation)
        cam.OrthogonalizeViewUp()
        self.renderer.ResetCameraClippingRange()
        self._render()

    def set_cursor(self, zyx: tuple[int, int, int] | None) -> None:
        """Outline the axial plane through the cursor (voxel index on the volume's grid); None hides it."""
        if self._closed or self._volume is None or zyx is None:
            self._set_plane_actor(None)
            self._render()
            return
        from vtkmodules.vtkCommonCore import vtkPoints
        from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
        from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

        nz, ny, nx = self._volume.shape
        z = float(np.clip(zyx[0], 0, nz - 1))
        corners = [(z, 0, 0), (z, 0, nx - 1), (z, ny - 1, nx - 1), (z, ny - 1, 0)]
        ras = self._volume.index_to_world(np.array(corners, float))
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
        self._set_plane_actor(actor)
        self._render()

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
        self._render()

    @property
    def cut(self) -> int | None:
        return self._cut

    def bind(self, state) -> None:
        """Follow an `app.viewer.state.ViewerState`: its volume, and the cursor's axial plane."""
        state.volumeChanged.connect(lambda: self.set_volume(state.volume))
        state.cursorChanged.connect(lambda: self.set_cursor(state.cursor if state.volume is not None else None))
        if state.volume is not None:
            self.set_volume(state.volume)
            self.set_cursor(state.cursor)

    def render_to_array(self) -> np.ndarray:
        """The current render as RGB uint8 [h, w, 3] (top row first), read back from VTK's frame buffer.
        Every change here renders at once, and so does the interactor, so the buffer is current
        unless the widget was resized since (then it renders again)."""
        if self._closed:
            raise RuntimeError("the 3D view is closed")
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

        win = self.vtk_widget.GetRenderWindow()
        if tuple(win.GetSize()) != self._rendered_size:  # resized since: the buffer is stale
            self._render()
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

    # -- internals ------------------------------------------------------------------------------
    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._actor is not None:
            self.renderer.RemoveVolume(self._actor)
        self._set_plane_actor(None)
        self._actor = self._image = self._image_brain = self._volume = self._vox = None
        self.vtk_widget.setUpdatesEnabled(False)
        self.vtk_widget.close()  # QVTK closeEvent -> render window Finalize, without a later repaint
        self.vtk_widget.hide()

    def _render(self) -> None:
        if not self._closed and not self._hold:
            win = self.vtk_widget.GetRenderWindow()
            win.Render()
            self._rendered_size = tuple(win.GetSize())

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

    def _image_voxels(self) -> np.ndarray:
        return self._vox

    def _brain_voxels(self) -> np.ndarray:
        """Bone and intracranial voxels (the rest air) on the display grid, from the original slices
        (nearest in z, a light in-plane blur against noise): the terrace smoothing of `upsample_z`
        would spread the skull's HU inwards into the 50-90 HU of acute blood."""
        from scipy import ndimage

        s = self._stride
        raw = self._volume.voxels[:, ::s, ::s]
        keep = brain_and_skull_mask(raw)
        smooth = ndimage.gaussian_filter(raw, sigma=(0, 0.7, 0.7))
        nearest = np.minimum(np.rint(np.arange(self._vox.shape[0]) / self._zf).astype(int), raw.shape[0] - 1)
        return np.where(keep[nearest], smooth[nearest], np.float32(-1024.0)).astype(np.float32)

    def _to_vtk(self, vox: np.ndarray):
        from vtkmodules.util.numpy_support import numpy_to_vtk
        from vtkmodules.vtkCommonDataModel import vtkImageData

        dz, dy, dx = self._volume.spacing
        s = self._stride
        img = vtkImageData()
        img.SetDimensions(vox.shape[2], vox.shape[1], vox.shape[0])  # VTK x fastest = our x
        img.SetSpacing(dx * s, dy * s, dz / self._zf)
        img.SetOrigin(0.0, 0.0, 0.0)
        img.GetPointData().SetScalars(numpy_to_vtk(np.ascontiguousarray(vox, np.float32).ravel(), deep=True))
        return img

    @staticmethod
    def _content_bounds(volume: Volume, actor) -> tuple[float, ...]:
        """RAS bounds of what is not background (CT: above -500 HU; MR: above the 5th percentile), so
        the reset camera frames the head rather than the scanner's field of view."""
        v = volume.voxels[:, ::4, ::4]
        thr = -500.0 if volume.modality == "CT" else float(np.percentile(v, 60))
        idx = np.argwhere(v > thr)
        if idx.size == 0:
            return actor.GetBounds()
        lo, hi = idx.min(axis=0) * (1, 4, 4), idx.max(axis=0) * (1, 4, 4) + (0, 3, 3)
        corners = np.array([(z, y, x) for z in (lo[0], hi[0]) for y in (lo[1], hi[1]) for x in (lo[2], hi[2])], float)
        ras = volume.index_to_world(corners)
        mn, mx = ras.min(axis=0), ras.max(axis=0)
        return (mn[0], mx[0], mn[1], mx[1], mn[2], mx[2])

    @staticmethod
    def _user_matrix(volume: Volume, stride: int):
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

    def _apply(self, p: Preset3D) -> None:
        from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
        from vtkmodules.vtkRenderingCore import vtkColorTransferFunction, vtkVolumeProperty

        color = vtkColorTransferFunction()
        for v, r, g, b in p.colors:
            color.AddRGBPoint(float(v), r, g, b)
        opacity = vtkPiecewiseFunction()
        for v, a in p.opacity:
            opacity.AddPoint(float(v), a)
        prop = vtkVolumeProperty()
        prop.SetColor(color)
        prop.SetScalarOpacity(opacity)
        prop.SetScalarOpacityUnitDistance(max(1.0, min(self._volume.spacing[1:]) * self._stride))
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
        mapper = self._actor.GetMapper()
        if p.intracranial and self._volume.modality == "CT":
            if self._image_brain is None:
                self._image_brain = self._to_vtk(self._brain_voxels())
            mapper.SetInputData(self._image_brain)
        else:
            mapper.SetInputData(self._image)
        self._actor.SetProperty(prop)
