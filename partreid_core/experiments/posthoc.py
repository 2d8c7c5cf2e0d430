"""Run analysis hooks on a trained checkpoint and add their arrays to its run record, without retraining.

A hook written after a run finished (or one the run did not list) can still be computed on the run's own
model: ``partreid analyze checkpoints/<experiment>/<run>/last.pt --hooks rmgl_response_maps`` loads the
model and its splits exactly as the end of training does, runs the hooks, and merges their arrays into
``results/<experiment>/<run>/analysis.npz`` (same ``"<hook>/<array>"`` names; a hook's old arrays are
replaced). ``config.json`` gains a ``post_hoc_analysis`` entry per call (hooks, commit, device, date),
so the record says which arrays were computed later and by which code.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..analysis.hooks import build_hooks
from ..engine import records
from ..engine.hooks import AnalysisContext, run_after_train
from ..engine.trainer import amp_dtype_for, device_name, load_splits, resolve_device
from .robustness import load_trained


def analyze_checkpoint(checkpoint: str | Path, hooks: list[str], out: str | Path = "results",
                       device: str | None = None) -> Path:
    """Add ``hooks``' arrays to the record of the run that wrote ``checkpoint``; returns the record folder.

    Raises:
        FileNotFoundError: no checkpoint, or no complete record for its run under ``out``.
        KeyError: an unknown hook name (the registry lists the known ones).
    """
    objects = build_hooks(hooks)  # an unknown name fails before anything is loaded
    dev = resolve_device(device)
    model, cfg = load_trained(checkpoint, dev)
    path = records.run_dir(out, cfg.experiment, cfg.run_name)
    if not records.is_complete(path):
        raise FileNotFoundError(f"no complete run record at {path} for checkpoint {checkpoint} "
                                f"(pass --out with the results folder the run wrote to)")
    train, query, gallery = load_splits(cfg)
    # as at the end of training: the train split on the device, query / gallery where they were decoded
    arrays = run_after_train(objects, AnalysisContext(model, train.to(dev), query, gallery, cfg, dev,
                                                      amp_dtype_for(cfg.train.amp, dev)))
    old = records.load_analysis(path) if (path / "analysis.npz").is_file() else {}
    kept = {k: v for k, v in old.items() if k.split("/", 1)[0] not in hooks}
    records.write_analysis(path, {**kept, **arrays})
    meta = json.loads((path / "config.json").read_text())
    env = records.environment(device_name(dev))
    meta.setdefault("post_hoc_analysis", []).append(
        {"hooks": list(hooks), "checkpoint": str(checkpoint), "arrays": sorted(arrays),
         **{k: env[k] for k in ("git_commit", "git_dirty", "device", "date")}})
    records.atomic_write_text(path / "config.json", json.dumps(meta, indent=2, sort_keys=True))
    return path


__all__ = ["analyze_checkpoint"]
