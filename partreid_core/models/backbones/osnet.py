"""OSNet (Zhou et al., "Omni-Scale Feature Learning for Person Re-Identification", ICCV 2019).

The omni-scale network as PLR-OSNet uses it (spec ``plr_osnet.md`` §2.1-2.2), with
torchreid's module tree, so the state-dict keys are torchreid's (``conv1.conv.weight``,
``conv2.0.conv2b.1.conv2.weight``, ``conv2.2.0.conv.weight`` for the first transition,
``conv5.bn.running_var`` ...) and torchreid's ImageNet checkpoints
(``osnet_x1_0_imagenet.pth`` ...) load into it. Their ``fc.*``/``classifier.*`` keys (the
ImageNet head) are dropped by :func:`load_imagenet_weights`: the backbone ends at conv5 and
every re-ID head is new.

Stages for an input (N, 3, 256, 128), x1.0 channels ``[64, 256, 384, 512]``:

=========  ==========================================================  ================
stage      layers                                                      output
=========  ==========================================================  ================
conv1      ConvLayer(3, 64, 7, s2, p3)                                 64 x 128 x 64
maxpool    MaxPool 3x3 s2 p1                                           64 x 64 x 32
conv2      OSBlock(64, 256), OSBlock(256, 256), transition             256 x 32 x 16
conv3      OSBlock(256, 384), OSBlock(384, 384), transition            384 x 16 x 8
conv4      OSBlock(384, 512), OSBlock(512, 512) (no transition)        512 x 16 x 8
conv5      Conv1x1(512, 512)                                           512 x 16 x 8
=========  ==========================================================  ================

The transition is ``Conv1x1(c, c)`` then ``AvgPool2d(2, 2)``; output stride 16 (conv4 has
no down-sampling, so ``BackboneConfig.last_stride`` must stay 1). Parameters of the x1.0
backbone: 1,905,828 (conv1 9,536; conv2 234,632; conv3 592,332; conv4 806,160; conv5
263,168), i.e. OSNet's "2.2M" once the 512-d re-ID head (263,680) is added: see
:mod:`partreid_core.models.osnet_reid` and PLR-M1.

Width. The four published widths are registered as ``osnet_x1_0`` ... ``osnet_x0_25``.
``BackboneConfig.width`` multiplies the channel list once more (the ``cpu`` profile) and
each channel count is rounded to a multiple of 16, the grid the published widths lie on,
so ``osnet_x1_0`` at ``width=0.25`` is exactly ``osnet_x0_25``. ImageNet weights exist
only for the published widths (``width=1.0``).

Instance normalisation (OSNet-IBN, OSNet-AIN) is not implemented: x1.0 does not use it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import BACKBONES, BackboneConfig
from .synth_trunks import load_pretrained

#: Channel lists of the published widths (torchreid / OSNet paper).
OSNET_CHANNELS: dict[str, tuple[int, int, int, int]] = {
    "osnet_x1_0": (64, 256, 384, 512),
    "osnet_x0_75": (48, 192, 288, 384),
    "osnet_x0_5": (32, 128, 192, 256),
    "osnet_x0_25": (16, 64, 96, 128),
}


class ConvLayer(nn.Module):
    """k x k conv (no bias) -> BN -> ReLU. (N, c_in, H, W) -> (N, c_out, H/s, W/s)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1(nn.Module):
    """1x1 conv -> BN -> ReLU. (N, c_in, H, W) -> (N, c_out, H, W)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Conv1x1Linear(nn.Module):
    """1x1 conv -> BN, no activation (the residual projection and OSBlock's last layer)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class LightConv3x3(nn.Module):
    """OSNet's "Lite 3x3": pointwise 1x1 (linear) -> depthwise 3x3 -> BN -> ReLU. Shape-preserving."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False, groups=c_out)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv2(self.conv1(x))))


class ChannelGate(nn.Module):
    """The unified aggregation gate (AG): ``x * sigmoid(fc2(relu(fc1(avgpool(x)))))``.

    (N, C, H, W) -> (N, C, H, W); fc1/fc2 are 1x1 convs with bias, reduction 16. The
    hidden width is clamped to >= 1 so very narrow ``cpu``-profile widths still build (the
    published widths never hit the clamp).
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=True)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.gate_activation(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))
        return x * g


class OSBlock(nn.Module):
    """Omni-scale residual bottleneck. (N, c_in, H, W) -> (N, c_out, H, W).

    Four streams of 1..4 stacked Lite 3x3 layers (receptive fields 3, 5, 7, 9) on a
    ``c_out // 4`` bottleneck, fused by one gate **shared** by the four streams (the gate is
    recomputed from each stream's own input, so the fusion weights are input-dependent).
    """

    def __init__(self, c_in: int, c_out: int, bottleneck_reduction: int = 4):
        super().__init__()
        mid = c_out // bottleneck_reduction
        self.conv1 = Conv1x1(c_in, mid)
        self.conv2a = LightConv3x3(mid, mid)
        self.conv2b = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(2)])
        self.conv2c = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(3)])
        self.conv2d = nn.Sequential(*[LightConv3x3(mid, mid) for _ in range(4)])
        self.gate = ChannelGate(mid)
        self.conv3 = Conv1x1Linear(mid, c_out)
        self.downsample = Conv1x1Linear(c_in, c_out) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.conv1(x)
        x2 = (self.gate(self.conv2a(x1)) + self.gate(self.conv2b(x1))
              + self.gate(self.conv2c(x1)) + self.gate(self.conv2d(x1)))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv3(x2) + identity)


def _make_stage(c_in: int, c_out: int, n_blocks: int, transition: bool) -> nn.Sequential:
    """``n_blocks`` OSBlocks, then (optionally) the transition Conv1x1 + AvgPool 2x2 as the last entry."""
    layers: list[nn.Module] = [OSBlock(c_in, c_out)]
    layers += [OSBlock(c_out, c_out) for _ in range(n_blocks - 1)]
    if transition:
        layers.append(nn.Sequential(Conv1x1(c_out, c_out), nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)


def scale_channels(channels: tuple[int, ...], width: float) -> tuple[int, ...]:
    """Multiply ``channels`` by ``width`` and round each to a multiple of 16 (at least 16)."""
    if width <= 0:
        raise ValueError(f"backbone width must be > 0, got {width}")
    return tuple(max(16, int(round(c * width / 16)) * 16) for c in channels)


class OSNet(nn.Module):
    """OSNet trunk conv1..conv5: (N, 3, H, W) -> (N, C, H/16, W/16), ``C = channels[3]``.

    Args:
        channels: (stem, conv2, conv3, conv4/conv5) output channels.
        layers: OSBlocks per stage (2, 2, 2 in every published width).
    """

    def __init__(self, channels: tuple[int, int, int, int] = (64, 256, 384, 512),
                 layers: tuple[int, int, int] = (2, 2, 2)):
        super().__init__()
        self.channels = tuple(channels)
        self.conv1 = ConvLayer(3, channels[0], 7, stride=2, padding=3)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = _make_stage(channels[0], channels[1], layers[0], transition=True)
        self.conv3 = _make_stage(channels[1], channels[2], layers[1], transition=True)
        self.conv4 = _make_stage(channels[2], channels[3], layers[2], transition=False)
        self.conv5 = Conv1x1(channels[3], channels[3])
        self.out_channels = channels[3]
        self.stage_channels = [channels[1], channels[2], channels[3], channels[3]]
        self._init_params()

    def _init_params(self) -> None:
        # OSNet's from-scratch init (spec 2.2): conv kaiming fan_out, BN (1, 0)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def blocks(self) -> list[tuple[str, nn.Module]]:
        """The network as ordered (name, module) pairs at block granularity.

        ``stem`` (conv1 + maxpool), ``conv2.0``, ``conv2.1``, ``conv2.2`` (transition 1),
        ``conv3.0``, ``conv3.1``, ``conv3.2`` (transition 2), ``conv4.0``, ``conv4.1``,
        ``conv5``. Every name but ``stem`` is the module's path in this model (and in
        torchreid's), so PLR-OSNet's split "shared up to conv3, branch from conv4.0" reads
        ``split_blocks(backbone.blocks(), "conv4.0")``.
        """
        out: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(self.conv1, self.maxpool))]
        for stage in ("conv2", "conv3", "conv4"):
            out += [(f"{stage}.{j}", b) for j, b in enumerate(getattr(self, stage))]
        out.append(("conv5", self.conv5))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.conv4(self.conv3(self.conv2(x))))


def osnet(arch: str = "osnet_x1_0", width: float = 1.0, pretrained: bool | str = False) -> OSNet:
    """Build a published OSNet width, optionally scaled by ``width``, optionally with ImageNet weights.

    ``pretrained``: False, True (``PARTREID_WEIGHTS`` / torch cache, file ``<arch>_imagenet.pth``),
    ``"synth"`` (the SynthReID-P trunk of ``arch`` at ``width``) or a path to a checkpoint.
    """
    if arch not in OSNET_CHANNELS:
        raise KeyError(f"unknown OSNet variant {arch!r}; known: {', '.join(OSNET_CHANNELS)}")
    channels = OSNET_CHANNELS[arch] if width == 1.0 else scale_channels(OSNET_CHANNELS[arch], width)
    model = OSNet(channels)  # type: ignore[arg-type]
    return load_pretrained(model, arch, width, pretrained)


def _register(arch: str) -> None:
    def build(cfg: BackboneConfig) -> OSNet:
        if cfg.last_stride != 1:
            raise ValueError(
                f"backbone {cfg.name!r}: OSNet has no stride in conv4 (output stride 16); "
                f"last_stride must be 1, got {cfg.last_stride}")
        return osnet(arch, width=cfg.width, pretrained=cfg.pretrained)

    c = OSNET_CHANNELS[arch]
    build.__doc__ = f"OSNet {arch.removeprefix('osnet_')} (channels {list(c)}; torchreid names), output stride 16."
    BACKBONES.register(arch)(build)


for _arch in OSNET_CHANNELS:
    _register(_arch)

__all__ = ["OSNet", "OSBlock", "ChannelGate", "LightConv3x3", "Conv1x1", "Conv1x1Linear", "ConvLayer",
           "OSNET_CHANNELS", "osnet", "scale_channels"]
