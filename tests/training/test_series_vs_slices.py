"""training.series_vs_slices: series labels (unknown kept unknown) and the side-by-side table."""

from __future__ import annotations

import numpy as np

from training.series_vs_slices import series_label, table


def test_series_label_is_positive_on_any_slice_and_unknown_only_without_one():
    lab = np.array([[0, 0, -1, 0, 0, 0], [1, 0, -1, -1, 0, 0], [0, 0, 0, 1, 0, 0]], np.float32)
    assert series_label(lab).tolist() == [1, 0, -1, 1, 0, 0]


def test_table_scores_the_bilstm_and_the_cnn_maximum_at_their_own_thresholds():
    y = np.zeros((4, 6), np.float32)
    y[:2, [0, 5]] = 1
    bil = np.tile(np.array([[0.9], [0.3], [0.2], [0.1]], np.float32), (1, 6))
    cnn = np.tile(np.array([[0.9], [0.8], [0.6], [0.1]], np.float32), (1, 6))
    t = table(y, bil, cnn, {"subdural": 0.75}, {"subdural": 0.5})["subdural"]
    assert t["positives"] == 2 and t["n"] == 4
    assert t["bilstm"]["auc"] == 1.0 and t["bilstm"]["sensitivity"] == 0.5  # 0.3 misses the series threshold
    assert t["cnn_max"]["sensitivity"] == 1.0 and t["cnn_max"]["specificity"] == 0.5  # 0.6 is a false call at 0.5


def test_the_pooled_extra_axial_set_holds_every_insert_and_each_clean_series_once():
    from types import SimpleNamespace

    from training.series_vs_slices import pooled_extra_axial

    clean = [SimpleNamespace(key=k) for k in ("a", "b")]
    single = clean + [SimpleNamespace(key=f"{c.key}+{kind}0") for c in clean for kind in ("subdural", "epidural")]
    both = clean + [SimpleNamespace(key=f"{c.key}+both{k}") for c in clean for k in range(2)]
    keys = [s.key for s in pooled_extra_axial(single, both)]
    assert len(keys) == len(set(keys)) == 2 + 4 + 4
    assert keys.count("a") == 1 and {"a+both1", "b+subdural0"} <= set(keys)


def test_stability_reads_each_series_at_five_positions_with_the_bundled_models(tmp_path):
    """Real ONNX Runtime sessions of the bundled CNN and BiLSTM on a small generated series, read as they come (the
    card's head centring taken out: centred, the five readings are one, the next tests)."""
    from tests.core.tasks.test_ct_centring import copy_of_bundled_models
    from core.imaging.pseudo_hu import hu_to_window8
    from core.models.registry import ModelRegistry
    from core.tasks.ct import CTScorer
    from tests.training.ct_data.test_insert import _slice
    from training.ct_data.phantom import SliceSeries
    from training.datasets.rsna import ICH_LABELS
    from training.series_outputs import series_scores
    from training.series_vs_slices import stability

    img = hu_to_window8(np.stack([_slice(ventricle_px=6)] * 3))
    s = SliceSeries("ctich_900", "ct-ich", img, np.zeros((3, 6), np.float32), np.zeros(3, np.int8), None, patient="ctich_900")
    scorer = CTScorer(ModelRegistry([copy_of_bundled_models(tmp_path, centring=False)]))
    thr = {lab: 0.5 for lab in ICH_LABELS}
    out = stability([s], 8, scorer, None, thr)
    assert out["n_series"] == 1 and out["shift_px"] == 8
    from training.series_jitter import stability_positions

    five = series_scores(stability_positions(s, 8), scorer)[1]  # [5, 6]: the readings stability() summarises
    for j, lab in enumerate(ICH_LABELS):
        r = out[lab]
        assert abs(r["median_range"] - (five[:, j].max() - five[:, j].min())) < 1e-6  # one series: median = its range
        assert r["flip_rate"] == float(len(set(five[:, j] >= 0.5)) == 2)
    assert any(out[lab]["median_range"] > 0 for lab in ICH_LABELS)  # the shifted readings are other readings


def test_centred_stability_reads_every_shifted_copy_as_the_same_images():
    """With --centre the five positions are re-centred after their shift: a head well inside the grid comes back to
    the same pixels, so the real models' series probabilities cannot move (what a centring front end would buy)."""
    from core.imaging.pseudo_hu import hu_to_window8
    from core.models.registry import ModelRegistry
    from core.tasks.ct import CTScorer
    from tests.training.ct_data.test_insert import _slice
    from training.ct_data.phantom import SliceSeries
    from training.datasets.rsna import ICH_LABELS
    from training.head_centre import centred
    from training.series_jitter import stability_positions
    from training.series_vs_slices import stability

    img = hu_to_window8(np.stack([_slice(ventricle_px=6)] * 3))
    s = SliceSeries("ctich_901", "ct-ich", img, np.zeros((3, 6), np.float32), np.zeros(3, np.int8), None, patient="ctich_901")
    copies = [centred(p).img for p in stability_positions(s, 8)]
    assert all(np.array_equal(copies[0], c) for c in copies[1:])  # the head does not touch the border: nothing cut
    out = stability([s], 8, CTScorer(ModelRegistry()), None, {lab: 0.5 for lab in ICH_LABELS}, centre=True)
    assert out["centred"] is True
    for lab in ICH_LABELS:
        assert out[lab]["median_range"] == 0.0 and out[lab]["flip_rate"] == 0.0


def test_a_centring_series_model_is_read_centred_by_the_training_harness(tmp_path):
    """training.series_outputs reads a series as the app would for the scorer's models: with a card that asks for
    centring, five shifted copies of a series give the same series probabilities, as CTScorer would."""
    from core.imaging.pseudo_hu import hu_to_window8
    from core.models.registry import ModelRegistry
    from core.tasks.ct import CTScorer
    from tests.core.tasks.test_ct_centring import copy_of_bundled_models
    from tests.training.ct_data.test_insert import _slice
    from training.ct_data.phantom import SliceSeries
    from training.series_jitter import stability_positions
    from training.series_outputs import series_scores

    img = hu_to_window8(np.stack([_slice(ventricle_px=6)] * 3))
    s = SliceSeries("ctich_902", "ct-ich", img, np.zeros((3, 6), np.float32), np.zeros(3, np.int8), None, patient="ctich_902")
    scorer = CTScorer(ModelRegistry([copy_of_bundled_models(tmp_path / "c")]))
    five = series_scores(stability_positions(s, 8), scorer)[1]
    assert np.allclose(five, five[0], atol=1e-6)
    plain_models = CTScorer(ModelRegistry([copy_of_bundled_models(tmp_path / "p", centring=False)]))
    plain = series_scores(stability_positions(s, 8), plain_models)[1]
    assert not np.allclose(plain, plain[0], atol=1e-6)  # without the card key they are read as they come
