"""CGPN chapter: sweeps within budget, artefacts covered, claims judged from records, hooks' arrays."""
from __future__ import annotations

import re
from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch

from partreid_core.analysis.chapter_hooks import cgpn as hooks
from partreid_core.analysis.hooks import HOOKS
from partreid_core.engine import records
from partreid_core.experiments.sweep import load_sweep, plan
from partreid_core.models import model_config
from partreid_core.reporting.papers import STATUSES
from partreid_core.reporting.papers import cgpn as chapter

ROOT = Path(__file__).resolve().parents[1]
SWEEP_DIR = ROOT / "partreid_core" / "experiments" / "sweeps" / "cgpn"
NOTEBOOK = ROOT / "notebooks" / "cgpn.py"
NOTES = Path(__file__).resolve().parents[2] / "shared" / "papers" / "cgpn.md"  # shared/ sits beside the checkout
#: the artefact checklist of the paper notes (cross-checked against them when they are present)
CHECKLIST = ["CGPN-T1", "CGPN-T2", "CGPN-F1", "CGPN-F2", "CGPN-F3", "CGPN-F4", "CGPN-F5", "CGPN-T2b",
             "CGPN-X1", "CGPN-X2", "CGPN-X3", "CGPN-X4", "CGPN-X5"]
#: the analysis hooks a chapter run may name
CHAPTER_HOOKS = {"cgpn_knobs", "cgpn_parts", "cgpn_single_window"}
#: measured cpu-profile minutes per run plus ~1.5 min for the two hooks
RUN_MINUTES = {"cgpn": 5.0 + 1.5, "mgn": 6.0 + 1.5}


def _sweeps():
    return {p.name: load_sweep(p) for p in sorted(SWEEP_DIR.glob("*.yaml"))}


def test_sweeps_plan_within_budget():
    sweeps = _sweeps()
    assert any(n.startswith("p1_") for n in sweeps) and all(n[:3] in ("p1_", "p2_") for n in sweeps)
    total, p1_minutes, names = 0, 0.0, set()
    for name, sw in sweeps.items():
        assert sw.profile == "cpu" and sw.recipe == "cgpn", name
        runs = plan(sw, seeds=[0, 1, 2])  # the base grid; seeds 3 and 4 are for the headline variants only
        total += len(runs)
        for _, cfg in runs:
            assert cfg.data.dataset == "synth-s" and cfg.model_overrides["backbone"]["width"] == 0.25
            assert {"cgpn_knobs", "cgpn_parts"} <= set(cfg.analysis) <= CHAPTER_HOOKS
            assert all(h in HOOKS for h in cfg.analysis)
            model_config(cfg.model, cfg.model_overrides)  # every variant's model config is valid
            names.add((sw.experiment, cfg.run_name))
            if name.startswith("p1_"):
                p1_minutes += RUN_MINUTES[cfg.model]
    assert total == len(names) <= 30
    assert p1_minutes <= 40.0
    p1 = sweeps["p1_supervision.yaml"]
    assert p1.seeds[:3] == [0, 1, 2] and set(p1.variants) == {"cgpn", "cgpn4_unsup"}


def test_claim_variants_exist_in_sweeps():
    known = set()
    for sw in _sweeps().values():
        prefix = chapter.OCCLUDED_PREFIX if sw.experiment == "cgpn-occluded" else ""
        assert sw.experiment in chapter.EXPERIMENTS
        known |= {prefix + v for v in sw.variants}
    for c in chapter.CLAIMS:
        assert {v.split(":")[0] for v in (c.treatment, c.baseline)} <= known, c.id  # "cgpn2_fine:coarse": one run
        assert c.artefact in chapter.ARTEFACTS


def test_mgn_variant_is_original_mgn_on_cgpn_loss():
    (_, cfg), *_ = plan(_sweeps()["p2_mgn.yaml"])
    mc = model_config(cfg.model, cfg.model_overrides)
    from partreid_core.experiments.config import resolve_config

    # MGN trained exactly like CGPN (the CGPN recipe's optimiser and joint update), only the model differs
    assert cfg.model == "mgn" and cfg.train.update == "joint"
    assert cfg.optim == resolve_config("cgpn", "cpu").optim and cfg.optim.lr == 0.01
    assert (mc.global_stride, mc.global_id_head, mc.triplet_fc) == (2, "reduced", False)
    assert (mc.loss.triplet_margin, mc.loss.reduce_terms, mc.loss.label_smoothing) == (1.2, "sum", 0.0)


def _code_cells() -> str:
    nb = jupytext.read(NOTEBOOK)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_artefacts_have_renderers_called_by_the_notebook():
    """Every artefact has a renderer that a code cell of the chapter calls, or (not run) a heading of its own."""
    ids = set(CHECKLIST)
    if NOTES.is_file():
        section = NOTES.read_text().split("## 11.")[1]
        assert set(re.findall(r"\*\*(CGPN-[A-Z]\d+b?)\*\*", section)) == ids
    assert set(chapter.ARTEFACTS) == ids
    assert set(chapter.ARTEFACTS.values()) <= set(STATUSES)
    code, text = _code_cells(), NOTEBOOK.read_text()
    for i in ids:
        if i in chapter.RENDERERS:
            for fn in chapter.RENDERERS[i]:
                assert re.search(rf"\bcgpn\.{fn.__name__}\(ch\b", code), (i, fn.__name__)
        else:
            assert chapter.ARTEFACTS[i] != "reproduced", i
            assert re.search(rf"^# #+ {re.escape(i)}\b", text, re.M), i


def test_notebook_is_narrative_plus_calls():
    """At most 250 non-empty code lines, no records read and no numbers computed in the notebook itself."""
    nb = jupytext.read(NOTEBOOK)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert sum(1 for c in code for ln in c.source.splitlines() if ln.strip()) <= 250
    src = _code_cells()
    for plumbing in ("load_analysis", "np.stack", "run_table", "groupby", "results_root", ".mean("):
        assert plumbing not in src, plumbing
    tags = [set(c.metadata.get("tags", [])) for c in code]
    assert all(t & {"remove-input", "remove-cell", "hide-input"} for t in tags)
    assert "glance.render(ch.glance(" in src


def test_table2_deltas_match_text():
    for (var, ref), stated in chapter.TABLE2B_TEXT.items():
        np.testing.assert_allclose(chapter.table2_deltas(var, ref), stated, atol=1e-9)
    assert chapter.TABLE2.value("CGPN-4", "CUHK03-labeled", "mAP") == 80.7
    assert chapter.TABLE1.value("SCP", "Market-1501", "mAP") is None       # the paper prints "-"
    assert set(chapter.TABLE2.rows) == set(chapter.T2_VARIANTS) == set(chapter.T2_ROWS)


def test_upper_split_and_cell_composition_by_hand():
    # heads b1c1, b1c2, b2c1, b2c2: (0.9 - 0.2 + 0.6 - 0.4) / 2 = 0.45
    assert chapter.upper_split(np.array([0.9, 0.2, 0.6, 0.4])) == pytest.approx(0.45)
    m = torch.zeros(1, 4, 2, dtype=torch.uint8)
    m[0, 0] = torch.tensor([1, 2])     # head, torso: upper
    m[0, 1] = torch.tensor([0, 3])     # background, upper arm
    m[0, 2] = torch.tensor([5, 7])     # upper leg, foot: lower
    m[0, 3] = torch.tensor([255, 6])   # unlabelled (background), lower leg
    comp = hooks._cell_composition(m, 2, 1)        # two cells of 2x2 pixels
    np.testing.assert_allclose(comp[0, :, 0, 0].numpy(), [0.25, 0.75, 0.0])
    np.testing.assert_allclose(comp[0, :, 1, 0].numpy(), [0.25, 0.0, 0.75])


def test_claims_table_empty_results(tmp_path):
    t = chapter.claims_table(tmp_path / "nothing")
    assert len(t) == len(chapter.CLAIMS)
    assert (t["verdict"] == "inconclusive").all()
    assert t["observed"].str.startswith("no records").all()


def _fake_run(root, experiment, variant, seed, m_ap, split, cam=0.1):
    path = records.run_dir(root, experiment, f"{variant}-s{seed}")
    records.write_config(path, {"model": "cgpn", "data": {"dataset": "synth-s"}, "profile": "cpu", "seed": seed},
                         {"seed": seed, "variant": variant, "device": "cpu"})
    lv = np.array(hooks.KNOB_LEVELS, np.float32)
    peak = np.zeros((3, 8, 3), np.float32)
    peak[0, :6:2, 1] = 0.5 + split  # conv_1 heads: upper share
    peak[0, 1:6:2, 1] = 0.5
    peak[..., 2] = 1.0 - peak[..., 1]  # the rest is lower body
    records.write_analysis(path, {
        "cgpn_knobs/levels": lv, "cgpn_knobs/occlusion_mAP": np.float32(m_ap) - 10 * lv,
        "cgpn_knobs/truncation_mAP": np.float32(m_ap) - 20 * lv,
        "cgpn_parts/peak_composition": peak, "cgpn_parts/cam_part_mass": np.full((3, 8, 8), cam, np.float32),
        "cgpn_single_window/height_frac": np.array([1.0, 0.5, 0.25], np.float32),
        "cgpn_single_window/holistic_mAP": np.array([60.0, 50.0, 40.0], np.float32),
        "cgpn_single_window/occluded_mAP": np.array([30.0, 25.0, 40.0 * (1 - split)], np.float32)})
    records.write_metrics(path, {"rank1": m_ap + 10, "mAP": m_ap, "mAP_trapezoid": m_ap - 1})


def test_claims_table_on_fake_records(tmp_path):
    for s, noise in enumerate((0.0, 0.3, -0.2)):
        _fake_run(tmp_path, "cgpn", "cgpn", s, 60.0 + noise, 0.3 + noise / 10)
        _fake_run(tmp_path, "cgpn", "cgpn4_unsup", s, 50.0 - noise, 0.0 + noise / 10, cam=0.0)  # all-zero CAMs
        _fake_run(tmp_path, "cgpn", "mgn", s, 65.0 + noise, 0.0)
    runs = chapter.run_table(tmp_path)
    assert len(runs) == 9
    assert runs.loc[runs["variant"] == "cgpn", "trunc90_mAP"].mean() == pytest.approx(60.0 + 0.1 / 3 - 18.0, abs=1e-4)
    # X3: the two local features lose 50% and 100 * split % of their mAP; the global one is left out
    cg = runs[runs["variant"] == "cgpn"].sort_values("seed")
    expected = [(50 + 100 * (0.3 + n / 10)) / 2 for n in (0.0, 0.3, -0.2)]
    np.testing.assert_allclose(cg["x3_local_loss"], expected, rtol=1e-4)
    t = chapter.claims_table(tmp_path).set_index("claim")
    assert t.loc["C3", "verdict"] == "confirmed"
    assert t.loc["C3-X1-trunc", "verdict"] == "confirmed"
    assert t.loc["C6", "verdict"] == "confirmed"
    assert t.loc["C7", "verdict"] == "contradicted"           # MGN clearly better: the opposite direction
    assert t.loc["C1", "verdict"] == "inconclusive" and t.loc["C1", "observed"].startswith("no records")
    assert t.loc["C6-cam", "verdict"] == "inconclusive"
    assert t.loc["C6-cam", "observed"] == "no x2_cam_split values (cgpn4_unsup)"
    assert list(t.loc["C3", "seeds"]) == [0, 1, 2]            # the seed column reaches the paired test
    assert t.loc["C7", "paper_effect"] == pytest.approx(3.0) and t.loc["C7", "headline"]


def test_single_window_pseudo_variants_are_exactly_paired(tmp_path):
    """CGPN-X3 within one checkpoint: the half-height stripe (height 0.5) keeps 25 of 50, the quarter stripe
    (height 0.25) 40 * (1 - split) of 40; each run gives one row of each pseudo-variant, with its seed."""
    for s, split in enumerate((0.5, 0.55, 0.45)):
        _fake_run(tmp_path, "cgpn", "cgpn2_fine", s, 55.0, split)
    values = chapter.tidy_values(chapter.run_table(tmp_path))
    coarse = values[values["variant"] == "cgpn2_fine:coarse"].sort_values("seed")
    fine = values[values["variant"] == "cgpn2_fine:fine"].sort_values("seed")
    assert list(coarse["seed"]) == list(fine["seed"]) == [0, 1, 2]
    np.testing.assert_allclose(coarse["x3_local_occ_mAP"], 25.0)
    np.testing.assert_allclose(fine["x3_local_loss"], [50.0, 55.0, 45.0], rtol=1e-4)
    t = chapter.claims_table(tmp_path).set_index("claim")
    assert t.loc["C8-height", "design"] == "exact-paired"
    assert t.loc["C8-height", "difference"] == pytest.approx(0.0, abs=1e-3)       # 50 % vs 50 % on average
    assert t.loc["C8-height-occ", "difference"] == pytest.approx(25.0 - 20.0, abs=1e-3)


def test_claims_are_classified_as_the_paper_states_them():
    by_id = {c.id: c for c in chapter.CLAIMS}
    assert len(by_id) == len(chapter.CLAIMS)
    assert {c.id for c in chapter.CLAIMS if c.headline} == {"C1", "C2", "C3", "C4", "C7"}
    for c in chapter.CLAIMS:
        assert (c.paper_effect is None) == (c.paper_source == ""), c.id
        assert c.paper_effect is None or np.sign(c.paper_effect) == c.direction, c.id
        assert (c.design == "exact-paired") == (c.treatment.split(":")[0] == c.baseline.split(":")[0]), c.id
    # robustness on absolute mAP at the hardest level; the relative loss (C8) only beside an absolute claim (C8-occ)
    assert all(c.metric.endswith("_mAP") for c in chapter.CLAIMS if "-X1-" in c.id)
    assert by_id["C8-occ"].metric == "x3_local_occ_mAP" and by_id["C8-height-occ"].metric == "x3_local_occ_mAP"


@pytest.fixture(scope="module")
def smoke_context(tmp_path_factory):
    """A CGPN trained with the smoke profile (seconds) and its AnalysisContext."""
    from partreid_core.data import build_dataset
    from partreid_core.engine.hooks import AnalysisContext
    from partreid_core.engine.trainer import checkpoint_path
    from partreid_core.experiments.config import resolve_config
    from partreid_core.experiments.runs import train_experiment

    tmp = tmp_path_factory.mktemp("cgpn-smoke")
    cfg = resolve_config("cgpn", "smoke", {"experiment": "t", "run": "r"})
    train_experiment(cfg, out=tmp / "results")  # the checkpoint goes under $PARTREID_CHECKPOINTS (conftest)
    from partreid_core.models import build_model

    ds = build_dataset(cfg.data.dataset, **cfg.data.dataset_kwargs)
    q, g = (ds.load_split(s, tuple(cfg.data.size)) for s in ("query", "gallery"))
    state = torch.load(checkpoint_path(cfg, tmp / "results"), map_location="cpu", weights_only=False)
    model = build_model(cfg.model, state["num_classes"], cfg.model_overrides)
    model.load_state_dict(state["model"])
    return AnalysisContext(model.eval(), None, q, g, cfg, torch.device("cpu"), None)


def test_knob_hook_shapes(smoke_context):
    out = hooks.cgpn_knobs(smoke_context)
    n = len(hooks.KNOB_LEVELS)
    assert out["levels"].shape == (n,)
    for knob in hooks.KNOBS:
        for key in ("mAP", "rank1", "mAP_trapezoid"):
            v = out[f"{knob}_{key}"]
            assert v.shape == (n,) and np.all((v >= 0) & (v <= 100))
        assert out[f"{knob}_mAP"][0] == out["occlusion_mAP"][0]  # the clean level is shared


def test_parts_hook_shapes(smoke_context):
    out = hooks.cgpn_parts(smoke_context)
    k, j = len(hooks.CONDITIONS), len(hooks.HEAD_NAMES)
    h, w = smoke_context.config.data.size
    assert out["peak_composition"].shape == (k, j, 3) and out["area_share"].shape == (k, 3)
    np.testing.assert_allclose(out["peak_composition"].sum(-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(out["area_share"].sum(-1), 1.0, atol=1e-4)
    assert out["cam_part_mass"].shape == (k, j, 8) and out["head_target_cos"].shape == (k, 6)
    e = out["example_images"].shape[0]
    assert out["example_images"].shape == (e, 3, h, w) and out["example_cams"].shape == (e, j, h, w)
    assert out["example_masks"].shape == (e, h, w) and e == k * hooks.N_EXAMPLES_PER_CONDITION
    # an MGN has no two-conv global head: nothing to measure
    from partreid_core.models import build_model

    ctx = smoke_context
    mgn = build_model("mgn", 16, {"backbone": {"width": 0.25}}).eval()
    assert hooks.cgpn_parts(type(ctx)(mgn, None, ctx.query, ctx.gallery, ctx.config, ctx.device)) == {}


def test_single_window_hook_and_fractions(smoke_context):
    assert hooks.window_fraction("N4[2]/stripes1-3of4") == 0.75 and hooks.window_fraction("N2[0]/global") == 1.0
    with pytest.raises(ValueError, match="not a CGPN feature name"):
        hooks.window_fraction("B1G")
    out = hooks.cgpn_single_window(smoke_context)
    names = list(smoke_context.model.feature_names)
    assert list(out["names"]) == names and out["height_frac"].shape == (len(names),)
    for cond in hooks.WINDOW_CONDITIONS:
        for key in ("mAP", "rank1"):
            v = out[f"{cond}_{key}"]
            assert v.shape == (len(names),) and np.all((v >= 0) & (v <= 100))
    a = {f"cgpn_single_window/{k}": v for k, v in out.items()}
    losses = chapter.window_losses(a)
    np.testing.assert_allclose(losses, 100 * (1 - out["occluded_mAP"] / out["holistic_mAP"]), rtol=1e-5)
