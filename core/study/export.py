"""Write a reader study's tables as CSV (one file per table), XLSX (one sheet per table), one
self-contained HTML report, or iMRMC input files (`.imrmc`, one per label: core.study.imrmc).

Exports carry pseudonymous case IDs only. Tables are built from an explicit column list
(core.study.analysis) so nothing else from the frames is copied, and every writer re-checks that each
column it is about to write is in ALLOWED_COLUMNS (plus the study's label names, the columns of the
Table 5 layout); anything else (a patient name, ID, birth date, accession number, file path...) stops
the export with an ExportError naming the table and column.

Cases the CT models judged outside their training data (the verdict stored with each model output) are
not model calls: the model's figures and every reader-vs-model comparison leave them out and say how many
(`n_outside`, the descriptor's "model: outside training data" line, a banner in the HTML report); the
readers' own figures keep them (core.study.analysis, METHODS["ood"]).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import NeuroReviewError
from core.study.analysis import build_tables

FORMATS = ("csv", "xlsx", "html", "imrmc")

ALLOWED_COLUMNS = frozenset({
    # descriptor, table 5
    "item", "value", "block", "metric",
    # identities (pseudonymous case IDs, reader names as entered by the coordinator, arms, labels)
    "source", "name", "reader", "arm", "label", "case_id", "case", "treatment",
    # counts and proportions
    "n", "n_pos", "n_neg", "n_readers", "tp", "fp", "tn", "fn",
    "accuracy", "accuracy_lo", "accuracy_hi", "sensitivity", "sensitivity_lo", "sensitivity_hi",
    "specificity", "specificity_lo", "specificity_hi", "auc", "auc_lo", "auc_hi", "auc_kind", "threshold",
    "ppv", "ppv_lo", "ppv_hi", "npv", "npv_lo", "npv_hi", "estimate", "low", "high", "underpowered",
    # tests
    "auc_reader", "auc_model", "auc_readers", "auc_unaided", "auc_aided", "diff", "se", "z", "p", "diff_lo",
    "diff_hi", "f", "ddf", "var_error", "cov1", "cov2", "cov3", "cov_method", "note", "both_correct",
    "reader_only_correct", "model_only_correct", "both_wrong", "statistic", "method", "kappa", "kappa_lo",
    "kappa_hi",
    # agreement, heat maps, time
    "agree", "disagree", "agree_rate", "changed", "changed_toward_truth", "changed_away_from_truth",
    "changed_truth_unknown", "correct", "partially correct", "incorrect", "total", "median_s", "q1_s", "q3_s",
    "mean_s", "total_min",
    # discordant cases and raw reads
    "truth", "model_probability", "model_correct", "wrong_unaided", "wrong_aided", "readers_wrong_unaided",
    "readers_wrong_aided", "rating", "score_kind", "present", "seconds",
    # the models' out-of-distribution verdict: cases left out of the model's figures, outputs without a verdict
    "n_outside", "n_no_verdict", "model_outside",
})


class ExportError(NeuroReviewError):
    """An export that cannot be written (unknown format, a column that must not leave the store)."""

    code = "export-error"


def check_columns(name: str, df: pd.DataFrame, labels: list[str]) -> None:
    """Refuse any column outside the allowed set (the study's labels are allowed as Table 5 columns)."""
    allowed = ALLOWED_COLUMNS | set(labels)
    bad = [str(c) for c in df.columns if str(c) not in allowed]
    if bad:
        raise ExportError(f"table '{name}' has columns that may not be exported: {', '.join(bad)}")


def _checked(tables: dict[str, pd.DataFrame], labels: list[str]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in tables.items():
        if df is None or (df.empty and len(df.columns) == 0):
            continue
        check_columns(name, df, labels)
        out[name] = df
    return out


def export_study(frames, fmt: str, out: Path) -> list[Path]:
    """Write the study's tables in ``fmt`` ('csv' | 'xlsx' | 'html') into the folder ``out``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (use one of {', '.join(FORMATS)})")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create the export folder: {e.strerror}", str(out)) from e
    if fmt == "imrmc":
        from core.study.imrmc import write_imrmc

        return write_imrmc(frames, out)
    labels = [str(x) for x in (frames.info.get("labels") or [])]
    tables = _checked(build_tables(frames).tables, labels)
    if fmt == "csv":
        paths = []
        for name, df in tables.items():
            p = out / f"{name}.csv"
            df.to_csv(p, index=False)
            paths.append(p)
        return paths
    if fmt == "xlsx":
        p = out / "study.xlsx"
        with pd.ExcelWriter(p, engine="openpyxl") as xw:
            for name, df in tables.items():
                df.to_excel(xw, sheet_name=name[:31], index=False)
                ws = xw.sheets[name[:31]]
                for i, col in enumerate(df.columns, start=1):
                    width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
                    ws.column_dimensions[ws.cell(1, i).column_letter].width = min(max(width + 2, 8), 60)
                    if pd.api.types.is_float_dtype(df[col]):  # numbers stay numbers; shown with 3 decimals
                        for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                            cell.number_format = "0.000"
                ws.freeze_panes = "A2"
        return [p]
    from core.study.report import render_html

    p = out / "report.html"
    p.write_text(render_html(frames, tables), encoding="utf-8")
    return [p]
