"""End to end: a scripted 3 readers x 20 cases x 2 arms study in a real SQLite file, exported with
`neuroreview study export` (csv, xlsx, html); the exported numbers are recomputed here from the script's
own record of every answer (counting, Mann-Whitney U for the AUCs), not from the store or the frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from app.cli import main
from core.study import StudyStore
from core.study.frames import confidence_score
from tests.core.study.study_script import LABELS, read_all, setup_study

READERS = ("R1", "R2", "R3")

pytestmark = pytest.mark.slow  # ~25 s: three exports of the full statistics (bootstrap, ORH, ROC plots)


def auc_mwu(scores: np.ndarray, truth: np.ndarray) -> float:
    """AUC = U / (n_pos * n_neg), ties counted one half (scipy's U of the positive sample)."""
    pos, neg = scores[truth], scores[~truth]
    return float(mannwhitneyu(pos, neg).statistic) / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    db = str(tmp / "study.sqlite")
    with StudyStore(db) as store:
        sc = setup_study(store, "ich", n_cases=20, readers=READERS, seed=11)
        read_all(store, "ich", sc, readers=READERS, seed=5)
    for fmt in ("csv", "xlsx", "html"):
        assert main(["study", "export", "ich", "--db", db, "--format", fmt, "--out", str(tmp / fmt)]) == 0
    return sc, tmp


def test_exported_reader_rows_match_counts_from_the_script(exported):
    sc, tmp = exported
    perf = pd.read_csv(tmp / "csv" / "performance.csv")
    checked_auc = 0
    for reader in READERS:
        cases = sorted(sc.order[reader])
        for label in LABELS:
            t = np.array([sc.truth[(c, label)] for c in cases])
            un = [sc.unaided[(reader, c, label)] for c in cases]
            ai = [sc.aided[(reader, c, label)] for c in cases]
            arms = {"unaided": (np.array([a.present for a in un]),
                                np.array([confidence_score(a.present, a.confidence) for a in un])),
                    "aided": (np.array([a.final_present for a in ai]),
                              np.array([confidence_score(a.final_present, a.confidence) for a in ai]))}
            for arm, (p, s) in arms.items():
                row = perf[(perf.source == "reader") & (perf.name == reader) & (perf.arm == arm)
                           & (perf.label == label)].iloc[0]
                assert (row.tp, row.fp, row.tn, row.fn) == (np.sum(t & p), np.sum(~t & p), np.sum(~t & ~p),
                                                            np.sum(t & ~p))
                assert row.accuracy == pytest.approx(np.mean(t == p))
                if t.any():
                    assert row.sensitivity == pytest.approx(np.sum(t & p) / t.sum())
                if (~t).any():
                    assert row.specificity == pytest.approx(np.sum(~t & ~p) / (~t).sum())
                if 0 < t.sum() < len(t):
                    assert row.auc == pytest.approx(auc_mwu(s, t), abs=1e-9)
                    checked_auc += 1
    assert checked_auc >= 30  # most reader x label x arm cells have both classes


def test_exported_model_rows_match_the_script(exported):
    sc, tmp = exported
    perf = pd.read_csv(tmp / "csv" / "performance.csv")
    cases = sorted({c for c, _ in sc.truth})
    for label in LABELS:
        t = np.array([sc.truth[(c, label)] for c in cases])
        prob = np.array([sc.model[(c, label)] for c in cases])
        row = perf[(perf.source == "model") & (perf.label == label)].iloc[0]
        assert row.threshold == 0.5 and row.tp == np.sum(t & (prob >= 0.5)) and row.fp == np.sum(~t & (prob >= 0.5))
        if 0 < t.sum() < len(t):
            assert row.auc == pytest.approx(auc_mwu(prob, t), abs=1e-9)


def test_exported_agreement_and_heatmap_counts(exported):
    sc, tmp = exported
    agree = pd.read_csv(tmp / "csv" / "agreement.csv")
    ratings = pd.read_csv(tmp / "csv" / "heatmap_ratings.csv")
    for reader in READERS:
        for label in LABELS:
            ai = [sc.aided[(reader, c, label)] for c in sc.order[reader]]
            un = [sc.unaided[(reader, c, label)] for c in sc.order[reader]]
            row = agree[(agree.reader == reader) & (agree.label == label)].iloc[0]
            assert row.agree == sum(a.agree for a in ai) and row.disagree == sum(not a.agree for a in ai)
            assert row.changed == sum(a.final_present != u.present for a, u in zip(ai, un))
            r = ratings[(ratings.reader == reader) & (ratings.label == label)]
            for rating in ("correct", "partially correct", "incorrect"):
                n = sum(a.rating == rating for a in ai)
                assert (r[rating].iloc[0] if len(r) else 0) == n


def test_exports_written_and_pseudonymous(exported):
    sc, tmp = exported
    assert (tmp / "xlsx" / "study.xlsx").stat().st_size > 5000
    html = (tmp / "html" / "report.html").read_text(encoding="utf-8")
    assert "ich_cnn+ich_bilstm" in html and "R3" in html
    raw = pd.read_csv(tmp / "csv" / "raw_reads.csv")
    assert len(raw) == 3 * 20 * 2 * 6 and set(raw["case"]) == {c for c, _ in sc.truth}
    text = "".join(p.read_text(errors="ignore") for p in (tmp / "csv").glob("*.csv")) + html
    assert "/data/generated" not in text  # the cases' paths never leave the store
