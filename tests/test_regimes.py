"""The two regimes of the study: ``partreid sweep --profile cpu-ft`` writes under ``results/fine-tuned``, and the
claims, the at-a-glance table and the chapters judge each regime on its own records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from partreid_core.cli import main
from partreid_core.config import ConfigError
from partreid_core.experiments.config import resolve_config
from partreid_core.experiments.sweep import load_sweep, plan, profile_regime, sweep_regime, with_profile

SWEEPS = Path(__file__).resolve().parents[1] / "partreid_core" / "experiments" / "sweeps"


# --------------------------------------------------------------------------------------------------- sweeps
def test_profiles_and_their_regimes():
    assert {p: profile_regime(p) for p in ("smoke", "cpu", "cpu-ft", "gpu")} == {
        "smoke": "scratch", "cpu": "scratch", "cpu-ft": "fine-tuned", "gpu": "scratch"}
    sw = load_sweep(SWEEPS / "pal" / "p1_globalpool.yaml")
    assert sweep_regime([sw]) == "scratch" and sweep_regime(with_profile([sw], "cpu-ft")) == "fine-tuned"
    with pytest.raises(ConfigError, match="mix regimes"):
        sweep_regime([sw, *with_profile([sw], "cpu-ft")])
    with pytest.raises(ConfigError, match="unknown profile"):
        with_profile([sw], "cpu-fast")


def test_sweep_profile_cpu_ft_plans_the_papers_recipe_into_fine_tuned(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)   # the default records root is ./results
    file = SWEEPS / "pal" / "p1_globalpool.yaml"
    assert main(["sweep", str(file), "--profile", "cpu-ft", "--dry-run", "--only", "globalpool_ps"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert [line.split()[1] for line in lines if line] == [f"results/fine-tuned/pal-globalpool/globalpool_ps-s{s}"
                                                             for s in range(5)]
    assert all(line.startswith("planned") for line in lines if line)
    # the scratch grid of the same file keeps the records root
    assert main(["sweep", str(file), "--dry-run", "--only", "globalpool", "--seeds", "0"]) == 0
    assert capsys.readouterr().out.split() == ["planned", "results/pal-globalpool/globalpool-s0"]
    # what those runs would train: the cpu-ft profile and the paper's optimiser, not the scratch recalibration
    (sw,) = with_profile([load_sweep(file)], "cpu-ft")
    (_, cfg), = plan(sw, only=["globalpool_ps"], seeds=[0])
    paper, scratch = resolve_config("pal_globalpool", "cpu-ft"), resolve_config("pal_globalpool", "cpu")
    assert cfg.profile == "cpu-ft" and cfg.model_overrides["backbone"]["pretrained"] == "synth"
    assert (cfg.optim, cfg.schedule, cfg.train.epochs) == (paper.optim, paper.schedule, paper.train.epochs)
    assert cfg.optim.lr != scratch.optim.lr
    assert cfg.experiment == "pal-globalpool" and cfg.model == "globalpool_ps"


def test_a_cpu_ft_sweep_records_regime_and_trunk(tmp_path, monkeypatch, capsys):
    from partreid_core.models.backbones import resnet50, trunk_path
    from partreid_core.models.backbones.synth_trunks import file_sha256

    for var in ("PARTREID_WEIGHTS", "PARTREID_CHECKPOINTS", "PARTREID_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    trunk = trunk_path("resnet50", 0.25)
    trunk.parent.mkdir(parents=True)
    torch.save({"state_dict": resnet50(width=0.25).state_dict(), "meta": {"profile": "cpu"}}, trunk)
    sweep = {"experiment": "tiny", "recipe": "pal_globalpool", "profile": "cpu", "seeds": [0],
             "set": {"data": {"dataset": "synth-tiny", "size": [64, 32], "batch_size": 16},
                     "train": {"epochs": 1, "iters_per_epoch": 2, "progress": False}, "eval": {"rerank": False},
                     "analysis": []}}
    file = tmp_path / "tiny.yaml"
    file.write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(file), "--profile", "cpu-ft"]) == 0
    assert capsys.readouterr().out.split() == ["trained", "results/fine-tuned/tiny/default-s0"]
    meta = json.loads((tmp_path / "results/fine-tuned/tiny/default-s0/config.json").read_text())
    assert meta["regime"] == "fine-tuned" and meta["config"]["profile"] == "cpu-ft"
    assert meta["pretrained_trunk"] == {"name": trunk.name, "sha256": file_sha256(trunk), "source": "synth"}
    assert not (tmp_path / "results/tiny").exists()
