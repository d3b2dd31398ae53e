"""core.study.stats against published worked examples and independent computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, mannwhitneyu

from core.study import stats as st

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def asah():
    df = pd.read_csv(DATA / "asah.csv", comment="#")
    assert len(df) == 113 and (df.outcome == "Poor").sum() == 41
    return df


def test_delong_ci_matches_proc_documentation(asah):
    """pROC's documented example (ci.auc of roc(aSAH$outcome, aSAH$s100b), pROC docs and
    Robin et al. 2011 BMC Bioinformatics 12:77): 'Area under the curve: 0.7314,
    95% CI: 0.6301-0.8326 (DeLong)'. Printed to 4 decimals: tolerance 5e-5."""
    r = st.auc_delong(asah.outcome == "Poor", asah.s100b)
    assert r.kind == "scores" and (r.n_pos, r.n_neg) == (41, 72)
    assert r.auc == pytest.approx(0.7314, abs=5e-5)
    assert r.lo == pytest.approx(0.6301, abs=5e-5)
    assert r.hi == pytest.approx(0.8326, abs=5e-5)


@pytest.mark.parametrize("a,b,z,p,lo,hi", [
    ("wfns", "s100b", 2.20898359144091, 0.0271757822291882, 0.0104061769564846, 0.174214419249478),
    ("wfns", "ndka", 2.79777591868904, 0.00514557970691098, 0.0634011709339876, 0.3600405634833566),
    ("ndka", "s100b", -1.39077002573558, 0.164295175223054, -0.2876917446341914, 0.0488706064228094),
])
def test_delong_paired_test_matches_proc_test_suite(asah, a, b, z, p, lo, hi):
    """pROC's own test suite (xrobin/pROC tests/testthat/test-roc.test.R, 'roc.test statistic and p
    are as expected with defaults'): roc.test(r.wfns, r.s100b) etc. on aSAH, DeLong, paired.
    wfns is a 5-level ordinal score, so ties are exercised. Tolerance: relative 1e-9."""
    t = st.delong_test(asah.outcome == "Poor", asah[a], asah[b])
    assert t.z == pytest.approx(z, rel=1e-9)
    assert t.p == pytest.approx(p, rel=1e-9)
    assert t.lo == pytest.approx(lo, rel=1e-9)
    assert t.hi == pytest.approx(hi, rel=1e-9)


def _brute_force_delong(y, scores):
    """DeLong et al. (1988) eq. by the O(m*n) kernel psi(x, y) = 1, 1/2, 0, written independently."""
    pos, neg = scores[:, y], scores[:, ~y]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    aucs = psi.mean(axis=(1, 2))
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    return aucs, np.cov(v10) / pos.shape[1] + np.cov(v01) / neg.shape[1]


def test_fast_delong_equals_the_quadratic_definition_and_mann_whitney():
    rng = np.random.default_rng(3)
    y = rng.random(150) < 0.4
    s = np.vstack([np.round(rng.normal(y * 1.0, 1.0), 1), rng.integers(1, 6, 150) + y, rng.normal(y * 0.3, 1)])
    aucs, cov = st.delong_covariance(y, s)
    ref_aucs, ref_cov = _brute_force_delong(y, s)
    np.testing.assert_allclose(aucs, ref_aucs, rtol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-15)
    for k in range(3):  # AUC = U / (m n)
        u = mannwhitneyu(s[k, y], s[k, ~y]).statistic
        assert aucs[k] == pytest.approx(u / (y.sum() * (~y).sum()), rel=1e-12)


def test_delong_variance_agrees_with_the_bootstrap():
    """On simulated binormal data (200 cases, AUC ~0.76), the DeLong SE and a 2000-resample
    stratified bootstrap SE agree within 10 %."""
    rng = np.random.default_rng(7)
    y = np.r_[np.ones(80, bool), np.zeros(120, bool)]
    s = rng.normal(y * 1.0, 1.0)
    r = st.auc_delong(y, s)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    boots = []
    for _ in range(2000):
        i = np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
        boots.append(st.delong_covariance(y[i], s[i])[0][0])
    assert r.se == pytest.approx(np.std(boots, ddof=1), rel=0.10)


def test_binary_read_auc_is_mean_of_sensitivity_and_specificity():
    rng = np.random.default_rng(0)
    y = rng.random(60) < 0.5
    read = np.where(rng.random(60) < 0.8, y, ~y)
    m = st.binary_metrics(y, read)
    r = st.auc_delong(y, read.astype(float))
    assert r.kind == "binary (Se+Sp)/2"
    assert r.auc == pytest.approx((m.sensitivity.value + m.specificity.value) / 2, rel=1e-12)


def test_binary_metrics_counts_and_wilson_intervals():
    """Wilson intervals checked against Newcombe (1998), Stat Med 17:857-872, Table II, method 3
    (score method without continuity correction): 81/263 -> 0.2553-0.3662, 15/148 -> 0.0624-0.1605,
    0/20 -> 0-0.1611, 1/29 -> 0.0061-0.1718. Tolerance 5e-5 (4 printed decimals)."""
    for k, n, lo, hi in ((81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)):
        p = st.wilson(k, n)
        assert (p.lo, p.hi) == pytest.approx((lo, hi), abs=5e-5)
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], bool)
    m = st.binary_metrics(truth, pred)
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 1, 5, 1)
    assert (m.accuracy.value, m.sensitivity.value, m.specificity.value) == (0.8, 0.75, 5 / 6)
    assert np.isnan(st.binary_metrics([0, 0, 0], [0, 1, 0]).sensitivity.value)  # no positives: undefined, not 0


def test_mcnemar_uses_the_discordant_pairs_exactly():
    truth = np.ones(20, bool)
    reader = np.r_[np.ones(12, bool), np.zeros(8, bool)]  # right on 0-11
    model = np.r_[np.ones(11, bool), np.zeros(1, bool), np.ones(7, bool), np.zeros(1, bool)]
    r = st.mcnemar_correct(truth, reader, model)
    assert (r.both_correct, r.only_1_correct, r.only_2_correct, r.both_wrong) == (11, 1, 7, 1)
    assert r.method == "exact binomial"
    assert r.p == pytest.approx(binomtest(1, 8, 0.5).pvalue, rel=1e-12)  # 2 * 9/256


def test_cohen_kappa_matches_sas_and_the_textbook_example():
    """SAS PROC FREQ AGREE example as quoted in statsmodels' test suite: table
    [[0,4,1],[0,8,0],[0,1,5]] -> kappa 0.4842, ASE 0.1380, 95% CI 0.2137-0.7547 (tolerance 5e-5).
    Cohen's kappa worked example (Wikipedia 'Cohen's kappa': 50 proposals, yes/yes 20, yes/no 5,
    no/yes 10, no/no 15): kappa = 0.4 exactly."""
    r = st.cohen_kappa_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    assert (r.kappa, r.se, r.lo, r.hi) == pytest.approx((0.4842, 0.1380, 0.2137, 0.7547), abs=5e-5)
    a = np.r_[np.ones(25, bool), np.zeros(25, bool)]
    b = np.r_[np.ones(20, bool), np.zeros(5, bool), np.ones(10, bool), np.zeros(15, bool)]
    k = st.cohen_kappa(a, b)
    assert k.kappa == pytest.approx(0.4, abs=1e-12) and k.lo < 0.4 < k.hi
    assert np.isnan(st.cohen_kappa(np.ones(5, bool), np.ones(5, bool)).kappa)  # one category only


def test_fleiss_kappa_matches_the_worked_example():
    """Fleiss' kappa worked example (Wikipedia 'Fleiss' kappa', 10 subjects, 14 raters, 5 categories):
    kappa = 0.210 (3 decimals). The bootstrap CI covers the estimate and is reproducible."""
    counts = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                       [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    ratings = np.array([np.repeat(np.arange(5), row) for row in counts])
    r = st.fleiss_kappa_ci(ratings, n_boot=500)
    assert r.kappa == pytest.approx(0.210, abs=5e-4)
    assert r.lo < r.kappa < r.hi
    assert st.fleiss_kappa_ci(ratings, n_boot=500) == r


def test_delong_refuses_too_few_cases():
    with pytest.raises(ValueError, match="2 positive"):
        st.delong_covariance([1, 0, 0], [0.3, 0.2, 0.1])
    assert np.isnan(st.auc_delong([1, 0, 0], [0.3, 0.2, 0.1]).auc)


def test_vectorised_bootstrap_kappa_equals_statsmodels():
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    rng = np.random.default_rng(4)
    tables = np.array([aggregate_raters(rng.integers(0, 3, (25, 4)), n_cat=3)[0] for _ in range(20)])
    np.testing.assert_allclose(st._fleiss_many(tables), [fleiss_kappa(t) for t in tables], rtol=1e-12)
