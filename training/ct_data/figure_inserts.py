"""Figure of generated hemorrhages inserted into real bleed-free head CT slices (training.ct_data.insert),
as the CT trainer draws them: each subtype on real CT-ICH anatomy of training patients, shown as the model's
brain window without marks and with the blood outlined. Extra-axial blood is drawn distinct from the
saturated skull (stop 16).

    python -m training.ct_data.figure_inserts [--shared ../shared/data] [--out docs/ct_inserts_real.png]
    python -m training.ct_data.figure_inserts --kinds subdural subdural_thin --real subdural --out docs/ct_inserts_thin_subdural.png

--real LABEL adds a first row of real training slices with that label (no outline: CT-ICH has none), to hold the
inserts beside what they imitate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from core.imaging.pseudo_hu import hu_to_window8, window8_to_hu  # noqa: E402
from training.ct_data.insert import KINDS, LABEL_OF_KIND, anatomy, insert_lesion  # noqa: E402
from training.datasets.rsna import ICH_LABELS  # noqa: E402
from training.ct_data.real import load_ct_ich, load_splits  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--out", default="docs/ct_inserts_real.png")
    ap.add_argument("--per-kind", type=int, default=3)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=[*KINDS, *LABEL_OF_KIND])
    ap.add_argument("--real", default=None, choices=ICH_LABELS[1:], help="first row: real training slices with this label")
    args = ap.parse_args(argv)
    series = load_ct_ich(Path(args.shared) / "ct-ich", Path(args.cache) / "real")
    splits = load_splits(series)
    clean = [s.img[z] for s in series if splits[s.patient] == "train" and s.labels[:, 0].max() == 0 for z in range(len(s.img))]
    hus = [window8_to_hu(im).hu for im in clean]
    rng = np.random.default_rng(args.seed)
    mid = [i for i, hu in enumerate(hus) if (an := anatomy(hu)) is not None and an.intracranial.mean() >= 0.18]
    rows = ([f"real {args.real}"] if args.real else []) + list(args.kinds)
    fig, axes = plt.subplots(len(rows), 2 * args.per_kind, figsize=(2.1 * 2 * args.per_kind, 2.3 * len(rows)), facecolor="black", squeeze=False)
    if args.real:
        j = ICH_LABELS.index(args.real)
        real = [(s.patient, s.img[z]) for s in series if splits[s.patient] == "train" for z in range(len(s.img)) if s.labels[z, j] > 0]
        for c, k in enumerate(rng.choice(len(real), size=min(len(real), 2 * args.per_kind), replace=False)):
            ax = axes[0, c]
            ax.imshow(real[k][1], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"real {args.real}, patient {real[k][0]}", color="white", fontsize=7)
            ax.axis("off")
    for r, kind in enumerate(args.kinds, start=1 if args.real else 0):
        done = 0
        for i in rng.permutation(mid):
            if done == args.per_kind:
                break
            res = insert_lesion(hus[i], kind, rng)
            if res is None:
                continue
            img = hu_to_window8(res[0])
            for k, outlined in enumerate((False, True)):
                ax = axes[r, 2 * done + k]
                ax.imshow(img, cmap="gray", vmin=0, vmax=255)
                if outlined:
                    ax.contour(res[1], levels=[0.5], colors="red", linewidths=0.6)
                ax.set_title(f"{kind}{' (outlined)' if outlined else ''}", color="white", fontsize=7)
                ax.axis("off")
            done += 1
    fig.suptitle("Generated blood inserted into real bleed-free CT-ICH slices (training patients), brain window 40/80; "
                 "image left = patient right", color="white", fontsize=9)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, facecolor="black")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
