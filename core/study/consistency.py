"""Answers that contradict each other are refused: a parent label ("any" hemorrhage) is the union of its
subtypes, so "any: absent" with "intraparenchymal: present" cannot be a read.

Why here and not only in the window: the store is the one gate every read passes (reading window, API,
scripts), so a contradictory read can never reach Table 5 or the MRMC analysis. The window uses
`derived_parent` to set "any" from the subtypes as the reader answers (and says so on screen).

Rules, for each parent whose label and at least one subtype label are in the study:
- a subtype present -> the parent must be present;
- the parent present -> at least one subtype present, when every subtype is a study label (otherwise the
  finding may be a subtype the study does not ask about, and "any" alone is a valid answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

HIERARCHY: dict[str, tuple[str, ...]] = {
    "any": ("epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"),
}


def groups(labels: Sequence[str]) -> list[tuple[str, tuple[str, ...], bool]]:
    """(parent, subtypes in the study, complete = every subtype is a study label) for each parent in use."""
    out = []
    for parent, subs in HIERARCHY.items():
        have = tuple(s for s in subs if s in labels)
        if parent in labels and have:
            out.append((parent, have, len(have) == len(subs)))
    return out


def contradictions(labels: Sequence[str], present: Mapping[str, bool]) -> list[str]:
    """One sentence per contradiction in a read given as label -> present (answered labels only)."""
    out = []
    for parent, subs, complete in groups(labels):
        if parent not in present or any(s not in present for s in subs):
            continue
        pos = [s for s in subs if present[s]]
        if pos and not present[parent]:
            out.append(f"{parent}: absent contradicts {', '.join(pos)}: present "
                       f"(a subtype present means {parent} is present)")
        if complete and present[parent] and not pos:
            out.append(f"{parent}: present contradicts every subtype absent ({', '.join(subs)})")
    return out


def derived_parent(labels: Sequence[str], present: Mapping[str, bool]) -> dict[str, bool]:
    """Parents implied by answered subtypes: present when any subtype is present; absent when every
    subtype is a study label and all are answered absent. Parents with unanswered subtypes are left out."""
    out = {}
    for parent, subs, complete in groups(labels):
        answered = [s for s in subs if s in present]
        if any(present[s] for s in answered):
            out[parent] = True
        elif complete and len(answered) == len(subs):
            out[parent] = False
    return out
