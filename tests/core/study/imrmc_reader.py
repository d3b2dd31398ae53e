"""An `.imrmc` reader written from the iMRMC file specification (iMRMC's format help, and RJafroc's
ReadImrmc checks), independent of core.study.imrmc: the tests parse our files back with it.

Spec: free-text description; the four size lines `N0:`, `N1:`, `NR:`, `NM:` (any order); a line
`BEGIN DATA:`; then comma-separated rows `readerID,caseID,modalityID,score`; truth rows have readerID -1
and score 0/1. Checks as RJafroc does: case IDs integers, scores numeric, every case has a truth row, the
counts match the description, and (fully crossed) every reader scored every case in every modality.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ImrmcFormatError(ValueError):
    pass


@dataclass
class Parsed:
    n0: int
    n1: int
    nr: int
    nm: int
    description: list[str]
    truth: dict[int, int]  # case -> 0/1
    scores: dict[tuple[str, str, int], float]  # (reader, modality, case) -> score


def parse(path: Path) -> Parsed:
    lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    sizes: dict[str, int] = {}
    i = 0
    while i < len(lines) and lines[i] != "BEGIN DATA:":
        key, sep, val = lines[i].partition(":")
        if sep and key.strip() in ("N0", "N1", "NR", "NM"):
            sizes[key.strip()] = int(val)
        i += 1
    if i == len(lines):
        raise ImrmcFormatError("no 'BEGIN DATA:' line")
    missing = {"N0", "N1", "NR", "NM"} - set(sizes)
    if missing:
        raise ImrmcFormatError(f"size lines missing: {sorted(missing)}")
    desc = [ln for ln in lines[:i] if ln and ln.partition(":")[0] not in sizes]
    truth: dict[int, int] = {}
    scores: dict[tuple[str, str, int], float] = {}
    for ln in lines[i + 1:]:
        if not ln:
            continue
        f = ln.split(",")
        if len(f) != 4:
            raise ImrmcFormatError(f"a data row needs 4 fields: {ln!r}")
        try:
            case = int(f[1])
        except ValueError:
            raise ImrmcFormatError(f"case IDs must be integers: {ln!r}") from None
        value = float(f[3])  # ValueError: ratings must be numeric
        if f[0] == "-1":
            if value not in (0.0, 1.0):
                raise ImrmcFormatError(f"truth must be 0 or 1: {ln!r}")
            truth[case] = int(value)
        else:
            key = (f[0], f[2], case)
            if key in scores:
                raise ImrmcFormatError(f"reader {f[0]} scored case {case} twice in modality {f[2]}")
            scores[key] = value
    cases = {c for _, _, c in scores}
    if not cases <= set(truth):
        raise ImrmcFormatError(f"cases without a truth row: {sorted(cases - set(truth))}")
    readers, mods = {r for r, _, _ in scores}, {m for _, m, _ in scores}
    p = Parsed(sizes["N0"], sizes["N1"], sizes["NR"], sizes["NM"], desc, truth, scores)
    if (list(truth.values()).count(0), list(truth.values()).count(1)) != (p.n0, p.n1):
        raise ImrmcFormatError("N0/N1 do not match the truth rows")
    if (len(readers), len(mods)) != (p.nr, p.nm):
        raise ImrmcFormatError("NR/NM do not match the data rows")
    if len(scores) != p.nr * p.nm * (p.n0 + p.n1):
        raise ImrmcFormatError("not fully crossed: NR x NM x (N0 + N1) rows expected")
    return p
