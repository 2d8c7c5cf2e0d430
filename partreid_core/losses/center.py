"""Center loss (Wen et al., ECCV 2016) as used by BoT (Luo et al. 2019) and PLR-OSNet.

``L_c = mean_i clamp(||f_i - c_{y_i}||^2, 1e-12, 1e12)``: the squared Euclidean distance of
each feature to its class center, averaged over the batch (BoT's ``CenterLoss``; its
``distmat.clamp(...).sum() / batch_size`` also clamps the masked-out zeros to 1e-12, which
adds a negligible constant that is left out here).

Training recipe note (BoT): the centers are optimised by their own SGD (lr 0.5) and their
gradient is divided by the center-loss weight before that step, so the tiny weight (0.0005)
scales only the pull on the features. The engine finds the centers as the parameters of
this module (``model.center_loss.parameters()``). ``learnable=False`` freezes them at the
random N(0, 1) init, which is what the PLR-OSNet code effectively does (plr_osnet.md §3).
"""
from __future__ import annotations

import torch
from torch import nn


class CenterLoss(nn.Module):
    """Input: features (N, dim) and labels (N,) in 0..num_classes-1. Output: scalar.

    Args:
        learnable: True makes the centers an ``nn.Parameter`` (BoT); False stores fixed N(0, 1)
            centers as a buffer (saved in the state dict) — what PLR-OSNet's code effectively
            trains with, since its center parameter never reaches an optimizer (plr_osnet.md §3, §9.8).
        seed: seeds the N(0, 1) init (None: the global RNG).
    """

    def __init__(self, num_classes: int, dim: int, learnable: bool = True, seed: int | None = None):
        super().__init__()
        if num_classes <= 0 or dim <= 0:
            raise ValueError(f"CenterLoss needs num_classes > 0 and dim > 0, got {num_classes}, {dim}")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        centers = torch.randn(num_classes, dim, generator=gen)
        if learnable:
            self.centers = nn.Parameter(centers)
        else:
            self.register_buffer("centers", centers)

    def forward(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if feats.dim() != 2 or feats.shape[1] != self.centers.shape[1]:
            raise ValueError(f"CenterLoss expects features (N, {self.centers.shape[1]}), got {tuple(feats.shape)}")
        d2 = (feats.float() - self.centers[labels].float()).pow(2).sum(1)
        return d2.clamp(1e-12, 1e12).mean()


__all__ = ["CenterLoss"]
