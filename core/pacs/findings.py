"""One summary of a CT series' AI results, shared by the worklist, the SR writer and the CLI.

Flags use each label's threshold from the series model's card (never a number made up here).
The out-of-distribution state is reported only when the CT scorer provides it (`ood` on the ICH
result); until then it is None and shown as "n/a", never guessed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.tasks.ct import BGResult, CTScorer, ICHResult

INTENDED_USE = "Research use only, not for clinical use."


@dataclass
class Findings:
    labels: tuple[str, ...]
    probs: dict[str, float]  # series probability per ICH label
    thresholds: dict[str, float]
    flagged: list[str]  # labels at or above their threshold
    bg_p_hemorrhage: float
    bg_side: str  # 'none' | 'left' | 'right' | 'unverified' (patient side)
    bg_threshold: float
    models: list[dict] = field(default_factory=list)  # name, version, sha256, provider, device
    ood: dict | None = None

    @property
    def p_any(self) -> float:
        return self.probs["any"]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Findings":
        d = dict(d)
        d["labels"] = tuple(d["labels"])
        return cls(**d)


def ood_dict(ich: ICHResult) -> dict | None:
    """The scorer's OOD verdict as JSON-able data, or None while the scorer has none."""
    ood = getattr(ich, "ood", None)
    if ood is None:
        return None
    if hasattr(ood, "to_dict"):
        return ood.to_dict()
    if dataclasses.is_dataclass(ood):
        return dataclasses.asdict(ood)
    if isinstance(ood, dict):
        return ood
    return {"value": ood if isinstance(ood, (bool, int, float, str)) else repr(ood)}


def ood_text(ood: dict | None) -> str:
    """Short display of the OOD state: 'n/a' when the model gave none."""
    if not ood:
        return "n/a"
    for key in ("out_of_distribution", "is_ood", "ood", "flag", "value"):
        if key in ood:
            v = ood[key]
            if isinstance(v, bool):
                return "OUT of distribution" if v else "in distribution"
            return str(v)
    return ", ".join(f"{k}={v}" for k, v in ood.items())


def summarize(ich: ICHResult, bg: BGResult, scorer: CTScorer) -> Findings:
    card_thr = scorer.model("ich_bilstm").card.thresholds
    thresholds = {lab: float(card_thr.get(lab, 0.5)) for lab in ich.labels}
    flagged = [lab for lab in ich.labels if ich.series_probs[lab] >= thresholds[lab]]
    bg_thr = float(scorer.model("bg_laterality").card.thresholds.get("hemorrhage", 0.5))
    models = [dataclasses.asdict(m) for m in (*ich.models, bg.model)]
    return Findings(tuple(ich.labels), {k: float(v) for k, v in ich.series_probs.items()}, thresholds, flagged,
                    float(bg.p_hemorrhage), bg.side, bg_thr, models, ood_dict(ich))
