"""Reader-study statistics: proportions with Wilson CIs, ROC AUC with DeLong CIs, DeLong paired
tests, McNemar, Cohen's and Fleiss' kappa.

Why these choices:
- Wilson intervals (statsmodels ``proportion_confint(method='wilson')``; its default is 'normal',
  which gives impossible intervals at 0 % or 100 %, common for small reader studies).
- Fast DeLong (Sun & Xu 2014, IEEE SPL 21:1389): midranks instead of the O(m*n) kernel, so the
  AUCs of k scores on the same cases and their covariance cost O(k N log N). No maintained Python
  package implements it (scipy/statsmodels have none); the test suite checks it against pROC.
- A binary read (present/absent only) has one operating point; its empirical AUC is (Se+Sp)/2
  (the Mann-Whitney AUC of a 0/1 score), as seed 002's Table 5 reports; it is labelled as such.
- McNemar, Cohen's kappa and Fleiss' kappa come from statsmodels. Fleiss' kappa has no CI there:
  we use a percentile bootstrap over cases (seeded, so reports are reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata
from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05
NAN = float("nan")


@dataclass(frozen=True)
class Proportion:
    k: int
    n: int
    value: float
    lo: float
    hi: float


def wilson(k: int, n: int, alpha: float = ALPHA) -> Proportion:
    """k of n with a Wilson score interval; n == 0 gives NaNs (e.g. sensitivity with no positives)."""
    if n == 0:
        return Proportion(int(k), 0, NAN, NAN, NAN)
    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    p = k / n  # at 0 % or 100 % the formula's limit can miss p by one rounding step (0.9999999999999999)
    return Proportion(int(k), int(n), p, max(0.0, min(float(lo), p)), min(1.0, max(float(hi), p)))


@dataclass(frozen=True)
class BinaryMetrics:
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: Proportion
    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion  # positive predictive value, tp / (tp + fp), at this study's prevalence
    npv: Proportion  # negative predictive value, tn / (tn + fn)


def _bool(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must be boolean or 0/1")
        arr = arr.astype(bool)
    return arr


def binary_metrics(truth, pred, alpha: float = ALPHA) -> BinaryMetrics:
    """Confusion counts and accuracy / sensitivity / specificity / PPV / NPV with Wilson CIs."""
    t, p = _bool(truth, "truth"), _bool(pred, "pred")
    if t.shape != p.shape:
        raise ValueError("truth and pred must have the same length")
    tp = int(np.sum(t & p))
    fp = int(np.sum(~t & p))
    tn = int(np.sum(~t & ~p))
    fn = int(np.sum(t & ~p))
    return BinaryMetrics(tp, fp, tn, fn, accuracy=wilson(tp + tn, t.size, alpha),
                         sensitivity=wilson(tp, tp + fn, alpha), specificity=wilson(tn, tn + fp, alpha),
                         ppv=wilson(tp, tp + fp, alpha), npv=wilson(tn, tn + fn, alpha))


# ---------------------------------------------------------------------------------------------- DeLong

def delong_covariance(truth, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of each row of ``scores`` (k x N, higher = more likely positive) and their DeLong
    covariance matrix (k x k), by the fast midrank algorithm of Sun & Xu (2014).

    Needs at least 2 positives and 2 negatives (the variance divides by m-1 and n-1).
    """
    t = _bool(truth, "truth")
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != t.size:
        raise ValueError(f"scores have {s.shape[1]} cases, truth has {t.size}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    pos, neg = s[:, t], s[:, ~t]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs >= 2 positive and >= 2 negative cases (got {m} and {n})")
    tx = rankdata(pos, axis=1)  # midranks within positives
    ty = rankdata(neg, axis=1)  # within negatives
    tz = rankdata(np.hstack([pos, neg]), axis=1)  # within all
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v10 = (tz[:, :m] - tx) / n  # per positive: share of negatives below it (ties count 1/2)
    v01 = 1.0 - (tz[:, m:] - ty) / m  # per negative: share of positives above it
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


@dataclass(frozen=True)
class AUCResult:
    auc: float
    se: float
    lo: float
    hi: float
    kind: str  # 'scores' (empirical ROC of the scores) | 'binary (Se+Sp)/2'
    n_pos: int
    n_neg: int


def is_binary_score(score) -> bool:
    return np.unique(np.asarray(score, dtype=float)).size <= 2


def auc_delong(truth, score, alpha: float = ALPHA) -> AUCResult:
    """Empirical AUC with a DeLong CI (clipped to [0, 1]). A score with <= 2 distinct values is a
    single operating point: its AUC equals (Se+Sp)/2 and is labelled 'binary (Se+Sp)/2'."""
    t = _bool(truth, "truth")
    kind = "binary (Se+Sp)/2" if is_binary_score(score) else "scores"
    m, n = int(t.sum()), int((~t).sum())
    if m < 2 or n < 2:
        return AUCResult(NAN, NAN, NAN, NAN, kind, m, n)
    aucs, cov = delong_covariance(t, score)
    auc, se = float(aucs[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    z = norm.ppf(1 - alpha / 2)
    return AUCResult(auc, se, max(0.0, auc - z * se), min(1.0, auc + z * se), kind, m, n)


@dataclass(frozen=True)
class DeLongTest:
    auc1: float
    auc2: float
    diff: float  # auc1 - auc2
    se: float
    z: float
    p: float
    lo: float
    hi: float


def delong_test(truth, score1, score2, alpha: float = ALPHA) -> DeLongTest:
    """DeLong's paired test of two AUCs on the same cases (two-sided), as pROC's roc.test."""
    aucs, cov = delong_covariance(truth, np.vstack([np.asarray(score1, float), np.asarray(score2, float)]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if se == 0.0:
        z, p = (0.0, 1.0) if diff == 0 else (float(np.sign(diff) * np.inf), 0.0)
    else:
        z = diff / se
        p = float(2 * norm.sf(abs(z)))
    q = norm.ppf(1 - alpha / 2)  # a difference of AUCs lies in [-1, 1]: so do its limits
    return DeLongTest(float(aucs[0]), float(aucs[1]), diff, se, z, p, max(-1.0, diff - q * se), min(1.0, diff + q * se))


def roc_curve(truth, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical ROC points (FPR, TPR, threshold), from (0,0) to (1,1); 'present' means score >= threshold."""
    t = _bool(truth, "truth")
    s = np.asarray(score, dtype=float)
    thr = np.unique(s)[::-1]
    m, n = max(int(t.sum()), 1), max(int((~t).sum()), 1)
    tpr = np.array([np.sum(t & (s >= c)) / m for c in thr])
    fpr = np.array([np.sum(~t & (s >= c)) / n for c in thr])
    return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, thr]


# ---------------------------------------------------------------------------------------------- McNemar

@dataclass(frozen=True)
class McNemarResult:
    both_correct: int
    only_1_correct: int  # b: the first rater right, the second wrong
    only_2_correct: int  # c
    both_wrong: int
    statistic: float
    p: float
    method: str


def mcnemar_correct(truth, pred1, pred2) -> McNemarResult:
    """McNemar's test that two raters (e.g. a reader and the model) are right equally often on the
    same cases. Exact binomial when the discordant pairs are fewer than 25, else chi-square with
    continuity correction (statsmodels ``mcnemar``)."""
    t = _bool(truth, "truth")
    c1, c2 = _bool(pred1, "pred1") == t, _bool(pred2, "pred2") == t
    table = np.array([[np.sum(c1 & c2), np.sum(c1 & ~c2)], [np.sum(~c1 & c2), np.sum(~c1 & ~c2)]])
    b, c = int(table[0, 1]), int(table[1, 0])
    exact = b + c < 25
    if b + c == 0:
        return McNemarResult(int(table[0, 0]), b, c, int(table[1, 1]), 0.0, 1.0, "no discordant cases")
    res = _sm_mcnemar(table, exact=exact, correction=True)
    return McNemarResult(int(table[0, 0]), b, c, int(table[1, 1]), float(res.statistic), float(res.pvalue),
                         "exact binomial" if exact else "chi-square, continuity-corrected")


# ---------------------------------------------------------------------------------------------- kappa

@dataclass(frozen=True)
class KappaResult:
    kappa: float
    se: float
    lo: float
    hi: float
    n: int
    method: str


def cohen_kappa_table(table, alpha: float = ALPHA) -> KappaResult:
    """Cohen's kappa of a square contingency table with statsmodels' asymptotic CI (SAS's ASE)."""
    table = np.asarray(table, dtype=float)
    n = int(table.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        res = cohens_kappa(table, return_results=True)
    if not np.isfinite(res.kappa):
        return KappaResult(NAN, NAN, NAN, NAN, n, "undefined: one category only")
    half = norm.ppf(1 - alpha / 2) * float(res.std_kappa)  # statsmodels' own limits are fixed at 95 %
    k = float(res.kappa)
    return KappaResult(k, float(res.std_kappa), max(k - half, -1.0), min(k + half, 1.0), n,
                       "asymptotic SE (statsmodels cohens_kappa), CI clipped to [-1, 1]")


def cohen_kappa(a, b, alpha: float = ALPHA) -> KappaResult:
    """Cohen's kappa of two binary raters on the same cases (e.g. reader vs model)."""
    x, y = _bool(a, "a").astype(int), _bool(b, "b").astype(int)
    table = np.zeros((2, 2))
    np.add.at(table, (x, y), 1)
    pe = (table.sum(0) * table.sum(1)).sum() / max(table.sum(), 1) ** 2
    if np.isclose(pe, 1.0):  # both raters used one and the same category: kappa is 0/0
        return KappaResult(NAN, NAN, NAN, NAN, int(table.sum()), "undefined: one category only")
    return cohen_kappa_table(table, alpha)


def _fleiss(counts: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(fleiss_kappa(counts, method="fleiss"))


def _fleiss_many(c: np.ndarray) -> np.ndarray:
    """Fleiss' kappa of many (subjects x categories) count tables at once (B x N x K): the formula of
    statsmodels' ``fleiss_kappa`` vectorised for the bootstrap (tests check they agree)."""
    c = c.astype(float)
    m = c[0, 0].sum()  # raters per subject
    n_sub = c.shape[1]
    p_j = c.sum(axis=1) / (n_sub * m)
    p_i = ((c ** 2).sum(axis=2) - m) / (m * (m - 1))
    pe = (p_j ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p_i.mean(axis=1) - pe) / (1 - pe)


def fleiss_kappa_ci(ratings, n_boot: int = 2000, seed: int = 0, alpha: float = ALPHA) -> KappaResult:
    """Fleiss' kappa of a (cases x raters) array of category codes (ints >= 0), with a percentile
    bootstrap CI over cases (``n_boot`` resamples, fixed seed)."""
    r = np.asarray(ratings).astype(int)
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError("ratings must be a (cases x raters) array with >= 2 raters")
    counts, _ = aggregate_raters(r, n_cat=int(r.max()) + 1)
    k = _fleiss(counts)
    if not np.isfinite(k):
        return KappaResult(NAN, NAN, NAN, NAN, r.shape[0], "undefined: one category only")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, r.shape[0], size=(n_boot, r.shape[0]))
    boots = _fleiss_many(counts[idx])
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2]) if boots.size else (NAN, NAN)
    return KappaResult(k, float(np.std(boots, ddof=1)) if boots.size > 1 else NAN, float(lo), float(hi), r.shape[0],
                       f"percentile bootstrap over cases ({n_boot} resamples, seed {seed})")


# ---------------------------------------------------------------------------------------------- reader average

PROPORTIONS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


def _num_den(pred: np.ndarray, t: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator indicators (readers x cases) of a proportion."""
    tt = np.broadcast_to(t, pred.shape)
    return {"accuracy": (pred == tt, np.ones_like(pred)), "sensitivity": (pred & tt, tt),
            "specificity": (~pred & ~tt, ~tt), "ppv": (pred & tt, pred), "npv": (~pred & ~tt, ~pred)}[metric]


def reader_average(pred, truth, metric: str, n_boot: int = 2000, seed: int = 0,
                   alpha: float = ALPHA) -> tuple[float, float, float]:
    """Mean over readers of a proportion (``metric`` in PROPORTIONS) from binary reads (readers x cases), with
    a percentile bootstrap CI that resamples cases and readers (both random: the interval covers the
    reader-to-reader spread as well as the case sampling). NaN when no reader has a denominator."""
    p, t = np.asarray(pred, bool), _bool(truth, "truth")
    num, den = (a.astype(float) for a in _num_den(p, t, metric))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_reader = num.sum(axis=1) / den.sum(axis=1)
    if not np.isfinite(per_reader).any():
        return NAN, NAN, NAN
    est = float(np.nanmean(per_reader))
    rng = np.random.default_rng(seed)
    r, c = p.shape
    w = np.zeros((n_boot, c))  # how often each case is drawn
    np.add.at(w, (np.repeat(np.arange(n_boot), c), rng.integers(0, c, n_boot * c)), 1)
    v = np.zeros((n_boot, r))  # how often each reader is drawn
    np.add.at(v, (np.repeat(np.arange(n_boot), r), rng.integers(0, r, n_boot * r)), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        val = (num @ w.T) / (den @ w.T)  # readers x boots
        ok = np.isfinite(val)
        avg = (np.where(ok, val, 0.0).T * v).sum(axis=1) / (ok.T * v).sum(axis=1)
    avg = avg[np.isfinite(avg)]
    if avg.size < 2:
        return est, NAN, NAN
    lo, hi = np.quantile(avg, [alpha / 2, 1 - alpha / 2])
    return est, float(lo), float(hi)
