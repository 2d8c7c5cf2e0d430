"""PAL's part-segmentation loss (class-balanced pixel-wise cross-entropy) and label utilities.

PAL §III-B, Eq. 8-9 (spec ``papers/pal.md`` §3.5): the per-pixel cross-entropy is averaged
*within* each class over the whole batch first, then across the classes present in the
batch, so small parts (head, foot) weigh as much as background and torso.

Label maps use the 8-class scheme of :data:`partreid_core.data.types.PART_CLASSES`
(0 background, 1 head, 2 torso, 3 upper arm, 4 lower arm, 5 upper leg, 6 lower leg, 7 foot).
Pixels equal to ``ignore_index`` (255) carry no label; the paper has no such pixels (every
training image has a pseudo label), the index exists for datasets with partial labels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import gather_nograd, gather_with_grad

#: PAL-T6 / PAL-F11 label granularities: a fixed lookup from the 8 classes to M classes
#: (PAL-MGN ``fuse_parts.py``). Index i of a tuple is the new class of old class i.
PART_GROUPINGS: dict[str, tuple[int, ...]] = {
    # foreground vs background, M = 2
    "fg": (0, 1, 1, 1, 1, 1, 1, 1),
    # upper body {head, torso, upper arm, lower arm} / lower body {upper leg, lower leg, foot}, M = 3
    "2": (0, 1, 1, 1, 1, 2, 2, 2),
    # head / torso + arms / upper legs / lower legs + feet, M = 5
    "4": (0, 1, 2, 2, 2, 3, 4, 4),
    # the seven parts (default), M = 8
    "7": (0, 1, 2, 3, 4, 5, 6, 7),
}


def num_part_classes(granularity: str) -> int:
    """M, the number of PS classes (background included) of a granularity: fg 2, 2 3, 4 5, 7 8."""
    return max(_grouping(granularity)) + 1


def _grouping(granularity: str) -> tuple[int, ...]:
    try:
        return PART_GROUPINGS[granularity]
    except KeyError:
        raise ValueError(f"unknown part-label granularity {granularity!r}; "
                         f"expected one of {sorted(PART_GROUPINGS)}") from None


def remap_part_labels(masks: torch.Tensor, granularity: str, ignore_index: int = 255) -> torch.Tensor:
    """Map 8-class labels (N, H, W) to the classes of ``granularity``; ``ignore_index`` stays.

    Raises:
        ValueError: a label outside 0..7 that is not ``ignore_index``.
    """
    table = torch.tensor(_grouping(granularity), dtype=torch.long, device=masks.device)
    masks = masks.long()
    valid = masks != ignore_index
    if bool(((masks < 0) | (masks >= len(table)))[valid].any()):
        bad = masks[valid & ((masks < 0) | (masks >= len(table)))].unique()[:5].tolist()
        raise ValueError(f"part masks must hold 0..{len(table) - 1} or {ignore_index} (ignore); found {bad}")
    return torch.where(valid, table[masks.clamp(0, len(table) - 1)], masks)


def degrade_part_labels(labels: torch.Tensor, num_classes: int, noise: float, ignore_index: int = 255,
                        max_radius_frac: float = 1 / 16, max_scale: float = 1.0, max_flip_rate: float = 0.5,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Worsen part labels (N, H, W) on purpose: PAL's pseudo-label-quality analogue (pal.md §10, claim C9).

    ``noise`` in [0, 1] scales the errors of a poor part segmenter, drawn independently per image:

    * blur-then-argmax with a random gain per class: the one-hot maps are box-blurred with radius
      round(noise · max_radius_frac · H) pixels (8 px at H = 128 and noise 1) and each class's map is
      scaled by exp(u), u ~ U(-noise · max_scale, noise · max_scale), before the argmax, so some
      parts dilate into their neighbours and others erode, and thin parts can vanish;
    * class flips: with probability ``noise · max_flip_rate`` one foreground class present in the
      image is relabelled as another foreground class (left/right or arm/leg confusions).

    ``ignore_index`` pixels stay ignored; ``noise = 0`` returns the labels unchanged. Random numbers
    come from ``generator`` (CPU) or the global CPU RNG, so results do not depend on the device.
    Returns int64 labels of the same shape, in 0..num_classes-1 or ``ignore_index``.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"label noise must be in [0, 1], got {noise}")
    labels = labels.long()
    if noise == 0.0:
        return labels
    n, h, _ = labels.shape
    dev = labels.device
    ignored = labels == ignore_index
    onehot = F.one_hot(labels.clamp(0, num_classes - 1), num_classes).permute(0, 3, 1, 2).float()
    onehot = onehot.masked_fill(ignored[:, None], 0.0)
    r = int(round(noise * max_radius_frac * h))
    if r > 0:  # a (2r+1)^2 box mean, done as a column pass then a row pass (same result, ~r times fewer ops)
        onehot = F.avg_pool2d(onehot, (2 * r + 1, 1), stride=1, padding=(r, 0), count_include_pad=False)
        onehot = F.avg_pool2d(onehot, (1, 2 * r + 1), stride=1, padding=(0, r), count_include_pad=False)
    gain = torch.empty(n, num_classes).uniform_(-noise * max_scale, noise * max_scale, generator=generator)
    out = (onehot * gain.exp().to(dev)[:, :, None, None]).argmax(1)
    if num_classes > 2:
        flip = torch.rand(n, generator=generator) < noise * max_flip_rate
        pick, to = torch.rand(n, generator=generator).to(dev), torch.rand(n, generator=generator).to(dev)
        # per image, batched: src = the floor(pick * k)-th of its k present foreground classes (ascending),
        # dst = the floor(to * (M - 2))-th of the other foreground classes
        present = torch.zeros(n, num_classes, dtype=torch.bool, device=dev).scatter_(1, out.flatten(1), True)[:, 1:]
        k = present.sum(1)
        nth = (pick * k).long()
        src = 1 + (present.long().cumsum(1) <= nth[:, None]).sum(1)
        idx = (to * (num_classes - 2)).long()
        dst = torch.where(1 + idx < src, 1 + idx, 2 + idx)
        apply = (flip.to(dev) & (k > 0))[:, None, None] & (out == src[:, None, None])
        out = torch.where(apply, dst[:, None, None], out)
    return torch.where(ignored, labels, out)


def resize_labels(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of label maps (N, H, W) -> (N, h, w), int64 (PAL §3.5, §9 #7)."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks.long()
    out = F.interpolate(masks[:, None].float(), size=tuple(size), mode="nearest")
    return out[:, 0].long()


def class_balanced_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                                 ignore_index: int = 255, eps: float = 1e-8, validate: bool = True) -> torch.Tensor:
    """PAL's L_ps: per-class mean of the pixel cross-entropy, then the mean over present classes.

    Args:
        logits: (N, M, h, w) PS-head outputs.
        labels: (N, h, w) int64 in 0..M-1 or ``ignore_index``, at the logits' resolution.
        eps: added to the number of present classes, as in the authors' code.
        validate: check the label range (one host sync); callers that remapped the labels
            with :func:`remap_part_labels` already know them to be valid.

    Returns:
        A scalar. ``sum_s mean_{pixels of s} CE / (#classes present + eps)``; pixels of all
        images in the batch are pooled per class; ignored pixels count nowhere. A batch
        without any labelled pixel gives 0 (with a graph, so backward still works).
    """
    n, m = logits.shape[:2]
    if labels.shape != (n, *logits.shape[2:]):
        raise ValueError(f"labels must have shape {(n, *logits.shape[2:])} to match logits "
                         f"{tuple(logits.shape)}, got {tuple(labels.shape)}")
    labels = labels.long()
    valid = labels != ignore_index
    if validate and bool(((labels < 0) | (labels >= m))[valid].any()):
        raise ValueError(f"segmentation labels must be in 0..{m - 1} or {ignore_index}; "
                         f"found {labels[valid].min().item()}..{labels[valid].max().item()}")
    # fp32: the per-class averages of small classes are sums of few terms
    pix = F.cross_entropy(logits.float(), labels, reduction="none", ignore_index=ignore_index)
    bins = torch.where(valid, labels, torch.full_like(labels, m)).flatten()  # ignored -> spare bin m
    # one-hot sums instead of bincount/index_add_: deterministic on CUDA as well
    onehot = F.one_hot(bins, m + 1)[:, :m].to(pix.dtype)                      # (pixels, M)
    counts = onehot.sum(0)
    sums = pix.flatten() @ onehot
    present = counts > 0
    per_class = sums[present] / counts[present]
    return per_class.sum() / (present.sum() + eps)


class PartSegmentationLoss(nn.Module):
    """:func:`class_balanced_cross_entropy` with labels resized to the logits' resolution.

    Input: logits (N, M, h, w) and full-resolution masks (N, H, W) already in the M-class
    scheme (see :func:`remap_part_labels`). Output: scalar. In a multi-process run the logits and
    labels of every rank are gathered first (:mod:`partreid_core.losses.distributed`), so each class's
    pixels are pooled over the global batch, as with one process.
    """

    def __init__(self, ignore_index: int = 255, validate: bool = True):
        super().__init__()
        self.ignore_index = ignore_index
        self.validate = validate

    def forward(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        labels = resize_labels(masks, tuple(logits.shape[-2:]))
        logits, labels = gather_with_grad(logits), gather_nograd(labels)  # no-ops with one process
        return class_balanced_cross_entropy(logits, labels, self.ignore_index, validate=self.validate)


__all__ = ["PART_GROUPINGS", "degrade_part_labels", "num_part_classes", "remap_part_labels", "resize_labels",
           "class_balanced_cross_entropy", "PartSegmentationLoss"]
