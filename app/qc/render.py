"""3-D surface of what a skull strip kept, rendered by VTK offscreen and seen from the front (where a
kept face shows). Lives in app/ because core/ has no VTK; returns an RGB array for any widget."""

from __future__ import annotations

import numpy as np

from core.volume import Volume


def render_front(volume: Volume, size: int = 320, step: int = 2) -> np.ndarray:
    """RGB uint8 [size, size, 3]: iso-surface of the kept mask, camera anterior, superior up."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D
    from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer, vtkRenderWindow, vtkWindowToImageFilter
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL backend)

    from scipy import ndimage

    kept = (volume.voxels[::step, ::step, ::step] > 0).astype(np.float32)  # [z, y, x]
    kept = ndimage.gaussian_filter(np.pad(kept, 2), 1.0)  # smooth the voxel staircase
    dz, dy, dx = volume.spacing
    img = vtkImageData()
    img.SetDimensions(kept.shape[2], kept.shape[1], kept.shape[0])  # VTK x fastest = our x
    img.SetSpacing(dx * step, dy * step, dz * step)
    img.GetPointData().SetScalars(numpy_to_vtk(kept.ravel(), deep=True))
    surf = vtkFlyingEdges3D()
    surf.SetInputData(img)
    surf.SetValue(0, 0.5)
    mapper = vtkPolyDataMapper()
    mapper.SetInputConnection(surf.GetOutputPort())
    mapper.ScalarVisibilityOff()
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(0.93, 0.85, 0.78)
    ren = vtkRenderer()
    ren.AddActor(actor)
    ren.SetBackground(0.08, 0.08, 0.1)
    win = vtkRenderWindow()
    win.SetOffScreenRendering(1)
    win.SetSize(size, size)
    win.AddRenderer(ren)
    cam = ren.GetActiveCamera()
    b = actor.GetBounds()
    c = ((b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2)
    cam.SetFocalPoint(*c)
    cam.SetPosition(c[0], c[1] + 1000, c[2])  # +y is anterior (RAS): look at the face
    cam.SetViewUp(0, 0, 1)
    ren.ResetCamera()
    win.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(win)
    grab.Update()
    out = grab.GetOutput()
    w, h, _ = out.GetDimensions()
    rgb = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3].copy()
    win.Finalize()
    return rgb
