"""Pairwise distances between query and gallery descriptors, computed in row chunks.

Conventions (fixed by ``tests/test_evaluation.py``):

* ``"euclidean"``: the Euclidean distance ``||q - g||_2`` (not squared), from the expansion
  ``||q||^2 + ||g||^2 - 2 q.g`` clamped at 0 before the square root. Squared and plain Euclidean
  rank identically; the square root keeps the values what the name says.
* ``"sqeuclidean"``: the squared Euclidean distance (what torchreid/fast-reid/BoT rank with and what
  k-reciprocal re-ranking starts from).
* ``"cosine"``: ``1 - cos(q, g)`` with both sides L2-normalised (zero vectors stay zero, distance 1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

METRICS = ("euclidean", "sqeuclidean", "cosine")


def _check(qf: torch.Tensor, gf: torch.Tensor, metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if qf.dim() != 2 or gf.dim() != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"features must be (nq, d) and (ng, d) with the same d, "
                         f"got {tuple(qf.shape)} and {tuple(gf.shape)}")


def prepare_gallery(gf: torch.Tensor, metric: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gallery-side precomputation shared by every query chunk: (features float32, squared norms or None)."""
    gf = gf.float()
    if metric == "cosine":
        return F.normalize(gf, dim=1), None
    return gf, torch.linalg.vector_norm(gf, dim=1).square_()


def distance_chunk(q: torch.Tensor, g: torch.Tensor, g_sq: torch.Tensor | None, metric: str) -> torch.Tensor:
    """q (c, d), prepared gallery ``g`` (ng, d) and ``g_sq`` (ng,) from :func:`prepare_gallery` -> (c, ng) float32."""
    q = q.to(device=g.device, dtype=torch.float32)
    if metric == "cosine":
        return 1.0 - F.normalize(q, dim=1) @ g.t()
    d = torch.addmm(g_sq.unsqueeze(0), q, g.t(), alpha=-2.0)  # ||g||^2 - 2 q.g
    d.add_(torch.linalg.vector_norm(q, dim=1, keepdim=True).square_()).clamp_(min=0.0)
    return d.sqrt_() if metric == "euclidean" else d


def compute_distance(qf: torch.Tensor, gf: torch.Tensor, metric: str = "euclidean", *,
                     chunk_size: int = 4096) -> torch.Tensor:
    """qf (nq, d), gf (ng, d) -> distance matrix (nq, ng) float32 on the device of ``gf``.

    Rows are computed ``chunk_size`` queries at a time so the intermediate products stay bounded;
    the result itself is (nq, ng) -- for MSMT17-scale problems use :func:`evaluate`, which never
    materialises it.
    """
    _check(qf, gf, metric)
    g, g_sq = prepare_gallery(gf, metric)
    out = torch.empty(qf.shape[0], g.shape[0], dtype=torch.float32, device=g.device)
    for s in range(0, qf.shape[0], chunk_size):
        out[s:s + chunk_size] = distance_chunk(qf[s:s + chunk_size], g, g_sq, metric)
    return out
