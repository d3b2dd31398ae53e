"""training.head_refit: the joint head is exactly the ensemble's head, and a refit moves only where the data push."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.ct_post import MIRROR_PERM, reader
from training.head_refit import N_ICH, fit_rows, joint_head, joint_head_gap, split_head, trunk_key
from training.nets.resnet import ResNet2D


def _members(n: int = 3) -> list[ResNet2D]:
    nets = []
    for seed in range(n):
        torch.manual_seed(seed)
        net = ResNet2D(N_ICH + 3, arch="resnet18", width=4).eval()
        with torch.no_grad():
            net.head.bias.normal_()
        nets.append(net)
    return nets


def test_the_joint_head_reproduces_the_flip_ensemble_logits():
    nets = _members()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits, _, emb = reader(nets, "flip", MIRROR_PERM)(x)
    w, b = joint_head(nets)
    assert np.allclose(emb.numpy() @ w.T + b, logits.numpy()[:, :N_ICH], atol=1e-5)


def test_split_head_is_the_inverse_and_leaves_the_bg_rows():
    nets = _members()
    bg_before = [n.head.weight[N_ICH:].clone() for n in nets]
    w, b = joint_head(nets)
    w2, b2 = w * 1.5 + 0.1, b - 0.3
    split_head(nets, w2, b2)
    w3, b3 = joint_head(nets)
    assert np.allclose(w3, w2, atol=1e-6) and np.allclose(b3, b2, atol=1e-6)
    assert all(torch.equal(n.head.weight[N_ICH:], old) for n, old in zip(nets, bg_before))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits, _, emb = reader(nets, "flip", MIRROR_PERM)(x)
    assert np.allclose(emb.numpy() @ w2.T + b2, logits.numpy()[:, :N_ICH], atol=1e-5)


def test_fit_rows_learns_the_label_and_keeps_unasked_rows():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(400, 8)).astype(np.float32)
    y = np.zeros((400, N_ICH), np.float32)
    y[:, 1] = (emb[:, 2] > 0).astype(np.float32)  # "epidural" follows feature 2
    y[:50, 1] = -1  # unknown labels are left out of the fit
    w0, b0 = np.zeros((N_ICH, 8)), np.zeros(N_ICH)
    w, b, log = fit_rows(emb, y, w0, b0, rows=[1], l2=0.001)
    assert np.argmax(np.abs(w[1])) == 2 and w[1, 2] > 0
    assert log["epidural"]["bce_after"] < log["epidural"]["bce_before"] == pytest.approx(np.log(2), abs=1e-4)
    assert log["epidural"]["n"] == 350
    assert np.array_equal(w[[0, 2, 3, 4, 5]], w0[[0, 2, 3, 4, 5]]) and np.array_equal(b[[0, 2, 3, 4, 5]], b0[[0, 2, 3, 4, 5]])


def test_a_strong_pull_keeps_the_head_near_where_it_was():
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(300, 6)).astype(np.float32)
    y = np.zeros((300, N_ICH), np.float32)
    y[:, 0] = (emb[:, 0] > 0).astype(np.float32)
    w0 = rng.normal(size=(N_ICH, 6))
    b0 = np.zeros(N_ICH)
    loose, _, _ = fit_rows(emb, y, w0, b0, rows=[0], l2=1e-4)
    tight, _, _ = fit_rows(emb, y, w0, b0, rows=[0], l2=100.0)
    assert np.linalg.norm(tight[0] - w0[0]) < 0.1 * np.linalg.norm(loose[0] - w0[0])


def test_the_view_cache_key_follows_the_trunks_not_the_heads():
    nets = _members(2)
    key = trunk_key(nets, "10000_300_21")
    w, b = joint_head(nets)
    split_head(nets, w + 1.0, b)  # a refit: same embeddings, so the same cached views
    assert trunk_key(nets, "10000_300_21") == key
    assert trunk_key(nets, "10000_300_22") != key
    with torch.no_grad():
        nets[1].stem[0].weight.mul_(1.01)
    assert trunk_key(nets, "10000_300_21") != key


def test_the_joint_head_check_catches_a_head_that_is_not_the_ensembles():
    nets = _members(2)
    w, b = joint_head(nets)
    assert joint_head_gap(nets, w, b, size=64) < 1e-4
    assert joint_head_gap(nets, w, b + 0.5, size=64) > 0.4


def test_extra_views_are_parsed_and_unknown_kinds_refused():
    from training.head_refit import parse_extra

    assert parse_extra(["subdural_thin=15", "intraventricular=3"]) == {"subdural_thin": 15, "intraventricular": 3}
    with pytest.raises(SystemExit, match="KIND=N"):
        parse_extra(["hematoma=3"])
    with pytest.raises(SystemExit, match="KIND=N"):
        parse_extra(["subdural=lots"])
