"""Figure of the demo's generated bleed on the real GE head CT: native slices before and after, brain and
subdural windows, with the inserted blood outlined (partial-volume weight >= 0.5).

    python -m training.synth.figure_real_bleed [--src ../shared/data/ct-ge-head-tilt] [--out docs/demo_real_bleed.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from core.imaging.windows import PRESETS, window_unit  # noqa: E402
from training.synth.demo_real import ROOT, SRC, _hu, _read, bleed_slices  # noqa: E402

SHOW = (13, 17, 18, 19, 21)  # native slices: subdural alone, subdural + IVH, high subdural


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=str(SRC))
    parser.add_argument("--out", default=str(ROOT / "docs" / "demo_real_bleed.png"))
    args = parser.parse_args()
    src = Path(args.src)
    before = _read(src)
    after = _read(src)
    weights = bleed_slices(after, ("subdural", "intraventricular"))
    fig, axes = plt.subplots(3, len(SHOW), figsize=(3.2 * len(SHOW), 10), facecolor="black")
    for j, i in enumerate(SHOW):
        h0, _ = _hu(before[i])
        h1, _ = _hu(after[i])
        w = weights.get(i, {})
        rows = [(h0, "brain", "original"), (h1, "brain", "with generated blood"), (h1, "subdural", "subdural window, blood outlined")]
        for r, (img, win, title) in enumerate(rows):
            ax = axes[r, j]
            ax.imshow(window_unit(img, PRESETS[win]), cmap="gray", vmin=0, vmax=1)
            if r == 2:
                for kind, colour in (("subdural", "#ff6b6b"), ("intraventricular", "#69db7c")):
                    if kind in w:
                        ax.contour(w[kind] >= 0.5, levels=[0.5], colors=colour, linewidths=0.8)
            ax.set_title(f"slice {i + 1}: {title}" if r else f"slice {i + 1} ({', '.join(w) or 'no blood'})", color="w", fontsize=8)
            ax.axis("off")
    fig.suptitle("Demo: real GE head CT (BSD-2) with a generated acute subdural (red, patient right) and intraventricular (green) "
                 "bleed, 64-72 HU, partial-volume edges. Image left = patient right.", color="w", fontsize=10)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, facecolor="black")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
