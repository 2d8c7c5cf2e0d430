"""Claims and verdicts: does the reproduction support what a paper says?

A :class:`Claim` compares a metric between two variants (e.g. PCB+PS vs PCB) across seeds and
states the direction the paper expects. :func:`judge` turns the per-seed values into a verdict
with a rule that is the same for every chapter, so verdicts can be gathered across the book
(the comparison chapter's scorecard) without re-typing them.

Verdict rule (two-sided Welch t-test on the per-seed values, alpha = 0.05):
  * **confirmed** — the mean difference has the expected sign and p < alpha;
  * **not confirmed** — the difference is significant with the opposite sign, or it is practically
    zero: its 95% confidence interval lies inside ``±equivalence_margin``;
  * **inconclusive** — anything else (too few seeds, or a spread too large to tell).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats

Verdict = Literal["confirmed", "not confirmed", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("confirmed", "not confirmed", "inconclusive")


@dataclass(frozen=True)
class Claim:
    """One testable claim of a paper.

    Attributes:
        id: short id, unique within the paper (e.g. ``"C1-pcb"``).
        artefact: the spec's artefact id (e.g. ``"PAL-F6"``).
        statement: the claim in words.
        metric: the column compared (e.g. ``"rank1"``, ``"mAP"``, ``"mean_off_diagonal"``).
        treatment / baseline: variant names whose values are compared (treatment - baseline).
        direction: +1 if the paper expects treatment > baseline, -1 if lower.
        equivalence_margin: |difference| below which an effect counts as practically absent (metric units).
    """

    id: str
    artefact: str
    statement: str
    metric: str
    treatment: str
    baseline: str
    direction: int = 1
    equivalence_margin: float = 0.5


@dataclass(frozen=True)
class Judgement:
    claim: Claim
    n_treatment: int
    n_baseline: int
    mean_treatment: float
    mean_baseline: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: Verdict

    @property
    def missing(self) -> list[str]:
        """The variants without a single value (no records yet, or a hook that stored nothing)."""
        c = self.claim
        return [v for v, n in ((c.treatment, self.n_treatment), (c.baseline, self.n_baseline)) if n == 0]

    def observed(self) -> str:
        if self.missing:
            return f"no records ({', '.join(self.missing)})"
        if self.n_treatment < 2 or self.n_baseline < 2:
            return f"{self.mean_treatment:.2f} vs {self.mean_baseline:.2f} (Δ {self.difference:+.2f}; too few seeds)"
        return (f"{self.mean_treatment:.2f} vs {self.mean_baseline:.2f} "
                f"(Δ {self.difference:+.2f}, 95% CI [{self.ci_low:+.2f}, {self.ci_high:+.2f}])")

    def as_row(self) -> dict[str, object]:
        c = self.claim
        return {
            "claim": c.id, "artefact": c.artefact, "statement": c.statement, "metric": c.metric,
            "expected": f"{c.treatment} {'>' if c.direction > 0 else '<'} {c.baseline}",
            "observed": self.observed(),
            "seeds": f"{self.n_treatment}/{self.n_baseline}",
            "p": self.p_value, "verdict": self.verdict,
        }


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(difference of means, half-width of its 95% CI, two-sided p) for Welch's t-test."""
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, 0.0, 0.0 if diff != 0 else 1.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = diff / se
    return diff, float(stats.t.ppf(0.975, dof) * se), float(2 * stats.t.sf(abs(t), dof))


def judge(claim: Claim, treatment: Sequence[float], baseline: Sequence[float], alpha: float = 0.05) -> Judgement:
    """Verdict on ``claim`` from per-seed values of the treatment and the baseline variant."""
    a, b = np.asarray(treatment, dtype=float), np.asarray(baseline, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        diff = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
        return Judgement(claim, len(a), len(b), float(a.mean()) if len(a) else float("nan"),
                         float(b.mean()) if len(b) else float("nan"), diff, float("nan"), float("nan"),
                         float("nan"), "inconclusive")
    diff, half, p = _welch(a, b)
    lo, hi = diff - half, diff + half
    signed = diff * claim.direction
    if p < alpha and signed > 0:
        verdict: Verdict = "confirmed"
    elif (p < alpha and signed < 0) or (-claim.equivalence_margin < lo and hi < claim.equivalence_margin):
        verdict = "not confirmed"
    else:
        verdict = "inconclusive"
    return Judgement(claim, len(a), len(b), float(a.mean()), float(b.mean()), diff, lo, hi, p, verdict)


def claims_table(claims: Sequence[Claim], values: "pandas.DataFrame", variant_col: str = "variant"):  # noqa: F821
    """Judge every claim against a tidy table (one row per run: variant, seed, metric columns).

    A claim whose variants or metric column have no values yet is "inconclusive" with
    "no records (...)" as its observation: chapters render before all their runs exist.
    Returns a pandas DataFrame with one row per claim (see :meth:`Judgement.as_row`).
    """
    import pandas as pd

    rows = []
    for c in claims:
        if c.metric in values.columns and variant_col in values.columns:
            col = pd.to_numeric(values[c.metric], errors="coerce")
            t = col[values[variant_col] == c.treatment].to_numpy(dtype=float)
            b = col[values[variant_col] == c.baseline].to_numpy(dtype=float)
        else:
            t = b = np.array([])
        rows.append(judge(c, t, b).as_row())
    return pd.DataFrame(rows)
