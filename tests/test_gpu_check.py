"""scripts/gpu_check.sh in its --dry mode (CPU, tiny sizes), and the library pieces it uses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from partreid_core.cli import main
from partreid_core.engine import records
from partreid_core.engine.bench import GPU_TRAIN_TARGETS, compare_runs, gpu_check_summary

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.sh"


def _run(tmp_path, *args, env=None, out=True):
    e = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path),
         "PARTREID_CACHE": str(tmp_path / "cache"), **(env or {})}
    if out:
        e.pop("OUT", None)
    res = tmp_path / "res" if out else tmp_path / "gpu_check_results"  # without --out: staged under $TMPDIR
    proc = subprocess.run(["bash", str(SCRIPT), "--dry", *(["--out", str(res)] if out else []), *args], env=e,
                          capture_output=True, text=True, timeout=900)
    steps = [json.loads(s) for s in (res / "gpu-check" / "steps.jsonl").read_text().splitlines()]
    return proc, {s["step"]: s for s in steps}


def test_dry_check_fails_soft_and_summarises(tmp_path):
    # a cache path that cannot be created: the training benchmark (which renders SynthReID) fails, the evaluation
    # benchmark after it (random features) still runs, and the summary reports both
    proc, steps = _run(tmp_path, "--only", "env,bench-train-globalpool,eval-market",
                       env={"PARTREID_CACHE": "/dev/null/no-cache"})
    assert proc.returncode == 0, proc.stderr
    assert list(steps) == ["env", "bench-train-globalpool", "eval-market"]
    assert steps["env"]["status"] == "ok" and steps["bench-train-globalpool"]["status"].startswith("failed: rc")
    assert steps["eval-market"]["status"] == "ok"
    rec = json.loads((tmp_path / "res" / steps["eval-market"]["record"]).read_text())
    assert rec["benchmark"] == "eval" and rec["result"]["agree"] and "t_rerank" in rec["result"]
    env = json.loads((tmp_path / "res" / "gpu-check" / "env.json").read_text())
    assert env["dry"] == 1 and env["torch"]
    table = (tmp_path / "res" / "gpu-check" / "summary.txt").read_text()
    assert "eval-market" in table and "failed: rc" in table and table in proc.stdout
    summary = json.loads((tmp_path / "res" / "gpu-check" / "summary.json").read_text())
    assert [r["step"] for r in summary] == list(steps) and summary[2]["met"] is True


def test_dry_check_never_runs_past_its_deadline(tmp_path):
    proc, steps = _run(tmp_path, "--budget", "5")
    assert proc.returncode == 0, proc.stderr
    assert steps and all(s["status"].startswith("skipped") for s in steps.values())
    assert "bench-train-mgn" in steps and "synth-globalpool_ps" in steps


def test_records_come_back_packed_through_out(tmp_path):
    import tarfile

    out = tmp_path / "OUT"
    out.mkdir()
    proc, steps = _run(tmp_path, "--only", "env", env={"OUT": str(out)}, out=False)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["gpu_check.log", "gpu_check_records.tar.gz", "gpu_check_summary.txt"]  # few files, flat
    with tarfile.open(out / "gpu_check_records.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"./gpu-check/env.json", "./gpu-check/steps.jsonl", "./gpu-check/summary.json"} <= names
    assert "torch" in (out / "gpu_check_summary.txt").read_text() and "== env" in (out / "gpu_check.log").read_text()


@pytest.mark.heavy
def test_dry_check_every_step(tmp_path):
    proc, steps = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert all(s["status"] == "ok" for s in steps.values()), steps
    res = tmp_path / "res"
    assert records.is_complete(res / "gpu-smoke" / "cuda") and records.is_complete(res / "gpu-smoke" / "cpu")
    assert json.loads((res / "gpu-smoke" / "compare.json").read_text())["ok"]
    for model in ("globalpool", "globalpool_ps"):
        assert records.is_complete(res / steps[f"synth-{model}"]["record"])
    for name in ("bench-train-globalpool", "bench-train-mgn", "eval-market", "eval-msmt"):
        assert (res / steps[name]["record"]).is_file()


def _fake_run(path: Path, losses, rank1, mAP, nq=40):
    path.mkdir(parents=True)
    records.write_history(path, [{"epoch": i + 1, "loss": v} for i, v in enumerate(losses)])
    records.write_metrics(path, {"rank1": rank1, "mAP": mAP, "num_valid_queries": nq})


def test_compare_runs_tolerances(tmp_path):
    _fake_run(tmp_path / "a", [5.0, 4.0], 50.0, 40.0)
    _fake_run(tmp_path / "b", [5.0 * (1 + 5e-4), 4.0], 52.5, 40.2)  # one query of 40 = 2.5 points
    r = compare_runs(tmp_path / "a", tmp_path / "b")
    assert r["ok"] and r["tolerance"]["rank1_atol"] == pytest.approx(2.5)
    _fake_run(tmp_path / "c", [5.0, 4.1], 50.0, 40.0)
    assert not compare_runs(tmp_path / "a", tmp_path / "c")["ok"]
    _fake_run(tmp_path / "d", [5.0, 4.0], 55.0, 40.0)
    assert not compare_runs(tmp_path / "a", tmp_path / "d")["ok"]


def test_summary_marks_targets(tmp_path):
    for model, ips, conv in (("globalpool", 4100.0, 700.0), ("mgn", 1600.0, 400.0)):
        records.write_bench(tmp_path / "bench" / f"train-h100-{model}.json", "train", {},
                            {"ours_images_per_s": ips, "conventional_images_per_s": conv, "speedup": ips / conv,
                             "ours_amp": "torch.bfloat16"}, "NVIDIA H100")
    (tmp_path / "gpu-check").mkdir()
    (tmp_path / "gpu-check" / "steps.jsonl").write_text("".join(
        json.dumps({"step": f"bench-train-{m}", "status": "ok", "seconds": 9, "record": f"bench/train-h100-{m}.json"})
        + "\n" for m in ("globalpool", "mgn")) + json.dumps({"step": "eval-msmt", "status": "timeout after 9s",
                                                            "seconds": 9, "record": "bench/none.json"}) + "\n")
    rows, table = gpu_check_summary(tmp_path)
    assert [r["met"] for r in rows] == [True, False, None]  # MGN: 4x the conventional pipeline, under 5x
    assert "4100 img/s (bfloat16)" in rows[0]["result"] and "timeout" in table
    assert set(GPU_TRAIN_TARGETS) == {"globalpool", "mgn"}


def test_bench_eval_rerank_small(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["bench", "eval", "--queries", "80", "--gallery", "600", "--dim", "16", "--threads", "1",
                 "--rerank", "--out", str(out)]) == 0
    r = json.loads(out.read_text())["result"]
    assert r["t_rerank"]["total"] >= r["t_rerank"]["rerank"] > 0
    assert r["rerank"]["num_valid_queries"] == r["ours"]["num_valid_queries"]
    assert "k-reciprocal re-ranking + evaluation on cpu" in capsys.readouterr().out
