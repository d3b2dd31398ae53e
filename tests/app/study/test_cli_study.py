"""`neuroreview study ...` end to end on generated DICOM series and the bundled demo CT (real models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.study import StudyStore
from core.tasks.ct import ICH_LABELS
from tests.core.io.dicom_factory import phantom_hu, write_ct_series

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "resources" / "demo"


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def folder(tmp_path):
    """Two small CT series in two subfolders, a non-CT series, and a file that is not DICOM."""
    write_ct_series(tmp_path / "cases" / "a", phantom_hu(6, 32, 32, seed=1))
    write_ct_series(tmp_path / "cases" / "b", phantom_hu(6, 32, 32, seed=2))
    mr = write_ct_series(tmp_path / "cases" / "mr", phantom_hu(4, 32, 32, seed=3))
    import pydicom

    for p in mr:
        ds = pydicom.dcmread(p)
        ds.Modality = "MR"
        ds.save_as(p)
    (tmp_path / "cases" / "notes.txt").write_text("not an image")
    return tmp_path / "cases"


def test_set_up_a_study_from_a_folder(capsys, tmp_path, folder):
    db = str(tmp_path / "s.sqlite")
    rc, out, _ = run(capsys, "study", "create", "ich", "--db", db, "--reference-standard", "masks")
    assert rc == 0 and "labels any, epidural" in out
    rc, out, _ = run(capsys, "study", "add-cases", "ich", str(folder), "--db", db)
    assert rc == 0 and "2 case(s) added" in out and "MR series" in out and "notes.txt" in out
    rc, out, _ = run(capsys, "study", "add-cases", "ich", str(folder), "--db", db)
    assert "0 case(s) added (2 already in the study)" in out
    assert run(capsys, "study", "add-readers", "ich", "alice", "bob", "--db", db)[0] == 0
    with StudyStore(db) as s:
        cases = {Path(c.path).name: c.case_id for c in s.cases("ich")}
    assert sorted(cases) == ["a", "b"] and sorted(cases.values()) == ["C001", "C002"]
    truth = tmp_path / "truth.csv"
    truth.write_text("path," + ",".join(ICH_LABELS) + "\n"
                     "a,1,0,0,0,0,1\n"
                     f"{folder / 'b'},0,0,0,0,0,0\n")
    # relative paths resolve against the CSV's folder: "a" is tmp_path/a, not a case -> clear error
    rc, _, err = run(capsys, "study", "import-truth", "ich", str(truth), "--db", db)
    assert rc == 2 and "no case of this study has the path" in err and str(truth) in err and len(err.splitlines()) == 1
    truth.write_text("case_id,any,subdural,comment\n" f"{cases['a']},1,yes,x\n" f"{cases['b']},0,no,y\n")
    rc, out, _ = run(capsys, "study", "import-truth", "ich", str(truth), "--db", db)
    assert rc == 0 and "4 truth value(s) for 2 case(s), labels any, subdural" in out and "no column for epidural" in out
    with StudyStore(db) as s:
        t = s.truth("ich")
    assert t[(cases["a"], "subdural")] is True and t[(cases["b"], "any")] is False
    truth.write_text("case_id,any\n" f"{cases['a']},maybe\n")
    rc, _, err = run(capsys, "study", "import-truth", "ich", str(truth), "--db", db)
    assert rc == 2 and "row 2, column any: 'maybe' is not 0/1" in err
    rc, out, _ = run(capsys, "study", "status", "ich", "--db", db)
    assert "2 case(s)" in out and "truth for 2 case(s)" in out and "alice: 0 of 2 case(s) finished" in out
    rc, out, _ = run(capsys, "study", "status", "ich", "--db", db, "--json")
    st = json.loads(out)
    assert st["cases"] == 2 and st["readers"] == ["alice", "bob"]
    rc, _, err = run(capsys, "study", "status", "nope", "--db", db)
    assert rc == 2 and err.startswith("error: no study named 'nope' (studies here: ich)") and "Traceback" not in err


def test_case_list_csv_refuses_a_patient_id_as_case_id(capsys, tmp_path, folder):
    db = str(tmp_path / "s.sqlite")
    run(capsys, "study", "create", "ich", "--db", db)
    lst = tmp_path / "cases.csv"
    lst.write_text("path,case_id\ncases/a,TEST-001\n")  # the factory's PatientID
    rc, _, err = run(capsys, "study", "add-cases", "ich", str(lst), "--db", db)
    assert rc == 2 and "is the DICOM PatientID" in err
    lst.write_text("path,case_id\ncases/a,P-7\ncases/b,\n")
    rc, out, _ = run(capsys, "study", "add-cases", "ich", str(lst), "--db", db)
    assert rc == 0 and "2 case(s) added" in out
    with StudyStore(db) as s:
        assert [c.case_id for c in s.cases("ich")] == ["P-7", "C001"]
    lst.write_text("path\ncases/missing\n")
    rc, _, err = run(capsys, "study", "add-cases", "ich", str(lst), "--db", db)
    assert rc == 2 and "row 2: no such file or folder" in err


def test_score_cases_stores_the_bundled_models_outputs(capsys, tmp_path):
    db = str(tmp_path / "s.sqlite")
    run(capsys, "study", "create", "ich", "--db", db)
    lst = tmp_path / "cases.csv"
    lst.write_text(f"path\n{DEMO / 'ct' / 'hemorrhage'}\n")
    run(capsys, "study", "add-cases", "ich", str(lst), "--db", db)
    rc, out, _ = run(capsys, "study", "score-cases", "ich", "--db", db)
    assert rc == 0 and "[1/1] C001 scored" in out and "1 case(s) scored, 0 failed" in out
    from core.io import load
    from core.tasks import CTScorer

    ref = CTScorer().score_ich(load(DEMO / "ct" / "hemorrhage"))
    with StudyStore(db) as s:
        found = s.model_outputs("ich", "C001")
    assert set(found) == set(ICH_LABELS)
    for lab in ICH_LABELS:
        assert found[lab].probability == pytest.approx(ref.series_probs[lab], abs=1e-6)
        assert found[lab].model_name == "ich_cnn+ich_bilstm" and found[lab].threshold == pytest.approx(ref.thresholds[lab])
    # the store holds the scorer's calls at the card thresholds (whether they match the phantom's truth is the
    # model's business: tests/core/tasks/test_ct_scoring.py)
    assert all(found[lab].present == ref.flagged()[lab] for lab in ICH_LABELS), {lab: found[lab].present for lab in ICH_LABELS}
    assert len(found["any"].model_sha256.split("+")) == 2 and all(len(h) == 64 for h in found["any"].model_sha256.split("+"))
    rc, out, _ = run(capsys, "study", "score-cases", "ich", "--db", db)
    assert "every case already has model outputs" in out
    assert np.isfinite(found["any"].probability)


def test_score_cases_reports_an_unreadable_case(capsys, tmp_path):
    db = str(tmp_path / "s.sqlite")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.dcm").write_bytes(b"not dicom at all")
    run(capsys, "study", "create", "ich", "--db", db, "--labels", "any,subdural")
    with StudyStore(db) as s:
        s.add_cases("ich", [str(bad)])
    rc, out, _ = run(capsys, "study", "score-cases", "ich", "--db", db)
    assert rc == 2 and "[1/1] C001 error:" in out and "1 failed" in out
    run(capsys, "study", "create", "qc", "--db", db, "--labels", "face")
    with StudyStore(db) as s:
        s.add_cases("qc", [str(bad)])
    rc, _, err = run(capsys, "study", "score-cases", "qc", "--db", db)
    assert rc == 2 and "no bundled model scores label(s) face" in err


def test_audit_shows_a_correction_and_the_read_it_replaced(capsys, tmp_path):
    from core.study import Answer, ReaderSession

    db = str(tmp_path / "s.sqlite")
    run(capsys, "study", "create", "u", "--db", db, "--labels", "any,subdural", "--arms", "unaided",
        "--score-kind", "probability")
    with StudyStore(db) as s:
        s.add_cases("u", ["/x"])
        s.add_readers("u", ["ann"])
        rs = ReaderSession(s, "u", "ann")
        first = rs.save_unaided({"any": Answer(True, probability=80), "subdural": Answer(False, probability=10)})
        second = rs.correct("C001", {"any": Answer(False, probability=30), "subdural": Answer(False, probability=5)})
    rc, out, _ = run(capsys, "study", "audit", "u", "C001", "ann", "--db", db)
    assert rc == 0
    lines = out.splitlines()
    assert f"read {first} unaided" in lines[0] and f"superseded by read {second}" in lines[0]
    assert f"read {second} unaided" in lines[3] and f"corrects read {first}" in lines[3] and "(current)" in lines[3]
    assert "any                present  probability 80" in lines[1]
    rc, out, _ = run(capsys, "study", "status", "u", "--db", db)
    assert "unaided 1; 1 correction(s)" in out and "ann: 1 of 1 case(s) finished" in out


def test_cases_prints_the_unblinded_mapping_only_when_confirmed(capsys, tmp_path):
    db = str(tmp_path / "s.sqlite")
    with StudyStore(db) as s:
        s.create_study("s", ["any"])
        s.add_cases("s", [("/data/a", None, "1.2.3"), "/data/b"])
    rc, out, err = run(capsys, "study", "cases", "s", "--db", db)
    assert rc != 0 and "--unblinded" in err and "/data/a" not in out + err
    rc, out, _ = run(capsys, "study", "cases", "s", "--db", db, "--unblinded")
    assert rc == 0 and "UNBLINDED" in out and "C001\t/data/a\t1.2.3" in out and "C002\t/data/b" in out
    rc, out, _ = run(capsys, "study", "cases", "s", "--db", db, "--unblinded", "--csv", str(tmp_path / "map.csv"))
    import csv

    rows = list(csv.DictReader(open(tmp_path / "map.csv", encoding="utf-8")))
    assert rc == 0 and [(r["case_id"], r["path"], r["series_uid"]) for r in rows] == [
        ("C001", "/data/a", "1.2.3"), ("C002", "/data/b", "")]


def test_export_imrmc_from_the_command_line(capsys, tmp_path):
    from tests.core.study.imrmc_reader import parse
    from tests.core.study.study_script import LABELS, read_all, setup_study

    db = str(tmp_path / "s.sqlite")
    with StudyStore(db) as s:
        sc = setup_study(s, "s", n_cases=8)
        read_all(s, "s", sc)
    rc, out, _ = run(capsys, "study", "export", "s", "--db", db, "--format", "imrmc", "--out", str(tmp_path / "x"))
    assert rc == 0 and len(out.split()) == len(LABELS)
    p = parse(tmp_path / "x" / "1_any.imrmc")
    assert (p.nr, p.nm, p.n0 + p.n1) == (3, 3, 8)


def test_score_cases_and_status_name_the_cases_outside_the_training_data(capsys, tmp_path):
    """A real head CT (inside) and an abdomen-like CT series (outside: no skull): score-cases says which case was not
    scored and stores the verdict; status counts it; the CSV export leaves it out of the model's figures."""
    from tests.core.study.test_model_ood import write_abdomen

    db = str(tmp_path / "s.sqlite")
    abdomen = write_abdomen(tmp_path / "abdomen")
    run(capsys, "study", "create", "ich", "--db", db, "--labels", "any,subdural")
    lst = tmp_path / "cases.csv"
    lst.write_text(f"path\n{DEMO / 'ct' / 'hemorrhage'}\n{abdomen}\n")
    run(capsys, "study", "add-cases", "ich", str(lst), "--db", db)
    rc, out, _ = run(capsys, "study", "score-cases", "ich", "--db", db)
    lines = out.splitlines()
    assert rc == 0 and "2 case(s) scored, 0 failed, 1 outside the model's training data" in out, out
    assert "outside the model's training data" not in lines[0] and lines[0].startswith("[1/2] C001 scored")
    assert lines[1].startswith("[2/2] C002 scored") and "outside the model's training data: not scored" in lines[1]
    rc, out, _ = run(capsys, "study", "status", "ich", "--db", db)
    assert rc == 0 and "outside the model's training data: 1 case(s) (C002)" in out, out
    rc, out, _ = run(capsys, "study", "status", "ich", "--db", db, "--json")
    st = json.loads(out)
    assert st["cases_outside_training_data"] == 1 and st["cases_outside"] == ["C002"]
    truth = tmp_path / "truth.csv"
    truth.write_text("case_id,any,subdural\nC001,1,1\nC002,0,0\n")
    run(capsys, "study", "import-truth", "ich", str(truth), "--db", db)
    rc, _, _ = run(capsys, "study", "export", "ich", "--db", db, "--format", "csv", "--out", str(tmp_path / "out"))
    import pandas as pd

    perf = pd.read_csv(tmp_path / "out" / "performance.csv")
    model = perf[perf.source == "model"].set_index("label")
    assert rc == 0 and model.loc["any", "n"] == 1 and model.loc["any", "n_outside"] == 1
