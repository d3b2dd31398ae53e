"""One summary of a CT series' AI results, shared by the worklist, the SR writer and the CLI.

Flags use each label's threshold from the series model's card (never a number made up here).
The out-of-distribution state is the CT scorer's (`ICHResult.ood`, the ich_ood model); when a scorer
gives none it is None and shown as "n/a", never guessed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from core.tasks.ct import BGResult, ICHResult

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
    """The scorer's OOD verdict (`OODResult.to_dict()`), or None when the scorer gave none."""
    return None if ich.ood is None else ich.ood.to_dict()


def ood_text(ood: dict | None) -> str:
    """Short display of the OOD state: 'n/a' when the model gave none."""
    if not ood:
        return "n/a"
    if ood["in_distribution"]:
        return "in distribution"
    return f"OUT of distribution ({ood['score']:.2f} > {ood['threshold']:.2f})"


def summarize(ich: ICHResult, bg: BGResult) -> Findings:
    """Flags are the scorer's own (card thresholds; none outside the training distribution)."""
    thresholds = {lab: float(ich.thresholds.get(lab, 0.5)) for lab in ich.labels}
    flagged = [lab for lab, on in ich.flagged().items() if on]
    bg_thr = float(bg.threshold)  # the card's, as score_bg read it
    models = [dataclasses.asdict(m) for m in (*ich.models, bg.model)]
    return Findings(tuple(ich.labels), {k: float(v) for k, v in ich.series_probs.items()}, thresholds, flagged,
                    float(bg.p_hemorrhage), bg.side, bg_thr, models, ood_dict(ich))
