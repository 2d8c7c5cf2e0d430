"""Sweeps: a grid of variants x seeds, each a training run; runs whose record exists are skipped.

A sweep file (YAML)::

    experiment: rmgl-rsa          # results/<experiment>/...
    recipe: rmgl
    profile: cpu
    seeds: [0, 1, 2]
    set: {train.epochs: 8}        # optional overrides for every run (dotted keys or nested)
    variants:
      rsa-off: {data: {rsa: {p: 0.0}}}
      rsa-on: {}

Run names are ``<variant>-s<seed>``; config.json stores the variant name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ..config import ConfigError, from_dict
from . import records
from ..config import deep_update
from .config import ExperimentConfig, resolve_config


@dataclass
class SweepConfig:
    experiment: str = ""
    recipe: str = ""
    profile: str = "cpu"
    model: str | None = None
    dataset: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    set: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {"default": {}})


def _nest(flat_or_nested: dict) -> dict:
    """Accept {"train.epochs": 3} as well as {"train": {"epochs": 3}}."""
    out: dict = {}
    for k, v in flat_or_nested.items():
        parts = k.split(".")
        node: dict = {parts[-1]: _nest(v) if isinstance(v, dict) else v}
        for p in reversed(parts[:-1]):
            node = {p: node}
        out = deep_update(out, node)
    return out


def load_sweep(path: str | Path) -> SweepConfig:
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    try:
        cfg = from_dict(SweepConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if not cfg.experiment:
        raise ConfigError(f"{path}: 'experiment' is required (the results/<experiment> folder)")
    return cfg


def plan(sweep: SweepConfig) -> list[tuple[str, ExperimentConfig]]:
    """Every (variant, resolved config) of the grid, in variant-major order."""
    base = _nest(sweep.set)
    out = []
    for name, variant in sweep.variants.items():
        for seed in sweep.seeds:
            overrides = deep_update(deep_update(base, _nest(variant or {})),
                                    {"experiment": sweep.experiment, "run": f"{name}-s{seed}", "seed": seed})
            cfg = resolve_config(sweep.recipe or None, sweep.profile, overrides, model=sweep.model,
                                 dataset=sweep.dataset)
            out.append((name, cfg))
    return out


def run_sweep(sweep: SweepConfig, out: str | Path = "results", dry_run: bool = False,
              train_fn: Callable[..., Any] | None = None, **train_kwargs: Any) -> list[dict[str, Any]]:
    """Run the grid; a run whose ``metrics.json`` exists is skipped. Returns one status dict per run."""
    if train_fn is None:
        from ..engine.trainer import train as train_fn
    status = []
    for name, cfg in plan(sweep):
        path = records.run_dir(out, cfg.experiment, cfg.run_name)
        if records.is_complete(path):
            status.append({"variant": name, "seed": cfg.seed, "path": str(path), "status": "exists"})
            continue
        if dry_run:
            status.append({"variant": name, "seed": cfg.seed, "path": str(path), "status": "planned"})
            continue
        train_fn(cfg, out=out, resume=True, variant=name, **train_kwargs)
        status.append({"variant": name, "seed": cfg.seed, "path": str(path), "status": "trained"})
    return status
