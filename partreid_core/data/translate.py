"""Offline translation: a training split enlarged by shifted copies (MPN §5.1, "offline translation [51]
is adopted to enlarge each training set by a factor of five").

The paper gives no details (mpn.md §9 A12); the reading used here: the original images plus
``copies - 1`` copies, each shifted by whole pixels (dx, dy) drawn uniformly from
[-round(max_shift W), round(max_shift W)] x [-round(max_shift H), round(max_shift H)], zero-padded.
The shift of copy c of image i is a fixed hash of (i, c, seed), so the enlarged set is the same in
every run, on every device and whatever the batch order: the equivalent of writing it to disk once.
Part masks and keypoints move with their images, so any prior computed from them (MPN's) is the prior
of the translated image; uncovered mask pixels are background, except in images that have no mask at
all (every pixel ``IGNORE_INDEX``), which stay unlabelled.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ConfigError
from .augment import _gather_windows, _hide_outside
from .types import IGNORE_INDEX, SplitTensors


@dataclass
class TranslateConfig:
    """``copies``: images per original in the enlarged split (1 = off; MPN: 5, the original included);
    ``max_shift``: largest shift as a fraction of the height / width; ``seed``: of the shift hash."""

    copies: int = 1
    max_shift: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.copies < 1:
            raise ConfigError(f"data.translate.copies must be >= 1, got {self.copies}")
        if not 0.0 <= self.max_shift < 0.5:
            raise ConfigError(f"data.translate.max_shift must be in [0, 0.5), got {self.max_shift}")


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: uint64 -> well-mixed uint64 (a counter-based hash)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def translation_shifts(n: int, copy: int, size: tuple[int, int], max_shift: float, seed: int = 0) -> torch.Tensor:
    """(n, 2) int64 (dy, dx) of copy ``copy`` of images 0..n-1; copy 0 is the original (all zeros).

    Each shift depends only on (index, copy, seed), not on ``n``.
    """
    if copy == 0:
        return torch.zeros(n, 2, dtype=torch.long)
    h, w = size
    ry, rx = int(round(max_shift * h)), int(round(max_shift * w))
    with np.errstate(over="ignore"):
        key = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
               + np.uint64(copy) * np.uint64(0xD1B54A32D192ED03) + np.uint64(seed) * np.uint64(0x8CB92BA72F3D8DD7))
        a = _mix64(key)
        b = _mix64(a ^ np.uint64(0x5851F42D4C957F2D))
    dy = (a % np.uint64(2 * ry + 1)).astype(np.int64) - ry
    dx = (b % np.uint64(2 * rx + 1)).astype(np.int64) - rx
    return torch.from_numpy(np.stack([dy, dx], 1))


def shift_images(images: torch.Tensor, masks: torch.Tensor | None, keypoints: torch.Tensor | None,
                 shifts: torch.Tensor):
    """Move each sample by its (dy, dx) (N, 2): the pixel at (y, x) goes to (y + dy, x + dx).

    images uint8 (N, 3, H, W) (uncovered pixels 0), masks uint8 (N, H, W) (uncovered: background, or
    ``IGNORE_INDEX`` in masks that are all ``IGNORE_INDEX``), keypoints (N, 17, 3) (moved; those leaving
    the canvas become invisible). Returns (images, masks, keypoints).
    """
    n, _, h, w = images.shape
    py, px = int(shifts[:, 0].abs().max()) if n else 0, int(shifts[:, 1].abs().max()) if n else 0
    dy, dx = shifts[:, 0].to(images.device), shifts[:, 1].to(images.device)
    oy, ox = py - dy, px - dx
    images = _gather_windows(F.pad(images, (px, px, py, py)), oy, ox, h, w)
    if masks is not None:
        unlabelled = (masks == IGNORE_INDEX).flatten(1).all(1)
        moved = _gather_windows(F.pad(masks[:, None], (px, px, py, py)), oy, ox, h, w)[:, 0]
        masks = torch.where(unlabelled[:, None, None], masks, moved)
    if keypoints is not None:
        keypoints = keypoints.clone()
        keypoints[..., 0] += dx.view(n, 1).to(keypoints)
        keypoints[..., 1] += dy.view(n, 1).to(keypoints)
        keypoints = _hide_outside(keypoints, h, w)
    return images, masks, keypoints


def translate_split(split: SplitTensors, cfg: TranslateConfig, chunk: int = 1024) -> SplitTensors:
    """The split enlarged to ``cfg.copies`` x its size: copy c of image i is row ``c * N + i``.

    Identities, cameras and meta are repeated; copy 0 is the split itself. ``copies == 1`` returns
    ``split`` unchanged. Memory: the result holds ``copies`` times the images (and masks).
    """
    if cfg.copies == 1:
        return split
    n = len(split)
    images, masks, kps = [], [], []
    for c in range(cfg.copies):
        shifts = translation_shifts(n, c, split.size, cfg.max_shift, cfg.seed)
        for s in range(0, n, chunk):
            sl = slice(s, s + chunk)
            im, m, k = shift_images(split.images[sl], None if split.masks is None else split.masks[sl],
                                    None if split.keypoints is None else split.keypoints[sl], shifts[sl])
            images.append(im)
            masks.append(m)
            kps.append(k)
    rep = lambda t: t.repeat(cfg.copies, *([1] * (t.dim() - 1)))  # noqa: E731
    return SplitTensors(torch.cat(images), rep(split.pids), rep(split.camids),
                        None if split.masks is None else torch.cat(masks),
                        None if split.keypoints is None else torch.cat(kps),
                        {k: rep(v) for k, v in split.meta.items()})


__all__ = ["TranslateConfig", "translation_shifts", "shift_images", "translate_split"]
