"""Batch-hard triplet loss (Hermans et al. 2017), with a margin or the soft margin."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pairwise_euclidean(x: torch.Tensor) -> torch.Tensor:
    """(N, d) -> (N, N) Euclidean distances, clamped away from 0 so sqrt has a gradient."""
    x = x.float()
    sq = (x * x).sum(1, keepdim=True)
    d2 = sq + sq.t() - 2.0 * (x @ x.t())
    return d2.clamp_min(1e-12).sqrt()


class TripletLoss(nn.Module):
    """Batch-hard triplet loss.

    For each anchor, the hardest positive (largest distance, same label) and the hardest
    negative (smallest distance, other label) in the batch. ``margin=None`` gives the
    soft margin ``log(1 + exp(d_ap - d_an))`` (PLR-OSNet's choice).

    Input: features (N, d), labels (N,). Output: scalar mean loss over anchors that have
    at least one positive and one negative.
    """

    def __init__(self, margin: float | None = 0.3, normalize: bool = False):
        super().__init__()
        self.margin = margin
        self.normalize = normalize

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            feats = F.normalize(feats.float(), dim=1)
        dist = pairwise_euclidean(feats)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        pos = same & ~eye
        neg = ~same
        valid = pos.any(1) & neg.any(1)
        d_ap = dist.masked_fill(~pos, float("-inf")).amax(1)
        d_an = dist.masked_fill(~neg, float("inf")).amin(1)
        d_ap, d_an = d_ap[valid], d_an[valid]
        if d_ap.numel() == 0:
            return feats.sum() * 0.0
        if self.margin is None:
            return F.softplus(d_ap - d_an).mean()
        return F.relu(d_ap - d_an + self.margin).mean()
