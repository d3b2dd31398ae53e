"""training.series_jitter: the perturbed readings the series model trains on and the positions its stability is
read at."""

from __future__ import annotations

import numpy as np
import pytest

from training.ct_data.phantom import SliceSeries
from training.series_jitter import (JITTER_KINDS, MAX_SHIFT_PX, add_noise, decision_flips, jittered_copies, jpeg_export,
                                    series_ranges, shift_series, stability_positions)


def _series(key: str = "ctich_049") -> SliceSeries:
    rng = np.random.default_rng(1)
    img = np.zeros((3, 64, 64), np.uint8)
    img[:, 16:48, 16:48] = 120 + rng.integers(0, 20, (3, 32, 32)).astype(np.uint8)  # a smooth "head" in air
    mask = np.zeros(img.shape, bool)
    mask[1, 20:24, 30:34] = True
    return SliceSeries(key, "ct-ich", img, np.eye(3, 6, dtype=np.float32), np.zeros(3, np.int8), mask, patient="ctich_049")


def test_a_shift_moves_the_pixels_and_lets_air_in():
    img = np.arange(2 * 5 * 6, dtype=np.uint8).reshape(2, 5, 6)
    out = shift_series(img, 2, -1)
    assert np.array_equal(out[:, :4, 2:], img[:, 1:, :4])
    assert (out[:, :, :2] == 0).all() and (out[:, 4, :] == 0).all()
    assert np.array_equal(shift_series(img, 0, 0), img)
    assert not shift_series(img, 6, 0).any()


def test_noise_and_export_change_grey_levels_a_little_and_stay_8_bit():
    s = _series()
    noisy = add_noise(s.img, np.random.default_rng(0))
    head = (slice(None), slice(16, 48), slice(16, 48))  # inside the head: no clipping at 0
    assert noisy.dtype == np.uint8 and 1.0 < np.abs(noisy[head].astype(int) - s.img[head]).mean() < 3.0
    jpg = jpeg_export(s.img, 90)
    assert jpg.dtype == np.uint8 and jpg.shape == s.img.shape
    assert 0 < np.abs(jpg.astype(int) - s.img).mean() < 10


def test_copies_are_keyed_apart_repeat_per_key_and_keep_labels():
    s = _series()
    a, b = jittered_copies(s, 3), jittered_copies(s, 3)
    assert [c.key for c in a] == [f"ctich_049~{k}" for k in JITTER_KINDS]
    assert all(np.array_equal(x.img, y.img) for x, y in zip(a, b))  # the seed is fixed per series key
    other = jittered_copies(_series("ctich_050"), 1)[0]
    assert not np.array_equal(other.img, a[0].img)
    for c in a:
        assert np.array_equal(c.labels, s.labels) and np.array_equal(c.bg, s.bg)
        assert not np.array_equal(c.img, s.img)
    shifted = a[0]
    assert shifted.mask.sum() in (0, s.mask.sum())  # the mask moves with the image (or leaves the grid whole)
    # the shift is at most MAX_SHIFT_PX: the head's bounding box moved by that much at most
    ys, xs = np.nonzero(shifted.img[0])
    assert abs(int(ys.min()) - 16) <= MAX_SHIFT_PX and abs(int(xs.min()) - 16) <= MAX_SHIFT_PX
    assert jittered_copies(s, 0) == []
    with pytest.raises(ValueError, match="0..3"):
        jittered_copies(s, 4)


def test_stability_positions_and_ranges():
    s = _series()
    pos = stability_positions(s, 8)
    assert pos[0] is s and len(pos) == 5 and len({p.key for p in pos}) == 5
    assert np.array_equal(pos[1].img[:, :, 8:], s.img[:, :, :-8])  # +x
    assert np.array_equal(pos[4].img[:, :-8], s.img[:, 8:])  # -y
    probs = np.array([[[0.1, 0.5], [0.3, 0.5], [0.2, 0.4]]])  # 1 series, 3 positions, 2 labels
    assert np.allclose(series_ranges(probs), [[0.2, 0.1]])
    # a call flips when it differs between positions, not when the probability merely moves
    assert decision_flips(probs, np.array([0.25, 0.45])).tolist() == [[True, True]]
    assert decision_flips(probs, np.array([0.05, 0.35])).tolist() == [[False, False]]


def test_a_series_with_several_readings_trains_on_one_drawn_per_epoch():
    """training.ct_post.train_lstm: a list of readings per series; a plain tuple keeps earlier runs' draws."""
    import torch

    from training.ct_post import new_series_model, series_pca, train_lstm

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, 8)).astype(np.float32)
    y = np.zeros((5, 6), np.float32)
    y[2:4] = 1
    readings = [(emb[i * 5:(i + 1) * 5], rng.random((5, 6)).astype(np.float32), y) for i in range(3)]
    pca = series_pca(emb)

    def trained(data):
        torch.manual_seed(0)
        m = new_series_model(pca)
        train_lstm(m, data, 2, 0)
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    one = trained([readings[0]])
    assert torch.equal(one, trained([readings[0]]))
    assert torch.equal(trained([[readings[0]] * 3]), one)  # one reading thrice: whatever is drawn, the same steps
    assert not torch.equal(trained([readings]), one)  # other readings were trained on
