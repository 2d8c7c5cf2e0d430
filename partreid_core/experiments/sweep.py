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

``profile=`` (``partreid sweep --profile``) runs the same grid at another profile: a chapter's sweep files, written
for ``cpu``, run unchanged in the fine-tuned regime with ``cpu-ft``. The records of the two regimes never share a
folder: :func:`sweep_regime` names the regime of a grid's profile, and ``partreid sweep`` writes a fine-tuned one
under ``results/fine-tuned`` (:func:`partreid_core.reporting.paths.regime_root`).

Two sweeps (or a sweep and a ``partreid train``) on one records folder share the work: each run is trained
by the process that holds its lock (:func:`partreid_core.engine.records.run_lock`); the other reports
it as ``running elsewhere`` and goes on, and a run found complete once its lock is held is not retrained.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import yaml

from ..config import ConfigError, deep_update, from_dict
from ..engine import records
from ..engine.config import ExperimentConfig
from ..models.backbones.synth_trunks import SYNTH
from .config import PROFILES, resolve_config
from .launchers import submit_points
from .runs import train_experiment


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


def with_profile(sweeps: list[SweepConfig], profile: str | None) -> list[SweepConfig]:
    """The grids with their ``profile`` replaced (``None``: as written). Only the profile changes: the variants and
    ``set`` overrides apply on top of that profile's recipe (``recipes/<profile>/<recipe>.yaml``)."""
    if profile is None:
        return list(sweeps)
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
    return [replace(sw, profile=profile) for sw in sweeps]


def profile_regime(profile: str) -> str:
    """``"fine-tuned"`` for a profile whose trunks start from a SynthReID-P pretraining (``backbone.pretrained:
    synth`` in its base, e.g. ``cpu-ft``), else ``"scratch"`` (``smoke``, ``cpu``; ``gpu``'s ImageNet weights are the
    papers' own regime and keep the records root)."""
    backbone = resolve_config(None, profile).model_overrides.get("backbone") or {}
    return "fine-tuned" if backbone.get("pretrained") == SYNTH else "scratch"


def sweep_regime(sweeps: list[SweepConfig]) -> str:
    """The one regime of the grids' profiles (:func:`profile_regime`); grids of both regimes in one call are an
    error, since their records belong under different roots."""
    regimes = {profile_regime(sw.profile) for sw in sweeps}
    if len(regimes) > 1:
        raise ConfigError(f"the sweeps mix regimes ({', '.join(sorted(regimes))}: profiles "
                          f"{', '.join(sorted({sw.profile for sw in sweeps}))}); run each regime on its own, or give "
                          "--profile")
    return regimes.pop() if regimes else "scratch"


def plan(sweep: SweepConfig, only: list[str] | None = None,
         seeds: list[int] | None = None) -> list[tuple[str, ExperimentConfig]]:
    """Every (variant, resolved config) of the grid, in variant-major order; ``only`` keeps those variants
    and ``seeds`` those of the grid's seeds."""
    base = _nest(sweep.set)
    out = []
    for name, variant in sweep.variants.items():
        if only and name not in only:
            continue
        for seed in sweep.seeds:
            if seeds is not None and seed not in seeds:
                continue
            overrides = deep_update(deep_update(base, _nest(variant or {})),
                                    {"experiment": sweep.experiment, "run": f"{name}-s{seed}", "seed": seed})
            cfg = resolve_config(sweep.recipe or None, sweep.profile, overrides, model=sweep.model,
                                 dataset=sweep.dataset)
            out.append((name, cfg))
    return out


def _train_in_worker(cfg: ExperimentConfig, out: str, variant: str, threads: int, train_kwargs: dict) -> str:
    """One run in a worker process with its own intra-op thread budget; returns its status."""
    torch.set_num_threads(threads)
    return _status_of(train_experiment(cfg, out=out, resume=True, variant=variant, skip_existing=True,
                                       **train_kwargs))


def _status_of(result: Any) -> str:
    """"exists" when the trainer found the record complete once it held the run's lock, else "trained"."""
    return "exists" if getattr(result, "status", None) == "exists" else "trained"


def _failed(e: BaseException) -> str:
    if isinstance(e, records.RunLockedError):
        return "running elsewhere"
    return f"failed: {e}"


def run_sweep(sweep: SweepConfig | list[SweepConfig], out: str | Path = "results", dry_run: bool = False,
              train_fn: Callable[..., Any] | None = None, workers: int = 1, only: list[str] | None = None,
              seeds: list[int] | None = None, launcher: Any = None, **train_kwargs: Any) -> list[dict[str, Any]]:
    """Run the grid(s); a run whose ``metrics.json`` exists is skipped. Returns one status dict per run.

    ``only`` keeps the named variants (one arm of an ablation on a small budget); with several sweep files
    each keeps the names it defines, and a name that no file defines is an error rather than an empty plan.
    ``seeds`` runs only those of the grid's seeds (the first seed of a costly curve now, the others later);
    a seed that no file lists is an error.

    ``workers > 1`` trains that many runs at once in separate processes, splitting the CPU cores
    between them (on 2 cores, two 1-thread runs beat one 2-thread run by about 20% in images/s).
    A run that fails (e.g. a NaN loss) is reported as ``failed: <message>`` and the others go on; a run
    that another process is training (its lock is held) is reported as ``running elsewhere``.
    ``launcher`` (a :class:`~partreid_core.experiments.launchers.LauncherConfig`) sends each run to its own
    cluster job instead (see :mod:`partreid_core.experiments.launchers`).
    """
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    sweeps = sweep if isinstance(sweep, list) else [sweep]
    if only:
        defined = {name for sw in sweeps for name in sw.variants}
        unknown = [name for name in only if name not in defined]
        if unknown:
            where = ", ".join(sw.experiment for sw in sweeps)
            raise ConfigError(f"no variant {', '.join(map(repr, unknown))} in {where}"
                              f"; the variants: {', '.join(sorted(defined))}")
    if seeds is not None:
        listed = {s for sw in sweeps for s in sw.seeds}
        if not set(seeds) <= listed:
            raise ConfigError(f"seed(s) {sorted(set(seeds) - listed)} are not in the grid; its seeds: {sorted(listed)}")
    todo, status = [], []
    for sw in sweeps:
        for name, cfg in plan(sw, only, seeds):
            path = records.run_dir(out, cfg.experiment, cfg.run_name)
            row = {"variant": name, "seed": cfg.seed, "path": str(path)}
            if records.is_complete(path):
                status.append({**row, "status": "exists"})
            elif records.lock_holder(path):
                status.append({**row, "status": "running elsewhere"})
            elif dry_run:
                status.append({**row, "status": "planned"})
            else:
                todo.append((row, name, cfg))
    if launcher is not None and launcher.name != "local":
        return status + submit_points(todo, out, launcher, train_kwargs)
    if workers <= 1 or train_fn is not None or len(todo) <= 1:
        if train_fn is None:
            train_fn = train_experiment
            train_kwargs = {"skip_existing": True, **train_kwargs}
        for row, name, cfg in todo:
            try:
                result = train_fn(cfg, out=out, resume=True, variant=name, **train_kwargs)
                status.append({**row, "status": _status_of(result)})
            except Exception as e:  # noqa: BLE001 - one failed run must not stop the sweep
                status.append({**row, "status": _failed(e)})
        return status
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [(row, pool.submit(_train_in_worker, cfg, str(out), name, threads, train_kwargs))
                   for row, name, cfg in todo]
        for row, fut in futures:
            try:
                status.append({**row, "status": fut.result()})
            except Exception as e:  # noqa: BLE001
                status.append({**row, "status": _failed(e)})
    return status
