"""The plr_osnet chapter: sweep files, the PLR-F4 hook, the claims module and the notebook text."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from partreid_core.experiments.sweep import load_sweep, plan

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "partreid_core/experiments/sweeps/plr_osnet").glob("*.yaml"))
#: measured cpu-profile minutes per run (chapter brief); the hooks add seconds
RUN_MINUTES = {"plr_osnet": 2.5, "osnet": 1.5}


def test_sweeps_load_and_plan_within_budget():
    assert [p.name[:3] for p in SWEEPS].count("p1_") >= 1
    total, p1_minutes = 0, 0.0
    for path in SWEEPS:
        sw = load_sweep(path)
        assert sw.profile == "cpu" and sw.seeds == [0, 1, 2], path
        runs = plan(sw)
        total += len(runs)
        for _, cfg in runs:
            assert cfg.profile == "cpu" and cfg.data.size == (128, 64)
            assert "plr_cam" in cfg.analysis
            if path.name.startswith("p1_"):
                p1_minutes += RUN_MINUTES[cfg.model]
    assert total <= 30, total
    assert p1_minutes <= 40, p1_minutes


def test_sweep_variants_switch_what_they_name():
    runs = {name: cfg for name, cfg in plan(load_sweep(SWEEPS[0]))}
    from partreid_core.models.registry import model_config

    assert model_config("plr_osnet", runs["local_only"].model_overrides).global_branch is False
    assert model_config("plr_osnet", runs["multiple_id"].model_overrides).id_loss == "multiple"
    assert runs["osnet"].model == "osnet"
    full = model_config("plr_osnet", runs["plr_osnet"].model_overrides)
    assert (full.global_branch, full.local_branch, full.id_loss, full.attention) == (True, True, "single", True)


@pytest.fixture(scope="module")
def smoke_records(tmp_path_factory):
    """One smoke-trained PLR-OSNet (2 epochs x 3 iterations on synth-tiny) with the chapter's hooks."""
    from partreid_core.engine.trainer import train
    from partreid_core.experiments.config import resolve_config

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("plr-smoke")
    cfg = resolve_config("plr_osnet", "smoke", {"experiment": "plr_osnet-core", "run": "plr_osnet-s0",
                                                "analysis": ["plr_cam"]})
    res = train(cfg, out=out, variant="plr_osnet")
    return out, res


def test_plr_cam_hook_shapes_on_smoke_model(smoke_records):
    from partreid_core.experiments.records import load_analysis

    _, res = smoke_records
    a = load_analysis(res.path)
    names = list(a["plr_cam/target_names"])
    assert names == ["global", "part1", "part2", "part3", "part4"]
    n = len(a["plr_cam/index"])
    assert a["plr_cam/part_mass"].shape == (5, n, 8)
    np.testing.assert_allclose(a["plr_cam/part_mass"].sum(2), 1.0, atol=1e-4)
    assert a["plr_cam/row_profile"].shape == (5, 64)                 # smoke images are 64x32
    np.testing.assert_allclose(a["plr_cam/row_profile"].sum(1), 1.0, atol=1e-4)
    ov = a["plr_cam/overlap"]
    assert ov.shape == (5, 5)
    np.testing.assert_allclose(np.diag(ov), 1.0, atol=1e-4)
    assert np.all(ov <= 1.0 + 1e-5) and np.allclose(ov, ov.T, atol=1e-5)
    assert a["plr_cam/maps"].shape == (5, 6, 64, 32) and a["plr_cam/maps"].dtype == np.float16
    assert a["plr_cam/images"].shape == (6, 3, 64, 32) and a["plr_cam/masks"].shape == (6, 64, 32)


def test_plr_cam_on_osnet_and_local_only_models(smoke_records):
    """The hook adapts its targets: OSNet has only a global vector, local-only PLR only parts."""
    from partreid_core.analysis.chapter_hooks.plr_osnet import plr_cam
    from partreid_core.engine.hooks import AnalysisContext
    from partreid_core.engine.trainer import load_splits
    from partreid_core.experiments.config import resolve_config
    from partreid_core.models.registry import build_model

    cfg = resolve_config("plr_osnet", "smoke", {})
    tr, q, g = load_splits(cfg)
    q.images, q.masks, q.pids, q.camids = q.images[:8], q.masks[:8], q.pids[:8], q.camids[:8]
    overrides = {"backbone": {"name": "osnet_x0_25", "width": 1.0}}
    for name, extra, expected in [("osnet", {}, ["global"]),
                                  ("plr_osnet", {"global_branch": False}, ["part1", "part2", "part3", "part4"])]:
        torch.manual_seed(0)
        model = build_model(name, 10, {**overrides, **extra}).eval()
        out = plr_cam(AnalysisContext(model, tr, q, g, cfg, torch.device("cpu")))
        assert list(out["target_names"]) == expected
        assert out["part_mass"].shape == (len(expected), 8, 8)
        assert out["maps"].shape == (len(expected), 6, 64, 32)
