"""MPN (papers/mpn.md): priors, AT inputs, alignment losses, model shapes, switches and gradients.

Small scale: ResNet-50 topology at width 0.25, 64×32 or 128×64 images (4×2 / 8×4 maps), P×K = 4×2 batches.
"""
import pytest
import torch
import torch.nn.functional as F

from partreid_core.config import ConfigError
from partreid_core.data.types import PART_CLASSES, Batch
from partreid_core.losses import TripletLoss
from partreid_core.losses.alignment import (
    FeatureAlignmentLoss,
    batch_wise_alignment,
    class_wise_alignment,
    sample_wise_alignment,
)
from partreid_core.models import build_model
from partreid_core.models.backbones import undo_zero_init
from partreid_core.models.mpn import MPN, MPN_VARIANTS, ChannelAttention, MPNConfig, PartBranch, mpn_variant
from partreid_core.models.mpn_priors import (
    PartPrior,
    degrade_prior,
    part_maps,
    prior_from_keypoints,
    prior_from_masks,
    strip_rows,
    uniform_prior,
)

from model_checks import params_without_gradient

H, W = 128, 64
FEAT = (8, 4)  # output stride 16
N_IDS = 4
C = {name: i for i, name in enumerate(PART_CLASSES)}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny tensors: one intra-op thread is faster than two on a shared, oversubscribed machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def person_mask(n=1, col0=16, col1=48, shift=0, head=True, legs=True):
    """(n, 128, 64) labels: an unlabelled band on top, a person head-to-feet in columns [col0, col1).

    Rows (before ``shift``): head 16-31, torso 32-63, upper leg 64-87, lower leg 88-111,
    feet 112-123. In 16×16 cells: body rows 1-7 (feet cover 12/16 of row 7), columns 1-2.
    """
    m = torch.zeros(n, H, W, dtype=torch.long)
    m[:, 0:8, :] = 255  # unlabelled is not body
    spans = [(16, 32, C["head"] if head else C["torso"]), (32, 64, C["torso"]),
             (64, 88, C["upper_leg"] if legs else 0), (88, 112, C["lower_leg"] if legs else 0),
             (112, 124, C["foot"] if legs else 0)]
    for r0, r1, cls in spans:
        m[:, r0 + shift:r1 + shift, col0:col1] = cls
    return m


def make_batch(small=True):
    """P×K = 4×2 images with person masks; ``small``: 64×32 (4×2 maps) to keep the tests fast."""
    x = torch.randn(8, 3, H, W)
    masks = person_mask(8)
    if small:
        x, masks = x[:, :, ::2, ::2].contiguous(), masks[:, ::2, ::2].contiguous()
    y = torch.arange(N_IDS).repeat_interleave(2)
    return Batch(x, y, torch.zeros(8, dtype=torch.long), masks)


def build(variant="T1/mpn", **overrides):
    cfg = mpn_variant(variant, {"backbone": {"width": 0.25}, **overrides})
    return MPN(cfg, N_IDS)


# --- priors ---------------------------------------------------------------------------------------------

def test_mask_prior_matches_hand_worked_pipeline():
    p = prior_from_masks(person_mask(), FEAT)
    expected = torch.zeros(1, 1, *FEAT)
    # body cells: rows 1-7, cols 1-2; the 1×2 dilation (out[x] = max(M[x], M[x+1])) adds col 0
    expected[..., 1:8, 0:3] = 1
    assert torch.equal(p.mask, expected)
    assert p.top.tolist() == [1] and p.bot.tolist() == [7] and p.valid.tolist() == [True]
    # shifting the person down by one cell moves the ROI with it
    p2 = prior_from_masks(person_mask(shift=-16), FEAT)  # head rows 0-15
    assert p2.top.tolist() == [0] and p2.bot.tolist() == [6]


@pytest.mark.parametrize("kwargs", [{"head": False}, {"legs": False}, {"col0": 30, "col1": 32}])
def test_invalid_image_falls_back_to_uniform_division(kwargs):
    # no head / no legs / a sliver too thin to reach the 0.5 % presence threshold
    m = person_mask(**kwargs)
    if "col0" in kwargs:  # 16 head rows × 2 columns = 32 px < 0.5 % of 8192
        assert (m == C["head"]).sum() < 0.005 * H * W
    p = prior_from_masks(m, FEAT)
    assert p.valid.tolist() == [False]
    assert torch.equal(p.mask, torch.ones(1, 1, *FEAT)) and p.top.tolist() == [0] and p.bot.tolist() == [7]
    assert torch.equal(p.mask, uniform_prior(1, FEAT).mask)


def test_keypoint_prior_rows_and_validity():
    kp = torch.zeros(3, 17, 3)
    ys = {0: 40.0, 5: 56.0, 6: 56.0, 11: 70.0, 12: 70.0, 13: 84.0, 14: 84.0, 15: 100.0, 16: 100.0}
    for j, yv in ys.items():
        kp[:, j] = torch.tensor([32.0, yv, 1.0])
    kp[1, 0, 2] = 0  # no face keypoint -> invalid
    kp[2, 13:, 2] = 0  # no knee / ankle -> invalid
    p = prior_from_keypoints(kp, (H, W), FEAT)
    # top: 40 - 1.0·(56 - 40) = 24 px -> row floor(24·8/128) = 1; bot: 100 + 0.3·16 = 104.8 px -> row 6
    assert p.top.tolist() == [1, 0, 0] and p.bot.tolist() == [6, 7, 7]
    assert p.valid.tolist() == [True, False, False] and torch.all(p.mask == 1)
    with pytest.raises(ValueError, match=r"\(N, 17, 3\)"):
        prior_from_keypoints(torch.zeros(2, 18, 3), (H, W), FEAT)


def _band_prior(n, h=24, w=8, top=4, bot=19):
    mask = torch.zeros(n, 1, h, w)
    mask[:, :, top:bot + 1, 2:6] = 1
    return PartPrior(mask, torch.full((n,), top), torch.full((n,), bot), torch.ones(n, dtype=torch.bool))


def test_prior_noise_zero_is_exact_and_positive_moves_boundaries():
    p = _band_prior(200)
    same = degrade_prior(p, 0.0)
    assert all(torch.equal(a, b) for a, b in zip((same.mask, same.top, same.bot, same.valid),
                                                  (p.mask, p.top, p.bot, p.valid), strict=True))
    g = torch.Generator().manual_seed(0)
    q = degrade_prior(p, 0.5, generator=g)  # r = round(0.5 · 24/6) = 2 rows, failure rate 25 %
    kept = q.valid
    assert 0 < (~kept).sum() < 100  # some images fell back to the whole image
    assert torch.equal(q.mask[~kept], torch.ones_like(q.mask[~kept])) and torch.all(q.top[~kept] == 0)
    moved = (q.top[kept] != 4) | (q.bot[kept] != 19)
    assert moved.float().mean() > 0.5
    assert torch.all((q.top[kept] - 4).abs() <= 2) and torch.all((q.bot[kept] - 19).abs() <= 2)
    assert torch.all(q.top <= q.bot)
    # the mask moves with the boundaries: its first / last body rows are the new top / bot
    rows = q.mask[kept][:, 0].amax(-1) > 0
    idx = torch.arange(24)
    assert torch.equal(torch.where(rows, idx, 99).amin(1), q.top[kept])
    assert torch.equal(torch.where(rows, idx, -1).amax(1), q.bot[kept])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        degrade_prior(p, 1.5)


# --- AT inputs ------------------------------------------------------------------------------------------

def test_part_maps_crop_resize_matches_pseudocode():
    fmap = torch.randn(2, 3, *FEAT)
    p = prior_from_masks(torch.cat([person_mask(), person_mask(head=False)]), FEAT)  # valid, invalid
    strips = part_maps(fmap, p, 6)
    assert strip_rows(8, 6) == 12 and len(strips) == 6 and strips[0].shape == (2, 3, 2, 4)
    x = torch.cat(strips, 2)
    masked = fmap * p.mask
    for i, (t, b) in enumerate([(1, 7), (0, 7)]):
        ref = F.interpolate(masked[i:i + 1, :, t:b + 1], size=(12, 4), mode="bilinear", align_corners=False)
        assert torch.allclose(x[i:i + 1], ref, atol=1e-5)
    # the spec's affine_grid pseudocode agrees away from the two edge rows (where it reads outside the crop)
    y0 = 2 * p.top.float() / 8 - 1
    y1 = 2 * (p.bot.float() + 1) / 8 - 1
    theta = torch.zeros(2, 2, 3)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = (y1 - y0) / 2
    theta[:, 1, 2] = (y1 + y0) / 2
    grid = F.affine_grid(theta, (2, 3, 12, 4), align_corners=False)
    spec = F.grid_sample(masked, grid, mode="bilinear", align_corners=False)
    assert torch.allclose(x[:, :, 1:11], spec[:, :, 1:11], atol=1e-5)


def test_part_maps_uniform_division():
    f12 = torch.randn(2, 3, 12, 4)
    for got, ref in zip(part_maps(f12, None, 6, use_mask=False, use_roi=False), torch.chunk(f12, 6, 2), strict=True):
        assert torch.equal(got, ref)  # K divides h: plain strips
    f8 = torch.randn(2, 3, 8, 4)
    got = torch.cat(part_maps(f8, None, 6, use_mask=False, use_roi=False), 2)
    assert torch.allclose(got, F.interpolate(f8, size=(12, 4), mode="bilinear", align_corners=False), atol=1e-6)
    with pytest.raises(ValueError, match="prior is needed"):
        part_maps(f8, None, 6)


# --- losses ---------------------------------------------------------------------------------------------

def test_alignment_zero_when_identical_positive_otherwise():
    torch.manual_seed(1)
    h = torch.rand(8, 30)
    y = torch.arange(4).repeat_interleave(2)
    for fn in (class_wise_alignment, batch_wise_alignment, sample_wise_alignment):
        assert fn(h, h.clone(), y).abs() < 1e-6
        assert fn(h, torch.rand(8, 30), y) > 1e-3
    # class-wise = the spec's loop (§3)
    g = torch.rand(8, 30)
    hb = torch.stack([h[y == c].mean(0) for c in y.unique()])
    gb = torch.stack([g[y == c].mean(0) for c in y.unique()])
    ref = (1 - F.cosine_similarity(hb, gb, dim=1)).mean()
    assert torch.allclose(class_wise_alignment(h, g, y), ref, atol=1e-6)
    # per-image errors that cancel within an identity: class-wise 0, sample-wise > 0
    swapped = h.view(4, 2, 30).flip(1).reshape(8, 30)
    assert class_wise_alignment(h, swapped, y) < 1e-6 < sample_wise_alignment(h, swapped, y)
    assert torch.allclose(FeatureAlignmentLoss("batch")(h, g, y), batch_wise_alignment(h, g))
    with pytest.raises(ValueError, match="alignment mode"):
        FeatureAlignmentLoss("pixel")


def test_triplet_is_twice_the_cosine_batch_hard_with_margin_0_2():
    torch.manual_seed(2)
    h = torch.randn(8, 16)
    y = torch.arange(4).repeat_interleave(2)
    hn = F.normalize(h, dim=1)
    dm = 1 - hn @ hn.t()
    same = y[:, None] == y[None, :]
    hinge = F.relu(dm.masked_fill(~same, -1).max(1).values - dm.masked_fill(same, 2).min(1).values + 0.2)
    spec = hinge.sum() / (hinge > 0).sum().clamp(min=1)  # spec §3 triplet_bh, averaged over violators
    assert spec > 0
    loss = TripletLoss(0.4, normalize=True, squared=True, average="violating")(h, y)
    assert torch.allclose(loss, 2 * spec, atol=1e-5)


# --- model ----------------------------------------------------------------------------------------------

def test_shapes_registry_and_eval_descriptor():
    m = build_model("mpn", N_IDS, {"backbone": {"width": 0.25}})
    assert isinstance(m, MPN) and m.feat_dim == 3072
    assert m.cfg.loss.triplet_margin == 0.4 and m.cfg.loss.label_smoothing == 0.0
    b = make_batch(small=False)
    out = m(b.images, b.masks)
    assert len(out.logits) == 12 and all(z.shape == (8, N_IDS) for z in out.logits)
    assert [f.shape for f in out.features] == [(8, 3072)] and out.embedding.shape == (8, 3072)
    assert out.aux["part_features"].shape == (8, 6, 512) and out.aux["at_part_features"].shape == (8, 6, 512)
    assert out.aux["feature_map"].shape == (8, 512, *FEAT)
    assert torch.all(out.embedding >= 0)  # conv2 -> BN -> ReLU
    losses = m.compute_losses(out, b)
    assert set(losses) == {"id", "id_at", "triplet", "align"} and all(torch.isfinite(v) for v in losses.values())
    m.eval()
    with torch.no_grad():
        e = m(b.images)
        assert e.shape == (8, 3072) and torch.equal(e, m(b.images, b.masks, None))
        k = 3
        assert torch.allclose(m.part_logits(b.images, k), m.mt_classifiers[k](e[:, 512 * k:512 * (k + 1)]), atol=1e-5)
        assert m.part_task(k)(b.images).shape == (8, N_IDS)
    assert m.channel_importance().shape == (6, 512)
    with torch.no_grad():  # AT-at-test (MPN-X5): needs a prior, and a noisier prior changes it
        g = m.at_embedding(b.images, b.masks)
        assert g.shape == (8, 3072) and not torch.equal(g, m.at_embedding(b.images, b.masks, prior_noise=1.0))


def test_head_parameter_counts_match_spec():
    # spec §2.8: conv1 + BN + conv2 + BN per part at ResNet-50 width = 1,313,792; CA adds 132,992
    count = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    assert count(PartBranch(2048, 512, channel_attention=False)) == 1_313_792
    assert count(PartBranch(2048, 512, channel_attention=True)) == 1_313_792 + 132_992
    assert count(ChannelAttention(512, 4)) == 132_992


@pytest.mark.parametrize("variant", ["T1/mpn", "T1/naive_mtl", "T1/baseline", "T1/mt_only", "F9/soft_conv1"])
def test_gradients_reach_every_trainable_parameter(variant):
    m = build(variant)
    undo_zero_init(m)
    b = make_batch()
    sum(m.compute_losses(m(b.images, b.masks), b).values()).backward()
    assert params_without_gradient(m) == []


def test_at_losses_reach_the_backbone():
    m = build("T1/mpn")
    undo_zero_init(m)
    b = make_batch()
    m.compute_losses(m(b.images, b.masks), b)["id_at"].backward()  # A27: through P_k, no stop-gradient
    assert m.backbone.layer1[0].conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in m.mt_classifiers.parameters())


@pytest.mark.parametrize("variant", ["T1/mpn", "T1/naive_mtl", "T1/baseline"])
def test_training_only_heads_absent_from_eval_graph(variant):
    m = build(variant).eval()
    called = set()
    eval_children = m.inference_modules()
    for name, child in m.named_children():
        if name not in eval_children:
            child.register_forward_hook(lambda mod, i, o, name=name: called.add(name))
    with torch.no_grad():
        m(torch.randn(2, 3, H // 2, W // 2))
    assert called == set()
    assert {"at_classifiers", "mt_classifiers"} & {n for n, _ in m.named_children()}
    assert not {"at_classifiers", "mt_classifiers", "at_layers"} & eval_children


def test_sharing_and_ca_switches():
    assert build("T1/c1s_c2s").at_layers is None
    assert set(build("T1/naive_mtl").at_layers[0]) == {"conv1", "conv2"}
    assert set(build("T1/c1s").at_layers[0]) == {"conv2"}
    assert set(build("T1/c2s").at_layers[0]) == {"conv1"}
    naive = build("T1/naive_mtl")  # unshared AT copies start identical (A20) but are separate parameters
    assert torch.equal(naive.at_layers[2]["conv1"][0].weight, naive.branches[2].conv1[0].weight)
    assert naive.at_layers[2]["conv1"][0].weight is not naive.branches[2].conv1[0].weight
    assert isinstance(build("T1/mpn").branches[0].ca, ChannelAttention)
    assert isinstance(build("T1/mpn_noca").branches[0].ca, torch.nn.Identity)
    # soft sharing: zero distance at init, positive after the copies diverge
    soft = build("F9/soft_conv2", soft_share_weight=0.1)
    assert soft.soft_share_distance() == 0
    with torch.no_grad():
        soft.at_layers[0]["conv2"][0].bias.add_(1.0)
    assert torch.allclose(soft.soft_share_distance(), torch.tensor(512.0))
    b = make_batch()
    assert torch.allclose(soft.compute_losses(soft(b.images, b.masks), b)["soft_share"], torch.tensor(51.2))


def test_task_and_alignment_switches():
    b = make_batch()
    mt = build("T1/mt_only")
    out = mt(b.images)  # no prior needed
    assert len(out.logits) == 6 and "at_part_features" not in out.aux
    assert set(mt.compute_losses(out, b)) == {"id", "triplet"}
    base = build("T1/baseline")
    out = base(b.images)
    assert set(base.compute_losses(out, b)) == {"id_at", "triplet"} and out.features[0].shape == (8, 3072)
    base.eval()
    with torch.no_grad():
        fmap = base.backbone(b.images)
        size = (strip_rows(fmap.shape[2], 6), fmap.shape[3])
        strips = torch.chunk(F.interpolate(fmap, size=size, mode="bilinear", align_corners=False), 6, 2)
        ref = torch.cat([base.branches[k](s) for k, s in enumerate(strips)], 1)
        assert torch.allclose(base(b.images), ref, atol=1e-5)  # tested on the same uniform strips
    for mode in ("batch", "sample", "class"):
        assert "align" in build("T3/" + mode).compute_losses(build("T3/" + mode)(b.images, b.masks), b)
    none = build("T3/none")
    assert "align" not in none.compute_losses(none(b.images, b.masks), b)
    dsa = build("T3/sample_dsa")
    out = dsa(b.images, b.masks)
    h, g = out.aux["part_features"].flatten(1), out.aux["at_part_features"].flatten(1)
    assert torch.allclose(out.features[0], h + g) and torch.allclose(out.embedding, h)


def test_prior_switches_change_at_inputs():
    x = torch.randn(4, 3, H, W)  # 128×64: 8-row maps, so the ROI rows matter
    wide, narrow = person_mask(4, 0, 64), person_mask(4, 16, 48)  # same rows, different body columns
    other_rows = person_mask(4, shift=-16)

    def at_feats(variant, masks):
        torch.manual_seed(0)
        m = build(variant)
        return m(x, masks).aux["at_part_features"]

    assert torch.equal(at_feats("T2/uniform", narrow), at_feats("T2/uniform", other_rows))  # ignores the prior
    assert torch.equal(at_feats("T2/roi", wide), at_feats("T2/roi", narrow))  # ROI only: columns do not matter
    assert not torch.equal(at_feats("T2/roi", narrow), at_feats("T2/roi", other_rows))
    assert not torch.equal(at_feats("T2/mask_roi", wide), at_feats("T2/mask_roi", narrow))  # mask does
    # prior noise is applied in the training forward
    torch.manual_seed(3)
    noisy = build("T1/mpn", prior_noise=1.0)(x, narrow).aux
    assert not (torch.equal(noisy["prior_top"], torch.ones(4, dtype=torch.long))
                and torch.equal(noisy["prior_bot"], torch.full((4,), 7)))
    # keypoint priors need no masks
    kp = torch.zeros(4, 17, 3)
    kp[:, [0, 5, 6, 13, 14, 15, 16], :] = torch.tensor([[32, 40, 1], [32, 56, 1], [32, 56, 1], [32, 84, 1],
                                                        [32, 84, 1], [32, 100, 1], [32, 100, 1]], dtype=torch.float)
    aux = build("T2/roi", prior_source="keypoints")(x, None, kp).aux
    assert aux["prior_top"].tolist() == [1] * 4 and aux["prior_bot"].tolist() == [6] * 4


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="alignment"):
        MPNConfig(tasks="mt")
    with pytest.raises(ConfigError, match="prior='uniform'"):
        MPNConfig(tasks="at", alignment="none")
    with pytest.raises(ConfigError, match="keypoints"):
        MPNConfig(prior_source="keypoints")
    with pytest.raises(ConfigError, match="share_conv1=False"):
        MPNConfig(soft_share="conv1")
    with pytest.raises(ConfigError, match="prior_noise"):
        MPNConfig(prior_noise=1.5)
    with pytest.raises(ConfigError, match="'tasks'"):
        MPNConfig(tasks="both")
    with pytest.raises(ConfigError, match="unknown config key"):
        build_model("mpn", 4, {"share_conv3": True})
    with pytest.raises(KeyError, match="unknown MPN variant"):
        mpn_variant("T9/x")
    assert all(isinstance(mpn_variant(v), MPNConfig) for v in MPN_VARIANTS)
    with pytest.raises(ValueError, match="Batch.masks"):
        build("T1/mpn")(torch.randn(2, 3, H // 2, W // 2))


def test_recipe_optimiser_fits_one_batch():
    # §4 optimiser (SGD 0.01, momentum 0.9, Nesterov, wd 5e-4): a few steps on one batch must cut
    # every loss term, so the terms pull together rather than against each other
    m = build("T1/mpn")
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    b = make_batch()
    history = []
    for _ in range(8):
        losses = m.compute_losses(m(b.images, b.masks), b)
        history.append({k: v.item() for k, v in losses.items()})
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    first, last = history[0], history[-1]
    assert last["id"] < 0.5 * first["id"] and last["id_at"] < 0.5 * first["id_at"]
    assert last["align"] < first["align"] and last["triplet"] <= first["triplet"]
