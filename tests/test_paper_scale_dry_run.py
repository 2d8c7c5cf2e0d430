"""Dry run of the paper-scale path: every ``gpu`` recipe trains, evaluates and writes a record on CPU.

Each recipe runs exactly as ``partreid train --recipe <r> --profile gpu`` would, at full width and the paper's input
size, with three things shrunk so it fits a CPU: the data set (``synth-tiny``), the batch (P x K = 4 x 2, or 8 random
images) and the schedule (one epoch of two iterations, no evaluation before the final one). What it keeps alive is
everything a GPU user would otherwise find broken only after the queue: recipe keys, model construction at width 1.0,
the recipe's sampler / augmentation / losses / update scheme at 256x128 or 384x128, re-ranked evaluation, the analysis
hooks and the record.

ImageNet weights are never present here: the run passes ``model_overrides.backbone.pretrained=false`` explicitly, which
is what the ``gpu`` profile asks of a from-scratch run whether or not it defaults to ImageNet weights. MPN starts from
the dry run's own IDE stage, as its paper does: ``mpn_ide`` runs first and ``mpn``'s ``init_from`` names its checkpoint.

Measured with ``OMP_NUM_THREADS=1`` on two cores that three other trainings and test runs shared (load average
6-11), so wall times are upper bounds: the eight recipes before MPN's IDE stage existed took about 10 minutes of CPU
time on one thread (peak RSS 6.3 GB; wall, same conditions: CGPN 1008 s, the first to run, which also rendered
synth-tiny at 384x128; MPN 427 s, MGN 357 s, RMGL 306 s, GlobalPool 103 s, PCB 73 s, OSNet 43 s, PLR-OSNet 30 s);
``mpn_ide`` then ``mpn`` (from that IDE checkpoint, x5 translated split) took 127 s of CPU time together. The budget
is 10 minutes for all recipes on 2 cores.
"""
from __future__ import annotations

import json
import math

import pytest

from partreid_core.cli import main
from partreid_core.engine.trainer import checkpoint_path
from partreid_core.experiments.config import list_recipes, resolve_config

pytestmark = pytest.mark.heavy

#: the shrunk parts of the run (everything else is the gpu recipe as written)
DRY_SETS = ["train.epochs=1", "train.iters_per_epoch=2", "train.progress=false", "eval.every=0",
            "data.p=4", "data.k=2", "data.batch_size=8", "model_overrides.backbone.pretrained=false"]


def _stages_first(recipes: list[str]) -> list[str]:
    """A recipe that initialises another (``mpn_ide`` -> ``mpn``) runs before it."""
    return sorted(recipes, key=lambda r: (r.removesuffix("_ide"), not r.endswith("_ide")))


def _init_from(recipe: str) -> str:
    """MPN starts from its IDE stage: the dry run's own IDE checkpoint when that ran first, else nothing
    (``init_from=''``, the recipe's documented switch; the two-stage path is also tested at smoke width)."""
    if not resolve_config(recipe, "gpu").model_overrides.get("init_from"):
        return ""
    try:
        ide = checkpoint_path(resolve_config(f"{recipe}_ide", "gpu", {"experiment": "dry", "run": f"{recipe}_ide"}))
    except FileNotFoundError:  # no IDE recipe for it
        return ""
    return str(ide) if ide.is_file() else ""


@pytest.mark.parametrize("recipe", _stages_first(list_recipes("gpu")))
def test_gpu_recipe_dry_run(recipe, tmp_path, capsys):
    paper = resolve_config(recipe, "gpu")
    sets = [a for s in DRY_SETS for a in ("--set", s)]
    init = _init_from(recipe) if paper.model_overrides.get("init_from") else ""
    if paper.model_overrides.get("init_from"):
        sets += ["--set", f"model_overrides.init_from='{init}'"]
    rc = main(["train", "--recipe", recipe, "--profile", "gpu", "--dataset", "synth-tiny", "--device", "cpu",
               "--experiment", "dry", "--run", recipe, "--out", str(tmp_path), *sets])
    assert rc == 0
    run = tmp_path / "dry" / recipe
    assert (run / "metrics.json").is_file(), capsys.readouterr().out[-2000:]
    rec = json.loads((run / "config.json").read_text())
    cfg = rec["config"]
    # the paper's scale is what ran: full width, the recipe's input size, its model
    assert cfg["profile"] == "gpu" and cfg["model"] == paper.model
    assert list(cfg["data"]["size"]) == list(paper.data.size) and max(paper.data.size) >= 256
    assert cfg["model_overrides"]["backbone"]["width"] == 1.0
    assert cfg["model_overrides"]["backbone"]["pretrained"] is False
    assert cfg["train"]["iters_per_epoch"] == 2 and cfg["data"]["dataset"] == "synth-tiny"
    if init:  # MPN started from the dry run's IDE stage, and its record says so
        assert rec["pretrained_trunk"].startswith("ide:")
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("rank1", "mAP", "mINP"):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 100.0
    if paper.eval.rerank:  # the gpu profile re-ranks the final evaluation
        assert "rr_mAP" in metrics
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 2  # header + the one epoch
    header, row = history[0].split(","), history[1].split(",")
    loss = float(row[header.index("loss")])
    assert math.isfinite(loss) and loss > 0
