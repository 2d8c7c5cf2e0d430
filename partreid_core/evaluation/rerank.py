"""k-reciprocal re-ranking (Zhong et al., CVPR 2017) in torch; runs wherever its inputs live (GPU when present).

Follows the authors' reference implementation step by step, vectorised:

1. ``original_dist``: squared Euclidean distances among all ``n = nq + ng`` probes, each row divided by its
   maximum (the reference's ``transpose(d / max(d, axis=0))`` on a symmetric matrix).
2. ``initial_rank``: the ``k1 + 1`` nearest neighbours of each probe (itself included). We take them with
   ``torch.topk`` and order them stably by (distance, index); the reference uses a full ``np.argsort``,
   which differs only when distances tie across the ``k1 + 1`` boundary.
3. ``R(i)``: the k-reciprocal neighbours (``j`` in the top ``k1+1`` of ``i`` and ``i`` in the top ``k1+1`` of ``j``).
   For each candidate ``c`` in ``R(i)``, ``R_half(c)`` uses ``round(k1/2) + 1`` neighbours; it is added when
   ``|R_half(c) & R(i)| > 2/3 |R_half(c)|``.
4. ``V[i, j] = exp(-original_dist[i, j])`` on the expanded set, normalised to sum 1; then local query expansion
   ``V[i] = mean of V over the k2 nearest neighbours of i`` (when ``k2 != 1``).
5. ``jaccard[i, j] = 1 - sum_k min(V[i,k], V[j,k]) / (2 - sum_k min(V[i,k], V[j,k]))``; the final distance is
   ``(1 - lambda) * jaccard + lambda * original_dist``, returned for query rows and gallery columns.

Cost: ``original_dist``, ``V`` and the query-expanded ``V`` are dense (n, n) float32, at most two alive at
a time: at Market-1501 scale (n = 19,281) 1.5 GB each. Measured on the random Market-scale problem of
``partreid bench eval`` (d = 2048) on 2 shared CPU cores: 37 s and 4.0 GB peak RSS (features included).
On a GPU it is a few dense passes plus a sparse join (the Jaccard step, chunked over queries).
"""
from __future__ import annotations

import torch


def _sq_euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = torch.addmm((b * b).sum(1).unsqueeze(0), a, b.t(), alpha=-2.0)
    return d.add_((a * a).sum(1, keepdim=True)).clamp_(min=0.0)


def _reciprocal_mask(nn: torch.Tensor) -> torch.Tensor:
    """nn (n, K) neighbour lists -> (n, K) bool: is ``i`` among the K neighbours of ``nn[i, a]``."""
    n = nn.shape[0]
    me = torch.arange(n, device=nn.device).view(n, 1, 1)
    return (nn[nn] == me).any(-1)


def re_ranking(qf: torch.Tensor, gf: torch.Tensor, k1: int = 20, k2: int = 6, lambda_value: float = 0.3,
               chunk_size: int = 1024) -> torch.Tensor:
    """qf (nq, d), gf (ng, d) -> re-ranked distance (nq, ng) float32 on the features' device."""
    if qf.dim() != 2 or gf.dim() != 2 or qf.shape[1] != gf.shape[1]:
        raise ValueError(f"features must be (nq, d) and (ng, d), got {tuple(qf.shape)} and {tuple(gf.shape)}")
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1 and k2 must be >= 1, got k1={k1}, k2={k2}")
    device = gf.device
    feats = torch.cat([qf.to(device), gf]).float()
    nq, n = qf.shape[0], feats.shape[0]
    K = min(k1 + 1, n)
    Kh = min(int(round(k1 / 2)) + 1, n)  # np.around(k1/2) rounds half to even, as does Python's round
    dist = torch.empty(n, n, device=device)
    nn = torch.empty(n, K, dtype=torch.int64, device=device)
    for s in range(0, n, chunk_size):
        d = _sq_euclidean(feats[s:s + chunk_size], feats)
        d /= d.max(dim=1, keepdim=True).values.clamp(min=1e-12)
        dist[s:s + chunk_size] = d
        v, i = torch.topk(d, K, dim=1, largest=False)
        # order the K neighbours stably by (distance, index)
        i, perm = torch.sort(i, dim=1)
        v = v.gather(1, perm)
        nn[s:s + chunk_size] = i.gather(1, torch.sort(v, dim=1, stable=True).indices)
    del feats

    nnh = nn[:, :Kh].contiguous()
    r_mask = _reciprocal_mask(nn)            # (n, K): nn[i, a] in R(i)
    rh_mask = _reciprocal_mask(nnh)          # (n, Kh): nnh[c, b] in R_half(c)
    V = torch.zeros(n, n, device=device)
    for s in range(0, n, chunk_size):
        e = min(s + chunk_size, n)
        R, Rm = nn[s:e], r_mask[s:e]                                       # (c, K)
        cand_h, cand_hm = nnh[R], rh_mask[R]                               # (c, K, Kh) R_half of each candidate
        in_R = ((cand_h.unsqueeze(-1) == R.view(-1, 1, 1, K)) & Rm.view(-1, 1, 1, K)).any(-1)
        inter = (in_R & cand_hm).sum(-1)                                   # (c, K)
        accept = Rm & (inter > (2.0 / 3.0) * cand_hm.sum(-1))
        rows = torch.arange(e - s, device=device)
        member = torch.zeros(e - s, n, dtype=torch.bool, device=device)
        member[rows.unsqueeze(1).expand_as(R)[Rm], R[Rm]] = True
        add = accept.unsqueeze(-1) & cand_hm                              # (c, K, Kh)
        member[rows.view(-1, 1, 1).expand_as(cand_h)[add], cand_h[add]] = True
        w = torch.where(member, torch.exp(-dist[s:e]), torch.zeros((), device=device))
        V[s:e] = w / w.sum(1, keepdim=True)
    orig_qg = dist[:nq, nq:].clone()
    del dist, member, w  # peak memory: two dense (n, n) matrices at a time
    if k2 != 1:
        V_qe = torch.empty_like(V)
        step = max(1, chunk_size // k2)  # V[nn] is (step, k2, n)
        for s in range(0, n, step):
            V_qe[s:s + step] = V[nn[s:s + step, :k2]].mean(1)
        V = V_qe
        del V_qe

    # Jaccard via a sparse join: gallery non-zeros grouped by column k, then for each query non-zero (i, k)
    # every gallery row j with V[j, k] != 0 gets min(V[i, k], V[j, k]).
    g_rows, g_cols = V[nq:].t().nonzero(as_tuple=True)   # sorted by k (= g_rows here), then gallery row
    g_k, g_j = g_rows, g_cols
    g_val = V[nq:][g_j, g_k]
    col_count = torch.bincount(g_k, minlength=n)
    col_start = torch.cumsum(col_count, 0) - col_count
    ng = n - nq
    out = torch.empty(nq, ng, device=device)
    budget = 1 << 24
    s = 0
    while s < nq:
        # grow the query block until its join would exceed the budget
        e = s + 1
        qi, qk = V[s:e].nonzero(as_tuple=True)
        while e < nq:
            e2 = min(nq, s + 2 * (e - s))
            qi2, qk2 = V[s:e2].nonzero(as_tuple=True)
            if int(col_count[qk2].sum()) > budget or e2 - s > chunk_size:
                break
            e, qi, qk = e2, qi2, qk2
        qv = V[s:e][qi, qk]
        cnt = col_count[qk]
        rep = torch.repeat_interleave(torch.arange(len(qk), device=device), cnt)
        first = torch.cumsum(cnt, 0) - cnt
        pos = col_start[qk][rep] + (torch.arange(len(rep), device=device) - first[rep])
        mins = torch.minimum(qv[rep], g_val[pos])
        temp = torch.zeros((e - s) * ng, device=device)
        temp.index_add_(0, qi[rep] * ng + g_j[pos], mins)
        temp = temp.view(e - s, ng)
        out[s:e] = (1 - temp / (2 - temp)) * (1 - lambda_value) + orig_qg[s:e] * lambda_value
        s = e
    return out
