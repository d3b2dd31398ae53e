"""Scoring speed of the bundled CT models: ONNX Runtime (ours) vs the same weights in torch eager.

    bash benchmarks/setup_peers.sh && .venv-bench/bin/python benchmarks/inference.py [--repeats 5]

On a generated 40-slice 512x512 head CT series, in one run, prints medians and ratios for:
  1. end-to-end ICH + BG scoring (load + preprocess + CNN + BiLSTM + BG CNN), warm sessions;
  2. scoring plus Grad-CAM maps for all 6 labels on every slice: ours (maps come out of the same
     ONNX forward pass) vs torch eager + pytorch-grad-cam (one backward pass per label), and our
     maps' extra cost relative to scoring alone;
  3. occlusion map of one slice, all labels, patch 32: ours (occluded copies batched through ORT, patches
     outside the head skipped, one pass gives all labels) against two peers: the same work in torch eager
     (the same in-head boxes, the same batches, one pass for all labels: what the runtime alone is worth)
     and captum's Occlusion (every box, one run per label, perturbations_per_eval=64: what a user of the
     library gets); at stride 32 and at the app's default stride 16 (app.viewer.overlays.occlusion_slice).
Fairness: every side gets the same untimed warm-up call and the same number of timed repeats; the torch
weights are checked to give the ONNX model's outputs on the same input before anything is timed.
Weights: checkpoints/ (torch, saved by training.ich / training.bg) and resources/models (their ONNX export).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.explain import gradcam_to_volume, in_head_boxes, occlusion_map  # noqa: E402
from core.io import load  # noqa: E402
from core.models.preprocess import bg_input, display_slices, ich_input  # noqa: E402
from core.tasks import CTScorer  # noqa: E402
from training.nets.lstm import SeriesBiLSTM, SeriesEnsemble  # noqa: E402
from training.ct_post import member_state_dicts  # noqa: E402
from training.nets.resnet import Ensemble, FlipTTA, ResNet2D  # noqa: E402
from training.synth.ct import make_ct_case  # noqa: E402
from training.synth.rsna import write_series  # noqa: E402


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median of `repeats` timed calls after `warmup` untimed ones (the same for every side)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_models(ckpt: Path):
    def cnn(name: str, n: int) -> torch.nn.Module:
        """The checkpoint as its ONNX export reads a slice: mirror-averaged when it was exported with --tta flip."""
        c = torch.load(ckpt / f"{name}.pt", map_location="cpu")
        readers = []
        for sd in member_state_dicts(c):
            net = ResNet2D(n, arch=c["arch"], width=c["width"])
            net.load_state_dict(sd)
            readers.append(FlipTTA(net, c["mirror_perm"]) if c.get("tta") == "flip" else net)
        return (readers[0] if len(readers) == 1 else Ensemble(readers)).eval()
    c = torch.load(ckpt / "ich_bilstm.pt", map_location="cpu")
    lstms = []
    for sd in c.get("members") or [c["state_dict"]]:  # 0.7.2 ships three BiLSTMs averaged (training.bilstm_refit --seeds)
        m = SeriesBiLSTM(c["emb_dim"], c["n_comp"])
        m.load_state_dict(sd)
        lstms.append(m)
    lstm = lstms[0] if len(lstms) == 1 else SeriesEnsemble(lstms)
    return cnn("ich_cnn", 6), lstm.eval(), cnn("bg_laterality", 3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoints", default=str(ROOT / "training" / "checkpoints"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ich_net, lstm, bg_net = torch_models(Path(args.checkpoints))
    scorer = CTScorer(threads=args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        case = make_ct_case(424242, n_slices=40, lesions=("subdural", "intraparenchymal"), bg_side="right")
        write_series(case, Path(tmp) / "ct")
        folder = Path(tmp) / "ct"
        vol = load(folder)
        scorer.score_ich(vol)  # sessions open, as in the running app
        scorer.score_bg(vol)

        # 1. end to end
        def ours_e2e():
            v = load(folder)
            scorer._cache = None
            scorer.score_ich(v)
            scorer.score_bg(v)

        @torch.no_grad()
        def torch_e2e():
            v = load(folder)
            hu = display_slices(v)
            logits, _, emb = ich_net(torch.from_numpy(ich_input(hu)))
            probs = torch.sigmoid(logits)
            lstm(emb[None], probs[None])
            bg_net(torch.from_numpy(bg_input(hu)))

        t_ours = median_time(ours_e2e, args.repeats)
        t_torch = median_time(torch_e2e, args.repeats)

        # 2. scoring + Grad-CAM for all 6 labels on every slice
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        class Logits(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(x)[0]

        hu = display_slices(vol)
        x_ich = torch.from_numpy(ich_input(hu))
        with torch.no_grad():  # the peer runs the ONNX model's weights: same outputs on the same input
            p_torch = torch.sigmoid(ich_net(x_ich[:8])[0]).numpy()
        p_ort = scorer.model("ich_cnn").run({"image": ich_input(hu)[:8]}, ["probs"])["probs"]
        weights_diff = float(np.abs(p_torch - p_ort).max())
        assert weights_diff < 1e-3, f"torch checkpoint and ONNX model disagree ({weights_diff:.2e}): not the same weights"

        def ours_maps():
            scorer._cache = None
            r = scorer.score_ich(vol)
            for j in range(6):
                gradcam_to_volume(r.cam, j, vol, r.grid)

        def ours_scoring_only():
            scorer._cache = None
            h = scorer.slices(vol)
            x = ich_input(h)
            out = [scorer.model("ich_cnn").run({"image": x[i:i + 16]}, ["probs", "embedding"]) for i in range(0, len(x), 16)]
            p = np.concatenate([o["probs"] for o in out])[None]
            e = np.concatenate([o["embedding"] for o in out])[None]
            scorer.model("ich_bilstm").run({"embedding": e, "cnn_probs": p})

        members = list(ich_net.members) if isinstance(ich_net, Ensemble) else [ich_net]
        flips = [isinstance(m, FlipTTA) for m in members]
        plains = [m.net if f else m for m, f in zip(members, flips)]

        def torch_gradcam_maps():
            """pytorch-grad-cam on each reading the model averages (every member; as given, and mirrored then mirrored back)."""
            with torch.no_grad():
                logits, _, emb = ich_net(x_ich)
                lstm(emb[None], torch.sigmoid(logits)[None])
            for plain, flip in zip(plains, flips):
                views = [x_ich, torch.flip(x_ich, dims=[-1])] if flip else [x_ich]
                cam = GradCAM(model=Logits(plain), target_layers=[plain.blocks[-1]])
                for j in range(6):
                    maps = [cam(input_tensor=v, targets=[ClassifierOutputTarget(j)] * len(v)) for v in views]
                    sum(m if i == 0 else m[..., ::-1] for i, m in enumerate(maps))

        t_maps = median_time(ours_maps, args.repeats)
        t_score_only = median_time(ours_scoring_only, args.repeats)
        t_peer_maps = median_time(torch_gradcam_maps, args.repeats)

        # 3. occlusion of one slice, all labels
        from captum.attr import Occlusion

        k = int(np.argmax(case.masks["subdural"].reshape(case.hu.shape[0], -1).sum(axis=1)))
        img = ich_input(hu[k:k + 1])[0]
        cnn = scorer.model("ich_cnn")

        def ours_occ(stride: int, batch: int):
            return occlusion_map(cnn, img, hu[k], patch=32, stride=stride, batch=batch)

        @torch.no_grad()
        def torch_occ_equal(stride: int, batch: int):
            """occlusion_map's work in torch eager: the same in-head boxes and batches, all labels per pass."""
            x1 = torch.from_numpy(img[None])
            base = torch.sigmoid(ich_net(x1)[0])[0].numpy()
            boxes = in_head_boxes(hu[k], 32, stride)
            drop = np.zeros((len(base), *img.shape[1:]), np.float32)
            count = np.zeros(img.shape[1:], np.float32)
            for i in range(0, len(boxes), batch):
                chunk = boxes[i:i + batch]
                x = x1.repeat(len(chunk), 1, 1, 1)
                for j, (y0, x0) in enumerate(chunk):
                    x[j, :, y0:y0 + 32, x0:x0 + 32] = 0.0
                probs = torch.sigmoid(ich_net(x)[0]).numpy()
                for j, (y0, x0) in enumerate(chunk):
                    drop[:, y0:y0 + 32, x0:x0 + 32] += (base - probs[j])[:, None, None]
                    count[y0:y0 + 32, x0:x0 + 32] += 1
            return drop / np.maximum(count, 1)

        def captum_occ(stride: int):
            occ = Occlusion(lambda t: torch.sigmoid(ich_net(t)[0]))
            with torch.no_grad():
                for j in range(6):
                    occ.attribute(torch.from_numpy(img[None]), sliding_window_shapes=(3, 32, 32), strides=(3, stride, stride),
                                  target=j, baselines=0.0, perturbations_per_eval=64)

        same = float(np.abs(ours_occ(32, 64)[0] - torch_occ_equal(32, 64)).max())
        occ = {}
        for stride, batch in ((32, 64), (16, 16)):  # 16/16: the app's default (app.viewer.overlays.occlusion_slice)
            occ[stride] = dict(ours=median_time(lambda: ours_occ(stride, batch), args.repeats),
                               equal=median_time(lambda: torch_occ_equal(stride, batch), args.repeats),
                               passes=ours_occ(stride, batch)[2], batch=batch)
        occ[32]["captum"] = median_time(lambda: captum_occ(32), args.repeats)
        grid = len(range(0, 256 - 32 + 1, 32)) ** 2

    print(f"series: 40 x 512 x 512 generated head CT; {args.threads} threads; provider {cnn.provider}; torch {torch.__version__}; "
          f"every side: 1 warm-up + {args.repeats} timed runs, median; torch vs ONNX outputs max |diff| {weights_diff:.1e}")
    print(f"1. end-to-end ICH+BG scoring   ours (ONNX Runtime) {t_ours:6.2f} s | torch eager {t_torch:6.2f} s | ratio {t_torch / t_ours:5.2f}x (target >= 1.5x, ours <= 2 s)")
    print(f"2. scoring + Grad-CAM, 6 labels ours {t_maps:6.2f} s | torch + pytorch-grad-cam {t_peer_maps:6.2f} s | ratio {t_peer_maps / t_maps:5.2f}x (target >= 3x)")
    print(f"   our maps' extra cost: {t_maps:.2f} s with maps vs {t_score_only:.2f} s scoring only = {100 * (t_maps / t_score_only - 1):+.1f}% (target <= 10%)")
    print(f"3. occlusion, 1 slice, 6 labels, patch 32 (ours and torch-equal give the same map: max |diff| {same:.1e})")
    for stride, o in occ.items():
        app = " (the app's default)" if stride == 16 else ""
        line = (f"   stride {stride}{app}, batch {o['batch']}: ours {o['ours']:5.2f} s ({o['passes']} passes: in-head boxes) | "
                f"torch eager, equal work {o['equal']:5.2f} s | ratio {o['equal'] / o['ours']:5.2f}x")
        if "captum" in o:
            line += (f" | captum Occlusion ({grid} boxes x 6 labels) {o['captum']:5.2f} s | ratio "
                     f"{o['captum'] / o['ours']:5.2f}x")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
