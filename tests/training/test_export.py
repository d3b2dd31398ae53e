"""Export parity: ONNX Runtime vs torch within 1e-4, and the graph's closed-form Grad-CAM vs
autograd Grad-CAM (gradients of each logit w.r.t. the last feature maps) correlation > 0.99."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from training.export import export_cnn, export_series
from training.nets.lstm import SeriesBiLSTM, SeriesExport
from training.nets.resnet import CamExport, ResNet2D


def with_bn_statistics(net: ResNet2D, size: int) -> ResNet2D:
    """Give BatchNorm non-trivial running statistics, as a trained net has; returns the net in eval mode."""
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, size, size))
    return net.eval()


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    return with_bn_statistics(ResNet2D(6, width=8), 96)


def autograd_gradcam(net: ResNet2D, x: torch.Tensor, c: int) -> np.ndarray:
    """Textbook Grad-CAM: alpha_k = mean_ij d logit_c / d A_k(i,j); map = ReLU(sum_k alpha_k A_k)."""
    feats = net.blocks(net.stem(x))
    feats.retain_grad()
    logits = net.head(feats.mean(dim=(2, 3)))
    logits[:, c].sum().backward()
    alpha = feats.grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * feats).sum(dim=1)).detach().numpy()


def test_cnn_onnx_matches_torch_and_gradcam_matches_autograd(tmp_path, small_net):
    path = tmp_path / "cnn.onnx"
    export_cnn(CamExport(small_net, "sigmoid"), path, 96)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(4, 3, 96, 96)
    probs, emb, cam, feats = sess.run(None, {"image": x.numpy()})
    with torch.no_grad():
        t_probs, t_emb, t_cam, t_feats = CamExport(small_net, "sigmoid")(x)
    np.testing.assert_allclose(probs, t_probs.numpy(), atol=1e-4)
    np.testing.assert_allclose(emb, t_emb.numpy(), atol=1e-4)
    np.testing.assert_allclose(cam, t_cam.numpy(), atol=1e-4, rtol=1e-4)
    for c in range(6):
        ref = autograd_gradcam(small_net, x.clone().requires_grad_(True), c)
        for n in range(len(x)):
            a, b = cam[n, c].ravel(), ref[n].ravel()
            if a.std() == 0 and b.std() == 0:
                continue  # both maps empty for this label: identical
            assert np.corrcoef(a, b)[0, 1] > 0.99


def test_softmax_export_probs_sum_to_one(tmp_path):
    torch.manual_seed(1)
    net = ResNet2D(3, width=8).eval()
    path = tmp_path / "bg.onnx"
    export_cnn(CamExport(net, "softmax"), path, 64)
    probs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["probs"], {"image": np.random.rand(2, 3, 64, 64).astype(np.float32)})[0]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_bilstm_onnx_matches_torch_for_any_series_length(tmp_path):
    torch.manual_seed(2)
    model = SeriesBiLSTM(emb_dim=32, n_comp=10)
    model.set_pca(torch.randn(32), torch.linalg.qr(torch.randn(32, 10))[0].T.contiguous())
    model.eval()
    path = tmp_path / "lstm.onnx"
    export_series(SeriesExport(model), path, 32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for s in (5, 31, 40):
        emb, probs = torch.randn(1, s, 32), torch.rand(1, s, 6)
        got = sess.run(None, {"embedding": emb.numpy(), "cnn_probs": probs.numpy()})
        with torch.no_grad():
            ref = SeriesExport(model)(emb, probs)
        np.testing.assert_allclose(got[0], ref[0].numpy(), atol=1e-4)
        np.testing.assert_allclose(got[1], ref[1].numpy(), atol=1e-4)


def test_flip_tta_export_averages_both_readings_and_is_mirror_symmetric(tmp_path):
    """The mirror-averaged export: probabilities of the mean of the two readings (BG left/right swapped for the
    mirrored one), the same ONNX vs torch, a mirrored slice gives the mirrored answer, and each map's mean
    still gives its logit (the closed-form Grad-CAM of the averaged model)."""
    from training.nets.resnet import FlipTTA, FlipTTAExport

    torch.manual_seed(3)
    net = with_bn_statistics(ResNet2D(3, width=8), 64)
    with torch.no_grad():
        net.head.bias.copy_(torch.tensor([0.3, -0.5, 0.9]))  # unequal left/right biases must be averaged too
    tta = FlipTTA(net, [0, 2, 1]).eval()
    x = torch.randn(3, 3, 64, 64)
    path = tmp_path / "bg_tta.onnx"
    export_cnn(FlipTTAExport(tta, "softmax"), path, 64)
    probs, emb, cam, _ = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})
    with torch.no_grad():
        one = net(x)[0]
        mirrored = net(torch.flip(x, dims=[-1]))[0][:, [0, 2, 1]]
        want = torch.softmax((one + mirrored) / 2, dim=1).numpy()
        swapped = FlipTTAExport(tta, "softmax")(torch.flip(x, dims=[-1]))[0].numpy()
        raw_logits, cam_raw, _, _ = tta.raw(x)
    np.testing.assert_allclose(probs, want, atol=1e-4)
    np.testing.assert_allclose(swapped, probs[:, [0, 2, 1]], atol=1e-4)
    b = net.head.bias.detach()
    np.testing.assert_allclose(cam_raw.mean(dim=(2, 3)).numpy() + ((b + b[[0, 2, 1]]) / 2).numpy(), raw_logits.numpy(), atol=1e-5)
    assert cam.shape == (3, 3, 2, 2) and (cam >= 0).all()


def test_recover_trunk_undoes_the_calibrated_heads(small_net):
    """training.recover_trunk: the shipped ICH and BG heads, rescaled by their calibration, give back the trunk's logits."""
    from training.ct_post import HeadView
    from training.recover_trunk import recover

    torch.manual_seed(4)
    trunk = ResNet2D(9, width=8).eval()
    labels = ["any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"]
    scale, shift, t_bg = np.linspace(0.8, 2.0, 6), np.linspace(-2, 1, 6), 1.3
    ich = HeadView.make(trunk, slice(0, 6), 1 / scale, shift)
    bg = HeadView.make(trunk, slice(6, 9), np.full(3, t_bg), np.zeros(3))
    cards = ({"calibration": {lab: {"scale": float(a), "bias": float(c)} for lab, a, c in zip(labels, scale, shift)}},
             {"calibration": {"temperature": t_bg}})
    back = ResNet2D(9, width=8)
    back.load_state_dict(recover(ich.state_dict(), bg.state_dict(), *cards))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        np.testing.assert_allclose(back.eval()(x)[0].numpy(), trunk(x)[0].numpy(), atol=1e-4)
    other = ResNet2D(3, width=8).state_dict()
    with pytest.raises(ValueError, match="do not share the trunk"):
        recover(ich.state_dict(), other, *cards)


def test_ensemble_export_averages_member_logits_and_its_cam_is_the_averaged_models(tmp_path):
    """An ensemble of two mirror-averaged snapshots: ONNX equals torch, the logits are the mean of the members',
    each map's mean plus the mean bias gives the averaged logit (closed-form Grad-CAM of the average), the
    embedding is the members' concatenated, and a one-member ensemble is that member."""
    from training.ct_post import HeadView, reader
    from training.nets.resnet import Ensemble, FlipTTA, FlipTTAExport

    torch.manual_seed(5)
    a = with_bn_statistics(ResNet2D(3, width=8), 64)
    torch.manual_seed(6)
    b = with_bn_statistics(ResNet2D(3, width=8), 64)
    ens = reader([a, b], "flip", [0, 2, 1]).eval()
    assert isinstance(ens, Ensemble) and all(isinstance(m, FlipTTA) for m in ens.members)
    x = torch.randn(3, 3, 64, 64)
    path = tmp_path / "ens.onnx"
    export_cnn(FlipTTAExport(ens, "softmax"), path, 64)
    probs, emb, cam, feats = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})
    with torch.no_grad():
        la, _, ea = FlipTTA(a, [0, 2, 1]).eval()(x)
        lb, _, eb = FlipTTA(b, [0, 2, 1]).eval()(x)
        logits, cam_raw, _, _ = ens.raw(x)
        single = FlipTTAExport(Ensemble([FlipTTA(a, [0, 2, 1])]).eval(), "softmax")(x)[0].numpy()
    np.testing.assert_allclose(logits.numpy(), ((la + lb) / 2).numpy(), atol=1e-5)
    np.testing.assert_allclose(probs, torch.softmax((la + lb) / 2, dim=1).numpy(), atol=1e-4)
    np.testing.assert_allclose(emb, torch.cat([ea, eb], dim=1).numpy(), atol=1e-4)
    bias = sum((n.head.bias + n.head.bias[[0, 2, 1]]) / 2 for n in (a, b)).detach() / 2
    np.testing.assert_allclose((cam_raw.mean(dim=(2, 3)) + bias).numpy(), logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(cam, np.maximum(cam_raw.numpy(), 0), atol=1e-4)
    assert feats.shape == (3, 2 * a.n_features, 2, 2)
    with torch.no_grad():
        np.testing.assert_allclose(single, torch.softmax(la, dim=1).numpy(), atol=1e-5)
    # per-label calibration applied to every member's head is the calibration of the average (ICH: labels do not
    # swap under the mirror; the BG head's one temperature commutes with its swap)
    scale, shift = np.array([1.5, 0.7, 2.0]), np.array([0.2, -0.4, 0.1])
    plain = reader([a, b], "flip", [0, 1, 2]).eval()
    cal = reader([HeadView.make(n, slice(0, 3), 1 / scale, shift) for n in (a, b)], "flip", [0, 1, 2]).eval()
    with torch.no_grad():
        want = plain.raw(x)[0] * torch.tensor(scale, dtype=torch.float32) + torch.tensor(shift, dtype=torch.float32)
        np.testing.assert_allclose(cal.raw(x)[0].numpy(), want.numpy(), atol=1e-4)


def test_recover_trunk_writes_one_trunk_per_ensemble_member(tmp_path):
    """recover_trunk on an ensemble export: ct_trunk.pt and ct_trunk_member1.pt give back each member's logits,
    and it refuses to overwrite."""
    from training.ct_post import HeadView
    from training.recover_trunk import main

    labels = ["any", "epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"]
    scale, shift, t_bg = np.linspace(0.8, 2.0, 6), np.linspace(-2, 1, 6), 1.3
    trunks = []
    for seed in (7, 8):
        torch.manual_seed(seed)
        trunks.append(ResNet2D(9, width=32).eval())
    ich = [HeadView.make(t, slice(0, 6), 1 / scale, shift) for t in trunks]
    bg = [HeadView.make(t, slice(6, 9), np.full(3, t_bg), np.zeros(3)) for t in trunks]
    ck, cards = tmp_path / "ck", tmp_path / "cards"
    ck.mkdir()
    cards.mkdir()
    for name, members in (("ich_cnn", ich), ("bg_laterality", bg)):
        torch.save({"state_dict": members[0].state_dict(), "members": [m.state_dict() for m in members]}, ck / f"{name}.pt")
    (cards / "ich_cnn.json").write_text(json.dumps({"version": "t", "calibration": {lab: {"scale": float(a), "bias": float(c)} for lab, a, c in zip(labels, scale, shift)}}))
    (cards / "bg_laterality.json").write_text(json.dumps({"version": "t", "calibration": {"temperature": t_bg}}))
    assert main(["--checkpoints", str(ck), "--cards", str(cards)]) == 0
    x = torch.randn(2, 3, 64, 64)
    for name, trunk in (("ct_trunk.pt", trunks[0]), ("ct_trunk_member1.pt", trunks[1])):
        back = ResNet2D(9, width=32)
        back.load_state_dict(torch.load(ck / name, map_location="cpu")["state_dict"])
        with torch.no_grad():
            np.testing.assert_allclose(back.eval()(x)[0].numpy(), trunk(x)[0].numpy(), atol=1e-4)
    with pytest.raises(SystemExit, match="not overwritten"):
        main(["--checkpoints", str(ck), "--cards", str(cards)])
