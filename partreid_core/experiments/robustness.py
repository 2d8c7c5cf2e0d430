"""A fixed trained model evaluated as SynthReID's difficulty knobs grow (issue 3's calibration bar,
and the robustness curves of the chapters: MPN-X1, RMGL-X3, CGPN-X1, PAL-T9 domain shift).

The test identities and their per-image random draws do not depend on the knob values, so
each level shows the *same* query and gallery people, only harder: the curve isolates the knob.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from ..config import deep_update, merge
from ..data import build_dataset
from ..engine import records
from ..engine.config import config_from_dict, config_to_dict
from ..engine.trainer import amp_dtype_for, device_name, evaluate, resolve_device
from ..models import build_model
from ..models.registry import model_config


def _without_initial_weights(model: str, overrides: dict) -> dict:
    """``overrides`` with ``backbone.pretrained`` off and no ``init_from``: a checkpoint's state dict replaces
    every weight, so rebuilding it must not need the ImageNet / IDE files it was first initialised from."""
    mc = model_config(model)
    out = dict(overrides)
    if hasattr(mc, "backbone") or hasattr(mc, "base"):
        out = deep_update(out, {"backbone": {"pretrained": False}})
    if hasattr(mc, "init_from"):
        out["init_from"] = ""
    return out


def load_trained(checkpoint: str | Path, device: torch.device):
    """(model in eval mode on ``device``, its ExperimentConfig) from a ``last.pt`` of ``partreid train``."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (partreid train writes "
                                "checkpoints/<root>-<hash>/<experiment>/<run>/last.pt)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = config_from_dict(state["config"])
    model = build_model(cfg.model, state["num_classes"], _without_initial_weights(cfg.model, cfg.model_overrides))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), cfg


def evaluate_under_knob(checkpoint: str | Path, knob: str, levels: Sequence[float | str], *,
                        device: str | None = None, out: str | Path | None = None) -> pd.DataFrame:
    """Rank-k / mAP / mINP of one trained model at each level of one dataset knob.

    Args:
        checkpoint: a run's ``last.pt``.
        knob: a builder keyword of the run's dataset (SynthReID: misalignment, occlusion, truncation,
            clutter, pose, domain).
        levels: the values to evaluate at.
        out: if given, a record folder: ``knobs.csv`` (one row per level) and ``config.json``
            (the run's config, the checkpoint, the knob and the environment).
    Returns:
        DataFrame with columns ``knob``, ``level`` and the metrics.
    """
    t0 = time.time()
    dev = resolve_device(device)
    model, cfg = load_trained(checkpoint, dev)
    rows = []
    for level in levels:
        kw = {**cfg.data.dataset_kwargs, knob: level}
        ds = build_dataset(cfg.data.dataset, **kw)
        query, gallery = (ds.load_split(s, tuple(cfg.data.size)) for s in ("query", "gallery"))
        run_cfg = merge(cfg, {"data": {"dataset_kwargs": kw}})
        metrics = evaluate(model, query, gallery, run_cfg, dev, amp_dtype_for(cfg.train.amp, dev), rerank=False)
        rows.append({"knob": knob, "level": level, **metrics})
    table = pd.DataFrame(rows)
    if out is not None:
        path = Path(out)

        meta = {"checkpoint": str(checkpoint), "knob": knob, "levels": list(levels), "seed": cfg.seed,
                "wall_time_s": time.time() - t0, **records.environment(device_name(dev))}
        records.write_config(path, config_to_dict(cfg), meta)
        records.atomic_write_text(path / "knobs.csv", table.to_csv(index=False))
    return table
