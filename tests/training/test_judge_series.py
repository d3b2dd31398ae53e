"""training.judge_series: the keep rule read off two series_vs_slices reports, every clause able to fail."""

from __future__ import annotations

import copy
import json

import pytest

from training.datasets.rsna import ICH_LABELS
from training.judge_series import BOTH, INSERTS, POOLED, judge, main, verdict


def _block(auc=None, se=None, sp=None) -> dict:
    return {"bilstm": {"auc": auc, "sensitivity": se, "specificity": sp}}


def _report(sdh_se=0.2, sdh_sp=1.0, ipb_sp=0.9, phantom_auc=1.0) -> dict:
    return {
        "ct-ich": {"any": _block(1.0, 1.0, 1.0), "epidural": _block(1.0, 1.0, 0.83), "slices_with_series_context_any": {"auc": 0.995}},
        "phe-sich": {"any": _block(None, 0.93, float("nan")), "intraparenchymal": _block(None, 0.93, None),
                     "slices_with_series_context_any": {"auc": 0.993}},
        "phantom": {lab: _block(phantom_auc) for lab in ICH_LABELS},
        INSERTS: {"any": _block(0.9, 0.6, 1.0), "subdural": _block(0.8, sdh_se, sdh_sp), "intraparenchymal": _block(None, None, ipb_sp)},
    }


def test_a_candidate_with_a_gain_and_no_loss_is_kept(tmp_path):
    cur, cand = _report(), _report(sdh_se=0.5, sdh_sp=0.95)
    assert verdict(judge(cur, cand))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(cur))
    b.write_text(json.dumps(cand))
    assert main([str(a), str(b)]) == 0
    assert main([str(a), str(a)]) == 1  # the current model against itself has no gain


def test_each_guard_can_refuse_a_candidate():
    cur = _report()
    good = _report(sdh_se=0.5, sdh_sp=0.95)
    assert not verdict(judge(cur, _report(sdh_se=0.5, sdh_sp=0.85)))  # gain (a) needs Sp >= 0.9; (b) not met either
    assert verdict(judge(cur, _report(ipb_sp=0.98)))  # gain (b): IPH Sp on extra-axial-only series
    worse = copy.deepcopy(good)
    worse["phantom"]["subdural"]["bilstm"]["auc"] = 0.97
    assert not verdict(judge(cur, worse))  # rule 4: -0.03 on one phantom label
    worse = copy.deepcopy(good)
    worse["ct-ich"]["epidural"]["bilstm"]["specificity"] = 0.8
    assert not verdict(judge(cur, worse))  # rule 2
    worse = copy.deepcopy(good)
    worse["phe-sich"]["intraparenchymal"]["bilstm"]["sensitivity"] = None
    assert not verdict(judge(cur, worse))  # a figure the candidate lost counts as lower
    worse = copy.deepcopy(good)
    worse["ct-ich"]["slices_with_series_context_any"]["auc"] = 0.989
    assert not verdict(judge(cur, worse))  # rule 5


def test_the_both_kinds_clause_applies_only_when_both_reports_hold_that_set():
    cur, good = _report(), _report(sdh_se=0.5, sdh_sp=0.95)
    assert not any(c.rule == "6" for c in judge(cur, good))
    cur[BOTH] = {"subdural": _block(0.94), "epidural": _block(0.88)}
    good[BOTH] = {"subdural": _block(0.93), "epidural": _block(0.90)}
    assert verdict(judge(cur, good))
    good[BOTH]["subdural"]["bilstm"]["auc"] = 0.91
    assert not verdict(judge(cur, good))


def test_the_pooled_set_replaces_the_both_kinds_set_when_both_reports_hold_it():
    """Stop 21: the both-kind set has 6 negatives; the pooled one judges clause 6 when present in both reports."""
    cur, cand = _report(), _report(sdh_se=0.5, sdh_sp=0.95)
    cur[BOTH] = {"subdural": _block(0.977), "epidural": _block(0.902)}
    cand[BOTH] = {"subdural": _block(0.971), "epidural": _block(0.859)}  # stop 21's S4: fails on the both-kind set
    assert not verdict(judge(cur, cand))
    cur[POOLED] = {"subdural": _block(0.90), "epidural": _block(0.90)}
    cand[POOLED] = {"subdural": _block(0.95), "epidural": _block(0.89)}
    checks = [c for c in judge(cur, cand) if c.rule == "6"]
    assert len(checks) == 2 and all("pooled" in c.what for c in checks)
    assert verdict(judge(cur, cand))
    cand[POOLED]["epidural"]["bilstm"]["auc"] = 0.87
    assert not verdict(judge(cur, cand))
    del cur[POOLED]  # only one report has it: the both-kind set judges, as before
    assert not verdict(judge(cur, cand))


def test_the_stability_clause_applies_only_when_both_reports_hold_it_and_can_refuse():
    from training.judge_series import STABILITY

    cur, good = _report(), _report(sdh_se=0.5, sdh_sp=0.95)
    assert not any(c.rule == "7" for c in judge(cur, good))
    cur[STABILITY] = {lab: {"median_range": 0.10} for lab in ICH_LABELS}
    good[STABILITY] = {lab: {"median_range": 0.105} for lab in ICH_LABELS}  # within the 0.01 allowed
    assert verdict(judge(cur, good)) and sum(c.rule == "7" for c in judge(cur, good)) == 3
    worse = copy.deepcopy(good)
    worse[STABILITY]["epidural"]["median_range"] = 0.12
    assert not verdict(judge(cur, worse))
    worse = copy.deepcopy(good)
    worse[STABILITY]["intraventricular"]["median_range"] = 0.5  # not a clause-7 label
    assert verdict(judge(cur, worse))


def test_the_stability_clause_can_read_call_flips_instead_of_ranges():
    from training.judge_series import STABILITY

    cur, cand = _report(), _report(sdh_se=0.5, sdh_sp=0.95)
    cur[STABILITY] = {lab: {"median_range": 0.005, "flip_rate": 0.06} for lab in ICH_LABELS}
    cand[STABILITY] = {lab: {"median_range": 0.03, "flip_rate": 0.075} for lab in ICH_LABELS}
    assert not verdict(judge(cur, cand))  # ranges: 0.03 > 0.005 + 0.01
    assert verdict(judge(cur, cand, stability="flips"))  # flips: 0.075 <= 0.06 + 0.02
    cand[STABILITY]["intraparenchymal"]["flip_rate"] = 0.09
    assert not verdict(judge(cur, cand, stability="flips"))
    del cand[STABILITY]["subdural"]["flip_rate"]  # a report written before flip rates existed cannot pass on flips
    assert not verdict(judge(cur, cand, stability="flips"))


def test_the_negatives_clause_refuses_a_candidate_that_flags_a_real_negative_the_current_model_does_not():
    from training.judge_series import Check, judge_negatives, verdict

    def rep(*flags):
        return {"rows": [{"reading": "GE at 1 mm", "flagged": list(flags[0])}, {"reading": "ctich_1 as stored", "flagged": list(flags[1])}]}

    same = judge_negatives(rep([], ["epidural"]), rep([], ["epidural"]))
    assert len(same) == 1 and same[0].ok and same[0].rule == "8"
    worse = judge_negatives(rep([], ["epidural"]), rep(["any", "subdural"], []))
    assert not worse[0].ok and "GE at 1 mm subdural" in worse[0].what and worse[0].candidate == 2.0
    gain = Check("1a", "a gain", 0.2, 0.9, True)
    assert verdict([gain, *same]) and not verdict([gain, *worse])  # rule 8 is a guard like 2-7
    with pytest.raises(KeyError):
        judge_negatives(rep([], []), {"rows": [{"reading": "other", "flagged": []}]})
