"""Issue 15's reading tools in a real window (offscreen/Xvfb): corner text from the header (normal and
anonymised), ROI statistics against numpy, measurements that survive close and reopen, CSV export,
slab MIP against numpy, linear through-slice interpolation, the tag viewer and the secondary capture."""

from __future__ import annotations

import csv
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from app.viewer import measure
from app.viewer.planes import extract_slab, plane, upsample_factors
from core.io import load
from tests.app.viewer.qt_helpers import click, drag, show_active
from tests.core.io.dicom_factory import phantom_hu, write_ct_series


@pytest.fixture
def header_series(tmp_path):
    """A small CT series whose headers carry every corner-text fact and one sequence."""
    folder = tmp_path / "series"
    paths = write_ct_series(folder, phantom_hu(12, 64, 64), slice_mm=5.0, pixel_mm=0.5)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.PatientName = "Doe^Jane"
        ds.PatientAge, ds.PatientSex = "067Y", "F"
        ds.StudyDate = "20240315"
        ds.KVP = 120
        ds.ConvolutionKernel = "H30s"
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "24727-0", "LN", "CT HEAD WO CONTRAST"
        ds.ProcedureCodeSequence = Sequence([item])
        ds.save_as(p, enforce_file_format=True)
    return folder


@pytest.fixture
def make_viewer(qtbot, tmp_path):
    """Windows sharing one settings folder (and so one measurement database), like two sessions of a user."""
    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings

    made = []

    def make():
        win = ViewerWindow(settings=ViewerSettings(tmp_path / "home" / "viewer.ini"), layout="2x2", panels=False,
                           view3d=False)
        qtbot.addWidget(win)
        win.resize(1200, 900)
        show_active(qtbot, win)
        made.append(win)
        return win

    yield make
    for w in made:
        w.close()


def open_volume(win, volume, qtbot):
    win.set_volume(volume)
    win.finish_loading()
    qtbot.wait(10)


def test_corner_text_from_the_header_and_anonymised(make_viewer, header_series, qtbot):
    win = make_viewer()
    vol = load(header_series)
    open_volume(win, vol, qtbot)
    win.state.set_cursor(z=4)
    ax = win.views["axial"]
    text = " ".join(ax.labels[k].text() for k in ("tl", "tr", "bl"))
    for expected in ("Image 5 of 12", "Doe Jane", "ID TEST-001", "067Y F", "Study 2024-03-15", "HEAD 5mm",
                     "Thk 5 mm", "120 kVp", "Kernel H30s"):
        assert expected in text, expected
    QTest.keyClick(win, Qt.Key_T, Qt.ShiftModifier)  # anonymised: no patient lines, the rest stays
    text = " ".join(ax.labels[k].text() for k in ("tl", "tr", "bl"))
    assert "Doe" not in text and "TEST-001" not in text and "067Y" not in text
    assert "Image 5 of 12" in text and "Kernel H30s" in text
    assert win.settings.anonymised  # remembered for the next session
    QTest.keyClick(win, Qt.Key_T)  # hide all corner text
    assert not ax.labels["tl"].isVisible() and not ax.labels["tr"].isVisible()
    QTest.keyClick(win, Qt.Key_T)
    assert ax.labels["tl"].isVisible()


def test_corner_fields_are_configurable(make_viewer, header_series, qtbot):
    win = make_viewer()
    win.settings.set_corner_fields("tr", ["kvp", "window"])
    win.state.set_corner(fields=win.settings.corner_fields)
    open_volume(win, load(header_series), qtbot)
    tr = win.views["axial"].labels["tr"].text()
    assert tr.startswith("120 kVp") and "W 80" in tr and "Doe" not in tr


def test_a_narrow_pane_gets_short_corner_text_that_does_not_overlap(make_viewer, header_series, qtbot):
    """The reading window's coronal and sagittal panes are about 225 px wide at 1400 px: the corner text takes its
    short forms there, and the orientation letters move clear of it; a wide pane keeps the long forms."""
    from app.viewer.slice_view import COMPACT_WIDTH

    win = make_viewer()
    win.settings.set_corner_fields("tr", ["window", "preset"])
    win.state.set_corner(fields=win.settings.corner_fields, anonymised=True)
    open_volume(win, load(header_series), qtbot)
    view = win.views["coronal"]
    view.setParent(None)  # out of the layout, so that its size is ours to set
    view.resize(COMPACT_WIDTH + 200, 300)
    view.show()
    qtbot.waitUntil(lambda: view.width() >= COMPACT_WIDTH)
    assert "Image " in view.labels["tl"].text() and "W 80  L 40" in view.labels["tr"].text()
    vol = win.state.volume
    win.state.set_overlay(kind="gradcam", label="intraventricular", data=np.zeros(vol.shape, np.float32))  # a long bottom-right line
    view.resize(220, 300)
    qtbot.waitUntil(lambda: view.width() < COMPACT_WIDTH)
    assert "Grad-CAM: intraventricular" in view.labels["br"].text()
    tl, tr = view.labels["tl"].text(), view.labels["tr"].text()
    assert "Image " not in tl and "/" in tl and "W80 L40" in tr, (tl, tr)
    geo = {k: view.labels[k].geometry() for k in ("tl", "tr", "bl", "br", "top", "bottom") if view.labels[k].isVisible()}
    for a in geo:
        for b in geo:
            if a < b:
                assert not geo[a].intersects(geo[b]), (a, b, geo[a], geo[b])
    view.close()


def test_roi_statistics_equal_numpy_on_a_known_region():
    rng = np.random.default_rng(3)
    vox = rng.normal(40, 10, size=(6, 80, 100)).astype(np.float32)
    aff = np.diag([0.5, 0.8, 2.0, 1.0])  # x 0.5 mm, y 0.8 mm, z 2 mm
    p = plane(aff, vox.shape, "axial")
    img = p.extract(vox, 3)  # display [rows, cols], flipped radiologically
    rows, cols = np.mgrid[0:p.n_rows, 0:p.n_cols]
    cx, cy = (cols + 0.5) * p.col_mm, (rows + 0.5) * p.row_mm
    # ellipse centred at (20, 30) mm, semi-axes 8 x 5 mm
    a = measure.make("ellipse", p, vox, 3, [(12, 25), (28, 35)], [])
    inside = ((cx - 20) / 8) ** 2 + ((cy - 30) / 5) ** 2 <= 1
    v = img[inside].astype(np.float64)
    s = a.stats
    assert s["n"] == inside.sum() > 100
    assert s["mean"] == pytest.approx(v.mean(), rel=1e-9) and s["sd"] == pytest.approx(v.std(ddof=1), rel=1e-9)
    assert (s["min"], s["max"]) == (pytest.approx(v.min()), pytest.approx(v.max()))
    assert s["area_mm2"] == pytest.approx(inside.sum() * 0.5 * 0.8)
    assert s["area_mm2"] == pytest.approx(np.pi * 8 * 5, rel=0.05)  # and close to the true ellipse area
    # freehand: a right triangle with legs along the axes
    tri = [(10.1, 10.1), (40.1, 10.1), (10.1, 40.1)]  # off the pixel centres: no boundary ties
    f = measure.make("freehand", p, vox, 3, tri, [a])
    inside = (cx > 10.1) & (cy > 10.1) & (cx + cy < 50.2)
    assert f.stats["n"] == inside.sum()
    assert f.stats["mean"] == pytest.approx(img[inside].astype(np.float64).mean(), rel=1e-9)
    assert f.label == "F1" and a.label == "E1"
    assert measure.make("angle", p, vox, 3, [(10, 0), (0, 0), (0, 10)], []).stats["angle_deg"] == pytest.approx(90)


def test_slab_mip_minip_avg_equal_numpy_over_the_slab(demo_volume):
    vox = demo_volume.voxels
    ax = plane(demo_volume.affine, vox.shape, "axial")
    dz = demo_volume.spacing[0]  # 5 mm: a 10 mm slab is 2 slices, 15 mm is 3
    for mm, n in ((10.0, 2), (15.0, 3)):
        for mode, fn in (("mip", np.max), ("minip", np.min), ("avg", np.mean)):
            z = 12
            start = z - (n - 1) // 2
            want = ax.extract(fn(vox[start:start + n], axis=0, keepdims=True), 0)
            np.testing.assert_allclose(extract_slab(ax, vox, z, mm, mode), want, rtol=1e-6, err_msg=f"{mode} {mm}")
    assert round(10.0 / dz) == 2
    # coronal: the slab runs along y (0.46 mm voxels): 10 mm = 22 slices
    cor = plane(demo_volume.affine, vox.shape, "coronal")
    n = int(np.ceil(10.0 / cor.slice_mm - 0.01))  # the fewest slices covering 10 mm
    want = cor.extract(vox[:, 250 - (n - 1) // 2: 250 - (n - 1) // 2 + n].max(axis=1, keepdims=True), 0)
    np.testing.assert_array_equal(extract_slab(cor, vox, 250, 10.0, "mip"), want)
    # at the edge the slab shifts inside the volume instead of shrinking
    np.testing.assert_array_equal(extract_slab(ax, vox, 0, 15.0, "mip"), ax.extract(vox[0:3].max(axis=0, keepdims=True), 0))


def test_slab_keys_show_the_mip_on_screen(make_viewer, demo_volume, qtbot):
    win = make_viewer()
    open_volume(win, demo_volume, qtbot)
    win.state.set_cursor(z=12)
    QTest.keyClick(win, Qt.Key_S)  # MIP, 10 mm
    assert (win.state.mpr.slab_mode, win.state.mpr.slab_mm) == ("mip", 10.0)
    ax = win.views["axial"]
    np.testing.assert_array_equal(ax.image.image, ax.plane.extract(demo_volume.voxels[12:14].max(axis=0, keepdims=True), 0))
    assert "MIP 10.0 mm (2 slices)" in ax.labels["tl"].text()
    QTest.keyClick(win, Qt.Key_BracketRight)
    assert win.state.mpr.slab_mm == 15.0
    for mode in ("minip", "avg"):
        QTest.keyClick(win, Qt.Key_S)
        assert win.state.mpr.slab_mode == mode
    QTest.keyClick(win, Qt.Key_S)
    assert win.state.mpr.slab_mm == 0
    np.testing.assert_array_equal(ax.image.image, ax.plane.extract(demo_volume.voxels, 12))


def test_linear_interpolation_through_slices(make_viewer, demo_volume, qtbot):
    win = make_viewer()
    open_volume(win, demo_volume, qtbot)
    cor = win.views["coronal"]
    p = cor.plane
    kr, kc = upsample_factors(p)
    assert kc == 1 and kr == round(p.row_mm / p.col_mm) > 5  # 5 mm slices over 0.45 mm pixels
    raw = p.extract(demo_volume.voxels, win.state.cursor[1])
    shown = cor.image.image
    assert shown.shape == (raw.shape[0] * kr, raw.shape[1])
    # display row centres: raw rows sit at sub-rows (k + 0.5) * kr - 0.5; between them values are linear blends
    r = 10
    t = ((np.arange(kr) + 0.5) / kr - 0.5)  # fractional source positions of raw row r's sub-rows
    for j, tj in enumerate(t):
        lo, hi = (r - 1, r) if tj < 0 else (r, r + 1)
        w = tj + 1 if tj < 0 else tj
        np.testing.assert_allclose(shown[r * kr + j], raw[lo] * (1 - w) + raw[hi] * w, rtol=1e-5, atol=1e-3)
    # the same mm geometry: widget positions of voxels do not move
    before = cor.widget_pos((5, 256, 100))
    QTest.keyClick(win, Qt.Key_N)  # nearest
    assert win.state.mpr.interp == "nearest"
    np.testing.assert_array_equal(cor.image.image, raw)
    assert cor.widget_pos((5, 256, 100)) == before and "nearest" in cor.labels["tl"].text()


def draw_ellipse(win, qtbot, zyx0, zyx1) -> None:
    ax = win.views["axial"]
    QTest.keyClick(win, Qt.Key_E)
    assert win.state.tool == "ellipse"
    drag(qtbot, ax, ax.widget_pos(zyx0), ax.widget_pos(zyx1), Qt.LeftButton)


def test_measurements_survive_close_and_reopen_and_export_csv(make_viewer, demo_volume, qtbot, tmp_path):
    win = make_viewer()
    open_volume(win, demo_volume, qtbot)
    win.set_active("axial")
    win.state.set_cursor(z=15)
    draw_ellipse(win, qtbot, (15, 280, 180), (15, 320, 240))
    QTest.keyClick(win, Qt.Key_M)
    ax = win.views["axial"]
    drag(qtbot, ax, ax.widget_pos((15, 250, 150)), ax.widget_pos((15, 250, 350)), Qt.LeftButton)
    QTest.keyClick(win, Qt.Key_K)
    for zyx in ((15, 200, 200), (15, 250, 250), (15, 200, 300)):
        click(qtbot, ax, ax.widget_pos(zyx))
    QTest.keyClick(win, Qt.Key_Escape)
    anns = win.state.annotations
    assert [a.label for a in anns] == ["E1", "R1", "A1"]
    roi = anns[0]
    # the ROI's numbers are those of numpy over the voxels whose centres lie in the drawn ellipse
    mask = measure.ellipse_mask(ax.plane, roi.points[0], roi.points[-1])
    v = ax.plane.extract(demo_volume.voxels, 15)[mask].astype(np.float64)
    assert roi.stats["n"] == mask.sum() > 500 and roi.stats["mean"] == pytest.approx(v.mean())
    assert anns[2].stats["angle_deg"] == pytest.approx(90, abs=2)
    assert win.measure_panel.table.rowCount() == 3 and "mean" in win.measure_panel.table.item(0, 3).text()
    out = tmp_path / "m.csv"
    assert measure.write_csv(anns, str(out)) == 3
    rows = list(csv.DictReader(out.open()))
    assert [r["label"] for r in rows] == ["E1", "R1", "A1"] and rows[0]["image"] == "16"
    assert float(rows[0]["mean"]) == pytest.approx(roi.stats["mean"], rel=1e-5)
    win.close()
    # a new session: the same series gets its marks back, drawn on their slice
    win2 = make_viewer()
    open_volume(win2, demo_volume, qtbot)
    assert [(a.label, a.points) for a in win2.state.annotations] == [(a.label, a.points) for a in anns]
    assert win2.state.annotations[0].stats["mean"] == pytest.approx(roi.stats["mean"])
    win2.state.set_cursor(z=15)
    assert len(win2.views["axial"].annotations_here()) == 3 and win2.views["axial"]._ann_items
    win2.state.remove_annotation(win2.state.annotations[1].id)  # deleting is stored too
    win2.close()
    win3 = make_viewer()
    open_volume(win3, demo_volume, qtbot)
    assert [a.label for a in win3.state.annotations] == ["E1", "A1"]


def test_tag_viewer_searches_and_expands_sequences(make_viewer, header_series, qtbot):
    win = make_viewer()
    open_volume(win, load(header_series), qtbot)
    win.state.set_cursor(z=3)
    QTest.keyClick(win, Qt.Key_I)
    tv = win.tag_viewer
    assert tv is not None and tv.isVisible() and "image 4 of 12" in tv.title.text()
    assert "IM0004.dcm" in tv.title.text()  # the file of that slice
    tv.search.setText("0018,0050")
    assert [(t, v) for t, _n, v in tv.visible_rows()] == [("(0018,0050)", "5.0")]
    n = tv.apply_filter("CT HEAD WO")  # a value inside a sequence: the sequence opens to show it
    assert n == 1
    names = [name for _t, name, _v in tv.visible_rows()]
    assert names == ["Procedure Code Sequence", "Item 1", "Code Meaning"]
    seq = tv.tree.findItems("Procedure Code Sequence", Qt.MatchExactly, 1)[0]
    assert seq.isExpanded() and seq.childCount() == 1
    tv.search.setText("")
    assert len(tv.visible_rows()) > 30


def test_tag_viewer_shows_nifti_header_fields(make_viewer, mri_volume, qtbot):
    win = make_viewer()
    open_volume(win, mri_volume, qtbot)
    tv = win.show_tags()
    assert "NIfTI header" in tv.title.text()
    fields = {name: value for _t, name, value in tv.visible_rows()}
    assert {"dim", "pixdim", "qform_code", "sform_code", "srow_x"} <= set(fields)


def test_view_exports_a_valid_secondary_capture(make_viewer, header_series, qtbot, tmp_path):
    win = make_viewer()
    src = load(header_series)
    open_volume(win, src, qtbot)
    win.state.set_cursor(z=6)
    ax = win.views["axial"]
    QTest.keyClick(win, Qt.Key_M)
    drag(qtbot, ax, ax.widget_pos((6, 20, 10)), ax.widget_pos((6, 20, 50)), Qt.LeftButton)
    dcm, png = win.export_view(tmp_path / "sc" / "view.dcm")
    assert png.exists() and dcm.exists()
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools, scripts/setup.sh APT_TEST) is not installed")
    res = subprocess.run(["dciodvfy", str(dcm)], capture_output=True, text=True, timeout=60)
    report = res.stdout + res.stderr
    assert "SCImage" in report and "Error" not in report, report
    ds = pydicom.dcmread(dcm)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and ds.BurnedInAnnotation == "YES"
    orig = pydicom.dcmread(src.ids.files[0], stop_before_pixels=True)
    for name in ("PatientName", "PatientID", "PatientAge", "PatientSex", "StudyInstanceUID", "StudyDate"):
        assert ds.data_element(name).value == orig.data_element(name).value, name
    assert ds.SeriesInstanceUID != orig.SeriesInstanceUID
    rgb = ds.pixel_array
    assert rgb.shape == (ax.height(), ax.width(), 3)
    # burned in: the window (grey head), the ruler (cyan) and the corner text (light grey) are in the pixels
    from tests.app.viewer.qt_helpers import grab_rgb

    np.testing.assert_array_equal(rgb, grab_rgb(ax))
    cyan = (rgb[..., 2] > 200) & (rgb[..., 1] > 170) & (rgb[..., 0] < 120)
    assert cyan.sum() > 50


def test_roi_on_the_real_tilted_ge_ct(make_viewer, qtbot, shared_data):
    """The real GE CT (tilted, resampled): an ROI in brain parenchyma reads brain-like HU."""
    win = make_viewer()
    vol = load(shared_data / "ct-ge-head-tilt")
    open_volume(win, vol, qtbot)
    z = vol.shape[0] // 2
    win.state.set_cursor(z=z)
    draw_ellipse(win, qtbot, (z, 300, 300), (z, 330, 340))
    a = win.state.annotations[-1]
    assert 15 < a.stats["mean"] < 60 and a.stats["area_mm2"] > 50
    tl = win.views["axial"].labels["tl"].text()
    assert f"Image {z + 1} of {vol.shape[0]}" in tl


def test_secondary_capture_of_a_nifti_view_gets_its_own_study(tmp_path):
    """No DICOM source (NIfTI): the patient and study modules are empty type-2 values and a new study UID."""
    from app.viewer.secondary_capture import write_secondary_capture

    rgb = np.zeros((40, 60, 3), dtype=np.uint8)
    rgb[10:20, 5:50] = (255, 128, 0)
    path = write_secondary_capture(tmp_path / "n.dcm", rgb, None, "axial view of a NIfTI")
    ds = pydicom.dcmread(path)
    np.testing.assert_array_equal(ds.pixel_array, rgb)
    assert ds.StudyInstanceUID and ds.PatientName == "" and ds.Modality == "OT"
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed")
    res = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    assert "Error" not in res.stdout + res.stderr, res.stdout + res.stderr


def test_freehand_roi_drawn_with_the_mouse(make_viewer, demo_volume, qtbot):
    from PySide6.QtCore import QEvent

    from tests.app.viewer.qt_helpers import _send

    win = make_viewer()
    open_volume(win, demo_volume, qtbot)
    win.set_active("axial")
    win.state.set_cursor(z=15)
    ax = win.views["axial"]
    QTest.keyClick(win, Qt.Key_D)
    assert win.state.tool == "freehand"
    corners = [ax.widget_pos((15, y, x)) for y, x in ((300, 200), (300, 260), (250, 260), (250, 200), (298, 200))]
    vp = ax.viewport()
    _send(vp, QEvent.MouseButtonPress, corners[0], Qt.LeftButton, Qt.LeftButton, Qt.NoModifier)
    for p in corners[1:]:
        for t in (0.5, 1.0):  # two moves per side, paced (pyqtgraph rate-limits mouse moves)
            prev = corners[corners.index(p) - 1]
            q = prev + (p - prev) * t
            qtbot.wait(25)
            _send(vp, QEvent.MouseMove, q, Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
    qtbot.wait(25)
    _send(vp, QEvent.MouseButtonRelease, corners[-1], Qt.LeftButton, Qt.NoButton, Qt.NoModifier)
    (roi,) = win.state.annotations
    assert roi.kind == "freehand" and len(roi.points) >= 5
    dx, dy = demo_volume.spacing[2], demo_volume.spacing[1]
    # a 60 x 50 voxel square drawn by hand: about its area, and numpy's mean over the same pixels
    assert roi.stats["area_mm2"] == pytest.approx(60 * 50 * dx * dy, rel=0.15)
    mask = measure.polygon_mask(ax.plane, roi.points)
    assert roi.stats["mean"] == pytest.approx(ax.plane.extract(demo_volume.voxels, 15)[mask].astype(np.float64).mean())
    assert "F1" in win.measure_panel.table.item(0, 0).text()
