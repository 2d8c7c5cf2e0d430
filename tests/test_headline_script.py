"""scripts/headline_seeds.sh: which sweeps it runs in each regime (a stand-in `partreid` prints its arguments)."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path, **env) -> subprocess.CompletedProcess:
    fake = tmp_path / "bin" / "partreid"
    fake.parent.mkdir()
    fake.write_text('#!/usr/bin/env bash\necho "partreid $*"\n')
    fake.chmod(0o755)
    full = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", **env}
    return subprocess.run(["bash", str(ROOT / "scripts" / "headline_seeds.sh")], env=full, capture_output=True,
                          text=True)


def test_scratch_runs_seeds_3_and_4_at_the_files_profile(tmp_path):
    done = _run(tmp_path, PAPERS="pal")
    assert done.returncode == 0, done.stderr
    line, = done.stdout.splitlines()
    assert "p1_globalpool.yaml" in line and "--seeds 3 4 " in line and "--profile" not in line


def test_fine_tuned_runs_all_five_seeds_at_cpu_ft(tmp_path):
    done = _run(tmp_path, REGIME="fine-tuned", PAPERS="plr_osnet rmgl")
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 2, done.stdout + done.stderr
    assert all("--profile cpu-ft --seeds 0 1 2 3 4 " in x for x in lines)
    assert "plr_osnet/p1_core.yaml" in lines[0] and "rmgl/p2_partition.yaml" in lines[1]


def test_unknown_regime_or_paper_is_refused(tmp_path):
    assert _run(tmp_path, REGIME="imagenet").returncode == 2
    (tmp_path / "bin").rename(tmp_path / "old")
    assert _run(tmp_path, PAPERS="pcb").returncode == 2
