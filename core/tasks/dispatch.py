"""Which bundled analyses apply to a volume: one decision for the viewer, the headless path and the CLI.

Before this each caller decided by modality on its own (the viewer ran the MRI skull-strip model on
anything not typed CT, so a NIfTI head CT got "brain cut"). Here a volume gets the CT models only when
the CT input checks pass, the skull-strip QC only when it is an MRI volume, and otherwise no model with
the reason, which the callers show instead of running the wrong model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.models.preprocess import check_ct_series
from core.volume import Volume

CT_ICH = "ct_ich"
CT_BG = "ct_bg"
MR_SKULLSTRIP = "mr_skullstrip_qc"
#: modalities the skull-strip QC accepts: MRI, and DICOM without a modality (OT / empty) that is not CT-like
MR_MODALITIES = ("MR", "MRI")
UNTYPED_MODALITIES = ("OT", "")


@dataclass(frozen=True)
class Analyses:
    """The analyses to run (in order) and, when there are none, why."""

    tasks: tuple[str, ...]
    reason: str = ""

    @property
    def kind(self) -> str | None:
        """'ct' | 'mr' | None: which scorer family runs."""
        if CT_ICH in self.tasks or CT_BG in self.tasks:
            return "ct"
        if MR_SKULLSTRIP in self.tasks:
            return "mr"
        return None

    @property
    def applies(self) -> bool:
        return bool(self.tasks)

    def __contains__(self, task: str) -> bool:
        return task in self.tasks


def none_apply(reason: str) -> Analyses:
    return Analyses((), f"no model applies: {reason}")


def _looks_like_hu(volume: Volume) -> bool:
    v = volume.voxels
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    return lo <= -500 and hi >= 300


def analyses_for(volume: Volume) -> Analyses:
    """CT ICH + BG for a head CT series the CT models accept; MRI skull-strip QC for a 3-D MRI volume;
    otherwise none, with the reason ("no model applies: ...")."""
    modality = (volume.modality or "").upper()
    if modality == "CT":
        try:
            check_ct_series(volume, "CT scoring")
        except InputError as exc:
            return none_apply(exc.message)
        return Analyses((CT_ICH, CT_BG))
    if modality in MR_MODALITIES or modality in UNTYPED_MODALITIES:
        if modality in UNTYPED_MODALITIES and _looks_like_hu(volume):
            return none_apply("the volume has no modality but holds Hounsfield-like values; "
                              "give --modality CT to score it as a head CT")
        if volume.voxels.ndim != 3 or min(volume.shape) < 8:
            return none_apply(f"the skull-strip QC needs a 3-D MRI volume; this one is {'x'.join(map(str, volume.shape))}")
        if float(np.ptp(volume.voxels)) == 0.0:
            return none_apply("the volume is constant")
        return Analyses((MR_SKULLSTRIP,))
    return none_apply(f"the bundled models read head CT and brain MRI; this volume is {modality}")
