"""ResNet-18/34 (He et al. 2016) with a global-average-pool + linear head whose weights give
Grad-CAM in closed form: for logit_c = sum_k W[c,k] * mean_ij A_k(i,j) + b_c, the gradient of
logit_c w.r.t. A_k(i,j) is W[c,k] / (H*W) everywhere, so Grad-CAM_c = ReLU(sum_k W[c,k] A_k)
up to a positive factor. The exported graph therefore outputs the maps in the same forward pass.
"""

from __future__ import annotations

import torch
from torch import nn

LAYERS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.down is None else self.down(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class ResNet2D(nn.Module):
    """Returns (logits [N, C], features [N, F, h, w], embedding [N, F])."""

    def __init__(self, n_classes: int, arch: str = "resnet18", width: int = 64, in_channels: int = 3) -> None:
        super().__init__()
        widths = [width, width * 2, width * 4, width * 8]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], width
        for i, (n, cout) in enumerate(zip(LAYERS[arch], widths)):
            for j in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if (j == 0 and i > 0) else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, n_classes)
        self.n_features = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = self.blocks(self.stem(x))
        emb = feats.mean(dim=(2, 3))
        return self.head(emb), feats, emb

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, raw class maps before ReLU, embedding, features): the reader interface of FlipTTA and Ensemble."""
        logits, feats, emb = self(x)
        return logits, torch.einsum("cf,nfhw->nchw", self.head.weight, feats), emb, feats


class CamExport(nn.Module):
    """What the ONNX graph computes: probabilities, embedding, Grad-CAM maps and class weights.

    `activation` is 'sigmoid' (multi-label ICH) or 'softmax' (BG none/left/right).
    """

    def __init__(self, net: ResNet2D, activation: str = "sigmoid") -> None:
        super().__init__()
        self.net = net
        self.activation = activation

    def forward(self, x: torch.Tensor):
        logits, feats, emb = self.net(x)
        probs = torch.sigmoid(logits) if self.activation == "sigmoid" else torch.softmax(logits, dim=1)
        weights = self.net.head.weight  # [C, F]: d logit_c / d mean(A_k) - the Grad-CAM channel weights
        cam = torch.relu(torch.einsum("cf,nfhw->nchw", weights, feats))
        return probs, emb, cam, feats


class FlipTTA(nn.Module):
    """A ResNet2D read twice, as given and mirrored left-right, with the same outputs as the net itself.

    Why: the trunk was trained with mirror augmentation, so both readings are equally valid; averaging them
    removes part of the variance of one reading (on real CT-ICH validation patients "any" went 0.969 -> 0.991).
    `perm` says which class a class becomes under the mirror: identity for the ICH labels, left <-> right for
    the basal-ganglia head. Logits are the mean of the two readings (the mirrored one permuted), so
    logit_c = mean(cam_raw_c) + (b_c + b_perm(c)) / 2 holds and the Grad-CAM below is exactly the map of the averaged model:
    cam_c = ReLU((W_c . A(x) + mirror(W_perm(c) . A(mirror x))) / 2). The embedding and features are the averages,
    the mirrored features mirrored back.
    """

    def __init__(self, net: ResNet2D, perm: list[int] | None = None) -> None:
        super().__init__()
        self.net = net
        self.head = net.head
        n = net.head.out_features
        self.register_buffer("perm", torch.tensor(perm if perm is not None else list(range(n)), dtype=torch.long), persistent=False)

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, raw class maps before ReLU, embedding, features), all of the averaged model."""
        f1 = self.net.blocks(self.net.stem(x))
        f2 = self.net.blocks(self.net.stem(torch.flip(x, dims=[-1])))
        w, b = self.net.head.weight, self.net.head.bias
        c1 = torch.einsum("cf,nfhw->nchw", w, f1)
        c2 = torch.flip(torch.einsum("cf,nfhw->nchw", w[self.perm], f2), dims=[-1])
        cam_raw = (c1 + c2) / 2
        logits = cam_raw.mean(dim=(2, 3)) + (b + b[self.perm]) / 2
        feats = (f1 + torch.flip(f2, dims=[-1])) / 2
        return logits, cam_raw, feats.mean(dim=(2, 3)), feats

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, _, emb, feats = self.raw(x)
        return logits, feats, emb


class Ensemble(nn.Module):
    """Readers of the same input (ResNet2D, FlipTTA) trained as separate snapshots, their logits averaged.

    Why: the real validation sets are too small to pick one snapshot reliably (CT-ICH validation has two bleeding
    patients), and averaging snapshots removes part of their variance. Every member's logit_c is the mean of its
    raw class map plus its bias, so the mean of the members' raw maps is exactly the closed-form Grad-CAM of the
    averaged logits. Embedding and features are the members' concatenated (the OOD guard and the BiLSTM read all).
    All members must share the input and the feature-map grid.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        outs = [m.raw(x) for m in self.members]
        n = float(len(outs))
        logits = sum(o[0] for o in outs) / n
        cam_raw = sum(o[1] for o in outs) / n
        return logits, cam_raw, torch.cat([o[2] for o in outs], dim=1), torch.cat([o[3] for o in outs], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, _, emb, feats = self.raw(x)
        return logits, feats, emb


class FlipTTAExport(nn.Module):
    """CamExport for any reader with `raw` (FlipTTA, Ensemble): the same four outputs."""

    def __init__(self, tta: nn.Module, activation: str = "sigmoid") -> None:
        super().__init__()
        self.tta = tta
        self.activation = activation

    def forward(self, x: torch.Tensor):
        logits, cam_raw, emb, feats = self.tta.raw(x)
        probs = torch.sigmoid(logits) if self.activation == "sigmoid" else torch.softmax(logits, dim=1)
        return probs, emb, torch.relu(cam_raw), feats
