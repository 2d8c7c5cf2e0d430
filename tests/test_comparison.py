"""The comparison chapter's tables are computed from records: accuracy/cost, robustness, scorecard."""
import json

import numpy as np
import pandas as pd
import pytest

from partreid_core.engine import records
from partreid_core.experiments.comparison import METHODS, checkpoint_path, method, robustness_dir, run_robustness
from partreid_core.reporting.comparison import (
    PUBLISHED,
    comparison_table,
    construct_validity,
    format_comparison,
    format_construct_validity,
    rank_agreement,
    robustness_drop,
    robustness_runs,
    scorecard,
)
from partreid_core.reporting.papers import PAPERS, STATUSES


def _record(root, m, seed, rank1, mAP, profile="cpu", split=None):
    path = records.run_dir(root, m.experiment, f"{m.variant}-s{seed}")
    records.write_config(path, {"model": "x", "profile": profile, "data": {"dataset": "synth-s"}},
                         {"seed": seed, "variant": m.variant, "device": "cpu (1 threads)", "git_commit": "abc"})
    records.write_metrics(path, {"rank1": rank1, "mAP": mAP, "mAP_trapezoid": mAP - 1, "mINP": mAP / 2,
                                 **({"split": split} if split else {})})


def test_comparison_table_averages_seeds_and_keeps_methods_without_records(tmp_path):
    gp, plr = method("GlobalPool"), method("plr-osnet")
    for seed, (r1, ap) in enumerate([(50.0, 40.0), (54.0, 44.0), (52.0, 42.0)]):
        _record(tmp_path, gp, seed, r1, ap)
    _record(tmp_path, plr, 0, 60.0, 50.0)
    bench = tmp_path / "bench" / "models-cpu.json"
    bench.parent.mkdir()
    bench.write_text(json.dumps({"device": "cpu (1 threads)", "git_commit": "abc", "result": {"rows": [
        {"label": gp.bench, "train_images_per_s": 300.0, "infer_images_per_s": 900.0, "params": 2.5e6, "macs": 1e8}]}}))
    assert comparison_table(tmp_path, profile="gpu").seeds.sum() == 0  # every record here is cpu-profile
    t = comparison_table(tmp_path).set_index("method")
    assert list(t.index) == [m.label for m in METHODS]
    assert t.loc["GlobalPool", "seeds"] == 3 and t.loc["GlobalPool", "rank1"] == pytest.approx(52.0)
    assert t.loc["GlobalPool", "rank1_std"] == pytest.approx(2.0)
    assert t.loc["GlobalPool", "params"] == 2.5e6 and np.isnan(t.loc["PLR-OSNet", "params"])
    assert t.loc["PLR-OSNet", "seeds"] == 1 and np.isnan(t.loc["PLR-OSNet", "rank1_std"])
    assert t.loc["MPN", "seeds"] == 0 and np.isnan(t.loc["MPN", "mAP"])
    shown = format_comparison(t.reset_index()).set_index("method")
    assert shown.loc["GlobalPool", "rank1"] == "52.0 ± 2.0" and shown.loc["PLR-OSNet", "rank1"] == "60.0"
    assert shown.loc["MPN", "mAP"] == "—" and shown.loc["GlobalPool", "params (M)"] == "2.50"


def test_robustness_runs_and_relative_drop(tmp_path):
    gp = method("GlobalPool")
    for seed, scale in ((0, 1.0), (1, 0.5)):
        d = robustness_dir(tmp_path, "misalignment", gp, seed)
        d.mkdir(parents=True)
        pd.DataFrame({"knob": "misalignment", "level": [0.0, 0.9], "rank1": [60 * scale, 30 * scale],
                      "mAP": [50 * scale, 25 * scale]}).to_csv(d / "knobs.csv", index=False)
    runs = robustness_runs(tmp_path)
    assert set(runs.method) == {"GlobalPool"} and sorted(runs.seed.unique()) == [0, 1]
    drop = robustness_drop(runs, "misalignment").set_index("method")
    assert drop.loc["GlobalPool", "mAP@0.0"] == pytest.approx(37.5)
    assert drop.loc["GlobalPool", "relative drop %"] == pytest.approx(50.0)


def test_run_robustness_reports_missing_checkpoints_and_unknown_knobs(tmp_path):
    status = run_robustness("misalignment", [method("PCB")], seeds=[0], out=tmp_path, checkpoints=tmp_path / "ck")
    assert status[0]["status"].startswith("no checkpoint") and "pal-pcb/pcb-s0/last.pt" in status[0]["status"]
    ckpt = checkpoint_path(method("PCB"), 0, tmp_path / "ck", out=tmp_path)
    assert ckpt.parts[-4].startswith(tmp_path.name + "-")  # keyed by the records root
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"half-trained")  # a checkpoint without the run's record: training may still be going on
    status = run_robustness("misalignment", [method("PCB")], seeds=[0], out=tmp_path, checkpoints=tmp_path / "ck")
    assert status[0]["status"].startswith("run not complete")
    with pytest.raises(KeyError, match="no default levels"):
        run_robustness("brightness", [method("PCB")], out=tmp_path)
    with pytest.raises(KeyError, match="unknown method"):
        method("ResNet-18")


def test_scorecard_counts_every_artefact_and_claim_of_each_paper(tmp_path):
    card = scorecard(tmp_path).set_index("paper")  # no records at all
    for name, mod in PAPERS.items():
        row = card.loc[name]
        assert row.artefacts == len(mod.ARTEFACTS)
        assert row[list(STATUSES)].sum() == len(mod.ARTEFACTS)
        # without records no artefact that has claims can count as reproduced
        claimed = {c.artefact for c in mod.CLAIMS}
        typed = sum(s == "reproduced" and a not in claimed for a, s in mod.ARTEFACTS.items())
        assert row.reproduced == typed
        # the verdicts count paper + mechanism claims; sanity checks have their own column
        sanity = sum(c.kind == "sanity" for c in mod.CLAIMS)
        assert row.claims == len(mod.CLAIMS) - sanity and row.sanity == sanity
        assert row.inconclusive == row.claims == row["of which no records"]
        assert row[["confirmed", "contradicted", "no effect"]].sum() == 0


def test_robustness_claims_compare_absolute_map_at_the_hardest_level(tmp_path):
    from partreid_core.reporting.comparison import relative_drops, robustness_claims

    # RMGL loses a smaller share of its mAP (11 % vs 31 %) but starts lower and stays lower: not "more robust"
    clean = {"RMGL": 30.0, "PCB": 50.0}
    drops = {"RMGL": [10.0, 12.0, 11.0], "PCB": [30.0, 33.0, 31.0]}
    for label, ds in drops.items():
        for seed, drop in enumerate(ds):
            d = robustness_dir(tmp_path, "misalignment", method(label), seed)
            d.mkdir(parents=True)
            pd.DataFrame({"knob": "misalignment", "level": [0.0, 0.9], "rank1": [1.0, 1.0],
                          "mAP": [clean[label], clean[label] * (1 - drop / 100)]}).to_csv(d / "knobs.csv", index=False)
    runs = robustness_runs(tmp_path)
    per_seed = relative_drops(runs, "misalignment").set_index(["method", "seed"])
    assert per_seed.loc[("RMGL", 1), "drop"] == pytest.approx(12.0)
    claims = robustness_claims(runs).set_index("claim")
    rmgl = claims.loc["RMGL-misalign"]
    assert rmgl.verdict == "contradicted" and rmgl.design == "paired" and rmgl.level == "0.9"
    assert rmgl.difference == pytest.approx(np.mean([27.0 - 35.0, 26.4 - 33.5, 26.7 - 34.5]))
    # the relative drop stays beside the verdict
    assert rmgl.drop_treatment == pytest.approx(11.0) and rmgl.drop_baseline == pytest.approx(31.333, abs=1e-3)
    assert claims.loc["MPN-misalign", "verdict"] == "inconclusive"  # no MPN records
    assert claims.loc["MPN-misalign", "observed"].startswith("no records")


def test_every_method_has_a_published_entry_with_a_source():
    assert set(PUBLISHED) == {m.label for m in METHODS}
    for label, p in PUBLISHED.items():
        assert p.source and p.ap in ("trapezoid", "non-interpolated", "not stated"), label
        assert (p.rank1 is None) == (p.mAP is None), label   # a table gives both or neither
        assert p.rank1 is None or 90 < p.rank1 <= 100 and 70 < p.mAP < 95, label   # Market-1501 numbers
    assert PUBLISHED["PAL (GP+PS)"].rank1 is None and "Fig. 6" in PUBLISHED["PAL (GP+PS)"].source


def test_construct_validity_sets_ours_per_regime_beside_the_papers(tmp_path):
    gp, pcb, mgn = method("GlobalPool"), method("PCB"), method("MGN")
    for seed in (0, 1):
        _record(tmp_path, gp, seed, 50.0 + 2 * seed, 40.0)
        _record(tmp_path / "fine-tuned", gp, seed, 80.0 + 2 * seed, 70.0, profile="cpu-ft")
    _record(tmp_path / "fine-tuned", pcb, 0, 99.0, 99.0, profile="cpu-ft", split="val")   # tuning only: left out
    _record(tmp_path, mgn, 0, 60.0, 50.0, profile="gpu")                                 # not this regime's profile
    t = construct_validity(tmp_path).set_index("method")
    assert list(t.index) == [m.label for m in METHODS]
    assert t.loc["GlobalPool", "scratch rank1"] == pytest.approx(51.0)
    assert t.loc["GlobalPool", "fine-tuned rank1"] == pytest.approx(81.0)
    assert t.loc["GlobalPool", ["scratch seeds", "fine-tuned seeds"]].tolist() == [2, 2]
    assert t.loc["PCB", "fine-tuned seeds"] == 0 and np.isnan(t.loc["PCB", "fine-tuned mAP"])
    assert t.loc["MGN", "scratch seeds"] == 0
    assert t.loc["PCB", "paper rank1"] == PUBLISHED["PCB"].rank1 and np.isnan(t.loc["PAL (GP+PS)", "paper mAP"])
    shown = format_construct_validity(t.reset_index())
    assert shown.loc["PAL (GP+PS)", "paper Rank-1"] == "—" and shown.loc["GlobalPool", "scratch Rank-1"] == "51.0"


def _cv(published, ours, regime="scratch"):
    n = len(published)
    return pd.DataFrame({"method": [f"m{i}" for i in range(n)], "paper rank1": published, "paper mAP": published,
                         f"{regime} rank1": ours, f"{regime} mAP": ours})


def test_rank_agreement_is_kendalls_tau_b_over_the_common_methods():
    same = rank_agreement(_cv([90, 92, 94, 96], [10, 20, 30, 40]), ("scratch",))
    assert same.tau.tolist() == [1.0, 1.0] and same.methods.tolist() == [4, 4]
    flipped = rank_agreement(_cv([90, 92, 94, 96], [40, 30, 20, 10]), ("scratch",)).iloc[0]
    assert flipped.tau == -1.0 and (flipped.concordant, flipped.discordant) == (0, 6)
    # one swapped pair of 6: (5 - 1) / 6; a method without a published value does not enter
    one = rank_agreement(_cv([90, 92, 94, 96, np.nan], [10, 30, 20, 40, 99]), ("scratch",)).iloc[0]
    assert one.methods == 4 and one.tau == pytest.approx(4 / 6) and one.discordant == 1 and "m4" not in one.ranked
    # a tie in ours: tau-b = (nc - nd) / sqrt((n0 - n1)(n0 - n2)) = 5 / sqrt(6 * 5)
    tie = rank_agreement(_cv([90, 92, 94, 96], [10, 20, 20, 40]), ("scratch",)).iloc[0]
    assert tie.tau == pytest.approx(5 / np.sqrt(30)) and (tie.concordant, tie.discordant) == (5, 0)
    few = rank_agreement(_cv([90, 92], [10, 20]), ("scratch",)).iloc[0]
    assert few.methods == 2 and np.isnan(few.tau)


def test_missing_runs_names_the_sweep_profile_and_records_root_per_regime(tmp_path):
    from partreid_core.reporting.comparison import missing_runs

    gp = method("GlobalPool")
    for seed in (0, 1, 2):
        _record(tmp_path, gp, seed, 50.0, 40.0)
    _record(tmp_path / "fine-tuned", gp, 0, 80.0, 70.0, profile="cpu-ft")
    scratch = missing_runs(tmp_path, "scratch").set_index("method")
    assert "GlobalPool" not in scratch.index and len(scratch) == len(METHODS) - 1
    assert "--profile" not in scratch.loc["PCB", "command"]
    ft = missing_runs(tmp_path, "fine-tuned").set_index("method")
    assert len(ft) == len(METHODS) and ft.loc["GlobalPool", "seeds"] == 1
    assert ft.loc["GlobalPool", "command"] == (
        "partreid sweep partreid_core/experiments/sweeps/pal/p1_globalpool.yaml "
        f"--profile cpu-ft --only globalpool --seeds 1 2 --out {tmp_path}/fine-tuned")


def test_fig_robustness_draws_a_panel_per_knob_and_marks_empty_ones(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from partreid_core.experiments.comparison import ROBUSTNESS_LEVELS
    from partreid_core.reporting.comparison import fig_robustness

    gp = method("GlobalPool")
    d = robustness_dir(tmp_path, "misalignment", gp, 0)
    d.mkdir(parents=True)
    pd.DataFrame({"knob": "misalignment", "level": [0.0, 0.3, 0.6, 0.9], "rank1": [60, 50, 40, 30],
                  "mAP": [50, 40, 30, 20]}).to_csv(d / "knobs.csv", index=False)
    fig = fig_robustness(robustness_runs(tmp_path), "t")
    assert len(fig.axes) == len(ROBUSTNESS_LEVELS)
    assert [len(ax.texts) for ax in fig.axes] == [0, 1, 1]   # occlusion and domain: "no records yet"
    assert fig.axes[0].lines and list(fig.axes[0].lines[0].get_ydata()) == [50, 40, 30, 20]
