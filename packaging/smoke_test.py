"""Smoke-test a built bundle from a temporary folder, with a clean environment and no checkout.

    python packaging/smoke_test.py [dist/neuroreview-cpu] [--keep-screenshot OUT.png]

Copies the bundle to a temp dir and runs it under `env -i` (only HOME, PATH=/usr/bin:/bin and
the Qt platform): --version, `models` (sha256 verified), `score --json` on the demo case, and
`view --screenshot` five times (the image is checked for content; the median start-to-exit time
is printed). Exits non-zero on the first failure, printing what the bundle said.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run(exe: Path, args: list[str], home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}
    cmd = ["env", "-i", *[f"{k}={v}" for k, v in env.items()], str(exe), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=home)
    if proc.returncode != 0:
        print(f"FAILED: {' '.join(args)} (exit {proc.returncode})\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        sys.exit(1)
    return proc


def image_has_content(path: Path) -> tuple[bool, str]:
    from PIL import Image

    img = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    distinct = len(np.unique(img[::4, ::4]))
    bright = float((img > 40).mean())
    ok = img.std() > 10 and distinct > 32 and 0.02 < bright < 0.98
    return ok, f"{img.shape[1]}x{img.shape[0]}, std {img.std():.1f}, {distinct} grey levels, {bright:.0%} non-dark"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle", nargs="?", default=str(Path(__file__).resolve().parents[1] / "dist" / "neuroreview-cpu"))
    parser.add_argument("--keep-screenshot", default=None)
    args = parser.parse_args()
    src = Path(args.bundle).resolve()
    if not (src / "neuroreview").exists():
        print(f"no bundle at {src}: build it with python packaging/build.py")
        return 2
    with tempfile.TemporaryDirectory(prefix="nr-smoke-") as tmp:
        tmp = Path(tmp)
        bundle = tmp / src.name
        shutil.copytree(src, bundle, symlinks=True)
        home = tmp / "home"
        home.mkdir()
        exe = bundle / "neuroreview"

        out = run(exe, ["--version"], home).stdout.strip()
        print(f"[ok] --version: {out}")

        models = run(exe, ["models", "--json"], home).stdout
        listed = json.loads(models)
        names = [m.get("name") for m in listed] if isinstance(listed, list) else list(listed)
        assert names, "no bundled models listed"
        print(f"[ok] models: {names}")

        score = json.loads(run(exe, ["score", "--json"], home).stdout)
        print(f"[ok] score on the demo case: keys {sorted(score)[:8]}")
        print(json.dumps(score, indent=None)[:600])

        times = []
        shot = tmp / "shot.png"
        for _ in range(5):
            t0 = time.perf_counter()
            run(exe, ["view", "--screenshot", str(shot), "--layout", "2x2"], home)
            times.append(time.perf_counter() - t0)
        ok, desc = image_has_content(shot)
        print(f"[{'ok' if ok else 'FAIL'}] view --screenshot: {desc}")
        print(f"[ok] view --screenshot start-to-exit: median {statistics.median(times):.2f} s over 5 runs ({', '.join(f'{t:.2f}' for t in times)})")
        if args.keep_screenshot:
            shutil.copy2(shot, args.keep_screenshot)
        size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
        print(f"[ok] bundle size {size / 2**20:.0f} MiB; torch bundled: {any('torch' in p.name for p in bundle.rglob('*torch*'))}")
        if not ok:
            return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
