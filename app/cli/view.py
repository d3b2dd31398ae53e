"""`neuroreview view [PATH]`: the reading-room viewer; with --screenshot it renders headless and exits.

    neuroreview view                                  # the bundled demo head CT
    neuroreview view FOLDER_OR_FILE [--layout 1x1|2x2] [--preset subdural] [--slice 15]
    neuroreview view PATH --screenshot out.png [--overlay gradcam:subdural] [--findings] [--size 1600x1000]
    neuroreview view PATH --slab mip:10 --interp nearest --anonymised   # thick slab, MPR sampling, corner text
"""

from __future__ import annotations

import argparse
import os
import sys

from app.cli.options import add_modality_argument

PRESET_CHOICES = ("brain", "subdural", "soft_tissue", "bone", "stroke", "acute_blood", "dicom", "auto")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="open the viewer (axial/MPR/3D, windows, AI findings and heat maps)")
    p.add_argument("path", nargs="?", default=None, help="DICOM folder/file or NIfTI file (default: the bundled demo CT)")
    p.add_argument("--series", default=None, help="SeriesInstanceUID to open when the folder holds several")
    add_modality_argument(p)
    p.add_argument("--layout", choices=("1x1", "2x2"), default=None, help="default: the last one used")
    p.add_argument("--preset", choices=PRESET_CHOICES, default=None, help="window preset (default: brain for CT, auto for MRI)")
    p.add_argument("--slice", type=_image_number, default=None, metavar="N",
                   help="axial image N, counted from 1 as the views, the findings chart and `neuroreview score` count them")
    p.add_argument("--overlay", default=None, metavar="KIND:LABEL",
                   help="heat map: gradcam:LABEL or occlusion:LABEL (LABEL an ICH label, bg_left/bg_right, or face/brain_loss "
                        "for MRI); the crosshair goes to the map's peak (on --slice when given)")
    p.add_argument("--findings", action="store_true", help="with --screenshot: run the models and show their results")
    p.add_argument("--slab", default=None, metavar="MODE:MM", help="thick slab: mip:10, minip:5 or avg:10 (mm)")
    p.add_argument("--interp", choices=("linear", "nearest"), default=None,
                   help="through-slice sampling of the MPR views (default linear)")
    p.add_argument("--anonymised", action="store_true", help="corner text without the patient lines")
    p.add_argument("--preset3d", choices=("bone", "skin", "brain"), default=None, help="3-D rendering preset")
    p.add_argument("--screenshot", default=None, metavar="OUT.png", help="render the window headless to a PNG and exit")
    p.add_argument("--size", default="1600x1000", metavar="WxH", help="window size for --screenshot (default 1600x1000)")
    p.set_defaults(func=run)


def _image_number(text: str) -> int:
    """Images are counted from 1 everywhere the user reads a number (corner text, findings chart, `score`)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an image number (1, 2, ...), got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"images are counted from 1, got {n}")
    return n


def slice_index(number: int, n_images: int, path: str) -> int:
    """--slice N as a 0-based index into the volume; a number past the last image is an error, not a clipped cursor."""
    from core.errors import InputError

    if number > n_images:
        raise InputError(f"--slice {number}: the series has {n_images} axial images (1-{n_images})", path)
    return number - 1


def _parse_overlay(text: str | None) -> tuple[str, str] | None:
    from core.errors import InputError

    if not text:
        return None
    kind, _, label = text.partition(":")
    if kind not in ("gradcam", "occlusion") or not label:
        raise InputError(f"--overlay must be gradcam:LABEL or occlusion:LABEL, got {text!r}")
    return kind, label


def _parse_slab(text: str | None) -> tuple[str, float] | None:
    from core.errors import InputError

    if not text:
        return None
    mode, _, mm = text.partition(":")
    try:
        value = float(mm)
    except ValueError:
        value = -1.0
    if mode not in ("mip", "minip", "avg") or value <= 0:
        raise InputError(f"--slab must be mip:MM, minip:MM or avg:MM with MM > 0, got {text!r}")
    return mode, value


def _apply_view_options(win, args) -> None:
    """--slab, --interp and --anonymised on a window's state (interactive and screenshot paths)."""
    slab = _parse_slab(args.slab)
    if slab:
        win.state.set_mpr(slab_mode=slab[0], slab_mm=slab[1])
    if args.interp:
        win.state.set_mpr(interp=args.interp)
    if args.anonymised:
        win.state.set_corner(anonymised=True)


def _parse_size(text: str) -> tuple[int, int]:
    from core.errors import InputError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must be WxH (e.g. 1600x1000), got {text!r}") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise InputError(f"--size out of range: {text}")
    return w, h


def run(args: argparse.Namespace) -> int:
    overlay = _parse_overlay(args.overlay)
    size = _parse_size(args.size)
    _parse_slab(args.slab)  # a bad value fails before any window opens
    if args.screenshot:
        if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY")):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        if os.environ.get("QT_QPA_PLATFORM") == "offscreen":  # VTK's Qt widget needs OSMesa there (DESIGN.md)
            os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")
            _quiet_offscreen_plugin()
        return _screenshot(args, overlay, size)
    if sys.platform.startswith("linux") and not (os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        from core.errors import InputError

        raise InputError("no display to open the window on (DISPLAY is not set); use --screenshot OUT.png to render "
                         "without one, or run under xvfb-run")
    return _interactive(args, overlay)


def _quiet_offscreen_plugin() -> None:
    """The offscreen platform warns once per window-manager call it cannot honour ("This plugin does not
    support raise()"): noise for a headless render, so those lines are dropped; every other Qt message passes."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if not message.startswith("This plugin does not support"):
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def _interactive(args: argparse.Namespace, overlay) -> int:
    from app.viewer.prefetch import Prefetch
    from core.paths import demo_ct_dir

    # read the series in a forked process while this one imports Qt and builds the window (before Qt: fork-safe)
    prefetch = Prefetch.start(args.path or demo_ct_dir()) if not (args.series or args.modality) else None
    from PySide6.QtWidgets import QApplication

    from app.viewer.main_window import ViewerWindow

    app = QApplication.instance() or QApplication(["neuroreview"])
    app.setApplicationName("NeuroReview")
    win = ViewerWindow(layout=args.layout)
    _apply_view_options(win, args)
    if args.preset or args.slice is not None:
        def _apply() -> None:
            if args.preset:
                win.state.set_preset(args.preset)
            if args.slice is not None:
                from core.errors import InputError

                try:
                    win.state.set_cursor(z=slice_index(args.slice, win.state.volume.shape[0], args.path or "demo"))
                except InputError as exc:
                    win.statusBar().showMessage(str(exc), 10000)
        win.volumeLoaded.connect(_apply)
    if args.preset3d:
        win.pane3d.set_preset(args.preset3d)
    win.show()
    if prefetch is not None:
        win.open_prefetched(prefetch)
    elif args.modality:  # the user overrides the modality: load here, as the headless path does
        from core.io import load

        path = args.path or str(demo_ct_dir())
        win.set_volume(load(path, series_uid=args.series, modality=args.modality), path)
    elif args.path:
        win.open_path(args.path, args.series)  # a chosen series, or no fork on this platform
    else:
        win.open_demo()
    if overlay:  # shown as soon as the background scoring has results
        def _show_overlay() -> None:
            from app.viewer import headless
            from core.errors import NeuroReviewError

            st = win.state
            if st.ich is None and st.qc is None:
                return
            win.state.findingsChanged.disconnect(_show_overlay)
            kind, label = overlay
            try:
                if kind == "occlusion" and "overlay" in win.panels:
                    win.panels["overlay"].run_occlusion(headless.ALIASES.get(label, label))  # in its worker
                else:
                    headless.show_overlay(st, kind, label)
            except NeuroReviewError as exc:
                win.statusBar().showMessage(f"--overlay: {exc}", 10000)

        win.state.findingsChanged.connect(_show_overlay)
    return app.exec()


def screenshot_window(args: argparse.Namespace, overlay, size: tuple[int, int], settings_path):
    """The window as --screenshot draws it (shown, results in, docks arranged), before the grab."""
    from PySide6.QtWidgets import QApplication

    from app.viewer import headless
    from app.viewer.main_window import ViewerWindow
    from app.viewer.settings import ViewerSettings
    from core.io import load
    from core.paths import demo_ct_dir

    app = QApplication.instance() or QApplication(["neuroreview"])
    path = args.path or str(demo_ct_dir())
    volume = load(path, series_uid=args.series, modality=args.modality)  # LoadError -> one line naming the file, exit 2
    win = ViewerWindow(settings=ViewerSettings(settings_path), layout=args.layout or "2x2", auto_score=False)
    _apply_view_options(win, args)
    win.set_volume(volume, path)
    if args.preset:
        win.state.set_preset(args.preset)
    if args.slice is not None:
        win.state.set_cursor(z=slice_index(args.slice, volume.shape[0], path))
    if args.preset3d:
        win.pane3d.set_preset(args.preset3d)
    win.resize(*size)
    win.show()
    app.processEvents()
    win.finish_loading()  # header facts for the corner text and stored measurements, without waiting for a timer
    if args.findings or overlay:
        headless.run_models(win.state)  # synchronous: the picture shows the finished results
    if overlay:
        headless.show_overlay(win.state, *overlay)
        # the crosshair on the map's peak (on --slice, else anywhere) so every view cuts through it
        headless.cursor_to_peak(win.state, keep_slice=args.slice is not None)
    win.ensure_panels()
    if args.findings and getattr(win, "findings_dock", None) is not None:
        win.findings_dock.raise_()  # asked for the findings: they are the picture, loader warnings or not
    if win.layout_name == "2x2" and win.pane3d.ensure() and not win.pane3d.wait_ready():
        print(f"3-D view: {win.pane3d.view.error or 'not ready in time'}", file=sys.stderr)
    for _ in range(3):
        app.processEvents()
    return win


def _screenshot(args: argparse.Namespace, overlay, size: tuple[int, int]) -> int:
    import tempfile
    from pathlib import Path

    from PySide6.QtWidgets import QApplication

    with tempfile.TemporaryDirectory() as tmp:  # a screenshot never changes the user's layout or recent files
        win = screenshot_window(args, overlay, size, Path(tmp) / "viewer.ini")
        out = Path(args.screenshot)
        out.parent.mkdir(parents=True, exist_ok=True)
        image = win.screenshot()
        ok = image.save(str(out))
        win.close()
        QApplication.instance().processEvents()
    if not ok:
        from core.errors import InputError

        raise InputError("could not write the screenshot", str(out))
    print(f"wrote {out} ({image.width()}x{image.height()})")
    return 0
