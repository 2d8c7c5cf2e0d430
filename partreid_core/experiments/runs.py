"""Training a resolved config with its named analysis hooks: the experiments layer's entry to the engine.

A config lists hook names under ``analysis:``; the engine takes hook objects only
(:func:`partreid_core.engine.trainer.train` refuses a config whose names it was not given objects for).
:func:`train_experiment` builds them from the names (:func:`partreid_core.analysis.hooks.build_hooks`, in the
config's order, so ``analysis.npz`` keeps its ``"<hook>/<array>"`` keys) and trains. Every caller that trains
a recipe's config goes through it: ``partreid train``, sweeps (:mod:`.sweep`), cluster jobs (:mod:`.launchers`),
the chapters and their tests.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..analysis.hooks import build_hooks
from ..engine.config import ExperimentConfig
from ..engine.hooks import HookBase
from ..engine.trainer import RunResult, train


def train_experiment(cfg: ExperimentConfig, out: str | Path = "results", *, hooks: Sequence[HookBase] = (),
                     **train_kwargs: Any) -> RunResult:
    """Train ``cfg`` with a hook object per name in ``cfg.analysis`` (then ``hooks``, extra objects).

    ``train_kwargs`` are :func:`partreid_core.engine.trainer.train`'s (``resume``, ``device``, ``variant``,
    ``skip_existing``, ...). Raises KeyError for an unknown hook name, before anything is trained.
    """
    return train(cfg, out=out, hooks=[*build_hooks(cfg.analysis), *hooks], **train_kwargs)


__all__ = ["train_experiment"]
