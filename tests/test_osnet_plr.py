"""OSNet backbone, OSNet baseline and PLR-OSNet against spec plr_osnet.md §2 (PLR-M1, PLR-T4..T7)."""
import pytest
import torch
import torch.nn.functional as F

from partreid_core.config import ConfigError
from partreid_core.data.types import Batch
from partreid_core.losses import CenterLoss, TripletLoss
from partreid_core.models import build_model
from partreid_core.models.backbones import BACKBONES, BackboneConfig, build_backbone, split_blocks
from partreid_core.models.backbones.osnet import OSNet
from partreid_core.models.complexity import count_flops, count_parameters, module_table, torchreid_complexity
from partreid_core.models.plr_osnet import ChannelAttention, SpatialAttention

TINY = {"backbone": {"name": "osnet_x0_25"}}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # these graphs are tiny and op-bound: one intra-op thread avoids barrier waits on the shared 2 cores
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
NUM_CLASSES = 5


def nparams(module) -> int:
    return sum(p.numel() for p in module.parameters())


def pk_batch(p: int = 4, k: int = 2, size=(64, 32)) -> Batch:
    labels = torch.arange(p).repeat_interleave(k)
    return Batch(images=torch.randn(p * k, 3, *size), labels=labels, camids=torch.zeros(p * k, dtype=torch.long))


# ----------------------------------------------------------------------------- OSNet backbone
def test_osnet_variants_registered_with_stage_params_and_shapes():
    assert {"osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25"} <= set(BACKBONES.names())
    m = build_backbone(BackboneConfig(name="osnet_x1_0")).eval()
    # spec §2.2 parameter table
    assert [nparams(getattr(m, s)) for s in ("conv1", "conv2", "conv3", "conv4", "conv5")] == \
        [9_536, 234_632, 592_332, 806_160, 263_168]
    assert nparams(m) == 1_905_828 and m.out_channels == 512
    shapes, x = [], torch.randn(1, 3, 256, 128)
    with torch.no_grad():
        for name, block in m.blocks():
            x = block(x)
            shapes.append((name, tuple(x.shape[1:])))
    assert shapes == [("stem", (64, 64, 32)), ("conv2.0", (256, 64, 32)), ("conv2.1", (256, 64, 32)),
                      ("conv2.2", (256, 32, 16)), ("conv3.0", (384, 32, 16)), ("conv3.1", (384, 32, 16)),
                      ("conv3.2", (384, 16, 8)), ("conv4.0", (512, 16, 8)), ("conv4.1", (512, 16, 8)),
                      ("conv5", (512, 16, 8))]


def test_osnet_width_multiplier_reproduces_published_widths():
    for arch, width, chans in [("osnet_x0_75", 1.0, (48, 192, 288, 384)), ("osnet_x0_5", 1.0, (32, 128, 192, 256)),
                               ("osnet_x1_0", 0.25, (16, 64, 96, 128)), ("osnet_x1_0", 0.5, (32, 128, 192, 256))]:
        assert build_backbone(BackboneConfig(name=arch, width=width)).channels == chans
    a = build_backbone(BackboneConfig(name="osnet_x1_0", width=0.25)).state_dict()
    b = build_backbone(BackboneConfig(name="osnet_x0_25")).state_dict()
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}
    with pytest.raises(ValueError, match="last_stride must be 1"):
        build_backbone(BackboneConfig(name="osnet_x0_25", last_stride=2))


def test_osnet_blocks_split_matches_forward():
    m = build_backbone(BackboneConfig(name="osnet_x0_25")).eval()
    trunk, tail = split_blocks(m.blocks(), "conv4.0")
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        assert torch.allclose(tail(trunk(x)), m(x), atol=1e-6)
    # every block name except the stem is the module's own path (the torchreid name)
    modules = dict(m.named_modules())
    assert all(modules[n] is b for n, b in m.blocks()[1:])


def test_osnet_torchreid_parameter_names_and_checkpoint_loading(tmp_path, monkeypatch):
    m = build_backbone(BackboneConfig(name="osnet_x0_25"))
    sd = m.state_dict()
    # torchreid names: ConvLayer/Conv1x1 .conv/.bn, LightConv3x3 .conv1/.conv2(depthwise)/.bn,
    # one shared gate per OSBlock (.gate.fc1/.fc2 with bias), transition = stage index 2
    expected = {
        "conv1.conv.weight": (16, 3, 7, 7), "conv1.bn.running_var": (16,),
        "conv2.0.conv1.conv.weight": (16, 16, 1, 1), "conv2.0.conv2a.conv1.weight": (16, 16, 1, 1),
        "conv2.0.conv2d.3.conv2.weight": (16, 1, 3, 3), "conv2.0.gate.fc1.weight": (1, 16, 1, 1),
        "conv2.0.gate.fc2.bias": (16,), "conv2.0.conv3.bn.weight": (64,),
        "conv2.0.downsample.conv.weight": (64, 16, 1, 1), "conv2.2.0.conv.weight": (64, 64, 1, 1),
        "conv3.2.0.bn.bias": (96,), "conv4.1.conv2c.2.bn.num_batches_tracked": (),
        "conv5.conv.weight": (128, 128, 1, 1),
    }
    assert {k: tuple(sd[k].shape) for k in expected} == expected
    assert not any(k.startswith(("conv2.1.downsample", "conv4.2", "fc.", "classifier.")) for k in sd)
    assert sum(".gate." in k for k in sd) == 6 * 4  # 6 OSBlocks x (fc1, fc2) x (weight, bias)
    # a torchreid ImageNet checkpoint (with its ImageNet fc + classifier) loads strictly otherwise
    ref = build_backbone(BackboneConfig(name="osnet_x0_25")).state_dict()
    ckpt = dict(ref, **{"fc.0.weight": torch.zeros(512, 128), "classifier.weight": torch.zeros(1000, 512)})
    torch.save(ckpt, tmp_path / "osnet_x0_25_imagenet.pth")
    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path))
    loaded = build_backbone(BackboneConfig(name="osnet_x0_25", pretrained=True))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in ref.items())
    with pytest.raises(ValueError, match="width=1.0"):
        build_backbone(BackboneConfig(name="osnet_x0_25", width=0.5, pretrained=True))
    with pytest.raises(FileNotFoundError, match=r"osnet_x0_5_imagenet\.pth"):
        build_backbone(BackboneConfig(name="osnet_x0_5", pretrained=True))
    torch.save({k: v for k, v in ref.items() if not k.startswith("conv5")}, tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match="does not match osnet_x0_25"):
        build_backbone(BackboneConfig(name="osnet_x0_25", pretrained=str(tmp_path / "bad.pth")))


def test_osnet_data_parallel_checkpoint_with_head_loads(tmp_path):
    ref = build_backbone(BackboneConfig(name="osnet_x0_25")).state_dict()
    ckpt = {f"module.{k}": v for k, v in ref.items()}
    ckpt["module.classifier.weight"] = torch.zeros(1000, 512)
    torch.save(ckpt, tmp_path / "dp.pth")
    loaded = build_backbone(BackboneConfig(name="osnet_x0_25", pretrained=str(tmp_path / "dp.pth")))
    assert torch.equal(loaded.conv5.conv.weight, ref["conv5.conv.weight"])


# ----------------------------------------------------------------------------- OSNet baseline
def test_osnet_baseline_counts_match_osnet_paper_and_flops_once():
    m = build_model("osnet", 751)
    assert m.feat_dim == 512
    assert count_parameters(m, input_size=(64, 32)) == 2_169_508          # unique, classifier excluded
    assert count_parameters(m, inference_only=False) == 2_169_508 + 513 * 751
    params, macs = torchreid_complexity(m, (256, 128))
    assert (params, macs) == (2_193_616, 978_878_352)                      # OSNet paper "2.2M / 978.9M"
    by_op = count_flops(m, (256, 128), by_op=True)
    # FlopCounterMode ignores bias adds: the gates' 1x1 convs with bias and fc's bias make up the gap
    assert by_op["addmm"] == 512 * 512 and abs(sum(by_op.values()) - macs) < 5_000


def test_osnet_baseline_training_output_and_losses():
    m = build_model("osnet", NUM_CLASSES, {**TINY, "feature_dim": 64}).train()
    b = pk_batch()
    out = m(b.images)
    assert [tuple(z.shape) for z in out.logits] == [(8, NUM_CLASSES)]
    assert [tuple(f.shape) for f in out.features] == [(8, 64)] and out.embedding.shape == (8, 64)
    assert out.aux["feature_map"].shape == (8, 128, 4, 2) and "part_features" not in out.aux
    losses = m.compute_losses(out, b)
    assert set(losses) == {"id", "triplet", "center"}
    assert torch.allclose(losses["center"], 5e-4 * m.center(out.features[0], b.labels))
    m.eval()
    with torch.no_grad():
        assert m(b.images).shape == (8, 64)


# ----------------------------------------------------------------------------- PLR-OSNet
def test_plr_parameter_inventory_x1_0():
    m = build_model("plr_osnet", 751)
    inventory = {"conv1": 9_536, "conv2": 234_632, "att2": 25_425, "conv3": 592_332, "att3": 56_569,
                 "local_conv4": 806_160, "local_conv5": 263_168, "global_conv4": 806_160, "global_conv5": 263_168,
                 "fc2": 262_656, "local_bn": 4_096, "global_bn": 1_024,
                 "local_classifier": 1_538_799, "global_classifier": 385_263}
    assert {k: nparams(getattr(m, k)) for k in inventory} == inventory
    assert nparams(m.att2.sam) == 16_961 and nparams(m.att2.cam) == 8_464
    assert m.feat_dim == 2560
    assert count_parameters(m, inference_only=False) == 5_248_988                # Market, with classifiers
    assert count_parameters(m, input_size=(64, 32)) == 3_324_926                 # unique, no classifiers
    assert torchreid_complexity(m, (128, 64)) == (3_362_136, 283_699_920)        # the paper's "3.4M"
    for n, total in [(702, 5_123_450), (767, 5_289_980)]:                        # Duke, CUHK03
        assert count_parameters(build_model("plr_osnet", n), inference_only=False) == total


def test_plr_module_table_matches_spec_inventory():
    df = module_table(build_model("plr_osnet", 751), (64, 32))
    assert list(df.index[:6]) == ["conv1", "maxpool", "conv2", "att2", "conv3", "att3"]
    assert df.loc["att3", "params"] == 56_569 and df.loc["att3", "output_shape"] == "384x4x2"
    assert df.loc["local_classifier", "params"] == 1_538_799 and df.loc["local_classifier", "params_at_test"] == 0
    assert df["params_at_test"].sum() == 3_324_926 and "id_loss" not in df.index


@pytest.mark.parametrize("arch,unique,torchreid_params", [
    ("osnet_x0_75", 1_893_502, 1_914_494), ("osnet_x0_5", 862_400, 872_364), ("osnet_x0_25", 231_136, 233_810)])
def test_plr_reduced_width_counts(arch, unique, torchreid_params):
    m = build_model("plr_osnet", 751, {"backbone": {"name": arch}})
    assert count_parameters(m, input_size=(64, 32)) == unique
    assert torchreid_complexity(m, (64, 32))[0] == torchreid_params


def test_plr_sam_bmm_macs_by_hand():
    m = build_model("plr_osnet", 751, TINY)
    # 128x64 input: SAM(64) at 16x8 (N=128), SAM(96) at 8x4 (N=32); q.k costs N*N*C/8, x.A costs C*N*N
    expected = 128 * 128 * 8 + 64 * 128 * 128 + 32 * 32 * 12 + 96 * 32 * 32
    assert count_flops(m, (128, 64), by_op=True)["bmm"] == expected
    assert torchreid_complexity(m, (128, 64))[1] == 23_152_688                   # spec §2.5 table, x0.25


def test_plr_training_and_eval_outputs():
    m = build_model("plr_osnet", NUM_CLASSES, TINY).train()
    b = pk_batch()
    out = m(b.images)
    assert [tuple(z.shape) for z in out.logits] == [(8, NUM_CLASSES)] * 2
    assert [tuple(f.shape) for f in out.features] == [(8, 512), (8, 128)]  # g = 4 x 128, h = 128
    assert out.embedding.shape == (8, 640) and m.feat_dim == 640
    assert out.aux["feature_map"].shape == (8, 128, 4, 2) and out.aux["part_features"].shape == (8, 4, 128)
    assert torch.equal(out.aux["part_features"].flatten(1), out.features[0])
    # stripe p is the average of rows [p*h/4, (p+1)*h/4) of the local conv5 map
    fl = out.aux["feature_map"]
    assert torch.allclose(out.aux["part_features"][:, 2], fl[:, :, 2:3].mean((2, 3)), atol=1e-6)
    assert torch.allclose(out.features[1], m.fc2(out.aux["global_feature_map"].amax((2, 3))), atol=1e-6)  # GMP
    m.eval()
    with torch.no_grad():
        e = m(b.images)
    assert e.shape == (8, 640)
    assert torch.allclose(e[:, :512].norm(dim=1), torch.ones(8), atol=1e-5)
    assert torch.allclose(e.norm(dim=1), torch.full((8,), 2 ** 0.5), atol=1e-5)


def test_plr_x1_0_eval_feature_2560():
    m = build_model("plr_osnet", 751).eval()
    with torch.no_grad():
        assert m(torch.randn(2, 3, 64, 32)).shape == (2, 2560)


def test_plr_losses_match_the_code_formula():
    m = build_model("plr_osnet", NUM_CLASSES, TINY).train()
    b = pk_batch()
    out = m(b.images)
    losses = m.compute_losses(out, b)
    ce = lambda z: F.cross_entropy(z, b.labels, label_smoothing=0.1)  # noqa: E731
    soft = TripletLoss(margin=None)
    (zl, zg), (g, h) = out.logits, out.features
    assert torch.allclose(losses["id"], 0.5 * (ce(zl) + ce(zg)))
    assert torch.allclose(losses["triplet"], 0.5 * (soft(g, b.labels) + soft(h, b.labels)))
    cen = lambda f, c: (f - c[b.labels]).pow(2).sum(1).mean()  # noqa: E731
    expected_center = 5e-4 * 0.5 * (cen(g, m.local_center.centers) + cen(h, m.global_center.centers))
    assert torch.allclose(losses["center"], expected_center)


def test_plr_gradients_reach_every_parameter():
    m = build_model("plr_osnet", NUM_CLASSES, TINY).train()
    b = pk_batch()
    sum(m.compute_losses(m(b.images), b).values()).backward()
    trainable = {n: p for n, p in m.named_parameters() if p.requires_grad}
    assert all(p.grad is not None for p in trainable.values())
    # SAM starts with gamma = 0, so its q/k convs and the BN scale after gamma get exactly zero
    # gradient on the first step (gamma itself gets one). The only other exact zeros allowed
    # are OSNet gates whose 1-unit hidden layer (x0.25: 16 // 16) happens to be dead for the batch.
    sam_q_k = {f"{a}.sam.{x}" for a in ("att2", "att3")
               for x in ("query_conv.weight", "query_conv.bias", "key_conv.weight", "key_conv.bias", "bn.weight")}
    zero = {n for n, p in trainable.items() if p.grad.abs().sum() == 0}
    assert sam_q_k <= zero
    assert all(".gate.fc" in n for n in zero - sam_q_k), zero - sam_q_k
    learn_now = ("att2.sam.gamma", "fc2.weight", "local_classifier.weight", "global_classifier.weight",
                 "local_bn.bias", "conv1.conv.weight")
    assert all(trainable[n].grad.abs().sum() > 0 for n in learn_now)
    m.zero_grad()
    for a in (m.att2, m.att3):
        a.sam.gamma.data.fill_(0.5)
    sum(m.compute_losses(m(b.images), b).values()).backward()
    assert all(trainable[n].grad.abs().sum() > 0 for n in sam_q_k)


def test_plr_classifiers_and_centers_are_not_in_the_eval_graph():
    m = build_model("plr_osnet", NUM_CLASSES, {**TINY, "center_learnable": True})
    x = torch.randn(2, 3, 64, 32)
    m.eval()
    with torch.no_grad():
        ref = m(x)
        for mod in (m.local_classifier, m.global_classifier, m.local_center, m.global_center):
            for p in mod.parameters():
                p.fill_(float("nan"))
        assert torch.equal(m(x), ref)
    train_only = sum(nparams(getattr(m, k)) for k in ("local_classifier", "global_classifier",
                                                       "local_center", "global_center"))
    assert count_parameters(m, input_size=(64, 32)) == nparams(m) - train_only
    assert "local_classifier" not in m.inference_modules() and "att2" in m.inference_modules()


def test_plr_ablation_switches():
    b = pk_batch()
    ce = lambda z: F.cross_entropy(z, b.labels, label_smoothing=0.1)  # noqa: E731

    # PLR-T4: no global branch -> local only, 2048-d at x1.0 (512 at x0.25), full-weight losses
    m = build_model("plr_osnet", NUM_CLASSES, {**TINY, "global_branch": False}).train()
    out = m(b.images)
    assert m.feat_dim == 512 and len(out.logits) == 1 and [f.shape[1] for f in out.features] == [512]
    assert torch.allclose(m.compute_losses(out, b)["id"], ce(out.logits[0]))
    assert not hasattr(m, "global_conv4")
    assert build_model("plr_osnet", 751, {"global_branch": False}).feat_dim == 2048

    # global only (not a paper variant): 512-d at x1.0, feature_map falls back to the global map
    m = build_model("plr_osnet", NUM_CLASSES, {**TINY, "local_branch": False}).train()
    out = m(b.images)
    assert m.feat_dim == 128 and "part_features" not in out.aux and out.aux["feature_map"].shape == (8, 128, 4, 2)
    assert build_model("plr_osnet", 751, {"local_branch": False}).feat_dim == 512

    # PLR-T5: multiple ID losses, one BN + classifier per stripe; local CE = mean (or sum) of stripe CEs
    for reduce in ("mean", "sum"):
        m = build_model("plr_osnet", NUM_CLASSES, {**TINY, "id_loss": "multiple", "multiple_id_reduce": reduce}).train()
        out = m(b.images)
        assert [tuple(z.shape) for z in out.logits] == [(8, NUM_CLASSES)] * 5 and m.feat_dim == 640
        local = torch.stack([ce(z) for z in out.logits[:4]])
        local = local.mean() if reduce == "mean" else local.sum()
        assert torch.allclose(m.compute_losses(out, b)["id"], 0.5 * (local + ce(out.logits[4])))
        assert len(m.local_classifier) == 4 and m.local_classifier[0].in_features == 128

    # PLR-T6: no attention
    m = build_model("plr_osnet", 751, {"attention": False})
    assert isinstance(m.att2, torch.nn.Identity) and isinstance(m.att3, torch.nn.Identity)
    assert count_parameters(m, input_size=(64, 32)) == 3_324_926 - 25_425 - 56_569
    assert torchreid_complexity(m, (64, 32))[0] == 3_280_144                    # spec §2.5

    # PLR-T7: hard margin 0.3 instead of the soft margin
    m = build_model("plr_osnet", NUM_CLASSES, {**TINY, "loss": {"triplet_margin": 0.3}}).train()
    out = m(b.images)
    hard = TripletLoss(margin=0.3)
    assert torch.allclose(m.compute_losses(out, b)["triplet"],
                          0.5 * (hard(out.features[0], b.labels) + hard(out.features[1], b.labels)))
    assert build_model("plr_osnet", NUM_CLASSES, TINY).triplet_loss.margin is None  # default: soft

    assert build_model("plr_osnet", NUM_CLASSES, {**TINY, "global_pool": "avg"}).global_pool.mode == "avg"


@pytest.mark.parametrize("overrides,match", [
    ({"global_branch": False, "local_branch": False}, "cannot both be False"),
    ({"id_loss": "several"}, "id_loss must be 'single' or 'multiple'"),
    ({"backbone": {"name": "resnet50"}}, "must be an OSNet variant"),
    ({"num_parts": 0}, "num_parts must be >= 1"),
    ({"globl_branch": False}, "did you mean 'global_branch'"),
])
def test_plr_bad_config_errors(overrides, match):
    with pytest.raises(ConfigError, match=match):
        build_model("plr_osnet", NUM_CLASSES, overrides)


def test_sam_and_cam_by_construction():
    sam = SpatialAttention(16).eval()
    x = torch.randn(2, 16, 4, 3)
    with torch.no_grad():
        assert torch.allclose(sam(x), x)                     # gamma = 0 and BN at init: identity
        sam.gamma.fill_(2.0)
        const = torch.randn(2, 16, 1, 1).expand(2, 16, 4, 3).contiguous()
        # attention rows sum to 1, so a spatially constant map is its own attention output
        assert torch.allclose(sam(const), sam.bn(2.0 * const) + const, atol=1e-5)
    cam = ChannelAttention(32)
    y = torch.randn(1, 32, 4, 3)
    y2 = y.clone()
    y2[0, :, 0, 0] += 1.0
    with torch.no_grad():
        d = (cam(y) - cam(y2)).abs().sum(1)[0]
    assert d[0, 0] > 0 and d.flatten()[1:].abs().max() == 0   # pixel-wise gate: no spatial mixing


def test_center_loss_fixed_seeded_buffer():
    a, b = CenterLoss(3, 2, learnable=False, seed=1), CenterLoss(3, 2, learnable=False, seed=1)
    assert torch.equal(a.centers, b.centers) and not list(a.parameters()) and "centers" in a.state_dict()
    a.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]))
    loss = a(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([0, 2]))
    assert torch.allclose(loss, torch.tensor((1.0 + 2.0) / 2))
    assert len(list(CenterLoss(3, 2, learnable=True).parameters())) == 1


def test_plr_is_an_osnet_split_with_duplicated_tails():
    m = build_model("plr_osnet", NUM_CLASSES, TINY)
    assert isinstance(build_backbone(BackboneConfig(name="osnet_x0_25")), OSNet)
    # both tails start equal (same init / same pretrained weights) but are separate tensors
    for (n1, p1), (_, p2) in zip(m.local_conv4.named_parameters(), m.global_conv4.named_parameters(), strict=True):
        assert torch.equal(p1, p2) and p1.data_ptr() != p2.data_ptr(), n1
