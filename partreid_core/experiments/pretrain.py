"""Identity-classification pretraining on SynthReID-P: the trunks of the ``fine-tuned`` regime (``cpu-ft``).

No ImageNet weights reach this study's CPU runs; the closest honest stand-in is pretraining on other,
disjoint pedestrians (the RandPerson / UnrealPerson / ClonedPerson and LUPerson line of work). A
backbone is trained as a GlobalPool classifier (GAP -> Em512 -> FC, label-smoothed CE, SGD with a linear
warm-up and a cosine decay) on SynthReID-P's training images; its trunk is written to the weights cache
as ``synthp-<backbone>-w<width>.pt``, which ``backbone.pretrained: synth`` loads.

The engine's pieces are reused: the model registry (``globalpool``), the device tensor pipeline and
random-batch sampler, the optimiser / parameter groups / schedule helpers, the trainer's atomic checkpoint,
RNG state and precision rules, and the record helpers.

A record, ``results/pretrain/<name>/``:

* ``config.json``: the :class:`PretrainConfig`, environment (device, commit, versions, date), the trunk's
  file name, path and sha256, the checkpoint's sha256, wall time;
* ``history.csv``: per epoch: loss, lr, images/s, time, top-1 on the held-out images (``heldout_top1``);
* ``pretrain.json`` (written last: its presence marks the record complete): the final held-out top-1,
  wall time, trunk name and sha256, checkpoint sha256. No ``metrics.json``: these are not ReID runs, and
  the tables that gather every run record (``load_records``) must not list them.

Usage::

    partreid pretrain --backbone resnet50 --width 0.25 --profile cpu
    partreid pretrain --backbone osnet_x0_25 --profile cpu --resume
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..data import build_dataset
from ..data.transforms import normalize
from ..data.types import SplitTensors, relabel
from ..engine import records
from ..engine.config import DataConfig, ExperimentConfig, OptimConfig, ScheduleConfig
from ..engine.optim import apply_lr, build_optimizer, lr_factor
from ..engine.pipeline import build_sampler, make_batch
from ..engine.trainer import (
    _atomic_save,
    _rng_state,
    _set_rng_state,
    amp_dtype_for,
    checkpoint_path,
    device_name,
    epoch_batches,
    resolve_device,
    seed_everything,
)
from ..models import build_model
from ..models.backbones import trunk_path
from ..models.backbones.synth_trunks import file_sha256, pretrain_command, trunk_name

#: the backbones ``partreid pretrain`` knows (CLI spelling -> registry name)
BACKBONE_NAMES = {"resnet50": "resnet50", "osnet_x0_25": "osnet_x0_25", "osnet_x1_0": "osnet_x1_0",
                  "mobilenetv2": "mobilenet_v2", "mobilenet_v2": "mobilenet_v2", "densenet121": "densenet121"}

#: per tier: dataset, epochs, iterations per epoch (None: one pass over the training images), batch, precision.
#: cpu: 21,000 training images, one pass = 328 iterations of 64. 10 epochs (3,280 iterations) are what the
#: committed cpu-tier trunks were trained with: ResNet-50 w0.25 ran at ~200 img/s on one thread while other
#: runs shared the two cores (~18 min, results/pretrain/resnet50-w0.25-cpu/), inside the 45 min budget with
#: room for a second trunk beside it. A longer pretraining makes a stronger trunk and a more saturated
#: fine-tuning benchmark (the calibration rule: sweeps/calibration/cpu_ft_val.yaml).
TIERS: dict[str, dict[str, Any]] = {
    "smoke": {"dataset": "synth-p-tiny", "epochs": 2, "iters_per_epoch": 3, "batch_size": 16, "amp": "off"},
    "cpu": {"dataset": "synth-p-cpu", "epochs": 10, "iters_per_epoch": None, "batch_size": 64, "amp": "bf16"},
    "gpu": {"dataset": "synth-p-gpu", "epochs": 60, "iters_per_epoch": None, "batch_size": 128, "amp": "auto"},
}
TIER_RANK = {"smoke": 0, "cpu": 1, "gpu": 2}


@dataclass
class PretrainConfig:
    """One pretraining run. ``None`` fields take the tier's value (:data:`TIERS`).

    Attributes:
        backbone: registry name (``resnet50``, ``osnet_x0_25``, ``osnet_x1_0``, ``mobilenet_v2``, ``densenet121``).
        width: channel multiplier (OSNet's published widths are in the name: x0.25 at width 1.0).
        profile: the tier, ``smoke`` | ``cpu`` | ``gpu``.
        label_smoothing: of the CE; the head is GlobalPool's (GAP, Em512, FC).
        lr: SGD (nesterov, momentum 0.9, wd 5e-4) base lr, one group; linear warm-up over ``warmup_epochs``
            from 0.1x, then cosine to 0.
        pad: pad-and-crop pixels (flip 0.5 too); ``None``: H / 32.
    """

    backbone: str = "resnet50"
    width: float = 0.25
    profile: str = "cpu"
    name: str = ""
    dataset: str | None = None
    seed: int = 0
    epochs: int | None = None
    iters_per_epoch: int | None = None
    batch_size: int | None = None
    amp: str | None = None
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    pad: int | None = None
    eval_batch: int = 256
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.profile not in TIERS:
            raise ValueError(f"pretrain profile must be one of {tuple(TIERS)}, got {self.profile!r}")
        self.backbone = BACKBONE_NAMES.get(self.backbone, self.backbone)
        if self.backbone not in BACKBONE_NAMES.values():
            raise ValueError(f"unknown backbone {self.backbone!r}; pretrain knows {sorted(set(BACKBONE_NAMES))}")
        tier = TIERS[self.profile]
        for key in ("dataset", "epochs", "iters_per_epoch", "batch_size", "amp"):
            if getattr(self, key) is None:
                setattr(self, key, tier[key])
        self.name = self.name or f"{self.backbone}-w{float(self.width):g}-{self.profile}"

    def model_overrides(self) -> dict[str, Any]:
        return {"backbone": {"name": self.backbone, "width": self.width, "last_stride": 1, "pretrained": False},
                "pool": "avg", "neck": "embedding",
                "loss": {"label_smoothing": self.label_smoothing, "triplet_weight": 0.0}}

    def data_config(self, size: tuple[int, int]) -> DataConfig:
        return DataConfig(dataset=str(self.dataset), size=size, sampler="random", batch_size=int(self.batch_size),
                          flip_p=0.5, pad=self.pad if self.pad is not None else max(1, size[0] // 32),
                          use_masks=False, use_keypoints=False)


@dataclass
class PretrainResult:
    path: Path
    trunk: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]]


def checkpoint_file(cfg: PretrainConfig) -> Path:
    """``<PARTREID_CHECKPOINTS or .>/checkpoints/pretrain/<name>/last.pt`` (the trainer's rule)."""
    return checkpoint_path(ExperimentConfig(experiment="pretrain", run=cfg.name))


@torch.no_grad()
def top1(model: torch.nn.Module, split: SplitTensors, labels: torch.Tensor, cfg: PretrainConfig,
         device: torch.device, amp_dtype: torch.dtype | None) -> float:
    """Classification top-1 (%) of ``model`` (a GlobalPool) on uint8 images (N, 3, H, W) with labels (N,)."""
    was = model.training
    model.eval()
    hits = 0
    for i in range(0, len(split), cfg.eval_batch):
        x = normalize(split.images[i:i + cfg.eval_batch].to(device))
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model.classifier(model(x))
        hits += int((logits.argmax(1) == labels[i:i + cfg.eval_batch].to(device)).sum())
    model.train(was)
    return 100.0 * hits / max(1, len(split))


def _save_trunk(model: torch.nn.Module, cfg: PretrainConfig, size: tuple[int, int], heldout_top1: float) -> Path:
    """Write the backbone's state dict to the weights cache, atomically; returns the path."""
    path = trunk_path(cfg.backbone, cfg.width)
    if path.is_file():
        old = torch.load(path, map_location="cpu", weights_only=False).get("meta", {})
        if TIER_RANK.get(old.get("profile"), 0) > TIER_RANK[cfg.profile]:
            raise FileExistsError(f"{path} holds a {old.get('profile')}-tier trunk; a {cfg.profile} pretraining "
                                  f"does not overwrite it (set PARTREID_WEIGHTS to another folder)")
    meta = {"backbone": cfg.backbone, "width": cfg.width, "profile": cfg.profile, "dataset": cfg.dataset,
            "size": list(size), "seed": cfg.seed, "epochs": cfg.epochs, "heldout_top1": heldout_top1,
            "record": f"pretrain/{cfg.name}"}
    state = {k: v.detach().cpu().contiguous() for k, v in model.backbone.state_dict().items()}
    _atomic_save({"state_dict": state, "meta": meta}, path)
    return path


def pretrain(cfg: PretrainConfig, out: str | Path = "results", resume: bool = False,
             device: str | torch.device | None = None, stop_after_epochs: int | None = None,
             limit_ids: int | None = None) -> PretrainResult:
    """Pretrain ``cfg.backbone`` on SynthReID-P; write the record and the trunk (see the module docstring).

    Args:
        resume: continue from :func:`checkpoint_file` when it exists (model, optimiser, history, RNG states).
        stop_after_epochs: return after this many epochs of this call, the checkpoint kept, nothing else
            written (how the tests simulate an interruption).
        limit_ids: train on the first ``limit_ids`` identities only (a tiny slice, for tests).
    """
    t_start = time.time()
    device = resolve_device(device)
    seed_everything(cfg.seed)
    amp_dtype = amp_dtype_for(str(cfg.amp), device)
    ds = build_dataset(str(cfg.dataset))
    size = tuple(ds.size)
    train_split, held = ds.load_split("train", size), ds.load_split("heldout", size)
    if limit_ids:
        train_split = train_split.subset(torch.nonzero(train_split.pids <= limit_ids).flatten())
        held = held.subset(torch.nonzero(held.pids <= limit_ids).flatten())
    labels, num_classes = relabel(train_split.pids)
    # the held-out pids are training pids: the same relabelling (sorted unique pids)
    held_labels = torch.searchsorted(torch.unique(train_split.pids), held.pids)
    dcfg = cfg.data_config(size)  # type: ignore[arg-type]
    train_split, labels = train_split.to(device), labels.to(device)

    model = build_model("globalpool", num_classes, cfg.model_overrides()).to(device)
    model = model.to(memory_format=torch.channels_last)
    optim_cfg = OptimConfig(name="sgd", lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                            weight_decay=cfg.weight_decay)
    sched = ScheduleConfig(warmup_epochs=cfg.warmup_epochs, warmup="linear", warmup_start=0.1, warmup_per="iter",
                           decay="cosine")
    optimizer = build_optimizer(model, optim_cfg)
    sampler = build_sampler(dcfg, labels)
    gens = {"sampler": torch.Generator().manual_seed(cfg.seed),
            "augment": torch.Generator(device=device).manual_seed(cfg.seed + 1)}

    history: list[dict[str, Any]] = []
    start_epoch, elapsed_before = 0, 0.0
    ckpt = checkpoint_file(cfg)
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, start_epoch, elapsed_before = state["history"], state["epoch"], state["elapsed"]
        _set_rng_state(state["rng"], gens)
        print(f"resumed {ckpt} at epoch {start_epoch}/{cfg.epochs}")

    epochs = int(cfg.epochs)  # type: ignore[arg-type]
    last = epochs if stop_after_epochs is None else min(epochs, start_epoch + stop_after_epochs)
    for epoch in range(start_epoch, last):
        batches = epoch_batches(sampler, gens["sampler"], cfg.iters_per_epoch)
        model.train()
        loss_sum, n_images, t0 = torch.zeros((), device=device), 0, time.time()
        bar = tqdm(batches, desc=f"pretrain {cfg.name} epoch {epoch + 1}/{epochs}", disable=not cfg.progress,
                   leave=False)
        for step, idx in enumerate(bar):
            apply_lr(optimizer, lr_factor(sched, epoch, step, len(batches), epochs))
            batch = make_batch(train_split, labels, idx, dcfg, gens["augment"], channels_last=True)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                output = model(batch.images)
            loss = model.compute_losses(output, batch)["id"]
            if not bool(torch.isfinite(loss)):
                raise FloatingPointError(f"pretraining loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().float()
            n_images += len(idx)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}",
                                img_s=f"{n_images / max(1e-9, time.time() - t0):.0f}")
        dt = time.time() - t0
        row = {"epoch": epoch + 1, "loss": float(loss_sum) / max(1, len(batches)),
               "lr": optimizer.param_groups[0]["lr"], "images_per_s": n_images / max(dt, 1e-9), "time_s": dt,
               "heldout_top1": top1(model, held, held_labels, cfg, device, amp_dtype)}
        history.append(row)
        if cfg.progress:
            print(f"epoch {epoch + 1}/{epochs}: loss={row['loss']:.4g} img/s={row['images_per_s']:.0f} "
                  f"heldout top-1={row['heldout_top1']:.1f}%")
        _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": history,
                      "epoch": epoch + 1, "rng": _rng_state(gens), "elapsed": elapsed_before + time.time() - t_start,
                      "config": dataclasses.asdict(cfg), "num_classes": num_classes}, ckpt)

    path = records.run_dir(out, "pretrain", cfg.name)
    trunk = trunk_path(cfg.backbone, cfg.width)
    if last < epochs:
        return PretrainResult(path, trunk, {}, history)
    final_top1 = history[-1]["heldout_top1"] if history else top1(model, held, held_labels, cfg, device, amp_dtype)
    trunk = _save_trunk(model, cfg, size, final_top1)  # type: ignore[arg-type]
    wall = elapsed_before + time.time() - t_start
    summary = {"heldout_top1": final_top1, "wall_time_s": wall, "num_train_ids": num_classes,
               "train_images": len(train_split), "heldout_images": len(held),
               "trunk": trunk.name, "trunk_sha256": file_sha256(trunk), "checkpoint_sha256": file_sha256(ckpt),
               "make": pretrain_command(cfg.backbone, cfg.width, cfg.profile)}
    meta = {"seed": cfg.seed, "wall_time_s": wall, "trunk_path": str(trunk), "limit_ids": limit_ids,
            "precision": str(amp_dtype or torch.float32).removeprefix("torch."),
            **{k: summary[k] for k in ("trunk", "trunk_sha256", "checkpoint_sha256")},
            **records.environment(device_name(device))}
    records.write_config(path, dataclasses.asdict(cfg), meta)
    records.write_history(path, history)
    records.atomic_write_text(path / "pretrain.json", json.dumps(summary, indent=2, sort_keys=True))
    return PretrainResult(path, trunk, summary, history)


def load_pretrain_records(root: str | Path = "results") -> list[dict[str, Any]]:
    """The complete pretraining records under ``root/pretrain/`` (their pretrain.json, plus ``name``)."""
    folder = Path(root) / "pretrain"
    out = []
    for p in sorted(folder.glob("*/pretrain.json")) if folder.is_dir() else []:
        out.append({"name": p.parent.name, **json.loads(p.read_text())})
    return out


__all__ = ["BACKBONE_NAMES", "TIERS", "PretrainConfig", "PretrainResult", "checkpoint_file", "load_pretrain_records",
           "pretrain", "top1", "trunk_name"]
