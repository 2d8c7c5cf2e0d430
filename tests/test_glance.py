"""The at-a-glance table: the headline claims of ``partreid claims``, never a second verdict."""
from pathlib import Path

import pytest

from partreid_core.reporting import glance
from partreid_core.reporting.cli import gather_claims
from partreid_core.reporting.papers import PAPERS

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def claims():
    return gather_claims(str(RESULTS), list(glance.CHAPTERS))


@pytest.fixture(scope="module")
def scratch_table():
    return glance.headline_table(RESULTS, link_prefix=None)   # the default: the scratch regime alone


def test_every_paper_has_four_to_six_headline_claims(claims):
    assert set(glance.CHAPTERS) == set(PAPERS)
    scratch = claims[claims.regime == "scratch"]
    counts = scratch[scratch.headline == True].groupby("paper").size()  # noqa: E712
    assert set(counts.index) == set(PAPERS) and counts.between(4, 6).all(), counts


def test_glance_rows_are_the_claims_rows(claims, scratch_table):
    head = claims[(claims.headline == True) & (claims.regime == "scratch")]  # noqa: E712
    assert list(scratch_table.columns) == glance.SINGLE_COLUMNS
    assert list(scratch_table["claim"]) == list(head["id"])
    assert list(scratch_table["verdict"]) == list(head["verdict"])  # one verdict, computed once


def test_both_regimes_side_by_side(claims, scratch_table):
    table = glance.headline_table(RESULTS, link_prefix=None, regimes=glance.REGIME_NAMES)
    assert list(table.columns) == ["paper", "claim", "statement", "metric", "paper's Δ", "scratch: Δ [95 % CI]",
                                   "scratch: verdict", "fine-tuned: Δ [95 % CI]", "fine-tuned: verdict", "regime"]
    # the scratch columns are the single-regime table's, claim for claim
    assert list(table["claim"]) == list(scratch_table["claim"])
    assert list(table["scratch: verdict"]) == list(scratch_table["verdict"])
    assert list(table["scratch: Δ [95 % CI]"]) == list(scratch_table["ours: Δ [95 % CI]"])
    assert list(table["paper's Δ"]) == list(scratch_table["paper's Δ"])
    fine = claims[(claims.headline == True) & (claims.regime == "fine-tuned")]  # noqa: E712
    assert list(table["fine-tuned: verdict"]) == list(fine["verdict"])


def test_links_point_at_the_chapter_pages():
    table = glance.headline_table(RESULTS, papers=["PAL"], link_prefix="notebooks/")
    assert table["claim"].str.startswith('<a href="notebooks/pal.html">').all()
    html = glance.render(table)
    assert '<a href="notebooks/pal.html">' in html and "&lt;a" not in html


def test_no_records_reads_as_such(tmp_path):
    table = glance.headline_table(tmp_path, papers=["PLR"], link_prefix=None, regimes=("scratch",))
    assert len(table) >= 4
    assert (table["ours: Δ [95 % CI]"] == "no records").all() and (table["verdict"] == "inconclusive").all()
    wide = glance.headline_table(tmp_path, papers=["PLR"], link_prefix=None, regimes=glance.REGIME_NAMES)
    assert len(wide) == len(table) and (wide["regime"] == "—").all()
    assert (wide[["scratch: verdict", "fine-tuned: verdict"]] == "inconclusive").all().all()


def test_regime_summary_sorts_claims_by_both_verdicts():
    import pandas as pd

    from partreid_core.reporting.glance import regime_summary

    table = pd.DataFrame([
        {"claim": "C1", "scratch: verdict": "confirmed", "fine-tuned: verdict": "confirmed", "regime": "regime-robust"},
        {"claim": "C2", "scratch: verdict": "confirmed", "fine-tuned: verdict": "no effect",
         "regime": "regime-dependent"},
        {"claim": "C3", "scratch: verdict": "inconclusive", "fine-tuned: verdict": "inconclusive", "regime": "—"},
    ])
    text = regime_summary(table, rerun="make runs")
    robust, dependent, pending = text.splitlines()
    assert robust.endswith("C1 (confirmed).")
    assert dependent.endswith("C2 (scratch confirmed, fine-tuned no effect).")
    assert "C3." in pending and "`make runs`" in pending
    assert "Not yet" not in regime_summary(table.iloc[:2])
