"""PAL chapter: sweeps within budget, hooks on smoke-trained models, claims table, notebook coverage."""
from __future__ import annotations

from pathlib import Path

import pytest

from partreid_core.experiments.sweep import load_sweep, plan

SWEEPS = Path(__file__).resolve().parents[1] / "partreid_core" / "experiments" / "sweeps" / "pal"
#: measured cpu-profile cost of one run (minutes, CHAPTER.md) by model
RUN_MINUTES = {"globalpool": 1.5, "globalpool_ps": 1.5, "pcb": 1.5, "pcb_ps": 1.5, "mgn": 6.0, "mgn_ps": 6.0}


def _planned():
    return {f.name: plan(load_sweep(f)) for f in sorted(SWEEPS.glob("*.yaml"))}


def test_sweeps_plan_within_budget():
    planned = _planned()
    assert set(planned) >= {"p1_globalpool.yaml", "p1_pcb.yaml", "p2_pcb.yaml", "p2_mgn.yaml"}
    runs = [cfg for cfgs in planned.values() for _, cfg in cfgs]
    assert len(runs) <= 30
    assert all(cfg.profile == "cpu" for cfg in runs)
    p1 = sum(RUN_MINUTES[cfg.model] for name, cfgs in planned.items() if name.startswith("p1_") for _, cfg in cfgs)
    assert p1 <= 40
    # variant names are unique across files (the claims compare variants by name)
    keys = [(cfg.experiment, cfg.run_name) for cfg in runs]
    assert len(keys) == len(set(keys))
    for name, cfgs in planned.items():
        assert {cfg.seed for _, cfg in cfgs} == {0, 1, 2}, name


def test_ps_variants_resolve_to_the_intended_settings():
    by_variant = {v: cfg for cfgs in _planned().values() for v, cfg in cfgs}
    assert by_variant["pcb"].model == "pcb" and by_variant["pcb_ps"].model == "pcb_ps"
    assert by_variant["pcb_ps_lambda10"].model_overrides["ps"]["weight"] == 10.0
    assert by_variant["pcb_ps_fg"].model_overrides["ps"]["granularity"] == "fg"
    assert by_variant["pcb_ps_head_a"].model_overrides["ps"]["head_type"] == "a"
    assert "pal_grad_cam" in by_variant["mgn_ps"].analysis
