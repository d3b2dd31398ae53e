"""Where bundled resources live: the checkout, an installed wheel, or a PyInstaller bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """Folder holding models/, demo/ and presets; NEUROREVIEW_RESOURCES overrides it."""
    env = os.environ.get("NEUROREVIEW_RESOURCES")
    if env:
        return Path(env)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    import resources  # the package beside core/ (installed with package-data)

    return Path(resources.__file__).resolve().parent


def models_dir() -> Path:
    return resources_dir() / "models"


def demo_dir() -> Path:
    return resources_dir() / "demo"


def user_data_dir() -> Path:
    """Per-user writable folder (settings, user-added models, default study database)."""
    env = os.environ.get("NEUROREVIEW_HOME")
    base = Path(env) if env else Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "neuroreview"
    base.mkdir(parents=True, exist_ok=True)
    return base


def demo_ct_dir() -> Path:
    """The README's demo case: the real GE head CT with a generated acute subdural + intraventricular bleed
    (resources/demo/README.md). The generated phantoms beside it (ct/hemorrhage, ...) serve the tests."""
    return demo_dir() / "ct" / "real_bleed"


def demo_normal_ct_dir() -> Path:
    """The same real GE head CT, unmodified: the normal demo case."""
    return demo_dir() / "ct" / "real_normal"


def phantom_ct_dir() -> Path:
    """The generated phantom with subdural + intraventricular blood (tests; the demo before issue 12)."""
    return demo_dir() / "ct" / "hemorrhage"
