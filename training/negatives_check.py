"""Real negatives read as stored and as thin slices: does a series model call blood where there is none?

    python -m training.negatives_check [--models DIR] [--shared ../shared/data] [--json OUT]

Why (stop 24): the head-centred series model SC held every clause of its validation rule, then called "any" 0.575 and
subdural 0.987 on the normal GE head read as 1 mm slices (0.7.1: 0.082 and 0.226). No clause read a real negative
as a thin reconstruction, though thin series are common (CQ500 ships both). This check is meant for the next rule.

Readings (never a test patient):
- the bundled real normal demo (the GE head, BSD-2, resources/demo), through CTScorer exactly as the app scores it:
  as stored (4 mm) and resampled to 2 mm and 1 mm with the noise of a thinner reconstruction (core.tasks.slabs then
  averages the thin slices into ~5 mm slabs);
- with ../shared/data: every bleed-free CT-ICH validation series as stored and "thin", each 5 mm slice interpolated
  into five 1 mm slices with that noise and averaged back into slabs as core.tasks.slabs does, read through
  training.series_outputs (head-centred when the models' card asks, as the app): with the slabs on the original
  slices (the realistic case) and straddling two slices as the GE reading does (thin_series_img: a harsher partial
  volume; 0.7.1 calls a subdural on all six of them, stop 24, so that reading is context, not a pass mark).
Exit status 1 when any reading is flagged at the series model's card thresholds (compare a candidate's list with the
current model's: the straddling readings are flagged by 0.7.1 too).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.imaging.pseudo_hu import hu_to_window8, window8_to_hu
from core.io import load
from core.models.centring import HEAD_LEVEL
from core.models.registry import ModelRegistry
from core.paths import demo_normal_ct_dir
from core.tasks.ct import ICH_LABELS, CTScorer
from core.tasks.slabs import slab_average, slab_plan
from core.volume import Volume

THIN_NOISE_HU = 3.0  # per sqrt(slices merged): thin reconstructions are noisier (tests/core/tasks/test_slabs.py)
TISSUE_HU = -200.0


def thin_voxels(hu: np.ndarray, dz: float, to_mm: float, seed: int = 0, tissue: np.ndarray | None = None) -> np.ndarray:
    """[z, y, x] HU at dz mm -> the same head at to_mm mm: linear in z, plus the extra noise of a thinner slice in tissue
    (`tissue`, bool like `hu`; HU above TISSUE_HU when not given)."""
    factor = dz / to_mm
    vox = ndimage.zoom(hu, (factor, 1, 1), order=1).astype(np.float32)
    where = vox > TISSUE_HU if tissue is None else ndimage.zoom(tissue.astype(np.uint8), (factor, 1, 1), order=0).astype(bool)
    sigma = THIN_NOISE_HU * np.sqrt(max(factor - 1.0, 0.0))
    vox += np.random.default_rng(seed).normal(0, sigma, vox.shape).astype(np.float32) * where
    return vox


def thin_volume(vol: Volume, to_mm: float, seed: int = 0) -> Volume:
    dz = float(vol.spacing[0])
    aff = vol.affine.copy()
    aff[:3, 2] *= to_mm / dz
    return dataclasses.replace(vol, voxels=thin_voxels(vol.voxels, dz, to_mm, seed), affine=aff)


def aligned_thin_voxels(hu: np.ndarray, per_slice: int, seed: int = 0, tissue: np.ndarray | None = None) -> np.ndarray:
    """[z, y, x] -> [z * per_slice, y, x]: each slice k becomes per_slice thinner slices centred on it (positions k - 0.4 ..
    k + 0.4 for 5, linear between neighbours, clamped at the ends), with the noise of thinner slices in tissue. Slabs of
    per_slice then sit on the original slices, as a thick reconstruction of a thin series covers the same anatomy."""
    z = len(hu)
    offsets = (np.arange(per_slice) - (per_slice - 1) / 2) / per_slice
    pos = np.clip((np.arange(z)[:, None] + offsets[None, :]).ravel(), 0, z - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, z - 1)
    w = (pos - lo).astype(np.float32)[:, None, None]
    vox = (1 - w) * hu[lo] + w * hu[hi]
    where = (vox > TISSUE_HU) if tissue is None else tissue[np.rint(pos).astype(int)]
    sigma = THIN_NOISE_HU * np.sqrt(max(per_slice - 1.0, 0.0))
    vox += np.random.default_rng(seed).normal(0, sigma, vox.shape).astype(np.float32) * where
    return vox.astype(np.float32)


def thin_series_img(img: np.ndarray, dz: float = 5.0, to_mm: float = 1.0, seed: int = 0, aligned: bool = False) -> np.ndarray:
    """An 8-bit series at dz mm read as the app would read its thin reconstruction: pseudo-HU, thinned, averaged back
    into slabs (core.tasks.slabs), exported to the brain window again. `aligned`: slabs on the original slices
    (aligned_thin_voxels); otherwise resampled as the GE test does (ndimage.zoom), whose slabs straddle neighbouring
    slices, so each blends two slices dz apart: a thicker partial volume than any real slab (skull contours doubled
    near the vertex and the base)."""
    # the export saturates air and fat at grey level 0 (0 HU here), so tissue is what lies above the head threshold
    hu, tissue = window8_to_hu(img).hu, img > HEAD_LEVEL
    if aligned:
        thin = aligned_thin_voxels(hu, int(round(dz / to_mm)), seed, tissue)
    else:
        thin = thin_voxels(hu, dz, to_mm, seed, tissue=tissue)
    return hu_to_window8(slab_average(thin, slab_plan(len(thin), to_mm)))


def _row(name: str, probs: dict[str, float], thresholds: dict[str, float]) -> dict:
    flagged = [lab for lab in ICH_LABELS if probs[lab] >= thresholds.get(lab, 0.5)]
    return {"reading": name, "flagged": flagged, "series_probs": {k: round(float(v), 4) for k, v in probs.items()}}


def check(scorer: CTScorer, shared: Path | None, cache: Path | None) -> list[dict]:
    thr = {k: float(v) for k, v in scorer.model("ich_bilstm").card.thresholds.items()}
    rows = []
    vol = load(demo_normal_ct_dir())
    for mm in (None, 2.0, 1.0):
        v = vol if mm is None else thin_volume(vol, mm)
        res = CTScorer(scorer.registry, scorer.threads).score_ich(v)  # a new scorer per reading: no cached slabs
        name = f"GE normal demo as stored ({vol.spacing[0]:.0f} mm)" if mm is None else f"GE normal demo at {mm:g} mm"
        row = _row(name, res.series_probs, thr)
        row["in_distribution"] = bool(res.ood.in_distribution)
        rows.append(row)
    if shared is not None and (shared / "ct-ich").is_dir():
        from training.ct_real import load_all
        from training.series_outputs import series_scores

        series, splits = load_all(shared, cache or Path("/tmp/nr_cache"))
        clean = [s for s in series if s.source == "ct-ich" and splits[s.patient] == "val" and (s.labels[:, 0] == 0).all()]  # labels known and no blood
        for s in clean:
            for name, img in (("as stored", s.img), ("at 1 mm, slabs aligned", thin_series_img(s.img, aligned=True)),
                              ("at 1 mm, slabs straddling", thin_series_img(s.img))):
                p = series_scores([dataclasses.replace(s, img=img)], scorer, cache)[1][0]
                rows.append(_row(f"CT-ICH val {s.patient} {name}", dict(zip(ICH_LABELS, p)), thr))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help="a folder of CT models instead of the bundled ones (e.g. training.bilstm_refit's DIR/models)")
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--cache", default="/tmp/nr_cache")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    scorer = CTScorer(ModelRegistry([Path(args.models)]) if args.models else ModelRegistry(), threads=2)
    shared = Path(args.shared)
    if not (shared / "ct-ich").is_dir():
        print(f"{shared}: no ct-ich folder, so only the bundled GE demo is read")
    rows = check(scorer, shared if (shared / "ct-ich").is_dir() else None, Path(args.cache))
    m = scorer.model("ich_bilstm").card
    print(f"series model {m.name} {m.version}{' (reads series head-centred)' if scorer.centres_series else ''}")
    for r in rows:
        top = max(r["series_probs"], key=r["series_probs"].get)
        print(f"  {r['reading']:<40} {'FLAGGED ' + ', '.join(r['flagged']) if r['flagged'] else 'nothing flagged':<40} "
              f"(highest: {top} {r['series_probs'][top]:.3f})")
    n_flagged = sum(bool(r["flagged"]) for r in rows)
    print(f"{n_flagged} of {len(rows)} readings of real negatives flagged")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": f"{m.name} {m.version}", "rows": rows}, indent=1))
    return 1 if n_flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
