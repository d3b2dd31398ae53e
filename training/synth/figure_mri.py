"""Figure of the generated skull strips: mid-sagittal and axial slices of a good strip, one that kept
the face and one that cut brain, with the reference brain outlined (red) and the face region (blue).

    python -m training.synth.figure_mri [--out docs/synth_mri.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.synth.mri import load_template, make_mri_head, strip  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/synth_mri.png")
    args = parser.parse_args()
    tpl = load_template()
    head = make_mri_head(3, tpl)
    cases = [("good", strip(head, 31, "good")), ("face kept (too loose)", strip(head, 32, "loose")), ("brain cut (too tight)", strip(head, 33, "tight"))]
    fig, axes = plt.subplots(2, 3, figsize=(12, 8), facecolor="black")
    for j, (title, s) in enumerate(cases):
        x_mid = s.stripped.shape[0] // 2
        z_ax = int(np.argmax(s.face.sum(axis=(0, 1)))) + 12
        vmax = np.percentile(head.image[head.head], 99)
        for i, (img, brain, face) in enumerate(((s.stripped[x_mid].T, s.brain[x_mid].T, s.face[x_mid].T),
                                                 (s.stripped[:, :, z_ax].T, s.brain[:, :, z_ax].T, s.face[:, :, z_ax].T))):
            ax = axes[i, j]
            ax.imshow(img, cmap="gray", origin="lower", vmin=0, vmax=vmax)
            ax.contour(brain, levels=[0.5], colors="red", linewidths=0.7)
            ax.contour(face, levels=[0.5], colors="deepskyblue", linewidths=0.7)
            ax.axis("off")
            if i == 0:
                ax.set_title(f"{title}\nface kept {s.face_kept_frac:.0%}, brain lost {s.brain_lost_frac:.0%}\n"
                             f"labels: face={'Yes' if s.face_label else 'No'}, loss={'Yes' if s.brain_loss_label else 'No'}",
                             color="white", fontsize=10)
    fig.text(0.5, 0.02, "red: reference brain (deepbet); blue: face region (pydeface mask); top: mid-sagittal, bottom: axial",
             color="white", ha="center")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70, facecolor="black")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
