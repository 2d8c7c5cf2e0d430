"""PAL chapter: sweeps within budget, hooks on smoke-trained models, claims table (renderers: test_renderers_pal)."""
from __future__ import annotations

from pathlib import Path

import pytest

from partreid_core.experiments.sweep import load_sweep, plan
from partreid_core.reporting.papers import STATUSES

SWEEPS = Path(__file__).resolve().parents[1] / "partreid_core" / "experiments" / "sweeps" / "pal"
#: measured cpu-profile cost of one run (minutes, CHAPTER.md) by model
RUN_MINUTES = {"globalpool": 1.5, "globalpool_ps": 1.5, "pcb": 1.5, "pcb_ps": 1.5, "mgn": 6.0, "mgn_ps": 6.0}


def _planned():
    return {f.name: plan(load_sweep(f), seeds=[0, 1, 2]) for f in sorted(SWEEPS.glob("*.yaml"))}


def test_sweeps_plan_within_budget():
    planned = _planned()
    assert set(planned) >= {"p1_globalpool.yaml", "p1_pcb.yaml", "p2_pcb.yaml", "p2_mgn.yaml", "p3_pcb.yaml",
                            "p3_globalpool.yaml"}
    runs = [cfg for cfgs in planned.values() for _, cfg in cfgs]
    assert sum(1 for name, cfgs in planned.items() if not name.startswith(("p3_", "p4_", "p5_")) for _ in cfgs) <= 30
    # priorities 3 and 4 hold only the cheap single-branch models (GP on other backbones too); 5 is MGN's lambda panel
    assert {cfg.model for name, cfgs in planned.items() if name.startswith("p5_") for _, cfg in cfgs} == {"mgn_ps"}
    assert {cfg.model for name, cfgs in planned.items() if name.startswith(("p3_", "p4_")) for _, cfg in cfgs} <= {
        "globalpool", "globalpool_ps", "pcb_ps"}
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
    assert by_variant["pcb_ps_g4"].model_overrides["ps"]["granularity"] == "4"
    assert by_variant["pcb_ps_head_d"].model_overrides["ps"]["head_type"] == "d"
    assert by_variant["globalpool_ps_noise1"].model_overrides["ps"]["label_noise"] == 1.0
    assert by_variant["pcb_ps_head_a"].model_overrides["ps"]["head_type"] == "a"
    assert "pal_grad_cam" in by_variant["mgn_ps"].analysis


# ---------------------------------------------------------------------------------------------------
# reporting: artefacts, claims
# ---------------------------------------------------------------------------------------------------
import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from partreid_core.analysis.chapter_hooks import pal as hooks  # noqa: E402
from partreid_core.reporting import VERDICTS  # noqa: E402
from partreid_core.reporting.papers import pal  # noqa: E402

#: the paper's artefacts: Tables I-IX and Figs. 1-15
CHECKLIST = [f"PAL-T{i}" for i in range(1, 10)] + [f"PAL-F{i}" for i in range(1, 16)]


def test_every_checklist_artefact_has_a_status():
    assert set(pal.ARTEFACTS) == set(CHECKLIST)
    assert set(pal.ARTEFACTS.values()) <= set(STATUSES)


def test_claims_use_sweep_variants_and_paper_convention():
    variants = {v for cfgs in _planned().values() for v, _ in cfgs} | {pal.CHANCE}
    for c in pal.CLAIMS:
        assert c.treatment in variants and c.baseline in variants, c.id
        assert c.artefact in pal.ARTEFACTS
    assert len({c.id for c in pal.CLAIMS}) == len(pal.CLAIMS)
    assert all(c.metric != "mAP" for c in pal.CLAIMS)  # PAL (EANet code) uses the trapezoid AP
    assert set(pal.EXPERIMENTS) == {load_sweep(SWEEPS / f).experiment for f in pal.SWEEP_FILES}


def test_claims_are_annotated_for_the_verdict_rule():
    by_id = {c.id: c for c in pal.CLAIMS}
    # the headline claims fixed before the five-seed runs were analysed
    assert set(pal.HEADLINE) == {"C1-gp-mAP", "C1-pcb-mAP", "C1-mgn-mAP", "C3-pcb", "C10-mgn"}
    assert {i for i, c in by_id.items() if c.kind == "sanity"} == {"C11-pcb", "C11-pcb-acc"}
    assert by_id["C3-pcb"].kind == "mechanism"
    assert {i for i, c in by_id.items() if c.hypothesis == "equivalence"} == {"C9-exact", "C9-style",
                                                                               "C9-exact-vs-predicted"}
    assert {i for i, c in by_id.items() if c.design == "exact-paired"} == {"C11-pcb", "C11-pcb-acc"}
    for c in pal.CLAIMS:  # the paper's own effect always comes with where it is
        assert (c.paper_effect is None) == (c.paper_source == ""), c.id
        if c.paper_effect is not None and c.hypothesis == "directional":
            assert np.sign(c.paper_effect) == c.direction, c.id
    assert by_id["C1-pcb-mAP"].paper_effect == pal.F6_DELTAS["pcb"]["Market1501"][1]


def test_claims_table_without_records_is_all_inconclusive(tmp_path):
    table = pal.claims_table(tmp_path / "nothing-here")
    assert len(table) == len(pal.CLAIMS)
    assert set(table["verdict"]) == {"inconclusive"}
    assert table["observed"].str.startswith("no records").all()


def _fake_run(root: Path, experiment: str, variant: str, seed: int, metrics: dict, arrays: dict | None = None):
    path = root / experiment / f"{variant}-s{seed}"
    path.mkdir(parents=True)
    cfg = {"model": variant.split("_lambda")[0], "profile": "cpu", "data": {"dataset": "synth-s"}, "train": {}}
    (path / "config.json").write_text(json.dumps({"config": cfg, "seed": seed, "variant": variant}))
    if arrays:
        np.savez(path / "analysis.npz", **arrays)
    (path / "metrics.json").write_text(json.dumps(metrics))


def _sim(off: float) -> np.ndarray:
    m = np.full((6, 6), off, dtype=np.float32)
    np.fill_diagonal(m, 1.0)
    return m


def test_claims_table_on_fake_records_judges_effects(tmp_path):
    for seed, (r_base, r_ps) in enumerate([(50.0, 60.0), (51.0, 61.0), (49.0, 62.0)]):
        _fake_run(tmp_path, "pal-pcb", "pcb", seed, {"rank1": r_base, "mAP_trapezoid": 30.0 + seed},
                  {"part_similarity/matrix": _sim(0.86 + 0.001 * seed)})
        _fake_run(tmp_path, "pal-pcb", "pcb_ps", seed, {"rank1": r_ps, "mAP_trapezoid": 30.0 - seed},
                  {"part_similarity/matrix": _sim(0.82 + 0.001 * seed)})
    table = pal.claims_table(tmp_path).set_index("claim")
    assert set(table["verdict"]) <= set(VERDICTS)
    assert table.loc["C1-pcb-R1", "verdict"] == "confirmed"
    assert table.loc["C3-pcb", "verdict"] == "confirmed"         # lower similarity is the expected direction
    assert table.loc["C1-pcb-mAP", "verdict"] == "inconclusive"  # +-1 per seed around the same mean
    assert table.loc["C1-pcb-R1", "seeds"] == [0, 1, 2] and table.loc["C1-pcb-R1", "design"] == "paired"
    assert table.loc["C1-pcb-R1", "treatment_values"] == [60.0, 61.0, 62.0]
    assert table.loc["C3-pcb", "kind"] == "mechanism" and table.loc["C3-pcb", "headline"]
    assert table.loc["C1-gp-R1", "observed"].startswith("no records")
    assert pal.claims_table(tmp_path, profile="gpu")["verdict"].eq("inconclusive").all()


def test_derived_metrics_by_hand():
    cm = np.array([[30, 10], [5, 55]])
    d = pal.derived_metrics({"part_similarity/matrix": _sim(0.5), "pal_segmentation/confusion": cm,
                             "pal_segmentation/pixel_accuracy": np.float32(0.85),
                             "pal_segmentation/miou": np.float32(0.7),
                             "pal_single_part/rank1": np.array([10.0, 20.0, 30.0]),
                             "pal_single_part/mAP_trapezoid": np.array([1.0, 2.0, 6.0]),
                             "pal_grad_cam/coverage": np.array([1.0, 3.0])})
    assert d["mean_off_diagonal"] == pytest.approx(0.5) and d["mean_adjacent"] == pytest.approx(0.5)
    assert d["seg_chance_accuracy"] == pytest.approx(60.0)      # class 1 holds 60 of 100 pixels
    assert d["seg_chance_miou"] == pytest.approx(30.0)          # IoU 0.6 on class 1, 0 on class 0
    assert d["seg_pixel_accuracy"] == pytest.approx(85.0)
    assert d["part_rank1_mean"] == pytest.approx(20.0) and d["part_mAP_mean"] == pytest.approx(3.0)
    assert d["cam_coverage"] == pytest.approx(2.0) and "xd_rank1" not in d


# ---------------------------------------------------------------------------------------------------
# hooks on smoke-trained models
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_pcb_ps(tmp_path_factory):
    from partreid_core.experiments.config import resolve_config
    from partreid_core.experiments.runs import train_experiment

    tmp = tmp_path_factory.mktemp("pal-smoke")
    cfg = resolve_config("pal_pcb", "smoke", {
        "model": "pcb_ps", "experiment": "pal-test", "run": "pcb_ps-s0",
        "analysis": ["part_similarity", "pal_segmentation", "pal_single_part", "pal_cross_domain", "pal_grad_cam"],
        "train": {"checkpoint_dir": str(tmp / "ckpt")}})
    return train_experiment(cfg, out=tmp / "results", variant="pcb_ps").path


def test_hooks_on_smoke_trained_pcb_ps(smoke_pcb_ps):
    from partreid_core.engine.records import load_analysis

    a = load_analysis(smoke_pcb_ps)
    assert a["part_similarity/matrix"].shape == (6, 6)
    assert a["pal_segmentation/iou"].shape == (8,) and a["pal_segmentation/confusion"].shape == (8, 8)
    assert 0.0 <= float(a["pal_segmentation/pixel_accuracy"]) <= 1.0
    e = hooks.SEG_EXAMPLES
    assert a["pal_segmentation/images"].shape == (e, 3, 64, 32)
    assert a["pal_segmentation/pred"].shape == a["pal_segmentation/target"].shape == (e, 64, 32)
    assert a["pal_segmentation/pred"].max() < 8
    assert list(a["pal_single_part/names"]) == [f"S{j}" for j in range(1, 7)]
    assert a["pal_single_part/rank1"].shape == (6,)
    assert str(a["pal_cross_domain/target_domain"]) == "B"
    assert 0.0 <= float(a["pal_cross_domain/rank1"]) <= 100.0
    assert not any(k.startswith("pal_grad_cam/") for k in a)   # Grad-CAM is MGN's (PAL-F10)


def test_grad_cam_and_single_part_on_smoke_mgn_ps():
    from partreid_core.data import build_dataset
    from partreid_core.engine.hooks import AnalysisContext
    from partreid_core.experiments.config import resolve_config
    from partreid_core.models.registry import build_model

    cfg = resolve_config("pal_mgn", "smoke", {"model": "mgn_ps"})
    ds = build_dataset(cfg.data.dataset)
    train_split, query, gallery = (ds.load_split(s, tuple(cfg.data.size)) for s in ("train", "query", "gallery"))
    model = build_model("mgn_ps", int(train_split.pids.unique().numel()), cfg.model_overrides).eval()
    ctx = AnalysisContext(model, train_split, query, gallery, cfg, torch.device("cpu"))
    cam = hooks.pal_grad_cam(ctx)
    k = min(hooks.CAM_PROBES, len(train_split))
    assert cam["coverage"].shape == cam["entropy"].shape == cam["body_mass"].shape == (k,)
    assert cam["part_mass"].shape == (k, 8)
    total = cam["part_mass"].sum(1)   # a fraction per class: 1 in all, or 0 for an all-zero CAM
    assert (np.isclose(total, 1.0, atol=1e-4) | np.isclose(total, 0.0)).all()
    assert cam["cams"].shape == (hooks.CAM_EXAMPLES, 64, 32) and cam["cams"].dtype == np.float16
    assert ((cam["coverage"] >= 0) & (cam["coverage"] <= 7)).all()
    # the score is branch 2's global logits: one per training identity
    scores = hooks.mgn_branch2_global_logits(model.base)(torch.zeros(2, 3, 64, 32))
    assert scores.shape == (2, int(train_split.pids.unique().numel()))
    assert hooks.part_blocks(model) == ["B1G", "B2G", "B3G", "B2S1", "B2S2", "B3S1", "B3S2", "B3S3"]


def test_hook_guards():
    with pytest.raises(ValueError, match="domain must be 'A' or 'B'"):
        hooks.other_domain("C")
    assert hooks.other_domain("A") == "B" and hooks.other_domain("B") == "A"
    idx = hooks._probe_indices(100, 32)
    assert len(idx) == 32 and idx[0] == 0 and idx[-1] == 99
