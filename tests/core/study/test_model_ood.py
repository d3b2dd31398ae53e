"""The CT models' out-of-distribution verdict in the study store (revision 0005): score-cases stores it with every
model output (ICH and BG rows share the volume's verdict), old databases upgrade with their reads and outputs,
status counts the cases outside, and the exports leave those cases out of the model's figures and of every
reader-vs-model comparison, saying how many. Real SQLite file and real PostgreSQL server (db_url)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from core.study import OODVerdict, ReaderSession, StudyError, StudyStore
from core.study.analysis import build_tables
from core.study.export import export_study
from core.study.frames import load_frames
from core.study.imrmc import build as build_imrmc
from core.study.scoring import score_cases
from core.study.store import MIGRATIONS, database_url, head_revision, make_engine
from tests.core.study.db_fixtures import db_url  # noqa: F401 (fixture)
from tests.core.study.study_script import LABELS, read_all, setup_study

ROOT = Path(__file__).resolve().parents[3]
DEMO_CT = ROOT / "resources" / "demo" / "ct"
OUTSIDE_TEXT = "outside the model's training data"


def write_abdomen(folder: Path) -> Path:
    """The OOD guard's abdomen-like phantom (tests/core/tasks/test_ct_ood.py) as a CT DICOM series: no skull."""
    from tests.core.tasks.test_ct_ood import abdomen_like
    from training.synth.ct import SynthCT
    from training.synth.rsna import write_series

    hu = abdomen_like(n=12)[:, ::-1, ::-1]  # display -> canonical orientation
    case = SynthCT(seed=5, hu=np.ascontiguousarray(hu).astype(np.int16), affine=np.diag([0.9, 0.9, 5.0, 1.0]),
                   masks={}, slice_labels={}, bg_side="none", bg_slices=np.zeros(len(hu), bool))
    write_series(case, folder)
    return folder


@pytest.fixture(scope="module")
def abdomen(tmp_path_factory) -> Path:
    return write_abdomen(tmp_path_factory.mktemp("ood") / "abdomen")


@pytest.fixture(scope="module")
def scorer():
    from core.tasks import CTScorer

    return CTScorer(threads=2)


# ------------------------------------------------------------------------------------------------ migration

def test_a_0004_database_upgrades_keeping_reads_and_outputs(db_url):  # noqa: F811
    """A database at revision 0004 with a study, a model output, an unaided and an aided read opens at 0005: every
    row is still there, the old output has no verdict (never a guessed one), and new outputs store theirs."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(database_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    t = "'2026-01-01 00:00:00'"
    yes = "true" if engine.dialect.name == "postgresql" else "1"
    with engine.begin() as c:  # no explicit IDs: PostgreSQL's sequences must stay in step (each table's first row is 1)
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0004")
        c.execute(text("INSERT INTO studies (name, description, labels, reference_standard, score_kind, arms, "
                       f"min_seconds, created_at) VALUES ('old', '', '[\"any\"]', '', 'confidence', "
                       f"'[\"unaided\", \"aided\"]', 0, {t})"))
        c.execute(text(f"INSERT INTO cases (study_id, case_id, path, created_at) VALUES (1, 'C001', '/x', {t})"))
        c.execute(text(f"INSERT INTO readers (study_id, name, created_at) VALUES (1, 'ann', {t})"))
        c.execute(text("INSERT INTO model_outputs (case_pk, label, probability, threshold, model_name, "
                       "model_version, model_sha256, provider, created_at) "
                       f"VALUES (1, 'any', 0.8, 0.5, 'ich_cnn+ich_bilstm', '0.4.1+0.4.1', 'ab', 'cpu', {t})"))
        for arm, conf, secs in (("unaided", 4, 30), ("aided", 5, 12)):
            c.execute(text(f"INSERT INTO reads (case_pk, reader_pk, arm, started_at, committed_at, seconds, note) "
                           f"VALUES (1, 1, '{arm}', {t}, {t}, {secs}, '')"))
            rid = c.execute(text(f"SELECT id FROM reads WHERE arm = '{arm}'")).scalar()
            c.execute(text("INSERT INTO read_answers (read_id, label, present, confidence) "
                           f"VALUES ({rid}, 'any', {yes}, {conf})"))
        c.execute(text("INSERT INTO agreements (read_id, label, model_output_id, model_present, agree, "
                       f"final_present) VALUES (2, 'any', 1, {yes}, {yes}, {yes})"))
    engine.dispose()
    with StudyStore(db_url) as s:
        with s.engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision() == "0005"
        reads = s.reads_of("old")
        assert [(r.read_id, r.arm, r.answers["any"].present, r.answers["any"].confidence) for r in reads] == [
            (1, "unaided", True, 4), (2, "aided", True, 5)]
        assert reads[1].agreements["any"] == {"model_present": True, "agree": True, "final_present": True}
        old = s.model_outputs("old", "C001")["any"]
        assert (old.probability, old.threshold, old.present, old.output_id) == (0.8, 0.5, True, 1)
        assert old.ood is None and old.in_distribution is None and not old.outside
        st = s.status("old")
        assert (st["cases_scored"], st["cases_outside_training_data"], st["cases_scored_without_verdict"]) == (1, 0, 1)
        assert load_frames(s, "old").model["in_distribution"].isna().all()
        s.add_model_outputs("old", "C001", {"any": 0.9}, 0.5, "ich_cnn+ich_bilstm", "0.4.1+0.4.1", "ab",
                            ood=OODVerdict(False, 1.7, 1.0, f"{OUTSIDE_TEXT}: not scored (distance 1.70 > 1.00)"))
        new = s.model_outputs("old", "C001")["any"]
        assert new.outside and new.ood == OODVerdict(False, 1.7, 1.0, f"{OUTSIDE_TEXT}: not scored (distance 1.70 > 1.00)")
        assert s.status("old")["cases_outside"] == ["C001"]
        with pytest.raises(StudyError, match="in_distribution must be True or False"):
            s.add_model_outputs("old", "C001", {"any": 0.9}, 0.5, "m", "1", "ab", ood=OODVerdict("maybe", 1.0, 1.0))


# ------------------------------------------------------------------------------------------------ score-cases

def test_score_cases_stores_the_real_verdict_of_an_abdomen_and_a_head(db_url, abdomen, scorer):  # noqa: F811
    """The bundled models on a real head CT (demo, inside) and an abdomen-like series (outside, no skull): every
    ICH and BG row stores its volume's verdict, status counts the abdomen, the export leaves it out of the model."""
    labels = ("any", "intraparenchymal", "subdural", "bg_hemorrhage", "bg_left")
    with StudyStore(db_url) as s:
        s.create_study("mix", labels)
        head_id, abd_id = s.add_cases("mix", [str(DEMO_CT / "hemorrhage"), str(abdomen)])
        outcomes = {o.case_id: o for o in score_cases(s, "mix", scorer=scorer)}
        assert outcomes[head_id].error is None and outcomes[head_id].in_distribution is True
        assert outcomes[abd_id].error is None and outcomes[abd_id].in_distribution is False
        assert OUTSIDE_TEXT in outcomes[abd_id].ood_reason
        head, abd = s.model_outputs("mix", head_id), s.model_outputs("mix", abd_id)
        assert set(head) == set(abd) == set(labels)
        assert all(f.in_distribution is True and not f.outside for f in head.values())
        assert all(f.outside and OUTSIDE_TEXT in f.ood.reason for f in abd.values())
        # the ICH rows (ich_cnn+ich_bilstm) and the BG rows (bg_laterality) share the volume's one verdict
        assert abd["any"].model_name != abd["bg_hemorrhage"].model_name
        assert abd["any"].ood == abd["bg_hemorrhage"].ood == abd["bg_left"].ood
        assert math.isfinite(abd["any"].ood.score) and abd["any"].ood.threshold > 0
        st = s.status("mix")
        assert (st["cases_scored"], st["cases_outside_training_data"], st["cases_outside"],
                st["cases_scored_without_verdict"]) == (2, 1, [abd_id], 0)

        s.import_truth("mix", [(head_id, lab, lab in ("any", "subdural")) for lab in labels]
                       + [(abd_id, lab, False) for lab in labels])
        frames = load_frames(s, "mix")
    m = frames.model.set_index(["case_id", "label"])
    assert m.loc[(abd_id, "any"), "in_distribution"] == False and m.loc[(head_id, "any"), "in_distribution"] == True  # noqa: E712
    perf = build_tables(frames).tables["performance"]
    model_any = perf[(perf.source == "model") & (perf.label == "any")].iloc[0]
    assert (model_any.n, model_any.n_outside, model_any.n_no_verdict) == (1, 1, 0)  # the head only
    desc = dict(build_tables(frames).tables["descriptor"][["item", "value"]].itertuples(index=False))
    assert desc["model: outside training data"].startswith(f"1 of 2 case(s) ({abd_id})")


def test_a_case_that_fails_to_load_stores_nothing(db_url, tmp_path, scorer):  # noqa: F811
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.dcm").write_bytes(b"not dicom")
    with StudyStore(db_url) as s:
        s.create_study("b", ["any"])
        s.add_cases("b", [str(bad)])
        (o,) = score_cases(s, "b", scorer=scorer)
        assert o.error and o.in_distribution is None
        assert s.status("b")["cases_scored"] == 0 and s.status("b")["cases_outside_training_data"] == 0


# ------------------------------------------------------------------------------------------------ export

@pytest.fixture
def read_study(db_url):  # noqa: F811
    """The scripted study (20 cases, 3 readers, both arms) whose last three cases the model judged outside its
    training data (stored verdicts; the real verdict of a real volume is checked above), read in full."""
    with StudyStore(db_url) as s:
        sc = setup_study(s, "s")
        ids = [c.case_id for c in s.cases("s")]
        outside = ids[-3:]
        for cid in ids:
            v = (OODVerdict(False, 1.8, 1.0, f"{OUTSIDE_TEXT}: not scored (distance 1.80 > 1.00)") if cid in outside
                 else OODVerdict(True, 0.4, 1.0, "in distribution"))
            s.add_model_outputs("s", cid, {lab: sc.model[(cid, lab)] for lab in LABELS}, 0.5, "ich_cnn+ich_bilstm",
                                "0.1.0+0.1.0", "f" * 64, "CPUExecutionProvider", ood=v)
        read_all(s, "s", sc)
        assert s.status("s")["cases_outside"] == sorted(outside)
        frames = load_frames(s, "s")
    return sc, ids, outside, frames


def _auc(t: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[t], p[~t]
    return float(np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg]))


def test_export_reports_the_model_on_cases_inside_and_counts_the_others(read_study, tmp_path):
    sc, ids, outside, frames = read_study
    inside = [c for c in ids if c not in outside]
    tables = build_tables(frames).tables
    perf = tables["performance"]
    for lab in LABELS:
        row = perf[(perf.source == "model") & (perf.label == lab)].iloc[0]
        t = np.array([sc.truth[(c, lab)] for c in inside])
        p = np.array([sc.model[(c, lab)] for c in inside])
        assert (row.n, row.n_outside, row.n_no_verdict) == (17, 3, 0)
        assert (row.tp, row.fn) == (int(np.sum(t & (p >= 0.5))), int(np.sum(t & (p < 0.5))))
        assert (row.tn, row.fp) == (int(np.sum(~t & (p < 0.5))), int(np.sum(~t & (p >= 0.5))))
        if t.sum() >= 2 and (~t).sum() >= 2:  # DeLong's AUC needs two of each
            assert row.auc == pytest.approx(_auc(t, p), rel=1e-12)
    readers = perf[perf.source == "reader"]
    assert (readers.n == 20).all() and readers.n_outside.isna().all()  # the readers' figures keep every case

    for name in ("delong_vs_model", "mcnemar_vs_model", "kappa_vs_model"):
        df = tables[name]
        assert len(df) and (df.n <= 17).all() and (df.n_outside == 3).all(), name
    mcn = tables["mcnemar_vs_model"]
    assert (mcn.both_correct + mcn.reader_only_correct + mcn.model_only_correct + mcn.both_wrong == mcn.n).all()
    assert (mcn.n == 17).all()
    orh = tables["orh_model_vs_readers"]
    ran = orh[orh.note == ""]
    assert len(ran) and (ran.n == 17).all() and (orh.n_outside == 3).all()

    t5 = tables["table5"]
    assert (t5.loc[t5.block.str.startswith("model"), "n_outside"] == 3).all()
    assert t5.loc[~t5.block.str.startswith("model"), "n_outside"].isna().all()
    lay = tables["table5_layout"]
    excl = lay[lay.metric == "Outside training data (excluded)"]
    assert len(excl) == 1 and excl.block.iloc[0].startswith("model") and (excl[list(LABELS)] == "3").all(axis=None)

    disc = tables["discordant_cases"]
    out_rows = disc[disc.case_id.isin(outside)]
    assert len(out_rows) and out_rows.model_outside.all() and out_rows.model_correct.isna().all()
    assert not disc.loc[~disc.case_id.isin(outside), "model_outside"].any()
    ag = tables["agreement"]
    assert ag.loc[(ag.reader == "all readers") & (ag.label == "all labels"), "n_outside"].iloc[0] == 3 * 3 * 6
    desc = dict(tables["descriptor"][["item", "value"]].itertuples(index=False))
    assert desc["model: outside training data"].startswith(f"3 of 20 case(s) ({', '.join(sorted(outside))})")
    assert "excluded from the model's figures" in desc["method: ood"]

    # the formats: CSV and XLSX pass the column allow-list, the report says it, iMRMC leaves them out of the model
    paths = export_study(frames, "csv", tmp_path / "csv")
    assert pd.read_csv(tmp_path / "csv" / "performance.csv").n_outside.max() == 3 and paths
    export_study(frames, "xlsx", tmp_path / "xlsx")
    html = export_study(frames, "html", tmp_path / "html")[0].read_text()
    assert "Outside the model&#39;s training data:</b> 3 case(s)" in html or "Outside the model's training data:</b> 3 case(s)" in html
    f = build_imrmc(frames, "any")
    assert f.n0 + f.n1 == 17 and "3 left out; 3 of them outside the model's training data" in f.text


def test_without_verdicts_nothing_is_left_out(db_url):  # noqa: F811
    """Outputs stored without a verdict (before revision 0005): the model's figures cover every case, as before,
    and the export says how many have no verdict."""
    with StudyStore(db_url) as s:
        sc = setup_study(s, "s", n_cases=12)
        read_all(s, "s", sc)
        frames = load_frames(s, "s")
    tables = build_tables(frames).tables
    perf = tables["performance"]
    model = perf[perf.source == "model"]
    assert (model.n == 12).all() and (model.n_outside == 0).all() and (model.n_no_verdict == 12).all()
    assert "Outside training data (excluded)" not in set(tables["table5_layout"].metric)
    desc = dict(tables["descriptor"][["item", "value"]].itertuples(index=False))
    assert desc["model: outside training data"] == "0 of 12 case(s)"
    assert desc["model: no stored verdict"].startswith("12 case(s) scored before the verdict was stored")


def test_a_reader_sees_the_stored_verdict_with_the_findings(db_url):  # noqa: F811
    with StudyStore(db_url) as s:
        s.create_study("r", ["any"])
        (cid,) = s.add_cases("r", ["/x"])
        s.add_readers("r", ["ann"])
        s.add_model_outputs("r", cid, {"any": 0.93}, 0.5, "m", "1", "ab",
                            ood=OODVerdict(False, 2.5, 1.0, f"{OUTSIDE_TEXT}: not scored (distance 2.50 > 1.00)"))
        from core.study import Answer

        r = ReaderSession(s, "r", "ann")
        r.save_unaided({"any": Answer(False, 4)})
        f = r.model_findings()["any"]
        assert f.present and f.outside and f.ood.score == 2.5  # the call is stored as made; the verdict says it is none


def test_outside_the_training_data_a_present_call_needs_no_heat_map_rating(db_url):  # noqa: F811
    """A call outside the training data is no finding, so its map is not rated; inside, the rating stays required."""
    from core.study import AidedAnswer, Answer

    with StudyStore(db_url) as s:
        s.create_study("h", ["any"])
        out_id, in_id = s.add_cases("h", ["/outside", "/inside"])
        s.add_readers("h", ["ann"])
        s.add_model_outputs("h", out_id, {"any": 0.93}, 0.5, "m", "1", "ab",
                            ood=OODVerdict(False, 2.5, 1.0, f"{OUTSIDE_TEXT}: not scored (distance 2.50 > 1.00)"))
        s.add_model_outputs("h", in_id, {"any": 0.93}, 0.5, "m", "1", "ab", ood=OODVerdict(True, 0.5, 1.0, ""))
        r = ReaderSession(s, "h", "ann")
        done = []
        for _ in range(2):
            cid = r.current_case().case_id
            r.save_unaided({"any": Answer(False, 4)})
            if s.model_outputs("h", cid)["any"].outside:
                r.save_aided({"any": AidedAnswer(False, False, 4)})  # disagrees with the raw call, no rating
            else:
                with pytest.raises(StudyError, match="needs a rating"):
                    r.save_aided({"any": AidedAnswer(False, False, 4)})
                r.save_aided({"any": AidedAnswer(False, False, 4, rating="incorrect")})
            done.append(cid)
        assert sorted(done) == sorted([out_id, in_id])
