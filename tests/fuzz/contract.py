"""Run `neuroreview info` / `score` on one corpus case (in-process, with a hang guard) and check the contract."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from app.cli import main as cli_main
from tests.fuzz.corpus import Case

HANG_SECONDS = 30


class Hang(BaseException):
    """Raised by the alarm: a BaseException so that no `except Exception` in the code under test hides it."""


@dataclass
class Run:
    command: str
    rc: int
    out: str
    err: str


def run_cli(argv: list[str], seconds: int = HANG_SECONDS) -> Run:
    def on_alarm(_sig, _frame):
        raise Hang(f"{' '.join(argv)} still running after {seconds} s")

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    native = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(native.fileno(), 2)  # also what bypasses sys.stderr (handlers bound at import, C and Rust code)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            rc = cli_main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.dup2(saved, 2)
        os.close(saved)
    native.seek(0)
    leaked = native.read().decode("utf-8", "replace")
    native.close()
    return Run(argv[0], rc, out.getvalue(), err.getvalue() + leaked)


def contract_problems(case: Case, run: Run, loader: bool = True) -> list[str]:
    """Everything wrong with one run, in words (empty: the contract holds). ``loader=False`` (score):
    a refusal may be about the volume (too few slices left, not CT) and name the folder, not the file."""
    bad: list[str] = []
    text = run.out + run.err
    if run.rc not in (0, 2):
        bad.append(f"exit {run.rc}")
    if "Traceback" in text:
        bad.append("traceback")
    err_lines = [line for line in run.err.splitlines() if line.strip()]
    if run.rc == 2:
        if len(err_lines) != 1 or not err_lines[0].startswith("error: "):
            bad.append(f"exit 2 needs exactly one 'error: ' line on stderr, got {err_lines!r}")
        elif case.bad and case.expect in ("error", "warn") and case.bad not in err_lines[0] and (loader or str(case.target) not in err_lines[0]):
            bad.append(f"error line does not name {case.bad}: {err_lines[0]}")
        elif str(case.target) not in err_lines[0] and "[" not in err_lines[0]:
            bad.append(f"error line names no path: {err_lines[0]}")
        if err_lines and err_lines[0].count(str(case.target)) > 1 and case.target.name not in ("ct", "ge"):
            bad.append(f"path printed twice: {err_lines[0]}")
    elif run.rc == 0:
        if err_lines:
            bad.append(f"exit 0 with stderr output (leaked library warnings?): {err_lines[:3]!r}")
        if case.expect == "error":
            bad.append("exit 0 where an error was due")
        if case.expect == "warn":
            if case.bad and case.bad not in run.out:
                bad.append(f"exit 0 without a warning naming {case.bad}")
            if case.codes and not any(c in run.out for c in case.codes):
                bad.append(f"exit 0 without a {'/'.join(case.codes)} warning")
    return bad


def score_problems(case: Case, run: Run, baseline_side: str | None) -> list[str]:
    """Score-specific checks: no NaN probability, no side from geometry that does not match the truth."""
    bad = contract_problems(case, run, loader=False)
    if run.rc != 0 or bad:
        return bad
    try:
        report = json.loads(run.out)
    except json.JSONDecodeError:
        return [f"score --json printed no JSON: {run.out[:200]!r}"]
    probs = list(report["ich"]["series_probs"].values()) + list(report["bg"]["series_probs"].values())
    if not all(isinstance(p, (int, float)) and math.isfinite(p) for p in probs):
        bad.append(f"non-finite probability in {probs}")
    side = report["bg"]["side"]
    if case.geometry and baseline_side is not None:
        verified = not any(w["code"] == "geometry-unverified" for w in report["warnings"])
        raw = raw_side(report)
        if verified and raw != baseline_side:  # the model's leaning, before thresholds and the OOD guard
            bad.append(f"left/right leaning {raw} on verified geometry where the clean series leans {baseline_side}")
        if not verified and side not in ("unverified", "none"):
            bad.append(f"side {side} reported from unverified geometry")
    return bad


def raw_side(report: dict, margin: float = 0.0) -> str | None:
    """Which side the BG model leans to (left vs right series probability), whatever the flags say;
    None when the two differ by less than ``margin`` (no leaning worth comparing)."""
    probs = report["bg"]["series_probs"]
    if abs(probs["left"] - probs["right"]) < margin:
        return None
    return "left" if probs["left"] >= probs["right"] else "right"


def case_problems(case: Case, baseline_side: str | None) -> list[str]:
    """info (text) and, for cases that ask for it, score (JSON): every contract breach found."""
    problems = [f"info: {p}" for p in contract_problems(case, run_cli(["info", str(case.target)]))]
    if case.score:
        problems += [f"score: {p}" for p in score_problems(case, run_cli(["score", str(case.target), "--json"]), baseline_side)]
    return problems
