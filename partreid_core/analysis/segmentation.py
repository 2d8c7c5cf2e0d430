"""Segmentation quality (PAL-F14: how good are the part maps a PS head predicts?)."""
from __future__ import annotations

import torch

from ..data.types import IGNORE_INDEX


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts, rows = target class, columns = predicted class.

    ``pred`` and ``target`` are integer label maps of the same shape (e.g. (N, H, W));
    pixels whose target is ``ignore_index`` are not counted.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    keep = target != ignore_index
    t, p = target[keep].long(), pred[keep].long()
    if t.numel() and (t.max() >= num_classes or p.max() >= num_classes or min(t.min(), p.min()) < 0):
        raise ValueError(f"labels must lie in [0, {num_classes}) or be {ignore_index}")
    return torch.bincount(t * num_classes + p, minlength=num_classes**2).view(num_classes, num_classes)


def segmentation_scores(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                        ignore_index: int = IGNORE_INDEX) -> dict[str, object]:
    """Pixel accuracy, per-class IoU and mIoU over the classes present in target or prediction."""
    cm = confusion_matrix(pred, target, num_classes, ignore_index).double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    iou = torch.where(present, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))
    return {
        "pixel_accuracy": float(tp.sum() / cm.sum().clamp_min(1)),
        "iou": iou.tolist(),
        "miou": float(iou[present].mean()) if present.any() else float("nan"),
    }
