"""CMC, mAP (two AP conventions) and mINP for ReID retrieval, chunked end to end.

Conventions (each fixed by a hand-worked golden test in ``tests/test_evaluation.py``):

* **Junk.** For a query, gallery images with the query's pid *and* camera are ignored (removed from
  the ranking), and gallery images with pid ``-1`` are ignored for every query. Gallery pid ``0``
  (Market-1501 distractors) is an ordinary negative.
* **Valid queries.** A query with no positive (same pid, other camera) left after junk removal is
  skipped; ``EvalResult.num_skipped_queries`` counts them and all rates average over the others.
* **Ties.** The ranking is a *stable* sort by distance: equal distances keep gallery order (lower
  gallery index first). torchreid's ``np.argsort`` (quicksort) is not stable, so its results on
  tied distances depend on the sort implementation; ours do not.
* **AP, non-interpolated** (torchreid, fast-reid, BoT): with the i-th positive (0-based) at 0-based
  rank ``r_i`` among the valid gallery items, ``AP = mean_i (i + 1) / (r_i + 1)``.
* **AP, trapezoid** (Market-1501 MATLAB code; layumi, EANet, MPN): ``precision_i = (i+1)/(r_i+1)``,
  ``old_precision_i = i / r_i`` (1 when ``r_i == 0``), ``AP = mean_i (old_precision_i + precision_i) / 2``.
* **mINP** (Ye et al., AGW): ``INP = num_pos / (r_hardest + 1)`` with ``r_hardest`` the rank of the
  last positive.
* **CMC**: ``cmc[k] = fraction of valid queries whose first positive has rank <= k`` (length ``max_rank``;
  ranks past the gallery size are 1).

How it is fast: nothing needs the full ranking, only the rank of every positive among the valid gallery
items. Per chunk of queries, the positives' distances (a few per query) are sorted, the gallery distances
no larger than the hardest positive's (or all of them, when those are more than a quarter) are bucketed
among them with ``torch.searchsorted`` and the bucket counts' cumulative sum gives each positive's rank.
Rows where a distance ties with a positive's (rare with float features; common in hand-made examples)
go through an exact stable ``torch.sort`` instead, so every path obeys the tie rule.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .distance import _check, distance_chunk, prepare_gallery

#: Cap on the elements of one (chunk, gallery) block: 2**25 float32 + int32 buckets ~ 256 MB.
MAX_BLOCK_ELEMENTS = 1 << 25


@dataclass
class EvalResult:
    """Retrieval metrics; rates are fractions in [0, 1] (``to_dict`` reports percent)."""

    cmc: np.ndarray
    mAP: float
    mAP_trapezoid: float
    mINP: float
    num_valid_queries: int
    num_skipped_queries: int

    def to_dict(self, prefix: str = "") -> dict[str, float]:
        """{"rank1","rank5","rank10","mAP","mAP_trapezoid","mINP"} in percent, plus the query counts."""
        def rank(k: int) -> float:
            return float(self.cmc[k - 1]) * 100 if len(self.cmc) >= k else float("nan")
        d = {"rank1": rank(1), "rank5": rank(5), "rank10": rank(10), "mAP": self.mAP * 100,
             "mAP_trapezoid": self.mAP_trapezoid * 100, "mINP": self.mINP * 100,
             "num_valid_queries": self.num_valid_queries, "num_skipped_queries": self.num_skipped_queries}
        return {prefix + k: v for k, v in d.items()}


def _as_ids(x, name: str, n: int, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
    if t.is_floating_point():
        raise ValueError(f"{name} must hold integers, got {t.dtype}")
    return t.to(device=device, dtype=torch.int64)


#: Features whose largest magnitude is outside [2**-40, 2**40] are rescaled before the float32 distances
#: (squared norms of 1e19-sized features overflow to inf, and inf - inf is NaN; tiny ones underflow to ties).
FEATURE_RANGE_LOG2 = 40


def _as_features(f, name: str) -> torch.Tensor | None:
    """A feature matrix as a tensor (numpy arrays and lists accepted), or None."""
    if f is None or isinstance(f, torch.Tensor):
        return f
    try:
        return torch.as_tensor(np.asarray(f))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a (n, d) tensor or array, got {type(f).__name__}: {e}") from None


def _rescaled(qf: torch.Tensor, gf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """qf, gf multiplied by one power of two when their magnitude is outside 2**±FEATURE_RANGE_LOG2.

    A power-of-two scale is exact in floating point and multiplies every distance of every metric by the
    same positive factor (cosine: by 1), so the ranking, and every metric, is that of exact arithmetic
    on the given features, while the float32 distances neither overflow nor underflow.
    """
    if not (qf.is_floating_point() and gf.is_floating_point()):
        return qf, gf
    m = max(float(qf.abs().max()) if qf.numel() else 0.0, float(gf.abs().max()) if gf.numel() else 0.0)
    if m == 0.0 or 2.0 ** -FEATURE_RANGE_LOG2 <= m <= 2.0 ** FEATURE_RANGE_LOG2:
        return qf, gf
    scale = 2.0 ** -math.frexp(m)[1]  # m * scale in [0.5, 1)
    return qf.double() * scale, gf.double() * scale


class _GalleryGroups:
    """Gallery indices grouped by pid, so a query's same-pid items are a (c, P) gather, not an (c, ng) scan."""

    def __init__(self, g_pids: torch.Tensor):
        self.order = torch.argsort(g_pids, stable=True)
        self.pids, counts = torch.unique_consecutive(g_pids[self.order], return_counts=True)
        self.counts = counts
        self.starts = torch.cumsum(counts, 0) - counts

    def lookup(self, q_pids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_pids (c,) -> gallery indices (c, P) of the same pid (padded with 0) and their mask (c, P)."""
        pos = torch.searchsorted(self.pids, q_pids.contiguous()).clamp(max=len(self.pids) - 1)
        found = self.pids[pos] == q_pids
        count = torch.where(found, self.counts[pos], torch.zeros_like(pos))
        width = max(int(count.max()) if count.numel() else 0, 1)
        ar = torch.arange(width, device=q_pids.device)
        mask = ar.unsqueeze(0) < count.unsqueeze(1)
        flat = (self.starts[pos].unsqueeze(1) + ar).clamp(max=len(self.order) - 1)
        return torch.where(mask, self.order[flat], torch.zeros_like(flat)), mask


def _positive_ranks_exact(x: torch.Tensor, pos_idx: torch.Tensor, pos_mask: torch.Tensor) -> torch.Tensor:
    """Stable-sort path. x (r, ng) with junk at +inf; positives (r, P) -> sorted 0-based ranks (r, P) (pads: ng)."""
    r, ng = x.shape
    order = torch.sort(x, dim=1, stable=True).indices
    is_pos = torch.zeros_like(x, dtype=torch.bool)
    is_pos[torch.arange(r, device=x.device).unsqueeze(1).expand_as(pos_idx)[pos_mask], pos_idx[pos_mask]] = True
    sorted_pos = is_pos.gather(1, order)
    at = torch.where(sorted_pos, torch.arange(ng, device=x.device), torch.full_like(order, ng))
    return torch.sort(at, dim=1).values[:, :pos_idx.shape[1]]


def _ordered_key(v: torch.Tensor) -> torch.Tensor:
    """float32 -> int64 in [0, 2**32) with the same order (and equal iff the floats are equal, -0.0 == +0.0)."""
    bits = (v + 0.0).view(torch.int32)  # + 0.0 turns -0.0 into +0.0
    return (bits ^ ((bits >> 31) & 0x7FFFFFFF)).long() + (1 << 31)


def _positive_ranks_candidates(x: torch.Tensor, s: torch.Tensor, npos: torch.Tensor,
                               cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bucket only the items no farther than the row's hardest positive (``cand`` (c, ng) bool).

    Keys ``row << 32 | ordered(distance)`` make the per-row sorted positives one globally sorted sequence,
    so a single 1-D ``searchsorted`` buckets every candidate of the chunk. Returns (counts (c, P+1), tied (c,)).
    """
    c, P = s.shape
    rows, cols = cand.nonzero(as_tuple=True)
    seq = ((torch.arange(c, device=x.device).unsqueeze(1) << 32) + _ordered_key(s)).view(-1)
    keys = (rows << 32) + _ordered_key(x[rows, cols])
    left = torch.searchsorted(seq, keys)
    equal = torch.searchsorted(seq, keys, right=True) - left
    bucket = left - rows * P
    counts = torch.bincount(rows * (P + 1) + bucket, minlength=c * (P + 1)).view(c, P + 1)
    tied = torch.zeros(c, dtype=torch.int64, device=x.device).index_add_(0, rows, equal) != npos
    return counts, tied


def _bucket_all(x: torch.Tensor, s: torch.Tensor, npos: torch.Tensor,
                n_ignored: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bucket every item of x (c, ng) among the sorted positives s (c, P). Returns (counts (c, P+1), tied (c,))."""
    c, P = s.shape
    # bucket b = #positives strictly closer than the item
    b = torch.searchsorted(s, x, out_int32=True)
    off = (torch.arange(c, device=x.device, dtype=torch.int32) * (P + 1)).unsqueeze(1)
    counts = torch.bincount((b + off).view(-1), minlength=c * (P + 1)).view(c, P + 1)
    # (#positives <= x) - (#positives < x) counts the positives equal to each item. Ignored items (+inf)
    # equal the +inf pads: each adds P - npos, which is discounted.
    equal = torch.searchsorted(s, x, right=True, out_int32=True).sub_(b)
    return counts, equal.sum(1) - n_ignored * (P - npos) != npos


def _positive_ranks(x: torch.Tensor, pos_idx: torch.Tensor, pos_mask: torch.Tensor,
                    n_ignored: torch.Tensor) -> torch.Tensor:
    """x (c, ng) distances with ``n_ignored`` (c,) ignored items at +inf; positives' indices/mask (c, P).

    Returns (c, P) int64: the 0-based rank among the valid (finite) items of the i-th closest positive
    (pads hold ng). Ties follow the stable (gallery-order) rule.
    """
    c, ng = x.shape
    P = pos_idx.shape[1]
    inf = torch.tensor(float("inf"), device=x.device)
    pd = torch.where(pos_mask, x.gather(1, pos_idx), inf)
    s = torch.sort(pd, dim=1).values.contiguous()
    npos = pos_mask.sum(1)
    # Only items up to the hardest positive move a positive's rank. With a useful model they are a few
    # percent of the gallery: bucket just those; rows where they are more than a quarter bucket every item.
    cand = x <= s.gather(1, (npos - 1).unsqueeze(1))
    light = cand.sum(1) * 4 <= ng
    if bool(light.all()):
        counts, tied = _positive_ranks_candidates(x, s, npos, cand)
    elif not bool(light.any()):
        counts, tied = _bucket_all(x, s, npos, n_ignored)
    else:
        counts = torch.empty(c, P + 1, dtype=torch.int64, device=x.device)
        tied = torch.empty(c, dtype=torch.bool, device=x.device)
        counts[light], tied[light] = _positive_ranks_candidates(x[light], s[light], npos[light], cand[light])
        heavy = ~light
        counts[heavy], tied[heavy] = _bucket_all(x[heavy], s[heavy], npos[heavy], n_ignored[heavy])
    # Without ties, #items with bucket <= i (items no farther than positive i) = rank_i + 1. Summed over
    # the row, "equal" is npos exactly when every positive equals only itself (no item-positive or
    # positive-positive tie); tied rows take the exact stable-sort path.
    ranks = counts.cumsum(1)[:, :P] - 1
    ranks = torch.where(pos_mask, ranks, torch.full_like(ranks, ng))
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        ranks[rows] = _positive_ranks_exact(x[rows], pos_idx[rows], pos_mask[rows])
    return ranks


def _metric_sums(ranks: torch.Tensor, npos: torch.Tensor, max_rank: int) -> tuple[torch.Tensor, ...]:
    """ranks (v, P) of valid queries -> summed cmc (max_rank,), AP, trapezoid AP, INP (float64)."""
    P = ranks.shape[1]
    r = ranks.double()
    i = torch.arange(P, device=r.device, dtype=torch.float64).unsqueeze(0)
    mask = i < npos.unsqueeze(1)
    n = npos.double()
    precision = (i + 1) / (r + 1)
    old_precision = torch.where(r == 0, torch.ones_like(r), i / r.clamp(min=1))
    ap = torch.where(mask, precision, 0).sum(1) / n
    ap_trap = torch.where(mask, (old_precision + precision) / 2, 0).sum(1) / n
    hardest = r.gather(1, (npos - 1).unsqueeze(1)).squeeze(1)
    inp = n / (hardest + 1)
    cmc = (r[:, :1] <= torch.arange(max_rank, device=r.device, dtype=torch.float64)).double().sum(0)
    return cmc, ap.sum(), ap_trap.sum(), inp.sum()


def _clock(device: torch.device, timings: dict | None) -> float:
    if timings is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def evaluate(qf: torch.Tensor | None, gf: torch.Tensor | None, q_pids, g_pids, q_camids, g_camids, *,
             metric: str = "euclidean", max_rank: int = 50, chunk_size: int = 1024,
             distmat: torch.Tensor | None = None, timings: dict[str, float] | None = None) -> EvalResult:
    """Rank the gallery for every query and compute CMC / mAP / mAP_trapezoid / mINP.

    Args:
        qf, gf: (nq, d), (ng, d) features (tensors or numpy arrays); None when ``distmat`` is given (giving
            both is an error: which one would rank the gallery?). Features of very large or very small
            magnitude are rescaled by a power of two first (:func:`_rescaled`: the ranking is unchanged).
        q_pids, g_pids, q_camids, g_camids: (nq,), (ng,) integer tensors or arrays.
        metric: see :mod:`partreid_core.evaluation.distance`.
        max_rank: length of the returned CMC curve.
        chunk_size: queries per block (at most; capped so a block holds <= 2**25 distances, which bounds
            memory at MSMT17 scale to a few hundred MB beyond the features).
        distmat: a precomputed (nq, ng) distance matrix (e.g. from :func:`re_ranking`; tensor or numpy array);
            smaller is closer.

        timings: if a dict, receives ``"distance"`` and ``"ranking"`` seconds (synchronising CUDA per chunk).

    Computation runs on the device of ``distmat`` or ``gf``.

    Raises:
        ValueError: bad shapes or ids, both features and ``distmat``, NaN/inf in the features or ``distmat``,
            or distances that are not finite (a wrong mAP is never returned).
    """
    qf, gf, distmat = _as_features(qf, "qf"), _as_features(gf, "gf"), _as_features(distmat, "distmat")
    if distmat is not None and (qf is not None or gf is not None):
        raise ValueError("evaluate takes features (qf, gf) or a distmat, not both")
    if distmat is None:
        if qf is None or gf is None:
            raise ValueError("evaluate needs qf and gf, or distmat")
        _check(qf, gf, metric)
        nq, ng, device = qf.shape[0], gf.shape[0], gf.device
        for name, f in (("qf", qf), ("gf", gf)):  # NaN/inf anywhere makes the sum NaN/inf (float64: no overflow)
            if f.is_floating_point() and not bool(torch.isfinite(f.sum(dtype=torch.float64))):
                raise ValueError(f"{name} contains NaN or inf")
        qf, gf = _rescaled(qf, gf)
    else:
        if distmat.dim() != 2:
            raise ValueError(f"distmat must be (nq, ng), got {tuple(distmat.shape)}")
        (nq, ng), device = distmat.shape, distmat.device
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    q_pids = _as_ids(q_pids, "q_pids", nq, device)
    q_camids = _as_ids(q_camids, "q_camids", nq, device)
    g_pids = _as_ids(g_pids, "g_pids", ng, device)
    g_camids = _as_ids(g_camids, "g_camids", ng, device)

    # pid -1 gallery items are junk for every query: drop them once, up front.
    keep = g_pids != -1
    all_kept = bool(keep.all())
    keep_idx = None if all_kept else keep.nonzero().squeeze(1)
    if not all_kept:
        g_pids, g_camids = g_pids[keep_idx], g_camids[keep_idx]
    ng_kept = g_pids.shape[0]
    if distmat is None:
        g, g_sq = prepare_gallery(gf if all_kept else gf[keep_idx.to(gf.device)], metric)
    if ng_kept == 0:
        raise ValueError(f"the gallery has no image with a pid other than -1 (ng={ng})")
    groups = _GalleryGroups(g_pids)
    step = max(1, min(chunk_size, MAX_BLOCK_ELEMENTS // max(ng_kept, 1)))
    cmc = torch.zeros(max_rank, dtype=torch.float64, device=device)
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    n_valid = 0
    for s in range(0, nq, step):
        e = min(s + step, nq)
        t0 = _clock(device, timings)
        if distmat is None:
            x = distance_chunk(qf[s:e], g, g_sq, metric)
            if not bool(torch.isfinite(x).all()):
                raise ValueError(f"the {metric} distances of queries {s}..{e - 1} are not finite although the "
                                 "features are: the features overflow float32 arithmetic")
        else:
            x = distmat[s:e]
            x = (x if all_kept else x[:, keep_idx]).to(torch.float32, copy=True)
            if not bool(torch.isfinite(x).all()):
                raise ValueError(f"distmat rows {s}..{e - 1} contain NaN or inf")
        t1 = _clock(device, timings)
        if timings is not None:
            timings["distance"] = timings.get("distance", 0.0) + t1 - t0
        same_idx, same_mask = groups.lookup(q_pids[s:e])
        same_cam = g_camids[same_idx] == q_camids[s:e].unsqueeze(1)
        junk = same_mask & same_cam
        rows = torch.arange(e - s, device=device).unsqueeze(1).expand_as(same_idx)
        x[rows[junk], same_idx[junk]] = float("inf")
        pos_mask = same_mask & ~same_cam
        # Compact the positives to the left so column i is the i-th positive slot.
        order = torch.argsort((~pos_mask).to(torch.int8), dim=1, stable=True)
        pos_idx, pos_mask = same_idx.gather(1, order), pos_mask.gather(1, order)
        npos = pos_mask.sum(1)
        valid = npos > 0
        n_chunk_valid = int(valid.sum())
        if n_chunk_valid:
            n_junk = junk.sum(1)
            if n_chunk_valid < e - s:  # skip queries without a positive (a copy only when there are some)
                x, pos_idx, pos_mask = x[valid], pos_idx[valid], pos_mask[valid]
                npos, n_junk = npos[valid], n_junk[valid]
            width = int(npos.max())
            ranks = _positive_ranks(x, pos_idx[:, :width], pos_mask[:, :width], n_junk)
            c, ap, ap_t, inp = _metric_sums(ranks, npos, max_rank)
            cmc += c
            sums += torch.stack([ap, ap_t, inp])
            n_valid += n_chunk_valid
        if timings is not None:
            timings["ranking"] = timings.get("ranking", 0.0) + _clock(device, timings) - t1
    if n_valid == 0:
        raise ValueError(f"no query has a valid match in the gallery (nq={nq}, ng={ng}): "
                         "every query's pid is absent from the gallery or seen only by the query's camera")
    sums = (sums / n_valid).tolist()
    return EvalResult(cmc=(cmc / n_valid).cpu().numpy(), mAP=sums[0], mAP_trapezoid=sums[1], mINP=sums[2],
                      num_valid_queries=n_valid, num_skipped_queries=nq - n_valid)
