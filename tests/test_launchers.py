"""Sweep launchers: one job per grid point that skips finished runs and publishes its record atomically."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from partreid_core.cli import build_parser, main
from partreid_core.engine import records
from partreid_core.engine.config import config_to_dict
from partreid_core.experiments import launchers
from partreid_core.experiments.config import resolve_config
from partreid_core.experiments.launchers import LauncherConfig, from_args, run_point, submit_points
from partreid_core.experiments.sweep import load_sweep, run_sweep


def _cfg(run="a-s0"):
    return resolve_config("pal_globalpool", "smoke", {"experiment": "exp", "run": run})


def _fake_train(calls):
    def train(cfg, out, resume, variant, **kw):
        calls.append((cfg.run_name, out, resume, variant, kw))
        path = records.run_dir(out, cfg.experiment, cfg.run_name)
        records.write_config(path, config_to_dict(cfg), {"variant": variant})
        records.write_metrics(path, {"rank1": 50.0})
    return train


def test_run_point_trains_publishes_and_then_skips(tmp_path):
    calls = []
    cfg = config_to_dict(_cfg())
    assert run_point(cfg, str(tmp_path), "a", {"device": "cpu"}, train_fn=_fake_train(calls)) == "trained"
    final = tmp_path / "exp" / "a-s0"
    assert records.is_complete(final)
    assert json.loads((final / "config.json").read_text())["variant"] == "a"
    # trained elsewhere (staging), resumable, with the sweep's train kwargs
    assert calls[0][1] != str(tmp_path) and calls[0][2] is True and calls[0][4] == {"device": "cpu"}
    assert not (tmp_path / ".staging").exists()  # nothing left behind
    assert run_point(cfg, str(tmp_path), "a", train_fn=_fake_train(calls)) == "exists"
    assert len(calls) == 1


def test_run_point_replaces_an_incomplete_record_and_cleans_up_after_a_failure(tmp_path):
    final = tmp_path / "exp" / "a-s0"
    final.mkdir(parents=True)
    (final / "config.json").write_text("{}")  # a crashed run: no metrics.json
    assert run_point(config_to_dict(_cfg()), str(tmp_path), "a", train_fn=_fake_train([])) == "trained"
    assert records.is_complete(final) and "variant" in json.loads((final / "config.json").read_text())

    def boom(cfg, out, **kw):
        records.write_config(records.run_dir(out, cfg.experiment, cfg.run_name), {}, {})
        raise FloatingPointError("nan loss")

    with pytest.raises(FloatingPointError):
        run_point(config_to_dict(_cfg("b-s0")), str(tmp_path), "b", train_fn=boom)
    assert not (tmp_path / "exp" / "b-s0").exists() and not (tmp_path / ".staging").exists()


class _InlineExecutor:
    """Runs submitted jobs at once in this process (what submitit's executors do elsewhere)."""

    def __init__(self, train_fn):
        self.train_fn, self.submitted, self.n = train_fn, [], 0

    def batch(self):
        import contextlib
        return contextlib.nullcontext()

    def submit(self, fn, *args):
        self.submitted.append(args)
        self.n += 1
        job_id, train_fn = str(self.n), self.train_fn

        class Job:
            def __init__(self):
                self.job_id = job_id

            def result(self):
                return fn(*args, train_fn=train_fn)
        return Job()


def test_sweep_sends_only_unfinished_points_to_the_launcher(tmp_path, monkeypatch):
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(yaml.safe_dump({"experiment": "exp", "recipe": "pal_globalpool", "profile": "smoke",
                                          "seeds": [0, 1], "variants": {"a": {}, "b": {"optim": {"lr": 0.1}}}}))
    done = _fake_train([])
    done(_cfg("a-s0"), str(tmp_path / "res"), True, "a")
    calls = []
    ex = _InlineExecutor(_fake_train(calls))
    monkeypatch.setattr(launchers, "make_executor", lambda launcher: ex)
    status = run_sweep(load_sweep(sweep_file), out=tmp_path / "res", launcher=LauncherConfig(name="submitit"),
                       device="cpu")
    by_path = {Path(s["path"]).name: s["status"] for s in status}
    assert by_path == {"a-s0": "exists", "a-s1": "trained", "b-s0": "trained", "b-s1": "trained"}
    assert len(ex.submitted) == 3 and sorted(c[0] for c in calls) == ["a-s1", "b-s0", "b-s1"]
    assert all(records.is_complete(tmp_path / "res" / "exp" / r) for r in by_path)
    lr_b = json.loads((tmp_path / "res" / "exp" / "b-s0" / "config.json").read_text())["config"]["optim"]["lr"]
    assert lr_b == 0.1
    # not waiting: the status is the job id
    ex2 = _InlineExecutor(_fake_train([]))
    rows = submit_points([({"path": "x"}, "c", _cfg("c-s0"))], tmp_path / "res", LauncherConfig("submitit", wait=False),
                         executor=ex2)
    assert rows == [{"path": "x", "status": "submitted: 1"}]


def test_slurm_command_line():
    args = build_parser().parse_args(["sweep", "s.yaml", "--launcher", "submitit", "--slurm-partition", "gpu",
                                      "--slurm-gpus-per-node", "1", "--slurm-cpus-per-task", "16",
                                      "--slurm-timeout-min", "600", "--slurm-account", "reid"])
    lc = from_args(args)
    assert (lc.name, lc.cluster, lc.partition, lc.gpus_per_node, lc.cpus_per_task, lc.timeout_min, lc.account) == \
        ("submitit", "slurm", "gpu", 1, 16, 600, "reid")
    assert from_args(build_parser().parse_args(["sweep", "s.yaml"])) is None  # local: the runner's own processes
    with pytest.raises(ValueError, match="launcher"):
        LauncherConfig(name="kubernetes")


@pytest.mark.heavy
def test_submitit_local_executor_smoke_sweep(tmp_path, capsys):
    pytest.importorskip("submitit")
    sweep_file = tmp_path / "smoke.yaml"
    sweep_file.write_text(yaml.safe_dump({"experiment": "cluster-smoke", "recipe": "pal_globalpool",
                                          "profile": "smoke", "seeds": [0, 1],
                                          "set": {"train.epochs": 1, "train.iters_per_epoch": 1}}))
    argv = ["sweep", str(sweep_file), "--out", str(tmp_path / "res"), "--device", "cpu", "--launcher", "submitit",
            "--slurm-cluster", "local", "--slurm-folder", str(tmp_path / "jobs" / "%j"), "--slurm-timeout-min", "10"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("trained") == 2, out
    for seed in (0, 1):
        run = tmp_path / "res" / "cluster-smoke" / f"default-s{seed}"
        assert records.is_complete(run)
        assert json.loads((run / "config.json").read_text())["config"]["train"]["iters_per_epoch"] == 1
    assert not (tmp_path / "res" / ".staging").exists()
    assert any((tmp_path / "jobs").iterdir())  # submitit's job folders: the jobs really ran as subprocesses
    assert main(argv) == 0  # a second sweep finds every record and submits nothing
    assert capsys.readouterr().out.count("exists") == 2


def test_slurm_executor_writes_the_sbatch_options(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")  # submitit only checks that srun exists
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{__import__('os').environ['PATH']}")
    lc = from_args(build_parser().parse_args(
        ["sweep", "s.yaml", "--launcher", "submitit", "--slurm-partition", "gpu", "--slurm-gpus-per-node", "1",
         "--slurm-account", "reid", "--slurm-mem-gb", "64", "--slurm-folder", str(tmp_path / "jobs" / "%j")]))
    script = launchers.make_executor(lc)._executor._make_submission_file_text("python -c 1", "uid")
    for line in ("--partition=gpu", "--gpus-per-node=1", "--account=reid", "--mem=64GB", "--cpus-per-task=8",
                 "--time=1440", "--nodes=1"):
        assert f"#SBATCH {line}" in script
