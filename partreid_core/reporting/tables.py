"""Paper-vs-ours tables and provenance lines for the chapters."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def paper_vs_ours(paper: dict[str, float], ours: pd.DataFrame, metrics: Iterable[str], key: str = "variant",
                  paper_label: str = "paper") -> pd.DataFrame:
    """Side-by-side table: for each row (variant) and metric, the paper's value, our mean ± std and the gap.

    Args:
        paper: {f"{variant}/{metric}": value} as transcribed from the paper's tables (missing = not reported).
        ours: one row per run with columns ``key``, and the metrics.
        metrics: metric columns to show.
    Returns:
        DataFrame indexed by variant with columns ``(metric, paper|ours|gap)``.
    """
    out = {}
    grouped = ours.groupby(key)
    for metric in metrics:
        mean, std, n = grouped[metric].mean(), grouped[metric].std(ddof=1), grouped[metric].count()
        p = pd.Series({v: paper.get(f"{v}/{metric}") for v in mean.index}, dtype=float)
        out[(metric, paper_label)] = p
        out[(metric, "ours")] = pd.Series(
            {v: f"{mean[v]:.1f} ± {0 if pd.isna(std[v]) else std[v]:.1f} (n={n[v]})" for v in mean.index})
        out[(metric, "gap")] = mean - p
    table = pd.DataFrame(out)
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def provenance(records: pd.DataFrame) -> str:
    """One line saying how the numbers of a table were made (profile, dataset, seeds, device, commit, the
    evaluated split where the records say it (``load_records`` gives every record one), and the regime and
    pretrained trunk (name, sha256 prefix) where the records carry them)."""
    def uniq(col: str) -> str:
        if col not in records.columns:
            return "?"
        vals = sorted({str(v) for v in records[col].dropna()})
        return ", ".join(vals) if vals else "?"

    split = f" · split {uniq('split')}" if "split" in records.columns else ""
    line = (f"{len(records)} runs · profile {uniq('profile')} · dataset {uniq('dataset')} · "
            f"seeds {uniq('seed')} · device {uniq('device')} · commit {uniq('git_commit')}")
    if "regime" in records.columns:
        line += f" · regime {uniq('regime')}"
    if "pretrained_trunk" in records.columns and records["pretrained_trunk"].notna().any():
        trunks = records.dropna(subset=["pretrained_trunk"])
        shas = trunks.get("pretrained_trunk_sha256", pd.Series("?", index=trunks.index)).fillna("?")
        pairs = sorted({f"{n} (sha256 {str(h)[:12]})" for n, h in zip(trunks["pretrained_trunk"], shas, strict=True)})
        line += " · trunk " + ", ".join(pairs)
    return line + split
