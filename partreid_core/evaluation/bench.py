"""``partreid bench eval``: our chunked evaluation against a straightforward per-query numpy reference.

The reference is the textbook loop (torchreid's ``eval_market1501`` shape, but with a stable argsort and
both AP conventions): numpy distances for a block of queries, then for each query a full ``argsort``,
junk removal, cumulative sums. It doubles as an independent oracle for the tests.
"""
from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from .metrics import EvalResult, evaluate
from .rerank import re_ranking

#: (queries, gallery, identities, cameras, pid-0 distractors, pid -1 junk) of the benchmark problems.
SCALES = {
    "market": dict(nq=3368, ng=15913, ids=750, cams=6, distractors=2793, junk=3819),
    "msmt": dict(nq=11659, ng=82161, ids=3060, cams=15, distractors=0, junk=0),
}


@dataclass
class Problem:
    qf: torch.Tensor
    gf: torch.Tensor
    q_pids: np.ndarray
    g_pids: np.ndarray
    q_camids: np.ndarray
    g_camids: np.ndarray


def make_problem(nq: int, ng: int, ids: int, cams: int, distractors: int = 0, junk: int = 0, dim: int = 2048,
                 seed: int = 0, signal: float = 0.35) -> Problem:
    """A random ReID problem with a realistic structure.

    Gallery: ``ng - distractors - junk`` images spread over ``ids`` identities (a random camera each),
    ``distractors`` pid-0 images, ``junk`` pid -1 images. Queries draw an identity and a camera. Features
    are ``signal * identity_centre + noise`` (unit-variance Gaussians, float32), so ranks are neither trivial
    nor random. Generated in blocks so the peak memory is the features themselves.
    """
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    n_id_imgs = ng - distractors - junk
    if n_id_imgs < ids:
        raise ValueError(f"gallery of {ng} cannot hold {ids} identities plus {distractors + junk} distractors/junk")
    pid_values = np.arange(1, ids + 1)
    g_pids = np.concatenate([np.repeat(pid_values, 1), rng.choice(pid_values, n_id_imgs - ids),
                             np.zeros(distractors, np.int64), -np.ones(junk, np.int64)]).astype(np.int64)
    g_camids = rng.integers(0, cams, ng).astype(np.int64)
    q_pids = rng.choice(pid_values, nq).astype(np.int64)
    q_camids = rng.integers(0, cams, nq).astype(np.int64)
    centres = torch.randn(ids + 1, dim, generator=gen)

    def feats(pids: np.ndarray) -> torch.Tensor:
        out = torch.empty(len(pids), dim)
        for s in range(0, len(pids), 8192):
            p = torch.from_numpy(pids[s:s + 8192]).clamp(min=0)
            out[s:s + 8192] = torch.randn(len(p), dim, generator=gen).add_(centres[p], alpha=signal)
        return out

    return Problem(feats(q_pids), feats(g_pids), q_pids, g_pids, q_camids, g_camids)


def reference_evaluate(qf: np.ndarray, gf: np.ndarray, q_pids, g_pids, q_camids, g_camids,
                       max_rank: int = 50, block: int = 256, timings: dict | None = None,
                       distmat: np.ndarray | None = None) -> EvalResult:
    """Per-query numpy reference (Euclidean). Same conventions as :func:`evaluate`, none of its tricks.

    Distances are a numpy matrix product per block of ``block`` queries (BLAS, as fast as ours); the
    ranking is one ``np.argsort(kind="stable")`` and a few array passes per query. ``distmat`` (nq, ng)
    replaces the distances (qf/gf are then unused), e.g. to compare rankings on exactly the same ties.
    """
    if distmat is not None:
        qf = np.empty((len(distmat), 0), np.float32)
    else:
        qf, gf = np.asarray(qf, np.float32), np.asarray(gf, np.float32)
        g_sq = (gf * gf).sum(1)
    cmc_sum = np.zeros(max_rank)
    ap_sum = ap_t_sum = inp_sum = 0.0
    n_valid = 0
    for s in range(0, len(qf), block):
        q = qf[s:s + block]
        t0 = time.perf_counter()
        if distmat is not None:
            dist = np.asarray(distmat[s:s + block])
        else:
            dist = np.sqrt(np.maximum((q * q).sum(1, keepdims=True) + g_sq[None] - 2 * q @ gf.T, 0))
        t1 = time.perf_counter()
        if timings is not None:
            timings["distance"] = timings.get("distance", 0.0) + t1 - t0
        for j in range(len(q)):
            qi = s + j
            order = np.argsort(dist[j], kind="stable")
            keep = ~(((g_pids[order] == q_pids[qi]) & (g_camids[order] == q_camids[qi])) | (g_pids[order] == -1))
            matches = (g_pids[order][keep] == q_pids[qi])
            if not matches.any():
                continue
            n_valid += 1
            cum = matches.cumsum()
            cmc = np.minimum(cum, 1)[:max_rank]
            cmc_sum += np.pad(cmc, (0, max_rank - len(cmc)), constant_values=1)
            rows = np.flatnonzero(matches)
            i = np.arange(len(rows))
            precision = (i + 1) / (rows + 1)
            old = np.where(rows == 0, 1.0, i / np.maximum(rows, 1))
            ap_sum += precision.mean()
            ap_t_sum += ((old + precision) / 2).mean()
            inp_sum += len(rows) / (rows[-1] + 1)
        if timings is not None:
            timings["ranking"] = timings.get("ranking", 0.0) + time.perf_counter() - t1
    return EvalResult(cmc_sum / max(n_valid, 1), ap_sum / max(n_valid, 1), ap_t_sum / max(n_valid, 1),
                      inp_sum / max(n_valid, 1), n_valid, len(qf) - n_valid)


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB); Linux reports KB, macOS bytes."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    except OSError:
        return "n/a"


def run_bench(scale: str = "market", queries: int | None = None, gallery: int | None = None, dim: int = 2048,
              ref_queries: int | None = None, chunk_size: int = 1024, threads: int | None = None,
              device: str = "cpu", seed: int = 0, rerank: bool = False, out=print) -> dict:
    """Run both implementations on one random problem; print times, ratio, agreement, peak RSS.

    ``rerank`` also times k-reciprocal re-ranking (:func:`re_ranking`, k1 20, k2 6, lambda 0.3) of all queries
    and gallery images on ``device`` followed by the evaluation of the re-ranked distances (``t_rerank``,
    ``rerank`` metrics in the result). Its dense (n, n) matrices need about 3 x 4 n^2 bytes (n = nq + ng):
    4.5 GB at Market scale, over 100 GB at MSMT scale. On CUDA the result also holds the peak device memory.

    ``queries``/``gallery`` shrink the problem (identities and junk shrink with the gallery).
    ``ref_queries`` runs the reference on the first N queries only (MSMT scale: the full reference would
    take many minutes) and compares per-query times; our side is also re-run on that subset to check agreement.
    """
    if threads:
        torch.set_num_threads(threads)
    spec = dict(SCALES[scale])
    if gallery is not None:
        f = gallery / spec["ng"]
        spec.update(ng=gallery, ids=max(2, int(spec["ids"] * f)), distractors=int(spec["distractors"] * f),
                    junk=int(spec["junk"] * f))
    if queries is not None:
        spec["nq"] = queries
    if ref_queries is None:
        ref_queries = spec["nq"] if scale == "market" else min(spec["nq"], 1000)
    ref_queries = min(ref_queries, spec["nq"])
    p = make_problem(dim=dim, seed=seed, **spec)
    out(f"bench eval: scale={scale} queries={spec['nq']} gallery={spec['ng']} d={dim} ids={spec['ids']} "
        f"cams={spec['cams']} distractors={spec['distractors']} junk={spec['junk']} "
        f"threads={torch.get_num_threads()} device={device}")
    rss_data = _peak_rss_mb()
    qf, gf = p.qf.to(device), p.gf.to(device)
    evaluate(qf[:16], gf, p.q_pids[:16], p.g_pids, p.q_camids[:16], p.g_camids)  # warm-up (thread pools, allocator)
    t_ours: dict[str, float] = {}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    ours = evaluate(qf, gf, p.q_pids, p.g_pids, p.q_camids, p.g_camids, chunk_size=chunk_size, timings=t_ours)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t_ours["total"], t_ours["cpu"] = time.perf_counter() - t0, time.process_time() - c0
    rss_ours = _peak_rss_mb()

    nr = ref_queries
    t_ref: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    ref = reference_evaluate(p.qf[:nr].numpy(), p.gf.numpy(), p.q_pids[:nr], p.g_pids, p.q_camids[:nr], p.g_camids,
                             timings=t_ref)
    t_ref["total"], t_ref["cpu"] = time.perf_counter() - t0, time.process_time() - c0
    mine = ours if nr == spec["nq"] else evaluate(qf[:nr], gf, p.q_pids[:nr], p.g_pids, p.q_camids[:nr], p.g_camids)
    diffs = {k: abs(a - b) for (k, a), b in zip(mine.to_dict().items(), ref.to_dict().values(), strict=True)}
    agree = max(diffs.values()) < 1e-3 and float(np.abs(mine.cmc - ref.cmc).max()) < 1e-5
    nq = spec["nq"]
    ratios = {k: (t_ref[k] / nr) / max(t_ours[k] / nq, 1e-12) for k in ("distance", "ranking", "total")}
    scaled = "" if nr == nq else f" (reference timed on {nr} queries, scaled to {nq})"
    out(f"{'phase':<18}{'ours [s]':>10}{'reference [s]':>15}{'speed-up':>10}{scaled}")
    for k, label in (("distance", "distances"), ("ranking", "ranking+metrics"), ("total", "total")):
        out(f"{label:<18}{t_ours[k]:>10.2f}{t_ref[k] * nq / nr:>15.2f}{ratios[k]:>9.1f}x")
    out(f"{'CPU (all threads)':<18}{t_ours['cpu']:>10.2f}{t_ref['cpu'] * nq / nr:>15.2f}"
        f"{(t_ref['cpu'] / nr) / max(t_ours['cpu'] / nq, 1e-12):>9.1f}x   load average: {_loadavg()}")
    out(f"peak RSS after ours: {rss_ours:.0f} MB (after building the features: {rss_data:.0f} MB)")
    out("metrics (ours): " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in ours.to_dict().items()))
    out(f"agreement with the reference on {nr} queries: {'OK' if agree else 'MISMATCH'} "
        f"(max |diff| {max(diffs.values()):.2e} percent points)")
    extra: dict = {}
    if rerank:
        t_rr: dict[str, float] = {}
        _cuda_sync(device)
        t0 = time.perf_counter()
        dist = re_ranking(qf, gf)
        _cuda_sync(device)
        t_rr["rerank"] = time.perf_counter() - t0
        rr = evaluate(None, None, p.q_pids, p.g_pids, p.q_camids, p.g_camids, distmat=dist)
        _cuda_sync(device)
        t_rr["total"] = time.perf_counter() - t0
        t_rr["evaluate"] = t_rr["total"] - t_rr["rerank"]
        del dist
        extra.update(t_rerank=t_rr, rerank=rr.to_dict())
        out(f"k-reciprocal re-ranking + evaluation on {device}: {t_rr['total']:.2f} s "
            f"(re-ranking {t_rr['rerank']:.2f} s)"
            f"; mAP {ours.to_dict()['mAP']:.2f} -> {rr.to_dict()['mAP']:.2f}")
    if device.startswith("cuda"):
        extra["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        extra["cuda_device"] = torch.cuda.get_device_name()
        out(f"peak CUDA memory: {extra['peak_cuda_mb']:.0f} MB on {extra['cuda_device']}")
    return dict(t_ours=t_ours, t_ref=t_ref, ratios=ratios, agree=agree, peak_rss_mb=rss_ours,
                peak_rss_mb_end=_peak_rss_mb(), ours=ours.to_dict(), ref=ref.to_dict(), ref_queries=nr, **spec, **extra)


def _cuda_sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
