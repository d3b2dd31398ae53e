"""StudyStore on a real SQLite file and a real PostgreSQL database: set-up, validation, per-reader order,
resume, append-only corrections with audit trail, blinding, migrations, frames."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from core.study import AidedAnswer, Answer, BlindingError, ReaderSession, StudyError, StudyStore
from core.study.frames import READS_COLUMNS, confidence_score, load_frames
from core.study.store import head_revision
from tests.core.study.db_fixtures import db_url  # noqa: F401 (fixture)
from tests.core.study.study_script import LABELS, read_all, setup_study

NOW = dt.datetime(2026, 1, 1)


@pytest.fixture
def store(db_url):  # noqa: F811
    s = StudyStore(db_url)
    yield s
    s.close()


def _two_label_study(store, name="s", arms=("unaided", "aided"), kind="confidence", n=4):
    store.create_study(name, ["any", "subdural"], score_kind=kind, arms=arms)
    ids = store.add_cases(name, [f"/cases/{i}" for i in range(n)])
    store.add_readers(name, ["ann", "bob"])
    for cid in ids:
        store.add_model_outputs(name, cid, {"any": 0.8, "subdural": 0.3}, 0.5, "m", "1", "a" * 64)
    return ids


def test_migrated_to_head_and_reopen_is_idempotent(db_url):  # noqa: F811
    with StudyStore(db_url) as s:
        s.create_study("x", ["any"])
        with s.engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    with StudyStore(db_url) as s:  # second open: upgrade is a no-op, data kept
        assert s.studies() == ["x"]


def test_create_study_validation(store):
    rec = store.create_study("ich", LABELS, description="d", reference_standard="rs")
    assert rec.labels == LABELS and rec.arms == ("unaided", "aided") and rec.score_kind == "confidence"
    with pytest.raises(StudyError, match="already exists"):
        store.create_study("ich", LABELS)
    with pytest.raises(StudyError, match="score kind"):
        store.create_study("a", LABELS, score_kind="likert")
    with pytest.raises(StudyError, match="repeat"):
        store.create_study("b", ["any", "any"])
    with pytest.raises(StudyError, match="arms"):
        store.create_study("c", ["any"], arms=["aided"])
    with pytest.raises(StudyError, match="no study named 'nope'"):
        store.study("nope")


def test_case_ids_generated_and_readd_skipped(store):
    store.create_study("s", ["any"])
    assert store.add_cases("s", ["/p/a", "/p/b"]) == ["C001", "C002"]
    assert store.add_cases("s", ["/p/a", "/p/c"]) == ["C003"]  # /p/a already there
    assert store.add_cases("s", [("/p/d", "X9")]) == ["X9"]
    with pytest.raises(StudyError, match="used twice"):
        store.add_cases("s", [("/p/e", "X9")])
    assert [c.case_id for c in store.cases("s")] == ["C001", "C002", "C003", "X9"]


def test_reading_order_per_reader_reproducible_and_stable(store, db_url):  # noqa: F811
    store.create_study("s", ["any"])
    store.add_cases("s", [f"/c/{i}" for i in range(30)])
    store.add_readers("s", ["ann", "bob"])
    a, b = store.reading_order("s", "ann"), store.reading_order("s", "bob")
    assert sorted(a) == sorted(b) == sorted(c.case_id for c in store.cases("s"))
    assert a != b  # per reader
    assert a != sorted(a)  # randomised
    with StudyStore(db_url) as other:  # reproducible from another connection
        assert other.reading_order("s", "ann") == a
    store.add_cases("s", ["/c/new1", "/c/new2"])
    a2 = store.reading_order("s", "ann")
    assert [c for c in a2 if c in a] == a  # adding cases keeps the relative order of the others


def test_unaided_and_aided_flow_resume(store, db_url):  # noqa: F811
    _two_label_study(store)
    s = ReaderSession(store, "s", "ann")
    first = s.current_case()
    assert first.arm == "unaided" and first.position == 1 and first.total == 4
    s.save_unaided({"any": Answer(True, 4), "subdural": Answer(False, 3)})
    assert s.current_case().case_id == first.case_id and s.current_case().arm == "aided"
    found = s.model_findings()
    assert found["any"].present and not found["subdural"].present
    # a new store on the same database resumes at the aided step of that case
    with StudyStore(db_url) as again:
        nxt = again.next_case("s", "ann")
        assert (nxt.case_id, nxt.arm) == (first.case_id, "aided")
    s.save_aided({"any": AidedAnswer(True, True, 5, rating="correct"), "subdural": AidedAnswer(True, False, 2)})
    second = s.current_case()
    assert second.case_id != first.case_id and second.arm == "unaided" and second.position == 2
    assert s.progress() == (1, 4)
    assert store.progress("s", "bob") == (0, 4)
    assert store.next_case("s", "bob").case_id == store.reading_order("s", "bob")[0]


@pytest.mark.parametrize("answers, message", [
    ({"any": Answer(True, 3)}, "missing: subdural"),
    ({"any": Answer(True, 3), "subdural": None}, "missing: subdural"),
    ({"any": Answer(True, 3), "subdural": Answer(False, 0)}, "confidence must be a whole number 1-5"),
    ({"any": Answer(True, 3), "subdural": Answer(False, 6)}, "confidence must be a whole number 1-5"),
    ({"any": Answer(True, 3), "subdural": Answer(False)}, "confidence 1-5 is required"),
    ({"any": Answer(True, 3), "subdural": Answer(None, 3)}, "present or absent"),
    ({"any": Answer(True, 3), "subdural": Answer(False, probability=40)}, "not a probability"),
    ({"any": Answer(True, 3), "subdural": Answer(False, 2), "epidural": Answer(False, 2)}, "unknown label"),
])
def test_unaided_validation_rejects_and_saves_nothing(store, answers, message):
    _two_label_study(store)
    s = ReaderSession(store, "s", "ann")
    with pytest.raises(StudyError, match=message):
        s.save_unaided(answers)
    assert store.reads_of("s") == []
    assert s.current_case().arm == "unaided"


def test_probability_study_validation(store):
    _two_label_study(store, kind="probability")
    s = ReaderSession(store, "s", "ann")
    with pytest.raises(StudyError, match="probability must be 0-100"):
        s.save_unaided({"any": Answer(True, probability=101), "subdural": Answer(False, probability=3)})
    with pytest.raises(StudyError, match="not a confidence"):
        s.save_unaided({"any": Answer(True, 5), "subdural": Answer(False, probability=3)})
    s.save_unaided({"any": Answer(True, probability=87.5), "subdural": Answer(False, probability=0)})
    f = load_frames(store, "s").reads
    assert sorted(f["score"]) == [0.0, 87.5] and set(f["score_kind"]) == {"probability"}


def test_aided_validation(store):
    _two_label_study(store)
    s = ReaderSession(store, "s", "ann")
    s.save_unaided({"any": Answer(True, 4), "subdural": Answer(False, 3)})
    with pytest.raises(StudyError, match="contradicts the final answer"):  # model says any present
        s.save_aided({"any": AidedAnswer(True, False, 3, rating="correct"), "subdural": AidedAnswer(True, False, 2)})
    with pytest.raises(StudyError, match="needs a rating"):
        s.save_aided({"any": AidedAnswer(True, True, 3), "subdural": AidedAnswer(True, False, 2)})
    with pytest.raises(StudyError, match="heat-map rating must be one of"):
        s.save_aided({"any": AidedAnswer(True, True, 3, rating="great"), "subdural": AidedAnswer(True, False, 2)})
    with pytest.raises(StudyError, match="missing: subdural"):
        s.save_aided({"any": AidedAnswer(True, True, 3, rating="correct")})
    assert [r.arm for r in store.reads_of("s")] == ["unaided"]


def test_aided_needs_model_output(store):
    store.create_study("s", ["any"])
    store.add_cases("s", ["/x"])
    store.add_readers("s", ["ann"])
    s = ReaderSession(store, "s", "ann")
    s.save_unaided({"any": Answer(False, 2)})
    with pytest.raises(StudyError, match="score-cases"):
        s.model_findings()


def test_corrections_are_appended_and_audited(store):
    ids = _two_label_study(store, arms=("unaided",))
    s = ReaderSession(store, "s", "ann")
    cid = s.current_case().case_id
    rid = s.save_unaided({"any": Answer(True, 2), "subdural": Answer(False, 3)})
    with pytest.raises(StudyError, match="must name the read it supersedes"):
        store.save_read("s", "ann", cid, {"any": Answer(False, 4), "subdural": Answer(False, 3)}, NOW)
    new = store.save_read("s", "ann", cid, {"any": Answer(False, 4), "subdural": Answer(False, 3)}, NOW,
                          supersedes=rid)
    with pytest.raises(StudyError, match="not the latest"):
        store.save_read("s", "ann", cid, {"any": Answer(False, 4), "subdural": Answer(False, 3)}, NOW,
                        supersedes=rid)
    trail = store.audit_trail("s", cid, "ann")
    assert [(r.read_id, r.supersedes, r.superseded_by) for r in trail] == [(rid, None, new), (new, rid, None)]
    assert trail[0].answers["any"] == Answer(True, 2) and trail[1].answers["any"] == Answer(False, 4)
    reads = load_frames(store, "s").reads
    row = reads[(reads.case_id == cid) & (reads.label == "any")]
    assert len(row) == 1 and not row.present.iloc[0] and row.score.iloc[0] == confidence_score(False, 4)
    assert len(ids) == 4


def test_unaided_read_cannot_be_corrected_after_model_may_be_seen(store):
    _two_label_study(store)
    s = ReaderSession(store, "s", "ann")
    cid = s.current_case().case_id
    rid = s.save_unaided({"any": Answer(True, 2), "subdural": Answer(False, 3)})
    with pytest.raises(StudyError, match="cannot be corrected"):
        store.save_read("s", "ann", cid, {"any": Answer(False, 4), "subdural": Answer(False, 3)}, NOW, supersedes=rid)


def test_blinding_unaided_session(store):
    _two_label_study(store)
    store.import_truth("s", [(c.case_id, lab, True) for c in store.cases("s") for lab in ("any", "subdural")])
    s = ReaderSession(store, "s", "ann")
    s.current_case()
    with pytest.raises(BlindingError):
        s.model_findings()
    with pytest.raises(BlindingError):
        store.reader_model_findings("s", "ann", s.current_case().case_id)
    public = {n for n in dir(s) if not n.startswith("_")}
    assert public == {"arms", "case", "correct", "correction_arm", "current_case", "finished", "labels",
                      "min_seconds", "model_findings", "my_read", "progress", "reader", "save_aided", "save_unaided", "score_kind",
                      "study"}  # nothing that returns truth, other readers' reads, or the store
    for name in ("study", "reader", "labels", "score_kind", "arms"):  # plain values, not the store
        assert not isinstance(getattr(s, name), StudyStore)
    assert "truth" not in repr(s.current_case()).lower()
    with pytest.raises(StudyError, match="not a reader"):
        ReaderSession(store, "s", "mallory")


def test_unaided_only_study_never_shows_the_model(store):
    _two_label_study(store, arms=("unaided",))
    s = ReaderSession(store, "s", "ann")
    s.save_unaided({"any": Answer(True, 2), "subdural": Answer(False, 3)})
    with pytest.raises(BlindingError):
        s.model_findings()
    with pytest.raises(BlindingError, match="no aided arm"):
        store.reader_model_findings("s", "ann", store.reading_order("s", "ann")[0])


def test_truth_import_newest_wins_and_unknown_refused(store):
    _two_label_study(store)
    store.import_truth("s", [("C001", "any", False)], source="first.csv")
    store.import_truth("s", [("C001", "any", True)], source="second.csv")
    assert store.truth("s")[("C001", "any")] is True
    with pytest.raises(StudyError, match="does not have"):
        store.import_truth("s", [("C999", "any", True)])
    with pytest.raises(StudyError, match="label 'bleed'"):
        store.import_truth("s", [("C001", "bleed", True)])


def test_scripted_study_frames_match_the_script(store):
    readers = ("R1", "R2", "R3")
    sc = setup_study(store, "ich", n_cases=20, readers=readers)
    read_all(store, "ich", sc, readers=readers)
    fr = load_frames(store, "ich")
    assert list(fr.reads.columns) == READS_COLUMNS
    assert len(fr.reads) == 3 * 20 * 2 * 6 and fr.reads.truth.dtype == bool
    reads = {(r.reader, r.case_id, r.arm, r.label): r for r in fr.reads.itertuples()}
    for (reader, cid, lab), a in sc.unaided.items():
        row = reads[(reader, cid, "unaided", lab)]
        assert row.present == a.present and row.score == confidence_score(a.present, a.confidence)
        assert row.truth == sc.truth[(cid, lab)]
    agree = {(r.reader, r.case_id, r.label): r for r in fr.agreement.itertuples()}
    for (reader, cid, lab), a in sc.aided.items():
        row = agree[(reader, cid, lab)]
        assert (row.agree, row.final_present) == (a.agree, a.final_present)
        assert row.model_present == (sc.model[(cid, lab)] >= 0.5)
        assert reads[(reader, cid, "aided", lab)].score == confidence_score(a.final_present, a.confidence)
    assert len(fr.agreement) == 3 * 20 * 6
    n_pos_model = sum(p >= 0.5 for p in sc.model.values())
    assert len(fr.ratings) == 3 * n_pos_model
    assert len(fr.model) == 20 * 6 and set(fr.model.model_sha256) == {"f" * 64}
    assert fr.info["n_cases"] == 20 and fr.info["readers"] == list(readers)
    assert fr.info["cases_per_label"]["any"]["positive"] == sum(sc.truth[(c, "any")] for c in sc.order["R1"])
    assert all(len(set(o)) == 20 for o in sc.order.values()) and len({tuple(o) for o in sc.order.values()}) == 3
    st = store.status("ich")
    assert st["reads_per_arm"] == {"unaided": 60, "aided": 60}
    assert all(p["done"] == 20 for p in st["progress"].values())
    assert all(store.next_case("ich", r) is None for r in readers)


def test_frames_have_no_paths(store):
    setup_study(store, "ich", n_cases=3, readers=("R1",), paths=["/data/DOE^JOHN/ct1", "/data/x/ct2", "/data/y"])
    fr = load_frames(store, "ich")
    for df in (fr.reads, fr.agreement, fr.ratings, fr.model):
        assert not df.astype(str).apply(lambda col: col.str.contains("DOE")).any().any()
    assert "DOE" not in repr(fr.info)


@pytest.mark.parametrize("sql", ["UPDATE reads SET seconds = 0", "DELETE FROM read_answers",
                                 "UPDATE agreements SET agree = NOT agree", "DELETE FROM reads"])
def test_database_refuses_rewriting_committed_reads(store, sql):
    from sqlalchemy.exc import DatabaseError

    _two_label_study(store)
    s = ReaderSession(store, "s", "ann")
    s.save_unaided({"any": Answer(True, 4), "subdural": Answer(False, 3)})
    s.save_aided({"any": AidedAnswer(True, True, 5, rating="correct"), "subdural": AidedAnswer(True, False, 2)})
    before = [(r.read_id, r.seconds, r.answers, r.agreements) for r in store.reads_of("s")]
    with pytest.raises(DatabaseError, match="append-only"):
        with store.engine.begin() as c:
            c.execute(text(sql))
    assert [(r.read_id, r.seconds, r.answers, r.agreements) for r in store.reads_of("s")] == before


def test_study_info_names_each_model_and_its_labels(store):
    store.create_study("mix", ["any", "subdural", "bg_left"])
    for cid in store.add_cases("mix", ["/a", "/b"]):
        store.add_model_outputs("mix", cid, {"any": 0.9, "subdural": 0.2}, {"any": 0.5, "subdural": 0.4},
                                "ich_cnn+ich_bilstm", "0.1.0+0.1.0", "a" * 64 + "+" + "b" * 64, "CPU")
        store.add_model_outputs("mix", cid, {"bg_left": 0.7}, 0.5, "bg_laterality", "0.1.0", "c" * 64, "CPU")
    with pytest.raises(StudyError, match="not in the study's labels"):
        store.add_model_outputs("mix", "C001", {"face": 0.1}, 0.5, "m", "1", "d")
    info = load_frames(store, "mix").info
    assert info["model"]["name"] == "ich_cnn+ich_bilstm" and info["model"]["labels"] == ["any", "subdural"]
    assert info["model"]["thresholds"] == {"any": 0.5, "subdural": 0.4} and info["model"]["cases_scored"] == 2
    assert [m["name"] for m in info["model"]["all_versions"]] == ["ich_cnn+ich_bilstm", "bg_laterality"]
    assert info["model"]["all_versions"][1]["labels"] == ["bg_left"]


def test_reader_goes_back_and_corrects_an_aided_read(store):
    _two_label_study(store)
    store.import_truth("s", [(c.case_id, lab, False) for c in store.cases("s") for lab in ("any", "subdural")])
    s = ReaderSession(store, "s", "ann")
    first = s.current_case().case_id
    with pytest.raises(StudyError, match="not among your finished"):
        s.case(first)
    with pytest.raises(BlindingError):
        s.model_findings(first)
    s.save_unaided({"any": Answer(True, 4), "subdural": Answer(False, 3)})
    s.save_aided({"any": AidedAnswer(True, True, 5, rating="correct"), "subdural": AidedAnswer(True, False, 2)})
    assert s.finished() == [first] and s.case(first).arm == "aided" and s.case(first).position == 1
    old = s.my_read(first)
    assert old.arm == "aided" and old.answers["any"] == Answer(True, 5) and old.ratings == {"any": "correct"}
    assert s.model_findings(first)["any"].present
    new = s.correct(first, {"any": AidedAnswer(False, False, 2, rating="incorrect"),
                            "subdural": AidedAnswer(True, False, 4)})
    with pytest.raises(StudyError, match="needs a rating"):  # the model still calls 'any' present
        s.correct(first, {"any": AidedAnswer(True, True, 2), "subdural": AidedAnswer(True, False, 4)})
    trail = store.audit_trail("s", first, "ann")
    assert [(r.arm, r.supersedes, r.current) for r in trail] == [("unaided", None, True), ("aided", None, False),
                                                                   ("aided", old.read_id, True)]
    assert trail[-1].read_id == new and s.my_read(first).read_id == new
    agree = load_frames(store, "s").agreement
    assert not agree[agree.label == "any"].agree.iloc[0]  # the correction is what counts
    assert s.current_case().case_id != first  # going back did not move the reading position


@pytest.mark.parametrize("target, message", [
    ("foo://x", "not a database URL"),
    ("postgresql://nobody@127.0.0.1:1/x", "cannot open the study database"),
    ("{tmp}/garbage.sqlite", "file is not a database"),
    ("{tmp}", "must be a file, not a folder"),
])
def test_open_errors_are_one_line(tmp_path, target, message):
    (tmp_path / "garbage.sqlite").write_text("this is not SQLite")
    with pytest.raises(StudyError, match=message) as info:
        StudyStore(target.format(tmp=tmp_path))
    assert "\n" not in str(info.value)


def test_minimum_reading_time(store):
    store.create_study("m", ["any"], arms=("unaided",), min_seconds=30)
    store.add_cases("m", ["/a", "/b"])
    store.add_readers("m", ["ann"])
    assert store.study("m").min_seconds == 30
    s = ReaderSession(store, "m", "ann")
    s.current_case()
    with pytest.raises(StudyError, match="at least 30 s per case"):
        s.save_unaided({"any": Answer(True, 3)})
    rid = s.save_unaided({"any": Answer(True, 3)}, seconds=31.5)
    assert store.audit_trail("m", store.reading_order("m", "ann")[0], "ann")[0].seconds == 31.5
    s.correct(store.reading_order("m", "ann")[0], {"any": Answer(False, 3)})  # a correction has no minimum
    assert rid
    with pytest.raises(StudyError, match="0-3600"):
        store.create_study("n", ["any"], min_seconds=-1)


def test_upgrade_from_the_first_revision_keeps_data(db_url):  # noqa: F811
    """A database created at revision 0001 (before triggers and min_seconds) opens, migrates, keeps its rows."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import DatabaseError

    from core.study.store import MIGRATIONS, database_url, make_engine

    engine = make_engine(database_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0001")
        c.execute(text("INSERT INTO studies (name, description, labels, reference_standard, score_kind, arms, created_at) "
                       "VALUES ('old', '', '[\"any\"]', '', 'confidence', '[\"unaided\"]', '2026-01-01 00:00:00')"))
    engine.dispose()
    with StudyStore(db_url) as s:
        assert s.study("old").min_seconds == 0 and s.study("old").labels == ("any",)
        s.add_cases("old", ["/x"])
        s.add_readers("old", ["ann"])
        ReaderSession(s, "old", "ann").save_unaided({"any": Answer(True, 5)})
        with pytest.raises(DatabaseError, match="append-only"), s.engine.begin() as c:
            c.execute(text("DELETE FROM reads"))
        with s.engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision() == "0005"
