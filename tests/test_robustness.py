"""A trained model evaluated under SynthReID knob levels (the calibration and robustness curves)."""
import json

import pandas as pd
import pytest
import torch

from partreid_core.data import build_dataset
from partreid_core.engine.trainer import checkpoint_path
from partreid_core.experiments.config import resolve_config
from partreid_core.experiments.robustness import evaluate_under_knob, load_trained
from partreid_core.experiments.runs import train_experiment


def test_knob_levels_keep_the_same_test_people():
    easy = build_dataset("synth-tiny", misalignment=0.0, cache=False)
    hard = build_dataset("synth-tiny", misalignment=1.0, cache=False)
    for split in ("query", "gallery"):
        assert [(s.pid, s.camid) for s in easy.manifest(split)] == [(s.pid, s.camid) for s in hard.manifest(split)]


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*last.pt"):
        load_trained(tmp_path / "last.pt", torch.device("cpu"))


@pytest.mark.heavy
def test_evaluate_under_knob_writes_a_record(tmp_path):
    cfg = resolve_config("pal_globalpool", "smoke", {"train": {"checkpoint_dir": str(tmp_path / "ck")},
                                                     "experiment": "k", "run": "gp"})
    train_experiment(cfg, out=tmp_path / "results", device="cpu")
    ckpt = checkpoint_path(cfg, tmp_path / "results")
    table = evaluate_under_knob(ckpt, "misalignment", [0.0, 1.0], device="cpu", out=tmp_path / "rec")
    assert list(table["level"]) == [0.0, 1.0] and table["rank1"].between(0, 100).all()
    assert pd.read_csv(tmp_path / "rec" / "knobs.csv").shape[0] == 2
    meta = json.loads((tmp_path / "rec" / "config.json").read_text())
    assert meta["knob"] == "misalignment" and meta["git_commit"] and meta["config"]["model"] == "globalpool"
