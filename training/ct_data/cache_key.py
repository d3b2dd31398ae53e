"""Cache file names that change when the code that made the cached images changes.

Why: the training caches (real slices at the model grid, phantom series, RSNA series in HU) used to be named by
their source alone, so a change to the grid, the pseudo-HU export or the phantom generator went on serving images
made by the old code until someone remembered to delete /tmp/nr_cache. A fingerprint of the producing modules'
source in the file name makes a stale cache unreachable instead (old files are left alone: another checkout
may share the folder).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

# what turns a CT-ICH / PHE-SICH slice file into the cached 8-bit model-grid image (and its mask)
REAL_SLICE_CODE = ("core.models.preprocess", "core.imaging.pseudo_hu", "core.imaging.windows", "training.ct_data.real")
# what turns a phantom seed into the cached series (the CT generator's modules only: an edit to the MRI generator or a
# figure script must not regenerate 160 phantom series)
PHANTOM_CODE = ("core.models.preprocess", "core.imaging.pseudo_hu", "core.imaging.windows", "core.volume",
                "training.synth.ct", "training.synth.ct_head", "training.synth.ct_lesions", "training.synth.shapes",
                "training.ct_data.phantom")
# what turns an RSNA DICOM series into the cached HU grid
RSNA_CODE = ("core.io", "core.volume", "core.models.preprocess")


def _sources(module: str) -> list[tuple[str, Path]]:
    """(name relative to the module, file) of every source file of a module or package."""
    spec = importlib.util.find_spec(module)
    if spec is None or (spec.origin is None and not spec.submodule_search_locations):
        raise ModuleNotFoundError(f"cache fingerprint: no module {module!r}")
    if spec.submodule_search_locations:  # a package: every .py under it
        return sorted((p.relative_to(loc).as_posix(), p) for loc in spec.submodule_search_locations for p in Path(loc).rglob("*.py"))
    return [(Path(spec.origin).name, Path(spec.origin))]


def code_fingerprint(modules: tuple[str, ...] | list[str]) -> str:
    """12 hex digits over the named modules' (and packages') source bytes, in a fixed order."""
    h = hashlib.sha1()
    for name in sorted(set(modules)):
        for rel, path in _sources(name):
            h.update(f"{name}:{rel}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cache_path(cache: Path, stem: str, modules: tuple[str, ...] | list[str], suffix: str = ".npz") -> Path:
    """`cache/<stem>.<fingerprint><suffix>`."""
    return Path(cache) / f"{stem}.{code_fingerprint(modules)}{suffix}"
