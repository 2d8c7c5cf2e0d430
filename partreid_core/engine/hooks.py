"""The trainer's hook interface, after detectron2's ``HookBase``, and generic helpers for hooks.

A hook is an object handed to :func:`partreid_core.engine.trainer.train` (``hooks=[...]``). Training calls
``hook.after_train(ctx)`` once, after the final evaluation, with an :class:`AnalysisContext`; the
``{array_name: np.ndarray}`` it returns is stored as ``"<hook.name>/<array_name>"`` in the run's
``analysis.npz`` (keep them small: the whole file should stay within a few MB)::

    class PartSimilarity(HookBase):
        name = "part_similarity"

        def after_train(self, ctx: AnalysisContext) -> dict[str, np.ndarray]: ...

The engine holds no hooks of its own and no name -> hook registry: the names a config lists under
``analysis:`` are resolved into hook objects by :mod:`partreid_core.analysis.hooks` (``build_hooks``), which
the experiments layer calls (:func:`partreid_core.experiments.runs.train_experiment`).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.transforms import normalize
from ..data.types import SplitTensors


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


class HookBase:
    """Base class of the trainer's hooks: override the points you need.

    ``name`` is the prefix of the hook's arrays in ``analysis.npz`` and the name a config's ``analysis:`` list
    gives it (:func:`check_hooks`).
    """

    name: str = ""

    def after_train(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        """Called once on rank 0 after the final evaluation, the model in eval mode; returns arrays for the record."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def check_hooks(names: Sequence[str], hooks: Sequence[HookBase]) -> None:
    """Raise ValueError unless every name in ``names`` (a config's ``analysis:`` list) has a hook of that name.

    A config that names hooks must come with their objects: the engine does not look names up, so a run
    trained without them would write a record that lacks the arrays its config promises.
    """
    given = {h.name for h in hooks}
    missing = [n for n in names if n not in given]
    if missing:
        raise ValueError(
            f"the config names analysis hooks {missing} but train() was given "
            f"{sorted(given) if given else 'no hook objects'}: train a config with named hooks through "
            "partreid_core.experiments.runs.train_experiment (which builds them from analysis:), or pass "
            "hooks=partreid_core.analysis.hooks.build_hooks(cfg.analysis)")


def run_after_train(hooks: Sequence[HookBase], ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """Every hook's ``after_train(ctx)``, in order, merged as ``{"<hook.name>/<array>": np.ndarray}``."""
    out: dict[str, np.ndarray] = {}
    for hook in hooks:
        for k, v in hook.after_train(ctx).items():
            out[f"{hook.name}/{k}"] = np.asarray(v)
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
                     limit: int | None = None) -> Iterator[Any]:
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


__all__ = ["AnalysisContext", "HookBase", "check_hooks", "run_after_train", "eval_mode", "bn_eval_forward",
           "training_outputs"]
