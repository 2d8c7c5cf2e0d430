"""MPN chapter: sweeps within budget, artefact coverage, claims from records, analysis hooks."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from partreid_core.analysis.chapter_hooks import mpn as hooks
from partreid_core.config import merge
from partreid_core.engine import records
from partreid_core.experiments.sweep import load_sweep, plan
from partreid_core.models.mpn import MPN_VARIANTS, MPNConfig
from partreid_core.reporting.papers import STATUSES
from partreid_core.reporting.papers import mpn as chapter

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "partreid_core/experiments/sweeps/mpn").glob("*.yaml"))
NOTEBOOK = ROOT / "notebooks/mpn.py"
SPEC = Path(__file__).resolve().parents[2] / "shared" / "papers" / "mpn.md"  # shared/ sits beside the checkout
CHECKLIST = [f"MPN-T{i}" for i in range(1, 9)] + [f"MPN-F{i}" for i in range(1, 10)] + \
    [f"MPN-X{i}" for i in range(1, 6)]
#: measured cpu-profile minutes per run on one core (CHAPTER brief: mpn about 4; the Baseline and
#: MT Only skip one of the two branch families, so they cost less; 4 is an upper bound here)
MINUTES_PER_RUN = 4.0


def _planned():
    return {p: plan(load_sweep(p), seeds=[0, 1, 2]) for p in SWEEPS}  # base grid; seeds 3-4: headline only


def test_sweeps_load_and_plan_within_budget():
    planned = _planned()
    assert SWEEPS and all(p.name[:3] in ("p1_", "p2_") for p in SWEEPS)
    runs = [cfg for grid in planned.values() for _, cfg in grid]
    assert len(runs) <= 30
    assert all(cfg.profile == "cpu" and cfg.model == "mpn" for cfg in runs)
    p1 = [cfg for p, grid in planned.items() if p.name.startswith("p1_") for _, cfg in grid]
    assert len(p1) * MINUTES_PER_RUN <= 40
    names = [(cfg.experiment, cfg.run_name) for cfg in runs]
    assert len(set(names)) == len(names), "two sweeps write the same run"
    for _, grid in planned.items():
        for _variant, cfg in grid:
            assert cfg.seed in (0, 1, 2)
            assert {"mpn_misalignment", "mpn_channels", "mpn_gradcam"} <= set(cfg.analysis)
            overrides = {k: v for k, v in cfg.model_overrides.items() if k != "backbone"}
            merge(MPNConfig(), overrides)  # a strict, valid MPNConfig


def test_variants_match_the_named_model_variants():
    """The sweep variants are exactly the model file's Table 1 rows (MPN_VARIANTS)."""
    by_name = {}
    for grid in _planned().values():
        for variant, cfg in grid:
            by_name[variant] = {k: v for k, v in cfg.model_overrides.items() if k != "backbone"}
    for ours, theirs in [("baseline", "T1/baseline"), ("mt_only", "T1/mt_only"), ("naive_mtl", "T1/naive_mtl"),
                         ("c1s_c2s", "T1/c1s_c2s"), ("mpn_noca", "T1/mpn_noca"), ("mpn", "T1/mpn")]:
        assert merge(MPNConfig(), by_name[ours]) == merge(MPNConfig(), MPN_VARIANTS[theirs]), ours
    claimed = {v.split(":")[0] for c in chapter.CLAIMS for v in (c.treatment, c.baseline)} - {chapter.CHANCE}
    assert claimed <= set(by_name), f"claims name variants no sweep runs: {claimed - set(by_name)}"
    assert {cfg.experiment for grid in _planned().values() for _, cfg in grid} == set(chapter.EXPERIMENTS)


def _code_lines(text: str) -> int:
    """Non-empty lines of the ``# %%`` code cells of a py:percent notebook (markdown cells left out)."""
    cells = re.split(r"^# %%", text, flags=re.M)[1:]
    return sum(sum(1 for line in body.splitlines() if line.strip())
               for head, _, body in (c.partition("\n") for c in cells) if "[markdown]" not in head)


def test_every_checklist_id_is_an_artefact_with_a_renderer_or_a_heading():
    """Each artefact of the checklist is shown: its renderers are called by the chapter, or (for the artefacts
    described in prose only) it has a heading of its own; nothing the module renders is left off the page."""
    ids = CHECKLIST
    if SPEC.is_file():
        section = SPEC.read_text().split("## 11.")[-1]
        ids = sorted(set(re.findall(r"\*\*(MPN-[TFX]\d+)\*\*", section)))
        assert set(ids) == set(CHECKLIST)
    assert set(chapter.ARTEFACTS) == set(ids)
    assert set(chapter.ARTEFACTS.values()) <= set(STATUSES)
    assert set(chapter.RENDERERS) <= set(ids)
    text = NOTEBOOK.read_text()
    headings = set(re.findall(r"^# #+ (MPN-[TFX]\d+)\b", text, flags=re.M))
    called = set(re.findall(r"^mpn\.(\w+)\(ch\)", text, flags=re.M))
    for artefact in ids:
        fns = chapter.RENDERERS.get(artefact, ())
        assert fns or artefact in headings, f"{artefact} has neither a renderer nor a heading"
        missing = [f.__name__ for f in fns if f.__name__ not in called]
        assert not missing, f"{artefact}: notebooks/mpn.py does not call {missing}"
    assert _code_lines(text) <= 250


def test_claims_table_on_empty_results(tmp_path):
    table = chapter.claims_table(tmp_path / "nothing")
    assert len(table) == len(chapter.CLAIMS)
    assert (table["verdict"] == "inconclusive").all()
    assert table["observed"].str.startswith("no records").all()


def _fake_run(root: Path, experiment: str, variant: str, seed: int, metrics: dict, arrays: dict | None = None):
    path = records.run_dir(root, experiment, f"{variant}-s{seed}")
    records.write_config(path, {"model": "mpn", "profile": "cpu", "data": {"dataset": "synth-s"}},
                         {"seed": seed, "variant": variant, "device": "cpu"})
    if arrays:
        records.write_analysis(path, arrays)
    records.write_metrics(path, metrics)


def test_claims_table_on_fake_records(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(3):
        for variant, ap, drop in (("baseline", 40.0, 20.0), ("mt_only", 50.0, 5.0)):
            level = np.array([ap + drop / 2, ap, ap - drop / 3, ap - drop / 2], dtype=np.float32)
            _fake_run(tmp_path, "mpn-t1", variant, seed,
                      {"mAP": ap + 3, "mAP_trapezoid": ap + rng.normal(0, 0.3), "rank1": ap + 10},
                      {"mpn_misalignment/levels": np.array([0, .3, .6, .9], np.float32),
                       "mpn_misalignment/mAP_trapezoid": level + rng.normal(0, 0.2, 4).astype(np.float32)})
    table = chapter.claims_table(tmp_path).set_index("claim")
    assert table.loc["C2-mt-only", "verdict"] == "confirmed"      # 50 vs 40, tiny spread
    assert table.loc["C1-mt-only", "verdict"] == "confirmed"      # drop 5 vs 20, expected lower
    # ... and beside it the absolute claim at the hardest level: 47.5 vs 30 at misalignment 0.9
    assert table.loc["C1-mt-only-0.9", "verdict"] == "confirmed"
    assert table.loc["C1-mt-only-0.9", "difference"] == pytest.approx(17.5, abs=1.0)
    assert table.loc["C2-mpn-baseline", "verdict"] == "inconclusive"
    assert table.loc["C2-mpn-baseline", "observed"] == "no records (mpn)"
    assert list(table.loc["C2-mt-only", "seeds"]) == [0, 1, 2]


def test_claims_are_classified_as_the_paper_states_them():
    by_id = {c.id: c for c in chapter.CLAIMS}
    assert len(by_id) == len(chapter.CLAIMS)
    assert {c.id for c in chapter.CLAIMS if c.headline} == {"C2-mpn-baseline", "C2-mt-only", "C2-mpn-mt-only",
                                                           "C2-cf", "C1-mpn-0.9"}
    for c in chapter.CLAIMS:
        assert (c.paper_effect is None) == (c.paper_source == ""), c.id
        assert c.paper_effect is None or np.sign(c.paper_effect) == c.direction, c.id
        # two descriptors of one run, or a run against chance, are exactly paired; variants are paired by seed
        one_checkpoint = c.treatment.split(":")[0] == c.baseline.split(":")[0] or chapter.CHANCE in (c.treatment,
                                                                                                     c.baseline)
        assert (c.design == "exact-paired") == one_checkpoint, c.id
    assert {c.id for c in chapter.CLAIMS if c.id.startswith(("C7", "C8", "C9"))} == \
        {c.id for c in chapter.CLAIMS if c.kind == "mechanism"}
    # every "loses less" claim sits right after an absolute claim at the hardest level on the same two variants
    ids = [c.id for c in chapter.CLAIMS]
    for c in chapter.CLAIMS:
        if c.metric == "x1_mAP_drop":
            prev = chapter.CLAIMS[ids.index(c.id) - 1]
            assert prev.metric == "x1_mAP_0.9" and (prev.treatment, prev.baseline) == (c.treatment, c.baseline)


def _hit_run(root, variant, seed, own):
    k = len(own)
    _fake_run(root, "mpn-t1", variant, seed, {"mAP_trapezoid": 50.0},
              {"mpn_gradcam/mean_correlation": np.full(k, 0.3), "mpn_gradcam/strip_mass": _strip_mass(own, n=4),
               "mpn_gradcam/cam_height": np.tile(np.linspace(0.1, 0.9, k)[:, None], (1, 4))})


def test_hit_rate_at_chance_is_no_effect(tmp_path):
    """The review's case: MPN 0.167 vs MT Only 0.158 hit rate with K = 6 (chance 1/6) confirms nothing."""
    for seed, noise in enumerate((0.0, 0.002, -0.002)):
        _hit_run(tmp_path, "mpn", seed, [0.167 + noise] * 6)
        _hit_run(tmp_path, "mt_only", seed, [0.158 + noise / 2] * 6)
    t = chapter.claims_table(tmp_path).set_index("claim")
    assert t.loc["C7-hit", "difference"] == pytest.approx(0.009, abs=2e-3)
    assert t.loc["C7-hit", "verdict"] == "no effect"              # inside the hit-rate margin
    assert t.loc["C7-hit-chance", "difference"] == pytest.approx(0.167 - 1 / 6, abs=2e-3)
    assert t.loc["C7-hit-chance", "verdict"] == "no effect"       # MPN itself sits at chance


def _strip_mass(own: list[float], n: int) -> np.ndarray:
    """(K, n, K + 1) masses: part k puts ``own[k]`` on its strip and the rest outside the ROI."""
    k = len(own)
    m = np.zeros((k, n, k + 1))
    for p, v in enumerate(own):
        m[p, :, p + 1], m[p, :, 0] = v, 1 - v
    return m


def test_run_derived_hand_worked():
    arrays = {"mpn_misalignment/mAP_trapezoid": np.array([60.0, 50.0, 45.0, 35.0]),
              "mpn_gradcam/mean_correlation": np.array([0.2, 0.4]),
              "mpn_gradcam/strip_mass": _strip_mass([0.1, 0.3, 0.5], n=2),
              "mpn_gradcam/cam_height": np.array([[0.1, 0.3], [0.4, 0.6], [0.7, 0.9]]),
              "mpn_channels/part_height": np.array([0.2, 0.3, 0.4])}
    d = chapter.run_derived(arrays)
    assert d["x1_mAP_drop"] == pytest.approx(25.0) and d["x1_mAP_0.9"] == pytest.approx(35.0)
    assert d["x4_cam_correlation"] == pytest.approx(0.3) and d["x4_hit_rate"] == pytest.approx(0.3)
    assert d["x4_cam_height_slope"] == pytest.approx(0.3) and d["x3_height_slope"] == pytest.approx(0.1)
    assert np.isnan(chapter.run_derived({})["x1_mAP_drop"])


def test_strip_labels_hand_worked():
    masks = torch.zeros(2, 10, 3, dtype=torch.uint8)
    masks[0, 2:8, 1] = 3            # body rows 2..7: six rows, one per strip of K = 3 -> two rows each
    masks[1] = 255                  # no label at all: ROI falls back to the whole image
    top, bot, valid = hooks.body_rows(masks)
    assert top.tolist() == [2, 0] and bot.tolist() == [7, 9] and valid.tolist() == [True, False]
    lab = hooks.strip_labels(masks, 3)
    assert lab.shape == (2, 10, 3)
    assert lab[0, :, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 0, 0]
    assert (lab[0] == lab[0, :, :1]).all()  # full width


def test_cam_strip_scores_hand_worked():
    masks = torch.zeros(1, 6, 2, dtype=torch.uint8)
    masks[0, :, 0] = 1                                  # body over all 6 rows -> strips of 2 rows (K = 3)
    cams = np.zeros((3, 1, 6, 2), np.float32)
    for k in range(3):
        cams[k, 0, 2 * k:2 * k + 2] = 1.0               # part task k exactly on its own strip
    s = hooks.cam_strip_scores(cams, masks)
    assert s["strip_mass"].shape == (3, 1, 4)
    np.testing.assert_allclose(s["hit_rate"], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(s["cam_height"][:, 0], [1 / 6, 3 / 6, 5 / 6], atol=1e-6)
    assert s["mean_correlation"][0] < 0                 # disjoint maps are anti-correlated
    same = np.repeat(cams[:1], 3, axis=0)
    assert hooks.cam_strip_scores(same, masks)["mean_correlation"][0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke-profile MPN run with the chapter's hooks (a few seconds)."""
    from partreid_core.experiments.config import resolve_config
    from partreid_core.experiments.runs import train_experiment

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("mpn-smoke")
    sweep = load_sweep(ROOT / "partreid_core/experiments/sweeps/mpn/p1_t1.yaml")
    cfg = resolve_config("mpn", "smoke", {"analysis": sweep.set["analysis"], "experiment": "mpn-t1", "run": "mpn-s0",
                                          "train": {"checkpoint_dir": str(tmp / "ck")}})
    result = train_experiment(cfg, out=tmp / "results", device="cpu", variant="mpn")
    return result.path, cfg


def test_hooks_on_a_smoke_trained_model(smoke_run):
    path, cfg = smoke_run
    a = records.load_analysis(path)
    k, h, w = 6, *cfg.data.size
    c = 2048 // 4  # width-0.25 ResNet-50 output channels
    assert a["mpn_misalignment/levels"].tolist() == pytest.approx(list(hooks.MISALIGNMENT_LEVELS))
    assert a["mpn_misalignment/mAP_trapezoid"].shape == (4,)
    # the default level (0.3) reproduces the run's own evaluation without re-ranking
    metrics = json.loads((path / "metrics.json").read_text())
    assert a["mpn_misalignment/mAP"][1] == pytest.approx(metrics["mAP"], abs=1e-3)
    assert a["mpn_channels/importance"].shape == (k, c)
    assert a["mpn_channels/channel_height"].shape == (c,) and a["mpn_channels/part_height"].shape == (k,)
    n = a["mpn_gradcam/query_index"].shape[0]
    assert 0 < n <= hooks.N_CAM_IMAGES
    assert a["mpn_gradcam/strip_mass"].shape == (k, n, k + 1)
    sums = a["mpn_gradcam/strip_mass"].sum(2)  # 1 per CAM, NaN for an empty (all-zero) CAM
    assert np.isfinite(sums).any()
    np.testing.assert_allclose(sums[np.isfinite(sums)], 1.0, atol=1e-4)
    assert a["mpn_gradcam/hit_rate"].shape == (k,) and a["mpn_gradcam/correlation"].shape == (k, k)
    assert a["mpn_gradcam/maps"].shape == (min(n, hooks.N_CAM_MAPS), k, h, w)
    assert a["mpn_gradcam/images"].shape == (min(n, hooks.N_CAM_MAPS), 3, h, w)
    assert a["mpn_test_prior/at_mAP"].shape == (len(hooks.TEST_PRIOR_NOISE),) and a["mpn_test_prior/mt_mAP"].shape == ()
    assert 0 <= float(a["mpn_test_prior/mt_mAP"]) <= 100
    ch = a["mpn_channel_maps/channels"]
    assert ch.shape == (hooks.HEIGHT_BINS,) and ((ch >= -1) & (ch < c)).all()
    assert a["mpn_channel_maps/all_peak_std"].shape == (c,)
    assert a["mpn_channel_maps/maps"].shape[1] == hooks.HEIGHT_BINS
    assert list(a["mpn_nuisance_cams/groups"]) == list(hooks.NUISANCES)
    for g in hooks.NUISANCES:
        key = g.replace(" ", "_")
        assert a[f"mpn_nuisance_cams/{key}/hit_rate"].shape == (k,)
        maps = a[f"mpn_nuisance_cams/{key}/maps"]
        assert maps.shape[1:] == (k, h, w) and maps.shape[0] == a[f"mpn_nuisance_cams/{key}/images"].shape[0] <= 2
    derived = chapter.run_derived(a)
    assert all(np.isfinite(v) for v in derived.values())


def test_at_features_are_reproducible_and_leave_the_rng_alone(smoke_run):
    from partreid_core.engine.trainer import checkpoint_path, load_splits
    from partreid_core.experiments.robustness import load_trained

    path, cfg = smoke_run
    model, _ = load_trained(checkpoint_path(cfg, path.parents[1]), torch.device("cpu"))
    _, q, _ = load_splits(cfg)
    state = torch.random.get_rng_state()
    a = hooks.at_features(model, q, 1.0, torch.device("cpu"))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, hooks.at_features(model, q, 1.0, torch.device("cpu")))
    assert not torch.equal(a, hooks.at_features(model, q, 0.0, torch.device("cpu")))  # the prior reaches AT


def test_test_prior_claim_uses_pseudo_variants(tmp_path):
    for seed in range(3):
        at = np.array([60.0, 50.0 + seed, 48.0], np.float32)
        _fake_run(tmp_path, "mpn-t1", "mpn", seed, {"mAP_trapezoid": 60.0},
                  {"mpn_test_prior/levels": np.array([0, 0.5, 1], np.float32), "mpn_test_prior/at_mAP": at,
                   "mpn_test_prior/mt_mAP": np.float32(65.0)})
    row = chapter.claims_table(tmp_path).set_index("claim").loc["C9"]
    assert row["verdict"] == "confirmed" and list(row["seeds"]) == [0, 1, 2]
    assert row["design"] == "exact-paired"


def test_claims_table_filters_the_setting(tmp_path):
    for seed in range(3):
        for variant, ap in (("baseline", 40.0), ("mt_only", 50.0 + seed / 10)):
            _fake_run(tmp_path, "mpn-t1", variant, seed, {"mAP_trapezoid": ap})
    row = chapter.claims_table(tmp_path, profile="cpu", dataset="synth-s").set_index("claim").loc["C2-mt-only"]
    assert row["verdict"] == "confirmed"
    other = chapter.claims_table(tmp_path, profile="gpu").set_index("claim").loc["C2-mt-only"]
    assert other["verdict"] == "inconclusive" and other["observed"].startswith("no records")


def test_empty_cams_carry_no_strip_mass():
    """An all-zero CAM (Grad-CAM's ReLU left nothing) is NaN in the strip statistics, not a miss."""
    from partreid_core.analysis.chapter_hooks.mpn import cam_strip_scores

    k, n, h, w = 6, 2, 24, 8
    masks = torch.ones(n, h, w, dtype=torch.long)          # every pixel is body: the ROI is the whole image
    cams = np.zeros((k, n, h, w), dtype=np.float32)
    for p in range(k):
        cams[p, 0, 4 * p:4 * p + 4] = 1.0                   # image 0: CAM k sits exactly on strip k
    out = cam_strip_scores(cams, masks)                     # image 1: every CAM empty
    assert np.isnan(out["strip_mass"][:, 1]).all() and np.isnan(out["cam_height"][:, 1]).all()
    np.testing.assert_allclose(out["hit_rate"], 1.0, atol=1e-6)
    legacy = out["strip_mass"].copy()
    legacy[:, 1] = 0.0                                      # what records made before this fix store
    np.testing.assert_allclose(chapter.own_strip_mass(legacy)[:, 0], 1.0, atol=1e-6)
    assert np.isnan(chapter.own_strip_mass(legacy)[:, 1]).all()


def test_channel_peak_heights_by_hand():
    fmap = torch.zeros(1, 2, 4, 2)
    fmap[0, 0, 0] = 1.0                                   # channel 0 peaks on feature row 0 (image rows 0-31)
    fmap[0, 1, 3] = 1.0                                   # channel 1 on feature row 3 (image rows 96-127)
    masks = torch.zeros(1, 128, 8, dtype=torch.long)
    masks[0, 16:112] = 2                                  # the body spans rows 16..111
    rel = hooks.channel_peak_heights(fmap, masks, 128)
    np.testing.assert_allclose(rel[0].numpy(), [(16 - 16) / 96, (112 - 16) / 96], atol=1e-6)
