"""The classic CUHK03 single-gallery-shot metric (Li et al., CVPR 2014), as an option.

For each of ``num_repeats`` repeats and each query, the gallery is reduced to one randomly drawn image
per identity; for the query's own identity the draw is among its valid positives (other camera). The
CMC of that single-shot gallery is averaged over repeats and queries. As in torchreid's ``eval_cuhk03``
the draw is independent per query, and mAP / mAP_trapezoid / mINP are computed on the *full* gallery
(with :func:`partreid_core.evaluation.evaluate`), since AP over a one-positive gallery is just 1/rank.
Junk (pid -1) is dropped; a pid-0 distractor group counts as one more identity. Ties follow the stable rule.
"""
from __future__ import annotations

import torch

from .distance import _check, distance_chunk, prepare_gallery
from .metrics import EvalResult, _as_ids, _GalleryGroups, evaluate


def evaluate_cuhk03_classic(qf: torch.Tensor | None, gf: torch.Tensor | None, q_pids, g_pids, q_camids, g_camids,
                            *, metric: str = "euclidean", max_rank: int = 50, num_repeats: int = 10,
                            seed: int = 0, chunk_size: int = 1024,
                            distmat: torch.Tensor | None = None) -> EvalResult:
    """Single-gallery-shot CMC (mean over ``num_repeats`` random galleries) plus full-gallery mAP/mINP.

    Arguments as :func:`partreid_core.evaluation.evaluate`; ``seed`` fixes the draws (torch.Generator on CPU).
    """
    if num_repeats < 1:
        raise ValueError(f"num_repeats must be >= 1, got {num_repeats}")
    full = evaluate(qf, gf, q_pids, g_pids, q_camids, g_camids, metric=metric, max_rank=max_rank,
                    chunk_size=chunk_size, distmat=distmat)
    if distmat is None:
        _check(qf, gf, metric)
        nq, ng = qf.shape[0], gf.shape[0]
    else:
        nq, ng = distmat.shape
    cpu = torch.device("cpu")
    qp, qc = _as_ids(q_pids, "q_pids", nq, cpu), _as_ids(q_camids, "q_camids", nq, cpu)
    gp, gc = _as_ids(g_pids, "g_pids", ng, cpu), _as_ids(g_camids, "g_camids", ng, cpu)
    keep = (gp != -1).nonzero().squeeze(1)
    gp, gc = gp[keep], gc[keep]
    groups = _GalleryGroups(gp)
    n_ids = len(groups.pids)
    gen = torch.Generator().manual_seed(seed)
    if distmat is None:
        g, g_sq = prepare_gallery(gf[keep.to(gf.device)], metric)

    cmc = torch.zeros(max_rank, dtype=torch.float64)
    n_valid = 0
    for s in range(0, nq, chunk_size):
        e = min(s + chunk_size, nq)
        x = (distance_chunk(qf[s:e], g, g_sq, metric) if distmat is None
             else distmat[s:e][:, keep.to(distmat.device)].float()).cpu()
        same_idx, same_mask = groups.lookup(qp[s:e])
        pos_mask = same_mask & (gc[same_idx] != qc[s:e].unsqueeze(1))
        valid = pos_mask.any(1)
        own = torch.searchsorted(groups.pids, qp[s:e]).clamp(max=n_ids - 1)  # column of the query's identity
        for _ in range(num_repeats):
            # one random member of every identity: start + floor(u * count)
            u = torch.rand(e - s, n_ids, generator=gen, dtype=torch.float64)
            pick = groups.order[groups.starts + (u * groups.counts).long()]
            # own identity: a random valid positive (largest random key among the positives)
            key = torch.where(pos_mask, torch.rand(pos_mask.shape, generator=gen), torch.full(pos_mask.shape, -1.0))
            own_pick = same_idx.gather(1, key.argmax(1, keepdim=True)).squeeze(1)
            pick[torch.arange(e - s), own] = own_pick
            d = x.gather(1, pick)
            d_pos, i_pos = d.gather(1, own.unsqueeze(1)), own_pick.unsqueeze(1)
            before = (d < d_pos) | ((d == d_pos) & (pick < i_pos))
            rank = before.sum(1)[valid]
            cmc += (rank.unsqueeze(1) <= torch.arange(max_rank)).double().sum(0)
        n_valid += int(valid.sum())
    cmc /= max(n_valid, 1) * num_repeats
    return EvalResult(cmc=cmc.numpy(), mAP=full.mAP, mAP_trapezoid=full.mAP_trapezoid, mINP=full.mINP,
                      num_valid_queries=full.num_valid_queries, num_skipped_queries=full.num_skipped_queries)
