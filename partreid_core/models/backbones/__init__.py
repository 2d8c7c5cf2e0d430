"""Backbones behind a registry, with a block-level splitting interface for multi-branch models.

Every backbone exposes ``blocks()`` (ordered ``(name, module)`` pairs), ``out_channels``
and a ``forward`` from images (N, 3, H, W) to the last feature map.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from ...registry import Registry
from .resnet import ResNet, resnet50, set_block_stride, undo_zero_init
from .synth_trunks import load_pretrained, pretrain_command, trunk_path, trunk_provenance, weights_dir
from .torchvision_nets import densenet121, mobilenet_v2
from .weights import PROVENANCE_TAG, load_imagenet_weights, mark_provenance, pretrained_provenance

BACKBONES: Registry[nn.Module] = Registry("backbone")

#: Attribute set on every parameter a backbone builder creates (and kept by :func:`clone`), so the
#: engine can give backbone weights their own learning rate however a model rearranges the stages
#: (MGN's per-branch copies of layer3/layer4, PAL's wrappers, PLR's duplicated conv4/conv5).
BACKBONE_TAG = "_partreid_backbone"


def is_backbone_param(p: nn.Parameter) -> bool:
    return getattr(p, BACKBONE_TAG, False)


@dataclass
class BackboneConfig:
    """Which backbone a model uses.

    ``width`` scales every channel (the ``cpu`` profile uses narrow backbones with the
    paper's topology); ``pretrained`` is False, True (ImageNet: look in ``PARTREID_WEIGHTS`` / the
    torch cache), ``"synth"`` (the SynthReID-P trunk of this name and width, :mod:`.synth_trunks`;
    the ``cpu-ft`` profile) or a path to a local state dict. ``zero_init_residual`` (ResNet only) starts
    the last BN of every bottleneck at zero, so each block starts as the identity: on here (every
    ``cpu``/``smoke`` record was trained so); torchvision's default, off, is what the ``gpu`` profile sets.
    Loaded weights overwrite those BN weights, so the option only matters from scratch.
    """

    name: str = "resnet50"
    width: float = 1.0
    last_stride: int = 1
    pretrained: bool | str = False
    zero_init_residual: bool = True


@BACKBONES.register("resnet50")
def _build_resnet50(cfg: BackboneConfig) -> ResNet:
    """ResNet-50 (torchvision parameter names), optional width multiplier and last stride."""
    return resnet50(width=cfg.width, last_stride=cfg.last_stride, pretrained=cfg.pretrained,
                    zero_init_residual=cfg.zero_init_residual)


@BACKBONES.register("mobilenet_v2")
def _build_mobilenet_v2(cfg: BackboneConfig) -> nn.Module:
    """MobileNetV2 (torchvision names), width multiplier, last stride 1 or 2 (PAL-F7)."""
    return mobilenet_v2(width=cfg.width, last_stride=cfg.last_stride, pretrained=cfg.pretrained)


@BACKBONES.register("densenet121")
def _build_densenet121(cfg: BackboneConfig) -> nn.Module:
    """DenseNet-121 (torchvision names), growth rate and stem scaled by width, last stride 1 or 2 (PAL-F7)."""
    return densenet121(width=cfg.width, last_stride=cfg.last_stride, pretrained=cfg.pretrained)


def build_backbone(cfg: BackboneConfig) -> nn.Module:
    """The backbone ``cfg`` names, its parameters tagged as backbone parameters."""
    model = BACKBONES.build(cfg.name, cfg)
    for p in model.parameters():
        setattr(p, BACKBONE_TAG, True)
    return model


def split_blocks(blocks: list[tuple[str, nn.Module]], first_branch_block: str) -> tuple[nn.Sequential, nn.Sequential]:
    """Cut an ordered block list into (shared trunk, tail) before ``first_branch_block``.

    MGN, for example, shares everything before ``"layer3.1"`` and gives each branch its own
    copy of the tail (:func:`clone`). The returned modules share parameters with the
    backbone they came from.
    """
    names = [n for n, _ in blocks]
    if first_branch_block not in names:
        raise KeyError(f"no block {first_branch_block!r}; blocks are {names}")
    i = names.index(first_branch_block)
    return (nn.Sequential(*[m for _, m in blocks[:i]]), nn.Sequential(*[m for _, m in blocks[i:]]))


def clone(module: nn.Module) -> nn.Module:
    """An independent copy (own parameters) of ``module``, for per-branch tails; backbone tags are kept."""
    copied = copy.deepcopy(module)
    for src, dst in zip(module.parameters(), copied.parameters(), strict=True):
        if is_backbone_param(src):
            setattr(dst, BACKBONE_TAG, True)
        if getattr(src, PROVENANCE_TAG, None):  # a copy of loaded weights reports where they came from
            setattr(dst, PROVENANCE_TAG, getattr(src, PROVENANCE_TAG))
    return copied


# OSNet registers its variants on import (kept last: it imports BACKBONES from here).
from . import osnet  # noqa: E402,F401

__all__ = ["BACKBONES", "BACKBONE_TAG", "is_backbone_param", "BackboneConfig", "build_backbone", "ResNet", "resnet50",
           "set_block_stride", "undo_zero_init",
           "load_imagenet_weights", "load_pretrained", "mark_provenance", "pretrain_command", "pretrained_provenance",
           "trunk_path", "trunk_provenance", "weights_dir", "split_blocks", "clone"]
