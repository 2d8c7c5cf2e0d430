"""The gpu-synth profile: every gpu recipe as written, on synth-m at full width, fine-tuning a gpu-tier SynthReID-P
trunk instead of ImageNet's."""
from __future__ import annotations

import pytest

from partreid_core.config import to_dict
from partreid_core.experiments.config import list_recipes, recipe_path, resolve_config

RECIPES = list_recipes("gpu")


def test_gpu_synth_reuses_the_gpu_recipes():
    assert RECIPES and list_recipes("gpu-synth") == RECIPES
    assert all(recipe_path(r, "gpu-synth") == recipe_path(r, "gpu") for r in RECIPES)


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_gpu_recipe_resolves_with_the_gpu_recipe_and_a_synth_trunk(recipe):
    synth, gpu = resolve_config(recipe, "gpu-synth"), resolve_config(recipe, "gpu")
    assert synth.profile == "gpu-synth" and synth.recipe == gpu.recipe == recipe
    # optimiser, schedule, phases, length, sampler, augmentation, size, evaluation: all the gpu recipe's
    for part in ("optim", "schedule", "eval"):
        assert to_dict(getattr(synth, part)) == to_dict(getattr(gpu, part)), part
    assert to_dict(synth.train) == to_dict(gpu.train)
    assert to_dict(synth.data) == to_dict(gpu.data) and synth.data.dataset == "synth-m"
    assert (synth.model, synth.analysis, synth.experiment) == (gpu.model, gpu.analysis, gpu.experiment)
    bb_synth, bb_gpu = synth.model_overrides["backbone"], gpu.model_overrides["backbone"]
    assert bb_synth["pretrained"] == "synth" and bb_gpu["pretrained"] is True
    assert {k: v for k, v in bb_synth.items() if k != "pretrained"} == {k: v for k, v in bb_gpu.items()
                                                                         if k != "pretrained"}
    assert bb_synth["width"] == 1.0
    rest = (lambda mo: {k: v for k, v in mo.items() if k != "backbone"})  # noqa: E731
    assert rest(synth.model_overrides) == rest(gpu.model_overrides)     # heads, loss weights, MPN's IDE stage


@pytest.mark.parametrize("recipe, backbone", [("pal_globalpool", "resnet50"), ("plr_osnet", "osnet_x1_0")])
def test_a_missing_trunk_names_the_pretrain_command(recipe, backbone, tmp_path, monkeypatch):
    from partreid_core.models import build_model

    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path))
    cfg = resolve_config(recipe, "gpu-synth")
    with pytest.raises(FileNotFoundError, match=f"partreid pretrain --backbone {backbone} --width 1 --profile gpu"):
        build_model(cfg.model, 10, cfg.model_overrides)
