"""Results at a glance: each paper's headline claims, the paper's effect beside ours, one row each.

The rows are those of ``partreid claims`` (:func:`partreid_core.reporting.cli.gather_claims`), so the intro,
the chapters' opening tables, the comparison scorecard and the command line show the same verdicts.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

#: the chapter page of each paper, relative to the book's ``notebooks/`` folder
CHAPTERS = {"PAL": "pal", "RMGL": "rmgl", "CGPN": "cgpn", "MPN": "mpn", "PLR": "plr_osnet"}
#: what a metric is called in the table (the claims' own column names are code)
METRIC_NAMES = {"rank1": "Rank-1", "mAP": "mAP", "mAP_trapezoid": "mAP", "mINP": "mINP"}


def _signed(x: object, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.{digits}f}"


def _digits(row: pd.Series) -> int:
    """One decimal for accuracy in % points, three for the analyses' fractions and similarities."""
    return 1 if str(row.get("family", "accuracy")) in ("accuracy", "drop", "share_pct", "entropy_pct") else 3


def _ours(row: pd.Series) -> str:
    d = _digits(row)
    if row["difference"] is None or not math.isfinite(float(row["difference"])):
        return "no records"
    ci = f"[{_signed(row['ci_low'], d)}, {_signed(row['ci_high'], d)}]"
    return f"{_signed(row['difference'], d)} {ci}"


def headline_rows(results: str | Path = "results", papers: list[str] | None = None) -> pd.DataFrame:
    """The headline claims of ``papers`` (default: all five), judged on the records under ``results``.

    Returns one row per claim with the raw fields of ``partreid claims`` (``paper``, ``id``, ``difference``,
    ``ci_low``, ``ci_high``, ``paper_effect``, ``verdict``, ...), in the papers' order.
    """
    from .cli import gather_claims

    table = gather_claims(str(results), papers or list(CHAPTERS))
    return table[table["headline"] == True].reset_index(drop=True)  # noqa: E712 (None for unannotated rows)


def headline_table(results: str | Path = "results", papers: list[str] | None = None,
                   link_prefix: str | None = "") -> pd.DataFrame:
    """The at-a-glance table: per headline claim, the paper's Δ and where it stands, ours with its 95 % CI
    (paired by seed where the design is), the ratio, the seeds' sign agreement and the verdict.

    ``link_prefix`` is the path from the page to the chapters (``""`` from a chapter, ``"notebooks/"`` from the
    intro); ``None`` leaves the claim ids as plain text. Missing records read "no records", never an error.
    """
    rows = headline_rows(results, papers)
    out = []
    for _, r in rows.iterrows():
        claim = r["id"]
        if link_prefix is not None and r["paper"] in CHAPTERS:
            claim = f'<a href="{link_prefix}{CHAPTERS[r["paper"]]}.html">{claim}</a>'
        d = _digits(r)
        ratio = r.get("ratio")
        out.append({
            "paper": r["paper"], "claim": claim, "statement": r["statement"],
            "metric": METRIC_NAMES.get(r["metric"], r["metric"]),
            "paper's Δ": _signed(r["paper_effect"], d) + (f" ({r['paper_source']})" if r.get("paper_source") else ""),
            "ours: Δ [95 % CI]": _ours(r),
            "ours ÷ paper's": "—" if ratio is None or not math.isfinite(float(ratio)) else f"{ratio:.1f}×",
            "seeds": r.get("seed_signs") or "—",
            "verdict": r["verdict"],
        })
    return pd.DataFrame(out, columns=["paper", "claim", "statement", "metric", "paper's Δ", "ours: Δ [95 % CI]",
                                      "ours ÷ paper's", "seeds", "verdict"])


def render(table: pd.DataFrame) -> str:
    """HTML of :func:`headline_table` (links kept, no index), for a notebook's ``display(HTML(...))``."""
    return table.to_html(index=False, escape=False, na_rep="—", classes="partreid-glance")


__all__ = ["CHAPTERS", "headline_rows", "headline_table", "render"]
