"""RMGL (rmgl.md): shapes, dims, loss placement, receptive partition, ABP and the ablation switches."""
import math

import pytest
import torch

from partreid_core.config import ConfigError
from partreid_core.data.types import Batch
from partreid_core.models import build_model, model_config
from partreid_core.models.backbones import undo_zero_init
from partreid_core.models.rmgl import abp_boundaries, abp_pool, pool_rows, receptive_shards

from model_checks import params_without_gradient

NARROW = {"backbone": {"width": 0.25}}


@pytest.fixture(autouse=True)
def _one_thread():
    # with eight engineers on 2 cores, 2 intra-op threads spin-wait for each other: ~20x slower here
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

P, K = 4, 2


def _batch(h=128, w=64):
    labels = torch.arange(P).repeat_interleave(K)
    return Batch(torch.randn(P * K, 3, h, w), labels, torch.zeros(P * K, dtype=torch.long))


def _build(num_classes=P, **over):
    return build_model("rmgl", num_classes, {**NARROW, **over})


def test_default_layout_shapes_and_dims():
    m = _build()
    assert m.feat_dim == 14 * 256 == 3584
    assert len(m.feature_names) == 14 and m.feature_names[3] == "K2[0]/rp/global"
    b = _batch()
    out = m(b.images)
    assert len(out.logits) == 14 and all(z.shape == (8, P) for z in out.logits)
    # one triplet per branch on the concat of its 256-d features (A6): 6 x 256 and 8 x 256
    assert [f.shape for f in out.features] == [(8, 1536), (8, 2048)]
    assert out.embedding.shape == (8, 3584)
    assert out.aux["part_features"].shape == (8, 10, 256)  # 2 + 2 + 3 + 3 local stripes
    # width 0.25 -> C = 512; 128x64 with last stride 1 -> 8x4; RP maps re-assembled (K=3 shards 11/10/11 rows)
    assert [t.shape for t in out.aux["feature_maps"]] == [(8, 512, 8, 4)] * 2
    assert out.aux["rp_feature_maps"][0].shape == (8, 512, 8, 4)
    m.eval()
    with torch.no_grad():
        emb = m(b.images)
    assert emb.shape == (8, 3584)


def test_losses_placement_and_value_at_init():
    m = _build()
    b = _batch(64, 32)
    losses = m.compute_losses(m(b.images), b)
    assert set(losses) == {"id", "triplet"}
    # classifiers start at N(0, 0.001): each of the 14 CE terms is ~ ln(num_classes), no label smoothing
    assert losses["id"].item() == pytest.approx(14 * math.log(P), abs=0.05)
    assert m.loss_cfg.triplet_margin == 0.6 and m.loss_cfg.label_smoothing == 0.0
    g = _build(triplet_on="global")
    assert len(g(b.images).features) == 4  # orig + RP global of each branch


def test_gradients_reach_every_trainable_parameter():
    m = undo_zero_init(_build())
    b = _batch(64, 32)
    sum(m.compute_losses(m(b.images), b).values()).backward()
    missing = params_without_gradient(m)
    assert not missing, missing


def test_classifiers_unused_at_eval():
    m = _build().eval()
    assert "classifiers" not in m.inference_modules() and "reductions" in m.inference_modules()

    def boom(*_):
        raise AssertionError("classifier called in eval")

    for c in m.classifiers:
        c.register_forward_hook(boom)
    with torch.no_grad():
        assert m(torch.randn(2, 3, 64, 32)).shape == (2, 3584)


@pytest.mark.parametrize("over, n_feat", [
    ({"paths": "original"}, 3 + 4),                 # 2+3-stripe BL (output partition)
    ({"paths": "receptive"}, 3 + 4),                # only RP
    ({"rp_global": False}, 12),                     # A3 alternative
    ({"stripes": [2]}, 6),                          # 2-stripe + RP
    ({"stripes": [1, 2, 3]}, 1 + 6 + 8),            # RMGL (1+2+3), A25
    ({"stripes": [2, 3, 4]}, 6 + 8 + 10),           # RMGL (2+3+4)
    ({"stripes": [6], "paths": "receptive"}, 7),    # RMGL-F8 partition number
    ({"branch_block": "layer3.1"}, 14),             # MGN-style split position
])
def test_ablation_layouts(over, n_feat):
    m = _build(**over)
    assert m.feat_dim == 256 * n_feat
    b = _batch(96, 32)
    out = m(b.images)
    assert len(out.logits) == n_feat and out.embedding.shape == (8, 256 * n_feat)
    assert len(out.features) == len(m.stripes)
    m.eval()
    with torch.no_grad():
        assert m(b.images).shape == (8, 256 * n_feat)


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="rp_postion.*did you mean 'rp_position'"):
        model_config("rmgl", {"rp_postion": "res3"})
    with pytest.raises(ValueError, match=r"RMGLConfig.rp_position: expected one of .*'res6'"):
        model_config("rmgl", {"rp_position": "res6"})
    with pytest.raises(ValueError, match="RMGLConfig.paths"):
        model_config("rmgl", {"paths": "both"})
    assert model_config("rmgl").stripes == (2, 3)


# ---------------------------------------------------------------------------------------------
# Receptive partition (rmgl.md §2.3, RMGL-F1 / RMGL-X1)
# ---------------------------------------------------------------------------------------------
def test_receptive_shards_order_and_bounds():
    x = torch.arange(32.0).view(1, 1, 32, 1)
    shards = receptive_shards(x, 3)
    assert [s.shape[2] for s in shards] == [11, 10, 11]
    assert torch.equal(torch.cat(shards, 2), x)  # top to bottom
    with pytest.raises(ValueError, match="height 2 into 3"):
        receptive_shards(torch.zeros(1, 1, 2, 1), 3)


def test_rp_stripe_ignores_far_pixels_while_op_stripe_does_not():
    """Perturb the bottom quarter of a 128-row image: the top RP stripe (cut after res_conv2c, which
    reaches input row 77 at most) is unchanged; the top output-partition stripe sees the whole image."""
    m = undo_zero_init(_build(stripes=[2], test_stripes="uniform")).eval()
    x = torch.randn(2, 3, 128, 64)
    x2 = x.clone()
    x2[:, :, 96:] += 3 * torch.randn_like(x2[:, :, 96:])
    with torch.no_grad():
        rp, rp2 = m.stripe_features(x, "rp"), m.stripe_features(x2, "rp")
        op, op2 = m.stripe_features(x, "orig"), m.stripe_features(x2, "orig")
    assert torch.allclose(rp[:, 0], rp2[:, 0], atol=1e-5)
    assert not torch.allclose(rp[:, 1], rp2[:, 1], atol=1e-3)
    rel = (op[:, 0] - op2[:, 0]).norm() / op[:, 0].norm()
    assert rel > 1e-2


def _support_rows(m, h=128):
    """Largest input row with a non-zero gradient of the top stripe feature (RMGL-X1)."""
    x = torch.randn(1, 3, h, 32, requires_grad=True)
    m.stripe_features(x, "rp" if m.cfg.paths == "receptive" else "orig")[:, 0].sum().backward()
    rows = (x.grad.abs().sum((0, 1, 3)) > 0).nonzero().flatten()
    return int(rows.max())


def test_gradient_support_grows_with_cut_depth():
    """IP stripes see exactly their half of the image; cutting deeper widens the region; OP sees all."""
    support = {}
    for pos in ("input", "res2", "res3", "res4", "res5"):
        torch.manual_seed(0)
        m = undo_zero_init(_build(stripes=[2], paths="receptive", rp_position=pos)).eval()
        support[pos] = _support_rows(m)
    torch.manual_seed(0)
    support["OP"] = _support_rows(undo_zero_init(_build(stripes=[2], paths="original", test_stripes="uniform")).eval())
    assert support["input"] == 63  # IP: exactly rows 0..63
    # res3: layer1 row 15 sees input rows <= 4*15 + 17 = 77 (stem 11 px, three 3x3 convs at jump 4)
    assert 63 < support["res3"] <= 77
    order = [support[p] for p in ("input", "res2", "res3", "res4", "res5", "OP")]
    assert order == sorted(order), support
    assert support["OP"] == 127


def test_stripe_features_needs_eval_mode():
    m = _build()
    with pytest.raises(RuntimeError, match="eval mode"):
        m.stripe_features(torch.randn(2, 3, 64, 32))


# ---------------------------------------------------------------------------------------------
# Activation balanced pooling (rmgl.md §2.6, RMGL-F5)
# ---------------------------------------------------------------------------------------------
def _votes_map(rows, h):
    """A (1, C, h, 1) map where channel c has its unique maximum at row rows[c]."""
    y = torch.zeros(1, len(rows), h, 1)
    for c, r in enumerate(rows):
        y[0, c, r, 0] = 1.0
    return y


def test_abp_boundaries_by_hand():
    y = _votes_map([0, 0, 0, 1, 4, 5], 6)  # cumulative votes per row: 3 4 4 4 5 6
    assert abp_boundaries(y, 2).tolist() == [[0, 1, 6]]  # target ceil(6/2)=3 -> 1 row
    assert abp_boundaries(y, 3).tolist() == [[0, 1, 4, 6]]  # targets 2 (-> 0, raised to 1 row) and 4 -> 4 rows


def test_abp_invariants():
    torch.manual_seed(1)
    # maxima spread evenly over rows -> uniform stripes
    even = _votes_map([r for r in range(12) for _ in range(4)], 12)
    assert abp_boundaries(even, 3).tolist() == [[0, 4, 8, 12]]
    # shifting the content down shifts the boundaries by as much
    y = torch.zeros(2, 64, 24, 4)
    y[:, :, 2:14] = torch.rand(2, 64, 12, 4)
    shifted = torch.roll(y, 6, dims=2)
    b, bs = abp_boundaries(y, 3), abp_boundaries(shifted, 3)
    assert torch.equal(bs[:, 1:-1], b[:, 1:-1] + 6)
    # random maps: strictly increasing from 0 to H
    r = abp_boundaries(torch.randn(5, 32, 9, 3), 4)
    assert (r[:, 0] == 0).all() and (r[:, -1] == 9).all() and (r.diff(dim=1) > 0).all()
    # no channel votes (all ties): uniform fallback
    assert abp_boundaries(torch.zeros(1, 8, 8, 2), 2).tolist() == [[0, 4, 8]]


def test_pool_rows_max_and_avg():
    y = torch.arange(6.0).view(1, 1, 6, 1).expand(1, 2, 6, 2).contiguous()
    bounds = torch.tensor([[0, 1, 6]])
    assert pool_rows(y, bounds, "max")[0, :, 0].tolist() == [0.0, 5.0]
    assert pool_rows(y, bounds, "avg")[0, :, 0].tolist() == [0.0, 3.0]
    assert abp_pool(torch.randn(3, 4, 8, 2), 3).shape == (3, 3, 4)


def test_abp_changes_only_original_stripes_at_test():
    torch.manual_seed(3)
    abp = undo_zero_init(_build(test_stripes="abp"))
    uni = _build(test_stripes="uniform")
    uni.load_state_dict(abp.state_dict())
    abp.eval()
    uni.eval()
    x = torch.randn(4, 3, 128, 64)
    x[:, :, :40] = 0  # content pushed down: maxima are no longer spread evenly
    with torch.no_grad():
        ea, eu = abp(x).view(4, 14, 256), uni(x).view(4, 14, 256)
    names = abp.feature_names
    orig_stripes = [i for i, n in enumerate(names) if "/orig/s" in n]
    others = [i for i in range(14) if i not in orig_stripes]
    assert torch.allclose(ea[:, others], eu[:, others], atol=1e-6)
    assert not torch.allclose(ea[:, orig_stripes], eu[:, orig_stripes], atol=1e-3)
    # training uses uniform stripes unless abp_train is set (A14 i)
    abp.train()
    uni.train()
    torch.manual_seed(0)
    a = abp(x).embedding
    torch.manual_seed(0)
    u = uni(x).embedding
    assert torch.allclose(a, u, atol=1e-6)


def test_paper_geometry_and_parameter_budget():
    """384x128 gives 24x8 maps in both paths (rmgl.md §0); ResNet-50 head budget of §2.10 for C = 751."""
    m = _build(num_classes=2)
    out = m(torch.randn(2, 3, 384, 128))
    assert [t.shape[2:] for t in out.aux["feature_maps"] + out.aux["rp_feature_maps"]] == [(24, 8)] * 4
    full = build_model("rmgl", 751)
    count = {k: sum(p.numel() for p in c.parameters()) for k, c in full.named_children()}
    assert count["trunk"] == 225_344  # stem + layer1 (~0.23 M)
    assert count["reductions"] == 14 * (2048 * 256 + 2 * 256)  # Linear(2048, 256) + BN
    assert count["classifiers"] == 14 * 257 * 751
