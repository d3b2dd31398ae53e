"""Regenerate the bundled demo cases in resources/demo/ (`scripts/make_demo.sh`).

CT: three 5 mm series, RLE-compressed DICOM (lossless, small enough to commit):
  ct/hemorrhage  subdural + intraventricular hemorrhage (the README's demo case)
  ct/normal      no hemorrhage (with basal-ganglia calcification, a mimic)
  ct/bg_left     basal-ganglia hematoma on the patient's left
MRI: three skull strips of one generated T1 head (mri/good, mri/face_kept, mri/brain_cut .nii.gz).
Truth is written to resources/demo/labels.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from training.synth.ct import make_ct_case
from training.synth.rsna import write_series

ROOT = Path(__file__).resolve().parents[2]
CT_DEMOS = {
    "hemorrhage": dict(seed=20241, lesions=("subdural", "intraventricular"), bg_side="none"),
    "normal": dict(seed=20242, lesions=(), bg_side="none", calcified=True),
    "bg_left": dict(seed=20243, lesions=(), bg_side="left"),
}


def make_ct_demos(out: Path) -> dict:
    truth = {}
    for name, kw in CT_DEMOS.items():
        kw = dict(kw)
        seed = kw.pop("seed")
        case = make_ct_case(seed, **kw)
        folder = out / "ct" / name
        if folder.exists():
            shutil.rmtree(folder)
        write_series(case, folder, compress=True)
        truth[f"ct/{name}"] = {
            "modality": "CT", "seed": seed, "slices": int(case.hu.shape[0]),
            "series_labels": case.series_labels, "bg_side": case.bg_side, "calcification": bool(case.calcified),
            "positive_slices": {k: [int(i) for i in v.nonzero()[0]] for k, v in case.slice_labels.items() if v.any()},
        }
        print(f"wrote {folder}: {case.hu.shape[0]} slices, labels {[k for k, v in case.series_labels.items() if v]}, BG {case.bg_side}")
    return truth


MRI_DEMOS = {"good": "good", "face_kept": "loose", "brain_cut": "tight"}


def make_mri_demos(out: Path, subject: int = 7) -> dict:
    from training.synth.mri import make_mri_head, strip, write_nifti

    head = make_mri_head(subject)
    truth = {}
    (out / "mri").mkdir(parents=True, exist_ok=True)
    for name, setting in MRI_DEMOS.items():
        s = strip(head, subject * 100 + len(truth), setting)
        want = {"good": (False, False), "face_kept": (True, False), "brain_cut": (False, True)}[name]
        if (s.face_label, s.brain_loss_label) != want:
            raise RuntimeError(f"demo {name}: drawn strip has labels {(s.face_label, s.brain_loss_label)}; pick another seed")
        write_nifti(s, out / "mri" / f"{name}.nii.gz")
        truth[f"mri/{name}.nii.gz"] = {"modality": "MR", "subject": subject, "setting": s.setting,
                                       "Recognizable-Facial-Feature": "Yes" if s.face_label else "No",
                                       "Brain-Feature-Loss": "Yes" if s.brain_loss_label else "No",
                                       "face_kept_frac": round(s.face_kept_frac, 4), "brain_lost_frac": round(s.brain_lost_frac, 4)}
        print(f"wrote mri/{name}.nii.gz: face kept {s.face_kept_frac:.0%}, brain lost {s.brain_lost_frac:.0%}")
    return truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "resources" / "demo"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    labels_path = out / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    labels.update(make_ct_demos(out))
    labels.update(make_mri_demos(out))
    labels_path.write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
