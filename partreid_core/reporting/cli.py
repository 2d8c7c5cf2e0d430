"""``partreid claims``: every claim of the book, one row per claim and regime, with its verdict.

The rows come from each paper module's ``claims_table`` (what the chapters render and the comparison
scorecard counts) and the comparison chapter's robustness claims, so the three can never disagree. Each regime
(:data:`partreid_core.reporting.paths.REGIMES`) is judged on its own records root, so Holm's correction runs per
chapter and per regime, and a regime without records yields its rows all the same (inconclusive, "no records").
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from .claims import JSON_FIELDS, table_records
from .paths import REGIMES, regime_root

if TYPE_CHECKING:  # pandas loads with the first table, not with every ``partreid`` command
    import pandas as pd

#: the ``--paper`` values: the five paper modules and the comparison chapter's robustness claims
COMPARISON = "comparison"
#: the regimes every claim is judged in, in the order the tables show them
REGIME_NAMES: tuple[str, ...] = tuple(REGIMES)
#: the ``regime`` column of :func:`regime_table`: the same verdict in every regime, or not
ROBUST, DEPENDENT = "regime-robust", "regime-dependent"


def gather_claims(results: str | Path = "results", papers: list[str] | None = None,
                  regimes: tuple[str, ...] | list[str] = REGIME_NAMES) -> pd.DataFrame:
    """One DataFrame of every claim of ``papers`` (default: all, plus "comparison") in each of ``regimes``,
    judged on that regime's records (:func:`~partreid_core.reporting.paths.regime_root` of ``results``).

    Rows: for each paper, for each regime, its claims in the module's order (one row per (claim, regime)).
    Columns: :data:`partreid_core.reporting.claims.JSON_FIELDS` first (``regime`` says which), then the display
    fields (a field a table lacks is None).
    """
    import pandas as pd

    from . import comparison  # here, not at the top: comparison and papers import chapter, which imports this module
    from .papers import PAPERS  # here: the papers import chapter, which imports this module

    names = papers or [*PAPERS, COMPARISON]
    frames = []
    for name in names:
        for regime in regimes:
            root = regime_root(results, regime)
            if name == COMPARISON:
                t = comparison.robustness_claims(comparison.robustness_runs(root))
            else:
                t = PAPERS[name].claims_table(root)
            t = t.copy()
            if "id" not in t.columns:
                t["id"] = t["claim"]
            for f in JSON_FIELDS:
                if f not in t.columns:
                    t[f] = None
            t["paper"] = name
            t["regime"] = regime  # the modules judge one root and cannot know which regime it holds
            frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(JSON_FIELDS))
    return out[[*JSON_FIELDS, *[c for c in out.columns if c not in JSON_FIELDS]]]


def _has_records(row: pd.Series) -> bool:
    """Whether both arms of a claim row have values in its regime (the claims' "no records" observation)."""
    observed = row.get("observed")
    if isinstance(observed, str):
        return not observed.startswith("no records")
    d = row.get("difference")
    return d is not None and math.isfinite(float(d))


def signed(x: object, digits: int = 1) -> str:
    """``+1.2`` with ``digits`` decimals, "—" for None / NaN."""
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:+.{digits}f}"


def digits_of(row: pd.Series) -> int:
    """One decimal for accuracy in % points, three for the analyses' fractions and similarities."""
    return 1 if str(row.get("family", "accuracy")) in ("accuracy", "drop", "share_pct", "entropy_pct") else 3


def delta_ci(row: pd.Series) -> str:
    """``"+1.2 [+0.3, +2.1]"``: a claim row's Δ with its 95 % CI, "no records" where an arm has none."""
    if not _has_records(row) or row["difference"] is None or not math.isfinite(float(row["difference"])):
        return "no records"
    d = digits_of(row)
    return f"{signed(row['difference'], d)} [{signed(row['ci_low'], d)}, {signed(row['ci_high'], d)}]"


def regime_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`gather_claims` side by side: one row per claim (``paper``, ``id``, ``kind``,
    ``headline``, ``metric``), per regime present in ``rows`` a ``<regime>: Δ [95 % CI]`` and a ``<regime>: verdict``
    column, and ``regime``: :data:`ROBUST` (the same verdict in every regime, each with records), :data:`DEPENDENT`
    (the verdicts differ, each with records) or "—" (a regime lacks records, or only one regime is given).
    Claims keep the order of their first row."""
    import pandas as pd

    present = [r for r in REGIME_NAMES if r in set(rows["regime"])]
    out = []
    for (paper, claim), g in rows.groupby(["paper", "id"], sort=False):
        by = {r["regime"]: r for _, r in g.iterrows()}
        first = g.iloc[0]
        row = {"paper": paper, "id": claim, "kind": first["kind"], "headline": first["headline"],
               "metric": first["metric"]}
        for regime in present:
            r = by.get(regime)
            row[f"{regime}: Δ [95 % CI]"] = delta_ci(r) if r is not None else "no records"
            row[f"{regime}: verdict"] = r["verdict"] if r is not None else "inconclusive"
        judged = [by.get(regime) for regime in present]
        if len(present) < 2 or any(r is None or not _has_records(r) for r in judged):
            row["regime"] = "—"
        else:
            row["regime"] = ROBUST if len({r["verdict"] for r in judged}) == 1 else DEPENDENT
        out.append(row)
    columns = ["paper", "id", "kind", "headline", "metric",
               *[f"{r}: {c}" for r in present for c in ("Δ [95 % CI]", "verdict")], "regime"]
    return pd.DataFrame(out, columns=columns)


def _paper_name(value: str) -> str:
    from .papers import PAPERS  # here: the papers import chapter, which imports this module

    known = {n.lower(): n for n in [*PAPERS, COMPARISON]}
    if value.lower() not in known:
        raise SystemExit(f"--paper {value}: one of {', '.join(known.values())}")
    return known[value.lower()]


def _num(x: object, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _counts(treatment: object, baseline: object) -> str:
    """"n_t/n_b": the values each arm has ("?" for a table that does not list them)."""
    def n(v: object) -> str:
        return str(sum(x is not None and x == x for x in v)) if isinstance(v, list) else "?"
    return f"{n(treatment)}/{n(baseline)}"


def _claims(args) -> int:
    import pandas as pd


    papers = [_paper_name(p) for p in args.paper] if args.paper else None
    regimes = REGIME_NAMES if args.regime == "both" else (args.regime,)
    table = gather_claims(args.results, papers, regimes)
    if args.json:
        print(json.dumps(table_records(table), indent=1))
        return 0
    if args.wide:
        view = regime_table(table)
        view["headline"] = ["*" if h is True else "" for h in view.headline]
        with pd.option_context("display.max_rows", None, "display.width", 250):
            print(view.to_string(index=False))
        return 0
    view = pd.DataFrame({
        "paper": table.paper, "regime": table.regime, "id": table.id, "kind": table.kind.fillna("?"),
        "headline": ["*" if h is True else "" for h in table.headline],
        "design": table.design.fillna("?"),
        "values": [_counts(t, b) for t, b in zip(table.treatment_values, table.baseline_values, strict=True)],
        "Δ": [_num(x, "+.3g") for x in table.difference],
        "95% CI": [f"[{_num(lo, '+.3g')}, {_num(hi, '+.3g')}]"
                   for lo, hi in zip(table.ci_low, table.ci_high, strict=True)],
        "p": [_num(x, ".3f") for x in table.p], "p_holm": [_num(x, ".3f") for x in table.p_holm],
        "paper Δ": [_num(x, "+.3g") for x in table.paper_effect], "margin": [_num(x, ".3g") for x in table.margin],
        "verdict": table.verdict,
    })
    with pd.option_context("display.max_rows", None, "display.width", 250):
        print(view.to_string(index=False))
    return 0


def register(sub, group) -> None:
    """Add ``partreid claims`` to the top-level parser (see partreid_core.cli)."""
    p = sub.add_parser(
        "claims", help="every claim of the book with its verdict (the chapters' and the scorecard's rule)",
        description="Judges every claim of the five paper chapters and the comparison chapter's robustness claims "
                    "on the run records, one row per claim and regime (scratch: records under --results; fine-tuned: "
                    "under --results/fine-tuned): design, per-seed values, Δ with its 95 % CI, raw and "
                    "Holm-adjusted p (per chapter and regime), the paper's Δ, the margin and the verdict.")
    p.add_argument("--paper", action="append", metavar="P",
                   help="only this paper (PAL, RMGL, CGPN, MPN, PLR or comparison; repeatable; default: all)")
    p.add_argument("--regime", choices=(*REGIME_NAMES, "both"), default="both",
                   help="judge the claims in this regime only (default: both, one row per claim and regime)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per claim and regime")
    p.add_argument("--wide", action="store_true", help="one row per claim: each regime's Δ and verdict, and whether "
                   "the verdict is regime-robust or regime-dependent")
    p.add_argument("--results", default="results", help="records root (default: results)")
    p.set_defaults(func=_claims)
