"""Checks the model tests share."""
from __future__ import annotations

import torch
from torch import nn


def params_without_gradient(model: nn.Module) -> list[str]:
    """Names of trainable parameters whose gradient (after a backward) is missing, non-finite or all zero."""
    return [n for n, p in model.named_parameters()
            if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0)]
