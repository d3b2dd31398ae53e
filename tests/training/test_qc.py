"""QC network: label-file reader (two or three label columns, head groups), closed-form Grad-CAM equals
autograd, ONNX parity, the OOD feature statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.qc.preprocess import MODEL_SHAPE
from training.qc import LABELS, QCExport, QCNet, auc_score, ood_stats, read_label_file, split_by_subject, subject_of


def test_label_file_reader_and_subject_split(tmp_path):
    names = [f"SYN{s:05d}_strip{k}.nii.gz" for s in range(8) for k in (1, 2, 3)]
    for n in names[:-1]:
        (tmp_path / n).write_bytes(b"x")
    lines = ["Filename,Recognizable-Facial-Feature,Brain-Feature-Loss"] + [f"{n},{'Yes' if i % 3 == 2 else 'No'},{'Yes' if i % 3 == 1 else 'No'}" for i, n in enumerate(names)]
    (tmp_path / "label_file.csv").write_text("\n".join(lines) + "\n")
    items = read_label_file(tmp_path)
    assert len(items) == len(names) - 1  # the missing file is skipped (and reported)
    assert items[1].y.tolist() == [0.0, 1.0, 0.0] and items[2].y.tolist() == [1.0, 0.0, 0.0]  # BET-BSE: all stripped
    tr, va = split_by_subject(items, 0.25, seed=0)
    assert {i.subject for i in tr}.isdisjoint({i.subject for i in va})
    assert len({i.subject for i in va}) == 2
    assert subject_of("IXI002_bet_0.5.nii.gz") == "IXI002"


def test_three_columns_and_head_groups_from_the_measurements(tmp_path):
    for n in ("colin_strip001.nii.gz", "colin_strip002.nii.gz", "mni_strip001.nii.gz"):
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "label_file.csv").write_text("Filename,Recognizable-Facial-Feature,Brain-Feature-Loss,Not-Skull-Stripped\n"
                                             "colin_strip001.nii.gz,Yes,No,Yes\ncolin_strip002.nii.gz,No,Yes,No\nmni_strip001.nii.gz,No,No,No\n")
    (tmp_path / "qc_measurements.csv").write_text("Filename,Subject,group\ncolin_strip001.nii.gz,colin,colin27\n"
                                                  "colin_strip002.nii.gz,colin,colin27\nmni_strip001.nii.gz,mni152,mni\n")
    items = read_label_file(tmp_path)
    assert [i.y.tolist() for i in items] == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert [i.subject for i in items] == ["colin27", "colin27", "mni"]  # the fold unit is the head group


def test_bad_label_value_is_an_error(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"x")
    (tmp_path / "label_file.csv").write_text("Filename,Recognizable-Facial-Feature,Brain-Feature-Loss\na.nii.gz,Maybe,No\n")
    with pytest.raises(ValueError, match="line 2"):
        read_label_file(tmp_path)


def test_auc_matches_pair_count():
    t = np.array([0, 0, 1, 1, 1], bool)
    p = np.array([0.1, 0.6, 0.5, 0.7, 0.9])
    # positives beat negatives in 5 of 6 pairs
    assert auc_score(t, p) == pytest.approx(5 / 6)


def test_closed_form_gradcam_equals_autograd():
    torch.manual_seed(0)
    net = QCNet().eval()
    x = torch.rand(1, 1, *MODEL_SHAPE)
    _, cam, feats = QCExport(net)(x)
    assert cam.shape[1] == len(LABELS) == 3
    for c in range(3):
        a = net.features(x).detach().requires_grad_(True)
        logit = net.head(a)[0][0, c]  # face: the smooth maximum of the cell scores; the others: GAP + dense
        (grad,) = torch.autograd.grad(logit, a)
        weights = grad.sum(dim=(2, 3, 4))  # = alpha_c (GAP gradient is 1/N per voxel, summed)
        ref = torch.relu((weights[:, :, None, None, None] * a).sum(1))[0]
        ref = ref / (ref.max() + 1e-6)
        assert torch.allclose(cam[0, c], ref, atol=1e-4)


def test_onnx_export_runs_like_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from training.qc import export

    torch.manual_seed(1)
    net = QCNet().eval()
    path = tmp_path / "qc.onnx"
    export(net, path)
    x = np.random.default_rng(0).random((2, 1, *MODEL_SHAPE), dtype=np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs, cam = sess.run(["probs", "cam"], {"image": x})
    with torch.no_grad():
        tp, tc, _ = QCExport(net)(torch.from_numpy(x))
    np.testing.assert_allclose(probs, tp.numpy(), atol=1e-5)
    np.testing.assert_allclose(cam, tc.numpy(), atol=1e-4)


def test_ood_stats_put_training_volumes_inside_the_threshold():
    from core.qc.ood import feature_distance

    torch.manual_seed(2)
    net = QCNet().eval()
    x = np.random.default_rng(1).random((6, *MODEL_SHAPE), dtype=np.float32)
    stats = ood_stats(net, x)
    with torch.no_grad():
        feats = net.features(torch.from_numpy(x[:1])[:, None]).numpy()[0]
    assert feature_distance(feats, stats) <= stats["distance_threshold"]
    assert feature_distance(feats * 0 + 50.0, stats) > stats["distance_threshold"]  # far from every training volume
