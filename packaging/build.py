"""Build the NeuroReview desktop bundle for this platform into dist/.

    python packaging/build.py                  # CPU flavour (onnxruntime), from this Python environment
    python packaging/build.py --flavour gpu    # GPU flavour (onnxruntime-gpu), in its own build venv
    python packaging/build.py --archive        # also dist/neuroreview-<flavour>.tar.gz

Result: a self-contained folder `dist/neuroreview-<flavour>/` (start `./neuroreview` inside it) with
`install.sh` (copies it to ~/.local/opt and adds the desktop-menu entry). PyInstaller one-folder mode:
starts faster than one-file (nothing to unpack to /tmp on every start) and the folder is what an
installer or a .deb/.msi would ship anyway. torch, monai, training/ and tests/ are never bundled
(models run on ONNX Runtime); the build fails if any of them got in.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUILD = ROOT / "build"
SPEC = ROOT / "packaging" / "neuroreview.spec"
# Top-level packages that must not be in the bundle (the spec's EXCLUDES are checked against these too).
FORBIDDEN = ("torch", "torchvision", "monai", "training", "tests", "benchmarks", "pytest", "SimpleITK", "captum",
             "pytorch_grad_cam", "onnxscript")

INSTALL_SH = """#!/usr/bin/env bash
# Install this NeuroReview bundle for the current user and add it to the desktop menu.
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
prefix="${1:-$HOME/.local/opt/neuroreview}"
mkdir -p "$prefix" "$HOME/.local/share/applications" "$HOME/.local/bin"
cp -a "$src/." "$prefix/"
sed "s#@PREFIX@#$prefix#g" "$src/neuroreview.desktop" > "$HOME/.local/share/applications/neuroreview.desktop"
ln -sf "$prefix/neuroreview" "$HOME/.local/bin/neuroreview"
echo "installed to $prefix; start it from the menu or with: neuroreview view"
"""


def gpu_python() -> Path:
    """A separate venv with onnxruntime-gpu instead of onnxruntime: the two wheels share the
    `onnxruntime` folder, so they never go into one environment."""
    venv = BUILD / "venv-gpu"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        pip = [str(py), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints-cpu.txt")]
        subprocess.check_call([*pip, "--upgrade", "pip"])
        subprocess.check_call([*pip, "-e", f"{ROOT}[package]"])  # runtime deps + PyInstaller, no torch
        subprocess.check_call([str(py), "-m", "pip", "uninstall", "-q", "-y", "onnxruntime"])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "onnxruntime-gpu"])
    return py


def ort_distributions(python: Path) -> list[str]:
    code = ("import importlib.metadata as m\n"
            "for d in ('onnxruntime', 'onnxruntime-gpu'):\n"
            "    try: print(d, m.version(d))\n"
            "    except m.PackageNotFoundError: pass\n")
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.split("\n")[:-1]


def build(flavour: str, python: Path) -> Path:
    name = f"neuroreview-{flavour}"
    env = dict(os.environ, NEUROREVIEW_FLAVOUR=flavour)
    start = time.perf_counter()
    subprocess.check_call(
        [str(python), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(BUILD / f"pyi-{flavour}"), str(SPEC)],
        env=env, cwd=ROOT,
    )
    out = DIST / name
    desktop = (ROOT / "packaging" / "neuroreview.desktop").read_text()
    (out / "neuroreview.desktop").write_text(desktop)
    shutil.copy2(ROOT / "packaging" / "neuroreview.png", out / "neuroreview.png")
    (out / "install.sh").write_text(INSTALL_SH)
    (out / "install.sh").chmod(0o755)
    (out / "FLAVOUR").write_text(flavour + "\n")
    print(f"[build] {out} built in {time.perf_counter() - start:.0f} s, {folder_mib(out):.0f} MiB")
    return out


def folder_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def bundled_modules(flavour: str) -> set[str]:
    """Module names PyInstaller put into the PYZ archive (from its table of contents)."""
    names: set[str] = set()
    for toc in (BUILD / f"pyi-{flavour}" / "neuroreview").glob("PYZ-*.toc"):
        data = ast.literal_eval(toc.read_text())  # (archive path, [(module, source, kind), ...])
        entries = data[1] if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], list) else data
        for entry in entries:
            if isinstance(entry, (tuple, list)) and entry and isinstance(entry[0], str):
                names.add(entry[0])
    return names


def check_contents(out: Path, flavour: str) -> list[str]:
    """What must not be in the bundle but is (files or frozen modules), and what must be but is not."""
    problems = []
    internal = out / "_internal"
    for f in internal.rglob("*"):
        top = f.relative_to(internal).parts[0]
        if top.split(".")[0] in FORBIDDEN or top.startswith(("torch-", "monai-", "nvidia")):
            problems.append(f"forbidden file in bundle: {f.relative_to(out)}")
            break
    mods = bundled_modules(flavour)
    if not mods:
        problems.append("could not read the PYZ table of contents (PyInstaller layout changed?)")
    bad = sorted({m for m in mods if m.split(".")[0] in FORBIDDEN})
    if bad:
        problems.append(f"forbidden modules frozen in: {bad[:10]}")
    need = {
        "resources/models": list((internal / "resources" / "models").glob("*.onnx")),
        "resources/demo/ct/hemorrhage": list((internal / "resources" / "demo" / "ct" / "hemorrhage").glob("*.dcm")),
        "Qt offscreen platform plugin": list(internal.rglob("platforms/libqoffscreen.so")),
        "Qt xcb platform plugin": list(internal.rglob("platforms/libqxcb.so")),
        "VTK OpenGL2 rendering": list(internal.rglob("vtkmodules/vtkRenderingOpenGL2*.so")),
        "VTK volume rendering": list(internal.rglob("vtkmodules/vtkRenderingVolumeOpenGL2*.so")),
        "onnxruntime": list(internal.rglob("onnxruntime/capi/*onnxruntime*.so*")),
    }
    for what, found in need.items():
        if not found:
            problems.append(f"missing from bundle: {what}")
    if "vtkmodules.qt.QVTKRenderWindowInteractor" not in mods:
        problems.append("missing from bundle: vtkmodules.qt.QVTKRenderWindowInteractor")
    return problems


def archive(folder: Path) -> Path:
    tar = folder.with_suffix(".tar.gz")
    with tarfile.open(tar, "w:gz", compresslevel=6) as tf:
        tf.add(folder, arcname=folder.name)
    print(f"[build] archive {tar} ({tar.stat().st_size / 2**20:.0f} MiB)")
    return tar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flavour", choices=("cpu", "gpu"), default="cpu",
                        help="cpu: onnxruntime from this environment; gpu: onnxruntime-gpu in build/venv-gpu")
    parser.add_argument("--python", default=None,
                        help="build with this interpreter's environment instead (it must hold the right onnxruntime)")
    parser.add_argument("--archive", action="store_true", help="also write dist/neuroreview-<flavour>.tar.gz")
    parser.add_argument("--check-only", action="store_true", help="only check an existing dist/neuroreview-<flavour>")
    args = parser.parse_args(argv)
    if args.check_only:
        problems = check_contents(DIST / f"neuroreview-{args.flavour}", args.flavour)
        for p in problems:
            print(f"[build] FAIL {p}")
        print(f"[build] {DIST / f'neuroreview-{args.flavour}'}: " + ("FAILED" if problems else f"no {', '.join(FORBIDDEN)}; resources, Qt offscreen/xcb, VTK OpenGL2 + volume, onnxruntime present"))
        return 1 if problems else 0

    python = Path(args.python) if args.python else (Path(sys.executable) if args.flavour == "cpu" else gpu_python())
    dists = ort_distributions(python)
    want = "onnxruntime-gpu" if args.flavour == "gpu" else "onnxruntime"
    print(f"[build] {args.flavour} flavour with {python}; ONNX Runtime wheels there: {dists or 'none'}")
    if [d.split()[0] for d in dists] != [want]:
        print(f"[build] refusing: the {args.flavour} flavour needs exactly {want} in the build environment, found {dists}")
        return 2
    if subprocess.run([str(python), "-c", "import PyInstaller"], capture_output=True).returncode != 0:
        print(f'[build] PyInstaller is missing: {python} -m pip install "pyinstaller>=6.10"  (the `package` extra)')
        return 2
    probe = subprocess.run([str(python), "-c", "import onnxruntime as o; print(o.__version__, o.get_available_providers())"],
                           capture_output=True, text=True)
    print(f"[build] providers this onnxruntime offers: {probe.stdout.strip() or probe.stderr.strip()}")
    out = build(args.flavour, python)
    problems = check_contents(out, args.flavour)
    for p in problems:
        print(f"[build] FAIL {p}")
    if problems:
        return 1
    print(f"[build] checked: no {', '.join(FORBIDDEN)}; resources, Qt offscreen/xcb, VTK OpenGL2 + volume, onnxruntime present")
    if args.archive:
        archive(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
