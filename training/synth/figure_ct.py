"""Figure of the generated head CT: each subtype in brain and subdural windows beside its mask, and
the intracranial HU histogram of a generated series beside a real head CT's.

    python -m training.synth.figure_ct [--real ../shared/data/ct-ge-head-tilt] [--out docs/synth_ct.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from core.imaging.windows import PRESETS, window_unit  # noqa: E402
from training.synth.ct import make_ct_case  # noqa: E402

PANELS = [
    ("epidural", dict(lesions=("epidural",), bg_side="none")),
    ("subdural", dict(lesions=("subdural",), bg_side="none")),
    ("intraparenchymal", dict(lesions=("intraparenchymal",), bg_side="none")),
    ("intraventricular", dict(lesions=("intraventricular",), bg_side="none")),
    ("subarachnoid", dict(lesions=("subarachnoid",), bg_side="none")),
    ("bg_hematoma", dict(lesions=(), bg_side="left")),
    ("bg_hematoma", dict(lesions=(), bg_side="right")),
    ("calcification", dict(lesions=(), bg_side="none", calcified=True)),
]


def intracranial_hu(voxels: np.ndarray) -> np.ndarray:
    """HU inside the skull: fill each slice's bone ring, remove bone, keep the largest region."""
    out = []
    for sl in voxels:
        bone = sl > 300
        if bone.sum() < 500:
            continue
        filled = ndimage.binary_fill_holes(ndimage.binary_closing(bone, iterations=3))
        inner = ndimage.binary_erosion(filled & ~ndimage.binary_dilation(bone, iterations=2), iterations=2)
        lab, n = ndimage.label(inner)
        if n == 0:
            continue
        sizes = ndimage.sum(inner, lab, range(1, n + 1))
        region = lab == (1 + int(np.argmax(sizes)))
        if region.sum() > 2000:
            out.append(sl[region])
    return np.concatenate(out) if out else np.zeros(0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--real", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ct-ge-head-tilt"))
    parser.add_argument("--out", default="docs/synth_ct.png")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    fig, axes = plt.subplots(len(PANELS) // 2, 6, figsize=(18, 3.1 * len(PANELS) // 2), facecolor="black")
    for i, (kind, kw) in enumerate(PANELS):
        case = make_ct_case(args.seed + i, **kw)
        mask = case.masks[kind]
        k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
        sl = case.hu[k][::-1, ::-1].astype(np.float32)  # radiological: patient left on image right
        m = mask[k][::-1, ::-1]
        row, col = divmod(i, 2)
        title = kind if kind != "bg_hematoma" else f"BG hematoma ({case.bg_side})"
        for j, (img, name) in enumerate(((window_unit(sl, PRESETS["brain"]), "brain 80/40"),
                                         (window_unit(sl, PRESETS["subdural"]), "subdural 200/80"), (m, "mask"))):
            ax = axes[row, col * 3 + j]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="bilinear")
            ax.set_title(f"{title}: {name}" if j == 0 else name, color="white", fontsize=9)
            ax.axis("off")
        axes[row, col * 3].text(8, 500, "R", color="yellow", fontsize=9)
        axes[row, col * 3].text(490, 500, "L", color="yellow", fontsize=9)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70, facecolor="black")
    plt.close(fig)
    print(f"wrote {out}")

    # histogram: generated normal series vs the real head CT
    gen = intracranial_hu(make_ct_case(args.seed, lesions=(), bg_side="none").hu.astype(np.float32))
    real_path = Path(args.real)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.arange(-30, 101, 2)
    ax.hist(gen, bins=bins, density=True, alpha=0.6, label="generated (normal case)")
    rows = [("generated", gen)]
    if real_path.is_dir():
        from core.io import load

        real = intracranial_hu(load(real_path).voxels)
        ax.hist(real, bins=bins, density=True, alpha=0.6, label=f"real: {real_path.name}")
        rows.append(("real", real))
    ax.set_xlabel("HU (intracranial)")
    ax.set_ylabel("density")
    ax.legend()
    hist_out = out.with_name(out.stem + "_hu_histogram.png")
    fig.tight_layout()
    fig.savefig(hist_out, dpi=80)
    plt.close(fig)
    print(f"wrote {hist_out}")
    print(f"{'series':<10} {'n voxels':>10} {'p5':>6} {'p25':>6} {'median':>7} {'p75':>6} {'p95':>6}  frac 0-20 HU  frac 20-50 HU")
    for name, vals in rows:
        v = vals[(vals > -100) & (vals < 200)]
        p = np.percentile(v, [5, 25, 50, 75, 95])
        print(f"{name:<10} {v.size:>10} {p[0]:>6.1f} {p[1]:>6.1f} {p[2]:>7.1f} {p[3]:>6.1f} {p[4]:>6.1f}  "
              f"{np.mean((v >= 0) & (v < 20)):>12.2f}  {np.mean((v >= 20) & (v < 50)):>13.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
