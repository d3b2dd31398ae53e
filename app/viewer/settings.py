"""Viewer preferences (last layout, recent files, window geometry) in an INI file under the user data
folder, which NEUROREVIEW_HOME relocates: tests and screenshots never touch the user's settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from core.paths import user_data_dir

MAX_RECENT = 10
LAYOUTS = ("1x1", "2x2")


class ViewerSettings:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else user_data_dir() / "viewer.ini"
        self._s = QSettings(str(self.path), QSettings.IniFormat)

    @property
    def layout(self) -> str:
        value = str(self._s.value("view/layout", "2x2"))
        return value if value in LAYOUTS else "2x2"

    @layout.setter
    def layout(self, value: str) -> None:
        if value not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {value!r}")
        self._s.setValue("view/layout", value)
        self._s.sync()

    @property
    def recent(self) -> list[str]:
        value = self._s.value("files/recent", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> list[str]:
        items = [p for p in self.recent if p != path]
        items.insert(0, path)
        self._s.setValue("files/recent", items[:MAX_RECENT])
        self._s.sync()
        return self.recent

    def clear_recent(self) -> None:
        self._s.setValue("files/recent", [])
        self._s.sync()

    def geometry(self):
        return self._s.value("window/geometry")

    def set_geometry(self, data) -> None:
        self._s.setValue("window/geometry", data)
        self._s.sync()
