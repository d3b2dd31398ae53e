"""training.bilstm_refit's pieces that need no real data: inserted series get keys of their own, and the series
thresholds are Youden's with ct_post's floor of 0.5."""

from __future__ import annotations

import numpy as np
import pytest

from training.bilstm_refit import youden_series_thresholds
from training.ct_data.phantom import SliceSeries
from training.datasets.rsna import ICH_LABELS
from training.series_vs_slices import only_inserted


def _series(patient: str) -> SliceSeries:
    return SliceSeries("ct_7", "ct-ich", np.zeros((2, 4, 4), np.uint8), np.zeros((2, 6), np.float32), np.zeros(2, np.int8), None, patient=patient)


def test_only_the_inserts_are_kept():
    out = only_inserted([_series("p7"), _series("p7+subdural"), _series("p7+epidural")])
    assert [s.patient for s in out] == ["p7+subdural", "p7+epidural"]


def test_inserted_series_are_keyed_apart_and_outputs_refuse_shared_keys():
    """cnn_outputs looks outputs up by key: two series under one key would silently share one series' outputs."""
    from core.imaging.pseudo_hu import hu_to_window8
    from tests.training.ct_data.test_insert import _slice
    from training.bilstm_refit import cnn_outputs
    from training.series_vs_slices import inserted_series

    img = hu_to_window8(np.stack([_slice(ventricle_px=6)] * 6))
    clean = SliceSeries("ctich_007", "ct-ich", img, np.zeros((6, 6), np.float32), np.zeros(6, np.int8), None, patient="ctich_007")
    out = inserted_series([clean], 2, seed=3)
    assert out[0] is clean and len(out) > 1
    assert len({s.key for s in out}) == len(out)
    assert all(s.patient in ("ctich_007+subdural", "ctich_007+epidural") for s in out[1:])
    with pytest.raises(ValueError, match="unique"):
        cnn_outputs(None, [clean, clean], None)
    both = [s for s in inserted_series([clean], 0, seed=3, both=2) if "+both" in s.patient]
    assert both and len({s.key for s in both}) == len(both)
    for s in both:  # an epidural and a subdural, each on some slice, "any" wherever either is
        edh, sdh = s.labels[:, ICH_LABELS.index("epidural")] > 0, s.labels[:, ICH_LABELS.index("subdural")] > 0
        assert edh.any() and sdh.any() and ((s.labels[:, 0] > 0) == (edh | sdh)).all()


def test_series_thresholds_separate_the_series_and_never_fall_below_one_half():
    y = np.zeros((6, 6), np.float32)
    y[:3, 0] = y[:3, 5] = 1
    p = np.full((6, 6), 0.1, np.float32)
    p[:, 0] = [0.9, 0.85, 0.8, 0.2, 0.1, 0.05]  # separable at 0.8
    p[:, 5] = [0.3, 0.25, 0.2, 0.1, 0.05, 0.01]  # separable at 0.2: floored to 0.5
    t = youden_series_thresholds(y, p)
    assert set(t) == set(ICH_LABELS)
    assert abs(t["any"] - 0.8) < 1e-6 and t["subdural"] == 0.5 and t["epidural"] == 0.5


def test_a_ceiling_caps_a_series_threshold_that_youden_put_at_the_lowest_positive():
    """Stop 24: with phantom positives only, Youden put SC's intraventricular cut at 0.998."""
    import pytest

    y = np.zeros((6, 6), np.float32)
    y[:3, 3] = 1
    p = np.full((6, 6), 0.1, np.float32)
    p[:, 3] = [0.9995, 0.999, 0.998, 0.6, 0.3, 0.1]
    assert abs(youden_series_thresholds(y, p)["intraventricular"] - 0.998) < 1e-6
    capped = youden_series_thresholds(y, p, ceiling=0.9)
    assert capped["intraventricular"] == 0.9 and capped["any"] == 0.5  # a label with no positive keeps the floor
    with pytest.raises(ValueError):
        youden_series_thresholds(y, p, ceiling=0.4)


def test_a_series_ensemble_averages_slices_calibrates_per_member_and_exports(tmp_path):
    import onnxruntime as ort
    import torch

    from training.export import export_series
    from training.nets.lstm import SeriesBiLSTM, SeriesEnsemble, SeriesExport

    torch.manual_seed(0)
    members = [SeriesBiLSTM(16, 4, hidden=8).eval() for _ in range(3)]
    for m in members:
        m.set_pca(torch.zeros(16), torch.randn(4, 16))
    ens = SeriesEnsemble(members).eval()
    emb, probs = torch.randn(1, 9, 16), torch.rand(1, 9, 6)
    with torch.no_grad():
        slices, series = ens(emb, probs)
        mean = torch.stack([m(emb, probs)[0] for m in members]).mean(dim=0)
        assert torch.allclose(slices, mean, atol=1e-6) and torch.allclose(series, mean.max(dim=1).values, atol=1e-6)
        a, b = torch.rand(6) + 0.5, torch.randn(6)
        for m in members:  # Platt on every member's head == Platt on the average
            m.head.weight.data *= a[:, None]
            m.head.bias.data = m.head.bias.data * a + b
        assert torch.allclose(ens(emb, probs)[0], mean * a + b, atol=1e-5)
        want = torch.sigmoid(ens(emb, probs)[1]).numpy()
    path = tmp_path / "ens.onnx"
    export_series(SeriesExport(ens), path, 16)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"embedding": emb.numpy(), "cnn_probs": probs.numpy()})[1]
    assert np.allclose(got, want, atol=1e-5)


def test_the_shared_series_steps_project_on_training_pca_and_fold_platt_into_every_head():
    """training.ct_post's BiLSTM steps, used by ct_post and bilstm_refit alike."""
    import torch

    from training.ct_post import fit_and_fold_platt, new_series_model, series_pca

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, 16)).astype(np.float32)
    mean, comps = series_pca(emb)
    assert comps.shape == (16, 16) and np.allclose(mean, emb.mean(axis=0))
    torch.manual_seed(0)
    models = [new_series_model((mean, comps)).eval() for _ in range(2)]
    x, p = torch.from_numpy(emb[None, :20]), torch.rand(1, 20, 6)
    with torch.no_grad():
        before = [m(x, p)[0][0].numpy() for m in models]
    y = (rng.random((20, 6)) < 0.5).astype(np.float32)
    is_real = np.arange(20) < 12
    platt = fit_and_fold_platt(models, before[0], y, is_real, {"any"})
    with torch.no_grad():
        for m, lo in zip(models, before):
            a, b = np.array([q.params[0] for q in platt]), np.array([q.params[1] for q in platt])
            assert np.allclose(m(x, p)[0][0].numpy(), lo * a + b, atol=1e-5)


def test_reading_sets_centre_every_series_and_each_jittered_copy_after_its_perturbation():
    """--centre: what the CNN reads is the head-centred series, and a shifted copy comes back to the centre too."""
    from tests.core.models.test_centring import _head_series
    from training.bilstm_refit import ReadingSets, reading_sets
    from training.head_centre import centre_offset

    def series(key, cx, cy):
        img = _head_series(cx, cy, n=4)
        return SliceSeries(key, "ct-ich", img, np.zeros((4, 6), np.float32), np.zeros(4, np.int8), None, patient=key)

    tr, va, ins_tr, ins_va = [series("t", 110, 140)], [series("v", 140, 120)], [series("i", 120, 120)], []
    plain, plain_copies = reading_sets(ReadingSets(tr, va, ins_tr, ins_va), jitter=1, centre=False)
    assert plain.train[0] is tr[0] and set(plain_copies) == {"t", "i"}  # copies of training sets only
    got, copies = reading_sets(ReadingSets(tr, va, ins_tr, ins_va), jitter=1, centre=True)
    ctr, cva, cins, cinsva = got.train, got.val, got.inserted_train, got.inserted_val
    assert [s.key for s in ctr + cva + cins] == ["t#c", "v#c", "i#c"] and cinsva == []
    for s in ctr + cva + cins:
        assert abs(centre_offset(s.img)[0]) <= 1 and abs(centre_offset(s.img)[1]) <= 1
    assert set(copies) == {"t#c", "i#c"}
    (shifted,) = copies["t#c"]  # JITTER_KINDS[0] is the shift
    assert shifted.key.endswith("~shift#c") and np.array_equal(shifted.img, ctr[0].img)
