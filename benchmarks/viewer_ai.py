"""Viewer AI panels: scoring and one-slice occlusion run from the panels (worker thread, per-batch
progress and cancel checks, results applied to the state) vs the same core calls made directly on
the main thread, both on the bundled demo CT (30 x 512 x 512) in the same run. Prints medians and the
panel/direct ratio (the cost of running in the background), plus the event loop's longest stall
while the panel scores (what the user would feel).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/viewer_ai.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.viewer.findings import FindingsPanel
    from app.viewer.overlay_panel import OverlayPanel
    from app.viewer.scoring import WatchedCTScorer
    from app.viewer.state import ViewerState
    from core.explain import occlusion_map
    from core.io import load
    from core.models.preprocess import ich_input
    from core.paths import demo_dir

    app = QApplication.instance() or QApplication([])
    vol = load(demo_dir() / "ct" / "hemorrhage")
    scorer = WatchedCTScorer()
    state = ViewerState()
    state.set_volume(vol)
    from app.viewer.scoring import ScoringRunner

    findings = FindingsPanel(state, ScoringRunner(state, ct_scorer=scorer))
    overlay = OverlayPanel(state, scorer=scorer)

    def wait(signal) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        loop.exec()
        signal.disconnect(loop.quit)

    t0 = time.perf_counter()
    findings.run()
    wait(findings.runner.finished)
    cold = time.perf_counter() - t0

    panel_s, direct_s, stalls = [], [], []
    for _ in range(args.repeats):
        scorer._cache = None  # preprocessing counted every time, both ways
        ticks: list[float] = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start(5)
        t0 = time.perf_counter()
        findings.run()
        wait(findings.runner.finished)
        t1 = time.perf_counter()
        timer.stop()
        panel_s.append(t1 - t0)
        stalls.append(max(b - a for a, b in zip([t0, *ticks], [*ticks, t1])))
        scorer._cache = None
        t0 = time.perf_counter()
        scorer.score_ich(vol)
        scorer.score_bg(vol)
        direct_s.append(time.perf_counter() - t0)

    z = 15
    state.set_cursor(z=z)
    model = scorer.raw_model("ich_cnn")
    occ = {}
    for name, idx in (("stride 16", 0), ("stride 32", 1)):
        overlay.occlusion_grid.setCurrentIndex(idx)
        patch, stride = overlay.occlusion_grid.currentData()
        p_s, d_s = [], []
        for _ in range(args.repeats):
            overlay.cache.clear()
            t0 = time.perf_counter()
            overlay.run_occlusion("subdural", z)
            wait(overlay.occlusion_runner.finished)
            p_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hu = scorer.slices(vol)
            occlusion_map(model, ich_input(hu[z:z + 1])[0], hu[z], patch=patch, stride=stride)
            d_s.append(time.perf_counter() - t0)
        occ[name] = (statistics.median(p_s), statistics.median(d_s), overlay.last_occlusion.passes)

    med = statistics.median
    print(f"demo CT {vol.shape}, {args.repeats} repeats, provider {model.provider}, load average {os.getloadavg()[0]:.2f}")
    print(f"first scoring from the panel (model sessions opened): {cold:.2f} s")
    print(f"scoring ICH + BG: panel (worker thread) {med(panel_s):.2f} s vs direct {med(direct_s):.2f} s = {med(panel_s) / med(direct_s):.2f}x; "
          f"longest event-loop stall while scoring {med(stalls) * 1000:.0f} ms (median of runs)")
    for name, (p, d, passes) in occ.items():
        print(f"occlusion slice {z}, patch 32 {name} ({passes} model runs): panel {p:.2f} s vs direct {d:.2f} s = {p / d:.2f}x")
    findings.shutdown()
    overlay.shutdown()
    app.processEvents()


if __name__ == "__main__":
    main()
