"""The device-side training input pipeline: index batch -> augmented, normalised :class:`Batch`.

The training split lives on the device as one uint8 tensor (decoded once by the dataset);
a batch is a gather of rows followed by the batched ops of :mod:`partreid_core.data.augment`.
"""
from __future__ import annotations

import torch

from ..data.augment import pad_crop, random_erasing, random_hflip, random_shift, random_style
from ..data.sampler import PKSampler, RandomBatchSampler
from ..data.transforms import normalize
from ..data.types import Batch, SplitTensors
from .config import DataConfig


def build_sampler(cfg: DataConfig, labels: torch.Tensor):
    if cfg.sampler == "pk":
        return PKSampler(labels, cfg.p, cfg.k, cfg.epoch)
    return RandomBatchSampler(len(labels), cfg.batch_size)


def augment(images: torch.Tensor, masks: torch.Tensor | None, keypoints: torch.Tensor | None, cfg: DataConfig,
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """uint8 (N, 3, H, W) (+ masks (N, H, W), keypoints (N, 17, 3)) -> normalised float32 images and
    the aligned side labels: flip -> pad-and-crop -> RSA -> style jitter -> normalise -> random erasing."""
    images, masks, keypoints = random_hflip(images, masks, keypoints, cfg.flip_p, gen)
    images, masks, keypoints = pad_crop(images, masks, keypoints, cfg.pad, gen)
    if cfg.rsa.p > 0:
        images, masks, keypoints = random_shift(images, masks, keypoints, cfg.rsa, gen)
    images = random_style(images, cfg.style, gen)
    x = normalize(images)
    if cfg.erasing.p > 0:
        x, masks = random_erasing(x, masks, cfg.erasing, gen)
    return x, masks, keypoints


def make_batch(split: SplitTensors, labels: torch.Tensor, idx: torch.Tensor, cfg: DataConfig,
               gen: torch.Generator, channels_last: bool = False) -> Batch:
    """Gather rows ``idx`` of a device-resident split and augment them into a training :class:`Batch`."""
    idx = idx.to(split.images.device)
    masks = None if split.masks is None else split.masks[idx]
    kps = None if split.keypoints is None else split.keypoints[idx]
    x, masks, kps = augment(split.images[idx], masks, kps, cfg, gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return Batch(x, labels[idx], split.camids[idx], None if masks is None else masks.long(), kps)
