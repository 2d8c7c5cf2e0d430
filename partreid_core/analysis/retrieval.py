"""Rank lists of two models on the same queries (PLR-F5, PAL-F15): top-k galleries, per-query AP, case choice;
and retrieval with one block of the test feature at a time (PAL-F13, CGPN-X3).

The ranking follows the evaluation's conventions (:mod:`partreid_core.evaluation.metrics`): gallery
items with the query's identity *and* camera, and items with pid -1, are removed; ties keep gallery order.
"""
from __future__ import annotations

import numpy as np
import torch

from ..evaluation import evaluate


def _ids(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.int64)


def rank_lists(distmat: torch.Tensor, q_pids, g_pids, q_camids, g_camids, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(nq, ng) distances -> (top-k gallery indices (nq, k) int64, same-identity flags (nq, k) bool).

    Junk gallery items never appear in a list; a query with fewer than ``k`` valid items gets -1 and False
    in the remaining slots.
    """
    d = distmat.detach().float().cpu().clone()
    qp, gp, qc, gc = _ids(q_pids), _ids(g_pids), _ids(q_camids), _ids(g_camids)
    junk = ((qp[:, None] == gp[None]) & (qc[:, None] == gc[None])) | (gp[None] == -1)
    d[junk] = float("inf")
    k = min(k, d.shape[1])
    order = torch.sort(d, dim=1, stable=True).indices[:, :k]
    valid = torch.gather(~junk, 1, order)
    idx = torch.where(valid, order, torch.full_like(order, -1))
    match = valid & (gp[order] == qp[:, None])
    return idx.numpy(), match.numpy()


def per_query_ap(distmat: torch.Tensor, q_pids, g_pids, q_camids, g_camids) -> np.ndarray:
    """(nq,) non-interpolated AP of every query (NaN for a query without a valid positive), in [0, 1]."""
    qp, gp, qc, gc = _ids(q_pids), _ids(g_pids), _ids(q_camids), _ids(g_camids)
    out = np.full(distmat.shape[0], np.nan)
    for i in range(distmat.shape[0]):
        r = evaluate(None, None, qp[i:i + 1], gp, qc[i:i + 1], gc, distmat=distmat[i:i + 1].float(), max_rank=1)
        if r.num_valid_queries:
            out[i] = r.mAP
    return out


def choose_cases(ap_a: np.ndarray, ap_b: np.ndarray, n: int = 3) -> np.ndarray:
    """The ``n`` queries where model b gains most AP over model a (a fixed, deterministic rule: largest
    gain first, ties to the lower query index; queries without positives never chosen)."""
    gain = np.where(np.isnan(ap_a) | np.isnan(ap_b), -np.inf, ap_b - ap_a)
    order = np.lexsort((np.arange(len(gain)), -gain))
    return order[:n][np.isfinite(gain[order[:n]])]


__all__ = ["choose_cases", "per_query_ap", "rank_lists"]


def block_metrics(qf: torch.Tensor, gf: torch.Tensor, query, gallery, n_blocks: int,
                  metric: str = "euclidean") -> dict[str, np.ndarray]:
    """Retrieval with each of the ``n_blocks`` equal-width blocks of the test features alone.

    ``qf`` (nq, D), ``gf`` (ng, D) with D divisible by ``n_blocks``; ``query`` / ``gallery`` give pids and camids.
    Returns ``rank1``, ``mAP``, ``mAP_trapezoid`` as float32 arrays (n_blocks,) in %.
    """
    if qf.shape[1] % n_blocks:
        raise ValueError(f"test feature of width {qf.shape[1]} does not split into {n_blocks} equal blocks")
    d = qf.shape[1] // n_blocks
    rows: dict[str, list[float]] = {"rank1": [], "mAP": [], "mAP_trapezoid": []}
    for j in range(n_blocks):
        r = evaluate(qf[:, j * d:(j + 1) * d], gf[:, j * d:(j + 1) * d], query.pids, gallery.pids, query.camids,
                     gallery.camids, metric=metric).to_dict()
        for k in rows:
            rows[k].append(r[k])
    return {k: np.asarray(v, dtype=np.float32) for k, v in rows.items()}
