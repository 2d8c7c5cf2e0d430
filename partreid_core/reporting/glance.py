"""Results at a glance: each paper's headline claims, the paper's effect beside ours, one row each.

The rows are those of ``partreid claims`` (:func:`partreid_core.reporting.cli.gather_claims`), so the intro,
the chapters' opening tables, the comparison scorecard and the command line show the same verdicts. With both
regimes (``regimes=REGIME_NAMES``: the intro, :meth:`Chapter.glance <partreid_core.reporting.chapter.Chapter.glance>`)
each claim shows ours in each, side by side (:func:`partreid_core.reporting.cli.regime_table`), and whether the
verdict is regime-robust or regime-dependent; with one regime (the default, scratch), the single-regime table.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .cli import DEPENDENT, REGIME_NAMES, ROBUST, delta_ci, digits_of, gather_claims, regime_table, signed

#: the chapter page of each paper, relative to the book's ``notebooks/`` folder
CHAPTERS = {"PAL": "pal", "RMGL": "rmgl", "CGPN": "cgpn", "MPN": "mpn", "PLR": "plr_osnet"}
#: what a metric is called in the table (the claims' own column names are code)
METRIC_NAMES = {"rank1": "Rank-1", "mAP": "mAP", "mAP_trapezoid": "mAP", "mINP": "mINP"}
#: the columns of the single-regime table
SINGLE_COLUMNS = ["paper", "claim", "statement", "metric", "paper's Δ", "ours: Δ [95 % CI]", "ours ÷ paper's",
                  "seeds", "verdict"]


def headline_rows(results: str | Path = "results", papers: list[str] | None = None,
                  regimes: tuple[str, ...] | list[str] = REGIME_NAMES) -> pd.DataFrame:
    """The headline claims of ``papers`` (default: all five) in each of ``regimes``, judged on the records under
    ``results`` (``results/fine-tuned`` for the fine-tuned regime).

    Returns one row per (claim, regime) with the raw fields of ``partreid claims`` (``paper``, ``id``, ``regime``,
    ``difference``, ``ci_low``, ``ci_high``, ``paper_effect``, ``verdict``, ...), in the papers' order.
    """
    table = gather_claims(results, papers or list(CHAPTERS), regimes)
    return table[table["headline"] == True].reset_index(drop=True)  # noqa: E712 (None for unannotated rows)


def _claim_cell(row: pd.Series, link_prefix: str | None, anchor: str = "") -> str:
    """The claim id, linked to its chapter page (at ``#anchor`` when given) unless ``link_prefix`` is None."""
    if link_prefix is None or row["paper"] not in CHAPTERS:
        return str(row["id"])
    target = f"{link_prefix}{CHAPTERS[row['paper']]}.html" + (f"#{anchor}" if anchor else "")
    return f'<a href="{target}">{row["id"]}</a>'


def _papers_side(row: pd.Series) -> dict[str, str]:
    """The columns every table shares: the claim in words, its metric and the paper's own Δ with its source."""
    source = f" ({row['paper_source']})" if row.get("paper_source") else ""
    return {"statement": row["statement"], "metric": METRIC_NAMES.get(row["metric"], row["metric"]),
            "paper's Δ": signed(row["paper_effect"], digits_of(row)) + source}


def _single_table(rows: pd.DataFrame, link_prefix: str | None, anchor: str) -> pd.DataFrame:
    """One regime: the paper's Δ, ours with its CI, the ratio, the seeds' sign agreement and the verdict."""
    out = []
    for _, r in rows.iterrows():
        ratio = r.get("ratio")
        out.append({
            "paper": r["paper"], "claim": _claim_cell(r, link_prefix, anchor), **_papers_side(r),
            "ours: Δ [95 % CI]": delta_ci(r),
            "ours ÷ paper's": "—" if ratio is None or not math.isfinite(float(ratio)) else f"{ratio:.1f}×",
            "seeds": r.get("seed_signs") or "—",
            "verdict": r["verdict"],
        })
    return pd.DataFrame(out, columns=SINGLE_COLUMNS)


def headline_table(results: str | Path = "results", papers: list[str] | None = None,
                   link_prefix: str | None = "", regimes: tuple[str, ...] | list[str] = ("scratch",),
                   link_anchor: str = "") -> pd.DataFrame:
    """The at-a-glance table, one row per headline claim.

    With several ``regimes`` (e.g. :data:`~partreid_core.reporting.cli.REGIME_NAMES`, both): ``paper``, ``claim``,
    ``statement``, ``metric``, ``paper's Δ``, per regime ``<regime>: Δ [95 % CI]`` and ``<regime>: verdict``, and
    ``regime`` (regime-robust / regime-dependent / "—" where a regime lacks records). With one regime (default:
    scratch): :data:`SINGLE_COLUMNS` (ours with its 95 % CI, paired by seed where the design is, the ratio to the
    paper's Δ, the seeds' sign agreement and the verdict).

    ``link_prefix`` is the path from the page to the chapters (``""`` from a chapter, ``"notebooks/"`` from the
    intro); ``None`` leaves the claim ids as plain text. ``link_anchor`` names a section of the chapter page
    (``"claims"``: every chapter's claims section). Missing records read "no records", never an error.
    """
    rows = headline_rows(results, papers, regimes)
    if len(regimes) == 1:
        return _single_table(rows, link_prefix, link_anchor)
    wide = regime_table(rows)
    first = rows.drop_duplicates(["paper", "id"])   # the claims in regime_table's order
    side = pd.DataFrame([{"claim": _claim_cell(r, link_prefix, link_anchor), **_papers_side(r)}
                         for _, r in first.iterrows()],
                        columns=["claim", "statement", "metric", "paper's Δ"])
    per_regime = [c for c in wide.columns if c.split(": ")[0] in regimes]
    return pd.concat([wide[["paper"]], side, wide[[*per_regime, "regime"]]], axis=1)


def render(table: pd.DataFrame) -> str:
    """HTML of :func:`headline_table` (links kept, no index), for a notebook's ``display(HTML(...))``."""
    return table.to_html(index=False, escape=False, na_rep="—", classes="partreid-glance")


def regime_summary(table: pd.DataFrame, rerun: str = "") -> str:
    """Markdown sorting the headline claims of a both-regimes :func:`headline_table` (plain claim ids:
    ``link_prefix=None``) into regime-robust, regime-dependent (with each regime's verdict) and not yet judged
    in both regimes; ``rerun`` is the command that makes the missing fine-tuned records, shown after the last."""
    def verdicts(row: pd.Series) -> str:
        return ", ".join(f"{r} {row[f'{r}: verdict']}" for r in REGIME_NAMES if f"{r}: verdict" in row)

    robust = [f"{r['claim']} ({r[f'{REGIME_NAMES[0]}: verdict']})" for _, r in table.iterrows()
              if r["regime"] == ROBUST]
    dependent = [f"{r['claim']} ({verdicts(r)})" for _, r in table.iterrows() if r["regime"] == DEPENDENT]
    pending = [str(r["claim"]) for _, r in table.iterrows() if r["regime"] not in (ROBUST, DEPENDENT)]
    lines = [f"- **Regime-robust** (the same verdict in both): {', '.join(robust) or 'none'}.",
             f"- **Regime-dependent**: {', '.join(dependent) or 'none'}."]
    if pending:
        lines.append(f"- **Not yet judged in both regimes** (a regime lacks records): {', '.join(pending)}."
                     + (f" The fine-tuned runs: `{rerun}`." if rerun else ""))
    return "\n".join(lines)


__all__ = ["CHAPTERS", "REGIME_NAMES", "SINGLE_COLUMNS", "headline_rows", "headline_table", "regime_summary",
           "render"]
