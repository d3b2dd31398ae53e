"""training.ct_post on small generated data. Its calibration, thresholds and OOD guard set every number the
shipped CT cards carry, and until now only the full training run exercised them. Each test checks a computed
property (a miscalibration is recovered, separable scores are separated, a shifted embedding scores higher),
and one tiny run of post_training checks the ONNX files and cards it writes."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from training.ct_data.phantom import SliceSeries
from training.ct_post import (PLATT_BOUNDS, TEMPERATURE_GRID, OODExport, OODWithOrientation, ece, fit_ood, fit_orientation,
                              fit_orientation_guard, fit_platt, fit_temperature_softmax, series_label, series_loss, turned_views,
                              youden_series_thresholds, youden_threshold)
from training.datasets.rsna import ICH_LABELS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _miscalibrated(seed: int, n: int = 4000, a: float = 1 / 2.5, b: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Logits z of an overconfident model whose true P(y=1) is sigmoid(a * z + b), and labels drawn from it."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 4.0, n)
    y = (rng.random(n) < _sigmoid(a * z + b)).astype(np.float32)
    return z, y


# --- calibration ---------------------------------------------------------------------------------------------


def test_platt_recovers_a_known_miscalibration():
    z, y = _miscalibrated(0)  # true T = 2.5, i.e. Platt scale 0.4, bias 0
    fit = fit_platt(z, y)
    a, b = fit.params
    assert fit.fitted and a == pytest.approx(0.4, abs=0.04) and abs(b) < 0.15
    # a prevalence shift too: a temperature alone cannot express it, Platt's bias does
    z2, y2 = _miscalibrated(1, a=0.4, b=-1.0)
    a2, b2 = fit_platt(z2, y2).params
    assert a2 == pytest.approx(0.4, abs=0.04) and b2 == pytest.approx(-1.0, abs=0.15)


def test_calibration_lowers_the_calibration_error():
    z, y = _miscalibrated(2)
    a, b = fit_platt(z, y).params
    before, after = ece(y, _sigmoid(z)), ece(y, _sigmoid(a * z + b))
    assert after < 0.03 < before


def test_calibration_ignores_unknown_labels():
    z, y = _miscalibrated(3, n=2000)
    # unknown slices with logits that would pull any fit far off if they were read as negatives
    z_all = np.r_[z, np.full(3000, 8.0)]
    y_all = np.r_[y, np.full(3000, -1.0, np.float32)]
    assert fit_platt(z_all, y_all).params == pytest.approx(fit_platt(z, y).params, abs=1e-6)


def test_too_few_known_labels_or_one_class_keep_the_identity_and_say_so():
    """With < 20 known labels or a single class there is nothing to fit: the logits are kept and the status says why
    (the cards carry it), never a silent 'fitted'."""
    z, y = _miscalibrated(4, n=19)
    y[:2], y[2:4] = 0, 1  # both classes present, but only 19 known
    unknown = np.full(500, -1.0, np.float32)
    z19, y19 = np.r_[z, np.zeros(500)], np.r_[y, unknown]
    fit = fit_platt(z19, y19)
    assert fit.params == (1.0, 0.0) and not fit.fitted and "19 known labels" in fit.status
    one_class = np.zeros(1000, np.float32)
    z1 = np.random.default_rng(5).normal(0, 4, 1000)
    fit1 = fit_platt(z1, one_class)
    assert fit1.params == (1.0, 0.0) and fit1.status == "identity: all 1000 known labels are 0"
    # the limit is exactly 20: one more known label and it is fitted (here logits with no information, so the
    # scale runs down to its bound, which the status says)
    z20 = np.r_[np.linspace(-10, 10, 20), np.zeros(500)]
    y20 = np.r_[np.array([0, 1] * 10, np.float32), unknown]  # labels unrelated to the sign of the logit
    fit20 = fit_platt(z20, y20)
    assert fit20.params[0] == pytest.approx(PLATT_BOUNDS[0][0]) and fit20.status.startswith("at bound: scale")


def test_platt_says_when_it_stops_at_its_bound():
    """Labels that contradict the logits want a negative scale; the search stops at its lower bound and says so."""
    z = np.linspace(-5, 5, 400)
    y = (z < 0).astype(np.float32)  # perfectly anti-correlated
    fit = fit_platt(z, y)
    assert fit.params[0] == pytest.approx(PLATT_BOUNDS[0][0])
    assert fit.status.startswith("at bound: scale 0.05")


def test_bg_temperature_fits_and_says_when_it_cannot():
    rng = np.random.default_rng(8)
    cls = rng.integers(0, 3, 3000)
    true_logits = rng.normal(0, 1, (3000, 3))
    true_logits[np.arange(3000), cls] += 2.0
    # labels drawn from softmax(true_logits); the model reports 2.5x overconfident logits
    p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    fit = fit_temperature_softmax(true_logits * 2.5, y)
    assert fit.fitted and fit.params[0] == pytest.approx(2.5, rel=0.1)
    # one class only: overconfidence always lowers the NLL, so a search would run to its bound; the identity is kept
    one = fit_temperature_softmax(true_logits, np.zeros(3000, int))
    assert one.params == (1.0,) and one.status == "identity: all 3000 known labels are 0"
    assert not fit_temperature_softmax(true_logits[:19], y[:19]).fitted
    # labels unrelated to the logits: the NLL falls as the temperature grows, up to the grid's end
    hot = fit_temperature_softmax(true_logits * 10, rng.integers(0, 3, 3000))
    assert hot.params[0] == pytest.approx(TEMPERATURE_GRID[-1]) and hot.status.startswith("at bound: temperature")


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(6)
    p = rng.random(200_000)
    y = (rng.random(len(p)) < p).astype(np.float32)
    assert ece(y, p) < 0.01
    y_half = (rng.random(20_000) < 0.5).astype(np.float32)  # a coin, predicted at 0.97
    p_conf = np.full(len(y_half), 0.97)
    assert ece(y_half, p_conf) == pytest.approx(0.97 - y_half.mean(), abs=1e-6)
    assert ece(y_half, p_conf) > 0.4


def test_ece_ignores_unknown_labels():
    rng = np.random.default_rng(7)
    p = rng.random(5000)
    y = (rng.random(len(p)) < p).astype(np.float32)
    y_all, p_all = np.r_[y, np.full(5000, -1.0, np.float32)], np.r_[p, np.full(5000, 0.99)]
    assert ece(y_all, p_all) == pytest.approx(ece(y, p), abs=1e-12)
    assert np.isnan(ece(np.full(10, -1.0), np.full(10, 0.5)))


# --- thresholds ----------------------------------------------------------------------------------------------


def _se_sp(y: np.ndarray, p: np.ndarray, t: float) -> tuple[float, float]:
    return float(((p >= t) & (y == 1)).sum() / (y == 1).sum()), float(((p < t) & (y == 0)).sum() / (y == 0).sum())


def test_youden_separates_separable_scores():
    rng = np.random.default_rng(8)
    pos, neg = np.round(rng.uniform(0.55, 0.95, 40), 3), np.round(rng.uniform(0.05, 0.45, 60), 3)
    y, p = np.r_[np.ones(40), np.zeros(60), np.full(30, -1)], np.r_[pos, neg, rng.random(30)]  # unknowns ignored
    t = youden_threshold(y, p)
    assert neg.max() < t <= pos.min()
    assert _se_sp(y, p, t) == (1.0, 1.0)


def test_youden_maximises_j_on_overlapping_scores():
    rng = np.random.default_rng(9)
    pos, neg = np.round(rng.beta(4, 2, 300), 3), np.round(rng.beta(2, 4, 300), 3)
    y, p = np.r_[np.ones(300), np.zeros(300)], np.r_[pos, neg]
    best = max(sum(_se_sp(y, p, t)) - 1 for t in np.unique(p))
    assert sum(_se_sp(y, p, youden_threshold(y, p))) - 1 == pytest.approx(best, abs=1e-12)


def test_youden_separates_separable_scores_off_the_rounding_grid():
    """ct_post's own search once tried rounded scores as cuts: a positive at 0.8006 fell below its candidate 0.801."""
    y, p = np.array([1, 1, 0, 0]), np.array([0.8006, 0.9, 0.1, 0.2])
    assert _se_sp(y, p, youden_threshold(y, p)) == (1.0, 1.0)


def test_youden_of_one_class_is_one_half():
    p = np.random.default_rng(10).random(50)
    assert youden_threshold(np.ones(50), p) == 0.5
    assert youden_threshold(np.r_[np.zeros(50), np.full(5, -1)], np.r_[p, 0.9, 0.8, 0.7, 0.6, 0.95]) == 0.5


def test_series_thresholds_are_youdens_and_never_below_one_half():
    rng = np.random.default_rng(11)
    n = 40
    y = (rng.random((n, 6)) < 0.4).astype(np.float32)
    p = np.clip(np.round(0.35 * y + rng.uniform(0, 0.6, (n, 6)), 3), 0, 1)  # overlapping, mostly below 0.5
    p[:, 0] = np.round(np.where(y[:, 0] == 1, rng.uniform(0.7, 0.9, n), rng.uniform(0.1, 0.6, n)), 3)  # separable above 0.5
    t = youden_series_thresholds(y, p)
    assert list(t) == list(ICH_LABELS)
    assert all(v >= 0.5 for v in t.values())
    for j, lab in enumerate(ICH_LABELS):
        assert t[lab] == max(0.5, youden_threshold(y[:, j], p[:, j]))
    assert _se_sp(y[:, 0], p[:, 0], t["any"]) == (1.0, 1.0)
    assert any(youden_threshold(y[:, j], p[:, j]) < 0.5 for j in range(1, 6))  # the floor did act somewhere


def test_series_label_positive_negative_or_unknown():
    # 4 slices; per column: a positive among unknowns, all known negative, unknowns and negatives, all unknown,
    # all known with a positive, all known negative again
    lab = np.array([
        [-1, 0, -1, -1, 0, 0],
        [1, 0, 0, -1, 1, 0],
        [0, 0, 0, -1, 0, 0],
        [-1, 0, 0, -1, 0, 0],
    ], np.float32)
    assert series_label(lab).tolist() == [1, 0, -1, -1, 1, 0]


def test_series_loss_reads_series_labels_as_validation_does():
    """A column of negatives and unknowns is an unknown series label (series_label): the series output of that
    column must not move the loss, while a known negative column does."""
    y = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, -1, 0, 0]], np.float32)  # column 3 unknown
    w = torch.ones(6)
    slice_logits = torch.zeros(3, 6)

    def loss_with(col: int, value: float) -> float:
        ser = torch.zeros(6)
        ser[col] = value
        return float(series_loss(slice_logits, ser, y, w))

    assert loss_with(3, 8.0) == pytest.approx(loss_with(3, -8.0), abs=1e-6)  # unknown: ignored
    assert loss_with(2, 8.0) > loss_with(2, -8.0) + 1.0  # known negative: a confident positive costs


def test_orientation_guard_without_a_head_slice_says_why(tmp_path):
    empty = SliceSeries("blank", "ct-ich", np.zeros((3, 32, 32), np.uint8), np.zeros((3, 6), np.float32), np.zeros(3, np.int8),
                        None, patient="blank")
    with pytest.raises(ValueError, match="none of 3 slices of 1 series has tissue"):
        fit_orientation_guard(torch.nn.Identity(), [empty], [empty], {}, seed=0)


# --- out-of-distribution guard -------------------------------------------------------------------------------


def _embeddings(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    """Non-negative, anisotropic, correlated features like a GAP embedding."""
    mix = np.random.default_rng(0).normal(size=(dim, dim)) * np.linspace(2.0, 0.05, dim)[:, None]
    return np.abs(rng.normal(size=(n, dim)) @ mix + 3.0)


def test_ood_scores_shifted_embeddings_above_training_like_ones():
    rng = np.random.default_rng(12)
    train, val, held_out = _embeddings(rng, 3000), _embeddings(rng, 600), _embeddings(rng, 600)
    ood = fit_ood(train, val)
    score = lambda e: ood(torch.from_numpy(e.astype(np.float32))).numpy()  # noqa: E731
    s_held = score(held_out)
    # along the leading principal direction (the Mahalanobis part), by 10 of its standard deviations
    c = train - train.mean(axis=0)
    lead = np.linalg.svd(c, full_matrices=False)[2][0]
    s_lead = score(held_out + 10 * np.sqrt((c @ lead).var()) * lead)
    # orthogonal to the 48 kept components (the residual part): the residual is one term of k + 1 = 49, so a
    # shift there must carry many times the mean training residual energy (30x: 13% flagged, 80x: all)
    comps = ood.comps.numpy().astype(np.float64)
    off = rng.normal(size=train.shape[1])
    off -= comps.T @ (comps @ off)
    s_resid = score(held_out + np.sqrt(100 * ood.res_var) * off / np.linalg.norm(off))
    s_every = score(held_out + 4 * train.std(axis=0))  # every feature shifted
    assert np.mean(s_held > 1) < 0.05
    for shifted in (s_lead, s_resid, s_every):
        assert np.mean(shifted > 1) > 0.95
        assert np.median(shifted) > 1.4 * np.median(s_held)


def test_ood_scale_is_the_99th_percentile_of_the_validation_distance():
    """'> 1 means outside': the distance is divided by its 99th percentile on the validation embeddings."""
    rng = np.random.default_rng(13)
    train, val = _embeddings(rng, 2000), _embeddings(rng, 800)
    ood = fit_ood(train, val)
    with torch.no_grad():
        s_val = ood(torch.from_numpy(val.astype(np.float32))).numpy()
        raw = OODExport(ood.mean.numpy(), ood.comps.numpy(), 1 / ood.inv_var.numpy(), ood.res_var, 1.0)
        d_val = raw(torch.from_numpy(val.astype(np.float32))).numpy()
    assert np.mean(s_val <= 1.0 + 1e-6) >= 0.99
    assert np.quantile(s_val, 0.99) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(s_val * ood.scale, d_val, rtol=1e-5)
    assert ood.k == 48 and np.median(s_val) < 0.8


# --- orientation guard ---------------------------------------------------------------------------------------


def test_turned_views_are_the_three_turns_k_major():
    sq = np.random.default_rng(15).integers(0, 256, (3, 6, 6), dtype=np.uint8)
    t = turned_views(sq)
    assert t.shape == (9, 6, 6) and t.dtype == np.uint8 and t.flags.c_contiguous
    n = len(sq)
    np.testing.assert_array_equal(t[n:2 * n], sq[:, ::-1, ::-1])  # the middle block is the half turn
    np.testing.assert_array_equal(np.rot90(t[:n], k=1, axes=(1, 2)), t[n:2 * n])  # quarter turns in one direction
    np.testing.assert_array_equal(np.rot90(t[n:2 * n], k=1, axes=(1, 2)), t[2 * n:])
    np.testing.assert_array_equal(np.rot90(t[2 * n:], k=1, axes=(1, 2)), sq)  # four quarter turns: back upright
    assert not any(np.array_equal(t[k * n], sq[0]) for k in range(3))


def test_orientation_regression_separates_held_out_embeddings_and_folds_exactly():
    rng = np.random.default_rng(16)
    ref = _embeddings(np.random.default_rng(99), 2000)
    c = ref - ref.mean(axis=0)
    quiet = np.linalg.svd(c, full_matrices=False)[2][-1]
    shift = 5 * np.sqrt((c @ quiet).var()) * quiet  # turning moves the embedding along one quiet direction
    up, turned = _embeddings(rng, 400), _embeddings(rng, 1200) + shift
    mean, std, w, b = fit_orientation(up, turned)
    up_te, turned_te = _embeddings(rng, 300), _embeddings(rng, 300) + shift
    p = lambda e: _sigmoid(((e - mean) / std) @ w + b)  # noqa: E731
    from core.study.stats import auc_delong

    auc = auc_delong(np.r_[np.zeros(300), np.ones(300)].astype(int), np.r_[p(up_te), p(turned_te)]).auc
    assert auc > 0.99
    assert np.mean(p(up_te) > 0.5) < 0.1 and np.mean(p(turned_te) > 0.5) > 0.9  # 'balanced': 1:3 classes, both sides found
    # OODWithOrientation folds the standardisation into its weights: the same probability
    ood = fit_ood(_embeddings(rng, 500), _embeddings(rng, 200))
    guard = OODWithOrientation(ood, mean, std, w, b).eval()
    e = np.r_[up_te[:20], turned_te[:20]]
    with torch.no_grad():
        score, prob = guard(torch.from_numpy(e.astype(np.float32)))
        np.testing.assert_allclose(score.numpy(), ood(torch.from_numpy(e.astype(np.float32))).numpy(), rtol=1e-6)
    np.testing.assert_allclose(prob.numpy(), p(e), atol=1e-4)


# --- post_training end to end ------------------------------------------------------------------------------


def _head_slices(rng: np.random.Generator, z: int, size: int = 256) -> np.ndarray:
    """uint8 brain-window slices: an upright oval head (brain grey, skull white) with noise, some with a bright blob."""
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((z, size, size), np.uint8)
    for i in range(z):
        a, b = size * rng.uniform(0.30, 0.36), size * rng.uniform(0.38, 0.44)  # taller than wide, anterior bump
        r = ((xx - size / 2) / a) ** 2 + ((yy - size / 2) / b) ** 2
        img = np.where(r < 1, 255, 0).astype(np.float32)
        brain = r < 0.85
        img[brain] = rng.normal(100, 12, brain.sum())
        img[(yy < size * 0.25) & brain] += 25  # frontal region brighter: the slice has an up
        if rng.random() < 0.5:
            cy, cx = rng.uniform(0.35, 0.65, 2) * size
            img[((yy - cy) ** 2 + (xx - cx) ** 2 < (size * 0.05) ** 2) & brain] = 200
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _tiny_series(rng: np.random.Generator, key: str, source: str, negative: bool, z: int = 10) -> SliceSeries:
    labels = (rng.random((z, 6)) < (0.0 if negative else 0.35)).astype(np.float32)
    labels[:, 0] = labels[:, 1:].max(axis=1)
    if source == "ct-ich":
        labels[rng.random(z) < 0.1, 3] = -1  # some unknown cells
    bg = np.zeros(z, np.int8)
    if source == "phantom" and rng.random() < 0.5:
        bg[z // 2:z // 2 + 2] = rng.integers(1, 3)
    return SliceSeries(key, source, _head_slices(rng, z), labels, bg, None, patient=key)


def test_post_training_writes_runnable_onnx_models_and_cards(tmp_path):
    """A width-8 ResNet-18 trunk, 10 tiny series (real-labelled and phantom, train and validation), one BiLSTM epoch."""
    import onnxruntime as ort

    from core.imaging.pseudo_hu import window8_to_hu
    from core.models.preprocess import ich_input
    from training.ct_post import N_ICH, post_training
    from training.nets.resnet import ResNet2D

    rng = np.random.default_rng(17)
    plan = [("ct-ich", "train")] * 3 + [("phantom", "train")] * 3 + [("ct-ich", "val")] * 2 + [("phantom", "val")] * 2
    series = [_tiny_series(rng, f"{src}_{i}", src, negative=i % 2 == 0) for i, (src, _) in enumerate(plan)]  # bleed-free and not
    series.append(_tiny_series(rng, "ct-ich_test", "ct-ich", negative=False))  # a test patient: never used
    splits = {s.patient: split for s, (_, split) in zip(series, plan)} | {"ct-ich_test": "test"}

    torch.manual_seed(0)
    net = ResNet2D(N_ICH + 3, width=8)
    net.train()  # BatchNorm statistics of these slices, as a trained trunk has
    with torch.no_grad():
        for s in series[:4]:
            net(torch.from_numpy(ich_input(window8_to_hu(s.img).hu)))
    net.eval()
    ck, out, cache = tmp_path / "checkpoints", tmp_path / "out", tmp_path / "cache"
    ck.mkdir()
    torch.save({"state_dict": net.state_dict()}, ck / "ct_trunk.pt")  # what load_trunks reads; keys the output cache
    args = argparse.Namespace(out=str(out), checkpoints=str(ck), cache=str(cache), seed=0, lstm_epochs=1, tta="none", members=None,
                              schedule=None, epochs=1, loc_weight=0.0, version="0.0-test", members_note="")
    summary = post_training(net, series, splits, args)

    assert len(list(cache.glob("post_outputs_*.npz"))) == 1
    assert {"ich_cnn.pt", "bg_laterality.pt", "ich_bilstm.pt"} <= {p.name for p in ck.iterdir()}
    cards = {}
    for name in ("ich_cnn", "bg_laterality", "ich_bilstm", "ich_ood"):
        assert (out / f"{name}.onnx").is_file()
        cards[name] = json.loads((out / f"{name}.json").read_text())
        assert cards[name]["name"] == name and cards[name]["file"] == f"{name}.onnx" and cards[name]["version"] == "0.0-test"
    data = cards["ich_cnn"]["training_data"]
    assert data["real_patients"]["ct-ich"] == {"train": 3, "val": 2, "test": 1}
    assert data["phantom_series"] == {"train": 3, "val": 2}

    sess = {name: ort.InferenceSession(str(out / f"{name}.onnx"), providers=["CPUExecutionProvider"]) for name in cards}
    # the CNN, at the card's input size, gives the trunk's logits under the per-label Platt calibration it reports
    n, ch, h, w = 3, *cards["ich_cnn"]["input"]["shape"][1:]
    img = series[-1].img[:n]
    x = ich_input(window8_to_hu(img).hu)
    assert x.shape == (n, ch, h, w)
    probs, emb, cam, _ = sess["ich_cnn"].run(None, {"image": x})
    with torch.no_grad():
        logits = net(torch.from_numpy(x))[0].numpy()
    calib = cards["ich_cnn"]["calibration"]  # the card's extra fields sit at its top level
    a = np.array([calib[lab]["scale"] for lab in ICH_LABELS])
    b = np.array([calib[lab]["bias"] for lab in ICH_LABELS])
    np.testing.assert_allclose(probs, _sigmoid(logits[:, :N_ICH] * a + b), atol=1e-4)
    assert cam.shape[:2] == (n, N_ICH) and (cam >= 0).all()
    bg_probs = sess["bg_laterality"].run(["probs"], {"image": x})[0]
    t_bg = cards["bg_laterality"]["calibration"]["temperature"]
    want = np.exp(logits[:, N_ICH:] / t_bg) / np.exp(logits[:, N_ICH:] / t_bg).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(bg_probs, want, atol=1e-4)
    # every calibration states how it came out (fitted, identity for want of labels, or at a search bound)
    statuses = [calib[lab]["status"] for lab in ICH_LABELS] + [cards["bg_laterality"]["calibration"]["status"]]
    statuses += list(cards["ich_bilstm"]["calibration"]["status"].values())
    assert len(statuses) == 13 and all(st == "fitted" or st.startswith(("identity: ", "at bound: ")) for st in statuses)

    emb_dim = cards["ich_bilstm"]["input"]["embedding"][2]
    assert emb.shape == (n, emb_dim) == (n, net.n_features) and cards["ich_ood"]["input"]["embedding"][1] == emb_dim
    slice_p, series_p = sess["ich_bilstm"].run(None, {"embedding": emb[None], "cnn_probs": probs[None]})
    assert slice_p.shape == (1, n, 6) and series_p.shape == (1, 6)
    np.testing.assert_allclose(series_p[0], slice_p[0].max(axis=0), atol=1e-6)  # a series is its most positive slice
    score, turned = sess["ich_ood"].run(None, {"embedding": emb})
    assert score.shape == turned.shape == (n,) and (score >= 0).all() and ((turned >= 0) & (turned <= 1)).all()

    # thresholds: series ones floored at 0.5, all below 1; the OOD card's own figure of its validation slices
    ser = cards["ich_bilstm"]["thresholds"]
    assert list(ser) == list(ICH_LABELS) and all(0.5 <= v < 1 for v in ser.values())
    assert ser == summary["series_thresholds"]
    assert all(0 <= v <= 1 for v in cards["ich_cnn"]["thresholds"].values())
    assert 0.5 <= cards["bg_laterality"]["thresholds"]["hemorrhage"] <= 1
    val_real = np.concatenate([s.img for s, (src, split) in zip(series, plan) if (src, split) == ("ct-ich", "val")])
    _, val_emb, _, _ = sess["ich_cnn"].run(None, {"image": ich_input(window8_to_hu(val_real).hu)})
    val_score = sess["ich_ood"].run(["ood_score"], {"embedding": val_emb})[0]
    assert np.mean(val_score > 1) == pytest.approx(cards["ich_ood"]["metrics"]["validation_slices_above_threshold"], abs=1e-9)


def test_cached_cnn_outputs_are_reused_only_for_the_same_images(tmp_path, monkeypatch):
    """The cache is keyed by the checkpoint's bytes; a series regenerated under the same key (a fixed generator) must be
    recomputed, not read stale, and an unchanged one must not be recomputed."""
    from dataclasses import replace

    import training.ct_post as ct_post
    from training.ct_post import N_ICH, cnn_outputs_cached, reader
    from training.nets.resnet import ResNet2D

    rng = np.random.default_rng(5)
    torch.manual_seed(0)
    net = ResNet2D(N_ICH + 3, width=8).eval()
    ckpt = tmp_path / "ct_trunk.pt"
    torch.save({"state_dict": net.state_dict()}, ckpt)
    a, b = _tiny_series(rng, "a", "ct-ich", True, z=3), _tiny_series(rng, "b", "phantom", False, z=3)
    calls: list[str] = []
    real_forward = ct_post.forward_all
    monkeypatch.setattr(ct_post, "forward_all", lambda n, img: (calls.append(img.tobytes()[:64]), real_forward(n, img))[1])
    first = cnn_outputs_cached(reader(net, "none"), [a, b], ckpt, tmp_path / "cache")
    assert len(calls) == 2
    again = cnn_outputs_cached(reader(net, "none"), [a, b], ckpt, tmp_path / "cache")
    assert len(calls) == 2 and all(np.array_equal(first[k][0], again[k][0]) for k in ("a", "b"))
    b2 = replace(b, img=_head_slices(rng, 3))  # the same key, other images
    third = cnn_outputs_cached(reader(net, "none"), [a, b2], ckpt, tmp_path / "cache")
    assert len(calls) == 3  # only b recomputed
    assert np.array_equal(third["a"][0], first["a"][0]) and not np.array_equal(third["b"][0], first["b"][0])
    fresh = real_forward(reader(net, "none"), b2.img)
    np.testing.assert_allclose(third["b"][0], fresh[0], atol=1e-5)
