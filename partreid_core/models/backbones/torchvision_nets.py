"""MobileNetV2 and DenseNet-121 trunks from torchvision, for PAL-F7 (the PS head across backbones).

PAL's Fig. 7 adds the PS head to GlobalPool on ResNet-50, MobileNetV2, DenseNet-121 and OSNet. These
wrappers keep torchvision's module names under ``features`` (so its ImageNet state dicts load, classifier
dropped) and expose the backbone interface: ``forward`` (N, 3, H, W) -> (N, C, H/16, W/16) with
``last_stride=1`` (the ReID convention, as the ResNet-50 here) or H/32 with 2, ``out_channels`` and ``blocks()``.

``width`` scales the channels as the ``cpu`` profile does for ResNet-50: MobileNetV2's ``width_mult``
(torchvision keeps its final 1x1 conv at 1280 channels for widths below 1), DenseNet's growth rate and
stem width (32 and 64 at width 1).
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from .synth_trunks import load_pretrained


class _FeaturesTrunk(nn.Module):
    """A torchvision ``features`` Sequential as a backbone: features -> (optional ReLU)."""

    def __init__(self, features: nn.Sequential, out_channels: int, final_relu: bool):
        super().__init__()
        self.features = features
        self.out_channels = out_channels
        self.final_relu = final_relu

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return [(f"features.{name}", m) for name, m in self.features.named_children()]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return F.relu(x) if self.final_relu else x  # DenseNet's forward applies this ReLU after norm5


def mobilenet_v2(width: float = 1.0, last_stride: int = 1, pretrained: bool | str = False) -> _FeaturesTrunk:
    """MobileNetV2 trunk: (N, 3, H, W) -> (N, 1280 * max(1, width), H/16, W/16) at ``last_stride=1``."""
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    if last_stride not in (1, 2):
        raise ValueError(f"mobilenet_v2: last_stride must be 1 or 2, got {last_stride}")
    net = tv_mobilenet_v2(weights=None, width_mult=width)
    load_pretrained(net, "mobilenet_v2", width, pretrained)   # before the stride change (weights only)
    if last_stride == 1:
        # the last stride-2 block opens the 160-channel stage (features[14]); its depthwise conv sets the stride
        block = net.features[14]
        block.conv[1][0].stride = (1, 1)
    return _FeaturesTrunk(net.features, net.last_channel, final_relu=False)


def _densenet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old DenseNet checkpoints name ``norm.1`` what torchvision now calls ``norm1`` (torchvision does the same fix)."""
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
                         r"((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    out = {}
    for k, v in state.items():
        m = pattern.match(k)
        out[m.group(1) + m.group(2) if m else k] = v
    return out


def densenet121(width: float = 1.0, last_stride: int = 1, pretrained: bool | str = False) -> _FeaturesTrunk:
    """DenseNet-121 trunk: (N, 3, H, W) -> (N, C, H/16, W/16) at ``last_stride=1``; C = 1024 at width 1."""
    from torchvision.models import DenseNet

    if last_stride not in (1, 2):
        raise ValueError(f"densenet121: last_stride must be 1 or 2, got {last_stride}")
    growth, stem = max(4, int(round(32 * width))), max(8, int(round(64 * width)))
    net = DenseNet(growth_rate=growth, block_config=(6, 12, 24, 16), num_init_features=stem)
    load_pretrained(net, "densenet121", width, pretrained, key_map=_densenet_keys)
    if last_stride == 1:
        net.features.transition3.pool = nn.Identity()  # the last 2x2 average pool halves the map
    return _FeaturesTrunk(net.features, net.classifier.in_features, final_relu=True)


__all__ = ["densenet121", "mobilenet_v2"]
