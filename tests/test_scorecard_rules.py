"""scripts/scorecard_rules.py: the old (unpaired, ±0.5) rule it sets beside today's, and its seed subset."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("scorecard_rules", ROOT / "scripts" / "scorecard_rules.py")
rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rules)


def _row(t, b, expected="a > b"):
    return {"treatment_values": t, "baseline_values": b, "expected": expected}


def test_old_rule_is_unpaired_and_lumps_not_confirmed():
    # a paired design's shared seed effect: each seed +1 over its baseline, Welch cannot see it
    assert rules.old_verdict(_row([51, 61, 71], [50, 60, 70])) == "inconclusive"
    assert rules.old_verdict(_row([60, 61, 62], [50, 51, 52])) == "confirmed"
    assert rules.old_verdict(_row([50, 51, 52], [60, 61, 62])) == "not confirmed"
    assert rules.old_verdict(_row([50, 51, 52], [60, 61, 62], expected="a < b")) == "confirmed"
    assert rules.old_verdict(_row([50.0, 50.1, 49.9], [50.05, 49.95, 50.0])) == "not confirmed"  # inside ±0.5
    assert rules.old_verdict(_row([60, None], [50, 51])) == "inconclusive"


def test_seed_subset_links_only_the_chosen_seeds(tmp_path):
    res = tmp_path / "results"
    for run in ("pcb-s0", "pcb-s3", "pcb-s4", "knobs"):
        (res / "pal-pcb" / run).mkdir(parents=True)
    (res / "fine-tuned" / "x" / "pcb-s0").mkdir(parents=True)
    out = rules.seed_subset(res, [0, 1, 2], tmp_path / "sub")
    assert sorted(p.name for p in (out / "pal-pcb").iterdir()) == ["knobs", "pcb-s0"]
    assert not (out / "fine-tuned").exists()
