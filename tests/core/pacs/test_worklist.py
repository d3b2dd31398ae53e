"""Worklist ordering and the quiet-period life cycle of a series (real SQLite, real scoring where needed)."""

from __future__ import annotations

from core.pacs.findings import Findings, ood_text
from core.pacs.triage import Triage
from core.pacs.worklist import InstanceInfo, Worklist

LABELS = ("any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural")


def _findings(p_any: float, flagged: list[str]) -> Findings:
    probs = {lab: (p_any if lab == "any" else 0.1) for lab in LABELS}
    return Findings(LABELS, probs, {lab: 0.5 for lab in LABELS}, flagged, 0.1, "none", 0.5, [], None)


def test_flagged_first_then_by_p_any_then_unscored(tmp_path):
    wl = Worklist(tmp_path / "wl.sqlite")
    for i, (uid, p, flags) in enumerate([("a", 0.30, []), ("b", 0.55, ["any"]), ("c", 0.45, []), ("d", None, None),
                                         ("e", 0.95, ["any", "subdural"])]):
        wl.note_instance(InstanceInfo("study-" + uid, uid, modality="CT"), str(tmp_path), now=1000.0 + i)
        if p is not None:
            assert wl.claim(uid, 1000.0 + i)
            wl.set_findings(uid, _findings(p, flags))
    assert [r.series_uid for r in wl.rows()] == ["e", "b", "c", "a", "d"]
    assert wl.get("e").flagged_labels() == ["any", "subdural"] and wl.get("e").status == "scored"


def test_quiet_period_claim_and_rescore_on_late_instances(tmp_path):
    wl = Worklist(tmp_path / "wl.sqlite")
    info = InstanceInfo("st", "se", modality="CT")
    wl.note_instance(info, "f", now=100.0)
    wl.note_instance(info, "f", now=105.0)
    assert wl.due(10.0, now=110.0) == []  # only 5 s quiet
    (row,) = wl.due(10.0, now=115.0)
    assert row.instances == 2
    wl.note_instance(info, "f", now=116.0)  # arrives after it was seen due: the claim must fail
    assert not wl.claim("se", row.last_received)
    (row,) = wl.due(10.0, now=126.0)
    assert wl.claim("se", row.last_received) and wl.due(10.0, now=200.0) == []
    assert wl.recover() == 1 and wl.get("se").status == "receiving"  # crashed mid-scoring: scored again


def test_triage_scores_real_ct_and_explains_what_it_skips(tmp_path):
    from tests.core.pacs.helpers import DEMO

    import pydicom

    wl = Worklist(tmp_path / "wl.sqlite")
    src = pydicom.dcmread(next((DEMO / "hemorrhage").glob("*.dcm")), stop_before_pixels=True)
    wl.note_instance(InstanceInfo(src.StudyInstanceUID, src.SeriesInstanceUID, src.PatientID, modality="CT"),
                     str(DEMO / "hemorrhage"), now=0.0)
    wl.note_instance(InstanceInfo("s2", "mr-series", modality="MR"), str(tmp_path), now=0.0)
    wl.note_instance(InstanceInfo("s3", "broken", modality="CT"), str(tmp_path / "missing"), now=0.0)
    triage = Triage(wl, quiet_s=1.0)
    assert triage.run_due() == 3
    ct = wl.get(src.SeriesInstanceUID)
    assert ct.status == "scored" and ct.findings_obj().probs["any"] == ct.p_any
    assert ct.findings_obj().flagged == ct.flagged_labels()
    assert wl.get("mr-series").status == "not-scored" and "only head CT" in wl.get("mr-series").error
    assert wl.get("broken").status == "failed" and "missing" in wl.get("broken").error
    assert (ct.findings_obj().ood is None) == (ood_text(ct.findings_obj().ood) == "n/a")  # "n/a" only when the model gave none
