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
import time
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..data.types import Batch, SplitTensors, relabel
from ..experiments.config import ExperimentConfig
from ..models import build_model
from .optim import build_optimizer
from .pipeline import build_sampler, make_batch
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
        out = model(batch.images)
    loss = sum(model.compute_losses(out, batch).values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


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

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    results: dict[str, Any] = {"device": str(dev), "model": cfg.model, "dataset": cfg.data.dataset,
                               "size": list(cfg.data.size), "batch": cfg.data.train_batch, "steps": steps}
    # ours
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, num_classes, cfg.model_overrides).to(dev).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg.optim)
    split_dev, labels_dev = train_split.to(dev), labels.to(dev)
    aug_gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    amp = amp_dtype_for(cfg.train.amp, dev)
    model.train()
    for i, idx in enumerate(batches):
        if i == warmup:
            sync()
            t0 = time.time()
        _step(model, opt, make_batch(split_dev, labels_dev, idx, cfg.data, aug_gen, True), dev, amp)
    sync()
    results["ours_images_per_s"] = steps * cfg.data.train_batch / (time.time() - t0)
    results["ours_amp"] = str(amp)
    del split_dev
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
            sync()
            t0 = time.time()
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        _step(model, opt, Batch(x, y, torch.zeros_like(y)), dev, None)
    sync()
    results["conventional_images_per_s"] = steps * cfg.data.train_batch / (time.time() - t0)
    results["conventional_workers"] = workers
    results["speedup"] = results["ours_images_per_s"] / results["conventional_images_per_s"]
    return results
