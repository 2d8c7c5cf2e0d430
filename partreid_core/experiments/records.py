"""Run records: ``results/<experiment>/<run>/`` with config.json, history.csv, metrics.json, analysis.npz.

* ``config.json``: ``{"config": <resolved ExperimentConfig>, "seed", "git_commit", "git_dirty",
  "device", "versions": {python, torch, torchvision, numpy}, "date" (UTC ISO), "wall_time_s",
  "num_train_ids", "world_size"}``.
* ``history.csv``: one row per epoch: ``epoch``, ``loss`` and ``loss/<term>`` (epoch means),
  ``lr`` (first group) and ``lr/<group>``, ``images_per_s``, ``time_s``, and evaluation columns
  (``rank1``, ``mAP``, ...) on the epochs that were evaluated (empty otherwise).
* ``metrics.json``: the final :func:`evaluate_model` dict (rank1/5/10, mAP, mAP_trapezoid, mINP,
  query counts, and the ``rr_`` re-ranked ones when re-ranking ran), and ``split``: the evaluated split
  (``test`` or SynthReID's ``val``; records written before the validation split existed lack it: test).
* ``analysis.npz``: arrays from the analysis hooks (optional).

A record is complete when ``metrics.json`` exists: the engine writes it last.
"""
from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

RECORD_FILES = ("config.json", "history.csv", "metrics.json")


def run_dir(out: str | Path, experiment: str, run: str) -> Path:
    return Path(out) / experiment / run


def is_complete(path: str | Path) -> bool:
    return (Path(path) / "metrics.json").is_file()


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def git_state(cwd: str | Path | None = None) -> tuple[str, bool]:
    """(commit hash or "unknown", dirty flag) of the repository containing ``cwd`` (or this package)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return commit or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def environment(device: str) -> dict[str, Any]:
    import torch
    import torchvision

    commit, dirty = git_state()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "device": device,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__},
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host_cpus": os.cpu_count(),
    }


def results_root(start: str | Path | None = None) -> Path:
    """Where run records live: ``$PARTREID_RESULTS``, else ``results/`` of the checkout that contains
    ``start`` (default: the working directory; notebooks run from ``notebooks/``), else ``./results``."""
    if os.environ.get("PARTREID_RESULTS"):
        return Path(os.environ["PARTREID_RESULTS"])
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "partreid_core").is_dir():
            return d / "results"
    return Path("results")


def write_bench(path: str | Path, kind: str, args: dict[str, Any], result: dict[str, Any], device: str) -> Path:
    """A benchmark record: one JSON file with the command's arguments, its result and the environment."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": kind, "args": args, "result": result, **environment(device)}
    atomic_write_text(path, json.dumps(body, indent=2, sort_keys=True, default=float))
    return path


def write_config(path: Path, config: dict, meta: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / "config.json", json.dumps({"config": config, **meta}, indent=2, sort_keys=True))


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """All rows to history.csv; the columns are the union in first-seen order."""
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    tmp = path / "history.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    os.replace(tmp, path / "history.csv")


def write_metrics(path: Path, metrics: dict[str, float | str]) -> None:
    """Numbers as floats; text (the evaluated ``split``) as is."""
    atomic_write_text(path / "metrics.json", json.dumps({k: v if isinstance(v, str) else float(v)
                                                         for k, v in metrics.items()}, indent=2, sort_keys=True))


def write_analysis(path: Path, arrays: dict[str, np.ndarray], max_mb: float = 8.0) -> None:
    size = sum(a.nbytes for a in arrays.values()) / 2**20
    if size > max_mb:
        raise ValueError(f"analysis arrays take {size:.1f} MB; records keep analysis.npz under {max_mb} MB "
                         f"(largest: {max(arrays, key=lambda k: arrays[k].nbytes)})")
    tmp = path / "analysis.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path / "analysis.npz")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _iter_runs(root: Path, experiments: Iterable[str] | None) -> Iterable[Path]:
    exps = sorted(p for p in root.iterdir() if p.is_dir()) if experiments is None else [root / e for e in experiments]
    for exp in exps:
        if exp.is_dir():
            yield from sorted(p for p in exp.iterdir() if is_complete(p))


def load_records(root: str | Path = "results", experiment: str | Iterable[str] | None = None,
                 config_columns: bool = True) -> pd.DataFrame:
    """One row per complete run under ``root`` (optionally only some experiments).

    Columns: ``experiment``, ``run``, ``path``, provenance (``model``, ``dataset``, ``profile``,
    ``recipe``, ``seed``, ``device``, ``git_commit``, ``date``, ``wall_time_s``, ``epochs``, ``split``), every metric
    of metrics.json, and (``config_columns``) the flattened config as ``cfg.<key.sub>`` columns,
    which is how a notebook groups a sweep by the field its variants change.
    """
    root = Path(root)
    exps = [experiment] if isinstance(experiment, str) else experiment
    rows = []
    if not root.is_dir():
        return pd.DataFrame(rows)
    for path in _iter_runs(root, exps):
        meta = json.loads((path / "config.json").read_text())
        cfg = meta.get("config", {})
        row: dict[str, Any] = {
            "experiment": path.parent.name, "run": path.name, "path": str(path),
            "model": cfg.get("model"), "dataset": cfg.get("data", {}).get("dataset"),
            "profile": cfg.get("profile"), "recipe": cfg.get("recipe"), "seed": meta.get("seed", cfg.get("seed")),
            "variant": meta.get("variant", ""), "device": meta.get("device"), "git_commit": meta.get("git_commit"),
            "date": meta.get("date"), "wall_time_s": meta.get("wall_time_s"),
            "epochs": cfg.get("train", {}).get("epochs"),
        }
        row.update(json.loads((path / "metrics.json").read_text()))
        row.setdefault("split", "test")   # records from before the validation split were evaluated on test
        if config_columns:
            row.update({f"cfg.{k}": v for k, v in _flatten(cfg).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def load_history(path: str | Path) -> pd.DataFrame:
    """A run's history.csv as a DataFrame (one row per epoch)."""
    return pd.read_csv(Path(path) / "history.csv")


def load_analysis(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(Path(path) / "analysis.npz") as z:
        return {k: z[k] for k in z.files}
