"""The scratch regime's scorecard under the verdict rule before the paired one, beside today's rule, on the same
records: how much of the change in the verdicts is the rule and how much the seeds.

Old rule: Welch's test on the two arms' values unaligned, every claim counted (sanity checks too), no Holm;
"confirmed" when the 95 % CI excludes 0 in the claim's direction, "not confirmed" when it excludes 0 the other way
or lies inside ±0.5, "inconclusive" otherwise. New rule: ``partreid claims`` (paired by seed where the design is,
Holm per chapter, margins per metric family).

    python scripts/scorecard_rules.py                 # every seed on record
    python scripts/scorecard_rules.py --seeds 0 1 2   # the runs of seeds 0-2 only (a linked copy of results/)
"""
from __future__ import annotations

import argparse
import collections
import math
import re
import tempfile
from pathlib import Path

from partreid_core.reporting.claims import SCORED_KINDS, welch_test
from partreid_core.reporting.cli import gather_claims

OLD_MARGIN = 0.5


def _values(xs) -> list[float]:
    return [float(v) for v in (xs or []) if v is not None and not (isinstance(v, float) and math.isnan(v))]


def old_verdict(row) -> str:
    a, b = _values(row["treatment_values"]), _values(row["baseline_values"])
    if len(a) < 2 or len(b) < 2:
        return "inconclusive"
    test = welch_test(a, b)
    lo, hi = (test.ci_low, test.ci_high) if " < " not in str(row.get("expected", "")) else (-test.ci_high, -test.ci_low)
    if lo > 0:
        return "confirmed"
    return "not confirmed" if hi < 0 or (-OLD_MARGIN < lo and hi < OLD_MARGIN) else "inconclusive"


def seed_subset(results: Path, seeds: list[int], into: Path) -> Path:
    """A copy of ``results`` (scratch records only) of links to the runs whose name ends in ``-s<seed>``."""
    keep = re.compile(r"-s(\d+)$")
    for exp in sorted(p for p in results.iterdir() if p.is_dir() and p.name != "fine-tuned"):
        for run in exp.iterdir():
            m = keep.search(run.name)
            if m is None or int(m.group(1)) in seeds:
                (into / exp.name).mkdir(parents=True, exist_ok=True)
                (into / exp.name / run.name).symlink_to(run.resolve())
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", help="only the runs of these seeds (default: all)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = seed_subset(args.results, args.seeds, Path(tmp)) if args.seeds else args.results
        t = gather_claims(root, regimes=("scratch",))
        t["old"] = [old_verdict(r) for _, r in t.iterrows()]
    scored = t[t["kind"].isin(SCORED_KINDS)]
    print(f"{len(t)} claims; old rule (all): {dict(collections.Counter(t['old']))}")
    print(f"new rule, paper + mechanism ({len(scored)}): {dict(collections.Counter(scored['verdict']))}")
    print(f"new rule, sanity (apart): {dict(collections.Counter(t[~t['kind'].isin(SCORED_KINDS)]['verdict']))}")
    for paper, g in scored.groupby("paper", sort=False):
        c = collections.Counter(g["verdict"])
        print(f"  {paper}: " + " / ".join(f"{c.get(k, 0)} {k}" for k in
                                         ("confirmed", "contradicted", "no effect", "inconclusive")))
    print("headline claims (old -> new):")
    for _, r in t[t["headline"].astype(bool)].iterrows():
        print(f"  {r['paper']} {r['id']}: {r['old']} -> {r['verdict']}")


if __name__ == "__main__":
    main()
