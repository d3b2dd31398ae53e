"""The AI results as a DICOM Comprehensive 3D SR following TID 1500 (Measurement Report).

One measurement group per ICH label (series probability, decision threshold, flag present/absent,
the algorithm's name, version and sha256), one for basal-ganglia hemorrhage with the patient-side
laterality, and one for the input check (out-of-distribution distance and verdict) and one for the orientation check (median
P(turned) against its threshold) when the scorer gives them. Patient and study modules come from the source series (highdicom copies them from the
evidence), every source instance is listed as evidence and in the image library, and the
"research use, not for clinical use" statement is in the series description and a comment item.

Concept codes for the labels are local (scheme 99NRVW): the project does not claim SNOMED codes it
has not checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from core import __version__
from core.pacs.findings import INTENDED_USE, Findings, ood_text

SCHEME = "99NRVW"
LABEL_MEANING = {
    "any": "Intracranial hemorrhage (any type)",
    "epidural": "Epidural hemorrhage",
    "intraparenchymal": "Intraparenchymal hemorrhage",
    "intraventricular": "Intraventricular hemorrhage",
    "subarachnoid": "Subarachnoid hemorrhage",
    "subdural": "Subdural hemorrhage",
}
PROBABILITY = Code("PROB", SCHEME, "Model probability")
THRESHOLD = Code("THR", SCHEME, "Decision threshold")
FLAG = Code("FLAG", SCHEME, "Flagged by the model at its threshold")
BG = Code("BGH", SCHEME, "Basal-ganglia hemorrhage")
LATERALITY = Code("LAT", SCHEME, "Laterality (patient side)")
OOD = Code("OOD", SCHEME, "Input outside the training distribution")
OOD_DISTANCE = Code("OODD", SCHEME, "Distance to training data (1 = 99th pct of validation)")
TURNED = Code("TURN", SCHEME, "Head not anterior up (turned)")
TURNED_PROB = Code("TURNP", SCHEME, "Median probability the head is turned")
UNITLESS = Code("1", "UCUM", "no units")
CT_HEAD = Code("24725-4", "LN", "CT Head")
COMMENT = Code("121106", "DCM", "Comment")
SIDE = {"left": codes.SCT.Left, "right": codes.SCT.Right,
        "none": Code("NONE", SCHEME, "No basal-ganglia hemorrhage"),
        "unverified": Code("UNVER", SCHEME, "Side not determinable: geometry unverified")}
SERIES_DESCRIPTION = "NeuroReview AI results - research use only, not for clinical use"


def label_code(label: str) -> Code:
    return Code(label.upper()[:16], SCHEME, LABEL_MEANING.get(label, label))


def _algorithm(models: Sequence[dict], names: Sequence[str]):
    from highdicom.sr import AlgorithmIdentification

    chosen = [m for m in models if m["name"] in names] or list(models)
    head = chosen[-1]
    params = [f"{m['name']} {m['version']} sha256={m['sha256']}" for m in chosen]
    return AlgorithmIdentification(name=head["name"], version=str(head["version"]), parameters=params)


def _group(tracking: str, finding: Code, prob: float, thr: float, flagged: bool, algorithm, extra=(), name: Code = PROBABILITY):
    from highdicom.sr import Measurement, MeasurementsAndQualitativeEvaluations, QualitativeEvaluation, TrackingIdentifier

    meas = [Measurement(name=name, value=round(float(prob), 6), unit=UNITLESS, algorithm_id=algorithm),
            Measurement(name=THRESHOLD, value=float(thr), unit=UNITLESS)]
    quals = [QualitativeEvaluation(FLAG, codes.SCT.Present if flagged else codes.SCT.Absent), *extra]
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier=tracking),
        finding_type=finding, algorithm_id=algorithm, measurements=meas, qualitative_evaluations=quals)


# Type 2 attributes of the Patient and General Study modules: required present, may be empty
TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
         "ReferringPhysicianName", "StudyID", "AccessionNumber")


def with_type2(ds: Dataset) -> Dataset:
    """A copy whose missing Type 2 patient/study attributes are present and empty (as the standard allows),
    so results for a source that omitted them (like the generated demo) still copy the modules."""
    out = Dataset(ds)
    for kw in TYPE2:
        if kw not in out:
            setattr(out, kw, "")
    return out


def build_sr(findings: Findings, sources: Sequence[Dataset], series_number: int = 9901, instance_number: int = 1):
    """The SR dataset for one scored series; `sources` are that series' headers (pixels not needed)."""
    from highdicom.sr import (Comprehensive3DSR, DeviceObserverIdentifyingAttributes, MeasurementReport,
                              ObservationContext, ObserverContext, QualitativeEvaluation)

    if not sources:
        raise ValueError("the SR needs the source series' headers")
    sources = [with_type2(ds) for ds in sources]
    device = DeviceObserverIdentifyingAttributes(uid=generate_uid(), name="NeuroReview", manufacturer_name="NeuroReview project",
                                                 model_name=f"neuroreview {__version__}")
    context = ObservationContext(observer_device_context=ObserverContext(observer_type=codes.DCM.Device,
                                                                         observer_identifying_attributes=device))
    ich_alg = _algorithm(findings.models, ("ich_cnn", "ich_bilstm"))
    groups = [_group(f"ICH {lab}", label_code(lab), findings.probs[lab], findings.thresholds[lab], lab in findings.flagged,
                     ich_alg) for lab in findings.labels]
    bg_extra = [QualitativeEvaluation(LATERALITY, SIDE.get(findings.bg_side, SIDE["unverified"]))]
    groups.append(_group("BG laterality", BG, findings.bg_p_hemorrhage, findings.bg_threshold,
                         findings.bg_side in ("left", "right"), _algorithm(findings.models, ("bg_laterality",)), bg_extra))
    if findings.ood is not None:  # the input check: distance of the slices to the training data
        o = findings.ood
        groups.append(_group("Input check", OOD, o["score"], o["threshold"], not o["in_distribution"],
                             _algorithm(findings.models, ("ich_ood",)), name=OOD_DISTANCE))
        if o.get("turned_threshold") is not None:  # the orientation check (ich_ood 0.5 on): its own structured group
            groups.append(_group("Orientation check", TURNED, o["turned_prob_median"], o["turned_threshold"], bool(o["turned"]),
                                 _algorithm(findings.models, ("ich_ood",)), name=TURNED_PROB))
    report = MeasurementReport(observation_context=context, procedure_reported=CT_HEAD, imaging_measurements=groups,
                               referenced_images=list(sources))
    _add_comment(report, INTENDED_USE + f" OOD check: {ood_text(findings.ood)}.")
    sr = Comprehensive3DSR(evidence=list(sources), content=report[0], series_instance_uid=generate_uid(),
                           series_number=series_number, sop_instance_uid=generate_uid(), instance_number=instance_number,
                           manufacturer="NeuroReview project", is_complete=True, is_final=False, is_verified=False,
                           series_description=SERIES_DESCRIPTION)
    return sr


def _add_comment(report, text: str) -> None:
    from highdicom.sr import RelationshipTypeValues, TextContentItem

    report[0].ContentSequence.append(TextContentItem(name=COMMENT, value=text,
                                                     relationship_type=RelationshipTypeValues.CONTAINS))
