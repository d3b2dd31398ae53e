"""Export parity: ONNX Runtime vs torch within 1e-4, and the graph's closed-form Grad-CAM vs
autograd Grad-CAM (gradients of each logit w.r.t. the last feature maps) correlation > 0.99."""

from __future__ import annotations

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
