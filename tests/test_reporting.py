import numpy as np
import pandas as pd
import pytest

from partreid_core.reporting import Claim, claims_table, judge, paper_vs_ours, provenance

CLAIM = Claim("C1", "PAL-F6", "PS improves PCB", "rank1", "pcb_ps", "pcb", direction=1)


def test_deprecated_judge_follows_the_rule_unpaired():
    # judge() is the unpaired (Welch) path kept for claim lists not yet on claims_table; its verdicts use the
    # rule's names and the claim's margin (accuracy family: 1 point)
    assert judge(CLAIM, [60, 61, 62], [50, 51, 52]).verdict == "confirmed"
    assert judge(CLAIM, [50, 51, 52], [60, 61, 62]).verdict == "contradicted"      # significant, wrong sign
    assert judge(CLAIM, [50.0, 50.1, 49.9], [50.05, 49.95, 50.0]).verdict == "no effect"  # CI inside +-1
    assert judge(CLAIM, [50, 60, 40], [52, 45, 55]).verdict == "inconclusive"       # spread too large
    assert judge(CLAIM, [60], [50]).verdict == "inconclusive"                      # one seed
    lower = Claim("C3", "PAL-F9", "PS lowers similarity", "mean_off_diagonal", "pcb_ps", "pcb", direction=-1)
    assert judge(lower, [0.80, 0.81, 0.79], [0.86, 0.87, 0.85]).verdict == "confirmed"


def test_welch_interval_by_hand():
    j = judge(CLAIM, [1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert j.difference == pytest.approx(2.0)
    # se = sqrt(1/3), dof = 2 -> t_0.975 = 4.3027
    assert j.ci_high - j.difference == pytest.approx(4.302653 * np.sqrt(1 / 3), rel=1e-4)


def test_claims_table_and_missing_metric():
    df = pd.DataFrame({"variant": ["pcb"] * 3 + ["pcb_ps"] * 3, "seed": [0, 1, 2] * 2,
                       "rank1": [50, 51, 52, 60, 61, 62]})
    t = claims_table([CLAIM], df, paper="PAL")
    assert t.loc[0, "verdict"] == "confirmed" and t.loc[0, "seeds"] == [0, 1, 2]
    assert t.loc[0, "seed_signs"] == "3 of 3 seeds positive" and t.loc[0, "design"] == "paired"
    missing = claims_table([Claim("x", "y", "z", "mAP", "pcb_ps", "pcb"), Claim("w", "y", "z", "rank1", "mgn", "pcb")],
                           df, paper="PAL")
    assert list(missing["verdict"]) == ["inconclusive"] * 2
    assert missing.loc[0, "observed"] == "no records (pcb_ps, pcb)" and missing.loc[1, "observed"] == "no records (mgn)"


def test_paper_vs_ours_and_provenance():
    df = pd.DataFrame({"variant": ["mgn", "mgn"], "seed": [0, 1], "rank1": [80.0, 82.0], "profile": "cpu",
                       "dataset": "synth-s", "device": "cpu", "git_commit": "abc"})
    t = paper_vs_ours({"mgn/rank1": 95.8}, df, ["rank1"])
    assert t.loc["mgn", ("rank1", "gap")] == pytest.approx(81.0 - 95.8)
    assert t.loc["mgn", ("rank1", "ours")].startswith("81.0 ± 1.4")
    assert provenance(df) == "2 runs · profile cpu · dataset synth-s · seeds 0, 1 · device cpu · commit abc"
