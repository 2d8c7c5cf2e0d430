"""Grad-CAM for ReID models (pytorch-grad-cam) and how CAM mass falls on body parts.

Used by PAL-F10 (MGN vs MGN+PS), CGPN-X2 (upper/lower global heads), MPN-X4 (per part task)
and PLR-F4 (global vs local branch). Part statistics are scored against exact masks.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn


class ScoreModel(nn.Module):
    """Wrap ``fn(images) -> (N, K)`` scores as an ``nn.Module`` for pytorch-grad-cam."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], owner: nn.Module):
        super().__init__()
        self.owner = owner  # registered so .zero_grad()/.eval() reach the real model
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def grad_cam(score_fn: Callable[[torch.Tensor], torch.Tensor], owner: nn.Module, target_layer: nn.Module,
             images: torch.Tensor, targets: Sequence[int] | None = None) -> np.ndarray:
    """Standard Grad-CAM maps in [0, 1] at input resolution.

    Args:
        score_fn: maps float images (N, 3, H, W) to scores (N, K), e.g. a branch's ID logits.
        owner: the model ``score_fn`` belongs to (kept in eval mode).
        target_layer: the module whose output activations are weighted (e.g. a branch's last stage).
        images: normalised float images (N, 3, H, W).
        targets: the score index per image (e.g. the ground-truth identity); None = the top-1 score.
    Returns:
        (N, H, W) float32 CAMs, each min-max normalised by pytorch-grad-cam.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    was_training = owner.training
    owner.eval()
    try:
        wrapper = ScoreModel(score_fn, owner)
        tg = None if targets is None else [ClassifierOutputTarget(int(t)) for t in targets]
        with GradCAM(model=wrapper, target_layers=[target_layer]) as cam:
            maps = cam(input_tensor=images, targets=tg)
    finally:
        owner.train(was_training)
    return maps.astype(np.float32)


def cam_part_statistics(cams: np.ndarray | torch.Tensor, masks: np.ndarray | torch.Tensor,
                        num_classes: int = 8, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Where the CAM falls, per image, given 8-class part masks (0 = background).

    PAL-F10's quantitative companion:
      * ``coverage``: number of the body parts (classes 1..num_classes-1 present in the mask)
        whose mean CAM value is above ``threshold``;
      * ``entropy``: entropy (nats) of the CAM mass distribution over the present body parts;
      * ``body_mass``: fraction of the total CAM mass on body pixels;
      * ``part_mass``: (N, num_classes) fraction of CAM mass per class.

    Args:
        cams: (N, H, W) in [0, 1]. masks: (N, H, W) integer labels (255 = unlabelled, ignored).
    """
    cams = torch.as_tensor(np.asarray(cams), dtype=torch.float64)
    masks = torch.as_tensor(np.asarray(masks)).long()
    if cams.shape != masks.shape:
        raise ValueError(f"cams {tuple(cams.shape)} and masks {tuple(masks.shape)} differ")
    n = cams.shape[0]
    valid = masks != 255
    lab = masks.clamp(0, num_classes - 1).view(n, -1)
    w = (cams * valid).view(n, -1)
    mass = torch.zeros(n, num_classes, dtype=torch.float64).scatter_add_(1, lab, w)
    area = torch.zeros(n, num_classes, dtype=torch.float64).scatter_add_(1, lab, valid.view(n, -1).double())
    present = area[:, 1:] > 0
    mean_cam = mass[:, 1:] / area[:, 1:].clamp_min(1)
    coverage = ((mean_cam > threshold) & present).sum(1)
    body = mass[:, 1:] * present
    p = body / body.sum(1, keepdim=True).clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(1)
    total = mass.sum(1).clamp_min(1e-12)
    return {
        "coverage": coverage.numpy(),
        "entropy": entropy.numpy(),
        "body_mass": (body.sum(1) / total).numpy(),
        "part_mass": (mass / total[:, None]).numpy(),
    }
