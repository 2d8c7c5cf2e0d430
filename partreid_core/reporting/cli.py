"""``partreid claims``: every claim of the book, one row each, with its verdict.

The rows come from each paper module's ``claims_table`` (what the chapters render and the comparison
scorecard counts) and the comparison chapter's robustness claims, so the three can never disagree.
"""
from __future__ import annotations

import json
import math

#: the ``--paper`` values: the five paper modules and the comparison chapter's robustness claims
COMPARISON = "comparison"


def gather_claims(results: str = "results", papers: list[str] | None = None):
    """One DataFrame of every claim of ``papers`` (default: all, plus "comparison"), judged on ``results``.

    Columns: :data:`partreid_core.reporting.claims.JSON_FIELDS` first; a paper module whose table lacks some
    of them (a claim list still on the deprecated ``judge``) gets None there and ``id`` = its ``claim``.
    """
    import pandas as pd

    from . import comparison
    from .claims import JSON_FIELDS
    from .papers import PAPERS

    names = papers or [*PAPERS, COMPARISON]
    frames = []
    for name in names:
        if name == COMPARISON:
            t = comparison.robustness_claims(comparison.robustness_runs(results))
        else:
            t = PAPERS[name].claims_table(results)
        t = t.copy()
        if "id" not in t.columns:
            t["id"] = t["claim"]
        for f in JSON_FIELDS:
            if f not in t.columns:
                t[f] = None
        t["paper"] = name
        t["regime"] = t["regime"].fillna("scratch")  # every record so far trains from scratch
        frames.append(t)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(JSON_FIELDS))
    return out[[*JSON_FIELDS, *[c for c in out.columns if c not in JSON_FIELDS]]]


def _paper_name(value: str) -> str:
    from .papers import PAPERS

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
    from .claims import table_records

    papers = [_paper_name(p) for p in args.paper] if args.paper else None
    table = gather_claims(args.results, papers)
    if args.json:
        print(json.dumps(table_records(table), indent=1))
        return 0
    import pandas as pd

    view = pd.DataFrame({
        "paper": table.paper, "id": table.id, "kind": table.kind.fillna("?"),
        "headline": ["*" if h is True else "" for h in table.headline],
        "design": table.design.fillna("?"),
        "values": [_counts(t, b) for t, b in zip(table.treatment_values, table.baseline_values)],
        "Δ": [_num(x, "+.3g") for x in table.difference],
        "95% CI": [f"[{_num(lo, '+.3g')}, {_num(hi, '+.3g')}]" for lo, hi in zip(table.ci_low, table.ci_high)],
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
                    "on the run records, one row each: design, per-seed values, Δ with its 95%% CI, raw and "
                    "Holm-adjusted p, the paper's Δ, the margin and the verdict.")
    p.add_argument("--paper", action="append", metavar="P",
                   help="only this paper (PAL, RMGL, CGPN, MPN, PLR or comparison; repeatable; default: all)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per claim")
    p.add_argument("--results", default="results", help="records root (default: results)")
    p.set_defaults(func=_claims)
