"""The reader-study HTML report: one self-contained file (inline CSS and SVG, no scripts from the
network) that opens in any browser. Layout follows seed 002's Table 5 (rows accuracy, sensitivity,
specificity, ROC AUC; columns labels; one block per reader and arm, and one for the model).

ROC figures are drawn with matplotlib's object API straight to SVG (no pyplot, so no GUI backend).
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from markupsafe import Markup

from core.study import stats as st
from core.study.analysis import (ARM_ORDER, METHODS, METRIC_ROWS, MIN_CASES, OUTSIDE_ROW, RATING_ORDER, outside_cases,
                                 scored_model)

TEMPLATES = Path(__file__).resolve().parent / "templates"
ABBREV = {"any": "Any ICH", "epidural": "EDH", "intraparenchymal": "IPH", "intraventricular": "IVH",
          "subarachnoid": "SAH", "subdural": "SDH"}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _num(v, nd: int = 2) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{nd}f}"


def _p(v, weak=False) -> str:
    """A p-value; `weak` (an underpowered analysis) adds a dagger that the report explains."""
    if v is None or not np.isfinite(v):
        return "-"
    return ("<0.001" if v < 0.001 else f"{v:.3f}") + ("†" if _flag(weak) else "")


def _flag(v) -> bool:
    return bool(v) and not (isinstance(v, float) and np.isnan(v))


def _ci(v, lo, hi, nd: int = 2) -> Markup:
    if v is None or not np.isfinite(v):
        return Markup("&ndash;")
    ci = f"<span class='ci'>{_num(lo, nd)}&ndash;{_num(hi, nd)}</span>" if np.isfinite(lo) else ""
    return Markup(f"{_num(v, nd)}{ci}")


def _blocks(perf: pd.DataFrame, labels: list[str]) -> list[dict]:
    """Table 5 blocks: dict(title, arm, rows=[(metric, [cells])]) per reader x arm and for the model."""
    out = []
    for (source, name, arm), g in perf.groupby(["source", "name", "arm"], sort=False):
        g = g.set_index("label")
        rows = []
        for title, key in METRIC_ROWS:
            cells = []
            for lab in labels:
                if lab not in g.index:
                    cells.append(Markup("&ndash;"))
                    continue
                x = g.loc[lab]
                cell = _ci(x[key], x[f"{key}_lo"], x[f"{key}_hi"])
                if key == "auc" and x["auc_kind"] != "scores" and np.isfinite(x[key]):
                    cell = Markup(f"{cell}<sup>b</sup>")
                cells.append(cell)
            rows.append((title, cells))
        if source != "reader average":  # an average of readers has no confusion counts of its own
            rows.append((Markup("<span class='ci'>TP/FP/TN/FN</span>"),
                         [Markup(f"<span class='ci'>{int(g.loc[lab, 'tp'])}/{int(g.loc[lab, 'fp'])}/"
                                 f"{int(g.loc[lab, 'tn'])}/{int(g.loc[lab, 'fn'])}</span>") if lab in g.index
                          else Markup("&ndash;") for lab in labels]))
        if source == "model" and "n_outside" in g.columns and (g["n_outside"].fillna(0) > 0).any():  # cases left out
            rows.append((Markup(f"<span class='ci'>{OUTSIDE_ROW.lower()}</span>"),
                         [Markup(f"<span class='ci'>{int(g.loc[lab, 'n_outside'])}</span>")
                          if lab in g.index and pd.notna(g.loc[lab, "n_outside"]) else Markup("&ndash;")
                          for lab in labels]))
        thr = g["threshold"].dropna()
        sub = f"threshold {thr.iloc[0]:g}" if source == "model" and len(thr) else arm
        title = {"reader": name, "reader average": "Reader average"}.get(source, f"Model {name}")
        out.append(dict(title=title, sub=sub, source=source, arm=arm, rows=rows, n=int(g["n"].max())))
    return out


def roc_svg(reads: pd.DataFrame, model: pd.DataFrame, label: str, readers: list[str]) -> str:
    """ROC of one label: the model as a curve, readers as operating points (open = unaided,
    filled = aided) and, when they gave graded scores, their own ROC curves (dashed = unaided)."""
    fig = Figure(figsize=(3.3, 3.3), dpi=100)
    ax = fig.add_axes((0.16, 0.14, 0.8, 0.76))
    ax.plot([0, 1], [0, 1], color="#bbb", lw=0.8, ls=":")
    r = reads[(reads["label"] == label) & reads["truth"].notna()]
    for i, reader in enumerate(readers):
        c = COLORS[i % len(COLORS)]
        for arm in ARM_ORDER:
            g = r[(r["reader"] == reader) & (r["arm"] == arm)]
            t = g["truth"].astype(bool).to_numpy()
            if t.sum() < 2 or (~t).sum() < 2:  # no AUC (needs 2 + 2, as DeLong does): no curve or point either
                continue
            if not st.is_binary_score(g["score"]):
                fpr, tpr, _ = st.roc_curve(t, g["score"].to_numpy())
                ax.plot(fpr, tpr, color=c, lw=0.9, alpha=0.55, ls="--" if arm == "unaided" else "-", drawstyle="default")
            m = st.binary_metrics(t, g["present"].to_numpy())
            ax.plot([1 - m.specificity.value], [m.sensitivity.value], marker="o", ms=6.5, color=c, ls="none",
                    mfc="white" if arm == "unaided" else c, mew=1.6)
    model = scored_model(model)  # cases outside the training data have no model call: no point on its curve
    mk = model[(model["label"] == label) & model["truth"].notna()]
    t = mk["truth"].astype(bool).to_numpy()
    if len(mk) and t.sum() >= 2 and (~t).sum() >= 2:
        fpr, tpr, _ = st.roc_curve(t, mk["probability"].to_numpy())
        a = st.auc_delong(t, mk["probability"].to_numpy())
        ax.plot(fpr, tpr, color="black", lw=2.0, label=f"model AUC {_num(a.auc)}")
        m = st.binary_metrics(t, (mk["probability"] >= mk["threshold"]).to_numpy())
        ax.plot([1 - m.specificity.value], [m.sensitivity.value], marker="D", ms=5.5, color="black", ls="none")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("1 - specificity", fontsize=8.5)
    ax.set_ylabel("sensitivity", fontsize=8.5)
    ax.tick_params(labelsize=7.5)
    cases = mk if len(mk) else r.drop_duplicates("case_id")
    n_pos = int(cases["truth"].astype(bool).sum())
    n_neg = len(cases) - n_pos
    ax.set_title(f"{ABBREV.get(label, label)} ({n_pos} positive)", fontsize=9.5)
    if n_pos < 2 or n_neg < 2:
        ax.text(0.5, 0.5, f"no ROC curve:\n{n_pos} positive, {n_neg} negative\n(needs 2 of each)", ha="center",
                va="center", fontsize=9, color="#a00")
    elif n_pos < MIN_CASES or n_neg < MIN_CASES:
        ax.text(0.97, 0.03 if not len(mk) else 0.22, "underpowered", ha="right", fontsize=8, color="#a00")
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "font.family": "sans-serif"}):
        FigureCanvasSVG(fig).print_svg(buf)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog: inline SVG in HTML


def _vs_model_rows(tables: dict, arms: list[str]) -> list[dict]:
    """One row per reader x label, one column group per arm: AUC, reader - model (CI), DeLong p,
    McNemar p, Cohen's kappa (CI)."""
    d, m, k = (tables.get(n, pd.DataFrame()) for n in ("delong_vs_model", "mcnemar_vs_model", "kappa_vs_model"))
    if m.empty:
        return []
    key = ["reader", "arm", "label"]
    j = m.merge(k, on=key, how="left", suffixes=("", "_k"))
    if not d.empty:
        j = j.merge(d, on=key, how="left", suffixes=("", "_d"))
    rows = []
    for (reader, label), g in j.groupby(["reader", "label"], sort=False):
        g = g.set_index("arm")
        cells = []
        for arm in arms:
            if arm not in g.index:
                cells.append(None)
                continue
            x = g.loc[arm]
            cells.append(dict(auc=_num(x.get("auc_reader", np.nan)),
                              diff=_ci(x.get("diff", np.nan), x.get("diff_lo", np.nan), x.get("diff_hi", np.nan)),
                              p_delong=_p(x.get("p_d", np.nan), x.get("underpowered")),
                              p_mcnemar=_p(x["p"], x.get("underpowered")),
                              mcnemar=f"{int(x['reader_only_correct'])}/{int(x['model_only_correct'])}",
                              kappa=_ci(x["kappa"], x["kappa_lo"], x["kappa_hi"])))
        model_auc = g["auc_model"].dropna().iloc[0] if "auc_model" in g and g["auc_model"].notna().any() else np.nan
        rows.append(dict(reader=reader, label=ABBREV.get(label, label), model_auc=_num(model_auc), cells=cells))
    return rows


def _by_label(rows: list[dict], arms: list[str]) -> list[dict]:
    """Rows keyed (label, arm) -> one row per label with a cell per arm."""
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["label"], {"label": r["label"], "cells": {}})["cells"][r["arm"]] = r
    return [dict(label=v["label"], cells=[v["cells"].get(a) for a in arms]) for v in out.values()]


def _pivot_cells(df: pd.DataFrame, row: str, labels: list[str], cell) -> tuple[list[str], list[tuple[str, list]]]:
    rows = []
    for name, g in df.groupby(row, sort=False):
        g = g.set_index("label")
        rows.append((name, [cell(g.loc[lab]) if lab in g.index else Markup("&ndash;") for lab in labels]))
    return labels, rows


def render_html(frames, tables: dict[str, pd.DataFrame]) -> str:
    info = frames.info
    labels = [str(x) for x in info.get("labels") or pd.unique(frames.reads["label"])]
    readers = [str(x) for x in info.get("readers") or sorted(frames.reads["reader"].unique())]
    perf = tables.get("performance", pd.DataFrame())
    blocks = _blocks(perf, labels) if not perf.empty else []
    reader_blocks = [[b for b in blocks if b["source"] == "reader" and b["title"] == r] for r in readers]
    model_blocks = [b for b in blocks if b["source"] in ("reader average", "model")]
    weak = []
    if not perf.empty:
        counts = perf[perf["source"] == "model"] if (perf["source"] == "model").any() else perf
        for lab in labels:
            c = counts[counts["label"] == lab]
            if len(c) and bool(c["underpowered"].iloc[0]):
                weak.append(f"{ABBREV.get(lab, lab)} ({int(c['n_pos'].iloc[0])} positive, {int(c['n_neg'].iloc[0])} negative)")

    outside = sorted(set().union(*outside_cases(frames.model).values())) if len(frames.model) else []

    desc = tables["descriptor"]
    descriptor = [(r.item, r.value) for r in desc.itertuples()
                  if not str(r.item).startswith("method:") and str(r.value).strip()]

    def orh_rows(df: pd.DataFrame, a: str, b: str) -> list[dict]:
        out = []
        for _, x in df.iterrows():
            if x.get("note"):
                out.append(dict(label=ABBREV.get(x["label"], x["label"]), arm=x.get("arm", ""), note=x["note"]))
                continue
            out.append(dict(label=ABBREV.get(x["label"], x["label"]), arm=x.get("arm", ""), a=_num(x[a], 3),
                            b=_num(x[b], 3), diff=_ci(x["diff"], x["diff_lo"], x["diff_hi"], 3), f=_num(x["f"], 2),
                            ddf=_num(x["ddf"], 1), p=_p(x["p"], x.get("underpowered")),
                            n=f"{int(x['n'])} ({int(x['n_pos'])}+)", note=""))
        return out

    fl = tables.get("fleiss_readers", pd.DataFrame())
    fleiss = _pivot_cells(fl, "arm", labels, lambda x: _ci(x["kappa"], x["kappa_lo"], x["kappa_hi"]))[1] if not fl.empty else []

    ag = tables.get("agreement", pd.DataFrame())
    agree = []
    if not ag.empty:
        agree = _pivot_cells(ag, "reader", labels + ["all labels"], lambda x: Markup(
            f"{int(x['agree'])}/{int(x['n'])}<span class='ci'>{int(x['changed'])} changed: "
            f"{int(x['changed_toward_truth'])}&uarr; {int(x['changed_away_from_truth'])}&darr;</span>"))[1]

    hm = tables.get("heatmap_ratings", pd.DataFrame())
    heat = []
    if not hm.empty:
        def bar(x) -> Markup:
            tot = max(int(x["total"]), 1)
            segs = "".join(f"<span class='seg s{i}' style='width:{100 * int(x[k]) / tot:.0f}%'></span>"
                           for i, k in enumerate(RATING_ORDER))
            return Markup(f"<div class='bar'>{segs}</div>{int(x['correct'])} / {int(x['partially correct'])} / "
                          f"{int(x['incorrect'])}")
        heat = _pivot_cells(hm, "reader", labels, bar)[1]

    rt = tables.get("reading_time", pd.DataFrame())
    times = [dict(reader=x["reader"], arm=x["arm"], n=int(x["n"]), median=_num(x["median_s"], 0),
                  iqr=f"{_num(x['q1_s'], 0)}&ndash;{_num(x['q3_s'], 0)}", mean=_num(x["mean_s"], 0),
                  total=_num(x["total_min"], 1)) for _, x in rt.iterrows()]

    arms = [a for a in ARM_ORDER if a in set(frames.reads["arm"])]
    dc = tables.get("discordant_cases", pd.DataFrame())
    disc = [dict(case=x["case_id"], label=ABBREV.get(x["label"], x["label"]), truth="present" if x["truth"] else "absent",
                 prob=_num(x["model_probability"]), model="-" if x["model_correct"] is None or pd.isna(x["model_correct"])
                 else ("right" if x["model_correct"] else "wrong"), un=x["readers_wrong_unaided"] or "-",
                 aid=x["readers_wrong_aided"] or "-") for _, x in dc.iterrows()]
    disc_groups = [(lab, [d for d in disc if d["label"] == lab]) for lab in [ABBREV.get(x, x) for x in labels]]
    disc_groups = [(lab, rows) for lab, rows in disc_groups if rows]

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(
        title=info.get("name", "Reader study"), descriptor=descriptor, weak=weak, outside=outside, min_cases=MIN_CASES, labels=labels,
        heads=[ABBREV.get(lab, lab) for lab in labels], label_key=[(ABBREV[lab], lab) for lab in labels if lab in ABBREV],
        reader_blocks=reader_blocks, model_blocks=model_blocks,
        rocs=[Markup(roc_svg(frames.reads, frames.model, lab, readers)) for lab in labels],
        legend=[(r, COLORS[i % len(COLORS)]) for i, r in enumerate(readers)],
        orh_arms=orh_rows(tables.get("orh_aided_vs_unaided", pd.DataFrame()), "auc_unaided", "auc_aided"),
        orh_model=_by_label(orh_rows(tables.get("orh_model_vs_readers", pd.DataFrame()), "auc_readers", "auc_model"),
                            arms),
        arms=arms, vs_model=_vs_model_rows(tables, arms), disc_groups=disc_groups, fleiss=fleiss, agree=agree, heat=heat, times=times, disc=disc,
        methods=list(METHODS.values()), esc=html.escape)
