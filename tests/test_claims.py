"""The verdict rule (partreid_core.reporting.claims) on hand-made per-seed values, and ``partreid claims``."""
import json
import math
import types

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from partreid_core.reporting import claims as C
from partreid_core.reporting.claims import Claim, claims_table


def tidy(arms: dict[str, dict[int, float]], metric: str = "rank1") -> pd.DataFrame:
    """{variant: {seed: value}} -> the tidy table claims_table reads."""
    return pd.DataFrame([{"variant": v, "seed": s, metric: x} for v, per in arms.items() for s, x in per.items()])


def arms(baseline: list[float], differences: list[float]) -> pd.DataFrame:
    """Baseline values per seed 0..n-1 and a treatment = baseline + differences (same seeds)."""
    treated = {i: x + d for i, (x, d) in enumerate(zip(baseline, differences, strict=True))}
    return tidy({"b": dict(enumerate(baseline)), "t": treated})


def one(claim: Claim, values: pd.DataFrame) -> pd.Series:
    return claims_table([claim], values, paper="TEST").iloc[0]


UP = Claim("up", "X-F1", "t beats b", "rank1", "t", "b")


def test_paired_and_unpaired_designs_give_different_verdicts():
    # large seed-to-seed spread shared by both arms, a steady +2 per seed: paired sees it, Welch does not
    values = arms([60.0, 70.0, 80.0], [2.0, 2.1, 1.9])
    paired = one(UP, values)
    unpaired = one(Claim("up", "X-F1", "t beats b", "rank1", "t", "b", design="unpaired"), values)
    assert paired.verdict == "confirmed" and unpaired.verdict == "inconclusive"
    # the paired CI by hand: mean 2.0, sd 0.1, t_0.975(2) = 4.3027
    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert paired.difference == pytest.approx(2.0) and paired.ci_high == pytest.approx(2.0 + half)
    assert paired.p == pytest.approx(2 * stats.t.sf(2.0 / (0.1 / math.sqrt(3)), 2))
    assert unpaired.p > 0.5 and unpaired.design == "unpaired"
    assert paired.seed_signs == "3 of 3 seeds positive"


def test_equivalence_confirmed_contradicted_and_inconclusive():
    eq = Claim("eq", "X-T8", "t and b barely differ", "rank1", "t", "b", hypothesis="equivalence")
    same = one(eq, arms([50, 55, 60, 65, 70], [0.1, -0.1, 0.0, 0.05, -0.05]))
    assert same.verdict == "confirmed" and same.margin == 1.0           # CI inside (-1, 1)
    apart = one(eq, arms([50, 55, 60], [3.0, 3.1, 2.9]))
    assert apart.verdict == "contradicted"                               # CI wholly above +1
    wide = one(eq, arms([50, 55, 60], [0.5, 2.5, -1.0]))
    assert wide.verdict == "inconclusive"
    # a larger paper effect widens the margin: half of it when above the floor
    eq_big = Claim("eq", "X-T8", "...", "rank1", "t", "b", hypothesis="equivalence", paper_effect=8.0)
    assert one(eq_big, arms([50, 55, 60], [3.0, 3.1, 2.9])).verdict == "confirmed"  # CI inside (-4, 4)


def test_no_effect_contradicted_and_margin_per_family():
    flat = one(UP, arms([50, 55, 60, 65, 70], [0.1, -0.1, 0.05, -0.05, 0.0]))
    assert flat.verdict == "no effect"
    against = one(UP, arms([50, 55, 60], [-3.0, -3.1, -2.9]))
    assert against.verdict == "contradicted" and against.seed_signs == "0 of 3 seeds positive"
    lower = Claim("sim", "X-F9", "t lowers similarity", "mean_off_diagonal", "t", "b", direction=-1)
    assert C.claim_margin(lower) == 0.01
    sim = tidy({"b": {0: 0.86, 1: 0.87, 2: 0.85}, "t": {0: 0.80, 1: 0.82, 2: 0.79}}, "mean_off_diagonal")
    r = one(lower, sim)
    assert r.verdict == "confirmed" and r.seed_signs == "3 of 3 seeds negative"
    # a 0.005 drop of a share is inside its 0.02 margin: no effect, whatever its p
    share = Claim("hit", "X-X4", "t hits more", "x4_hit_rate", "t", "b")
    hits = tidy({"b": {0: 0.158, 1: 0.160, 2: 0.156}, "t": {0: 0.165, 1: 0.168, 2: 0.164}}, "x4_hit_rate")
    assert one(share, hits).verdict == "no effect"
    assert C.claim_margin(Claim("a", "x", "y", "mAP", "t", "b", paper_effect=3.4)) == pytest.approx(1.7)
    assert C.claim_margin(Claim("a", "x", "y", "x1_mAP_0.9", "t", "b")) == 1.0
    assert C.claim_margin(Claim("a", "x", "y", "rank1", "t", "b", margin=0.3)) == 0.3
    with pytest.raises(KeyError):
        C.margin_family("some_new_metric")


def test_holm_turns_a_raw_significance_into_inconclusive():
    # d = 2, 3, 4: p = 0.035 alone (confirmed); with two null claims beside it, Holm's p = 3 x 0.035
    values = pd.concat([arms([50, 60, 70], [2.0, 3.0, 4.0]),
                        tidy({"n1": {0: 1.0, 1: 5.0, 2: 3.0}, "n0": {0: 2.0, 1: 3.0, 2: 4.0}})], ignore_index=True)
    null = Claim("null", "X", "n1 beats n0", "rank1", "n1", "n0")
    alone = claims_table([UP], values, paper="TEST").iloc[0]
    assert alone.p == pytest.approx(0.0352, abs=1e-3) and alone.p_holm == pytest.approx(alone.p)
    assert alone.verdict == "confirmed"
    three = claims_table([UP, null, Claim("null2", "X", "again", "rank1", "n1", "n0")], values, paper="TEST")
    assert three.loc[0, "p"] < 0.05 <= three.loc[0, "p_holm"]
    assert three.loc[0, "p_holm"] == pytest.approx(3 * three.loc[0, "p"])
    assert three.loc[0, "verdict"] == "inconclusive"
    assert C.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(C.holm([0.01, np.nan])[1]) and C.holm([0.01, np.nan])[0] == pytest.approx(0.01)


def test_sanity_claims_skip_holm_and_the_scorecard(monkeypatch):
    values = pd.concat([arms([50, 60, 70], [2.0, 3.0, 4.0]),
                        tidy({"n1": {0: 1.0, 1: 5.0, 2: 3.0}, "n0": {0: 2.0, 1: 3.0, 2: 4.0}})], ignore_index=True)
    check = Claim("check", "X-F14", "t above chance", "rank1", "t", "b", kind="sanity", design="exact-paired")
    t = claims_table([UP, check, Claim("null", "X", "n1 beats n0", "rank1", "n1", "n0")], values, paper="TEST")
    assert np.isnan(t.loc[1, "p_holm"]) and t.loc[1, "verdict"] == "confirmed"   # raw p = 0.035
    assert t.loc[0, "p_holm"] == pytest.approx(2 * t.loc[0, "p"])               # Holm over 2, not 3

    from partreid_core.reporting import comparison, papers

    fake = types.SimpleNamespace(
        ARTEFACTS={"X-F1": "reproduced", "X-F14": "reproduced"},
        CLAIMS=[UP, check], claims_table=lambda root: claims_table([UP, check], values, paper="FAKE"))
    monkeypatch.setattr(papers, "PAPERS", {"FAKE": fake})
    card = comparison.scorecard("unused").iloc[0]
    assert card.claims == 1 and card.sanity == 1 and card.confirmed == 1
    assert sum(card[v] for v in C.VERDICTS) == card.claims


def test_too_few_seeds_and_seeds_missing_in_one_arm():
    single = one(UP, tidy({"t": {0: 60.0}, "b": {0: 50.0}}))
    assert single.verdict == "inconclusive" and "too few seeds" in single.observed
    disjoint = one(UP, tidy({"t": {0: 60.0, 1: 61.0}, "b": {2: 50.0, 3: 51.0}}))
    assert disjoint.verdict == "inconclusive" and disjoint.seeds == [0, 1, 2, 3]
    # five treatment seeds, three baseline seeds: three pairs, aligned lists with None where missing
    t = tidy({"t": {0: 62.0, 1: 63.0, 2: 61.0, 3: 90.0, 4: 95.0}, "b": {0: 50.0, 1: 51.0, 2: 49.0}})
    r = one(UP, t)
    assert r.seeds == [0, 1, 2, 3, 4]
    assert r.baseline_values == [50.0, 51.0, 49.0, None, None] and r.treatment_values[3] == 90.0
    assert r.difference == pytest.approx(12.0) and r.seed_signs == "3 of 3 seeds positive"
    assert r.verdict == "confirmed"       # 12 +- 0 on every pair
    missing = one(Claim("m", "X", "y", "rank1", "t", "absent"), t)
    assert missing.verdict == "inconclusive" and missing.observed == "no records (absent)"


def test_only_test_split_rows_are_judged():
    values = arms([50, 60, 70], [2.0, 2.1, 1.9]).assign(split="test")
    tuned = values.assign(split="val", rank1=values.rank1 + np.where(values.variant == "t", -30.0, 0.0))
    both = pd.concat([values, tuned], ignore_index=True)
    r = one(UP, both)
    assert r.verdict == "confirmed" and r.difference == pytest.approx(2.0)       # the val rows are left out
    assert one(UP, both.assign(split=np.nan)).difference == pytest.approx(-13.0)  # no split given: all rows, averaged
    assert claims_table([UP], both, paper="T", split="val").loc[0, "verdict"] == "contradicted"


def test_ratio_magnitude_and_minimum_detectable_effect():
    assert C.ratio_magnitude(1.0, 1.5) == (pytest.approx(2 / 3), "within x0.5-x2")
    assert C.ratio_magnitude(14.6, 1.0)[1] == "larger" and C.ratio_magnitude(0.2, 1.5)[1] == "smaller"
    assert C.ratio_magnitude(-0.5, 0.7)[1] == "opposite" and C.ratio_magnitude(1.0, None)[1] == "—"
    r = one(Claim("up", "X", "y", "rank1", "t", "b", paper_effect=1.0), arms([50, 60, 70], [0.5, 2.5, -1.0]))
    se = np.std([0.5, 2.5, -1.0], ddof=1) / math.sqrt(3)
    assert r.verdict == "inconclusive"
    assert r.mde == pytest.approx((stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) * se)
    assert r.mde > abs(r.difference)


def test_claim_validation_and_deprecated_margin():
    with pytest.raises(ValueError):
        Claim("x", "y", "z", "rank1", "t", "b", kind="benchmark")
    with pytest.raises(ValueError):
        Claim("x", "y", "z", "rank1", "t", "b", design="matched")
    with pytest.warns(DeprecationWarning):
        old = Claim("x", "y", "z", "rank1", "t", "b", equivalence_margin=0.3)
    assert old.margin == 0.3 and C.claim_margin(old) == 0.3
    with pytest.warns(DeprecationWarning):
        positional = Claim("x", "y", "z", "rank1", "t", "b", -1, 0.02)  # the old (direction, margin) order
    assert positional.kind == "paper" and positional.margin == 0.02 and positional.direction == -1


def test_every_claim_of_the_book_has_a_margin_family():
    from partreid_core.reporting.comparison import ROBUSTNESS_CLAIMS
    from partreid_core.reporting.papers import PAPERS

    for mod in PAPERS.values():
        for c in mod.CLAIMS:
            assert c.margin_family in C.MARGIN_FAMILIES, (mod.PAPER, c.id)
    assert {C.margin_family(c.metric) for _, c in ROBUSTNESS_CLAIMS} == {"accuracy"}


def test_rule_text_names_every_verdict_and_family():
    text = C.verdict_rule_text()
    for word in [*C.VERDICTS, "Holm", "Welch", "paired", *C.MARGIN_FAMILIES]:
        assert word in text


def test_partreid_claims_json_fields(tmp_path, monkeypatch, capsys):
    from partreid_core import cli
    from partreid_core.reporting import papers

    values = tidy({"t": {0: 62.0, 1: 63.0, 2: 61.0, 3: 64.0}, "b": {0: 50.0, 1: 51.0, 2: 49.0}})
    fake = types.SimpleNamespace(PAPER="FAKE", ARTEFACTS={}, CLAIMS=[UP],
                                 claims_table=lambda root: claims_table([UP], values, paper="FAKE"))
    monkeypatch.setattr(papers, "PAPERS", {"FAKE": fake, "PAL": papers.PAPERS["PAL"]})
    assert cli.main(["claims", "--json", "--paper", "fake", "--regime", "scratch", "--results", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and list(rows[0]) == list(C.JSON_FIELDS)
    r = rows[0]
    assert r["paper"] == "FAKE" and r["id"] == "up" and r["regime"] == "scratch" and r["design"] == "paired"
    assert r["seeds"] == [0, 1, 2, 3] and r["baseline_values"] == [50.0, 51.0, 49.0, None]
    assert r["paper_effect"] is None and r["verdict"] == "confirmed" and r["hypothesis"] == "directional"
    # every PAL claim, one row per claim and regime (both by default), without records
    assert cli.main(["claims", "--json", "--paper", "PAL", "--results", str(tmp_path / "none")]) == 0
    pal_rows = json.loads(capsys.readouterr().out)
    ids = [c.id for c in papers.PAPERS["PAL"].CLAIMS]
    assert [(x["regime"], x["id"]) for x in pal_rows] == [(r, i) for r in ("scratch", "fine-tuned") for i in ids]
    assert {x["verdict"] for x in pal_rows} == {"inconclusive"}
    # the text table, and the robustness claims of the comparison chapter
    assert cli.main(["claims", "--paper", "comparison", "--results", str(tmp_path)]) == 0
    assert "RMGL-misalign" in capsys.readouterr().out
