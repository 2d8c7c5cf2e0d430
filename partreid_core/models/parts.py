"""Small components the models are built from: pooling, BNNeck, reduction, classifiers.

Each takes explicit arguments (detectron2's second layer), so a paper's model file reads
as a composition of these.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def init_kaiming(m: nn.Module) -> None:
    """Kaiming init for conv/linear (fan_out for convs as in torchvision), BN to (1, 0)."""
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, mode="fan_out")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def init_classifier(m: nn.Module) -> None:
    """Classifier init used by BoT/MGN: N(0, 0.001), zero bias."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.001)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class GeneralizedPool(nn.Module):
    """Global pooling over (H, W): ``mode`` in {"avg", "max", "avgmax"} (avg + max, as MGN variants use).

    Input (N, C, H, W) -> (N, C).
    """

    def __init__(self, mode: str = "avg"):
        super().__init__()
        if mode not in ("avg", "max", "avgmax"):
            raise ValueError(f"pool mode must be avg, max or avgmax, got {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "avg":
            return x.mean((2, 3))
        if self.mode == "max":
            return x.amax((2, 3))
        return x.mean((2, 3)) + x.amax((2, 3))


def horizontal_stripes(x: torch.Tensor, n: int, mode: str = "avg") -> torch.Tensor:
    """Pool a feature map into ``n`` equal horizontal stripes.

    Input (N, C, H, W) -> (N, n, C). ``H`` need not be divisible by ``n`` (adaptive bins).
    """
    if mode == "avg":
        p = F.adaptive_avg_pool2d(x, (n, 1))
    elif mode == "max":
        p = F.adaptive_max_pool2d(x, (n, 1))
    else:
        raise ValueError(f"stripe pool mode must be avg or max, got {mode!r}")
    return p.squeeze(3).transpose(1, 2)


class BNNeck(nn.Module):
    """BoT's BNNeck: a BatchNorm1d without learnable shift between the triplet and ID features.

    Input (N, d) -> (N, d). The bias is frozen at 0 (Luo et al. 2019).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)
        init_kaiming(self.bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x)


class Reduction(nn.Module):
    """1x1 conv (as a Linear on pooled features) + BN (+ ReLU): MGN/PCB's 2048 -> 256 reduction.

    Input (N, c_in) -> (N, c_out).
    """

    def __init__(self, c_in: int, c_out: int, relu: bool = True):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(c_in, c_out, bias=False), nn.BatchNorm1d(c_out)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        self.body.apply(init_kaiming)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Classifier(nn.Linear):
    """ID classifier (N, d) -> (N, num_classes), initialised N(0, 0.001)."""

    def __init__(self, dim: int, num_classes: int, bias: bool = False):
        super().__init__(dim, num_classes, bias=bias)
        init_classifier(self)
