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


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    net = ResNet2D(6, width=8)
    # give BatchNorm non-trivial running statistics, as a trained net has
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 96, 96))
    return net.eval()


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
