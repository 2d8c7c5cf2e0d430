"""GlobalPool, PCB and MGN: spec shapes (pal.md §2.4-2.7), losses, gradients, inference graph."""
import pytest
import torch
import torch.nn.functional as F

from partreid_core.config import ConfigError
from partreid_core.data.types import Batch
from partreid_core.losses.center import CenterLoss
from partreid_core.models import build_model, model_config
from partreid_core.models.backbones import undo_zero_init
from partreid_core.models.globalpool import BOT_PRESET
from partreid_core.models.mgn import ORIGINAL_MGN_PRESET

from model_checks import params_without_gradient

NARROW = {"backbone": {"width": 0.25}}  # cpu profile: ResNet-50 topology, Conv5 has 512 channels
H, W = 128, 64                           # Conv5 at output stride 16: 8 x 4
NUM_CLASSES = 5


def pk_batch(p=4, k=2, masks=False):
    labels = torch.arange(p).repeat_interleave(k)
    n = p * k
    return Batch(torch.randn(n, 3, H, W), labels, torch.zeros(n, dtype=torch.long),
                 torch.randint(0, 8, (n, H, W)) if masks else None)


def build(name, overrides=None):
    over = dict(NARROW)
    for k, v in (overrides or {}).items():
        over[k] = {**over[k], **v} if isinstance(v, dict) and k in over else v
    return build_model(name, NUM_CLASSES, over)


def assert_all_params_learn(model, batch):
    undo_zero_init(model)
    model.train()
    losses = model.compute_losses(model(batch.images), batch)
    sum(losses.values()).backward()
    dead = params_without_gradient(model)
    assert not dead, f"no gradient reaches {dead[:8]}"
    return losses


def assert_eval_uses_only_inference_modules(model, x):
    called = set()
    names = model.inference_modules()
    hooks = [child.register_forward_hook(lambda *a, n=n: called.add(n))
             for n, child in model.named_children()]
    model.eval()
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    assert called <= names, f"eval forward ran training-only modules {called - names}"
    return y


# ---------------------------------------------------------------- GlobalPool

def test_globalpool_pal_gp_shapes_and_512d_feature():
    """PAL-F4: GMP -> Em512 (after ReLU) is the 512-d test feature; one CE, no triplet."""
    m = build("globalpool")
    cfg = model_config("globalpool")
    assert cfg.pool == "max" and cfg.neck == "embedding" and cfg.loss.label_smoothing == 0.0
    assert m.feat_dim == 512
    b = pk_batch()
    out = m(b.images)
    assert len(out.logits) == 1 and out.logits[0].shape == (8, NUM_CLASSES)
    assert out.features == [] and out.aux["feature_map"].shape == (8, 512, 8, 4)
    assert out.embedding.shape == (8, 512) and (out.embedding >= 0).all()  # after the ReLU
    assert set(m.compute_losses(out, b)) == {"id"}
    y = assert_eval_uses_only_inference_modules(m, b.images)
    assert y.shape == (8, 512)
    assert m.classifier.bias is not None  # EANet/PAL classifier has a bias


def test_globalpool_bot_preset_bnneck_center_loss_and_gradients():
    m = build("globalpool", BOT_PRESET)
    c = m.feature_channels
    assert m.feat_dim == c == 512 and m.classifier.bias is None
    assert not m.neck.bn.bias.requires_grad  # BNNeck has no shift
    b = pk_batch()
    losses = assert_all_params_learn(m, b)
    assert set(losses) == {"id", "triplet", "center"}
    assert m.center_loss.centers.grad is not None
    # center loss is 0.0005 x the mean squared distance of the pre-BN pooled feature to its center
    m.train()
    out = m(b.images)
    pooled = out.aux["feature_map"].mean((2, 3))
    assert torch.allclose(out.features[0], pooled, atol=1e-6)
    expected = 0.0005 * ((pooled - m.center_loss.centers[b.labels]) ** 2).sum(1).mean()
    assert torch.allclose(m.compute_losses(out, b)["center"], expected, rtol=1e-5)
    y = assert_eval_uses_only_inference_modules(m, b.images)
    assert y.shape == (8, c) and "center_loss" not in m.inference_modules()


def test_globalpool_gradients_and_config_errors():
    assert_all_params_learn(build("globalpool"), pk_batch())
    with pytest.raises(ValueError, match="neck"):
        build("globalpool", {"neck": "bnnek"})
    with pytest.raises(ConfigError, match="unknown config key 'pol'"):
        build("globalpool", {"pol": "avg"})


def test_center_loss_by_hand():
    loss = CenterLoss(2, 2)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    feats = torch.tensor([[3.0, 4.0], [1.0, 3.0], [1.0, 1.0]])
    # squared distances 25, 4, and 0 clamped to 1e-12
    assert torch.allclose(loss(feats, torch.tensor([0, 1, 1])), torch.tensor((25 + 4 + 1e-12) / 3))
    fixed = CenterLoss(3, 2, learnable=False)
    assert "centers" in dict(fixed.named_buffers()) and not list(fixed.parameters())
    with pytest.raises(ValueError, match=r"features \(N, 2\)"):
        loss(torch.zeros(3, 5), torch.tensor([0, 1, 1]))


# ---------------------------------------------------------------- PCB

def test_pcb_shapes_1536d_feature_and_stripe_features():
    """PAL-F5: 6 max-pooled stripes -> 6 Em256 -> concat 1536-d (each part L2-normalised)."""
    m = build("pcb")
    assert m.feat_dim == 1536
    b = pk_batch()
    out = m(b.images)
    fmap = out.aux["feature_map"]
    assert fmap.shape == (8, 512, 8, 4) and len(out.logits) == 6 and out.features == []
    # PAL-F9 reads the max-pooled Conv5 stripes *before* Em256
    assert out.aux["part_features"].shape == (8, 6, 512)
    ref = F.adaptive_max_pool2d(fmap, (6, 1))[..., 0].transpose(1, 2)
    assert torch.equal(out.aux["part_features"], ref)
    assert out.aux["part_embeddings"].shape == (8, 6, 256)
    # L_reid is the *sum* of the six stripe CEs (pal.md §3.3)
    expected = sum(F.cross_entropy(z, b.labels) for z in out.logits)
    assert torch.allclose(m.compute_losses(out, b)["id"], expected, rtol=1e-5)
    y = assert_eval_uses_only_inference_modules(m, b.images)
    assert y.shape == (8, 1536)
    assert torch.allclose(y.view(8, 6, 256).norm(dim=2), torch.ones(8, 6), atol=1e-5)


def test_pcb_gradients_and_switches():
    assert_all_params_learn(build("pcb"), pk_batch())
    m = build("pcb", {"num_stripes": 3, "normalize_parts": False, "loss": {"triplet_weight": 1.0}})
    assert m.feat_dim == 768
    out = m(pk_batch().images)
    assert len(out.logits) == 3 and out.features[0].shape == (8, 768)


# ---------------------------------------------------------------- MGN

def test_mgn_structure_shapes_and_2048d_feature():
    """PAL-F8: trunk up to layer3.0, 3 branches, 8 x 256 = 2048-d test feature."""
    m = build("mgn")
    assert m.feat_dim == 2048
    # trunk ends at layer3.0 (its output has layer3's channels), branches own layer3.1-5 and layer4
    assert m.trunk(torch.randn(1, 3, H, W)).shape[1] == 256
    for k in (1, 2, 3):
        br = getattr(m, f"branch{k}")
        assert len(br.layer3) == 5 and len(br.layer4) == 3
    # independent copies of the same initial weights
    w1, w2 = m.branch1.layer4[0].conv2.weight, m.branch2.layer4[0].conv2.weight
    assert torch.equal(w1, w2) and w1.data_ptr() != w2.data_ptr()
    b = pk_batch()
    out = m(b.images)
    assert len(out.logits) == 8 and len(out.features) == 3
    assert all(f.shape == (8, 256) for f in out.features)
    assert [t.shape for t in out.aux["feature_maps"]] == [(8, 512, 8, 4)] * 3  # all branches stride 1 (PAL)
    assert out.aux["part_features"].shape == (8, 5, 512) and out.aux["part_embeddings"].shape == (8, 5, 256)
    # mean of 8 CEs and mean of 3 batch-hard triplets (margin 0.1)
    losses = m.compute_losses(out, b)
    assert torch.allclose(losses["id"], sum(F.cross_entropy(z, b.labels) for z in out.logits) / 8, rtol=1e-5)
    assert m.triplet_loss.margin == 0.1
    y = assert_eval_uses_only_inference_modules(m, b.images)
    assert y.shape == (8, 2048)


def test_mgn_test_feature_order():
    """[B1G, B2G, B3G, B2S1, B2S2, B3S1, B3S2, B3S3] (PAL-F13(b) index order)."""
    m = build("mgn").eval()
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        y = m(x)
        maps = m.branch_maps(x)
        b2g = m.global_fcs[1](m.global_reductions[1](maps[1].amax((2, 3))))
        b3s3 = m.part_reductions[4](F.adaptive_max_pool2d(maps[2], (3, 1))[:, :, 2, 0])
    assert torch.allclose(y[:, 256:512], b2g, atol=1e-5)
    assert torch.allclose(y[:, 7 * 256:], b3s3, atol=1e-5)


def test_mgn_gradients_reach_every_parameter():
    assert_all_params_learn(build("mgn"), pk_batch())


def test_mgn_original_preset():
    m = build("mgn", ORIGINAL_MGN_PRESET)
    assert m.global_fcs is None and m.global_embeddings is None and m.feat_dim == 2048
    out = m(pk_batch().images)
    # stride-2 global branch: half resolution; the part branches stay at stride 1
    assert [t.shape[2:] for t in out.aux["feature_maps"]] == [(4, 2), (8, 4), (8, 4)]
    assert m.global_classifiers[0].in_features == 256 and m.triplet_loss.margin == 1.2
    with pytest.raises(ValueError, match="global_id_head"):
        build("mgn", {"global_id_head": "em256"})
