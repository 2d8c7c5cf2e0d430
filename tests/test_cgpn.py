"""CGPN (cgpn.md): windows, shapes, MSE supervision, loss placement and the CGPN-T2 switches."""
import math

import pytest
import torch
import torch.nn.functional as F

from partreid_core.config import ConfigError
from partreid_core.data.types import Batch
from partreid_core.models import build_model, model_config
from partreid_core.models.backbones import undo_zero_init
from partreid_core.models.cgpn import stripe_bounds, windows

from model_checks import params_without_gradient

NARROW = {"backbone": {"width": 0.25}}
P, K = 4, 2


@pytest.fixture(autouse=True)
def _one_thread():
    # with eight engineers on 2 cores, 2 intra-op threads spin-wait for each other: ~20x slower here
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _batch(h=128, w=64):
    labels = torch.arange(P).repeat_interleave(K)
    return Batch(torch.randn(P * K, 3, h, w), labels, torch.zeros(P * K, dtype=torch.long))


def _build(num_classes=P, **over):
    return build_model("cgpn", num_classes, {**NARROW, **over})


def test_windows_and_bounds_match_the_paper():
    # CGPN-F3: 2 + 2 + 5 coarse windows, larger first; CGPN-F4: fine stripes
    assert windows(2) == [(0, 1), (1, 2)]
    assert windows(3) == [(0, 2), (1, 3)]
    assert windows(4) == [(0, 3), (1, 4), (0, 2), (1, 3), (2, 4)]
    assert windows(4, fine=True) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert stripe_bounds(24, 4) == [0, 6, 12, 18, 24] and stripe_bounds(8, 3) == [0, 3, 5, 8]
    with pytest.raises(ValueError, match="height 2 cannot hold 3"):
        stripe_bounds(2, 3)


def test_default_shapes_and_dims():
    m = _build()
    assert m.feat_dim == 12 * 256 == 3072
    b = _batch()
    out = m(b.images)
    assert len(out.logits) == 12 and all(z.shape == (8, P) for z in out.logits)
    assert len(out.features) == 12 and all(f.shape == (8, 256) for f in out.features)  # local_triplet=True
    assert out.embedding.shape == (8, 3072)
    assert out.aux["part_features"].shape == (8, 9, 256)
    assert [t.shape for t in out.aux["feature_maps"]] == [(8, 512, 8, 4)] * 3  # C = 2048 * 0.25, stride 16
    assert out.aux["global_head_features"].shape == (8, 6, 512) == out.aux["global_targets"].shape
    m.eval()
    with torch.no_grad():
        assert m(b.images).shape == (8, 3072)


def test_mse_targets_are_half_map_maxima_and_loss_by_hand():
    m = _build()
    b = _batch()
    out = m(b.images)
    t0 = out.aux["feature_maps"][0]
    tg = out.aux["global_targets"]
    assert torch.equal(tg[:, 0], t0[:, :, :4].amax((2, 3))) and torch.equal(tg[:, 1], t0[:, :, 4:].amax((2, 3)))
    heads = out.aux["global_head_features"]
    assert torch.equal(heads[:, 0], m.global_heads[0].convs[0](t0).amax((2, 3)))
    losses = m.compute_losses(out, b)
    assert set(losses) == {"id", "triplet", "mse"}
    expected = sum(F.mse_loss(heads[:, j], tg[:, j]) for j in range(6))
    assert torch.allclose(losses["mse"], expected, rtol=1e-5)
    # 12 CE terms at init (classifier N(0, 0.001)): ~ 12 ln C, no label smoothing
    assert losses["id"].item() == pytest.approx(12 * math.log(P), abs=0.05)
    # Eq. 3 literally: squared L2 norm over channels = C x the per-element mean
    lit = _build(mse_reduction="sum_channels")
    assert torch.allclose(lit.mse_loss(out), 512 * expected, rtol=1e-4)


def test_gradients_reach_every_trainable_parameter():
    m = undo_zero_init(_build())
    b = _batch(96, 32)
    sum(m.compute_losses(m(b.images), b).values()).backward()
    missing = params_without_gradient(m)
    assert not missing, missing


def test_classifiers_unused_at_eval():
    m = _build().eval()
    assert "classifiers" not in m.inference_modules() and "global_heads" in m.inference_modules()

    def boom(*_):
        raise AssertionError("classifier called in eval")

    for c in m.classifiers:
        c.register_forward_hook(boom)
    with torch.no_grad():
        assert m(torch.randn(2, 3, 96, 32)).shape == (2, 3072)


@pytest.mark.parametrize("over, n_logits, n_triplet, dim, terms", [
    ({"local_parts": "none"}, 3, 3, 768, {"id", "triplet", "mse"}),            # CGPN-1
    ({"local_parts": "fine"}, 12, 12, 3072, {"id", "triplet", "mse"}),         # CGPN-2
    ({"global_part": "none"}, 9, 9, 2304, {"id", "triplet"}),                  # CGPN-3
    ({"global_part": "unsupervised"}, 12, 12, 3072, {"id", "triplet"}),        # CGPN-4
    ({"global_part": "plain"}, 12, 12, 3072, {"id", "triplet"}),               # CGPN-4b (extension)
    ({"local_triplet": False}, 12, 3, 3072, {"id", "triplet", "mse"}),         # MGN-style triplet reading
    ({"global_part": "none", "local_triplet": False}, 9, 9, 2304, {"id", "triplet"}),
    ({"global_ce_on": "raw"}, 12, 12, 3072, {"id", "triplet", "mse"}),
])
def test_ablation_variants(over, n_logits, n_triplet, dim, terms):
    m = _build(**over)
    b = _batch(96, 32)
    out = m(b.images)
    assert m.feat_dim == dim and out.embedding.shape == (8, dim)
    assert len(out.logits) == n_logits and len(out.features) == n_triplet
    assert set(m.compute_losses(out, b)) == terms


def test_fine_stripes_change_only_branches_2_and_3():
    """CGPN-2 differs from CGPN only where N > 2 (with N = 2 the stripes are already half-height windows)."""
    coarse = undo_zero_init(_build())
    fine = _build(local_parts="fine")
    fine.load_state_dict(coarse.state_dict())
    coarse.eval()
    fine.eval()
    x = torch.randn(2, 3, 96, 32)
    with torch.no_grad():
        ec, ef = coarse(x).view(2, 12, 256), fine(x).view(2, 12, 256)
    assert torch.allclose(ec[:, :5], ef[:, :5])  # 3 globals + branch-1 stripes
    assert not torch.allclose(ec[:, 5:], ef[:, 5:], atol=1e-3)


def test_mse_supervision_and_detach_change_the_gradients():
    torch.manual_seed(0)
    sup = undo_zero_init(_build())
    det = _build(mse_detach_target=True)
    det.load_state_dict(sup.state_dict())
    b = _batch(96, 32)
    grads = []
    for m in (sup, det):
        m.mse_loss(m(b.images)).backward()
        grads.append(m.branches[0][-1].conv3.weight.grad.clone())  # reaches T through f_g and, undetached, f_gl
    assert not torch.allclose(grads[0], grads[1])
    # CGPN-4: same heads and the same tensors in aux (for the CGPN-X2 part-focus comparison), no MSE term
    uns = _build(global_part="unsupervised")
    uns.load_state_dict(sup.state_dict())
    out_s, out_u = sup(b.images), uns(b.images)
    assert torch.equal(out_s.aux["global_head_features"], out_u.aux["global_head_features"])
    ls, lu = sup.compute_losses(out_s, b), uns.compute_losses(out_u, b)
    assert "mse" in ls and "mse" not in lu and ls["mse"] > 0
    assert torch.equal(ls["id"], lu["id"]) and torch.equal(ls["triplet"], lu["triplet"])


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="local_part.*did you mean 'local_parts'"):
        model_config("cgpn", {"local_part": "fine"})
    with pytest.raises(ValueError, match=r"CGPNConfig.global_part: expected one of"):
        model_config("cgpn", {"global_part": "half"})
    with pytest.raises(ValueError, match="leave no feature"):
        model_config("cgpn", {"global_part": "none", "local_parts": "none"})
    cfg = model_config("cgpn")
    assert cfg.stripes == (2, 3, 4) and cfg.loss.triplet_margin == 1.2 and cfg.backbone.last_stride == 1


def test_paper_scale_parameter_count_matches_the_spec():
    """cgpn.md §2.6 counted 99,964,992 parameters for the reference sketch (C = 751); same choices here."""
    m = build_model("cgpn", 751)
    count = {k: sum(p.numel() for p in c.parameters()) for k, c in m.named_children()}
    assert count["trunk"] == 2_957_376 and count["branches"] == 3 * 20_550_656
    assert count["global_heads"] == 25_178_112 and count["reductions"] == 7_870_464
    assert count["classifiers"] == 2_307_072
    assert sum(p.numel() for p in m.parameters()) == 99_964_992
