"""Build the NeuroReview desktop bundle for this platform into dist/.

    python packaging/build.py                 # CPU flavour (onnxruntime), from the current environment
    python packaging/build.py --flavour gpu   # GPU flavour (onnxruntime-gpu), in its own build venv

The result is a self-contained folder `dist/neuroreview-<flavour>/` (start `neuroreview`
inside it), a `.tar.gz` of it, and `install.sh` inside the folder, which copies the bundle to
~/.local/opt and adds a desktop-menu entry. torch is never bundled: models run on ONNX Runtime.
"""

from __future__ import annotations

import argparse
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
    """A separate venv with onnxruntime-gpu instead of onnxruntime (they cannot share one)."""
    venv = BUILD / "venv-gpu"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints-cpu.txt"), "-e", f"{ROOT}[package]"])
        subprocess.check_call([str(py), "-m", "pip", "uninstall", "-q", "-y", "onnxruntime"])
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", "onnxruntime-gpu"])
    return py


def build(flavour: str, python: Path) -> Path:
    name = f"neuroreview-{flavour}"
    env = dict(os.environ, NEUROREVIEW_FLAVOUR=flavour)
    start = time.perf_counter()
    subprocess.check_call(
        [str(python), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(BUILD / f"pyi-{flavour}"), str(ROOT / "packaging" / "neuroreview.spec")],
        env=env, cwd=ROOT,
    )
    out = DIST / name
    shutil.copy2(ROOT / "packaging" / "neuroreview.desktop", out / "neuroreview.desktop")
    shutil.copy2(ROOT / "packaging" / "neuroreview.png", out / "neuroreview.png")
    (out / "install.sh").write_text(INSTALL_SH)
    (out / "install.sh").chmod(0o755)
    (out / "FLAVOUR").write_text(flavour + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"[build] {out} built in {time.perf_counter() - start:.0f} s, {size / 2**20:.0f} MiB")
    return out


def archive(folder: Path) -> Path:
    tar = folder.with_suffix(".tar.gz")
    with tarfile.open(tar, "w:gz", compresslevel=6) as tf:
        tf.add(folder, arcname=folder.name)
    print(f"[build] archive {tar} ({tar.stat().st_size / 2**20:.0f} MiB)")
    return tar


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flavour", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--no-archive", action="store_true", help="skip the .tar.gz")
    args = parser.parse_args()
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pyinstaller>=6.10"])
    python = Path(sys.executable) if args.flavour == "cpu" else gpu_python()
    if args.flavour == "cpu":
        probe = subprocess.run([str(python), "-c", "import onnxruntime as o; print(o.get_available_providers())"], capture_output=True, text=True)
        print(f"[build] onnxruntime providers in the build env: {probe.stdout.strip() or probe.stderr.strip()}")
    out = build(args.flavour, python)
    if not args.no_archive:
        archive(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
