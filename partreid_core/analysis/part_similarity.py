"""Part-feature similarity (PAL-F9): how redundant are a model's stripe features? And the generic
``part_similarity`` analysis hook that records it at the end of training."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.hooks import AnalysisContext, training_outputs
from .hooks import register_hook


def part_similarity_matrix(part_feats: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity between part features, averaged over images.

    PAL-F9: L2-normalise each part feature ``v_j`` of an image, take the P×P matrix of inner
    products, average it element-wise over all images.

    Args:
        part_feats: (N, P, d) part features (e.g. max-pooled Conv5 stripes before reduction).
    Returns:
        (P, P) float32 matrix with ones on the diagonal.
    """
    if part_feats.dim() != 3:
        raise ValueError(f"part_feats must be (N, P, d), got {tuple(part_feats.shape)}")
    v = F.normalize(part_feats.float(), dim=2)
    return torch.einsum("npd,nqd->pq", v, v) / v.shape[0]


def per_image_off_diagonal(part_feats: torch.Tensor) -> torch.Tensor:
    """(N, P, d) -> (N,): each image's mean cosine similarity between its P part features (off-diagonal)."""
    v = F.normalize(part_feats.float(), dim=2)
    p = v.shape[1]
    sims = torch.einsum("npd,nqd->n", v, v)  # sum over all (p, q) pairs, diagonal included
    return (sims - p) / max(1, p * (p - 1))


def similarity_summary(sim: torch.Tensor) -> dict[str, float]:
    """Scalars of a (P, P) similarity matrix as PAL-F9's table reports them.

    Returns mean off-diagonal, mean adjacent (stripe distance 1), mean non-adjacent
    (distance >= 2) and the minimum off-diagonal value.
    """
    p = sim.shape[0]
    i, j = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    dist = (i - j).abs()
    off = sim[dist > 0]
    return {
        "mean_off_diagonal": float(off.mean()),
        "mean_adjacent": float(sim[dist == 1].mean()),
        "mean_non_adjacent": float(sim[dist >= 2].mean()) if p > 2 else float("nan"),
        "min": float(off.min()),
    }


@register_hook("part_similarity")
def part_similarity(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """Mean cosine similarity between the part features of one image (PAL-F9 style), on the query split.

    Needs ``ModelOutput.aux["part_features"]`` (N, P, d). Returns ``matrix`` (P, P), the mean
    over images of the per-image part-part cosine similarity, and ``per_image_mean`` (N,), the
    mean off-diagonal similarity of each image. Models without part features return nothing.
    """
    feats = []
    for out in training_outputs(ctx.model, ctx.query, ctx.device, limit=2000):
        pf = out.aux.get("part_features") if hasattr(out, "aux") else None
        if pf is None:
            return {}
        feats.append(pf.float().cpu())
    pf = torch.cat(feats)
    return {"matrix": part_similarity_matrix(pf).numpy(),
            "per_image_mean": per_image_off_diagonal(pf).numpy().astype(np.float32)}
