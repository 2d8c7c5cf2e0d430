"""Golden tests for partreid_core.evaluation: every convention is fixed by a hand-worked example."""
import numpy as np
import pytest
import torch
from torch import nn

from partreid_core.data.transforms import normalize
from partreid_core.data.types import SplitTensors
from partreid_core.evaluation import (
    EvalResult,
    compute_distance,
    evaluate,
    evaluate_cuhk03_classic,
    evaluate_model,
    extract_features,
    re_ranking,
)
from partreid_core.evaluation.bench import make_problem, reference_evaluate

# Gallery: (pid, cam). g0 junk for pid-1/cam-0 queries, g3 pid -1 junk, g4 a pid-0 distractor.
G_PIDS = [1, 2, 1, -1, 0, 1, 3]
G_CAMS = [0, 1, 1, 1, 2, 2, 0]
Q_PIDS = [1, 2, 3, 4, 1]
Q_CAMS = [0, 1, 1, 0, 2]
DIST = torch.tensor([
    # q0 pid1/cam0: valid order g1 .2, g2 .3 (pos), g4 .4 (distractor), g5 .5 (pos), g6 .6 -> positives at ranks 1, 3
    [0.1, 0.2, 0.3, 0.05, 0.4, 0.5, 0.6],
    # q1 pid2/cam1: its only gallery image g1 has the same camera -> skipped
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    # q2 pid3/cam1: g1 and g6 tie at 0.2; g1 comes first in the gallery -> positive g6 at rank 2 (not 1)
    [0.5, 0.2, 0.1, 0.0, 0.9, 0.9, 0.2],
    # q3 pid4: not in the gallery -> skipped
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    # q4 pid1/cam2: g5 same camera (junk), g3 pid -1; valid order g0 .1 (pos), g4 .2, g2 .3 (pos) -> ranks 0, 2
    [0.1, 0.5, 0.3, 0.9, 0.2, 0.05, 0.7],
])


def golden():
    return evaluate(None, None, torch.tensor(Q_PIDS), torch.tensor(G_PIDS), torch.tensor(Q_CAMS),
                    torch.tensor(G_CAMS), distmat=DIST, max_rank=5)


def test_golden_counts_and_cmc():
    r = golden()
    assert isinstance(r, EvalResult)
    assert (r.num_valid_queries, r.num_skipped_queries) == (3, 2)
    # first positives at ranks q0: 1, q2: 2, q4: 0
    np.testing.assert_allclose(r.cmc, [1 / 3, 2 / 3, 1, 1, 1])


def test_golden_ap_conventions_and_minp():
    r = golden()
    # non-interpolated AP: q0 (1/2 + 2/4)/2 = 1/2, q2 1/3, q4 (1/1 + 2/3)/2 = 5/6
    assert r.mAP == pytest.approx((1 / 2 + 1 / 3 + 5 / 6) / 3)
    # trapezoid: q0 ((0 + 1/2)/2 + (1/3 + 2/4)/2)/2 = 1/3, q2 (0 + 1/3)/2 = 1/6,
    # q4 ((1 + 1)/2 + (1/2 + 2/3)/2)/2 = 19/24 (old_precision = 1 at rank 0)
    assert r.mAP_trapezoid == pytest.approx((1 / 3 + 1 / 6 + 19 / 24) / 3)
    # mINP: q0 2/4, q2 1/3, q4 2/3
    assert r.mINP == pytest.approx((1 / 2 + 1 / 3 + 2 / 3) / 3)


def test_ties_break_by_gallery_order():
    # swap g1 and g6's roles: the same tie, but now the positive comes first in the gallery
    d = DIST[2:3].clone()
    r = evaluate(None, None, [3], [1, 3, 1, -1, 0, 1, 2], [1], [0, 0, 1, 1, 2, 2, 1], distmat=d, max_rank=3)
    assert list(r.cmc) == [0, 1, 1]  # positive (now g1) after g2 (.1), before its tie partner g6
    r = evaluate(None, None, [3], G_PIDS, [1], G_CAMS, distmat=d, max_rank=3)
    assert list(r.cmc) == [0, 0, 1]


def test_to_dict_percent_and_prefix():
    r = evaluate(None, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, distmat=DIST, max_rank=10)
    d = r.to_dict(prefix="rr_")
    assert set(d) == {f"rr_{k}" for k in ("rank1", "rank5", "rank10", "mAP", "mAP_trapezoid", "mINP",
                                          "num_valid_queries", "num_skipped_queries")}
    assert d["rr_rank1"] == pytest.approx(100 / 3) and d["rr_rank5"] == pytest.approx(100)
    assert d["rr_mAP"] == pytest.approx(100 * r.mAP) and d["rr_num_skipped_queries"] == 2


def test_distractor_pid0_is_a_negative_and_junk_is_ignored():
    # if pid 0 were junk, q0's second positive would move from rank 3 to rank 2
    g = list(G_PIDS)
    g[4] = -1
    r = evaluate(None, None, Q_PIDS[:1], g, Q_CAMS[:1], G_CAMS, distmat=DIST[:1])
    assert r.mAP == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert golden().mAP != pytest.approx(r.mAP)


def test_no_valid_query_raises():
    with pytest.raises(ValueError, match="no query has a valid match"):
        evaluate(None, None, [2], G_PIDS, [1], G_CAMS, distmat=DIST[1:2])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="g_pids must have shape"):
        evaluate(None, None, Q_PIDS, G_PIDS[:3], Q_CAMS, G_CAMS, distmat=DIST)
    with pytest.raises(ValueError, match="NaN or inf"):
        evaluate(None, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, distmat=DIST.clone().fill_(float("nan")))
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluate(torch.zeros(2, 3), torch.zeros(4, 3), [1, 1], [1, 1, 1, 1], [0, 0], [1, 1, 1, 1], metric="l1")
    with pytest.raises(ValueError, match="needs qf and gf"):
        evaluate(None, None, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS)


def test_compute_distance_matches_definitions():
    q, g = torch.randn(5, 8), torch.randn(7, 8)
    torch.testing.assert_close(compute_distance(q, g), torch.cdist(q, g), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(compute_distance(q, g, "sqeuclidean"), torch.cdist(q, g) ** 2, atol=1e-3, rtol=1e-4)
    cos = nn.functional.cosine_similarity(q[:, None], g[None], dim=2)
    torch.testing.assert_close(compute_distance(q, g, "cosine", chunk_size=2), 1 - cos, atol=1e-5, rtol=1e-5)
    assert compute_distance(q, g).dtype == torch.float32 and compute_distance(q, g).shape == (5, 7)


@pytest.mark.parametrize("quantise", [False, True])
@pytest.mark.parametrize("signal", [0.2, 0.7, 6.0])
def test_matches_numpy_reference_with_and_without_ties(quantise, signal, monkeypatch):
    """Both bucketing paths (whole chunk / only items up to the hardest positive) and the stable-sort path."""
    import partreid_core.evaluation.metrics as M
    calls = []
    candidates = M._positive_ranks_candidates
    monkeypatch.setattr(M, "_positive_ranks_candidates", lambda x, *a: calls.append(len(x)) or candidates(x, *a))
    p = make_problem(nq=120, ng=500, ids=40, cams=4, distractors=60, junk=40, dim=16, seed=1, signal=signal)
    qf, gf = p.qf, p.gf
    if quantise:  # coarse features -> many exactly tied distances, exercising the stable-sort path
        qf, gf = (qf * 3 / signal).round()[:, :3], (gf * 3 / signal).round()[:, :3]
    d = compute_distance(qf, gf)
    ref = reference_evaluate(None, None, p.q_pids, p.g_pids, p.q_camids, p.g_camids, distmat=d.numpy())
    if quantise:
        _, n = np.unique(d.numpy(), return_counts=True)
        assert n.max() > 50  # many exact ties: the tie path is really exercised
    ours = evaluate(None, None, p.q_pids, p.g_pids, p.q_camids, p.g_camids, distmat=d, chunk_size=7)
    # a strong signal puts the positives near the top (candidate path), a weak one deep (bucket everything)
    n_light = sum(calls)
    if not quantise:
        assert {0.2: n_light < 0.1 * ours.num_valid_queries, 0.7: 0 < n_light < ours.num_valid_queries,
                6.0: n_light == ours.num_valid_queries}[signal], n_light
    assert ours.num_valid_queries == ref.num_valid_queries and ours.num_skipped_queries == ref.num_skipped_queries
    np.testing.assert_allclose(ours.cmc, ref.cmc, atol=1e-12)
    for k in ("mAP", "mAP_trapezoid", "mINP"):
        assert getattr(ours, k) == pytest.approx(getattr(ref, k), abs=1e-9), k
    # the feature path computes the same distances chunk by chunk
    feat = evaluate(qf, gf, p.q_pids, p.g_pids, p.q_camids, p.g_camids, chunk_size=32)
    assert feat.mAP == pytest.approx(ours.mAP, abs=1e-9) and np.allclose(feat.cmc, ours.cmc)


def _zhong_reference(qf, gf, k1=20, k2=6, lambda_value=0.3):
    """Direct numpy port of the authors' loop-based k-reciprocal re-ranking (for the test only)."""
    feat = np.concatenate([qf, gf]).astype(np.float64)
    nq, n = len(qf), len(feat)
    d = ((feat[:, None] - feat[None]) ** 2).sum(-1)
    d = np.transpose(d / np.max(d, axis=0))
    V = np.zeros_like(d)
    rank = np.argsort(d, axis=1, kind="stable")
    for i in range(n):
        fwd = rank[i, :k1 + 1]
        bwd = rank[fwd, :k1 + 1]
        R = fwd[np.where(bwd == i)[0]]
        exp = R
        for c in R:
            cf = rank[c, :int(np.around(k1 / 2)) + 1]
            cb = rank[cf, :int(np.around(k1 / 2)) + 1]
            cR = cf[np.where(cb == c)[0]]
            if len(np.intersect1d(cR, R)) > 2 / 3 * len(cR):
                exp = np.append(exp, cR)
        exp = np.unique(exp)
        w = np.exp(-d[i, exp])
        V[i, exp] = w / w.sum()
    if k2 != 1:
        V = np.stack([V[rank[i, :k2]].mean(0) for i in range(n)])
    jac = np.zeros((nq, n))
    for i in range(nq):
        tmin = np.minimum(V[i][None], V).sum(1)
        jac[i] = 1 - tmin / (2 - tmin)
    return (jac * (1 - lambda_value) + d[:nq] * lambda_value)[:, nq:]


def test_re_ranking_matches_authors_algorithm():
    p = make_problem(nq=12, ng=48, ids=8, cams=3, dim=8, seed=2, signal=1.5)
    ours = re_ranking(p.qf, p.gf, chunk_size=16)
    ref = _zhong_reference(p.qf.numpy(), p.gf.numpy())
    assert ours.shape == (12, 48) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), ref, atol=2e-5)
    ref_small_k = _zhong_reference(p.qf.numpy(), p.gf.numpy(), k1=6, k2=1, lambda_value=0.5)
    np.testing.assert_allclose(re_ranking(p.qf, p.gf, k1=6, k2=1, lambda_value=0.5).numpy(), ref_small_k, atol=2e-5)


def test_cuhk03_classic_single_shot():
    # one gallery image per identity: the single-shot gallery is the gallery, so CMC equals evaluate's
    q_p, q_c, g_p, g_c = [1, 2], [0, 0], [1, 2, 3], [1, 1, 1]
    d = torch.tensor([[0.3, 0.1, 0.2], [0.1, 0.2, 0.3]])
    r = evaluate_cuhk03_classic(None, None, q_p, g_p, q_c, g_c, distmat=d, max_rank=3, num_repeats=3)
    np.testing.assert_allclose(r.cmc, evaluate(None, None, q_p, g_p, q_c, g_c, distmat=d, max_rank=3).cmc)
    # two positives (0.1, 0.5) and one negative identity at 0.3: rank-1 iff the 0.1 positive is drawn (p = 1/2);
    # the same-camera image of pid 1 (distance 0.0) is junk and never drawn
    g_p, g_c = [1, 1, 2, 1], [1, 2, 1, 0]
    d = torch.tensor([[0.1, 0.5, 0.3, 0.0]])
    r = evaluate_cuhk03_classic(None, None, [1], g_p, [0], g_c, distmat=d, max_rank=2, num_repeats=400, seed=3)
    assert 0.4 < r.cmc[0] < 0.6 and r.cmc[1] == 1
    assert r.mAP == pytest.approx(evaluate(None, None, [1], g_p, [0], g_c, distmat=d).mAP)


class _Corner(nn.Module):
    """Eval forward returns the top-left pixel: its horizontal flip sees the top-right one."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return x[:, :, 0, 0] * self.scale


def test_extract_features_flip_average_and_mode_restored():
    imgs = torch.randint(0, 256, (5, 3, 8, 4), dtype=torch.uint8)
    model = _Corner().train()
    f = extract_features(model, imgs, batch_size=2, flip=True)
    x = normalize(imgs)
    torch.testing.assert_close(f, (x[:, :, 0, 0] + x[:, :, 0, -1]) / 2)
    torch.testing.assert_close(extract_features(model, imgs, flip=False), x[:, :, 0, 0])
    assert model.training and f.dtype == torch.float32 and f.device.type == "cpu"


def test_extract_features_rejects_non_tensor_output():
    class Bad(_Corner):
        def forward(self, x):
            return [x]
    with pytest.raises(TypeError, match="must return an \\(N, D\\) tensor"):
        extract_features(Bad(), torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


def test_evaluate_model_end_to_end_with_rerank():
    # images filled with a colour per identity: the corner model separates identities perfectly
    pids = torch.arange(8).repeat_interleave(4)
    cams = torch.arange(4).repeat(8)
    colours = torch.randint(0, 256, (8, 3), dtype=torch.uint8)
    imgs = colours[pids][:, :, None, None].expand(-1, -1, 8, 4).contiguous()
    split = SplitTensors(images=imgs, pids=pids, camids=cams)
    q = SplitTensors(images=imgs[::4], pids=pids[::4], camids=cams[::4])
    m = evaluate_model(_Corner(), q, split, rerank=True, batch_size=16)
    assert m["rank1"] == 100 and m["mAP"] == pytest.approx(100) and m["num_valid_queries"] == 8
    assert m["rr_rank1"] == 100 and "rr_mINP" in m
