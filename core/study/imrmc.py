"""The `.imrmc` input file of the iMRMC desktop tool (FDA/DIDSR) and RJafroc `DfReadDataFile(format = "iMRMC")`.

Layout (iMRMC's own format help): free-text study description; four size lines `N0: <non-diseased cases>`,
`N1: <diseased cases>`, `NR: <readers>`, `NM: <modalities>`; a line `BEGIN DATA:`; then one row
`readerID,caseID,modalityID,score` per reader x case x modality, plus one truth row per case
`-1,caseID,0,<0|1>`. Case IDs are integers (RJafroc stops with "Case IDs must be integers" otherwise);
higher scores mean more likely diseased.

Choices made here:
- one file per label (each label is its own ROC task);
- modalities: the study's arms in reading order, then the model, entered as a modality with the same score
  for every reader (as in the ORH model-vs-readers analysis), so the readers-vs-model comparison runs in
  iMRMC too; reader and modality numbers are listed in the description (`reader 1 = ...`);
- fully crossed, as RJafroc requires: a case goes in only when it has truth, every reader has read it in every
  arm and (for the model modality) the model has scored it; the description says how many were left out;
- case IDs: the number of the pseudonymous `C001` IDs; other IDs are numbered in order (listed);
- a case the CT models judged outside their training data has no model score (it is not a call), so with the model
  as a modality it is left out like an unscored case; the description says how many (`... outside the model's
  training data`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.study.analysis import ARM_ORDER, outside_cases, scored_model

_CID = re.compile(r"^C(\d+)$")


@dataclass(frozen=True)
class ImrmcFile:
    label: str
    text: str
    n0: int
    n1: int
    readers: list[str]
    modalities: list[str]
    excluded: int


def _clean(s: str) -> str:
    """Free text that cannot be taken for a size line, a data row or BEGIN DATA."""
    return re.sub(r"[\r\n:,]+", " ", str(s)).strip()


def _case_numbers(case_ids: list[str]) -> dict[str, int]:
    if all(_CID.match(c) for c in case_ids) and len({int(_CID.match(c).group(1)) for c in case_ids}) == len(case_ids):
        return {c: int(_CID.match(c).group(1)) for c in case_ids}
    return {c: i for i, c in enumerate(sorted(case_ids), 1)}


def _fmt(v: float) -> str:
    return f"{v:.10g}"


def build(frames, label: str, with_model: bool = True) -> ImrmcFile:
    """The `.imrmc` text of one label of a study (see the module notes for what goes in)."""
    info = frames.info
    reads = frames.reads[(frames.reads["label"] == label) & frames.reads["truth"].notna()]
    readers = [r for r in (info.get("readers") or sorted(reads["reader"].unique())) if r in set(reads["reader"])]
    arms = [a for a in ARM_ORDER if a in set(reads["arm"])]
    every = frames.model[(frames.model["label"] == label)] if with_model else frames.model.iloc[0:0]
    model = scored_model(every)  # outside the training data: no model score for the case
    outside = outside_cases(every).get(label, set())
    modalities = arms + (["model"] if not model.empty else [])
    all_cases = sorted(set(frames.reads.loc[frames.reads["label"] == label, "case_id"]) | set(every["case_id"]))
    keep = set(reads["case_id"])
    for rd in readers:
        for arm in arms:
            keep &= set(reads.loc[(reads["reader"] == rd) & (reads["arm"] == arm), "case_id"])
    if not model.empty:
        keep &= set(model["case_id"])
    cases = sorted(keep)
    if not cases or not readers:
        raise ValueError(f"label {label!r}: no case has truth and a read by every reader in every arm")
    truth = reads.drop_duplicates("case_id").set_index("case_id")["truth"].astype(bool)
    num = _case_numbers(cases)
    n1 = int(sum(truth[c] for c in cases))
    n0 = len(cases) - n1
    lines = [f"NeuroReview reader study {_clean(info.get('name', ''))} - label {_clean(label)} (iMRMC input file)",
             "score = reader's " + ("answer and confidence on a 1-10 scale" if info.get("score_kind") == "confidence"
                                   else "probability 0-100") + " (higher = more likely present); model = probability 0-1",
             f"cases = {len(cases)} with truth read by every reader in every modality"
             f" ({len(all_cases) - len(cases)} left out"
             + (f"; {len(outside)} of them outside the model's training data (no model score)" if outside else "")
             + ")"]
    lines += [f"reader {i} = {_clean(r)}" for i, r in enumerate(readers, 1)]
    lines += [f"modality {i} = {m}" + (" (the same score for every reader)" if m == "model" else "")
              for i, m in enumerate(modalities, 1)]
    if any(not _CID.match(c) or num[c] != int(_CID.match(c).group(1)) for c in cases):
        lines += [f"case {num[c]} = {_clean(c)}" for c in cases]
    lines += ["", f"N0: {n0}", f"N1: {n1}", f"NR: {len(readers)}", f"NM: {len(modalities)}", "", "BEGIN DATA:"]
    lines += [f"-1,{num[c]},0,{int(truth[c])}" for c in cases]
    score = reads.set_index(["reader", "arm", "case_id"])["score"]
    mscore = model.drop_duplicates("case_id", keep="last").set_index("case_id")["probability"]
    for i, rd in enumerate(readers, 1):
        for j, m in enumerate(modalities, 1):
            for c in cases:
                v = mscore[c] if m == "model" else score[(rd, m, c)]
                lines.append(f"{i},{num[c]},{j},{_fmt(float(v))}")
    return ImrmcFile(label, "\n".join(lines) + "\n", n0, n1, list(readers), modalities, len(all_cases) - len(cases))


def write_imrmc(frames, out: Path) -> list[Path]:
    """One `<n>_<label>.imrmc` per label into the folder `out` (labels without a full-crossed case are skipped
    with a `.txt` note saying why)."""
    out = Path(out)
    paths = []
    labels = [str(x) for x in (frames.info.get("labels") or pd.unique(frames.reads["label"]))]
    for i, label in enumerate(labels, 1):
        stem = f"{i}_{re.sub(r'[^A-Za-z0-9]+', '_', label)[:30]}"
        try:
            f = build(frames, label)
        except ValueError as exc:
            p = out / f"{stem}.imrmc_skipped.txt"
            p.write_text(f"{exc}\n", encoding="utf-8")
        else:
            p = out / f"{stem}.imrmc"
            p.write_text(f.text, encoding="utf-8", newline="\n")
        paths.append(p)
    return paths
