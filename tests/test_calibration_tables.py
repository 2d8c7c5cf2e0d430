"""reporting.calibration: the SynthReID-P trunks and the fine-tuned regime's val calibration, from records."""
import json

import pytest

from partreid_core.reporting.calibration import calibration_table, pretraining_table

HARDER = {"misalignment": 0.6, "occlusion": 0.5, "truncation": 0.15, "clutter": 0.8}


def _run(root, exp, name, model, seed, rank1, split="val", knobs=None):
    d = root / "fine-tuned" / exp / name
    d.mkdir(parents=True)
    cfg = {"model": model, "seed": seed, "profile": "cpu-ft",
           "data": {"dataset": "synth-s", "dataset_kwargs": knobs or {}}}
    (d / "config.json").write_text(json.dumps({"config": cfg, "seed": seed, "run_id": name}))
    (d / "metrics.json").write_text(json.dumps({"rank1": rank1, "mAP": rank1 - 5, "split": split, "run_id": name}))


def test_the_rule_reads_globalpool_and_reports_pcb_apart(tmp_path):
    for s, r in enumerate((98.0, 97.0, 99.0)):
        _run(tmp_path, "calibration-val", f"gp-s{s}", "globalpool", s, r)
    _run(tmp_path, "calibration-val", "pcb-s0", "pcb", 0, 99.5)
    for s, r in enumerate((86.0, 90.0, 91.0)):
        _run(tmp_path, "calibration-val-harder", f"gp1-s{s}", "globalpool", s, r, knobs=HARDER)
    _run(tmp_path, "calibration-val-harder", "gp1-test", "globalpool", 9, 10.0, split="test")  # test: not shown
    t = calibration_table(tmp_path)
    assert list(t["rule"]) == ["above 90: saturated", "order only", "in band"]
    assert t.loc[2, "setting"] == "misalignment 0.6 · occlusion 0.5 · truncation 0.15 · clutter 0.8"
    assert t.loc[0, "setting"] == "defaults" and t.loc[2, "seeds"] == "0, 1, 2"
    assert t.loc[2, "rank1"] == pytest.approx(89.0) and t.loc[2, "val Rank-1"] == "89.0 ± 2.6"
    assert t.loc[1, "val Rank-1"] == "99.5 ± 0.0"


def test_below_the_band_and_no_records(tmp_path):
    assert calibration_table(tmp_path).empty and pretraining_table(tmp_path).empty
    for s in range(3):
        _run(tmp_path, "calibration-val", f"gp-s{s}", "globalpool", s, 20.0 + s)
    assert calibration_table(tmp_path).loc[0, "rule"] == "below 40"


def test_pretraining_table_reads_the_record(tmp_path):
    d = tmp_path / "pretrain" / "resnet50-w0.25-cpu"
    d.mkdir(parents=True)
    (d / "pretrain.json").write_text(json.dumps({"trunk": "synthp-resnet50-w0.25.pt", "trunk_sha256": "ab" * 32,
                                                 "wall_time_s": 600, "heldout_top1": 91.26, "train_images": 100,
                                                 "num_train_ids": 10}))
    (d / "config.json").write_text(json.dumps({"backbone": "resnet50", "width": 0.25, "epochs": 10}))
    row = pretraining_table(tmp_path).iloc[0]
    assert (row["wall (min)"], row["held-out top-1"], row["sha256"], row["epochs"]) == (10.0, 91.3, "ab" * 6, 10)
