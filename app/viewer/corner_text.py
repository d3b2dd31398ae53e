"""What the four corners of a slice view say, as configurable lists of named fields (no Qt).

Each field turns a `CornerContext` into one line (empty: the line is left out). The layout per corner comes
from `CornerSettings.fields` (the viewer's settings file can change it); anonymised mode drops the patient
lines, for reader studies and screenshots.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Callable

from app.viewer.header_facts import PATIENT_FIELDS

CORNERS = ("tl", "tr", "bl", "br")


@dataclass
class CornerContext:
    plane_title: str = ""
    plane_color: str = "#fff"
    index: int = 0  # 0-based slice index on this plane
    n_slices: int = 0
    position: str = ""  # e.g. "S 12.5 mm"
    window: str = ""  # e.g. "W 80  L 40"
    preset: str = ""
    mpr: str = ""  # e.g. "MIP 10 mm", "nearest"
    hover: str = ""
    status: list[str] = field(default_factory=list)  # overlay and tool lines
    facts: dict[str, str] = field(default_factory=dict)
    compact: bool = False  # a narrow pane: shorter forms, so that the corners do not run into each other


def _fact(name: str) -> Callable[[CornerContext], str]:
    return lambda c: c.facts.get(name, "")


FIELDS: dict[str, Callable[[CornerContext], str]] = {
    "plane": lambda c: f"<b style='color:{c.plane_color}'>{c.plane_title}</b>",
    "image_number": lambda c: (f"{c.index + 1}/{c.n_slices}" if c.compact else f"Image {c.index + 1} of {c.n_slices}") if c.n_slices else "",
    "position": lambda c: c.position,
    "mpr": lambda c: c.mpr,
    "patient_name": _fact("patient_name"),
    "patient_id": lambda c: f"ID {c.facts['patient_id']}" if c.facts.get("patient_id") else "",
    "patient_age_sex": _fact("patient_age_sex"),
    "birth_date": lambda c: f"born {c.facts['birth_date']}" if c.facts.get("birth_date") else "",
    "study_date": lambda c: f"Study {c.facts['study_date']}" if c.facts.get("study_date") else "",
    "institution": _fact("institution"),
    "series_description": _fact("series_description"),
    "slice_thickness": lambda c: f"Thk {c.facts['slice_thickness']}" if c.facts.get("slice_thickness") else "",
    "kvp": _fact("kvp"),
    "kernel": lambda c: f"Kernel {c.facts['kernel']}" if c.facts.get("kernel") else "",
    "window": lambda c: " ".join(c.window.split()).replace("W ", "W").replace("L ", "L") if c.compact else c.window,
    "preset": lambda c: c.preset,
    "hover": lambda c: c.hover,
    "status": lambda c: "<br>".join(c.status),
}

DEFAULT_LAYOUT: dict[str, tuple[str, ...]] = {
    "tl": ("plane", "image_number", "position", "mpr"),
    "tr": ("patient_name", "patient_id", "patient_age_sex", "study_date", "window", "preset"),
    "bl": ("series_description", "slice_thickness", "kvp", "kernel", "hover"),
    "br": ("status",),
}


def layout(fields: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, tuple[str, ...]]:
    """The defaults with any corners the settings override; unknown field names raise (a typo shows)."""
    out = dict(DEFAULT_LAYOUT)
    for corner, names in fields:
        if corner not in CORNERS:
            raise ValueError(f"unknown corner {corner!r}; one of {CORNERS}")
        unknown = [n for n in names if n not in FIELDS]
        if unknown:
            raise ValueError(f"unknown corner-text field(s) {unknown}; known: {', '.join(FIELDS)}")
        out[corner] = tuple(names)
    return out


def render(ctx: CornerContext, fields: tuple = (), anonymised: bool = False) -> dict[str, str]:
    """HTML per corner; `anonymised` drops the patient lines."""
    out = {}
    ctx.facts = {k: html.escape(v) for k, v in ctx.facts.items()}
    for corner, names in layout(fields).items():
        lines = []
        for name in names:
            if anonymised and name in PATIENT_FIELDS:
                continue
            text = FIELDS[name](ctx)
            if text:
                lines.append(text)
        out[corner] = "<br>".join(lines)
    return out
