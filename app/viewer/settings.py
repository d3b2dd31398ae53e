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

    @property
    def anonymised(self) -> bool:
        return str(self._s.value("corner/anonymised", "false")).lower() in ("true", "1")

    @anonymised.setter
    def anonymised(self, on: bool) -> None:
        self._s.setValue("corner/anonymised", "true" if on else "false")
        self._s.sync()

    @property
    def corner_fields(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Per-corner field lists from [corner] tl=plane,image_number ... (app.viewer.corner_text.FIELDS);
        corners not set keep the defaults, unknown names are dropped with the reason printed once."""
        from app.viewer.corner_text import CORNERS, FIELDS

        out = []
        for corner in CORNERS:
            value = self._s.value(f"corner/{corner}")
            if value is None:
                continue
            names = [value] if isinstance(value, str) else list(value)
            names = [n.strip() for n in names if n.strip()]
            bad = [n for n in names if n not in FIELDS]
            if bad:
                print(f"viewer settings: unknown corner-text field(s) {bad} in corner/{corner} [{self.path}]")
            out.append((corner, tuple(n for n in names if n in FIELDS)))
        return tuple(out)

    def set_corner_fields(self, corner: str, names: list[str]) -> None:
        self._s.setValue(f"corner/{corner}", list(names))
        self._s.sync()

    def geometry(self):
        return self._s.value("window/geometry")

    def set_geometry(self, data) -> None:
        self._s.setValue("window/geometry", data)
        self._s.sync()
