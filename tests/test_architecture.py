"""The dependency direction of DESIGN.md: core/ imports neither Qt, VTK, pyqtgraph nor torch, nor app/ or training/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "vtk", "vtkmodules", "pyqtgraph", "torch", "monai", "app", "training")


def _imported_top_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_source_imports_no_gui_or_torch():
    offenders = {}
    for path in sorted((ROOT / "core").rglob("*.py")):
        bad = _imported_top_names(path) & set(FORBIDDEN_IN_CORE)
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, f"core/ must not import these: {offenders}"


def test_importing_all_of_core_loads_no_gui_or_torch_modules():
    """Catches indirect imports too: import every core module in a fresh interpreter."""
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "core").rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN_IN_CORE!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing core pulled in: {out.stdout.strip()}"


def test_training_and_app_do_not_import_each_other():
    for pkg, other in (("app", "training"), ("training", "app")):
        for path in (ROOT / pkg).rglob("*.py"):
            assert other not in _imported_top_names(path), f"{path} imports {other}"
