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


def test_every_paper_has_four_to_six_headline_claims(claims):
    assert set(glance.CHAPTERS) == set(PAPERS)
    counts = claims[claims.headline == True].groupby("paper").size()  # noqa: E712
    assert set(counts.index) == set(PAPERS) and counts.between(4, 6).all(), counts


def test_glance_rows_are_the_claims_rows(claims):
    table = glance.headline_table(RESULTS, link_prefix=None)
    head = claims[claims.headline == True]  # noqa: E712
    assert list(table["claim"]) == list(head["id"])
    assert list(table["verdict"]) == list(head["verdict"])  # one verdict, computed once


def test_links_point_at_the_chapter_pages():
    table = glance.headline_table(RESULTS, papers=["PAL"], link_prefix="notebooks/")
    assert table["claim"].str.startswith('<a href="notebooks/pal.html">').all()
    html = glance.render(table)
    assert '<a href="notebooks/pal.html">' in html and "&lt;a" not in html


def test_no_records_reads_as_such(tmp_path):
    table = glance.headline_table(tmp_path, papers=["PLR"], link_prefix=None)
    assert len(table) >= 4
    assert (table["ours: Δ [95 % CI]"] == "no records").all() and (table["verdict"] == "inconclusive").all()
