"""Apply the series-model keep rule (stop 19/20) to two `training.series_vs_slices --json` reports, mechanically.

    python -m training.judge_series CURRENT.json CANDIDATE.json [--phantoms "fresh phantom"]

Why: a candidate BiLSTM is kept only if a rule written before it ran holds on validation figures. Reading 5 rules
off two printed tables by eye is where a wrong verdict slips in; this prints every rule with the numbers it read
and exits 0 only when all hold. The rule (team notes stop19_rules.md, unchanged in stop20_rules.md):
1. gain, at least one: (a) inserted subdural series Se >= current + 0.20 with Sp >= 0.9; (b) intraparenchymal Sp
   on the inserted (extra-axial only) series >= 0.97 while the current model's is below 0.95;
2. CT-ICH val series: "any" and epidural Se and Sp not lower than current;
3. PHE-SICH val series: "any" and intraparenchymal Se not lower than current;
4. phantom val series (the set named by --phantoms): AUC per label >= current - 0.02;
5. slices with series context, "any", CT-ICH val and PHE-SICH val: AUC >= current - 0.005; inserted series "any"
   AUC >= current - 0.02;
6. only when both reports hold the "ct-ich both inserts" set (`series_vs_slices --both K`, drafted in stop 20 for
   the next candidate): its subdural and epidural series AUC >= current - 0.02. When both reports also hold the
   pooled set (`--both K --inserted K`, from stop 21 on), clause 6 reads that instead: the both-kind set alone has
   6 negatives, so its AUC moves ~0.03 per clean series misranked (stop 21's S4 failed it so); reports written
   before stop 21 have no pooled set and are judged as then.
7. only when both reports hold "ct-ich series stability" (`series_vs_slices --stability PX`, from stop 23 on): per
   subdural, epidural and intraparenchymal, the median over series of the series probability's max - min across 5
   head positions <= current + 0.01 (`--stability range`, stop 23's rule); or, with `--stability flips` (drafted
   in stop 23 for later rules: a range is small wherever a model stays far from its threshold, so it rewards a
   model that never calls a label), the share of series whose call flips between positions <= current + 0.02.
8. only when given (`--negatives CUR.json CAND.json`, two `training.negatives_check --json` reports, drafted in stop 24
   after its candidate SC held rules 1-7 and then called a subdural on real negatives read as thin slices): every
   (reading, label) the candidate flags on a real negative is flagged by the current model too.
All figures are the BiLSTM's (the series model being judged), at each model's own card thresholds.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from training.datasets.rsna import ICH_LABELS

INSERTS = "ct-ich series inserts"
BOTH = "ct-ich both inserts"
POOLED = "ct-ich extra-axial pooled"
STABILITY = "ct-ich series stability"
STABILITY_LABELS = ("subdural", "epidural", "intraparenchymal")


@dataclass(frozen=True)
class Check:
    rule: str
    what: str
    current: float | None
    candidate: float | None
    ok: bool


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _get(report: dict, source: str, label: str, key: str) -> float | None:
    return _num(report.get(source, {}).get(label, {}).get("bilstm", {}).get(key))


def _not_lower(rule: str, what: str, cur: float | None, cand: float | None, slack: float = 0.0) -> Check:
    """A figure neither model has (no positive series, say) holds trivially; one the candidate lost does not."""
    if cur is None:
        return Check(rule, what, cur, cand, True)
    return Check(rule, what, cur, cand, cand is not None and cand >= cur - slack - 1e-9)


def judge(cur: dict, cand: dict, phantoms: str = "phantom", stability: str = "range") -> list[Check]:
    out: list[Check] = []
    se_c, se_n = _get(cur, INSERTS, "subdural", "sensitivity"), _get(cand, INSERTS, "subdural", "sensitivity")
    sp_n = _get(cand, INSERTS, "subdural", "specificity")
    gain_a = se_c is not None and se_n is not None and sp_n is not None and se_n >= se_c + 0.20 - 1e-9 and sp_n >= 0.9
    ip_c, ip_n = _get(cur, INSERTS, "intraparenchymal", "specificity"), _get(cand, INSERTS, "intraparenchymal", "specificity")
    gain_b = ip_c is not None and ip_n is not None and ip_n >= 0.97 and ip_c < 0.95
    out.append(Check("1a", f"inserted subdural Se (+0.20 needed; candidate Sp {sp_n}, 0.9 needed)", se_c, se_n, gain_a))
    out.append(Check("1b", "inserted series: intraparenchymal Sp (>= 0.97 needed, current < 0.95)", ip_c, ip_n, gain_b))
    for lab in ("any", "epidural"):
        for key in ("sensitivity", "specificity"):
            out.append(_not_lower("2", f"ct-ich val {lab} {key}", _get(cur, "ct-ich", lab, key), _get(cand, "ct-ich", lab, key)))
    for lab in ("any", "intraparenchymal"):
        out.append(_not_lower("3", f"phe-sich val {lab} sensitivity", _get(cur, "phe-sich", lab, "sensitivity"),
                              _get(cand, "phe-sich", lab, "sensitivity")))
    if phantoms not in cur or phantoms not in cand:
        raise KeyError(f"no {phantoms!r} set in both reports (run series_vs_slices with the same options for both)")
    for lab in ICH_LABELS:
        out.append(_not_lower("4", f"{phantoms} {lab} AUC (-0.02 allowed)", _get(cur, phantoms, lab, "auc"), _get(cand, phantoms, lab, "auc"), 0.02))
    for source in ("ct-ich", "phe-sich"):
        c = _num(cur.get(source, {}).get("slices_with_series_context_any", {}).get("auc"))
        n = _num(cand.get(source, {}).get("slices_with_series_context_any", {}).get("auc"))
        out.append(_not_lower("5", f"{source} val slices with series context, any AUC (-0.005 allowed)", c, n, 0.005))
    out.append(_not_lower("5", "inserted series any AUC (-0.02 allowed)", _get(cur, INSERTS, "any", "auc"), _get(cand, INSERTS, "any", "auc"), 0.02))
    six = POOLED if POOLED in cur and POOLED in cand else BOTH
    if six in cur and six in cand:
        name = "pooled extra-axial" if six == POOLED else "both-kinds"
        for lab in ("subdural", "epidural"):
            out.append(_not_lower("6", f"{name} series {lab} AUC (-0.02 allowed)", _get(cur, six, lab, "auc"), _get(cand, six, lab, "auc"), 0.02))
    if STABILITY in cur and STABILITY in cand:
        key, slack, what = {"range": ("median_range", 0.01, "median max - min over 5 positions"),
                            "flips": ("flip_rate", 0.02, "share of series whose call flips between 5 positions")}[stability]
        for lab in STABILITY_LABELS:
            c, n = (_num(r[STABILITY][lab].get(key)) for r in (cur, cand))
            out.append(Check("7", f"series stability {lab}: {what} (+{slack} allowed)", c, n,
                             c is not None and n is not None and n <= c + slack + 1e-9))
    return out


def judge_negatives(cur: dict, cand: dict) -> list[Check]:
    """Rule 8: no real negative flagged by the candidate for a label the current model does not flag there."""
    flagged = lambda rep: {(r["reading"], lab) for r in rep["rows"] for lab in r["flagged"]}  # noqa: E731
    read_c, read_n = ({r["reading"] for r in rep["rows"]} for rep in (cur, cand))
    if read_c != read_n:
        raise KeyError(f"the negatives reports read different series: {sorted(read_c ^ read_n)[:4]}")
    new = sorted(flagged(cand) - flagged(cur))
    return [Check("8", f"real negatives (as stored and thin) flagged beyond the current model's{': ' + '; '.join(f'{r} {lab}' for r, lab in new[:6]) if new else ''}",
                  float(len(flagged(cur))), float(len(flagged(cand))), not new)]


def verdict(checks: list[Check]) -> bool:
    gain = any(c.ok for c in checks if c.rule in ("1a", "1b"))
    return gain and all(c.ok for c in checks if not c.rule.startswith("1"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("current")
    ap.add_argument("candidate")
    ap.add_argument("--phantoms", default="phantom", help='the phantom set rule 4 reads ("phantom" or "fresh phantom")')
    ap.add_argument("--stability", choices=["range", "flips"], default="range",
                    help="what rule 7 reads: the probability's movement (stop 23's rule) or how often the call flips")
    ap.add_argument("--negatives", nargs=2, metavar=("CUR_NEG", "CAND_NEG"), default=None,
                    help="rule 8: two training.negatives_check --json reports (current, candidate)")
    args = ap.parse_args(argv)
    cur, cand = json.loads(Path(args.current).read_text()), json.loads(Path(args.candidate).read_text())
    checks = judge(cur, cand, args.phantoms, args.stability)
    if args.negatives:
        checks += judge_negatives(*(json.loads(Path(f).read_text()) for f in args.negatives))
    for c in checks:
        print(f"  rule {c.rule:<2} {'ok  ' if c.ok else 'FAIL'}  {c.what}: {c.current} -> {c.candidate}")
    kept = verdict(checks)
    print("KEPT: every rule holds" if kept else "NOT KEPT: " + ", ".join(sorted({c.rule[0] for c in checks if not c.ok and not c.rule.startswith("1")}
                                                                            | ({"1"} if not any(c.ok for c in checks if c.rule.startswith("1")) else set()))))
    return 0 if kept else 1


if __name__ == "__main__":
    raise SystemExit(main())
