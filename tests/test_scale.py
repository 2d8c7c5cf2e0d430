"""The fine-tuned regime's sweeps: the validation calibration and the scale study plan into the records they are
read from; the scale study's table and figure on fake records."""
from __future__ import annotations

from pathlib import Path

from partreid_core.experiments.sweep import load_sweep, plan, run_sweep
from partreid_core.reporting.paths import regime_root

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
