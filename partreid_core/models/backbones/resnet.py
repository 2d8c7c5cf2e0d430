"""ResNet-50 (bottleneck) with torchvision's parameter names, a last-stride option and a width multiplier.

``width=1.0`` is exactly torchvision's ``resnet50`` (its ImageNet state dict loads with
``strict=True``). ``width<1`` keeps the topology (3-4-6-3 bottlenecks, 4x expansion, the
same strides) with every channel count scaled, so any head written for ResNet-50 works
unchanged on the narrow ``cpu``-profile backbone.
"""
from __future__ import annotations

import torch
from torch import nn

from .synth_trunks import load_pretrained


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


def conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 1, stride, bias=False)


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 conv, "ResNet v1.5")."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(c_in, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def undo_zero_init(model: nn.Module) -> nn.Module:
    """Set the last BN weight of every bottleneck (zero at init) to 1, in place; returns ``model``.

    An untrained ResNet starts each residual branch at zero, so gradients flow only through the
    shortcuts: analyses of an untrained network's receptive fields (RMGL-X1) and gradient checks
    that every conv is on the signal path need the branches switched on.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight.fill_(1.0)
    return model


def set_block_stride(block: Bottleneck, stride: int) -> None:
    """Change a bottleneck's stride in place (3x3 conv and the downsample 1x1 conv)."""
    block.conv2.stride = (stride, stride)
    if block.downsample is not None:
        block.downsample[0].stride = (stride, stride)


class ResNet(nn.Module):
    """Bottleneck ResNet; ``forward`` maps (N, 3, H, W) -> (N, C5, H/s, W/s) with s = 16 or 32.

    Args:
        layers: bottlenecks per stage (3, 4, 6, 3 for ResNet-50).
        width: channel multiplier (1.0 = torchvision).
        last_stride: stride of ``layer4`` (1 gives the output stride 16 every spec uses).
        zero_init_residual: start the last BN weight of every bottleneck at zero (torchvision: False).
    """

    def __init__(self, layers: tuple[int, ...] = (3, 4, 6, 3), width: float = 1.0, last_stride: int = 1,
                 zero_init_residual: bool = True):
        super().__init__()
        base = max(8, int(round(64 * width)))
        self.width = width
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = base
        self.stage_channels: list[int] = []
        for i, (n, stride) in enumerate(zip(layers, (1, 2, 2, last_stride), strict=True)):
            planes = base * 2**i
            down = None
            if stride != 1 or c_in != planes * 4:
                down = nn.Sequential(conv1x1(c_in, planes * 4, stride), nn.BatchNorm2d(planes * 4))
            blocks = [Bottleneck(c_in, planes, stride, down)]
            c_in = planes * 4
            blocks += [Bottleneck(c_in, planes) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            self.stage_channels.append(c_in)
        self.out_channels = c_in
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # zero-init the last BN of each residual branch: each block starts as identity, which
        # trains from scratch (no ImageNet weights here) noticeably more stably
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The network as an ordered list of (name, module) at block granularity.

        ``stem`` first, then ``layer1.0`` ... ``layer4.2``. Multi-branch models cut this
        list with :func:`partreid_core.models.backbones.split_blocks`.
        """
        stem = nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool)
        out: list[tuple[str, nn.Module]] = [("stem", stem)]
        for i in range(1, 5):
            layer = getattr(self, f"layer{i}")
            out += [(f"layer{i}.{j}", b) for j, b in enumerate(layer)]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def resnet50(width: float = 1.0, last_stride: int = 1, pretrained: bool | str = False,
             zero_init_residual: bool = True) -> ResNet:
    """ResNet-50. ``pretrained``: False, True (ImageNet, torch cache), ``"synth"`` (the SynthReID-P trunk of
    this width) or a path to a state dict (:mod:`.synth_trunks`).

    ImageNet weights exist only for ``width=1.0``; asking for them at another width is an error.
    """
    model = ResNet((3, 4, 6, 3), width=width, last_stride=last_stride, zero_init_residual=zero_init_residual)
    return load_pretrained(model, "resnet50", width, pretrained)
