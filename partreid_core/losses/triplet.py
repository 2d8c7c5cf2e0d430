"""Batch-hard triplet loss (Hermans et al. 2017), with a margin or the soft margin."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import gather_nograd, gather_with_grad


def pairwise_euclidean(x: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """(N, d) -> (N, N) Euclidean distances (clamped away from 0 so sqrt has a gradient), or squared ones."""
    x = x.float()
    sq = (x * x).sum(1, keepdim=True)
    d2 = sq + sq.t() - 2.0 * (x @ x.t())
    return d2.clamp_min(0) if squared else d2.clamp_min(1e-12).sqrt()


class TripletLoss(nn.Module):
    """Batch-hard triplet loss.

    For each anchor, the hardest positive (largest distance, same label) and the hardest
    negative (smallest distance, other label) in the batch. ``margin=None`` gives the
    soft margin ``log(1 + exp(d_ap - d_an))`` (PLR-OSNet's choice).

    Args:
        margin: hinge margin, or None for the soft margin.
        normalize: L2-normalise the features first.
        squared: use squared Euclidean distances (on normalised features, 2 x the cosine distance:
            MPN's margin 0.4 is its cosine margin 0.2).
        average: "all" averages over every anchor with a positive and a negative (BoT, torchreid);
            "violating" averages the hinge over the anchors that violate the margin (MPN's N_T).

    Input: features (N, d), labels (N,). Output: scalar loss. In a multi-process run the features
    and labels of every rank are gathered first (:mod:`partreid_core.losses.distributed`), so the
    hardest positive and negative are mined over the global batch, as with one process.
    """

    def __init__(self, margin: float | None = 0.3, normalize: bool = False, squared: bool = False,
                 average: str = "all"):
        super().__init__()
        if average not in ("all", "violating"):
            raise ValueError(f"average must be 'all' or 'violating', got {average!r}")
        self.margin = margin
        self.normalize = normalize
        self.squared = squared
        self.average = average

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        feats, labels = gather_with_grad(feats), gather_nograd(labels)  # no-ops with one process
        if self.normalize:
            feats = F.normalize(feats.float(), dim=1)
        dist = pairwise_euclidean(feats, squared=self.squared)
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
        hinge = F.relu(d_ap - d_an + self.margin)
        if self.average == "violating":
            return hinge.sum() / (hinge > 0).sum().clamp(min=1)
        return hinge.mean()
