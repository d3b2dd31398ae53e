"""The series browser: a two-series study shows both with thumbnails and badges, Ctrl+Down opens the next
one, a thumbnail dropped on the window opens its series; header-predicted warnings (tilt) are listed."""

from __future__ import annotations

import shutil

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtTest import QTest

from core.paths import demo_dir, phantom_ct_dir


def icon_grey(item) -> np.ndarray:
    img = item.icon().pixmap(112, 112).toImage().convertToFormat(QImage.Format_Grayscale8)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, -1)[:, :w]


def test_browser_lists_a_two_series_study_with_thumbnails(viewer, qtbot, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(phantom_ct_dir(), root / "a")
    shutil.copytree(demo_dir() / "ct" / "normal", root / "b")
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        viewer.open_path(str(root))
    br = viewer.browser
    assert viewer.browser_dock.isVisible() and br.list.count() == 2
    qtbot.waitUntil(lambda: br.thumbnails_ready() == 2, timeout=30000)
    for row in range(2):
        grey = icon_grey(br.list.item(row))
        assert grey.max() > 200 and grey.mean() > 20, "a windowed head, not a blank icon"
        assert "image(s)" in br.list.item(row).text() and "CT" in br.list.item(row).text()
    first = viewer.state.volume.ids.series_uid
    assert br.list.item(br.list.currentRow()).font().bold()
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        QTest.keyClick(viewer, Qt.Key_Down, Qt.ControlModifier)
    second = viewer.state.volume.ids.series_uid
    assert second != first and br.list.currentRow() == 1
    # with the focus in the list, Up moves to the previous series and opens it (not a slice step)
    br.list.setFocus()
    qtbot.waitUntil(br.list.hasFocus, timeout=2000)
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        QTest.keyClick(br.list, Qt.Key_Up)
    assert viewer.state.volume.ids.series_uid == first and br.list.currentRow() == 0
    viewer.activateWindow()
    br.list.setFocus()
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        QTest.keyClick(br.list, Qt.Key_Down)
    assert viewer.state.volume.ids.series_uid == second
    # a window change re-renders the thumbnails in the new window
    before = icon_grey(br.list.item(0)).copy()
    QTest.keyClick(viewer, Qt.Key_4)  # bone
    assert not np.array_equal(before, icon_grey(br.list.item(0)))
    # drag the first thumbnail into the window: its series opens
    mime = br.list.mimeData([br.list.item(0)])
    ev = QDropEvent(QPointF(300, 300), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        viewer.dropEvent(ev)
    assert viewer.state.volume.ids.series_uid == first


def test_browser_badges_the_tilted_ge_series(viewer, qtbot, shared_data):
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=120000):
        viewer.open_path(str(shared_data / "ct-ge-head-tilt"))
    item = viewer.browser.list.item(0)
    assert "2 warning(s)" in item.text()  # predicted from the headers, before loading
    assert "gantry tilt 18.5 deg" in item.toolTip() and "irregular-spacing" in item.toolTip()


def test_a_study_opens_its_soft_tissue_series_before_a_larger_bone_one(viewer, qtbot, tmp_path):
    """core.io.series_choice in the window: the browser lists the larger bone series first, the plain one opens
    and is the browser's current row."""
    import pydicom

    from tests.core.io.dicom_factory import phantom_hu, write_ct_series

    root = tmp_path / "study"
    for sub, n, kernel, desc in (("bone", 16, "BONEPLUS", "CT Thin Bone"), ("plain", 8, "STANDARD", "CT Plain")):
        for p in write_ct_series(root / sub, phantom_hu(n, 64, 64), prefix=sub[0].upper()):
            ds = pydicom.dcmread(p)
            ds.ConvolutionKernel, ds.SeriesDescription = kernel, desc
            ds.save_as(p)
    with qtbot.waitSignal(viewer.volumeLoaded, timeout=60000):
        viewer.open_path(str(root))
    br = viewer.browser
    assert br.list.count() == 2 and "CT Thin Bone" in br.list.item(0).text()
    assert viewer.state.volume.shape[0] == 8 and viewer.state.volume.ids.series_description == "CT Plain"
    assert br.list.currentRow() == 1 and br.list.item(1).font().bold()
