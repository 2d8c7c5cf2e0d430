import dataclasses

import numpy as np
import pandas as pd
import pytest

from partreid_core.reporting import Claim, claims_table, paper_vs_ours, provenance
from partreid_core.reporting.claims import welch_test

CLAIM = Claim("C1", "PAL-F6", "PS improves PCB", "rank1", "pcb_ps", "pcb", direction=1)


def _unpaired(claim: Claim, treatment: list[float], baseline: list[float]) -> str:
    """The verdict of ``claim`` judged unpaired (Welch) on two arms of unaligned runs."""
    rows = ([{"variant": claim.treatment, "seed": i, claim.metric: v} for i, v in enumerate(treatment)]
            + [{"variant": claim.baseline, "seed": 100 + i, claim.metric: v} for i, v in enumerate(baseline)])
    unpaired = dataclasses.replace(claim, design="unpaired")
    return claims_table([unpaired], pd.DataFrame(rows), paper="PAL").loc[0, "verdict"]


def test_unpaired_design_follows_the_rule():
    # the accuracy family's margin is 1 point
    assert _unpaired(CLAIM, [60, 61, 62], [50, 51, 52]) == "confirmed"
    assert _unpaired(CLAIM, [50, 51, 52], [60, 61, 62]) == "contradicted"      # significant, wrong sign
    assert _unpaired(CLAIM, [50, 60, 40], [52, 45, 55]) == "inconclusive"       # spread too large
    assert _unpaired(CLAIM, [60], [50]) == "inconclusive"                      # one seed
    lower = Claim("C3", "PAL-F9", "PS lowers similarity", "mean_off_diagonal", "pcb_ps", "pcb", direction=-1)
    assert _unpaired(lower, [0.80, 0.81, 0.79], [0.86, 0.87, 0.85]) == "confirmed"


def test_welch_interval_by_hand():
    t = welch_test([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert t.difference == pytest.approx(2.0)
    # se = sqrt(1/3), dof = 2 -> t_0.975 = 4.3027
    assert t.ci_high - t.difference == pytest.approx(4.302653 * np.sqrt(1 / 3), rel=1e-4)


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
