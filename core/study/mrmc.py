"""Obuchowski-Rockette analysis with Hillis' degrees of freedom (ORH): two modalities (here the
unaided and aided arms), random readers and random cases, AUC as the figure of merit.

Model (Obuchowski & Rockette 1995): AUC_ij = mu + tau_i + R_j + (tau R)_ij + e_ij, with the errors of
AUCs estimated on the same cases correlated: Var(e) and Cov1 (same reader, other modality), Cov2
(other reader, same modality), Cov3 (other reader, other modality). Test statistic and denominator
degrees of freedom from Hillis (2007, Stat Med 26:596): F = MS(T) / [MS(T*R) + r max(Cov2 - Cov3, 0)],
ddf_H = [MS(T*R) + r max(Cov2 - Cov3, 0)]^2 / {MS(T*R)^2 / ((t-1)(r-1))}.

Covariances come from DeLong's structural components (``delong``) or from the case jackknife
(``jackknife``, what OR-DBM MRMC and RJafroc use by default); the leave-one-case-out AUCs are exact
closed forms of the same components, so both cost O(N log N). Validated against the Van Dyke et al.
(1993) data analysed by OR-DBM MRMC 2.51 (tests/core/study/test_mrmc.py).

The model-vs-readers comparison enters the model as the second modality with the same scores for
every reader; for two modalities this is the difference-based single-treatment ORH analysis of
reader-minus-model AUCs (RJafroc's StSignificanceTestingCadVsRad, method 1T-RRRC).

Confidence limits are clipped to the range of what they bound: [0, 1] for an AUC, [-1, 1] for a difference
of AUCs (the t interval is symmetric and can cross them with few cases; a clipped limit is no information
beyond the range itself, which is why small studies are flagged as underpowered in core.study.analysis).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from core.study.stats import delong_covariance

COV_METHODS = ("jackknife", "delong")


@dataclass(frozen=True)
class SingleModality:
    modality: str
    auc: float
    se: float
    df: float
    lo: float
    hi: float
    cov2: float


@dataclass
class ORHResult:
    modalities: tuple[str, str]  # (reference, test): diff = test - reference
    readers: list[str]
    n_cases: int
    n_pos: int
    n_neg: int
    cov_method: str
    auc: pd.DataFrame  # readers x modalities
    mean_auc: dict[str, float]
    diff: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    var_r: float
    var_tr: float
    ms_t: float
    ms_r: float
    ms_tr: float
    f: float
    ddf: float
    p: float
    se_diff: float
    lo: float
    hi: float
    single: list[SingleModality] = field(default_factory=list)
    alpha: float = 0.05


def _case_covariance(truth: np.ndarray, scores: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of each row of ``scores`` and their covariance over cases (DeLong or jackknife)."""
    aucs, cov = delong_covariance(truth, scores)
    if method == "delong":
        return aucs, cov
    if method != "jackknife":
        raise ValueError(f"cov_method must be one of {COV_METHODS}")
    # Leave-one-out AUCs from the placement values: dropping positive k removes its row of the
    # Mann-Whitney kernel, dropping negative l its column.
    pos, neg = scores[:, truth], scores[:, ~truth]
    m, n = pos.shape[1], neg.shape[1]
    tx, ty = stats.rankdata(pos, axis=1), stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.hstack([pos, neg]), axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    loo = np.hstack([(m * aucs[:, None] - v10) / (m - 1), (n * aucs[:, None] - v01) / (n - 1)])  # k x c
    c = m + n
    dev = loo - loo.mean(axis=1, keepdims=True)
    return aucs, (c - 1) / c * dev @ dev.T


def _wide(frame: pd.DataFrame, modalities: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Scores as an array [modality, reader, case] on the cases every reader read in both modalities."""
    need = {"reader", "case_id", "modality", "truth", "score"}
    if missing := need - set(frame.columns):
        raise ValueError(f"MRMC frame lacks columns {sorted(missing)}")
    df = frame[frame["modality"].isin(modalities)].drop_duplicates(["case_id", "modality", "reader"], keep="last")
    readers = sorted(df["reader"].unique())
    if len(readers) < 2:
        raise ValueError("ORH needs at least 2 readers")
    cases = sorted(df["case_id"].unique())
    arr = np.full((len(modalities), len(readers), len(cases)), np.nan)
    arr[pd.Categorical(df["modality"], categories=list(modalities)).codes,
        pd.Categorical(df["reader"], categories=readers).codes,
        pd.Categorical(df["case_id"], categories=cases).codes] = df["score"].to_numpy(dtype=float)
    full = ~np.isnan(arr).any(axis=(0, 1))  # fully crossed cases only
    truth = df.drop_duplicates("case_id").set_index("case_id")["truth"].reindex(cases).astype(bool).to_numpy()
    return arr[:, :, full], truth[full], readers, [c for c, k in zip(cases, full) if k]


def orh(frame: pd.DataFrame, modalities: tuple[str, str], cov_method: str = "jackknife",
        alpha: float = 0.05) -> ORHResult:
    """ORH analysis of a long frame (reader, case_id, modality, truth, score) for two modalities.

    Only cases read by every reader in both modalities are used (a fully crossed design)."""
    if len(modalities) != 2:
        raise ValueError("ORH here compares exactly two modalities")
    scores, truth, readers, cases = _wide(frame, modalities)
    t, r, c = scores.shape
    aucs, cov = _case_covariance(truth, scores.reshape(t * r, c), cov_method)
    theta = aucs.reshape(t, r)
    flat = np.arange(t * r)
    idx = flat.reshape(t, r)
    same_reader = np.equal.outer(flat % r, flat % r)
    same_mod = np.equal.outer(flat // r, flat // r)
    off = ~np.eye(t * r, dtype=bool)
    var_e = float(np.mean(np.diag(cov)))
    cov1 = float(cov[same_reader & ~same_mod].mean())
    cov2 = float(cov[~same_reader & same_mod & off].mean())
    cov3 = float(cov[~same_reader & ~same_mod].mean())

    mi, mj, mm = theta.mean(axis=1), theta.mean(axis=0), theta.mean()
    ms_t = r * float(np.sum((mi - mm) ** 2)) / (t - 1)
    ms_r = t * float(np.sum((mj - mm) ** 2)) / (r - 1)
    ms_tr = float(np.sum((theta - mi[:, None] - mj[None, :] + mm) ** 2)) / ((t - 1) * (r - 1))
    den = ms_tr + r * max(cov2 - cov3, 0.0)
    ddf = den ** 2 / (ms_tr ** 2 / ((t - 1) * (r - 1))) if ms_tr > 0 else np.inf
    f = ms_t / den if den > 0 else (0.0 if ms_t == 0 else np.inf)
    p = float(stats.f.sf(f, t - 1, ddf)) if np.isfinite(ddf) else float(stats.chi2.sf(f * (t - 1), t - 1))
    diff = float(mi[1] - mi[0])
    se = float(np.sqrt(2.0 / r * den))
    q = stats.t.ppf(1 - alpha / 2, ddf) if np.isfinite(ddf) else stats.norm.ppf(1 - alpha / 2)
    var_tr = ms_tr - var_e + cov1 + cov2 - cov3
    var_r = (ms_r - var_tr - var_e - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t

    single = []
    for i, mod in enumerate(modalities):
        block = cov[np.ix_(idx[i], idx[i])]
        c2 = float(block[~np.eye(r, dtype=bool)].mean())
        msr_i = float(np.var(theta[i], ddof=1))
        d = msr_i + r * max(c2, 0.0)
        df_i = d ** 2 / (msr_i ** 2 / (r - 1)) if msr_i > 0 else np.inf
        se_i = float(np.sqrt(d / r))
        q_i = stats.t.ppf(1 - alpha / 2, df_i) if np.isfinite(df_i) else stats.norm.ppf(1 - alpha / 2)
        single.append(SingleModality(str(mod), float(mi[i]), se_i, float(df_i), max(0.0, float(mi[i] - q_i * se_i)),
                                     min(1.0, float(mi[i] + q_i * se_i)), c2))

    return ORHResult(modalities=(str(modalities[0]), str(modalities[1])), readers=[str(x) for x in readers],
                     n_cases=c, n_pos=int(truth.sum()), n_neg=int((~truth).sum()), cov_method=cov_method,
                     auc=pd.DataFrame(theta.T, index=readers, columns=list(modalities)),
                     mean_auc={str(m): float(v) for m, v in zip(modalities, mi)}, diff=diff,
                     var_error=var_e, cov1=cov1, cov2=cov2, cov3=cov3, var_r=float(var_r), var_tr=float(var_tr),
                     ms_t=ms_t, ms_r=ms_r, ms_tr=ms_tr, f=float(f), ddf=float(ddf), p=p, se_diff=se,
                     lo=max(-1.0, float(diff - q * se)), hi=min(1.0, float(diff + q * se)), single=single,
                     alpha=alpha)


def orh_model_vs_readers(reads: pd.DataFrame, model: pd.DataFrame, cov_method: str = "jackknife",
                         alpha: float = 0.05) -> ORHResult:
    """Model minus reader-average AUC (random readers, random cases).

    ``reads``: reader, case_id, truth, score (one arm); ``model``: case_id, probability. The model is
    entered as modality 'model' with identical scores for every reader; modality 'readers' holds the
    readers' own scores. diff = model - readers."""
    base = reads[["reader", "case_id", "truth", "score"]].assign(modality="readers")
    prob = model.drop_duplicates("case_id").set_index("case_id")["probability"]
    rep = base.assign(modality="model", score=base["case_id"].map(prob).to_numpy())
    rep = rep.dropna(subset=["score"])
    return orh(pd.concat([base, rep], ignore_index=True), ("readers", "model"), cov_method, alpha)


def orh_single(frame: pd.DataFrame, modality: str, cov_method: str = "jackknife",
               alpha: float = 0.05) -> SingleModality:
    """Reader-average AUC of one modality with its ORH CI (random readers, random cases): the single-modality
    part of ``orh``, which uses only that modality's AUCs and covariances (the paired copy does not enter it)."""
    one = frame[frame["modality"] == modality]
    return orh(pd.concat([one, one.assign(modality="_copy")], ignore_index=True), (modality, "_copy"),
               cov_method, alpha).single[0]
