"""Run records: write, round-trip through load_records / load_history, and the sweep runner's skipping."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_engine import TEST_DATA, TEST_MODEL  # noqa: F401  (registers the stand-ins)

from partreid_core.config import ConfigError
from partreid_core.engine import records
from partreid_core.experiments.sweep import load_sweep, plan, run_sweep


def _sweep_file(tmp_path, seeds=(0, 1)):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"model: {TEST_MODEL}\noptim: {{lr: 0.05}}\n")
    f = tmp_path / "sweep.yaml"
    f.write_text(f"""
experiment: tiny-sweep
recipe: {recipe}
profile: smoke
dataset: {TEST_DATA}
seeds: {list(seeds)}
set:
  train.checkpoint_dir: {tmp_path / 'ckpt'}
  data.size: [32, 16]
  eval: {{rerank: true}}
variants:
  flip: {{}}
  noflip: {{data: {{flip_p: 0.0}}}}
""")
    return f


def test_sweep_runs_the_grid_then_skips_existing_records(tmp_path):
    sw = load_sweep(_sweep_file(tmp_path))
    grid = plan(sw)
    assert [(v, c.seed, c.run_name) for v, c in grid] == [
        ("flip", 0, "flip-s0"), ("flip", 1, "flip-s1"), ("noflip", 0, "noflip-s0"), ("noflip", 1, "noflip-s1")]
    assert grid[2][1].data.flip_p == 0.0 and grid[0][1].data.flip_p == 0.5 and grid[0][1].data.size == (32, 16)
    out = tmp_path / "results"
    status = run_sweep(sw, out=out, device="cpu")
    assert [s["status"] for s in status] == ["trained"] * 4

    def must_not_train(*a, **k):
        raise AssertionError("an existing record was retrained")

    assert [s["status"] for s in run_sweep(sw, out=out, train_fn=must_not_train)] == ["exists"] * 4

    df = records.load_records(out)
    assert len(df) == 4 and set(df["variant"]) == {"flip", "noflip"} and sorted(df["seed"]) == [0, 0, 1, 1]
    assert set(df["cfg.data.flip_p"]) == {0.0, 0.5}
    row = df[df.run == "flip-s0"].iloc[0]
    metrics = json.loads((out / "tiny-sweep" / "flip-s0" / "metrics.json").read_text())
    for k, v in metrics.items():
        assert row[k] == pytest.approx(v)
    assert {"rank1", "mAP", "mAP_trapezoid", "mINP", "rr_rank1", "rr_mAP"} <= set(df.columns)
    meta = json.loads((out / "tiny-sweep" / "flip-s0" / "config.json").read_text())
    assert {"config", "seed", "git_commit", "device", "versions", "date", "wall_time_s"} <= set(meta)
    assert meta["config"]["model"] == TEST_MODEL and meta["versions"]["torch"]
    hist = records.load_history(out / "tiny-sweep" / "flip-s0")
    assert list(hist["epoch"]) == [1, 2] and {"loss", "loss/id", "loss/triplet", "lr", "images_per_s"} <= set(hist)
    assert np.isnan(hist["rank1"].iloc[0]) and hist["rank1"].iloc[-1] == pytest.approx(metrics["rank1"])


def test_incomplete_runs_are_not_records(tmp_path):
    (tmp_path / "exp" / "broken").mkdir(parents=True)
    (tmp_path / "exp" / "broken" / "config.json").write_text("{}")
    assert records.load_records(tmp_path).empty
    assert records.load_records(tmp_path / "missing").empty


def test_analysis_round_trip_and_size_limit(tmp_path):
    arrays = {"part_similarity/matrix": np.eye(3, dtype=np.float32)}
    records.write_analysis(tmp_path, arrays)
    back = records.load_analysis(tmp_path)
    assert np.array_equal(back["part_similarity/matrix"], arrays["part_similarity/matrix"])
    with pytest.raises(ValueError, match="analysis arrays take .* MB"):
        records.write_analysis(tmp_path, {"big": np.zeros(3 * 2**20, dtype=np.float32)}, max_mb=8)


def test_history_union_of_columns(tmp_path):
    records.write_history(tmp_path, [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0, "rank1": 50.0}])
    df = pd.read_csv(tmp_path / "history.csv")
    assert list(df.columns) == ["epoch", "loss", "rank1"] and np.isnan(df.rank1[0]) and df.rank1[1] == 50.0


def test_sweep_file_requires_experiment_and_rejects_unknown_keys(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("recipe: rmgl\n")
    with pytest.raises(ConfigError, match="'experiment' is required"):
        load_sweep(f)
    f.write_text("experiment: x\nseed: [1]\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'seed'.*did you mean 'seeds'"):
        load_sweep(f)


def test_sweep_reports_a_failed_run_and_goes_on(tmp_path):
    sw = load_sweep(_sweep_file(tmp_path))
    calls = []

    def flaky(cfg, **kw):
        calls.append(cfg.run_name)
        if cfg.run_name == "flip-s1":
            raise RuntimeError("non-finite loss at epoch 1, step 2: term 'id' = nan")

    status = run_sweep(sw, out=tmp_path / "r", train_fn=flaky)
    assert calls == ["flip-s0", "flip-s1", "noflip-s0", "noflip-s1"]
    assert status[1]["status"].startswith("failed: non-finite loss") and status[3]["status"] == "trained"


def test_sweep_only_runs_the_named_variants_and_rejects_unknown_ones(tmp_path):
    sw = load_sweep(_sweep_file(tmp_path))
    calls = []
    status = run_sweep(sw, out=tmp_path / "r", train_fn=lambda cfg, **kw: calls.append(cfg.run_name),
                       only=["noflip"])
    assert calls == ["noflip-s0", "noflip-s1"] and [s["variant"] for s in status] == ["noflip", "noflip"]
    with pytest.raises(ConfigError, match=r"no variant 'nofilp' in tiny-sweep; the variants: flip, noflip"):
        run_sweep(sw, out=tmp_path / "r", train_fn=lambda cfg, **kw: None, only=["nofilp"])


def test_sweep_seeds_runs_a_subset_of_the_grid_seeds(tmp_path):
    sw = load_sweep(_sweep_file(tmp_path))
    calls = []
    run_sweep(sw, out=tmp_path / "r", train_fn=lambda cfg, **kw: calls.append(cfg.run_name), seeds=[1])
    assert calls == ["flip-s1", "noflip-s1"]
    with pytest.raises(ConfigError, match=r"seed\(s\) \[5\] are not in the grid; its seeds: \[0, 1\]"):
        run_sweep(sw, out=tmp_path / "r", train_fn=lambda cfg, **kw: None, seeds=[5])


@pytest.mark.heavy
def test_sweep_with_two_worker_processes(tmp_path):
    f = tmp_path / "par.yaml"
    f.write_text("experiment: par\nrecipe: pal_globalpool\nprofile: smoke\nseeds: [0, 1]\n"
                 "set: {train.epochs: 1}\n")
    status = run_sweep(load_sweep(f), out=tmp_path / "r", workers=2, device="cpu")
    assert [s["status"] for s in status] == ["trained", "trained"]
    df = records.load_records(tmp_path / "r")
    assert sorted(df["seed"]) == [0, 1] and df["rank1"].notna().all()


def test_results_root_finds_the_checkout_from_a_subfolder(tmp_path, monkeypatch):
    from partreid_core.engine.records import results_root

    monkeypatch.delenv("PARTREID_RESULTS", raising=False)
    (tmp_path / "partreid_core").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    assert results_root(tmp_path / "notebooks") == (tmp_path / "results").resolve()
    monkeypatch.setenv("PARTREID_RESULTS", "/elsewhere")
    assert str(results_root(tmp_path)) == "/elsewhere"
