"""The chapter toolkit (reporting.chapter): one paper's records opened once, summaries a chapter can trust."""
import json
from pathlib import Path

import numpy as np
import pytest

from partreid_core.reporting.chapter import MISSING, fmt, open_chapter, paper_module


def _run(root: Path, experiment: str, variant: str, seed: int, metrics: dict, arrays: dict | None = None,
         profile: str = "cpu") -> None:
    path = root / experiment / f"{variant}-s{seed}"
    path.mkdir(parents=True)
    cfg = {"model": "pcb", "profile": profile, "data": {"dataset": "synth-s"}, "seed": seed}
    (path / "config.json").write_text(json.dumps({"config": cfg, "seed": seed, "variant": variant}))
    (path / "metrics.json").write_text(json.dumps(metrics))
    if arrays:
        np.savez(path / "analysis.npz", **arrays)


@pytest.fixture
def pal_records(tmp_path):
    for seed, (base, ps) in enumerate([(40.0, 42.0), (41.0, 41.5), (39.0, 42.5)]):
        _run(tmp_path, "pal-pcb", "pcb", seed, {"rank1": base, "mAP_trapezoid": base / 2},
             {"sim": np.full((2, 2), seed, dtype=float)})
        _run(tmp_path, "pal-pcb", "pcb_ps", seed, {"rank1": ps, "mAP_trapezoid": ps / 2})
    _run(tmp_path, "pal-pcb", "pcb", 9, {"rank1": 0.0}, profile="smoke")
    return tmp_path


def test_summaries_pair_by_seed(pal_records):
    ch = open_chapter("PAL", pal_records, profile="cpu")
    assert list(ch.values("pcb", "rank1").index) == [0, 1, 2]          # the smoke run is filtered out
    assert ch.mean_std("pcb", "rank1") == "40.0 ± 1.0 (n=3)"
    d = ch.paired_delta("pcb_ps", "pcb", "rank1")
    assert d.round(2).tolist() == [2.0, 0.5, 3.5]
    assert ch.delta_text("pcb_ps", "pcb", "rank1") == "+2.0 (per seed +2.0, +0.5, +3.5; 3 of 3 positive)"
    assert ch.mean_std("globalpool", "rank1") == MISSING and ch.delta_text("mgn_ps", "mgn", "rank1") == MISSING


def test_stack_and_analysis(pal_records):
    ch = open_chapter("PAL", pal_records, profile="cpu")
    s = ch.stack("pcb", "sim")
    assert s.shape == (3, 2, 2) and s[:, 0, 0].tolist() == [0.0, 1.0, 2.0]
    assert ch.stack("pcb_ps", "sim") is None and ch.analysis("pcb_ps") == {}
    assert ch.analysis("pcb", seed=2)["sim"][0, 0] == 2.0


def test_status_gives_the_command_for_missing_seeds(pal_records):
    st = open_chapter("PAL", pal_records, profile="cpu").status()
    row = st[(st.sweep == "p1_pcb") & (st.variant == "pcb")].iloc[0]
    assert row.state == "missing" and row.seeds == "3 of 5"              # a headline variant: five seeds
    assert row.command.endswith(f"--only pcb --seeds 3 4 --out {pal_records}")
    assert "partreid_core/experiments/sweeps/pal/p1_pcb.yaml" in row.command
    lam = st[st.variant == "pcb_ps_lambda10"].iloc[0]
    assert lam.seeds == "0 of 3"                                         # not headline: three seeds


def test_empty_records_and_bad_paper(tmp_path):
    ch = open_chapter("RMGL", tmp_path)
    assert ch.runs.empty and ch.mean_std("rmgl", "rank1") == MISSING and ch.provenance() == "no records yet"
    assert open_chapter("plr_osnet", tmp_path).paper == "PLR"
    with pytest.raises(KeyError, match="unknown paper"):
        paper_module("XYZ")


def test_fmt():
    assert fmt(None) == MISSING and fmt(float("nan")) == MISSING and fmt(-11.605818) == "-11.6"
    assert fmt(0.0, 2, signed=True) == "+0.00" and fmt("n/a") == "n/a"
