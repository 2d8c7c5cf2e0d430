"""PAL: PS head types (Fig. 2), ablation switches, training-only head, class-balanced L_ps (§3.5)."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from partreid_core.data.types import Batch
from partreid_core.losses.segmentation import (
    class_balanced_cross_entropy,
    degrade_part_labels,
    num_part_classes,
    remap_part_labels,
    resize_labels,
)
from partreid_core.models import build_model, list_models
from partreid_core.models.backbones import undo_zero_init
from partreid_core.models.pal import PartSegmentationHead

from model_checks import params_without_gradient

H, W = 128, 64  # Conv5 8 x 4 at output stride 16
NARROW = {"backbone": {"width": 0.25}}


def build(name, ps=None, base=None, num_classes=4):
    return build_model(name, num_classes, {**NARROW, **(base or {}), "ps": ps or {}})


def pk_batch(p=3, k=2, masks=True):
    n = p * k
    return Batch(torch.randn(n, 3, H, W), torch.arange(p).repeat_interleave(k), torch.zeros(n, dtype=torch.long),
                 torch.randint(0, 8, (n, H, W)) if masks else None)


def test_wrappers_registered():
    assert {"globalpool_ps", "pcb_ps", "mgn_ps"} <= set(list_models("*_ps"))


# ---------------------------------------------------------------- head (PAL-F2, PAL-T7)

@pytest.mark.parametrize("head_type,rows", [("a", 24), ("b", 24), ("c", 48), ("d", 96)])
def test_head_types_output_resolution_at_paper_size(head_type, rows):
    """§2.2 table at 384x128: Conv5 24x8 -> a/b 24x8, c 48x16, d 96x32 (narrow C_in for speed)."""
    head = PartSegmentationHead(16, 8, head_type)
    assert head(torch.randn(1, 16, 24, 8)).shape == (1, 8, rows, rows // 3)
    convs = [m for m in head.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert all(c.out_channels == 256 for c in convs[:-1]) and convs[-1].kernel_size == (1, 1)
    assert convs[-1].bias is not None and all(c.bias is None for c in convs[:-1])


def test_head_types_in_model_at_128x64():
    m = build("pcb_ps", {"head_type": "a"})  # the config switch reaches the model
    out = m(torch.randn(2, 3, H, W))
    assert out.aux["seg_logits"].shape == (2, 8, 8, 4)
    fmap = out.aux["feature_map"].detach()
    for head_type, size in [("b", (8, 4)), ("c", (16, 8)), ("d", (32, 16))]:
        assert PartSegmentationHead(fmap.shape[1], 8, head_type)(fmap).shape == (2, 8, *size)


def test_bad_head_type_and_granularity():
    with pytest.raises(ValueError, match="head_type"):
        build("globalpool_ps", {"head_type": "e"})
    with pytest.raises(ValueError, match="granularity"):
        build("globalpool_ps", {"granularity": "3"})


# ---------------------------------------------------------------- granularity (PAL-T6, PAL-F11)

def test_granularity_mappings_and_class_counts():
    labels = torch.tensor([[[0, 1, 2, 3, 4, 5, 6, 7, 255]]])
    assert remap_part_labels(labels, "fg").tolist() == [[[0, 1, 1, 1, 1, 1, 1, 1, 255]]]
    assert remap_part_labels(labels, "2").tolist() == [[[0, 1, 1, 1, 1, 2, 2, 2, 255]]]
    assert remap_part_labels(labels, "4").tolist() == [[[0, 1, 2, 2, 2, 3, 4, 4, 255]]]
    assert remap_part_labels(labels, "7").tolist() == labels.tolist()
    assert [num_part_classes(g) for g in ("fg", "2", "4", "7")] == [2, 3, 5, 8]
    with pytest.raises(ValueError, match="0..7 or 255"):
        remap_part_labels(torch.tensor([[[9]]]), "7")


@pytest.mark.parametrize("granularity,m", [("fg", 2), ("2", 3), ("4", 5), ("7", 8)])
def test_granularity_sets_head_classes(granularity, m):
    model = build("globalpool_ps", {"granularity": granularity})
    b = pk_batch()
    out = model(b.images)
    assert out.aux["seg_logits"].shape[1] == m
    assert torch.isfinite(model.compute_losses(out, b)["ps"])


# ---------------------------------------------------------------- the wrapper

def test_ps_head_absent_from_eval_graph_and_eval_output_unchanged():
    torch.manual_seed(1)
    base = build_model("pcb", 4, NARROW)
    pal = build("pcb_ps")
    pal.base.load_state_dict(base.state_dict())
    assert pal.inference_modules() == {"base"} and pal.feat_dim == base.feat_dim == 1536
    calls = []
    pal.ps_head.register_forward_hook(lambda *a: calls.append(1))
    base.eval()
    pal.eval()
    x = torch.randn(3, 3, H, W)
    with torch.no_grad():
        y_base, y_pal = base(x), pal(x)
    assert not calls and torch.equal(y_base, y_pal) and y_pal.shape == (3, 1536)


def test_lambda_zero_is_the_base_model_and_lambda_scales_the_term():
    b = pk_batch()
    torch.manual_seed(2)
    base = build_model("globalpool", 4, {**NARROW, "loss": {"triplet_weight": 1.0}})
    torch.manual_seed(2)
    pal0 = build("globalpool_ps", {"weight": 0.0}, {"loss": {"triplet_weight": 1.0}})
    base.train()
    pal0.train()
    torch.manual_seed(3)
    lb = base.compute_losses(base(b.images), b)
    torch.manual_seed(3)
    out0 = pal0(b.images)
    l0 = pal0.compute_losses(out0, b)
    assert set(l0) == set(lb) == {"id", "triplet"} and "seg_logits" not in out0.aux
    assert all(torch.equal(l0[k], lb[k]) for k in lb)
    # lambda multiplies the PS term and nothing else
    pal1, pal2 = build("globalpool_ps", {"weight": 1.0}), build("globalpool_ps", {"weight": 2.0})
    pal2.load_state_dict(pal1.state_dict())
    # same weights, same batch: training-mode forwards are identical (BN batch statistics are deterministic)
    l1 = pal1.compute_losses(pal1(b.images), b)
    l2 = pal2.compute_losses(pal2(b.images), b)
    assert torch.allclose(l2["ps"], 2 * l1["ps"]) and torch.equal(l1["id"], l2["id"])


@pytest.mark.parametrize("name", ["globalpool_ps", "pcb_ps"])  # MGN: test_baselines + the shared-head test
def test_gradients_reach_every_parameter_including_ps_head(name):
    model = build(name)
    undo_zero_init(model)  # ResNet zero-inits each block's last BN: wake them so every conv gets a gradient
    b = pk_batch()
    losses = model.compute_losses(model(b.images), b)
    sum(losses.values()).backward()
    dead = params_without_gradient(model)
    assert not dead, f"no gradient reaches {dead[:8]}"
    assert "ps" in losses and model.ps_head.body[-1].weight.grad.abs().sum() > 0


def test_mgn_one_shared_head_on_three_branches_and_mean_loss():
    model = build("mgn_ps")
    assert sum(isinstance(m, PartSegmentationHead) for m in model.modules()) == 1
    b = pk_batch()
    out = model(b.images)
    segs = [out.aux["seg_logits"], out.aux["seg_logits_1"], out.aux["seg_logits_2"]]
    assert all(s.shape == (6, 8, 16, 8) for s in segs)
    labels = resize_labels(b.masks, (16, 8))
    expected = sum(class_balanced_cross_entropy(s, labels) for s in segs) / 3
    assert torch.allclose(model.compute_losses(out, b)["ps"], expected, rtol=1e-5)


def test_missing_masks_is_a_clear_error():
    model = build("globalpool_ps")
    b = pk_batch(masks=False)
    with pytest.raises(ValueError, match="Batch.masks is None"):
        model.compute_losses(model(b.images), b)


def test_predict_parts_in_eval_mode():
    """PAL-F14: the PS head's logits at test time, without touching BN statistics."""
    model = build("pcb_ps").eval()
    x = torch.randn(2, 3, H, W)
    stats = model.base.backbone.bn1.running_mean.clone()
    with torch.no_grad():
        logits = model.predict_parts(x)
        ref = model.ps_head(model.base.backbone(x))
    assert logits.shape == (2, 8, 16, 8) and torch.allclose(logits, ref, atol=1e-6)
    assert torch.equal(stats, model.base.backbone.bn1.running_mean) and not model.base.training
    mgn = build("mgn_ps").eval()
    with torch.no_grad():
        assert mgn.predict_parts(x, branch=2).shape == (2, 8, 16, 8)


# ---------------------------------------------------------------- class-balanced loss (§3.5)

def test_class_balanced_loss_hand_worked():
    # 3 background pixels with logits (0, 0): CE = log 2 each.
    # 1 head pixel (class 1) with logits (log 3, 0): p(head) = 1/4, CE = log 4.
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0, 0, 3] = math.log(3)
    labels = torch.tensor([[[0, 0, 0, 1]]])
    loss = class_balanced_cross_entropy(logits, labels)
    # per-class means (log 2, log 4) averaged: 1.5 log 2; the plain pixel mean would be 1.25 log 2
    assert math.isclose(loss.item(), 1.5 * math.log(2), rel_tol=1e-6)
    assert not math.isclose(F.cross_entropy(logits, labels).item(), loss.item(), rel_tol=1e-3)
    # the rare class weighs as much as the frequent one: 30 background pixels give the same loss
    many = torch.zeros(1, 2, 1, 31)
    many[0, 0, 0, 30] = math.log(3)
    many_labels = torch.zeros(1, 1, 31, dtype=torch.long)
    many_labels[0, 0, 30] = 1
    assert math.isclose(class_balanced_cross_entropy(many, many_labels).item(), loss.item(), rel_tol=1e-6)


def test_class_balanced_loss_pools_classes_over_the_batch():
    # image 0: CE(bg)=log 2, CE(head)=log 4 ; image 1: two bg pixels, CE log 2 and log(1+e^2)
    logits = torch.zeros(2, 2, 1, 2)
    logits[0, 0, 0, 1] = math.log(3)
    logits[1, 1, 0, 1] = 2.0
    labels = torch.tensor([[[0, 1]], [[0, 0]]])
    bg = (math.log(2) + math.log(2) + math.log(1 + math.exp(2))) / 3
    expected = (bg + math.log(4)) / 2
    assert math.isclose(class_balanced_cross_entropy(logits, labels).item(), expected, rel_tol=1e-6)


def test_ignore_index_is_respected():
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0, 0, 3] = math.log(3)
    logits[0, 1, 0, 1] = 50.0  # a pixel that would cost ~50 if it counted as background
    labels = torch.tensor([[[0, 255, 0, 1]]])
    assert math.isclose(class_balanced_cross_entropy(logits, labels).item(), 1.5 * math.log(2), rel_tol=1e-6)
    # a batch without labelled pixels contributes 0 and still backpropagates
    g = torch.randn(1, 2, 2, 2, requires_grad=True)
    empty = class_balanced_cross_entropy(g, torch.full((1, 2, 2), 255))
    empty.backward()
    assert empty.item() == 0 and g.grad is not None
    with pytest.raises(ValueError, match=r"0\.\.1 or 255"):
        class_balanced_cross_entropy(torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 2]]]))


def test_ignored_pixels_survive_resizing_and_the_model_loss():
    masks = torch.tensor([[[0, 1], [2, 3], [4, 5], [255, 7]]])  # (1, 4, 2)
    # nearest neighbour, as the spec says: rows 0 and 2, column 0
    assert resize_labels(masks, (2, 1)).tolist() == [[[0], [4]]]
    model = build("globalpool_ps")
    b = pk_batch()
    b.masks[:, : H // 2] = 255  # the upper half unlabelled
    out = model(b.images)
    labels = resize_labels(b.masks, (16, 8))
    assert (labels[:, :8] == 255).all()
    expected = class_balanced_cross_entropy(out.aux["seg_logits"][:, :, 8:], labels[:, 8:])
    assert torch.allclose(model.compute_losses(out, b)["ps"], expected, rtol=1e-5)


def test_small_scale_recipe_size_192x64():
    """§10: PCB at 192x64 has a 12x4 Conv5 (6 stripes of 2 rows); type (c) labels are 24x8."""
    model = build("pcb_ps")
    x = torch.randn(2, 3, 192, 64)
    out = model(x)
    assert out.aux["feature_map"].shape[2:] == (12, 4) and out.aux["seg_logits"].shape == (2, 8, 24, 8)
    b = Batch(x, torch.tensor([0, 1]), torch.zeros(2, dtype=torch.long), torch.randint(0, 8, (2, 192, 64)))
    assert torch.isfinite(model.compute_losses(out, b)["ps"])


def test_a_ps_config_is_its_base_config_plus_ps():
    from partreid_core.config import ConfigError
    from partreid_core.models import model_config
    from partreid_core.models.pal import PS_VARIANTS, PCBPSConfig, base_config
    from partreid_core.models.pcb import PCBConfig

    cfg = model_config("pcb_ps", {"backbone": {"width": 0.25, "last_stride": 2}, "num_stripes": 4,
                                  "ps": {"weight": 0.5}})
    assert type(cfg) is PCBPSConfig and isinstance(cfg, PCBConfig)
    assert cfg.backbone.width == 0.25 and cfg.backbone.last_stride == 2 and cfg.ps.weight == 0.5
    base = base_config(cfg)
    assert type(base) is PCBConfig and base == model_config("pcb", {"backbone": {"width": 0.25, "last_stride": 2},
                                                                    "num_stripes": 4})
    model = build_model("pcb_ps", 4, {"backbone": {"width": 0.25}, "num_stripes": 4})
    assert model.base.cfg == model_config("pcb", {"backbone": {"width": 0.25}, "num_stripes": 4})
    for name, (base_name, cls) in PS_VARIANTS.items():  # every variant: the base's fields and ps, base defaults
        assert {f.name for f in dataclasses.fields(cls)} == {f.name for f in dataclasses.fields(
            type(model_config(base_name)))} | {"ps"}, name
        assert base_config(model_config(name)) == model_config(base_name), name
    with pytest.raises(ConfigError, match="nonsense"):
        model_config("pcb_ps", {"nonsense": 1})


def _body_labels(n=8):
    """(n, 128, 64) label maps: background with 7 rectangular parts, a few ignored pixels."""
    lab = torch.zeros(n, H, W, dtype=torch.long)
    for c, (r0, r1, c0, c1) in enumerate([(4, 20, 24, 40), (20, 60, 18, 46), (20, 60, 10, 18), (20, 60, 46, 54),
                                          (60, 100, 18, 32), (60, 100, 32, 46), (100, 124, 18, 46)], start=1):
        lab[:, r0:r1, c0:c1] = c
    lab[:, :2, :2] = 255
    return lab


def test_label_noise_degrades_more_as_it_grows_and_keeps_ignored_pixels():
    lab = _body_labels()
    assert torch.equal(degrade_part_labels(lab, 8, 0.0), lab)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    agree = []
    for noise in (0.25, 0.5, 1.0):
        out = degrade_part_labels(lab, 8, noise, generator=g())
        assert out.shape == lab.shape and out.dtype == torch.long
        assert torch.equal(out == 255, lab == 255)  # ignored stays ignored, nothing new becomes ignored
        valid = out != 255
        assert int(out[valid].min()) >= 0 and int(out[valid].max()) <= 7
        agree.append(float((out == lab)[valid].float().mean()))
    assert 1.0 > agree[0] > agree[2] and agree[2] > 0.5, agree  # worse with noise, yet still a body map
    assert torch.equal(degrade_part_labels(lab, 8, 0.5, generator=g()), degrade_part_labels(lab, 8, 0.5, generator=g()))
    with pytest.raises(ValueError, match=r"label noise must be in \[0, 1\]"):
        degrade_part_labels(lab, 8, 1.5)


def test_label_noise_reaches_the_ps_loss_only():
    b = pk_batch()
    b = Batch(b.images, b.labels, b.camids, _body_labels(len(b.labels)))
    clean, noisy = build("pcb_ps"), build("pcb_ps", {"label_noise": 1.0})
    noisy.load_state_dict(clean.state_dict())
    out_c, out_n = clean(b.images), noisy(b.images)
    lc, ln = clean.compute_losses(out_c, b), noisy.compute_losses(out_n, b)
    assert torch.equal(lc["id"], ln["id"]) and not torch.allclose(lc["ps"], ln["ps"])
    with pytest.raises(ValueError, match="label_noise must be in"):
        build("pcb_ps", {"label_noise": -0.1})


def test_label_noise_class_flips_follow_the_per_image_rule():
    """The batched flips equal the rule written per image: with probability noise * max_flip_rate, the
    floor(u * k)-th of the image's k present foreground classes becomes the floor(v * (M - 2))-th other one."""
    for seed, m in [(0, 3), (1, 5), (2, 8), (3, 8)]:
        g = torch.Generator().manual_seed(seed)
        lab = torch.randint(0, m, (12, 16, 8), generator=g)
        lab[seed] = 0                                     # an image without foreground is left alone
        out = degrade_part_labels(lab, m, 1.0, max_radius_frac=0.0, max_scale=0.0,
                                  generator=torch.Generator().manual_seed(seed))
        draw = torch.Generator().manual_seed(seed)
        torch.empty(12, m).uniform_(0, 0, generator=draw)  # the class gains' draw
        flip = torch.rand(12, generator=draw) < 0.5
        pick, to = torch.rand(12, generator=draw), torch.rand(12, generator=draw)
        expected = lab.clone()
        for i in range(12):
            present = [c for c in lab[i].unique().tolist() if c != 0]
            if flip[i] and present:
                src = present[int(pick[i] * len(present))]
                others = [c for c in range(1, m) if c != src]
                expected[i][lab[i] == src] = others[int(to[i] * len(others))]
        assert torch.equal(out, expected), seed
        assert not torch.equal(out, lab)
