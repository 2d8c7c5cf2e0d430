"""The cpu-ft profile: each paper's recipe as written, only its length scaled, fine-tuning a SynthReID-P trunk."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest
import torch

from partreid_core.config import to_dict
from partreid_core.experiments.config import list_recipes, resolve_config

RECIPES = list_recipes("gpu")


def _pair(recipe: str):
    return resolve_config(recipe, "cpu-ft"), resolve_config(recipe, "gpu")


def _frac(x, epochs) -> Fraction:
    return Fraction(str(x)) / epochs


def test_every_gpu_recipe_has_a_cpu_ft_one():
    assert RECIPES and list_recipes("cpu-ft") == RECIPES


@pytest.mark.parametrize("recipe", RECIPES)
def test_optimiser_is_the_papers(recipe):
    ft, gpu = _pair(recipe)
    keys = ("name", "lr", "momentum", "nesterov", "weight_decay", "betas", "lr_mult", "decay_norm_and_bias")
    assert {k: getattr(ft.optim, k) for k in keys} == {k: getattr(gpu.optim, k) for k in keys}
    assert ft.train.update == gpu.train.update
    assert [(p.terms, p.lr) for p in ft.train.phases] == [(p.terms, p.lr) for p in gpu.train.phases]


@pytest.mark.parametrize("recipe", RECIPES)
def test_schedule_points_are_the_same_fractions_of_training(recipe):
    ft, gpu = _pair(recipe)
    E, G = ft.train.epochs, gpu.train.epochs
    assert E < G and ft.train.iters_per_epoch
    assert len(ft.schedule.milestones) == len(gpu.schedule.milestones)
    assert [_frac(m, E) for m in ft.schedule.milestones] == [_frac(m, G) for m in gpu.schedule.milestones]
    assert _frac(ft.schedule.warmup_epochs, E) == pytest.approx(_frac(gpu.schedule.warmup_epochs, G), abs=1e-9)
    assert _frac(ft.train.freeze_backbone_epochs, E) == _frac(gpu.train.freeze_backbone_epochs, G)
    for k in ("warmup", "warmup_start", "warmup_per", "decay", "gamma", "min_factor"):
        assert getattr(ft.schedule, k) == getattr(gpu.schedule, k), k


@pytest.mark.parametrize("recipe", RECIPES)
def test_losses_augmentations_and_sampler_are_the_papers(recipe):
    ft, gpu = _pair(recipe)
    assert ft.model == gpu.model and ft.analysis == gpu.analysis
    strip = lambda mo: {k: v for k, v in mo.items() if k not in ("backbone", "init_from")}  # noqa: E731
    assert strip(ft.model_overrides) == strip(gpu.model_overrides)   # loss weights, heads
    # MPN's IDE stage: both start from their own profile's IDE run of the same data set and seed
    init_ft, init_gpu = ft.model_overrides.get("init_from", ""), gpu.model_overrides.get("init_from", "")
    assert bool(init_ft) == bool(init_gpu)
    if init_ft:
        ide = resolve_config("mpn_ide", "cpu-ft", seed=ft.seed)
        assert init_ft == f"run:{ide.experiment}/{ide.run_name}"
    a, b = to_dict(ft.data), to_dict(gpu.data)
    for k in ("sampler", "k", "epoch", "flip_p", "pad", "rsa", "erasing", "style", "batch_size"):
        assert a[k] == b[k], k
    assert ft.data.p <= gpu.data.p   # a smaller P is allowed, the same K
    assert (ft.eval.metric, ft.eval.flip) == (gpu.eval.metric, gpu.eval.flip)


@pytest.mark.parametrize("recipe", RECIPES)
def test_cpu_data_widths_and_synth_trunk(recipe):
    # MPN's IDE stage has no cpu recipe: its trunk is the GlobalPool one (ResNet-50 at the cpu width)
    ft, cpu = resolve_config(recipe, "cpu-ft"), resolve_config({"mpn_ide": "pal_globalpool"}.get(recipe, recipe), "cpu")
    assert ft.experiment == f"{recipe}-ft" != cpu.experiment   # records never land in the scratch regime's folders
    assert (ft.data.dataset, tuple(ft.data.size)) == (cpu.data.dataset, tuple(cpu.data.size)) == ("synth-s", (128, 64))
    bb_ft, bb_cpu = ft.model_overrides["backbone"], cpu.model_overrides["backbone"]
    assert bb_ft["pretrained"] == "synth" and not bb_cpu.get("pretrained", False)
    assert (bb_ft.get("name"), bb_ft["width"]) == (bb_cpu.get("name"), bb_cpu["width"])
    assert ft.train.amp == cpu.train.amp


def test_missing_trunk_names_the_command(tmp_path, monkeypatch):
    from partreid_core.models import build_model

    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path))
    cfg = resolve_config("plr_osnet", "cpu-ft")
    with pytest.raises(FileNotFoundError, match="partreid pretrain --backbone osnet_x0_25 --width 1 --profile cpu"):
        build_model(cfg.model, 10, cfg.model_overrides)


def test_a_cpu_ft_run_records_regime_and_trunk(tmp_path, monkeypatch):
    from partreid_core.engine.records import load_records
    from partreid_core.experiments.runs import train_experiment
    from partreid_core.models.backbones import resnet50, trunk_path
    from partreid_core.models.backbones.synth_trunks import file_sha256

    for var in ("PARTREID_WEIGHTS", "PARTREID_CHECKPOINTS", "PARTREID_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    path = trunk_path("resnet50", 0.25)
    path.parent.mkdir(parents=True)
    trunk = resnet50(width=0.25)
    torch.manual_seed(1)
    torch.nn.init.normal_(trunk.conv1.weight)
    torch.save({"state_dict": trunk.state_dict(), "meta": {"profile": "cpu"}}, path)
    small = {"data": {"dataset": "synth-tiny", "size": [64, 32], "batch_size": 16},
             "train": {"epochs": 1, "iters_per_epoch": 2, "progress": False}, "eval": {"rerank": False}, "analysis": []}
    out = tmp_path / "results"
    res = train_experiment(resolve_config("pal_globalpool", "cpu-ft", small), out=out)
    meta = json.loads((res.path / "config.json").read_text())
    assert meta["regime"] == "fine-tuned"
    assert meta["pretrained_trunk"] == {"name": "synthp-resnet50-w0.25.pt", "sha256": file_sha256(path),
                                        "source": "synth"}
    scratch = train_experiment(resolve_config("pal_globalpool", "cpu", small, experiment="scratch"), out=out)
    assert json.loads((scratch.path / "config.json").read_text())["regime"] == "scratch"
    recs = load_records(out).set_index("experiment")
    assert recs.loc["pal_globalpool-ft", "regime"] == "fine-tuned" and recs.loc["scratch", "regime"] == "scratch"
    assert recs.loc["pal_globalpool-ft", "pretrained_trunk_sha256"] == file_sha256(path)


@pytest.fixture(scope="module")
def marked_trunks(tmp_path_factory):
    """A trunk file per cpu-ft backbone whose stem conv holds recognisable values."""
    from partreid_core.models.backbones import resnet50
    from partreid_core.models.backbones.osnet import osnet
    from partreid_core.models.backbones.synth_trunks import trunk_name

    folder = tmp_path_factory.mktemp("weights")
    stems = {}
    for arch, width, net in (("resnet50", 0.25, resnet50(width=0.25)), ("osnet_x0_25", 1.0, osnet("osnet_x0_25"))):
        state = net.state_dict()
        key = next(k for k in state if k.endswith("weight") and state[k].dim() == 4)
        state[key] = torch.arange(state[key].numel(), dtype=torch.float32).reshape(state[key].shape) / 1000
        torch.save({"state_dict": state}, folder / trunk_name(arch, width))
        stems[arch] = state[key]
    return folder, stems


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_cpu_ft_model_starts_from_the_trunk(recipe, marked_trunks, monkeypatch):
    from partreid_core.models import build_model

    folder, stems = marked_trunks
    monkeypatch.setenv("PARTREID_WEIGHTS", str(folder))
    cfg = resolve_config(recipe, "cpu-ft")
    # MPN then loads its IDE stage's trunk (init_from), itself fine-tuned from this one: leave that stage out here
    model = build_model(cfg.model, 20, {**cfg.model_overrides, **({"init_from": ""} if cfg.model == "mpn" else {})})
    stem = stems[cfg.model_overrides["backbone"].get("name", "resnet50")]
    assert any(p.shape == stem.shape and torch.equal(p.detach(), stem) for p in model.parameters())
