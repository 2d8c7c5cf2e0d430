"""Input-gradient saliency: which input rows does a feature depend on? (RMGL-X1)"""
from __future__ import annotations

from collections.abc import Callable

import torch


def input_gradient_rows(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """Row profile of |d ||fn(x)||^2 / d x|, normalised to sum to 1 per image.

    Args:
        fn: maps images (N, 3, H, W) to any tensor with N leading (e.g. one stripe feature (N, d)).
        images: float (N, 3, H, W).
    Returns:
        (N, H) float32: the share of gradient magnitude in each image row.
    """
    x = images.detach().clone().requires_grad_(True)
    out = fn(x)
    (grad,) = torch.autograd.grad(out.float().pow(2).sum(), x)
    rows = grad.abs().sum(dim=(1, 3))
    return (rows / rows.sum(1, keepdim=True).clamp_min(1e-12)).float()
