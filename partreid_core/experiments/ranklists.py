"""Two trained models' rank lists on the same test queries, as a record (PLR-F5, PAL-F15).

``partreid ranklist --checkpoint A.pt --against B.pt --out results/ranklists/<name>`` writes::

    <out>/config.json   both runs' configs and checkpoints, the rule, the environment
    <out>/ranklist.npz  cases (n,), query / gallery thumbnails, top-k indices and match flags per model,
                        per-query AP of both models over all queries

Cases are the queries where B gains most AP over A (:func:`partreid_core.analysis.retrieval.choose_cases`),
the "cases where the method helps" rule of pal.md §9 #14, applied the same way for every pair.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.retrieval import choose_cases, per_query_ap, rank_lists
from ..config import merge
from ..engine import records
from ..engine.config import config_to_dict
from ..engine.trainer import amp_dtype_for, device_name, load_splits, resolve_device
from ..evaluation import compute_distance, extract_features
from .robustness import load_trained


def _thumbnails(images: torch.Tensor, scale: int) -> np.ndarray:
    """uint8 (N, 3, H, W) -> uint8 (N, 3, H / scale, W / scale) by area averaging (figures only)."""
    if scale == 1:
        return images.numpy()
    return F.avg_pool2d(images.float(), scale).round().clamp(0, 255).to(torch.uint8).numpy()


def compare_checkpoints(checkpoint_a: str | Path, checkpoint_b: str | Path, out: str | Path, *, k: int = 10,
                        cases: int = 3, thumbnail_scale: int = 2, device: str | None = None,
                        test_knobs: dict[str, float | str] | None = None) -> Path:
    """Rank lists of model A and model B on A's test split; returns the record folder.

    Each model is evaluated with its own run's settings (metric, flip); both must have been trained on
    the same dataset with the same dataset options, or the comparison is refused. ``test_knobs``
    re-renders the test split with other dataset options (e.g. ``{"occlusion": 0.9}`` for CGPN-F5's
    occluded queries); they are stored in the record.
    """
    t0 = time.time()
    dev = resolve_device(device)
    (model_a, cfg_a), (model_b, cfg_b) = load_trained(checkpoint_a, dev), load_trained(checkpoint_b, dev)
    same = (cfg_a.data.dataset, cfg_a.data.dataset_kwargs, tuple(cfg_a.data.size)) == \
        (cfg_b.data.dataset, cfg_b.data.dataset_kwargs, tuple(cfg_b.data.size))
    if not same:
        raise ValueError(f"the two runs saw different test data: {cfg_a.data.dataset} {cfg_a.data.dataset_kwargs} "
                         f"{cfg_a.data.size} vs {cfg_b.data.dataset} {cfg_b.data.dataset_kwargs} {cfg_b.data.size}")
    if test_knobs:
        cfg_a = merge(cfg_a, {"data": {"dataset_kwargs": {**cfg_a.data.dataset_kwargs, **test_knobs}}})
    _, query, gallery = load_splits(cfg_a)
    ids = (query.pids, gallery.pids, query.camids, gallery.camids)
    arrays: dict[str, np.ndarray] = {}
    aps, lists = [], []
    for name, model, cfg in (("a", model_a, cfg_a), ("b", model_b, cfg_b)):
        kw = dict(batch_size=cfg.eval.batch_size, flip=cfg.eval.flip, device=dev,
                  amp_dtype=amp_dtype_for(cfg.train.amp, dev))
        qf, gf = extract_features(model, query.images, **kw), extract_features(model, gallery.images, **kw)
        dist = compute_distance(qf, gf, cfg.eval.metric).cpu()
        aps.append(per_query_ap(dist, *ids))
        lists.append(rank_lists(dist, *ids, k=k))
        arrays[f"ap_{name}"] = aps[-1].astype(np.float32)
    chosen = choose_cases(aps[0], aps[1], cases)
    arrays["cases"] = chosen.astype(np.int64)
    arrays["query_images"] = _thumbnails(query.images[torch.as_tensor(chosen)], thumbnail_scale)
    for name, (idx, match) in zip("ab", lists, strict=True):
        arrays[f"top_{name}"], arrays[f"match_{name}"] = idx[chosen], match[chosen]
        shown = np.where(idx[chosen] < 0, 0, idx[chosen])
        thumbs = _thumbnails(gallery.images[torch.as_tensor(shown.reshape(-1))], thumbnail_scale)
        thumb_w = query.images.shape[-1] // thumbnail_scale
        arrays[f"gallery_images_{name}"] = thumbs.reshape(*shown.shape, 3, -1, thumb_w)
    path = Path(out)
    meta = {"checkpoint_a": str(checkpoint_a), "checkpoint_b": str(checkpoint_b), "run_a": cfg_a.run_name,
            "run_b": cfg_b.run_name, "config_b": config_to_dict(cfg_b), "k": k, "cases": cases,
            "rule": "largest per-query AP gain of b over a, ties to the lower query index",
            "test_knobs": dict(test_knobs or {}),
            "wall_time_s": time.time() - t0, **records.environment(device_name(dev))}
    records.write_config(path, config_to_dict(cfg_a), meta)
    np.savez_compressed(path / "ranklist.npz", **arrays)
    return path


def load_ranklist(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(Path(path) / "ranklist.npz") as z:
        return {key: z[key] for key in z.files}


__all__ = ["compare_checkpoints", "load_ranklist"]
