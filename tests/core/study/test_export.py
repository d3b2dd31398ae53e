"""Exports of a reader study: every exported number recomputed independently from the reads, the
formats readable, and no patient identifier in any file."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy.stats import mannwhitneyu, norm

from core.study import StudyStore
from core.study.export import ExportError, check_columns, export_study
from core.study.frames import load_frames
from core.study.simulate import simulate_study
from tests.core.study.imrmc_reader import ImrmcFormatError, parse
from tests.core.study.study_script import LABELS, read_all, setup_study

Z = norm.ppf(0.975)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval written out (Newcombe 1998, method 3)."""
    p = k / n
    mid = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return mid - half, mid + half


def mw_auc(truth: np.ndarray, score: np.ndarray) -> float:
    return mannwhitneyu(score[truth], score[~truth]).statistic / (truth.sum() * (~truth).sum())


@pytest.fixture(scope="module")
def study():
    """3 readers x 20 generated cases x 2 arms (known truth, simulated readers and model)."""
    return simulate_study(n_cases=20, seed=1)


@pytest.fixture(scope="module")
def csv_dir(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("csv")
    paths = export_study(study, "csv", out)
    assert {p.name for p in paths} >= {"descriptor.csv", "table5.csv", "performance.csv", "raw_reads.csv",
                                       "orh_aided_vs_unaided.csv", "agreement.csv", "heatmap_ratings.csv"}
    return out


def test_performance_csv_recomputed_by_counting(study, csv_dir):
    perf = pd.read_csv(csv_dir / "performance.csv")
    reads = study.reads
    checked = 0
    for (reader, arm, label), g in reads.groupby(["reader", "arm", "label"]):
        row = perf[(perf.source == "reader") & (perf.name == reader) & (perf.arm == arm) & (perf.label == label)]
        assert len(row) == 1
        row = row.iloc[0]
        t, p = g.truth.to_numpy(bool), g.present.to_numpy(bool)
        tp, fn, tn, fp = int(np.sum(t & p)), int(np.sum(t & ~p)), int(np.sum(~t & ~p)), int(np.sum(~t & p))
        assert (row.tp, row.fn, row.tn, row.fp) == (tp, fn, tn, fp)
        assert row.sensitivity == pytest.approx(tp / (tp + fn), rel=1e-12)
        assert row.specificity == pytest.approx(tn / (tn + fp), rel=1e-12)
        assert row.accuracy == pytest.approx((tp + tn) / len(t), rel=1e-12)
        assert (row.sensitivity_lo, row.sensitivity_hi) == pytest.approx(wilson(tp, tp + fn), abs=1e-12)
        assert (row.specificity_lo, row.specificity_hi) == pytest.approx(wilson(tn, tn + fp), abs=1e-12)
        assert row.auc == pytest.approx(mw_auc(t, g.score.to_numpy()), rel=1e-12)
        assert row.auc_lo <= row.auc <= row.auc_hi
        checked += 1
    assert checked == 3 * 2 * 6
    for label, g in study.model.groupby("label"):
        row = perf[(perf.source == "model") & (perf.label == label)].iloc[0]
        t, pr = g.truth.to_numpy(bool), g.probability.to_numpy()
        assert row.auc == pytest.approx(mw_auc(t, pr), rel=1e-12)
        assert row.sensitivity == pytest.approx(np.sum(t & (pr >= 0.5)) / t.sum(), rel=1e-12)
        assert row.threshold == 0.5


def test_table5_layout_matches_seed_002(study, csv_dir):
    t5 = pd.read_csv(csv_dir / "table5_layout.csv")
    assert list(t5.columns) == ["block", "metric", *study.info["labels"]]
    assert list(t5.metric.unique()) == ["Accuracy", "Sensitivity", "Specificity", "PPV", "NPV", "ROC AUC"]
    assert t5.block.nunique() == 3 * 2 + 2 + 1  # reader x arm blocks, reader average per arm, the model
    g = study.reads[(study.reads.reader == "reader B") & (study.reads.arm == "aided") & (study.reads.label == "any")]
    t, p = g.truth.to_numpy(bool), g.present.to_numpy(bool)
    k, n = int(np.sum(t & p)), int(t.sum())
    lo, hi = wilson(k, n)
    cell = t5[(t5.block == "reader B (aided)") & (t5.metric == "Sensitivity")]["any"].iloc[0]
    assert cell == f"{k / n:.2f} ({lo:.2f}-{hi:.2f})"


def test_table5_numbers_ppv_npv_and_reader_average(study, csv_dir):
    """Table 5 as numbers (estimate, low, high): PPV/NPV recounted, and the reader-average block equal to
    the mean of the readers' own values, its interval around it."""
    t5 = pd.read_csv(csv_dir / "table5.csv")
    assert list(t5.columns[:6]) == ["block", "metric", "label", "estimate", "low", "high"]
    assert t5.estimate.dtype == float and t5.low.dtype == float
    r = study.reads
    for arm in ("unaided", "aided"):
        for label in ("any", "subdural"):
            per = []
            for reader, g in r[(r.arm == arm) & (r.label == label)].groupby("reader"):
                t, p = g.truth.to_numpy(bool), g.present.to_numpy(bool)
                ppv = np.sum(t & p) / p.sum()
                row = t5[(t5.block == f"{reader} ({arm})") & (t5.metric == "PPV") & (t5.label == label)].iloc[0]
                assert row.estimate == pytest.approx(ppv, rel=1e-12)
                assert (row.low, row.high) == pytest.approx(wilson(int(np.sum(t & p)), int(p.sum())), abs=1e-12)
                npv = t5[(t5.block == f"{reader} ({arm})") & (t5.metric == "NPV") & (t5.label == label)].estimate.item()
                assert npv == pytest.approx(np.sum(~t & ~p) / (~p).sum(), rel=1e-12)
                per.append((np.sum(t & p) / t.sum(), mw_auc(t, g.score.to_numpy())))
            avg = t5[(t5.block == f"reader average ({arm})") & (t5.label == label)].set_index("metric")
            assert avg.loc["Sensitivity", "estimate"] == pytest.approx(np.mean([x[0] for x in per]), rel=1e-12)
            assert avg.loc["ROC AUC", "estimate"] == pytest.approx(np.mean([x[1] for x in per]), rel=1e-12)
            for metric in ("Sensitivity", "ROC AUC"):
                x = avg.loc[metric]
                assert 0 <= x.low <= x.estimate <= x.high <= 1


def test_xlsx_table5_cells_are_numbers(study, tmp_path):
    """A coordinator computes with the XLSX: estimate, low and high are numeric cells (openpyxl reads floats)."""
    (p,) = export_study(study, "xlsx", tmp_path)
    ws = openpyxl.load_workbook(p, read_only=True)["table5"]
    rows = list(ws.values)
    head = rows[0]
    est, lo, hi = (head.index(c) for c in ("estimate", "low", "high"))
    body = [r for r in rows[1:] if r[head.index("metric")] == "Sensitivity"]
    assert body and all(isinstance(r[c], (int, float)) and not isinstance(r[c], bool) for r in body
                        for c in (est, lo, hi))  # openpyxl gives a whole number (1.0) back as int
    assert all(r[lo] <= r[est] <= r[hi] for r in body)


def test_mrmc_and_agreement_csvs_recomputed(study, csv_dir):
    orh = pd.read_csv(csv_dir / "orh_aided_vs_unaided.csv").set_index("label")
    for label in study.info["labels"]:
        aucs = {arm: np.mean([mw_auc(g.truth.to_numpy(bool), g.score.to_numpy())
                              for _, g in study.reads[(study.reads.label == label) & (study.reads.arm == arm)].groupby("reader")])
                for arm in ("unaided", "aided")}
        assert orh.loc[label, "auc_unaided"] == pytest.approx(aucs["unaided"], rel=1e-12)
        assert orh.loc[label, "diff"] == pytest.approx(aucs["aided"] - aucs["unaided"], abs=1e-12)
        assert orh.loc[label, "diff_lo"] < orh.loc[label, "diff"] < orh.loc[label, "diff_hi"]
        assert 0 <= orh.loc[label, "p"] <= 1 and orh.loc[label, "n"] == 20

    ag = pd.read_csv(csv_dir / "agreement.csv")
    un = study.reads[study.reads.arm == "unaided"].set_index(["reader", "case_id", "label"]).present
    for (reader, label), g in study.agreement.groupby(["reader", "label"]):
        row = ag[(ag.reader == reader) & (ag.label == label)].iloc[0]
        before = un.loc[list(zip(g.reader, g.case_id, g.label))].to_numpy()
        changed = g.final_present.to_numpy() != before
        assert row.agree == g.agree.sum() and row.disagree == (~g.agree).sum()
        assert row.changed == changed.sum()
        assert row.changed_toward_truth == np.sum(changed & (g.final_present.to_numpy() == g.truth.to_numpy()))
    total = ag[(ag.reader == "all readers") & (ag.label == "all labels")].iloc[0]
    assert total.n == len(study.agreement) and total.agree == study.agreement.agree.sum()

    hm = pd.read_csv(csv_dir / "heatmap_ratings.csv")
    counts = study.ratings.groupby(["reader", "label", "rating"]).size()
    for (reader, label, rating), n in counts.items():
        assert hm[(hm.reader == reader) & (hm.label == label)][rating].iloc[0] == n

    rt = pd.read_csv(csv_dir / "reading_time.csv")
    per_case = study.reads.drop_duplicates(["reader", "case_id", "arm"])
    g = per_case[(per_case.reader == "reader A") & (per_case.arm == "unaided")]
    assert rt[(rt.reader == "reader A") & (rt.arm == "unaided")].median_s.iloc[0] == pytest.approx(g.seconds.median())


def test_raw_reads_are_the_long_format_mrmc_tools_ingest(study, csv_dir):
    raw = pd.read_csv(csv_dir / "raw_reads.csv")
    assert list(raw.columns[:6]) == ["reader", "treatment", "case", "label", "truth", "rating"]
    assert len(raw) == len(study.reads) == 3 * 20 * 2 * 6
    assert set(raw.truth) == {0, 1} and set(raw.treatment) == {"unaided", "aided"}


def test_xlsx_has_one_sheet_per_table_with_the_same_numbers(study, csv_dir, tmp_path):
    (p,) = export_study(study, "xlsx", tmp_path)
    wb = openpyxl.load_workbook(p, read_only=True)
    assert set(wb.sheetnames) == {f.stem for f in csv_dir.glob("*.csv")}
    ws = wb["performance"]
    rows = list(ws.values)
    head = rows[0]
    perf = pd.read_csv(csv_dir / "performance.csv")
    assert [r[head.index("auc")] for r in rows[1:]] == pytest.approx(perf.auc.tolist(), rel=1e-12)


def test_html_report_is_self_contained(study, tmp_path):
    (p,) = export_study(study, "html", tmp_path)
    text = p.read_text(encoding="utf-8")
    assert text.count("<svg") == len(study.info["labels"])  # one ROC figure per label
    for name in study.info["readers"]:
        assert name in text
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)  # nothing fetched from the network
    assert "<script src" not in text and "<link" not in text
    assert "Obuchowski" in text and "Table 5" in text


def test_export_refuses_unknown_columns_and_formats(study, tmp_path):
    with pytest.raises(ExportError, match="patient_name"):
        check_columns("reads", pd.DataFrame({"case_id": ["C001"], "patient_name": ["DOE^JOHN"]}), ["any"])
    with pytest.raises(ExportError, match="unknown export format"):
        export_study(study, "pdf", tmp_path)


def _all_text(paths: list[Path]) -> str:
    parts = []
    for p in paths:
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        else:
            parts.append(p.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _dicom(path: Path) -> None:
    """A real DICOM file carrying patient identifiers."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.AccessionNumber = "DOE^JOHN", "PID777123", "19450312", "ACC555999"
    ds.Modality, ds.SOPClassUID, ds.SOPInstanceUID = "CT", meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = np.zeros((2, 2), np.int16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def test_store_study_exports_numbers_from_the_script_and_no_patient_identifiers(tmp_path):
    """A scripted 3 x 20 x 2 study through the real SQLite store; the first case is a DICOM file whose
    header and folder carry a patient's name, ID, birth date and accession number."""
    phi_dir = tmp_path / "DOE_JOHN_PID777123"
    _dicom(phi_dir / "ct.dcm")
    assert pydicom.dcmread(phi_dir / "ct.dcm").PatientName == "DOE^JOHN"
    paths = [str(phi_dir)] + [str(tmp_path / f"case_{i:02d}") for i in range(1, 20)]
    readers = ("R1", "R2", "R3")
    with StudyStore(tmp_path / "study.sqlite") as store:
        sc = setup_study(store, "ich", n_cases=20, readers=readers, paths=paths)
        read_all(store, "ich", sc, readers=readers)
        frames = load_frames(store, "ich")
    out = []
    for fmt in ("csv", "xlsx", "html"):
        out += export_study(frames, fmt, tmp_path / "export")
    text = _all_text(out)
    for secret in ("DOE", "JOHN", "PID777123", "19450312", "ACC555999", str(tmp_path)):
        assert secret not in text, secret
    assert "C001" in text  # the pseudonymous ID is what identifies the case

    perf = pd.read_csv(tmp_path / "export" / "performance.csv")
    for reader in readers:
        for label in LABELS:
            keys = [(cid, label) for cid in sc.order[reader]]
            t = np.array([sc.truth[k] for k in keys])
            p_un = np.array([sc.unaided[(reader, cid, label)].present for cid, _ in keys])
            p_aid = np.array([sc.aided[(reader, cid, label)].final_present for cid, _ in keys])
            for arm, p in (("unaided", p_un), ("aided", p_aid)):
                row = perf[(perf.name == reader) & (perf.arm == arm) & (perf.label == label)].iloc[0]
                assert row.tp == np.sum(t & p) and row.tn == np.sum(~t & ~p)
                if t.any():
                    assert row.sensitivity == pytest.approx(np.sum(t & p) / t.sum(), rel=1e-12)


def test_missing_truth_and_a_label_without_positives(tmp_path):
    """Cases without truth are left out of that label's statistics; a label with no positive case
    (seed 002's epidural column) gets '-' for sensitivity and AUC and no ORH, not a crash or a 0."""
    fr = simulate_study(n_cases=20, seed=3)
    no_truth = {"C001", "C002"}
    for df in (fr.reads, fr.agreement, fr.model):
        df["truth"] = df["truth"].astype("boolean")
        df.loc[df.case_id.isin(no_truth) & (df.label == "subdural"), "truth"] = pd.NA
        df.loc[df.label == "epidural", "truth"] = False
    (csv,) = [p for p in export_study(fr, "csv", tmp_path) if p.name == "performance.csv"]
    perf = pd.read_csv(csv)
    assert set(perf[perf.label == "subdural"].n) == {18}
    assert perf[perf.label == "epidural"].sensitivity.isna().all() and perf[perf.label == "epidural"].auc.isna().all()
    t5 = pd.read_csv(tmp_path / "table5_layout.csv")
    assert (t5[t5.metric == "Sensitivity"].epidural == "-").all()
    orh = pd.read_csv(tmp_path / "orh_aided_vs_unaided.csv").set_index("label")
    assert "positive" in orh.loc["epidural", "note"] and np.isfinite(orh.loc["subdural", "p"])
    assert orh.loc["subdural", "n"] == 18
    (html,) = export_study(fr, "html", tmp_path)
    assert "not analysed" in html.read_text(encoding="utf-8")


def test_imrmc_file_parsed_back(study, tmp_path):
    """`study export --format imrmc`: the real .imrmc file (size lines, BEGIN DATA:, integer case IDs, truth
    rows, the model as a third modality), parsed back by a reader written from the iMRMC specification;
    every score is the read's score or the model's probability."""
    paths = export_study(study, "imrmc", tmp_path)
    assert [p.name for p in paths][:2] == ["1_any.imrmc", "2_epidural.imrmc"] and len(paths) == 6
    text = paths[0].read_text(encoding="utf-8")
    assert "BEGIN DATA:" in text.splitlines() and "N0: " in text
    p = parse(paths[0])
    reads = study.reads[study.reads.label == "any"]
    truth = reads.drop_duplicates("case_id").set_index("case_id").truth.astype(int)
    assert p.truth == {int(c[1:]): int(v) for c, v in truth.items()}
    assert (p.n0, p.n1, p.nr, p.nm) == (int((truth == 0).sum()), int(truth.sum()), 3, 3)
    assert "reader 1 = reader A" in p.description and "modality 3 = model (the same score for every reader)" in p.description
    mods = {"1": "unaided", "2": "aided"}
    names = {"1": "reader A", "2": "reader B", "3": "reader C"}
    model = study.model[study.model.label == "any"].set_index("case_id").probability
    for (r, m, c), v in p.scores.items():
        cid = f"C{c:03d}"
        if m == "3":
            assert v == pytest.approx(model[cid], rel=1e-9)
        else:
            row = reads[(reads.reader == names[r]) & (reads.arm == mods[m]) & (reads.case_id == cid)]
            assert v == row.score.item()


def test_imrmc_leaves_out_cases_not_fully_crossed(study, tmp_path):
    fr = simulate_study(n_cases=20, seed=1)
    fr.reads = fr.reads[~((fr.reads.reader == "reader B") & (fr.reads.case_id == "C005"))].copy()
    fr.reads["truth"] = fr.reads["truth"].astype("boolean")
    fr.reads.loc[fr.reads.case_id == "C007", "truth"] = pd.NA
    p = parse(export_study(fr, "imrmc", tmp_path)[0])
    assert p.n0 + p.n1 == 18 and 5 not in p.truth and 7 not in p.truth
    assert "cases = 18 with truth read by every reader in every modality (2 left out)" in p.description
    bad = tmp_path / "bad.imrmc"
    bad.write_text("N0: 1\nN1: 0\nNR: 1\nNM: 1\nBEGIN DATA:\n-1,C001,0,0\n1,C001,1,3\n")
    with pytest.raises(ImrmcFormatError, match="integers"):  # what the old CSV's case IDs would hit
        parse(bad)

def test_tiny_study_bounded_intervals_underpowered_and_no_roc_for_one_positive(tmp_path):
    """4-5 cases: AUC-difference limits stay in [-1, 1] (the unclipped DeLong interval of this study runs
    outside), every analysis is flagged underpowered, and a label with one positive gets no ROC curve."""
    from core.study.stats import delong_covariance

    fr = simulate_study(n_cases=5, seed=4)
    for df in (fr.reads, fr.agreement, fr.model):
        df.loc[df.label == "epidural", "truth"] = df.loc[df.label == "epidural", "case_id"] == "C001"
    export_study(fr, "csv", tmp_path)
    d = pd.read_csv(tmp_path / "delong_vs_model.csv")
    assert len(d) and d.underpowered.all()
    assert ((d.diff_lo >= -1) & (d.diff_hi <= 1) & (d.diff_lo <= d["diff"]) & (d["diff"] <= d.diff_hi)).all()
    raw = []
    for _, x in d.iterrows():  # the unbounded interval these rows had before clipping
        g = fr.reads[(fr.reads.reader == x.reader) & (fr.reads.arm == x.arm) & (fr.reads.label == x.label)]
        m = fr.model[fr.model.label == x.label].set_index("case_id").probability.reindex(g.case_id)
        aucs, cov = delong_covariance(g.truth.to_numpy(bool), np.vstack([g.score.to_numpy(), m.to_numpy()]))
        half = Z * np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0))
        raw.append((aucs[0] - aucs[1] - half, aucs[0] - aucs[1] + half))
    assert any(lo < -1 or hi > 1 for lo, hi in raw)  # the case the bound is for does occur here
    assert pd.read_csv(tmp_path / "table5.csv").underpowered.all()
    html = export_study(fr, "html", tmp_path)[0].read_text(encoding="utf-8")
    assert "Underpowered:" in html and "\u2020" in html
    assert "no ROC curve:" in html and "1 positive, 4 negative" in html
