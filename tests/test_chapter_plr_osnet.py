"""The plr_osnet chapter: sweep files, the PLR-F4 hook, the claims module and the notebook text."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from partreid_core.experiments.sweep import load_sweep, plan
from partreid_core.reporting.papers import STATUSES

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "partreid_core/experiments/sweeps/plr_osnet").glob("*.yaml"))
#: measured cpu-profile minutes per run (chapter brief); the hooks add seconds
RUN_MINUTES = {"plr_osnet": 2.5, "osnet": 1.5}


def test_sweeps_load_and_plan_within_budget():
    assert [p.name[:3] for p in SWEEPS].count("p1_") >= 1
    total, p1_minutes = 0, 0.0
    for path in SWEEPS:
        sw = load_sweep(path)
        assert sw.profile == "cpu" and sw.seeds[:3] == [0, 1, 2], path
        runs = plan(sw, seeds=[0, 1, 2])  # base grid; seeds 3-4: headline only
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
    from partreid_core.experiments.config import resolve_config
    from partreid_core.experiments.runs import train_experiment

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("plr-smoke")
    cfg = resolve_config("plr_osnet", "smoke", {"experiment": "plr_osnet-core", "run": "plr_osnet-s0",
                                                "analysis": ["plr_cam"]})
    res = train_experiment(cfg, out=out, variant="plr_osnet")
    return out, res


def test_plr_cam_hook_shapes_on_smoke_model(smoke_records):
    from partreid_core.engine.records import load_analysis

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


# --------------------------------------------------------------------------- reporting + notebook
SPEC_CHECKLIST = ["PLR-T1", "PLR-T2", "PLR-T3", "PLR-T4", "PLR-T5", "PLR-T6", "PLR-T7", "PLR-M1",
                  "PLR-F1", "PLR-F2", "PLR-F3", "PLR-F4", "PLR-F5", "PLR-S1"]


def _code_and_headings(text: str) -> tuple[str, str]:
    """(the code cells, the markdown headings) of a py:percent notebook."""
    code, headings = [], []
    for cell in re.split(r"^# %%", text, flags=re.M)[1:]:
        head, _, body = cell.partition("\n")
        if "[markdown]" in head:
            headings += [line for line in body.splitlines() if line.startswith("# #")]
        else:
            code.append(body)
    return "\n".join(code), "\n".join(headings)


def test_every_artefact_has_renderers_called_under_its_heading():
    """Each checklist artefact has a heading, and every renderer of it is called in a code cell of the chapter."""
    from partreid_core.reporting.papers import plr_osnet as chapter

    assert sorted(chapter.ARTEFACTS) == sorted(SPEC_CHECKLIST)
    assert set(chapter.ARTEFACTS.values()) <= set(STATUSES)
    assert set(chapter.RENDERERS) == set(chapter.ARTEFACTS)
    code, headings = _code_and_headings((ROOT / "notebooks/plr_osnet.py").read_text())
    for aid, renderers in chapter.RENDERERS.items():
        assert re.search(rf"{aid}\b", headings), f"{aid} is in no heading of the notebook"
        for fn in renderers:
            assert re.search(rf"\bplr\.{fn.__name__}\(ch\)", code), f"{fn.__name__} ({aid}) is not called"
    for page_level in ("glance.render(ch.glance())", "plr.status_table(ch)", "plr.table_claims(ch)"):
        assert page_level in code


def test_notebook_code_is_short_and_its_plumbing_hidden():
    """At most 250 non-empty code lines; every code cell is tagged remove-cell, remove-input or hide-input."""
    text = (ROOT / "notebooks/plr_osnet.py").read_text()
    code, _ = _code_and_headings(text)
    assert sum(1 for line in code.splitlines() if line.strip()) <= 250
    heads = [c.partition("\n")[0] for c in re.split(r"^# %%", text, flags=re.M)[1:]]
    for head in heads:
        if "[markdown]" not in head:
            assert re.search(r"remove-cell|remove-input|hide-input", head), head
    assert not re.search(r"\bspec\b|spec §|pal\.md|session|Welch|not confirmed", text)


def test_claims_use_variants_of_the_sweeps():
    from partreid_core.reporting.papers import plr_osnet as chapter

    keys = set()
    for path in SWEEPS:
        sw = load_sweep(path)
        assert sw.experiment in chapter.EXPERIMENTS
        prefix = chapter.DETECTED if sw.experiment.endswith("detected") else ""
        keys |= {prefix + v for v in sw.variants}
    for c in chapter.CLAIMS:
        for k in (c.treatment, c.baseline):
            assert k.split(":")[0] in keys, (c.id, k)


def test_claims_table_on_empty_results_is_all_inconclusive(tmp_path):
    from partreid_core.reporting.papers import plr_osnet as chapter

    df = chapter.claims_table(tmp_path / "nothing-here")
    assert len(df) == len(chapter.CLAIMS)
    assert (df.verdict == "inconclusive").all()
    assert df.observed.str.startswith("no records").all()


def _fake_run(root: Path, experiment: str, variant: str, seed: int, m_ap: float, profile=None) -> None:
    from partreid_core.engine import records

    path = records.run_dir(root, experiment, f"{variant}-s{seed}")
    records.write_config(path, {"model": "plr_osnet", "profile": "cpu", "data": {"dataset": "synth-s"}},
                         {"seed": seed, "variant": variant})
    if profile is not None:   # PLR-F4 statistics: (T=5 targets, H=8 rows), all mass in one row per target
        records.write_analysis(path, {
            "plr_cam/target_names": np.array(["global", "part1", "part2", "part3", "part4"]),
            "plr_cam/row_profile": profile, "plr_cam/part_mass": np.full((5, 2, 8), 1 / 8, np.float32),
            "plr_cam/body_mass": np.ones((5, 2), np.float32)})
    records.write_metrics(path, {"mAP": m_ap, "rank1": m_ap + 10})


def test_claims_table_on_fake_records(tmp_path):
    from partreid_core.reporting.papers import plr_osnet as chapter

    prof = np.zeros((5, 8), np.float32)
    for t, row in enumerate([1, 0, 2, 5, 7]):      # global at row 1, part p at row 0/2/5/7
        prof[t, row] = 1.0
    for s in range(3):
        _fake_run(tmp_path, "plr_osnet-core", "plr_osnet", s, 60.0 + s, profile=prof)
        _fake_run(tmp_path, "plr_osnet-core", "multiple_id", s, 50.0 + s)     # clearly worse: confirmed
        _fake_run(tmp_path, "plr_osnet-core", "osnet", s, 70.0 + s)           # clearly better: contradicted
        _fake_run(tmp_path, "plr_osnet-ablations", "hard_margin", s, 60.0 + s + (0.1, -0.2, 0.15)[s])  # ~ equal
        _fake_run(tmp_path, "plr_osnet-detected", "plr_osnet", s, 40.0 + s)   # detected harder: confirmed
    df = chapter.claims_table(tmp_path).set_index("claim")
    assert df.loc["T5-single-id", "verdict"] == "confirmed"
    assert df.loc["T3-vs-osnet", "verdict"] == "contradicted"
    assert df.loc["T3-detected-harder", "verdict"] == "confirmed"
    assert df.loc["T3-detected-harder", "kind"] == "sanity" and np.isnan(df.loc["T3-detected-harder", "p_holm"])
    # the paper's Market finding for T7 is "no observable improvement": an equivalence, met inside +-1 point
    assert df.loc["T7-soft-margin", "hypothesis"] == "equivalence"
    assert df.loc["T7-soft-margin", "verdict"] == "confirmed"
    assert list(df.loc["T5-single-id", "seeds"]) == [0, 1, 2]
    assert df.loc["T4-global", "verdict"] == "inconclusive" and "local_only" in df.loc["T4-global", "observed"]
    # part 4's centre of mass is at row 7.5/8, part 1's at 0.5/8, identical over seeds: a clear difference
    assert df.loc["F4-parts-vertical", "verdict"] == "confirmed"
    cams = chapter.cam_runs(chapter.load_runs(tmp_path))
    cent = cams[cams.key == "plr_osnet:part4"].cam_centroid_row
    np.testing.assert_allclose(cent, 7.5 / 8)


def test_claims_are_classified_as_the_paper_states_them():
    from partreid_core.reporting.papers import plr_osnet as chapter

    by_id = {c.id: c for c in chapter.CLAIMS}
    assert len(by_id) == len(chapter.CLAIMS)
    assert {c.id for c in chapter.CLAIMS if c.headline} == {"T3-vs-osnet", "T4-global", "T5-single-id",
                                                           "T6-attention"}
    assert {c.id for c in chapter.CLAIMS if c.kind == "sanity"} == {"F4-parts-vertical", "T3-detected-harder"}
    assert by_id["F4-parts-vertical"].design == "exact-paired"   # two Grad-CAM targets of one checkpoint
    for c in chapter.CLAIMS:
        assert (c.paper_effect is None) == (c.paper_source == ""), c.id
        assert c.paper_effect is None or np.sign(c.paper_effect) == c.direction, c.id


def test_cam_centroid_hand_values():
    from partreid_core.reporting.papers.plr_osnet import cam_centroid

    np.testing.assert_allclose(cam_centroid(np.array([[1.0, 0, 0, 0], [0, 0, 0, 2.0], [1, 1, 1, 1]])),
                               [0.125, 0.875, 0.5])
