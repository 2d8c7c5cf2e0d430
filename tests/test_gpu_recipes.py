"""The paper-scale (gpu) recipes: ImageNet by default, MPN's IDE stage and x5 translation, the smaller fixes,
and the cpu/smoke profiles left as their records were made. Configs are resolved, not trained, except in
the two tiny smoke checks."""
from __future__ import annotations

import json

import pytest
import torch

from partreid_core.config import ConfigError
from partreid_core.data.augment import ErasingConfig, sample_erasing
from partreid_core.data.translate import TranslateConfig, shift_images, translate_split, translation_shifts
from partreid_core.data.types import IGNORE_INDEX, SplitTensors
from partreid_core.experiments.config import list_recipes, parse_set, resolve_config
from partreid_core.models import build_model
from partreid_core.models.backbones import BackboneConfig, build_backbone, pretrained_provenance
from partreid_core.models.backbones.resnet import Bottleneck
from partreid_core.models.backbones.weights import file_sha256
from partreid_core.models.registry import model_config

GPU = list_recipes("gpu")


def _backbone(cfg) -> BackboneConfig:
    mc = model_config(cfg.model, cfg.model_overrides)
    return mc.backbone


# --- 1. ImageNet by default -------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", GPU)
def test_gpu_recipes_are_pretrained_and_the_switch_turns_it_off(recipe):
    cfg = resolve_config(recipe, "gpu")
    bb = _backbone(cfg)
    assert bb.pretrained is True and bb.zero_init_residual is False and bb.width == 1.0
    off = resolve_config(recipe, "gpu", overrides=parse_set(["model_overrides.backbone.pretrained=false"]))
    assert _backbone(off).pretrained is False


@pytest.mark.parametrize("profile", ["cpu", "smoke"])
def test_cpu_and_smoke_recipes_stay_from_scratch(profile):
    for recipe in list_recipes(profile):
        cfg = resolve_config(recipe, profile)
        bb = _backbone(cfg)
        assert bb.pretrained is False and bb.zero_init_residual is True, recipe
        assert cfg.eval.amp == "train" and cfg.data.translate.copies == 1, recipe


def test_missing_imagenet_weights_list_every_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError) as e:
        build_backbone(BackboneConfig(pretrained=True))
    msg = str(e.value)
    for name in ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth", "resnet50-19c8e357.pth"):
        assert str(tmp_path / name) in msg and str(tmp_path / "hub" / "checkpoints" / name) in msg


def test_provenance_names_the_imagenet_file_and_its_hash(tmp_path, monkeypatch):
    torch.save(build_backbone(BackboneConfig()).state_dict(), tmp_path / "resnet50-0676ba61.pth")
    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path))
    digest = file_sha256(tmp_path / "resnet50-0676ba61.pth")
    model = build_model("mgn", 10, {"backbone": {"pretrained": True}})  # MGN clones layer3/4 per branch
    assert pretrained_provenance(model) == f"imagenet:resnet50-0676ba61.pth sha256:{digest}"
    assert pretrained_provenance(build_model("mgn", 10, {"backbone": {"width": 0.25}})) == "none"


def test_zero_init_residual_is_an_option():
    on = build_backbone(BackboneConfig(width=0.25))
    off = build_backbone(BackboneConfig(width=0.25, zero_init_residual=False))
    assert all(float(m.bn3.weight.detach().abs().sum()) == 0 for m in on.modules() if isinstance(m, Bottleneck))
    assert all(bool((m.bn3.weight == 1).all()) for m in off.modules() if isinstance(m, Bottleneck))


def test_smoke_record_says_which_trunk(tmp_path):
    from partreid_core.experiments.runs import train_experiment

    cfg = resolve_config("pal_globalpool", "smoke", overrides={"train": {"epochs": 1, "iters_per_epoch": 1},
                                                               "analysis": []})
    res = train_experiment(cfg, out=tmp_path, device="cpu")
    meta = json.loads((res.path / "config.json").read_text())
    text = json.dumps(meta)
    assert '"pretrained_trunk": null' in text and '"regime": "scratch"' in text
    assert '"eval_precision": "float32"' in text


# --- 2. MPN as the paper trains it -------------------------------------------------------------------


def test_mpn_gpu_recipe_has_the_ide_stage_translation_and_fixed_masks():
    cfg = resolve_config("mpn", "gpu", dataset="market1501", seed=3)
    assert cfg.data.erasing.p == 0.5 and cfg.data.erasing.erase_masks is False
    assert cfg.data.erasing.aspect_sampling == "uniform"
    assert (cfg.data.translate.copies, cfg.data.translate.max_shift) == (5, 0.05)
    mc = model_config(cfg.model, cfg.model_overrides)
    assert mc.init_from == "run:mpn_ide/globalpool-market1501-s3"
    assert mc.loss.triplet_weight == 0.5
    ide = resolve_config("mpn_ide", "gpu", dataset="market1501", seed=3)
    # the IDE run's checkpoint is where MPN's init_from looks
    assert f"run:{ide.experiment}/{ide.run_name}" == mc.init_from
    # ... which the trainer turns into that run's checkpoint under the records root being written
    from partreid_core.engine.trainer import checkpoint_path, resolve_init_from
    assert resolve_init_from(cfg, "results")["init_from"] == str(checkpoint_path(ide, "results"))
    ide_mc = model_config(ide.model, ide.model_overrides)
    assert ide_mc.pool == "avg" and ide_mc.backbone.last_stride == 1 and ide_mc.loss.triplet_weight == 0
    assert ide.data.size == (384, 128) and ide.optim.lr_mult == {"head": 10.0}
    # the cpu recipe is as its records were trained
    cpu = resolve_config("mpn", "cpu")
    assert cpu.data.translate.copies == 1 and cpu.data.erasing.erase_masks is True
    assert model_config("mpn", cpu.model_overrides).init_from == ""


def test_init_from_placeholder_errors_name_the_known_ones():
    with pytest.raises(ConfigError, match="unknown placeholder"):
        resolve_config("mpn", "gpu", overrides={"model_overrides": {"init_from": "x/{run}.pt"}})


def test_mpn_init_from_loads_the_ide_trunk(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTREID_CHECKPOINTS", str(tmp_path))
    ide = build_model("globalpool", 7, {"backbone": {"width": 0.25}, "pool": "avg"})
    (tmp_path / "ide").mkdir()
    torch.save({"model": ide.state_dict(), "epoch": 1}, tmp_path / "ide" / "last.pt")
    # a relative path is looked up under $PARTREID_CHECKPOINTS
    mpn = build_model("mpn", 7, {"backbone": {"width": 0.25}, "init_from": "ide/last.pt"})
    for (k, a), b in zip(ide.backbone.state_dict().items(), mpn.backbone.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    prov = pretrained_provenance(mpn)
    assert prov.startswith(f"ide:{tmp_path / 'ide' / 'last.pt'} sha256:")
    with pytest.raises(FileNotFoundError, match="mpn_ide"):
        build_model("mpn", 7, {"backbone": {"width": 0.25}, "init_from": "nope/last.pt"})
    with pytest.raises(RuntimeError, match="does not fit"):
        build_model("mpn", 7, {"backbone": {"width": 0.5}, "init_from": "ide/last.pt"})


def test_mpn_triplet_at_half_weight_is_the_papers_cosine_term():
    torch.manual_seed(0)
    h = torch.randn(24, 16)
    y = torch.arange(6).repeat_interleave(4)
    gpu = build_model("mpn", 6, resolve_config("mpn", "gpu").model_overrides | {"backbone": {"width": 0.25},
                                                                                "init_from": ""})
    code = gpu.triplet_loss(h, y)
    hn = torch.nn.functional.normalize(h, dim=1)
    d = 1 - hn @ hn.t()  # the paper's cosine distance, alpha = 0.2
    same = y[:, None] == y[None, :]
    d_ap = d.masked_fill(~same, -1).amax(1)
    d_an = d.masked_fill(same, 3).amin(1)
    hinge = (d_ap - d_an + 0.2).clamp_min(0)
    paper = hinge.sum() / (hinge > 0).sum()
    assert float(0.5 * code) == pytest.approx(float(paper), rel=1e-5)
    assert gpu.loss_cfg.triplet_weight * float(code) == pytest.approx(float(paper), rel=1e-5)


def _marked_split(n: int = 6, h: int = 40, w: int = 20) -> SplitTensors:
    images = torch.zeros(n, 3, h, w, dtype=torch.uint8)
    masks = torch.zeros(n, h, w, dtype=torch.uint8)
    kps = torch.zeros(n, 17, 3)
    for i in range(n):
        images[i, :, 20, 10] = 200 + i  # one marked pixel, labelled part 3, with a keypoint on it
        masks[i, 20, 10] = 3
        kps[i, 0] = torch.tensor([10.0, 20.0, 1.0])
    masks[n - 1] = IGNORE_INDEX  # an image without a part label
    return SplitTensors(images, torch.arange(n), torch.zeros(n, dtype=torch.long), masks, kps)


def test_translation_moves_images_masks_and_keypoints_together():
    split = _marked_split()
    out = translate_split(split, TranslateConfig(copies=5, max_shift=0.05))
    n = len(split)
    assert len(out) == 5 * n and torch.equal(out.pids, split.pids.repeat(5))
    assert torch.equal(out.images[:n], split.images) and torch.equal(out.masks[:n], split.masks)  # copy 0
    moved = 0
    for c in range(1, 5):
        shifts = translation_shifts(n, c, (40, 20), 0.05)
        assert shifts[:, 0].abs().max() <= 2 and shifts[:, 1].abs().max() <= 1  # 5 % of 40 x 20
        for i in range(n):
            dy, dx = shifts[i].tolist()
            row = c * n + i
            assert int(out.images[row, 0, 20 + dy, 10 + dx]) == 200 + i
            assert int(out.images[row].sum()) == 3 * (200 + i)  # nothing else appears
            assert out.keypoints[row, 0].tolist() == [10.0 + dx, 20.0 + dy, 1.0]
            if i < n - 1:
                assert int(out.masks[row, 20 + dy, 10 + dx]) == 3 and int(out.masks[row].sum()) == 3
            moved += (dy, dx) != (0, 0)
    assert moved > 0
    assert bool((out.masks[n - 1::n] == IGNORE_INDEX).all())  # unlabelled stays unlabelled


def test_translation_is_deterministic_per_index_and_copy():
    a = translation_shifts(10, 2, (384, 128), 0.05)
    b = translation_shifts(1000, 2, (384, 128), 0.05)
    assert torch.equal(a, b[:10]) and torch.equal(a, translation_shifts(10, 2, (384, 128), 0.05))
    assert not torch.equal(a, translation_shifts(10, 3, (384, 128), 0.05))
    assert torch.equal(translation_shifts(7, 0, (384, 128), 0.05), torch.zeros(7, 2, dtype=torch.long))
    big = translation_shifts(5000, 1, (384, 128), 0.05)
    assert set(big[:, 0].tolist()) == set(range(-19, 20)) and set(big[:, 1].tolist()) == set(range(-6, 7))


def test_translated_masks_give_the_translated_prior():
    from partreid_core.models.mpn_priors import prior_from_masks

    torch.manual_seed(0)
    masks = torch.zeros(1, 96, 32, dtype=torch.uint8)
    masks[0, 10:20, 10:20] = 1   # head
    masks[0, 20:60, 8:24] = 2    # torso
    masks[0, 60:90, 10:22] = 6   # lower legs
    images = torch.zeros(1, 3, 96, 32, dtype=torch.uint8)
    _, down, _ = shift_images(images, masks, None, torch.tensor([[4, 0]]))
    p0 = prior_from_masks(masks.long(), (24, 8))
    p1 = prior_from_masks(down.long(), (24, 8))
    assert bool(p0.valid.all()) and bool(p1.valid.all())
    assert float(p1.top[0]) == float(p0.top[0]) + 1 and float(p1.bot[0]) == float(p0.bot[0]) + 1  # 4 px = 1 row


# --- 4. the smaller items ----------------------------------------------------------------------------


def test_gpu_evaluation_is_fp32_and_training_precision_is_per_recipe():
    for recipe in GPU:
        cfg = resolve_config(recipe, "gpu")
        assert cfg.eval.amp == "off" and cfg.train.amp in ("off", "bf16", "fp16"), recipe
    assert resolve_config("pal_mgn", "cpu").train.amp == "bf16"  # cpu: bf16 as its records


def test_aspect_sampling_distributions():
    n = 20000
    ratios = {}
    for mode in ("log", "uniform"):
        cfg = ErasingConfig(p=1.0, area=(0.001, 0.0011), attempts=1, aspect_sampling=mode)
        _, _, _, eh, ew = sample_erasing(n, 2000, 2000, cfg, torch.Generator().manual_seed(0), "cpu")
        ratios[mode] = (eh.float() / ew.float())
    # log-uniform: P(r > 1) = 1/2; uniform on [0.3, 3.33]: (3.33 - 1) / (3.33 - 0.3) = 0.77
    assert float((ratios["log"] > 1).float().mean()) == pytest.approx(0.5, abs=0.02)
    assert float((ratios["uniform"] > 1).float().mean()) == pytest.approx(0.769, abs=0.02)
    assert float(ratios["uniform"].mean()) == pytest.approx((0.3 + 1 / 0.3) / 2, rel=0.03)
    with pytest.raises(ConfigError):
        ErasingConfig(aspect_sampling="normal")
    assert resolve_config("plr_osnet", "gpu").data.erasing.aspect_sampling == "uniform"
    assert resolve_config("plr_osnet", "cpu").data.erasing.aspect_sampling == "log"


def test_pal_mgn_cosine_and_pal_osnet_without_flip():
    mgn = resolve_config("pal_mgn", "gpu")
    assert mgn.eval.metric == "cosine" and mgn.eval.flip is True
    assert resolve_config("pal_mgn", "cpu").eval.metric == "euclidean"
    osn = resolve_config("pal_osnet", "gpu")
    assert osn.eval.flip is False and osn.train.freeze_backbone_epochs == 10


def test_pal_osnet_fc_is_frozen_in_the_classifier_only_epochs():
    from partreid_core.engine.trainer import _frozen_params

    cfg = resolve_config("pal_osnet", "gpu", overrides=parse_set(["model_overrides.backbone.pretrained=false"]))
    model = build_model(cfg.model, 5, cfg.model_overrides)
    frozen = {id(p) for p in _frozen_params(model, cfg, 0)}
    assert all(id(p) in frozen for p in model.fc.parameters())
    assert all(id(p) in frozen for p in model.backbone.parameters())
    assert not any(id(p) in frozen for p in model.classifier.parameters())
    assert _frozen_params(model, cfg, 10) == []
    # as before without the switch: fc trains with the classifier
    plain = build_model(cfg.model, 5, {**cfg.model_overrides, "fc_in_backbone_group": False})
    assert not any(id(p) in {id(q) for q in _frozen_params(plain, cfg, 0)} for p in plain.fc.parameters())


def test_pal_pooling_rule_for_the_osnet_rows():
    cfg = resolve_config("pal_globalpool", "gpu", overrides=parse_set(["model_overrides.backbone.pretrained=false"]))
    resnet = build_model(cfg.model, 5, cfg.model_overrides)
    osnet = build_model(cfg.model, 5, {**cfg.model_overrides, "backbone": {"name": "osnet_x0_25", "pretrained": False}})
    ps = build_model("globalpool_ps", 5, {**cfg.model_overrides, "backbone": {"name": "osnet_x0_25",
                                                                             "pretrained": False}})
    assert resnet.pool.mode == "max" and osnet.pool.mode == "avg" and ps.base.pool.mode == "avg"
    cpu = resolve_config("pal_globalpool", "cpu")
    assert model_config("globalpool", cpu.model_overrides).pool == "max"


@pytest.mark.heavy
def test_two_stage_mpn_smoke(tmp_path, monkeypatch):
    """mpn_ide then mpn at the gpu recipes (tiny width, size and batch, 2 iterations): MPN finds the IDE
    checkpoint through its init_from template and its record names that file."""
    from partreid_core.experiments.runs import train_experiment

    monkeypatch.setenv("PARTREID_CHECKPOINTS", str(tmp_path / "ckpt"))
    tiny = parse_set(["model_overrides.backbone.pretrained=false", "model_overrides.backbone.width=0.25",
                      "data.size=[64,32]", "train.epochs=1", "train.iters_per_epoch=2", "data.p=4", "data.k=2",
                      "data.batch_size=8", "eval.rerank=false", "train.amp=off", "train.progress=false",
                      "analysis=[]"])
    train_experiment(resolve_config("mpn_ide", "gpu", dataset="synth-tiny", overrides=tiny), out=tmp_path,
                     device="cpu")
    res = train_experiment(resolve_config("mpn", "gpu", dataset="synth-tiny", overrides=tiny), out=tmp_path,
                           device="cpu")
    meta = json.loads((res.path / "config.json").read_text())
    from partreid_core.engine.trainer import checkpoint_path
    ide = checkpoint_path(resolve_config("mpn_ide", "gpu", dataset="synth-tiny", overrides=tiny), tmp_path)
    assert meta["pretrained_trunk"] == {"name": ide.name, "sha256": file_sha256(ide), "source": "ide"}
    assert meta["regime"] == "fine-tuned"
    assert res.metrics["mAP"] >= 0


def test_a_gpu_checkpoint_loads_without_its_initial_weight_files(tmp_path, monkeypatch):
    """The state dict replaces every weight: evaluating a gpu checkpoint needs neither the ImageNet file nor
    MPN's IDE checkpoint."""
    from partreid_core.engine.config import config_to_dict
    from partreid_core.experiments.robustness import load_trained

    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cfg = resolve_config("mpn", "gpu", overrides=parse_set(["model_overrides.backbone.width=0.25"]))
    assert _backbone(cfg).pretrained is True and cfg.model_overrides["init_from"]
    model = build_model("mpn", 5, {**cfg.model_overrides, "backbone": {"width": 0.25}, "init_from": ""})
    torch.save({"config": config_to_dict(cfg), "num_classes": 5, "model": model.state_dict()}, tmp_path / "last.pt")
    loaded, _ = load_trained(tmp_path / "last.pt", torch.device("cpu"))
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
