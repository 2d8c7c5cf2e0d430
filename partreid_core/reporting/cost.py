"""What a paper-scale run costs: images per epoch x epochs / training images per second -> GPU-hours on one H100.

Per ``gpu`` recipe (the papers' input size, batch, sampler and epochs) on Market-1501's training set:

* **images per epoch**: what the recipe's own sampler draws in one epoch (:func:`images_per_epoch`) from a
  training set of Market-1501's size (751 identities, 12,936 images, PAL-T1) with the images spread evenly over the
  identities, enlarged as the recipe enlarges it (``data.translate.copies``: MPN's offline translation makes each
  training set five times larger, MPN §5.1);
* **passes**: forward/backward passes per batch: two for PAL's MGN (the alternating CE and triplet half-steps);
* **images/s**: training throughput of the recipe's model on one GPU, either

  - *measured*: a ``partreid bench train`` record on a CUDA device at the recipe's input size (what
    ``scripts/gpu_check.sh`` writes for GlobalPool and MGN), or
  - *projected*: the GPU anchor (GlobalPool's measured images/s, or :data:`ASSUMED_ANCHOR` while no GPU record
    exists) times the model's training throughput relative to GlobalPool on CPU (``results/bench/models-cpu.json``:
    every model measured under the same conditions), corrected from the benchmark's input size to the paper's by
    the pixel count. The projection assumes a model's cost relative to GlobalPool is the same on a GPU as on the
    CPU at reduced width; it ignores kernel-launch overheads, which weigh more on many-branch models on a GPU.

GPU-hours = images per epoch x epochs x passes / images/s / 3600, for one run (seed) without evaluation.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..engine.config import ExperimentConfig
from ..engine.pipeline import build_sampler
from ..experiments.config import list_recipes, resolve_config
from .papers.pal import T1

#: GlobalPool-ResNet-50 training images/s at 256x128 (batch 32) on one H100 assumed while no GPU record exists:
#: the engine's target for that configuration, not a measurement
ASSUMED_ANCHOR = 4000.0
ANCHOR_MODEL = "globalpool"

def images_per_epoch(cfg: ExperimentConfig, ids: int, images: int) -> int:
    """Images one epoch of ``cfg``'s sampler draws from ``images`` training images of ``ids`` identities.

    The images are spread as evenly as possible over the identities (the P x K sampler's epoch length depends on
    each identity's count; the real sets' counts vary, which this ignores), each repeated ``data.translate.copies``
    times (the offline-translated split the trainer builds). ``train.iters_per_epoch`` wins when set.
    """
    if cfg.train.iters_per_epoch:
        return cfg.train.iters_per_epoch * cfg.data.train_batch
    images *= cfg.data.translate.copies
    counts = torch.full((ids,), images // ids)
    counts[: images % ids] += 1
    labels = torch.repeat_interleave(torch.arange(ids), counts)
    return len(build_sampler(cfg.data, labels)) * cfg.data.train_batch


def _pixels(size) -> int:
    return int(size[0]) * int(size[1])


def _gpu_records(bench: Path) -> dict[str, dict[str, Any]]:
    """model -> the newest ``bench train`` record measured on a CUDA device (the device name does not start 'cpu')."""
    out: dict[str, dict[str, Any]] = {}
    for f in sorted(bench.glob("train-*.json")):
        rec = json.loads(f.read_text())
        if rec.get("benchmark") != "train" or str(rec.get("device", "cpu")).startswith("cpu"):
            continue
        r = rec["result"]
        prev = out.get(r["model"])
        if prev is None or rec["date"] > prev["date"]:
            out[r["model"]] = {"ips": r["ours_images_per_s"], "size": tuple(r["size"]), "device": rec["device"],
                               "date": rec["date"], "record": f"results/bench/{f.name}"}
    return out


def cost_table(bench: str | Path, recipes: list[str] | None = None, dataset: str = "Market1501") -> pd.DataFrame:
    """One row per ``gpu`` recipe: images/epoch, epochs, passes, images/s (measured or projected), GPU-hours.

    ``bench`` is the folder of benchmark records (``results/bench``): ``models-cpu.json`` for the CPU-relative
    measures, ``train-*.json`` on CUDA for measured rows and the anchor. Recipes without a CPU measure of their
    model get no projection (NaN).
    """
    bench = Path(bench)
    ids, images = T1[dataset][0]
    gpu = _gpu_records(bench)
    cpu_rows: dict[str, dict[str, Any]] = {}
    models_file = bench / "models-cpu.json"
    if models_file.exists():
        for r in json.loads(models_file.read_text())["result"]["rows"]:
            cpu_rows.setdefault(r["label"], r)
            cpu_rows.setdefault(f"model:{r['model']}", r)
    anchor_cpu = cpu_rows.get(f"model:{ANCHOR_MODEL}")
    if ANCHOR_MODEL in gpu:
        anchor = gpu[ANCHOR_MODEL]
        anchor_ips, anchor_px, anchor_src = anchor["ips"], _pixels(anchor["size"]), f"measured ({anchor['device']})"
    else:
        anchor_ips, anchor_px, anchor_src = ASSUMED_ANCHOR, _pixels((256, 128)), "assumed"
    rows = []
    for recipe in recipes or list_recipes("gpu"):
        cfg = resolve_config(recipe, "gpu")
        per_epoch = images_per_epoch(cfg, ids, images)
        passes = len(cfg.train.phases) if cfg.train.update == "alternating" else 1
        size = tuple(cfg.data.size)
        measured = gpu.get(cfg.model)
        if measured is not None and measured["size"] == size:
            ips, basis = measured["ips"], f"measured: {measured['record']}"
        else:
            cpu = cpu_rows.get(recipe) or cpu_rows.get(f"model:{cfg.model}")
            if cpu is None or anchor_cpu is None:
                ips, basis = float("nan"), "no CPU measure of this model"
            else:
                rel = (cpu["train_images_per_s"] * _pixels(cpu["size"])) / \
                      (anchor_cpu["train_images_per_s"] * _pixels(anchor_cpu["size"]))
                ips = anchor_ips * rel * anchor_px / _pixels(size)
                basis = f"projected: {anchor_src} GlobalPool x {rel:.2f} (CPU-relative) x pixels"
        hours = per_epoch * cfg.train.epochs * passes / ips / 3600
        rows.append({"recipe": recipe, "model": cfg.model, "input": f"{size[0]}x{size[1]}",
                     "batch": cfg.data.train_batch, "images/epoch": per_epoch, "epochs": cfg.train.epochs,
                     "passes": passes, "img/s": ips, "GPU-hours": hours,
                     "kind": basis.split(":")[0], "basis": basis})
    return pd.DataFrame(rows).set_index("recipe")
