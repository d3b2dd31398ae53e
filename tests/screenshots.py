"""Where a test saves the screenshot it takes of a window.

Why: the README's pictures live in docs/screenshots, but a plain test run must leave the checkout clean
(PNG bytes differ run to run). So a test writes into docs/screenshots only when asked to refresh them
(`NEUROREVIEW_SCREENSHOTS=update bash scripts/test.sh ...`), otherwise into a temporary folder; the
grab and save are checked either way.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def screenshot_path(name: str) -> Path:
    folder = DOCS if os.environ.get("NEUROREVIEW_SCREENSHOTS") == "update" else Path(tempfile.gettempdir()) / "neuroreview-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
