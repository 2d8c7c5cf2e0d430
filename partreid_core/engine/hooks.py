"""Analysis hooks: named functions run once at the end of training whose arrays go to ``analysis.npz``.

A hook receives an :class:`AnalysisContext` and returns ``{array_name: np.ndarray}``; the
engine stores each array as ``"<hook>/<array_name>"`` in the run's ``analysis.npz`` (keep
them small: the whole file should stay within a few MB). Register one with::

    @register_hook("part_similarity")
    def part_similarity(ctx: AnalysisContext) -> dict[str, np.ndarray]: ...
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..analysis.part_similarity import part_similarity_matrix, per_image_off_diagonal
from ..data.transforms import normalize
from ..data.types import SplitTensors
from ..registry import Registry

HOOKS: Registry[Callable[..., dict]] = Registry("analysis hook")


def register_hook(name: str):
    return HOOKS.register(name)


@dataclass
class AnalysisContext:
    """What a hook can use: the trained model (eval mode), the decoded splits, the config."""

    model: torch.nn.Module
    train: SplitTensors
    query: SplitTensors
    gallery: SplitTensors
    config: Any
    device: torch.device
    amp_dtype: torch.dtype | None = None


def run_hooks(names: list[str], ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """Run the named hooks; returns the merged ``"<hook>/<array>"`` dict."""
    from ..analysis import chapter_hooks  # noqa: F401  (registers the chapters' hooks)

    out: dict[str, np.ndarray] = {}
    for name in names:
        arrays = HOOKS.get(name).builder(ctx)
        for k, v in arrays.items():
            out[f"{name}/{k}"] = np.asarray(v)
    return out


@contextmanager
def eval_mode(model: torch.nn.Module):
    """Within the block the model is in eval mode; the mode it had before is restored after, even on error."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


@contextmanager
def bn_eval_forward(model: torch.nn.Module):
    """Within the block the model gives its training-mode forward (``ModelOutput`` with ``aux``) while every
    BN and dropout layer is in eval mode: running statistics are used and nothing is updated."""
    was = model.training
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) or isinstance(m, torch.nn.Dropout):
            m.eval()
    try:
        yield model
    finally:
        model.train(was)


@torch.no_grad()
def training_outputs(model: torch.nn.Module, split: SplitTensors, device: torch.device, batch_size: int = 128,
                     limit: int | None = None):
    """Train-mode forward outputs (``ModelOutput``) for a split, with BN in eval mode (running stats),
    yielded batch by batch; for analyses that need ``aux`` tensors such as ``part_features``."""
    n = len(split) if limit is None else min(limit, len(split))
    with bn_eval_forward(model):
        for s in range(0, n, batch_size):
            idx = torch.arange(s, min(n, s + batch_size))
            images = normalize(split.images[idx].to(device))
            masks = None if split.masks is None else split.masks[idx].to(device).long()
            kps = None if split.keypoints is None else split.keypoints[idx].to(device)
            yield model(images, masks=masks, keypoints=kps)


@register_hook("part_similarity")
def part_similarity(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """Mean cosine similarity between the part features of one image (PAL-F9 style), on the query split.

    Needs ``ModelOutput.aux["part_features"]`` (N, P, d). Returns ``matrix`` (P, P), the mean
    over images of the per-image part-part cosine similarity, and ``per_image_mean`` (N,), the
    mean off-diagonal similarity of each image. Models without part features return nothing.
    """
    feats = []
    for out in training_outputs(ctx.model, ctx.query, ctx.device, limit=2000):
        pf = out.aux.get("part_features") if hasattr(out, "aux") else None
        if pf is None:
            return {}
        feats.append(pf.float().cpu())
    pf = torch.cat(feats)
    return {"matrix": part_similarity_matrix(pf).numpy(),
            "per_image_mean": per_image_off_diagonal(pf).numpy().astype(np.float32)}
