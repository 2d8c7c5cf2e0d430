"""DistributedDataParallel through torchrun: 2 CPU processes with the gloo backend."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = """
import json, os, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
import test_engine as te
from pathlib import Path
from partreid_core.engine.trainer import train
tmp = Path({tmp!r})
cfg = te.tiny_config(tmp, train={{"epochs": 2, "iters_per_epoch": 2}})
res = train(cfg, out=tmp / "results", device="cpu")
model_sum = float(sum(p.detach().double().sum() for p in te._last_model.parameters()))
rank = int(os.environ["RANK"])
(tmp / f"rank{{rank}}.json").write_text(json.dumps({{"sum": model_sum, "metrics": res.metrics}}))
# MGN-style alternating update: each phase leaves some heads unused (find_unused_parameters)
alt = te.tiny_config(tmp, experiment="alt", train={{"epochs": 1, "iters_per_epoch": 2, "update": "alternating",
                     "phases": [{{"terms": ["id"], "lr": 0.1}}, {{"terms": ["triplet"], "lr": 0.01}}]}})
train(alt, out=tmp / "results", device="cpu")
alt_sum = float(sum(p.detach().double().sum() for p in te._last_model.parameters()))
(tmp / f"alt{{rank}}.json").write_text(json.dumps({{"sum": alt_sum}}))
"""


@pytest.mark.heavy
def test_ddp_two_cpu_processes_gloo(tmp_path):
    tests = str(Path(__file__).parent)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=tests, tmp=str(tmp_path))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29533", str(script)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["sum"] == pytest.approx(r1["sum"], rel=1e-6)  # DDP kept the replicas in sync
    assert r0["metrics"] and r1["metrics"] == {}  # rank 0 evaluates and writes the record
    assert (tmp_path / "results" / "alt").is_dir()
    a0, a1 = (json.loads((tmp_path / f"alt{r}.json").read_text())["sum"] for r in (0, 1))
    assert a0 == pytest.approx(a1, rel=1e-6)
    run = tmp_path / "results" / "t"
    meta = json.loads(next(run.glob("*/config.json")).read_text())
    assert meta["world_size"] == 2
