"""Train the PAL-T8 analogue's part segmenter on one SynthReID domain and score it on both (claim C9 iii).

PAL labels its ReID images with a segmenter trained on COCO and adapted with SPGAN (spec ``pal.md``
PAL-T8). Here the segmenter (:class:`~partreid_core.models.segmenter.PartSegmenter`) learns on the
training split of the *other* SynthReID domain (default "B": other backgrounds, warmer and darker
light, higher cameras), optionally with photometric style jitter (:class:`~partreid_core.data.augment.StyleConfig`,
the SPGAN stand-in), and is scored against the exact masks of

* the training split of the target domain ("A"), the very images whose labels it will supply, and
* the query split of its own domain (held out),

with the PS loss of PAL (:func:`~partreid_core.losses.segmentation.class_balanced_cross_entropy`).

``partreid segmenter train --name B-style --style`` writes::

    results/pal-segmenter/<name>/   config.json, history.csv, metrics.json, analysis.npz (example predictions)
    checkpoints/pal-segmenter/<name>/segmenter.pt   (what ``PSConfig.segmenter`` points to)

``metrics.json`` holds ``pixel_accuracy_<D>``, ``miou_<D>`` and ``iou_<D>_<class>`` for each scored domain D.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..analysis.segmentation import segmentation_scores
from ..config import to_dict
from ..data import build_dataset
from ..data.augment import StyleConfig
from ..data.synth.scene import DOMAINS
from ..data.transforms import normalize
from ..data.types import PART_CLASSES, SplitTensors
from ..engine import records
from ..engine.config import DataConfig
from ..engine.pipeline import augment
from ..engine.trainer import device_name, resolve_device, seed_everything
from ..losses.segmentation import PartSegmentationLoss
from ..models.segmenter import PartSegmenter, SegmenterConfig, save_segmenter

EXPERIMENT = "pal-segmenter"
#: images kept in analysis.npz as examples of the target domain (PAL-F3 with pseudo labels)
EXAMPLES = 8


@dataclass
class SegmenterTrainConfig:
    """How a segmenter is trained; defaults are the ``cpu`` profile's (synth-s, 128x64, width 0.25)."""

    name: str = "B"
    dataset: str = "synth-s"
    #: the segmenter's training domain; the PAL runs that use it train on the other one
    domain: str = "B"
    size: tuple[int, int] = (128, 64)
    model: SegmenterConfig = field(default_factory=SegmenterConfig)
    flip_p: float = 0.5
    #: p = 0: no style jitter; p > 0: the SPGAN stand-in
    style: StyleConfig = field(default_factory=StyleConfig)
    epochs: int = 8
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.dataset.startswith("synth"):
            raise ValueError("a segmenter trains on a SynthReID preset (two domains, exact masks), "
                             f"got {self.dataset!r}")
        if self.domain not in DOMAINS:
            raise ValueError(f"segmenter domain must be one of {DOMAINS}, got {self.domain!r}")


def other_domains(domain: str) -> list[str]:
    return [d for d in DOMAINS if d != domain]


@torch.no_grad()
def predict_split(model: PartSegmenter, split: SplitTensors, batch_size: int = 128) -> torch.Tensor:
    """(N, H, W) int64 predicted labels of a uint8 split's images."""
    model.eval()
    dev = next(model.parameters()).device
    out = [model.predict(normalize(split.images[i:i + batch_size].to(dev))).cpu()
           for i in range(0, len(split.images), batch_size)]
    return torch.cat(out)


def score_split(model: PartSegmenter, split: SplitTensors) -> tuple[dict[str, object], torch.Tensor]:
    """Pixel accuracy, per-class IoU and mIoU of the model's labels against the split's exact masks, and the
    labels themselves ((N, H, W) int64)."""
    if split.masks is None:
        raise ValueError("scoring a segmenter needs a split with part masks")
    pred = predict_split(model, split)
    return segmentation_scores(pred, split.masks.long(), len(PART_CLASSES)), pred


def train_segmenter(cfg: SegmenterTrainConfig, out: str | Path = "results", checkpoints: str | Path = "checkpoints",
                    device: str | None = None, progress: bool = True) -> Path:
    """Train, score and save a segmenter; returns its record folder ``<out>/pal-segmenter/<name>``.

    The run is short (minutes on a CPU) and is not resumable: an interrupted run is simply rerun.
    """
    t0 = time.time()
    dev = resolve_device(device)
    seed_everything(cfg.seed)
    size = tuple(cfg.size)
    ds = build_dataset(cfg.dataset, domain=cfg.domain)
    train = ds.load_split("train", size)
    if train.masks is None:
        raise ValueError(f"{cfg.dataset} has no part masks to train a segmenter on")
    images, masks = train.images.to(dev), train.masks.to(dev)
    model = PartSegmenter(cfg.model).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps_per_epoch)
    loss_fn = PartSegmentationLoss()
    aug_cfg = DataConfig(flip_p=cfg.flip_p, style=cfg.style)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t_epoch, total, n = time.time(), 0.0, 0
        order = torch.randperm(len(images), generator=gen, device=dev)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            x, m, _ = augment(images[idx], masks[idx], None, aug_cfg, gen)
            loss = loss_fn(model(x), m.long())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"segmenter loss is {loss.item()} at epoch {epoch}, "
                                         f"step {i // cfg.batch_size}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(idx), n + len(idx)
        history.append({"epoch": epoch, "loss": total / n, "lr": opt.param_groups[0]["lr"],
                        "images_per_s": n / (time.time() - t_epoch), "time_s": time.time() - t0})
        if progress:
            print(f"segmenter {cfg.name} epoch {epoch}/{cfg.epochs}: loss {history[-1]['loss']:.4f} "
                  f"({history[-1]['images_per_s']:.0f} img/s)", flush=True)

    metrics: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    scored = {cfg.domain: ds.load_split("query", size)}
    for target in other_domains(cfg.domain):
        scored[target] = build_dataset(cfg.dataset, domain=target).load_split("train", size)
    for d, split in scored.items():
        s, pred = score_split(model, split)
        metrics[f"pixel_accuracy_{d}"], metrics[f"miou_{d}"] = s["pixel_accuracy"], s["miou"]
        metrics.update({f"iou_{d}_{c}": v for c, v in zip(PART_CLASSES, s["iou"], strict=True)})
        if d != cfg.domain:  # examples of the images the segmenter will label
            arrays[f"images_{d}"] = split.images[:EXAMPLES].numpy()
            arrays[f"masks_{d}"] = split.masks[:EXAMPLES].numpy()
            arrays[f"pred_{d}"] = pred[:EXAMPLES].to(torch.uint8).numpy()

    path = records.run_dir(out, EXPERIMENT, cfg.name)
    ckpt = Path(checkpoints) / EXPERIMENT / cfg.name / "segmenter.pt"
    save_segmenter(ckpt, model, {"train_config": to_dict(cfg), "metrics": metrics})
    meta = {**records.environment(device_name(dev)), "seed": cfg.seed, "variant": cfg.name,
            "wall_time_s": time.time() - t0, "checkpoint": str(ckpt), "kind": "part segmenter (PAL-T8 analogue)",
            "num_train_images": len(images)}
    records.write_config(path, to_dict(cfg), meta)
    records.write_history(path, history)
    records.write_analysis(path, arrays)
    records.write_metrics(path, metrics)  # last: marks the record complete
    return path


__all__ = ["EXPERIMENT", "SegmenterTrainConfig", "other_domains", "predict_split", "score_split", "train_segmenter"]
