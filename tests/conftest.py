"""Shared test set-up: headless Qt when there is no screen, and the optional real data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEUROREVIEW_SHARED_DATA", ROOT.parent / "shared" / "data"))

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests must not touch the user's real settings or databases.
# Generated-data caches (e.g. the MRI template's reference brain mask) stay out of the user's home too.
os.environ.setdefault("NEUROREVIEW_CACHE", str(Path(os.environ.get("TMPDIR", "/tmp")) / "neuroreview-test-cache"))
os.environ.setdefault("NEUROREVIEW_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"neuroreview-test-home-{os.getpid()}"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real heads in ../shared/data; tests using them skip, visibly, when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data folder {SHARED_DATA} is absent (generated data covers the same code paths)")
    return SHARED_DATA
