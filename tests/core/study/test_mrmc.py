"""ORH analysis against the published Van Dyke et al. (1993) result and independent computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from core.study.mrmc import _case_covariance, orh, orh_model_vs_readers

DATA = Path(__file__).parent / "data"


def vandyke() -> pd.DataFrame:
    """Van Dyke ratings as a long frame: reader, case_id, modality ('0' / '1'), truth, score."""
    rows = []
    for line in (DATA / "vandyke_ratings.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        reader, modality, truth, digits = line.split()
        rows += [dict(reader=reader, modality=modality, case_id=f"{'A' if truth == '1' else 'N'}{i + 1:03d}",
                      truth=truth == "1", score=float(d)) for i, d in enumerate(digits)]
    df = pd.DataFrame(rows)
    assert len(df) == 5 * 2 * 114 and df.drop_duplicates("case_id").truth.sum() == 45
    return df


def test_orh_reproduces_or_dbm_mrmc_on_van_dyke():
    """Published: OR-DBM MRMC 2.51 (Schartz, Hillis, Pesce, Berbaum), trapezoidal AUC, jackknife
    covariance, Van Dyke data (5 readers, 114 cases: 69 normal, 45 abnormal, 2 modalities); the output
    file is shipped in RJafroc as inst/IowaResults/VanDyke_trap_area_jackknife_anova.txt (Hillis 2007
    Stat Med 26:596 discusses the same analysis). Treatment '1 - 2' there is modality 0 minus 1.
    Tolerances: half a unit in the last printed decimal."""
    res = orh(vandyke(), modalities=("1", "0"), cov_method="jackknife")  # diff = modality 0 - modality 1
    published_auc = {("0", "0"): 0.91964573, ("0", "1"): 0.94782609, ("1", "0"): 0.85877617,
                     ("1", "1"): 0.90531401, ("2", "0"): 0.90386473, ("2", "1"): 0.92173913,
                     ("3", "0"): 0.97310789, ("3", "1"): 0.99935588, ("4", "0"): 0.82979066,
                     ("4", "1"): 0.92995169}
    for (reader, mod), auc in published_auc.items():
        assert res.auc.loc[reader, mod] == pytest.approx(auc, abs=5e-9)
    assert res.mean_auc["0"] == pytest.approx(0.89703704, abs=5e-9)
    assert res.mean_auc["1"] == pytest.approx(0.94083736, abs=5e-9)
    assert res.diff == pytest.approx(-0.04380032, abs=5e-9)
    assert (res.ms_t, res.ms_tr) == pytest.approx((0.00479617, 0.00055103), abs=5e-9)
    assert (res.var_r, res.var_tr) == pytest.approx((0.00153500, 0.00020040), abs=5e-9)
    assert (res.cov1, res.cov2, res.cov3, res.var_error) == pytest.approx(
        (0.00034661, 0.00034407, 0.00023903, 0.00080229), abs=5e-9)
    assert res.f == pytest.approx(4.46, abs=5e-3)
    assert res.ddf == pytest.approx(15.26, abs=5e-3)
    assert res.p == pytest.approx(0.0517, abs=5e-5)
    assert res.se_diff == pytest.approx(0.02075, abs=5e-6)
    assert (res.lo, res.hi) == pytest.approx((-0.08796, 0.00036), abs=5e-6)
    single = {s.modality: s for s in res.single}  # part (c): single-treatment CIs
    for mod, (se, df, lo, hi, cov2) in {"0": (0.03317360, 12.74, 0.82522360, 0.96885048, 0.00048396),
                                        "1": (0.02156637, 12.71, 0.89413783, 0.98753689, 0.00020419)}.items():
        s = single[mod]
        assert (s.se, s.lo, s.hi, s.cov2) == pytest.approx((se, lo, hi, cov2), abs=5e-8)
        assert s.df == pytest.approx(df, abs=5e-3)


def test_delong_covariance_gives_a_close_orh_result_on_van_dyke():
    """No published DeLong-covariance figure was found for these data; the DeLong estimates (validated
    against pROC in test_stats) must land close to the jackknife ones, as Hillis et al. report."""
    jk = orh(vandyke(), ("1", "0"), "jackknife")
    dl = orh(vandyke(), ("1", "0"), "delong")
    assert dl.diff == jk.diff
    assert dl.f == pytest.approx(jk.f, rel=0.02) and dl.p == pytest.approx(jk.p, rel=0.02)
    assert dl.var_error == pytest.approx(jk.var_error, rel=0.03)


def test_jackknife_closed_form_equals_leaving_each_case_out():
    rng = np.random.default_rng(5)
    y = rng.random(40) < 0.4
    s = np.vstack([rng.integers(1, 6, 40) + y, rng.normal(y, 1.0)])
    _, cov = _case_covariance(y, s, "jackknife")
    loo = []
    for k in range(40):
        keep = np.arange(40) != k
        loo.append([mannwhitneyu(row[keep][y[keep]], row[keep][~y[keep]]).statistic / (y[keep].sum() * (~y[keep]).sum())
                    for row in s])
    loo = np.array(loo)
    dev = loo - loo.mean(axis=0)
    np.testing.assert_allclose(cov, 39 / 40 * dev.T @ dev, rtol=1e-10)


def test_identical_arms_give_no_difference():
    df = vandyke()
    same = pd.concat([df[df.modality == "0"], df[df.modality == "0"].assign(modality="x")])
    res = orh(same, ("0", "x"))
    assert res.diff == 0 and res.f == 0 and res.p == 1.0


def test_model_vs_readers_difference_and_reader_independence():
    """Model minus reader-average AUC: the model's AUC is computed independently (Mann-Whitney)."""
    df = vandyke()
    reads = df[df.modality == "0"]
    truth = reads.drop_duplicates("case_id").set_index("case_id").truth
    rng = np.random.default_rng(2)
    model = pd.DataFrame({"case_id": truth.index, "probability": np.clip(rng.normal(truth.to_numpy() * 0.5 + 0.25, 0.2), 0, 1)})
    res = orh_model_vs_readers(reads, model)
    p = model.set_index("case_id").probability.reindex(truth.index)
    model_auc = mannwhitneyu(p[truth], p[~truth]).statistic / (truth.sum() * (~truth).sum())
    assert res.mean_auc["model"] == pytest.approx(model_auc, rel=1e-12)
    assert res.diff == pytest.approx(model_auc - 0.89703704, abs=5e-9)
    assert res.lo < res.diff < res.hi and 0 <= res.p <= 1


def test_orh_refuses_a_single_reader():
    df = vandyke()
    with pytest.raises(ValueError, match="2 readers"):
        orh(df[df.reader == "0"], ("0", "1"))


def test_orh_holds_its_size_under_the_null():
    """Monte Carlo: 300 simulated studies (4 readers, 50 cases, case, modality x case and reader effects,
    the two modalities equal in distribution); ORH at alpha 0.05 must reject about 5 % of them.
    Bounds 2-9 % (about 3 binomial SDs); seeded, so the test is deterministic."""
    rng = np.random.default_rng(11)
    r, n, sims = 4, 50, 300
    truth = np.r_[np.ones(n // 2, bool), np.zeros(n // 2, bool)]
    base = pd.DataFrame({"reader": np.repeat([str(j) for j in range(r)], n), "case_id": np.tile(np.arange(n).astype(str), r),
                         "truth": np.tile(truth, r)})
    rejected = 0
    for _ in range(sims):
        case, reader = rng.normal(0, 0.6, n), rng.normal(0, 0.3, r)
        frames = []
        for m in ("A", "B"):
            mc = rng.normal(0, 0.4, n)
            x = (1.2 * truth + case + mc)[None, :] + reader[:, None] * truth + rng.normal(0, 0.8, (r, n))
            frames.append(base.assign(modality=m, score=x.ravel()))
        rejected += orh(pd.concat(frames, ignore_index=True), ("A", "B")).p < 0.05
    assert 0.02 <= rejected / sims <= 0.09
