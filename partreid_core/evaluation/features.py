"""Test-descriptor extraction (optionally flip-averaged) and the one-call model evaluation."""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..data.transforms import normalize
from ..data.types import SplitTensors
from .metrics import evaluate
from .rerank import re_ranking


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def extract_features(model: nn.Module, images: torch.Tensor, *, batch_size: int = 256, flip: bool = True,
                     device: torch.device | str | None = None, amp_dtype: torch.dtype | None = None) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> embeddings (N, D) float32 on CPU.

    Images are normalised with :func:`partreid_core.data.transforms.normalize` on ``device`` (default: the
    model's). With ``flip`` the descriptor is the mean of the embeddings of the image and its horizontal
    flip (averaged before any normalisation; the metric decides about L2 normalisation). The model is run
    in eval mode under ``torch.inference_mode`` and its previous train/eval mode is restored.
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    autocast = (torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())

    def embed(x: torch.Tensor) -> torch.Tensor:
        with autocast:
            f = model(x)
        if not isinstance(f, torch.Tensor) or f.dim() != 2 or f.shape[0] != x.shape[0]:
            raise TypeError(f"{type(model).__name__} in eval mode must return an (N, D) tensor, "
                            f"got {type(f).__name__} {tuple(getattr(f, 'shape', ()))}")
        return f.float()

    out = []
    try:
        with torch.inference_mode():
            for s in range(0, images.shape[0], batch_size):
                x = normalize(images[s:s + batch_size].to(device, non_blocking=True))
                f = embed(x)
                if flip:
                    f = (f + embed(x.flip(3))) / 2
                out.append(f.cpu())
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("extract_features got no images (N = 0)")
    return torch.cat(out)


def evaluate_model(model: nn.Module, query: SplitTensors, gallery: SplitTensors, *, metric: str = "euclidean",
                   flip: bool = True, rerank: bool = False, batch_size: int = 256,
                   device: torch.device | str | None = None, amp_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Extract query/gallery descriptors and return :meth:`EvalResult.to_dict` (percent rates).

    With ``rerank`` the same keys prefixed ``rr_`` are added, from k-reciprocal re-ranking (k1=20, k2=6,
    lambda=0.3) on the same descriptors; for ``metric="cosine"`` the descriptors are L2-normalised first
    so re-ranking starts from ``2 - 2 cos`` (layumi's practice).
    """
    device = torch.device(device) if device is not None else _model_device(model)
    kw = dict(batch_size=batch_size, flip=flip, device=device, amp_dtype=amp_dtype)
    qf = extract_features(model, query.images, **kw).to(device)
    gf = extract_features(model, gallery.images, **kw).to(device)
    ids = (query.pids, gallery.pids, query.camids, gallery.camids)
    metrics = evaluate(qf, gf, *ids, metric=metric).to_dict()
    if rerank:
        if metric == "cosine":
            qf, gf = torch.nn.functional.normalize(qf, dim=1), torch.nn.functional.normalize(gf, dim=1)
        dist = re_ranking(qf, gf)
        metrics.update(evaluate(None, None, *ids, distmat=dist).to_dict(prefix="rr_"))
    return metrics
