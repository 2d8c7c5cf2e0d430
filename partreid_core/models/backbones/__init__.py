"""Backbones with a block-level splitting interface for multi-branch models."""
from __future__ import annotations

import copy

from torch import nn

from .resnet import ResNet, resnet50, set_block_stride
from .weights import load_imagenet_weights


def split_blocks(blocks: list[tuple[str, nn.Module]], first_branch_block: str) -> tuple[nn.Sequential, nn.Sequential]:
    """Cut an ordered block list into (shared trunk, tail) before ``first_branch_block``.

    MGN, for example, shares everything before ``"layer3.1"`` and gives each branch its own
    copy of the tail (``copy.deepcopy(tail)``). The returned modules share parameters with
    the backbone they came from.
    """
    names = [n for n, _ in blocks]
    if first_branch_block not in names:
        raise KeyError(f"no block {first_branch_block!r}; blocks are {names}")
    i = names.index(first_branch_block)
    return (nn.Sequential(*[m for _, m in blocks[:i]]), nn.Sequential(*[m for _, m in blocks[i:]]))


def clone(module: nn.Module) -> nn.Module:
    """An independent copy (own parameters) of ``module``, for per-branch tails."""
    return copy.deepcopy(module)


__all__ = ["ResNet", "resnet50", "set_block_stride", "load_imagenet_weights", "split_blocks", "clone"]
