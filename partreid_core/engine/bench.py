"""``partreid bench train``: our device tensor pipeline against a conventional one, same model and batches.

* **ours**: the split decoded once into a uint8 tensor on the device, batched flip / erasing
  on the device, bf16 autocast on CUDA, channels_last (the engine's training step).
* **conventional**: a torchvision ``DataLoader`` whose dataset decodes a JPEG per image with PIL
  (the images are JPEG-encoded in memory once, standing in for files in the page cache), applies
  ``Resize`` / ``RandomHorizontalFlip`` / ``ToTensor`` / ``Normalize`` / ``RandomErasing`` per image,
  and an fp32, channels-first training step.

Both run the same number of timed optimiser steps after warm-up steps; the report gives
images/s for each and the ratio.
"""
from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..data.types import Batch, SplitTensors, relabel
from ..evaluation import extract_features
from ..models import build_model
from ..models.complexity import complexity_row
from .config import ExperimentConfig
from .optim import build_optimizer
from .pipeline import build_sampler, make_batch
from .records import atomic_write_text, load_history
from .trainer import amp_dtype_for, epoch_batches, load_splits, resolve_device


class _JpegDataset(Dataset):
    def __init__(self, split: SplitTensors, labels: torch.Tensor, size: tuple[int, int], erasing_p: float):
        import torchvision.transforms as T

        self.blobs = []
        for img in split.images:
            buf = io.BytesIO()
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, format="JPEG", quality=95)
            self.blobs.append(buf.getvalue())
        self.labels = labels
        self.tf = T.Compose([T.Resize(size), T.RandomHorizontalFlip(), T.ToTensor(),
                             T.Normalize(IMAGENET_MEAN, IMAGENET_STD), T.RandomErasing(p=erasing_p)])

    def __len__(self) -> int:
        return len(self.blobs)

    def __getitem__(self, i: int):
        img = Image.open(io.BytesIO(self.blobs[i])).convert("RGB")
        return self.tf(img), self.labels[i]


class _ListBatchSampler:
    def __init__(self, batches: list[torch.Tensor]):
        self.batches = [b.tolist() for b in batches]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _step(model, opt, batch: Batch, device: torch.device, amp_dtype) -> None:
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        out = model(batch.images, masks=batch.masks, keypoints=batch.keypoints)
    loss = sum(model.compute_losses(out, batch).values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _time_training(cfg: ExperimentConfig, split: SplitTensors, labels: torch.Tensor, num_classes: int,
                   batches: list[torch.Tensor], warmup: int, dev: torch.device) -> float:
    """Training images/s of the engine's step (device tensors, bf16 where the recipe asks, channels_last)
    over ``batches`` after ``warmup`` untimed steps."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, num_classes, cfg.model_overrides).to(dev).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg.optim)
    split_dev, labels_dev = split.to(dev), labels.to(dev)
    aug_gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    amp = amp_dtype_for(cfg.train.amp, dev)
    model.train()
    for i, idx in enumerate(batches):
        if i == warmup:
            _sync(dev)
            t0 = time.time()
        _step(model, opt, make_batch(split_dev, labels_dev, idx, cfg.data, aug_gen, True), dev, amp)
    _sync(dev)
    return (len(batches) - warmup) * cfg.data.train_batch / (time.time() - t0)


def _time_inference(model: torch.nn.Module, images: torch.Tensor, batch_size: int, repeats: int,
                    dev: torch.device, amp: torch.dtype | None) -> float:
    """Test-descriptor images/s of ``model`` on uint8 ``images`` (N, 3, H, W): the evaluation's
    :func:`extract_features` without flip, best of ``repeats`` passes after one warm-up pass."""
    model = model.to(dev).to(memory_format=torch.channels_last)
    times = []
    for r in range(repeats + 1):
        _sync(dev)
        t0 = time.time()
        extract_features(model, images, batch_size=batch_size, flip=False, device=dev, amp_dtype=amp)
        _sync(dev)
        if r:
            times.append(time.time() - t0)
    return images.shape[0] / min(times)


def bench_models(cfgs: dict[str, ExperimentConfig], steps: int = 10, warmup: int = 2, infer_images: int = 512,
                 repeats: int = 2, device: str | None = None) -> list[dict[str, Any]]:
    """Training and inference images/s of several recipes' models under identical conditions.

    ``cfgs`` maps a label to a resolved config. Training: ``steps`` timed steps of the engine (the
    recipe's sampler, augmentation, losses, masks and keypoints where the model uses them). Inference:
    ``infer_images`` test images (the recipe's eval batch size, amp as in training, no flip). One row
    per label with both rates and the model's parameter / MAC counts at the recipe's input size.
    """
    dev = resolve_device(device)
    rows = []
    for label, cfg in cfgs.items():
        train_split, query, _ = load_splits(cfg)
        labels, num_classes = relabel(train_split.pids)
        sampler = build_sampler(cfg.data, labels)
        batches = epoch_batches(sampler, torch.Generator().manual_seed(cfg.seed), steps + warmup)
        train_ips = _time_training(cfg, train_split, labels, num_classes, batches, warmup, dev)
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, num_classes, cfg.model_overrides)
        cx = complexity_row(cfg.model, model, tuple(cfg.data.size))
        infer_ips = _time_inference(model, query.images[:infer_images], cfg.eval.batch_size, repeats, dev,
                                    amp_dtype_for(cfg.train.amp, dev))
        rows.append({"label": label, "recipe": cfg.recipe, "model": cfg.model, "size": list(cfg.data.size),
                     "batch": cfg.data.train_batch, "train_images_per_s": train_ips,
                     "infer_images_per_s": infer_ips, "params": cx["params"], "macs": cx["macs"]})
    return rows


def bench_train(cfg: ExperimentConfig, steps: int = 10, warmup: int = 2, workers: int = 2,
                device: str | None = None) -> dict[str, Any]:
    """Images/s of both pipelines for ``cfg``'s model, data and batch; returns a dict with the ratio."""
    dev = resolve_device(device)
    train_split, _, _ = load_splits(cfg)
    train_split.masks, train_split.keypoints = None, None
    labels, num_classes = relabel(train_split.pids)
    sampler = build_sampler(cfg.data, labels)
    gen = torch.Generator().manual_seed(cfg.seed)
    batches = epoch_batches(sampler, gen, steps + warmup)

    results: dict[str, Any] = {"device": str(dev), "model": cfg.model, "dataset": cfg.data.dataset,
                               "size": list(cfg.data.size), "batch": cfg.data.train_batch, "steps": steps}
    results["ours_images_per_s"] = _time_training(cfg, train_split, labels, num_classes, batches, warmup, dev)
    results["ours_amp"] = str(amp_dtype_for(cfg.train.amp, dev))
    # conventional
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, num_classes, cfg.model_overrides).to(dev)
    opt = build_optimizer(model, cfg.optim)
    ds = _JpegDataset(train_split, labels, tuple(cfg.data.size), cfg.data.erasing.p)
    loader = DataLoader(ds, batch_sampler=_ListBatchSampler(batches), num_workers=workers,
                        pin_memory=dev.type == "cuda", persistent_workers=False)
    model.train()
    for i, (x, y) in enumerate(loader):
        if i == warmup:
            _sync(dev)
            t0 = time.time()
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        _step(model, opt, Batch(x, y, torch.zeros_like(y)), dev, None)
    _sync(dev)
    results["conventional_images_per_s"] = steps * cfg.data.train_batch / (time.time() - t0)
    results["conventional_workers"] = workers
    results["speedup"] = results["ours_images_per_s"] / results["conventional_images_per_s"]
    return results


# ---------------------------------------------------------------------------------------------
# the GPU check (scripts/gpu_check.sh): its targets, the CUDA-vs-CPU comparison and the summary table

#: training images/s on one H100/H200 at the papers' input sizes (pal_globalpool 256x128 batch 32,
#: pal_mgn 384x128 P x K 16 x 8), and the ratio to the conventional pipeline both must reach
GPU_TRAIN_TARGETS = {"globalpool": 4000.0, "mgn": 1500.0}
GPU_SPEEDUP_TARGET = 5.0
#: Market-scale evaluation plus k-reciprocal re-ranking on the GPU, seconds
GPU_EVAL_TARGET_S = 5.0


def compare_runs(a: str | Path, b: str | Path, loss_rtol: float = 1e-3, map_atol: float = 0.5) -> dict[str, Any]:
    """Do two run records (e.g. the same smoke run on CUDA and on CPU) agree within tolerance?

    Tolerances: each epoch's mean loss within ``loss_rtol`` relative; final mAP within ``map_atol`` points; final
    rank-1 within one query (100 / valid queries points), since one query changing its top match moves rank-1 by
    that much. Returns the differences, the tolerances and ``ok``.
    """
    a, b = Path(a), Path(b)
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    ha, hb = load_history(a), load_history(b)
    if len(ha) != len(hb):
        raise ValueError(f"{a} has {len(ha)} epochs, {b} has {len(hb)}")
    loss_rel = [abs(x - y) / max(abs(x), 1e-12) for x, y in zip(ha["loss"], hb["loss"], strict=True)]
    rank1_tol = 100.0 / max(ma["num_valid_queries"], 1) + 1e-6
    out = {"a": str(a), "b": str(b), "loss_a": list(ha["loss"]), "loss_b": list(hb["loss"]),
           "loss_rel_diff": loss_rel, "rank1_diff": abs(ma["rank1"] - mb["rank1"]),
           "mAP_diff": abs(ma["mAP"] - mb["mAP"]),
           "tolerance": {"loss_rtol": loss_rtol, "mAP_atol": map_atol, "rank1_atol": rank1_tol}}
    out["ok"] = bool(max(loss_rel) <= loss_rtol and out["mAP_diff"] <= map_atol and out["rank1_diff"] <= rank1_tol)
    return out


def _summary_row(root: Path, step: dict[str, Any]) -> dict[str, Any]:
    """One line of the GPU check's table: what a step measured, its target and whether it was met."""
    row = {"step": step["step"], "status": step["status"], "seconds": round(float(step.get("seconds", 0)), 1),
           "result": "", "target": "", "met": None}
    rec = root / step["record"] if step.get("record") else None
    if step["status"] != "ok" or rec is None or not rec.exists():
        return row
    if step["step"] == "env":
        e = json.loads(rec.read_text())
        row["result"] = (f"{e.get('gpu', 'no GPU')} · torch {e['torch']} · torchvision {e['torchvision']} · "
                         f"CUDA {e.get('cuda')} · {e['cpus']} CPUs")
    elif step["step"].startswith("bench-train-"):
        r = json.loads(rec.read_text())["result"]
        model = step["step"].removeprefix("bench-train-")
        target = GPU_TRAIN_TARGETS.get(model)
        amp = "fp32" if r["ours_amp"] == "None" else r["ours_amp"].removeprefix("torch.")
        row["result"] = (f"ours {r['ours_images_per_s']:.0f} img/s ({amp}), conventional "
                         f"{r['conventional_images_per_s']:.0f} img/s, {r['speedup']:.1f}x")
        if target:
            row["target"] = f">= {target:.0f} img/s and >= {GPU_SPEEDUP_TARGET:.0f}x"
            row["met"] = r["ours_images_per_s"] >= target and r["speedup"] >= GPU_SPEEDUP_TARGET
    elif step["step"].startswith("eval-"):
        r = json.loads(rec.read_text())["result"]
        total = r["t_ours"]["total"] + (r["t_rerank"]["total"] if "t_rerank" in r else 0.0)
        rr = f" + re-ranking {r['t_rerank']['total']:.2f} s" if "t_rerank" in r else ""
        mem = f", peak {r['peak_cuda_mb'] / 1024:.1f} GB on the GPU" if "peak_cuda_mb" in r else ""
        row["result"] = (f"{r['nq']:,} x {r['ng']:,}: evaluation {r['t_ours']['total']:.2f} s{rr}{mem}; "
                         f"agrees: {r['agree']}")
        if "t_rerank" in r:
            row["target"] = f"<= {GPU_EVAL_TARGET_S:.0f} s"
            row["met"] = total <= GPU_EVAL_TARGET_S and bool(r["agree"])
    elif step["step"] == "smoke-compare":
        r = json.loads(rec.read_text())
        row["result"] = (f"loss rel. diff {max(r['loss_rel_diff']):.1e}, rank-1 diff {r['rank1_diff']:.2f}, "
                         f"mAP diff {r['mAP_diff']:.3f}")
        t = r["tolerance"]
        row["target"] = f"loss {t['loss_rtol']:.0e} rel., mAP {t['mAP_atol']} pt, rank-1 one query"
        row["met"] = r["ok"]
    elif (rec / "metrics.json").exists():  # a training run
        m = json.loads((rec / "metrics.json").read_text())
        row["result"] = f"rank-1 {m['rank1']:.1f}, mAP {m['mAP']:.1f}" + (
            f" (re-ranked {m['rr_mAP']:.1f})" if "rr_mAP" in m else "")
    return row


def gpu_check_summary(root: str | Path) -> tuple[list[dict[str, Any]], str]:
    """Rows and a printable table of ``<root>/gpu-check/steps.jsonl`` (one JSON line per finished step).

    Writes ``<root>/gpu-check/summary.json`` (the rows) too, so a check cut short still leaves its summary.
    """
    root = Path(root)
    lines = (root / "gpu-check" / "steps.jsonl").read_text().splitlines()
    rows = [_summary_row(root, json.loads(s)) for s in lines if s.strip()]

    atomic_write_text(root / "gpu-check" / "summary.json", json.dumps(rows, indent=2))
    cols = ("step", "status", "seconds", "met", "result", "target")
    cells = [[("-" if r[c] is None else ("yes" if r[c] is True else "no" if r[c] is False else str(r[c])))
              for c in cols] for r in rows]
    widths = [max([len(c)] + [len(x[i]) for x in cells]) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    table = "\n".join([fmt.format(*cols), fmt.format(*("-" * w for w in widths))] + [fmt.format(*x) for x in cells])
    return rows, table
