"""The packaging recipe, checked without building (a build takes minutes; the real build and the smoke
test of the bundle are run by hand: packaging/README.md)."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "packaging"
sys.path.insert(0, str(PACK))
import build  # noqa: E402  (packaging/build.py)


def spec_list(name: str) -> list[str]:
    tree = ast.parse((PACK / "neuroreview.spec").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in the spec")


def test_spec_excludes_torch_training_tests_and_bundles_resources_and_vtk():
    excludes = spec_list("EXCLUDES")
    assert {"torch", "monai", "training", "tests", "pytest", "onnxscript"} <= set(excludes)
    assert set(build.FORBIDDEN) <= set(excludes)  # what the build verifies is what the spec keeps out
    text = (PACK / "neuroreview.spec").read_text()
    assert '(ROOT / "resources").rglob("*")' in text and '"resources"' in text
    for module in ("vtkmodules.qt.QVTKRenderWindowInteractor", "vtkmodules.vtkRenderingVolumeOpenGL2"):
        assert f'"{module}"' in text
    assert '"onnxruntime-gpu" if FLAVOUR == "gpu" else "onnxruntime"' in text
    assert (PACK / "entry.py").is_file() and "from app.cli import main" in (PACK / "entry.py").read_text()


def test_build_help_and_content_check_flags_forbidden_and_missing(tmp_path, monkeypatch):
    out = subprocess.run([sys.executable, str(PACK / "build.py"), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--flavour" in out.stdout and "--archive" in out.stdout
    # a fake bundle with torch inside and no resources: both problems are reported
    fake = tmp_path / "neuroreview-cpu"
    (fake / "_internal" / "torch" / "lib").mkdir(parents=True)
    (fake / "_internal" / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"x")
    monkeypatch.setattr(build, "BUILD", tmp_path / "build")  # no PYZ table of contents there either
    problems = build.check_contents(fake, "cpu")
    assert any("forbidden file" in p and "torch" in p for p in problems)
    assert any("resources/models" in p for p in problems) and any("PYZ" in p for p in problems)


def test_desktop_entry_and_icon():
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.optionxform = str
    cfg.read(PACK / "neuroreview.desktop")
    entry = cfg["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "NeuroReview"
    assert entry["Exec"].startswith("@PREFIX@/neuroreview view")  # install.sh fills in the prefix
    assert entry["Icon"] == "@PREFIX@/neuroreview.png" and "MedicalSoftware" in entry["Categories"]
    icon = Image.open(PACK / "neuroreview.png")
    assert icon.size[0] == icon.size[1] >= 48
    assert "@PREFIX@" in build.INSTALL_SH and ".local/share/applications" in build.INSTALL_SH
