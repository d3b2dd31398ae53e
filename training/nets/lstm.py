"""Stage 2 of seed 002: PCA-reduced CNN embeddings + CNN probabilities -> bidirectional LSTM.

As in the seed, the CNN's probabilities are concatenated to the LSTM's features right before the
classification layer. The PCA (mean and components) lives inside the module as buffers so the
exported ONNX graph takes raw CNN embeddings.
"""

from __future__ import annotations

import torch
from torch import nn


class SeriesBiLSTM(nn.Module):
    def __init__(self, emb_dim: int, n_comp: int, n_labels: int = 6, hidden: int = 64) -> None:
        super().__init__()
        self.register_buffer("pca_mean", torch.zeros(emb_dim))
        self.register_buffer("pca_components", torch.zeros(n_comp, emb_dim))
        self.lstm = nn.LSTM(n_comp + n_labels, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden + n_labels, n_labels)

    def set_pca(self, mean: torch.Tensor, components: torch.Tensor) -> None:
        self.pca_mean.copy_(mean)
        self.pca_components.copy_(components)

    def forward(self, embedding: torch.Tensor, cnn_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """embedding [1, S, F], cnn_probs [1, S, L] -> (slice logits [1, S, L], series logits [1, L])."""
        reduced = (embedding - self.pca_mean) @ self.pca_components.T
        feats, _ = self.lstm(torch.cat([reduced, cnn_probs], dim=-1))
        logits = self.head(torch.cat([feats, cnn_probs], dim=-1))
        return logits, logits.max(dim=1).values  # a series is positive where its most positive slice is


class SeriesExport(nn.Module):
    def __init__(self, net: SeriesBiLSTM) -> None:
        super().__init__()
        self.net = net

    def forward(self, embedding: torch.Tensor, cnn_probs: torch.Tensor):
        slice_logits, series_logits = self.net(embedding, cnn_probs)
        return torch.sigmoid(slice_logits), torch.sigmoid(series_logits)


class SeriesEnsemble(nn.Module):
    """Several BiLSTMs on the same inputs: slice logits averaged, the series logit the most positive averaged slice
    (as one SeriesBiLSTM defines it). Why: one BiLSTM's series figures move with its seed (stop 19's candidate S lost
    0.027 of phantom epidural AUC on one pair of 20 series). A Platt a*l + b applied to every member's head is exact
    for the average, so calibration works member by member."""

    def __init__(self, members: list[SeriesBiLSTM]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, embedding: torch.Tensor, cnn_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.stack([m(embedding, cnn_probs)[0] for m in self.members]).mean(dim=0)
        return logits, logits.max(dim=1).values
