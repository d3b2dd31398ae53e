"""`neuroreview models --verify`: every bundled model verified, the ONNX Runtime wheel named, and the
provider each session really got reported (CPU here; the GPU wheel may list CUDA it cannot load)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_models_verify_reports_runtime_and_provider():
    out = subprocess.run([sys.executable, "-m", "app", "models", "--verify"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ONNX Runtime ") and "CPUExecutionProvider" in lines[0]
    rows = json.loads(subprocess.run([sys.executable, "-m", "app", "models", "--verify", "--json"],
                                     capture_output=True, text=True, timeout=300).stdout)
    assert {r["name"] for r in rows} >= {"ich_cnn", "ich_bilstm", "bg_laterality", "skullstrip_qc"}
    for r in rows:
        assert r["status"] == "sha256 ok" and r["provider"] == "CPUExecutionProvider" and r["device"] == "CPU"
        assert any(line.startswith(f"{r['name']} ") and "runs on CPU (CPUExecutionProvider)" in line for line in lines)
