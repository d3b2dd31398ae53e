"""Processes for the store tests: concurrent readers (spawned) and a reader that gets SIGKILLed.

    python -m tests.core.study.workers read-slowly DB STUDY READER   prints 'committed CASE ARM' after each commit
"""

from __future__ import annotations

import sys
import time

import numpy as np

from core.study import AidedAnswer, Answer, ReaderSession, StudyStore


def _consistent(present: dict) -> dict:
    """'any' is the union of the subtypes (the store refuses contradictory reads)."""
    if "any" in present:
        present["any"] = any(v for lab, v in present.items() if lab != "any")
    return present


def answers_for(labels, rng) -> dict:
    present = _consistent({lab: bool(rng.random() < 0.5) for lab in labels})
    return {lab: Answer(present[lab], int(rng.integers(1, 6))) for lab in labels}


def aided_for(session: ReaderSession, rng) -> dict:
    findings = session.model_findings()
    final = _consistent({lab: bool(rng.random() < 0.5) for lab in findings})
    return {lab: AidedAnswer(final[lab] == f.present, final[lab], int(rng.integers(1, 6)),
                             rating="correct" if f.present else None) for lab, f in findings.items()}


def read_everything(db: str, study: str, reader: str, barrier=None, delay: float = 0.0) -> int:
    """Open a store of our own, wait for the other reader, then read every case in both arms."""
    if barrier is not None:
        barrier.wait(timeout=60)
    store = StudyStore(db)
    rng = np.random.default_rng(abs(hash(reader)) % 2**32)
    s = ReaderSession(store, study, reader)
    n = 0
    while (case := s.current_case()) is not None:
        if case.arm == "unaided":
            s.save_unaided(answers_for(s.labels, rng))
        else:
            s.save_aided(aided_for(s, rng))
        n += 1
        print(f"committed {case.case_id} {case.arm}", flush=True)
        if delay:
            time.sleep(delay)
    store.close()
    return n


def open_store(db: str, barrier) -> str:
    barrier.wait(timeout=60)
    with StudyStore(db) as s:
        return ",".join(s.studies())


if __name__ == "__main__":
    if sys.argv[1] == "read-slowly":
        read_everything(sys.argv[2], sys.argv[3], sys.argv[4], delay=0.15)


def _entry(queue, fn, args) -> None:
    try:
        queue.put(("ok", fn(*args)))
    except BaseException as exc:  # report to the parent test, which fails with the message
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_together(fn, args_list: list[tuple], timeout: float = 240) -> list:
    """Run fn(*args, barrier) in one spawned process per args, started together; results in any order."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(args_list))
    queue = ctx.Queue()
    procs = [ctx.Process(target=_entry, args=(queue, fn, (*a, barrier))) for a in args_list]
    for p in procs:
        p.start()
    results = [queue.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [r for kind, r in results if kind == "error"]
    assert not errors, errors
    return [r for _, r in results]
