"""The fine-tuned regime's sweeps: the validation calibration and the scale study plan into the records they are
read from; the scale study's table and figure on fake records."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from partreid_core.engine import records
from partreid_core.experiments.config import resolve_config
from partreid_core.experiments.sweep import load_sweep, plan, run_sweep
from partreid_core.reporting.claims import paired_test
from partreid_core.reporting.comparison import REGIME_PROFILES
from partreid_core.reporting.paths import regime_root
from partreid_core.reporting.scale import CELLS, SEEDS, STUDIES, fig_scale, format_scale, scale_table, variant

SWEEPS = Path(__file__).resolve().parents[1] / "partreid_core" / "experiments" / "sweeps"
CALIBRATION = [SWEEPS / "calibration" / f for f in ("cpu_ft_val.yaml", "cpu_ft_val_pcb.yaml")]


def test_val_calibration_plans_the_two_baselines_on_val_in_the_fine_tuned_records(tmp_path):
    sweeps = [load_sweep(f) for f in CALIBRATION]
    out = regime_root(tmp_path, "fine-tuned")
    status = run_sweep(sweeps, out=out, dry_run=True)
    assert [Path(s["path"]).relative_to(tmp_path).as_posix() for s in status] == [
        f"fine-tuned/calibration-val/{v}-s{s}" for v in ("pal_globalpool", "pal_pcb") for s in (0, 1, 2)]
    assert {s["status"] for s in status} == {"planned"}
    for sw in sweeps:
        for _, cfg in plan(sw):
            trunk = cfg.model_overrides["backbone"]["pretrained"]
            assert (cfg.profile, cfg.eval.split, trunk) == ("cpu-ft", "val", "synth")
            assert cfg.recipe == sw.recipe
            assert cfg.model == {"pal_globalpool": "globalpool", "pal_pcb": "pcb"}[sw.recipe]


# ------------------------------------------------------------------------------------------- the scale study
@pytest.mark.parametrize("key", sorted(STUDIES))
@pytest.mark.parametrize("regime", ["scratch", "fine-tuned"])
def test_scale_sweeps_define_every_cell_of_both_arms(key, regime, tmp_path):
    study = STUDIES[key]
    sw = load_sweep(study.sweep_file(regime))
    c = study.claim
    assert sw.experiment == study.experiment and sw.seeds == list(SEEDS)
    assert sw.profile == REGIME_PROFILES[regime]
    assert set(sw.variants) == {variant(arm, cell) for arm in (c.treatment, c.baseline) for cell in CELLS}
    base = resolve_config(sw.recipe, sw.profile)
    for name, cfg in plan(sw, seeds=[0]):
        cell = next(cell for cell in CELLS if name.endswith(cell.name))
        assert cfg.model_overrides["backbone"]["width"] == cell.width, name
        assert cfg.train.iters_per_epoch == cell.iterations * base.train.iters_per_epoch, name
        assert cfg.train.epochs == base.train.epochs and cfg.schedule == base.schedule, name   # same fractions
    status = run_sweep(sw, out=regime_root(tmp_path, regime), dry_run=True, seeds=[0])
    assert all(Path(s["path"]).parent == regime_root(tmp_path, regime) / study.experiment for s in status)


def test_scale_arms_differ_only_by_the_claims_switch():
    sw = load_sweep(STUDIES["PAL-GPPS"].sweep_file("scratch"))
    cfgs = dict(plan(sw, seeds=[0]))
    t, b = cfgs["globalpool_ps-w0.5-x1"], cfgs["globalpool-w0.5-x1"]
    assert (t.model, b.model) == ("globalpool_ps", "globalpool") and t.model_overrides == b.model_overrides


def _fake(root, experiment, name, seed, value, split="test"):
    path = records.run_dir(root, experiment, f"{name}-s{seed}")
    records.write_config(path, {"model": "x", "profile": "cpu", "data": {"dataset": "synth-s"}},
                         {"seed": seed, "variant": name, "device": "cpu", "git_commit": "abc"})
    records.write_metrics(path, {"rank1": value, "mAP": value, "mAP_trapezoid": value, "split": split})


def test_scale_table_pairs_by_seed_per_regime_and_cell(tmp_path):
    study = STUDIES["PAL-GPPS"]
    x1, x4 = CELLS[0], CELLS[1]
    for seed, (t, b) in enumerate([(52.0, 50.0), (55.0, 51.0), (51.0, 50.0)]):
        _fake(tmp_path, study.experiment, variant("globalpool_ps", x1), seed, t)
        _fake(tmp_path, study.experiment, variant("globalpool", x1), seed, b)
    _fake(tmp_path, study.experiment, variant("globalpool", x1), 3, 99.0)          # no partner: not paired
    ft = regime_root(tmp_path, "fine-tuned")
    for seed in (0, 1):
        _fake(ft, study.experiment, variant("globalpool_ps", x4), seed, 80.0 + seed)
        _fake(ft, study.experiment, variant("globalpool", x4), seed, 81.0)
    _fake(ft, study.experiment, variant("globalpool_ps", x4), 2, 10.0, split="val")  # tuning runs never enter
    table = scale_table(tmp_path, "PAL-GPPS").set_index(["regime", "cell"])
    assert len(table) == 2 * len(CELLS)
    row = table.loc[("scratch", x1.name)]
    expected = paired_test([52.0, 55.0, 51.0], [50.0, 51.0, 50.0])
    assert (row.pairs, row.state, row.command) == (3, "run", "")
    assert row.difference == pytest.approx(7 / 3) and row.ci_low == pytest.approx(expected.ci_low)
    assert row.baseline == pytest.approx(151 / 3) and row.paper_effect == study.claim.paper_effect
    part = table.loc[("fine-tuned", x4.name)]
    assert (part.pairs, part.state) == (2, "partial") and part.difference == pytest.approx(-0.5)
    assert part.command.endswith("--seeds 2 --out " + str(ft)) and "pal_gpps_ft.yaml" in part.command
    assert f"--only {variant('globalpool_ps', x4)} {variant('globalpool', x4)}" in part.command
    empty = table.loc[("fine-tuned", x1.name)]
    assert (empty.pairs, empty.state) == (0, "not run") and np.isnan(empty.difference)
    shown = format_scale(table.reset_index())
    assert shown.loc[("scratch", x1.name), "Δ [95% CI]"].startswith("+2.3 [")
    assert shown.loc[("fine-tuned", x1.name), "Δ [95% CI]"] == "—"


def test_fig_scale_marks_cells_not_run(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    study = STUDIES["PAL-GPPS"]
    for seed in SEEDS:
        _fake(tmp_path, study.experiment, variant("globalpool_ps", CELLS[0]), seed, 52.0 + seed)
        _fake(tmp_path, study.experiment, variant("globalpool", CELLS[0]), seed, 50.0)
    fig = fig_scale(tmp_path, "PAL-GPPS")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("scratch: not run") == 2 and texts.count("fine-tuned: not run") == 3
    ref = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert ref and ref[0].get_ydata()[0] == study.claim.paper_effect
    assert [t.get_text() for t in ax.get_xticklabels()] == [c.label for c in CELLS]
