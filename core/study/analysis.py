"""All reader-study tables computed from `StudyFrames`, as plain DataFrames (one per exported table).

Conventions:
- cases without imported truth for a label are left out of that label's statistics (counted in the
  descriptor);
- a reader's ROC input is the frame's `score` (confidence or probability, higher = more likely present);
  a reader whose scores take <= 2 values has a binary read, whose AUC is (Se+Sp)/2 and is labelled so;
- the model is scored at its stated threshold (probability >= threshold = present) for the
  threshold-based metrics and by its probability for the AUC; it is the same in both arms;
- "changed" in the agreement table compares the aided (final) answer with the same reader's unaided
  answer for that case and label; "toward truth" means the final answer is the correct one;
- a case the CT models judged outside their training data (the verdict `score-cases` stores with each output) has
  no model call: it is left out of the model's figures (its rows say how many in `n_outside`), of every
  reader-vs-model comparison (those use the same cases for reader and model) and of the iMRMC model modality;
  the readers' own figures keep it. Outputs stored without a verdict (before it was stored) count as scored and
  are counted in `n_no_verdict`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.study import stats as st
from core.study.mrmc import orh, orh_model_vs_readers, orh_single

ARM_ORDER = ("unaided", "aided")
RATING_ORDER = ("correct", "partially correct", "incorrect")
MRMC_COV = "jackknife"
METHODS = {
    "proportions": "Wilson score 95% CI (statsmodels proportion_confint, method='wilson')",
    "auc": "empirical (trapezoidal) ROC AUC with DeLong 95% CI (fast DeLong, Sun & Xu 2014), clipped to [0, 1]; "
           "binary reads: AUC = (Se+Sp)/2",
    "delong_test": "DeLong paired test, reader vs model on the same cases, two-sided",
    "mcnemar": "McNemar test of correct/incorrect reader vs model; exact binomial if < 25 discordant cases, "
               "else chi-square with continuity correction",
    "cohen": "Cohen's kappa reader vs model (answers at the model threshold), asymptotic 95% CI clipped to [-1, 1]",
    "fleiss": "Fleiss' kappa across readers per arm and label, percentile bootstrap 95% CI over cases "
              "(2000 resamples, seed 0)",
    "ppv_npv": "PPV = TP/(TP+FP) and NPV = TN/(TN+FN) at this study's prevalence (case mix), Wilson 95% CI",
    "reader_average": "reader average: mean over readers of each reader's value; proportions with a percentile "
                      "bootstrap 95% CI resampling cases and readers (2000 resamples, seed 0), AUC with the ORH "
                      "single-modality 95% CI (random readers and cases); cases read by every reader only",
    "bounds": "confidence limits clipped to the range they bound: [0, 1] for proportions and AUCs, [-1, 1] for "
              "AUC differences",
    "underpowered": f"underpowered: fewer than {{n}} positive or {{n}} negative cases for the label; tests and "
                    f"intervals on so few cases are unreliable and are flagged in every table",
    "ood": "model outside its training data: cases the CT models' out-of-distribution check put outside the "
           "training data (stored by score-cases with each output) are not model calls; they are excluded from the "
           "model's figures (counted in n_outside), from the reader-vs-model tests, kappas and ORH (on the same "
           "cases for reader and model) and from the model's ROC curve; the readers' own figures include them. "
           "Outputs stored before verdicts were kept have none (n_no_verdict) and count as scored",
    "mrmc": f"Obuchowski-Rockette with Hillis (2007) denominator df, random readers and random cases, "
            f"{MRMC_COV} covariance estimates; model vs readers: model entered as a modality identical for "
            f"every reader (RJafroc 1T-RRRC equivalent)",
}


MIN_CASES = 10  # positives and negatives each, per label: below this an analysis is flagged underpowered
METHODS["underpowered"] = METHODS["underpowered"].format(n=MIN_CASES)
METRIC_ROWS = (("Accuracy", "accuracy"), ("Sensitivity", "sensitivity"), ("Specificity", "specificity"),
               ("PPV", "ppv"), ("NPV", "npv"), ("ROC AUC", "auc"))


def underpowered(n_pos, n_neg) -> bool:
    return bool(n_pos < MIN_CASES or n_neg < MIN_CASES)


@dataclass(frozen=True)
class Tables:
    """Ordered name -> DataFrame; the names become file names and sheet names."""

    tables: dict[str, pd.DataFrame]


def _known(df: pd.DataFrame) -> pd.DataFrame:
    out = df[df["truth"].notna()].copy()
    out["truth"] = out["truth"].astype(bool)
    return out


def _outside_mask(model: pd.DataFrame) -> pd.Series:
    """True where the stored verdict says the case is outside the models' training data (False when unknown)."""
    if "in_distribution" not in model.columns:
        return pd.Series(False, index=model.index)
    return model["in_distribution"].astype("boolean").eq(False).fillna(False).astype(bool)


def _no_verdict_mask(model: pd.DataFrame) -> pd.Series:
    if "in_distribution" not in model.columns:
        return pd.Series(True, index=model.index)
    return model["in_distribution"].isna().astype(bool)


def scored_model(model: pd.DataFrame) -> pd.DataFrame:
    """The model's outputs that are calls: every row but those of cases outside the training data."""
    return model[~_outside_mask(model)]


def outside_cases(model: pd.DataFrame) -> dict[str, set[str]]:
    """label -> case IDs whose stored output says outside the models' training data."""
    out = model[_outside_mask(model)]
    return {str(lab): set(g["case_id"]) for lab, g in out.groupby("label", sort=False)}


def _arms(reads: pd.DataFrame) -> list[str]:
    present = set(reads["arm"].unique())
    return [a for a in ARM_ORDER if a in present] + sorted(present - set(ARM_ORDER))


def _perf_row(source: str, name: str, arm: str, label: str, truth, pred, score, threshold=np.nan) -> dict:
    m = st.binary_metrics(truth, pred)
    a = st.auc_delong(truth, score)
    return dict(source=source, name=name, arm=arm, label=label, n=len(truth), n_pos=a.n_pos, n_neg=a.n_neg,
                tp=m.tp, fp=m.fp, tn=m.tn, fn=m.fn,
                accuracy=m.accuracy.value, accuracy_lo=m.accuracy.lo, accuracy_hi=m.accuracy.hi,
                sensitivity=m.sensitivity.value, sensitivity_lo=m.sensitivity.lo, sensitivity_hi=m.sensitivity.hi,
                specificity=m.specificity.value, specificity_lo=m.specificity.lo, specificity_hi=m.specificity.hi,
                ppv=m.ppv.value, ppv_lo=m.ppv.lo, ppv_hi=m.ppv.hi, npv=m.npv.value, npv_lo=m.npv.lo, npv_hi=m.npv.hi,
                auc=a.auc, auc_lo=a.lo, auc_hi=a.hi, auc_kind=a.kind, threshold=threshold,
                underpowered=underpowered(a.n_pos, a.n_neg))


def performance(reads: pd.DataFrame, model: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    rows = []
    r = _known(reads)
    for (reader, arm, label), g in r.groupby(["reader", "arm", "label"], sort=False):
        rows.append(_perf_row("reader", reader, arm, label, g["truth"].to_numpy(), g["present"].to_numpy(),
                              g["score"].to_numpy()))
    known_model = _known(model)
    outside, no_verdict = _outside_mask(known_model), _no_verdict_mask(known_model)
    for label, g in known_model.groupby("label", sort=False):
        thr = float(g["threshold"].iloc[0])
        out, unknown = outside[g.index], no_verdict[g.index]
        called = g[~out]
        row = _perf_row("model", str(g["model_name"].iloc[0]), "model", label, called["truth"].to_numpy(),
                        (called["probability"] >= called["threshold"]).to_numpy(), called["probability"].to_numpy(),
                        thr)
        rows.append(dict(row, n_outside=int(out.sum()), n_no_verdict=int(unknown.sum())))
    rows += reader_average_rows(r, labels)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    order = {lab: i for i, lab in enumerate(labels)}
    arm_order = {a: i for i, a in enumerate((*ARM_ORDER, "model"))}
    df = df.assign(_s=df["source"].map({"reader": 0, "reader average": 1, "model": 2}),
                   _a=df["arm"].map(arm_order).fillna(9),
                   _l=df["label"].map(order).fillna(99))
    return df.sort_values(["_s", "name", "_a", "_l"]).drop(columns=["_s", "_a", "_l"]).reset_index(drop=True)


def reader_average_rows(known: pd.DataFrame, labels: list[str]) -> list[dict]:
    """Table 5's reader-average block: per arm and label, the mean over readers (cases every reader read)."""
    rows = []
    for (arm, label), g in known.groupby(["arm", "label"], sort=False):
        wide = g.pivot_table(index="case_id", columns="reader", values=["present", "score"], aggfunc="last").dropna()
        if wide.empty or g["reader"].nunique() < 2:
            continue
        t = g.drop_duplicates("case_id").set_index("case_id")["truth"].reindex(wide.index).to_numpy(bool)
        pred = wide["present"].to_numpy(bool).T
        row = dict(source="reader average", name="all readers", arm=arm, label=label, n=len(t),
                   n_pos=int(t.sum()), n_neg=int((~t).sum()), n_readers=pred.shape[0],
                   tp=np.nan, fp=np.nan, tn=np.nan, fn=np.nan, threshold=np.nan,
                   underpowered=underpowered(int(t.sum()), int((~t).sum())))
        for key in st.PROPORTIONS:
            row[key], row[f"{key}_lo"], row[f"{key}_hi"] = st.reader_average(pred, t, key)
        aucs = [st.auc_delong(t, wide["score"][rd].to_numpy()) for rd in wide["score"].columns]
        row["auc"] = float(np.mean([a.auc for a in aucs])) if all(np.isfinite(a.auc) for a in aucs) else np.nan
        row["auc_lo"] = row["auc_hi"] = np.nan
        row["auc_kind"] = "scores" if all(a.kind == "scores" for a in aucs) else "binary (Se+Sp)/2"
        if np.isfinite(row["auc"]):
            long = g[g["case_id"].isin(wide.index)].rename(columns={"arm": "modality"})
            one = orh_single(long, arm, MRMC_COV)
            row["auc"], row["auc_lo"], row["auc_hi"] = one.auc, one.lo, one.hi
        rows.append(row)
    return rows


def _fmt(v: float, lo: float, hi: float) -> str:
    if not np.isfinite(v):
        return "-"
    return f"{v:.2f} ({lo:.2f}-{hi:.2f})" if np.isfinite(lo) else f"{v:.2f}"


def _block_name(source: str, name: str, arm: str) -> str:
    return {"reader": f"{name} ({arm})", "reader average": f"reader average ({arm})"}.get(
        source, f"model {name} (threshold)")


def table5(perf: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Seed 002's Table 5 as numbers a coordinator can compute with: one row per block (reader x arm, reader
    average x arm, model) x metric x label with estimate, low and high in their own numeric columns."""
    rows = []
    for (source, name, arm), g in perf.groupby(["source", "name", "arm"], sort=False):
        g = g.set_index("label")
        for metric, key in METRIC_ROWS:
            for lab in labels:
                if lab not in g.index:
                    continue
                x = g.loc[lab]
                rows.append({"block": _block_name(source, name, arm), "metric": metric, "label": lab,
                             "estimate": x[key], "low": x[f"{key}_lo"], "high": x[f"{key}_hi"],
                             "n": int(x["n"]), "n_pos": int(x["n_pos"]), "n_neg": int(x["n_neg"]),
                             "auc_kind": x["auc_kind"] if key == "auc" else "",
                             "underpowered": bool(x["underpowered"]),
                             "n_outside": _count(x.get("n_outside")) if source == "model" else pd.NA})
    df = pd.DataFrame(rows, columns=["block", "metric", "label", "estimate", "low", "high", "n", "n_pos", "n_neg",
                                     "auc_kind", "underpowered", "n_outside"])
    df["n_outside"] = df["n_outside"].astype("Int64")  # model blocks: cases outside the training data, left out
    return df


def _count(v) -> int:
    return 0 if v is None or pd.isna(v) else int(v)


OUTSIDE_ROW = "Outside training data (excluded)"


def table5_layout(perf: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The same numbers in seed 002's printed layout (columns labels, cells 'value (95% CI)'), for reading. When
    the model left cases out (outside its training data), its block gets one more row saying how many per label."""
    rows = []
    any_outside = "n_outside" in perf.columns and bool((perf["n_outside"].fillna(0) > 0).any())
    for (source, name, arm), g in perf.groupby(["source", "name", "arm"], sort=False):
        g = g.set_index("label")
        for metric, key in METRIC_ROWS:
            row = {"block": _block_name(source, name, arm), "metric": metric}
            for lab in labels:
                if lab not in g.index:
                    row[lab] = "-"
                    continue
                x = g.loc[lab]
                cell = _fmt(x[key], x[f"{key}_lo"], x[f"{key}_hi"])
                if key == "auc" and x["auc_kind"] != "scores" and cell != "-":
                    cell += " [binary]"
                row[lab] = cell
            rows.append(row)
        if source == "model" and any_outside:  # how many cases the model's figures above leave out
            rows.append({"block": _block_name(source, name, arm), "metric": OUTSIDE_ROW,
                         **{lab: str(_count(g.loc[lab].get("n_outside"))) if lab in g.index else "-" for lab in labels}})
    return pd.DataFrame(rows, columns=["block", "metric", *labels])


def _paired(reads: pd.DataFrame, model: pd.DataFrame) -> pd.DataFrame:
    """Reads joined with the model's output of the same case and label (known truth only; cases outside the
    models' training data have no model call, so they are not paired)."""
    m = scored_model(model)[["case_id", "label", "probability", "threshold"]]
    j = _known(reads).merge(m, on=["case_id", "label"], how="inner")
    j["model_present"] = j["probability"] >= j["threshold"]
    return j


def reader_vs_model(reads: pd.DataFrame, model: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """DeLong paired test, McNemar and Cohen's kappa of each reader x arm x label against the model."""
    delong, mcn, kap = [], [], []
    outside = outside_cases(model)
    known = _known(reads)
    left_out = {k: int(g["case_id"].isin(outside.get(k[2], set())).sum())
                for k, g in known.groupby(["reader", "arm", "label"], sort=False)}
    for (reader, arm, label), g in _paired(reads, model).groupby(["reader", "arm", "label"], sort=False):
        t = g["truth"].to_numpy()
        key = dict(reader=reader, arm=arm, label=label, n=len(g), underpowered=underpowered(t.sum(), (~t).sum()),
                   n_outside=left_out.get((reader, arm, label), 0))
        if t.sum() >= 2 and (~t).sum() >= 2:
            d = st.delong_test(t, g["score"].to_numpy(), g["probability"].to_numpy())
            delong.append({**key, "auc_reader": d.auc1, "auc_model": d.auc2, "diff": d.diff, "se": d.se, "z": d.z,
                           "p": d.p, "diff_lo": d.lo, "diff_hi": d.hi,
                           "auc_kind": "binary (Se+Sp)/2" if st.is_binary_score(g["score"]) else "scores"})
        m = st.mcnemar_correct(t, g["present"].to_numpy(), g["model_present"].to_numpy())
        mcn.append({**key, "both_correct": m.both_correct, "reader_only_correct": m.only_1_correct,
                    "model_only_correct": m.only_2_correct, "both_wrong": m.both_wrong, "statistic": m.statistic,
                    "p": m.p, "method": m.method})
        k = st.cohen_kappa(g["present"].to_numpy(), g["model_present"].to_numpy())
        kap.append({**key, "kappa": k.kappa, "se": k.se, "kappa_lo": k.lo, "kappa_hi": k.hi, "method": k.method})
    return pd.DataFrame(delong), pd.DataFrame(mcn), pd.DataFrame(kap)


def fleiss_readers(reads: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (arm, label), g in reads.groupby(["arm", "label"], sort=False):
        wide = g.pivot_table(index="case_id", columns="reader", values="present", aggfunc="last").dropna()
        if wide.shape[1] < 2:
            continue
        k = st.fleiss_kappa_ci(wide.to_numpy(dtype=int))
        rows.append(dict(arm=arm, label=label, n=k.n, n_readers=wide.shape[1], kappa=k.kappa, kappa_lo=k.lo,
                         kappa_hi=k.hi, method=k.method))
    return pd.DataFrame(rows)


def _orh_row(res) -> dict:
    return dict(n=res.n_cases, n_pos=res.n_pos, n_neg=res.n_neg, n_readers=len(res.readers),
                underpowered=underpowered(res.n_pos, res.n_neg),
                diff=res.diff, se=res.se_diff, diff_lo=res.lo, diff_hi=res.hi, f=res.f, ddf=res.ddf, p=res.p,
                var_error=res.var_error, cov1=res.cov1, cov2=res.cov2, cov3=res.cov3, cov_method=res.cov_method)


def mrmc_tables(reads: pd.DataFrame, model: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ORH aided vs unaided per label, and ORH model vs reader average per arm and label."""
    arms_rows, model_rows = [], []
    r = _known(reads)
    outside = outside_cases(model)
    model = scored_model(model)
    for label in labels:
        g = r[r["label"] == label].rename(columns={"arm": "modality"})
        skip = _why_not_mrmc(g)
        if set(ARM_ORDER) <= set(g["modality"]):
            if skip:
                arms_rows.append(dict(label=label, note=skip))
            else:
                res = orh(g, ("unaided", "aided"), MRMC_COV)
                arms_rows.append(dict(label=label, auc_unaided=res.mean_auc["unaided"],
                                      auc_aided=res.mean_auc["aided"], **_orh_row(res), note=""))
        mk = model[model["label"] == label]
        for arm in _arms(r):
            ga = g[g["modality"] == arm]
            out = ga["case_id"].isin(outside.get(label, set()))
            n_out = int(ga.loc[out, "case_id"].nunique())
            ga = ga[~out]  # the same cases for readers and model
            if mk.empty or ga.empty:
                if n_out:
                    model_rows.append(dict(arm=arm, label=label, n_outside=n_out,
                                           note="every case is outside the model's training data"))
                continue
            why = skip or _why_not_mrmc(ga)
            if why:
                model_rows.append(dict(arm=arm, label=label, n_outside=n_out, note=why))
                continue
            res = orh_model_vs_readers(ga, mk, MRMC_COV)
            model_rows.append(dict(arm=arm, label=label, auc_readers=res.mean_auc["readers"],
                                   auc_model=res.mean_auc["model"], **_orh_row(res), n_outside=n_out, note=""))
    return pd.DataFrame(arms_rows), pd.DataFrame(model_rows)


def _why_not_mrmc(g: pd.DataFrame) -> str:
    if g["reader"].nunique() < 2:
        return "needs >= 2 readers"
    t = g.drop_duplicates("case_id")["truth"]
    if t.sum() < 2 or (~t).sum() < 2:
        return f"needs >= 2 positive and >= 2 negative cases (has {int(t.sum())} and {int((~t).sum())})"
    return ""


def agreement_table(agreement: pd.DataFrame, reads: pd.DataFrame, labels: list[str],
                    model: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per reader x label: agree/disagree with the model, answers changed from the unaided read and
    whether the changes went toward the truth; `n_outside`: of those, reads of cases outside the models'
    training data (the reader saw the calls greyed as 'not scored')."""
    if agreement.empty:
        return pd.DataFrame()
    outside = outside_cases(model) if model is not None else {}
    un = reads[reads["arm"] == "unaided"][["reader", "case_id", "label", "present"]].rename(
        columns={"present": "unaided_present"})
    a = agreement.merge(un, on=["reader", "case_id", "label"], how="left")
    a["changed"] = a["unaided_present"].notna() & (a["final_present"] != a["unaided_present"].astype("boolean"))
    known = a["truth"].notna()
    correct = known & (a["final_present"] == a["truth"].astype("boolean").fillna(False))
    a["to_truth"] = a["changed"] & correct
    a["from_truth"] = a["changed"] & known & ~correct
    a["changed_unknown_truth"] = a["changed"] & ~known
    a["outside"] = [cid in outside.get(lab, set()) for cid, lab in zip(a["case_id"], a["label"])]
    rows = []

    def add(reader: str, label: str, g: pd.DataFrame) -> None:
        rows.append(dict(reader=reader, label=label, n=len(g), agree=int(g["agree"].sum()),
                         disagree=int((~g["agree"]).sum()), agree_rate=float(g["agree"].mean()) if len(g) else np.nan,
                         changed=int(g["changed"].sum()), changed_toward_truth=int(g["to_truth"].sum()),
                         changed_away_from_truth=int(g["from_truth"].sum()),
                         changed_truth_unknown=int(g["changed_unknown_truth"].sum()), n_outside=int(g["outside"].sum())))

    for reader, gr in a.groupby("reader", sort=True):
        for label in labels:
            gl = gr[gr["label"] == label]
            if len(gl):
                add(reader, label, gl)
        add(reader, "all labels", gr)
    for label in labels:
        gl = a[a["label"] == label]
        if len(gl):
            add("all readers", label, gl)
    add("all readers", "all labels", a)
    return pd.DataFrame(rows)


def heatmap_counts(ratings: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    if ratings.empty:
        return pd.DataFrame()
    t = pd.crosstab([ratings["reader"], ratings["label"]], ratings["rating"]).reindex(columns=list(RATING_ORDER),
                                                                                        fill_value=0)
    order = {lab: i for i, lab in enumerate(labels)}
    t = t.reset_index()
    t = t.assign(_l=t["label"].map(order).fillna(99)).sort_values(["reader", "_l"]).drop(columns="_l")
    tot = pd.crosstab(ratings["label"], ratings["rating"]).reindex(columns=list(RATING_ORDER), fill_value=0)
    tot = tot.reindex([lab for lab in labels if lab in tot.index]).reset_index().assign(reader="all readers")
    out = pd.concat([t, tot], ignore_index=True)[["reader", "label", *RATING_ORDER]]
    out["total"] = out[list(RATING_ORDER)].sum(axis=1)
    return out.reset_index(drop=True)


def reading_time(reads: pd.DataFrame) -> pd.DataFrame:
    per_case = reads.drop_duplicates(["reader", "case_id", "arm"])
    if per_case.empty:  # nothing read yet (an export right after score-cases)
        return pd.DataFrame()
    rows = []
    for (reader, arm), g in list(per_case.groupby(["reader", "arm"], sort=True)) + [
            (("all readers", arm), g) for arm, g in per_case.groupby("arm", sort=True)]:
        s = g["seconds"].to_numpy(dtype=float)
        rows.append(dict(reader=reader, arm=arm, n=len(s), median_s=float(np.median(s)), q1_s=float(np.quantile(s, .25)),
                         q3_s=float(np.quantile(s, .75)), mean_s=float(np.mean(s)), total_min=float(s.sum() / 60)))
    df = pd.DataFrame(rows)
    arm_order = {a: i for i, a in enumerate(ARM_ORDER)}
    return df.assign(_r=(df["reader"] == "all readers"), _a=df["arm"].map(arm_order).fillna(9)).sort_values(
        ["_r", "reader", "_a"]).drop(columns=["_r", "_a"]).reset_index(drop=True)


def discordant_cases(reads: pd.DataFrame, model: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Case x label where the model or at least one reader (any arm) disagrees with the truth."""
    r = _known(reads)
    r["wrong"] = r["present"] != r["truth"]
    key = ["case_id", "label"]
    base = r.groupby(key).agg(truth=("truth", "first"), n_readers=("reader", "nunique"))
    w = r[r["wrong"]]
    names = w.groupby([*key, "arm"])["reader"].agg(lambda x: ", ".join(sorted(x))).unstack("arm")
    counts = w.groupby([*key, "arm"]).size().unstack("arm")
    for arm in ARM_ORDER:
        base[f"wrong_{arm}"] = counts[arm].reindex(base.index).fillna(0).astype(int) if arm in counts else 0
        base[f"readers_wrong_{arm}"] = names[arm].reindex(base.index).fillna("") if arm in names else ""
    mk = _known(model)
    mk = mk.assign(_outside=_outside_mask(mk).to_numpy()).set_index(key)
    base["model_probability"] = mk["probability"].reindex(base.index)
    base["model_outside"] = mk["_outside"].reindex(base.index).fillna(False).astype(bool)
    has_model = base["model_probability"].notna() & ~base["model_outside"]  # outside the training data: no call
    model_correct = ((mk["probability"] >= mk["threshold"]) == mk["truth"]).reindex(base.index)
    base["model_correct"] = model_correct.where(has_model, None)
    keep = (has_model & (model_correct == False)) | (base["wrong_unaided"] > 0) | (base["wrong_aided"] > 0)  # noqa: E712
    df = base[keep].reset_index()
    if df.empty:
        return df
    order = {lab: i for i, lab in enumerate(labels)}
    df = df.assign(_l=df["label"].map(order).fillna(99)).sort_values(["_l", "case_id"]).drop(columns="_l")
    return df[["case_id", "label", "truth", "model_probability", "model_correct", "n_readers", "wrong_unaided",
               "wrong_aided", "readers_wrong_unaided", "readers_wrong_aided", "model_outside"]].reset_index(drop=True)


def raw_reads(reads: pd.DataFrame) -> pd.DataFrame:
    """Long format (one row per reader x case x arm x label) as iMRMC / RJafroc / MRMCaov ingest:
    reader, treatment, case, truth (0/1), rating."""
    df = reads.rename(columns={"arm": "treatment", "case_id": "case", "score": "rating"})
    df["truth"] = df["truth"].map(lambda v: "" if pd.isna(v) else int(bool(v)))
    return df[["reader", "treatment", "case", "label", "truth", "rating", "score_kind", "present", "seconds"]]


def descriptor(info: dict, reads: pd.DataFrame, model: pd.DataFrame) -> pd.DataFrame:
    """The study descriptor as key/value rows (explicit keys only: nothing else from `info` leaks)."""
    rows = [("study", info.get("name", "")), ("description", info.get("description", "")),
            ("reference standard", info.get("reference_standard", "") or "not stated"),
            ("design", info.get("design", "")), ("unit of analysis", info.get("unit_of_analysis", "case, per label")),
            ("arms", ", ".join(info.get("arms", _arms(reads)))),
            ("readers", f"{len(info.get('readers', []))}: " + ", ".join(info.get("readers", []))),
            ("cases", str(info.get("n_cases", reads["case_id"].nunique()))),
            ("reader score", {"confidence": "answer + confidence 1-5 on a 1-10 scale (higher = more likely present)",
                              "probability": "probability 0-100"}.get(info.get("score_kind", ""), "")),
            ("labels", ", ".join(info.get("labels", [])))]
    for lab, c in (info.get("cases_per_label") or {}).items():
        rows.append((f"cases: {lab}", f"{c.get('positive', 0)} positive, {c.get('negative', 0)} negative"
                     + (f", {c['unknown']} without truth (excluded)" if c.get("unknown") else "")))
    m = info.get("model") or {}
    if m:
        rows += [("model", f"{m.get('name', '')} {m.get('version', '')}"), ("model sha256", m.get("sha256", "")),
                 ("model thresholds", ", ".join(f"{k} {v}" for k, v in (m.get("thresholds") or {}).items()))]
    elif not model.empty:
        r0 = model.iloc[0]
        rows += [("model", f"{r0['model_name']} {r0['model_version']}"), ("model sha256", str(r0["model_sha256"]))]
    if not model.empty:
        rows += ood_descriptor(model)
    rows += [(f"method: {k}", v) for k, v in METHODS.items()]
    rows.append(("generated", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    return pd.DataFrame(rows, columns=["item", "value"])


def ood_descriptor(model: pd.DataFrame) -> list[tuple[str, str]]:
    """The descriptor's lines on the models' out-of-distribution verdicts (pseudonymous case IDs only)."""
    out = sorted(set(model.loc[_outside_mask(model), "case_id"]))
    unknown = sorted(set(model.loc[_no_verdict_mask(model), "case_id"]))
    n = model["case_id"].nunique()
    rows = [("model: outside training data",
             (f"{len(out)} of {n} case(s) ({', '.join(out)}): the CT models' out-of-distribution check put them "
              f"outside the training data, so their outputs are not calls; they are excluded from the model's "
              f"figures (n_outside), from every reader-vs-model comparison and from the model's ROC curve, and "
              f"kept in the readers' figures") if out else f"0 of {n} case(s)")]
    if unknown:
        rows.append(("model: no stored verdict",
                     f"{len(unknown)} case(s) scored before the verdict was stored: counted as scored (n_no_verdict); "
                     f"`neuroreview study score-cases NAME --rescore` stores it"))
    return rows


def build_tables(frames) -> Tables:
    """Every table of the export, in report order."""
    info, reads, model = frames.info, frames.reads, frames.model
    labels = list(info.get("labels") or pd.unique(reads["label"]))
    perf = performance(reads, model, labels)
    delong, mcn, kap = reader_vs_model(reads, model) if not model.empty else (pd.DataFrame(),) * 3
    arms_orh, model_orh = mrmc_tables(reads, model, labels)
    tables = {
        "descriptor": descriptor(info, reads, model),
        "table5": table5(perf, labels),
        "table5_layout": table5_layout(perf, labels),
        "performance": perf,
        "delong_vs_model": delong,
        "mcnemar_vs_model": mcn,
        "kappa_vs_model": kap,
        "fleiss_readers": fleiss_readers(reads),
        "orh_aided_vs_unaided": arms_orh,
        "orh_model_vs_readers": model_orh,
        "agreement": agreement_table(frames.agreement, reads, labels, model),
        "heatmap_ratings": heatmap_counts(frames.ratings, labels),
        "reading_time": reading_time(reads),
        "discordant_cases": discordant_cases(reads, model, labels),
        "raw_reads": raw_reads(reads),
    }
    return Tables(tables)
