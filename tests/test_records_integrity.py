"""Records that cannot lie: each way a wrong number could reach results/ without an error, reproduced.

1. a resume under a changed config; 2. values in scientific notation and other types; 3. epochs or
iterations of 0; 4. two writers on one run; 5. a kill between a record's writes; and the folders that
cannot be written (read-only, full disk), unreadable checkpoints, the CLI's error line and help, and
``evaluate`` on odd input.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import socket
import subprocess
import sys
import typing
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
from test_engine import TEST_DATA, TEST_MODEL, tiny_config  # noqa: F401  (registers the stand-ins)

from partreid_core.config import ConfigError, from_dict
from partreid_core.engine import records, trainer
from partreid_core.engine.config import ExperimentConfig, TrainConfig
from partreid_core.engine.trainer import CheckpointError, checkpoint_path, train
from partreid_core.experiments.config import parse_set, resolve_config
from partreid_core.experiments.sweep import load_sweep, plan, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def _no_data(*a, **k):
    raise AssertionError("data was loaded although the run should have been refused first")


def _with(cfg: ExperimentConfig, **sections) -> ExperimentConfig:
    """``cfg`` with fields of its sections replaced: _with(cfg, optim={"lr": 0.001})."""
    return dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()})


# ---------------------------------------------------------------------------------------------
# 1. resume only the same config


def test_resume_under_a_changed_config_is_refused_and_restart_trains_it(tmp_path):
    cfg = tiny_config(tmp_path)
    out = tmp_path / "res"
    part = train(cfg, out=out, device="cpu", stop_after_epochs=1)
    assert len(part.history) == 1 and checkpoint_path(cfg, out).is_file()
    changed = _with(cfg, optim={"lr": 0.001})
    with pytest.raises(CheckpointError, match=r"optim\.lr: 0\.05 -> 0\.001.*--restart"):
        train(changed, out=out, device="cpu", resume=True)
    assert not (out / "t" / cfg.run_name / "metrics.json").exists()
    # the seed is part of a run's identity
    with pytest.raises(CheckpointError, match=r"seed: 3 -> 4"):
        train(dataclasses.replace(cfg, seed=4, run=cfg.run_name), out=out, device="cpu", resume=True)
    # --restart trains the new config from scratch: the numbers of a fresh run, its lr in the history
    restarted = train(changed, out=out, device="cpu", resume=True, restart=True)
    fresh = train(changed, out=tmp_path / "fresh", device="cpu")
    assert restarted.metrics == fresh.metrics
    assert [r["lr"] for r in restarted.history] == [r["lr"] for r in fresh.history]
    meta = json.loads((out / "t" / cfg.run_name / "config.json").read_text())
    assert meta["config"]["optim"]["lr"] == 0.001 and meta["config_hash"] == records.config_hash(meta["config"])


def test_the_config_hash_ignores_what_does_not_change_training():
    from partreid_core.engine.config import config_to_dict

    cfg = resolve_config("pal_globalpool", "smoke")
    h = records.config_hash(config_to_dict(cfg))
    same = [_with(cfg, train={"progress": False}), _with(cfg, eval={"every": 1, "rerank": False}),
            dataclasses.replace(cfg, analysis=["part_similarity"], experiment="elsewhere", run="x")]
    assert all(records.config_hash(config_to_dict(c)) == h for c in same)
    other = [_with(cfg, optim={"lr": 0.02}), dataclasses.replace(cfg, seed=1), _with(cfg, train={"epochs": 3}),
             _with(cfg, data={"flip_p": 0.0})]
    assert len({h, *(records.config_hash(config_to_dict(c)) for c in other)}) == 1 + len(other)
    assert records.config_diff(config_to_dict(cfg), config_to_dict(other[0])) == [f"optim.lr: {cfg.optim.lr} -> 0.02"]


def test_a_sweep_refuses_to_resume_a_changed_yaml(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"model: {TEST_MODEL}\n")
    sweep = tmp_path / "sweep.yaml"
    text = f"""
experiment: s
recipe: {recipe}
profile: smoke
dataset: {TEST_DATA}
set: {{data.size: [32, 16], optim.lr: LR, train.checkpoint_dir: {tmp_path / 'ck'}, eval.rerank: false}}
"""
    sweep.write_text(text.replace("LR", "1e-2"))
    ((_, cfg_old),) = plan(load_sweep(sweep))
    assert cfg_old.optim.lr == 0.01 and isinstance(cfg_old.optim.lr, float)  # YAML 1.1 reads 1e-2 as text
    train(cfg_old, out=tmp_path / "r", device="cpu", stop_after_epochs=1)  # a sweep killed after epoch 1
    sweep.write_text(text.replace("LR", "1e-3"))
    status = run_sweep(load_sweep(sweep), out=tmp_path / "r", device="cpu")
    assert status[0]["status"].startswith("failed") and "optim.lr: 0.01 -> 0.001" in status[0]["status"]
    assert not records.is_complete(tmp_path / "r" / "s" / "default-s0")
    status = run_sweep(load_sweep(sweep), out=tmp_path / "r", device="cpu", restart=True)
    assert status[0]["status"] == "trained"
    hist = records.load_history(tmp_path / "r" / "s" / "default-s0")
    assert hist["lr"].max() == pytest.approx(0.001)


def test_an_old_layout_checkpoint_moved_into_place_resumes_when_its_config_is_the_same(tmp_path):
    cfg = tiny_config(tmp_path)
    full = train(cfg, out=tmp_path / "full", device="cpu")
    out = tmp_path / "res"
    train(cfg, out=out, device="cpu", stop_after_epochs=1)
    ckpt = checkpoint_path(cfg, out)
    state = torch.load(ckpt, weights_only=False)
    del state["config_hash"]  # as the engine wrote checkpoints before config hashes
    torch.save(state, ckpt)
    resumed = train(cfg, out=out, device="cpu", resume=True)
    assert resumed.metrics == full.metrics
    state["config"]["optim"]["lr"] = 0.5
    torch.save(state, ckpt)
    with pytest.raises(CheckpointError, match=r"optim\.lr: 0\.5 -> 0\.05"):
        train(cfg, out=out, device="cpu", resume=True)


def test_unreadable_and_mismatched_checkpoints_are_named(tmp_path):
    cfg = tiny_config(tmp_path)
    out = tmp_path / "res"
    train(cfg, out=out, device="cpu", stop_after_epochs=1)
    ckpt = checkpoint_path(cfg, out)
    state = torch.load(ckpt, weights_only=False)
    state["num_classes"] += 1
    torch.save(state, ckpt)
    with pytest.raises(CheckpointError, match="training identities"):
        train(cfg, out=out, device="cpu", resume=True)
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # truncated
    with pytest.raises(CheckpointError, match="cannot be read.*truncated"):
        train(cfg, out=out, device="cpu", resume=True)
    with pytest.raises(CheckpointError, match="cannot be read"):
        trainer.load_resume_state(ckpt, cfg, torch.device("cpu"))


def test_two_records_roots_never_share_a_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path)
    a, b = checkpoint_path(cfg, tmp_path / "a" / "results"), checkpoint_path(cfg, tmp_path / "b" / "results")
    assert a != b and a.name == b.name == "last.pt" and a.parent.parent.name == b.parent.parent.name == "t"
    assert checkpoint_path(cfg, tmp_path / "a" / "results") == checkpoint_path(cfg, tmp_path / "a" / ".." / "a" /
                                                                               "results")


# ---------------------------------------------------------------------------------------------
# 2. typed values; 3. ranges


@dataclasses.dataclass
class _Typed:
    f: float = 0.1
    i: int = 1
    b: bool = False
    t: tuple[int, int] = (1, 2)
    ts: tuple[str, ...] = ()
    o: float | None = None
    mode: typing.Literal["a", "b"] = "a"


def test_values_are_coerced_to_their_field_types_or_rejected():
    got = from_dict(_Typed, {"f": "1e-3", "i": "3", "b": "true", "t": [4, 5], "ts": ["x"], "o": 2, "mode": "b"})
    assert (got.f, got.i, got.b, got.t, got.ts, got.o, got.mode) == (0.001, 3, True, (4, 5), ("x",), 2.0, "b")
    assert type(got.f) is float and type(got.o) is float and from_dict(_Typed, {"i": 2.0}).i == 2
    for key, value, expected in (("f", "abc", "expected float"), ("i", 2.5, "expected int"), ("b", "maybe", "bool"),
                                 ("t", [1, 2, 3], "2 values"), ("mode", "c", "one of"), ("i", True, "expected int"),
                                 ("o", "x", "float | None")):
        with pytest.raises(ConfigError, match=f"{key}.*{expected}"):
            from_dict(_Typed, {key: value})


def test_scientific_notation_and_bad_types_from_the_command_line():
    assert parse_set(["optim.lr=1e-3", "x.y=2E+2", "a.b=abc"]) == {"optim": {"lr": 0.001}, "x": {"y": 200.0},
                                                                   "a": {"b": "abc"}}
    cfg = resolve_config("pal_globalpool", "smoke", parse_set(["optim.lr=1e-3"]))
    assert cfg.optim.lr == 0.001 and type(cfg.optim.lr) is float
    with pytest.raises(ConfigError, match=r"train\.epochs: expected int, got 'abc'"):
        resolve_config("pal_globalpool", "smoke", parse_set(["train.epochs=abc"]))
    with pytest.raises(ConfigError, match=r"optim\.lr: expected float"):
        resolve_config("pal_globalpool", "smoke", {"optim": {"lr": [1]}})


@pytest.mark.parametrize("override, message", [
    ({"train": {"epochs": 0}}, "train.epochs must be >= 1"),
    ({"train": {"epochs": -2}}, "train.epochs must be >= 1"),
    ({"train": {"iters_per_epoch": 0}}, "train.iters_per_epoch must be >= 1"),
    ({"optim": {"lr": 0.0}}, "optim.lr must be > 0"),
    ({"data": {"flip_p": 1.5}}, "data.flip_p must be a probability"),
    ({"data": {"erasing": {"p": -0.1}}}, "data.erasing.p must be a probability"),
    ({"eval": {"metric": "manhattan"}}, "eval.metric must be one of"),
])
def test_out_of_range_values_are_rejected_when_the_config_is_built(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        resolve_config("pal_globalpool", "smoke", override)


def test_epochs_zero_never_writes_a_record(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    monkeypatch.setattr(trainer, "load_splits", _no_data)
    bad = tiny_config(tmp_path, model_overrides={"no_such_field": 1})
    with pytest.raises(ConfigError, match="no_such_field"):  # the model's own fields: before any data
        train(bad, out=tmp_path / "res", device="cpu")
    assert records.load_records(tmp_path / "res").empty


# ---------------------------------------------------------------------------------------------
# 4. one writer per run


def _hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding ``path``'s run lock until its stdin closes."""
    code = ("import sys; from pathlib import Path; from partreid_core.engine.records import run_lock\n"
            f"with run_lock(Path({str(path)!r})):\n    print('held', flush=True); sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_and_a_sweep_reports_running_elsewhere(tmp_path, monkeypatch):
    cfg = dataclasses.replace(tiny_config(tmp_path), experiment="tiny-sweep", run="flip-s0")
    run = tmp_path / "res" / "tiny-sweep" / "flip-s0"
    holder = _hold_lock(run)
    try:
        with monkeypatch.context() as m:
            m.setattr(trainer, "load_splits", _no_data)
            with pytest.raises(records.RunLockedError, match=f"pid {holder.pid}"):
                train(cfg, out=tmp_path / "res", device="cpu", resume=True)
        from test_records import _sweep_file

        sw = load_sweep(_sweep_file(tmp_path, seeds=(0,)))
        sw.variants = {"flip": {}}
        status = run_sweep(sw, out=tmp_path / "res", device="cpu")
        assert [s["status"] for s in status] == ["running elsewhere"]
        assert [s["status"] for s in run_sweep(sw, out=tmp_path / "res", dry_run=True)] == ["running elsewhere"]
        assert records.lock_holder(run) == f"pid {holder.pid}@{socket.gethostname()}"
        assert not records.is_complete(run)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not (run / ".lock").exists()  # the holder removed its lock file
    status = run_sweep(sw, out=tmp_path / "res", device="cpu")
    assert [s["status"] for s in status] == ["trained"] and records.is_complete(run)
    assert not (run / ".lock").exists()
    # a run another sweep completed after this one planned it is not retrained once the lock is held
    monkeypatch.setattr(trainer, "load_splits", _no_data)
    again = train(cfg, out=tmp_path / "res", device="cpu", resume=True, skip_existing=True)
    saved = json.loads((run / "metrics.json").read_text())
    assert again.status == "exists" and again.metrics == {k: v for k, v in saved.items() if k != "run_id"}


def test_a_run_locked_after_the_sweep_planned_it_is_reported_running_elsewhere(tmp_path):
    from test_records import _sweep_file

    def locked(cfg, **kw):  # the lock was taken between the sweep's plan and this run's turn
        raise records.RunLockedError(f"{cfg.run_name} is being trained by another process")

    status = run_sweep(load_sweep(_sweep_file(tmp_path, seeds=(0,))), out=tmp_path / "r", train_fn=locked)
    assert [s["status"] for s in status] == ["running elsewhere"] * 2


def test_the_lock_is_exclusive_within_a_process_and_released(tmp_path):
    with records.run_lock(tmp_path / "run"):
        with pytest.raises(records.RunLockedError):
            with records.run_lock(tmp_path / "run"):
                pass
    with records.run_lock(tmp_path / "run"):  # released: taken again
        pass
    assert list((tmp_path / "run").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# 5. atomic records


def _write_record(path: Path, config_id: str | None, metrics_id: str | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    meta = {"config": {}} | ({"run_id": config_id} if config_id else {})
    (path / "config.json").write_text(json.dumps(meta))
    records.write_metrics(path, {"mAP": 1.0}, metrics_id)


def test_is_complete_needs_one_run_id_in_both_files_or_none_in_either(tmp_path):
    _write_record(tmp_path / "legacy", None, None)
    _write_record(tmp_path / "same", "a1", "a1")
    _write_record(tmp_path / "mixed", "b2", "a1")
    _write_record(tmp_path / "half", "b2", None)
    (tmp_path / "nometa").mkdir()
    records.write_metrics(tmp_path / "nometa", {"mAP": 1.0})
    got = {p.name: records.is_complete(p) for p in tmp_path.iterdir()}
    assert got == {"legacy": True, "same": True, "mixed": False, "half": False, "nometa": False}


def test_a_kill_between_the_record_writes_leaves_no_mixed_record(tmp_path, monkeypatch):
    out = tmp_path / "res"
    first = train(tiny_config(tmp_path, optim={"lr": 0.05}), out=out, device="cpu")
    run = first.path
    old = json.loads((run / "config.json").read_text())
    assert records.is_complete(run) and old["run_id"] == json.loads((run / "metrics.json").read_text())["run_id"]

    class Killed(BaseException):
        pass

    def killed(*a, **k):
        raise Killed

    monkeypatch.setattr(records, "write_metrics", killed)
    with pytest.raises(Killed):  # a re-run (no --resume) with another lr, killed before metrics.json
        train(tiny_config(tmp_path, optim={"lr": 0.01}), out=out, device="cpu")
    new = json.loads((run / "config.json").read_text())
    assert new["config"]["optim"]["lr"] == 0.01 and new["run_id"] != old["run_id"]
    assert not (run / "metrics.json").exists() and not records.is_complete(run)
    assert records.load_records(out).empty
    assert not (run / ".lock").exists()  # the lock went with the killed run


def test_a_trained_record_passes_the_audit(tmp_path):
    from audit_records import audit_record

    res = train(tiny_config(tmp_path), out=tmp_path / "res", device="cpu")
    audit = audit_record(res.path)
    assert audit.status == "ok", audit.problems


# ---------------------------------------------------------------------------------------------
# fail before work


def test_an_unwritable_output_folder_fails_before_any_data_is_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "load_splits", _no_data)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(records.NotWritableError, match="records folder"):
        train(tiny_config(tmp_path), out=tmp_path / "file" / "res", device="cpu")
    cfg = tiny_config(tmp_path, train={"checkpoint_dir": str(tmp_path / "file" / "ck")})
    with pytest.raises(records.NotWritableError, match="checkpoint folder"):
        train(cfg, out=tmp_path / "res", device="cpu")
    real_write = Path.write_bytes

    def read_only(self, data):  # a read-only mount (the tests run as root, where chmod does not stop writes)
        if self.name.startswith(".write-probe"):
            raise PermissionError(errno.EACCES, "Read-only file system", str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(records.NotWritableError, match="not writable .*Read-only"):
        train(tiny_config(tmp_path), out=tmp_path / "ro", device="cpu")


Usage = namedtuple("Usage", "total used free")


def test_too_little_disk_space_fails_before_the_first_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer.shutil, "disk_usage", lambda p: Usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(records.DiskFullError, match="no space left on .*a checkpoint needs"):
        train(tiny_config(tmp_path), out=tmp_path / "res", device="cpu")
    assert not checkpoint_path(tiny_config(tmp_path), tmp_path / "res").exists()


def test_a_full_disk_during_a_write_names_it_and_removes_the_partial_file(tmp_path, monkeypatch):
    def partial_save(obj, f):
        Path(f).write_bytes(b"x" * 1000)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1000 vs 980")

    monkeypatch.setattr(trainer.torch, "save", partial_save)
    monkeypatch.setattr(records.shutil, "disk_usage", lambda p: Usage(10**9, 10**9, 0))
    target = tmp_path / "ck" / "last.pt"
    with pytest.raises(records.DiskFullError, match=f"no space left on {tmp_path / 'ck'}"):
        trainer._atomic_save({"a": 1}, target)
    assert list((tmp_path / "ck").iterdir()) == []

    def enospc(self, text):
        Path.write_bytes(self, b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", enospc)
    with pytest.raises(records.DiskFullError, match="no space left on"):
        records.atomic_write_text(tmp_path / "metrics.json", "{}")
    assert list(tmp_path.glob("*.tmp")) == []
    # another write error is not called a full disk, and still leaves no partial file
    monkeypatch.setattr(records.shutil, "disk_usage", lambda p: Usage(10**9, 0, 10**9))
    def other_failure(obj, f):
        Path(f).write_bytes(b"x")
        raise RuntimeError("some other failure")

    monkeypatch.setattr(trainer.torch, "save", other_failure)
    with pytest.raises(CheckpointError, match="could not write the checkpoint"):
        trainer._atomic_save({"a": 1}, target)
    assert list((tmp_path / "ck").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# the CLI


def test_the_cli_reports_project_errors_in_one_line_with_exit_code_2(capsys):
    from partreid_core.cli import main

    assert main(["train", "--recipe", "pal_globalpool", "--profile", "smoke", "--set", "train.epochs=abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train.epochs: expected int, got 'abc'" in err and "Traceback" not in err
    assert main(["train", "--recipe", "no_such_recipe", "--profile", "smoke"]) == 2
    assert "no recipe 'no_such_recipe'" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        main(["--debug", "train", "--recipe", "pal_globalpool", "--profile", "smoke", "--set", "train.epochs=0"])
    with pytest.raises(ConfigError):  # --debug anywhere on the line
        main(["train", "--recipe", "pal_globalpool", "--profile", "smoke", "--set", "train.epochs=0", "--debug"])


def test_train_help_lists_the_recipes_and_every_option_has_help(capsys):
    import argparse

    from partreid_core.cli import build_parser, main
    from partreid_core.experiments.config import list_recipes

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = capsys.readouterr().out
    assert "--restart" in shown and all(r in shown for r in list_recipes("cpu") + list_recipes("gpu"))
    missing = []

    def walk(parser, where):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    walk(sub, where + [name])
            elif not isinstance(a, argparse._HelpAction) and not a.help:
                missing.append(" ".join(where + [a.option_strings[0] if a.option_strings else a.dest]))

    walk(build_parser(), ["partreid"])
    assert missing == []


def test_data_stats_prints_a_real_datasets_table_once(tmp_path, capsys):
    from partreid_core.cli import main

    from real_fixtures import MARKET, make_market_like

    make_market_like(tmp_path / "Market-1501-v15.09.15", MARKET)
    assert main(["data", "stats", "market1501", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("identities") == 1 and "gallery" in out
    assert main(["data", "stats", "synth-tiny"]) == 0
    assert capsys.readouterr().out.count("identities") == 1


# ---------------------------------------------------------------------------------------------
# evaluate


def _problem(seed: int = 0, nq: int = 12, ng: int = 40, d: int = 8):
    g = torch.Generator().manual_seed(seed)
    qf, gf = torch.randn(nq, d, generator=g), torch.randn(ng, d, generator=g)
    ids = (torch.arange(nq) % 6, torch.arange(ng) % 6, torch.zeros(nq, dtype=torch.long),
           torch.ones(ng, dtype=torch.long))
    return qf, gf, ids


def test_evaluate_accepts_numpy_and_rejects_features_with_a_distmat():
    from partreid_core.evaluation.metrics import evaluate

    qf, gf, ids = _problem()
    ref = evaluate(qf, gf, *ids)
    np_res = evaluate(qf.numpy(), gf.numpy(), *(i.numpy() for i in ids))
    assert np_res.mAP == ref.mAP and np.array_equal(np_res.cmc, ref.cmc)
    dist = torch.cdist(qf, gf)
    assert evaluate(None, None, *ids, distmat=dist.numpy()).mAP == pytest.approx(ref.mAP, abs=1e-6)
    with pytest.raises(ValueError, match="not both"):
        evaluate(qf, gf, *ids, distmat=dist)
    with pytest.raises(ValueError, match="not both"):
        evaluate(qf, None, *ids, distmat=dist)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("scale", [1e19, 1e-25])
def test_evaluate_gives_the_right_map_for_features_of_extreme_magnitude(metric, scale):
    from partreid_core.evaluation.metrics import evaluate

    qf, gf, ids = _problem(seed=1)
    ref = evaluate(qf, gf, *ids, metric=metric)
    big = evaluate((qf.double() * scale).float(), (gf.double() * scale).float(), *ids, metric=metric)
    assert big.mAP == pytest.approx(ref.mAP, abs=1e-9) and np.array_equal(big.cmc, ref.cmc)


def test_evaluate_raises_on_non_finite_distances_instead_of_a_wrong_map(monkeypatch):
    from partreid_core.evaluation import metrics

    qf, gf, ids = _problem(seed=2)
    monkeypatch.setattr(metrics, "FEATURE_RANGE_LOG2", 1000)  # no rescaling: the float32 distances overflow
    with pytest.raises(ValueError, match="distances .* are not finite"):
        metrics.evaluate(qf * 1e19, gf * 1e19, *ids)
    with pytest.raises(ValueError, match="NaN or inf"):
        metrics.evaluate(torch.full_like(qf, float("nan")), gf, *ids)
