"""The records audit (tests/audit_records.py) on small fabricated records: one it must pass, ones it must fail."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from audit_records import audit_root, main

from partreid_core.engine import records
from partreid_core.engine.config import config_to_dict
from partreid_core.experiments.config import resolve_config

# A 4-epoch schedule worked by hand: linear warm-up over 2 epochs from 0.1 (per epoch: 0.1, 0.55), then
# 1.0, then x0.1 from the milestone at epoch 3; lr 0.01 with the head at 2x.
FACTORS = [0.1, 0.55, 1.0, 0.1]
OVERRIDES = {"optim": {"lr": 0.01, "lr_mult": {"head": 2.0}},
             "schedule": {"warmup_epochs": 2, "warmup_start": 0.1, "warmup_per": "epoch", "milestones": [3],
                          "gamma": 0.1, "decay": "step"},
             "train": {"epochs": 4, "iters_per_epoch": 5}}


def _fabricate(root: Path, name: str, lrs: list[float], epochs: int = 4, run_ids=("r1", "r1")) -> Path:
    cfg = resolve_config("pal_globalpool", "smoke", {**OVERRIDES, "train": {**OVERRIDES["train"], "epochs": epochs}})
    path = root / "exp" / name
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"config": config_to_dict(cfg), "run_id": run_ids[0]}))
    with open(path / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["epoch", "loss", "lr", "lr/backbone", "lr/head"])
        w.writeheader()
        for i, lr in enumerate(lrs):
            w.writerow({"epoch": i + 1, "loss": 1.0, "lr": repr(lr), "lr/backbone": repr(lr), "lr/head": repr(2 * lr)})
    records.write_metrics(path, {"mAP": 10.0}, run_ids[1])
    return path


def test_the_audit_passes_a_faithful_record_and_fails_each_kind_of_lie(tmp_path, capsys):
    _fabricate(tmp_path, "faithful", [0.01 * f for f in FACTORS])
    # a run resumed from an lr 0.05 checkpoint under an lr 0.01 config: the history is the other run's
    _fabricate(tmp_path, "resumed-other-lr", [0.05 * f for f in FACTORS])
    _fabricate(tmp_path, "no-decay", [0.01 * f for f in (0.1, 0.55, 1.0, 1.0)])  # the milestone never applied
    _fabricate(tmp_path, "short", [0.01 * f for f in FACTORS[:3]])  # 3 epochs logged for 4
    _fabricate(tmp_path, "mixed", [0.01 * f for f in FACTORS], run_ids=("r2", "r1"))
    (tmp_path / "knobs" / "curve").mkdir(parents=True)  # not a training record: skipped
    (tmp_path / "knobs" / "curve" / "config.json").write_text(json.dumps({"config": {"model": "x"}, "knob": "k"}))
    audits = {a.path.name: a for a in audit_root(tmp_path)}
    assert set(audits) == {"faithful", "resumed-other-lr", "no-decay", "short", "mixed"}
    assert audits["faithful"].status == "ok", audits["faithful"].problems
    assert all(audits[n].status == "fail" for n in ("resumed-other-lr", "no-decay", "short", "mixed"))
    assert "epoch 1: lr/backbone = 0.005" in audits["resumed-other-lr"].problems[0]
    assert [p.split(":")[0] for p in audits["no-decay"].problems] == ["epoch 4"]
    assert "3 epochs, config says train.epochs=4" in audits["short"].problems[0]
    assert "run ids" in audits["mixed"].problems[0]
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "5 training records" in out and "1 ok, 4 fail" in out and "FAIL exp/short" in out


def test_the_audit_checks_alternating_phases_against_their_own_lr(tmp_path):
    cfg = resolve_config("pal_mgn", "smoke")
    assert cfg.train.update == "alternating"
    path = tmp_path / "exp" / "mgn"
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"config": config_to_dict(cfg)}))
    from partreid_core.engine.optim import lr_factor

    steps = cfg.train.iters_per_epoch
    rows = []
    for e in range(cfg.train.epochs):
        f = lr_factor(cfg.schedule, e, steps - 1, steps, cfg.train.epochs)
        row = {"epoch": e + 1, "lr": repr(cfg.train.phases[0].lr * f)}
        row.update({f"lr/{i}:backbone": repr(p.lr * f) for i, p in enumerate(cfg.train.phases)})
        rows.append(row)
    with open(path / "history.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    records.write_metrics(path, {"mAP": 1.0})
    (audit,) = audit_root(tmp_path)
    assert audit.status == "ok", audit.problems
    # both phases at the first phase's lr (a phase's own lr ignored) is caught
    for r in rows:
        r["lr/1:backbone"] = r["lr/0:backbone"]
    with open(path / "history.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert cfg.train.phases[0].lr != cfg.train.phases[1].lr
    (audit,) = audit_root(tmp_path)
    assert audit.status == "fail" and "lr/1:backbone" in audit.problems[0]


@pytest.mark.parametrize("iters", [None])
def test_a_per_iteration_warmup_without_fixed_iterations_is_reported_unchecked(tmp_path, iters):
    cfg = resolve_config("pal_globalpool", "smoke", {"schedule": {"warmup_epochs": 1, "warmup_per": "iter"},
                                                     "train": {"iters_per_epoch": iters, "epochs": 2}})
    path = tmp_path / "exp" / "r"
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"config": config_to_dict(cfg)}))
    (path / "history.csv").write_text(f"epoch,lr,lr/backbone\n1,0.5,0.5\n2,{cfg.optim.lr!r},{cfg.optim.lr!r}\n")
    records.write_metrics(path, {"mAP": 1.0})
    (audit,) = audit_root(tmp_path)
    assert audit.status == "unchecked" and "steps per epoch" in audit.problems[0]
