"""Claims and verdicts: does the reproduction support what a paper says?

A :class:`Claim` compares one metric between two variants (e.g. PCB+PS vs PCB) over seeds, the way
the paper states it: a direction ("A beats B") or an equivalence ("the label source barely
matters"). :func:`claims_table` judges a list of claims on a tidy table of per-seed values with one
rule for every chapter, so the chapters, the comparison scorecard and ``partreid claims`` all read
the same verdicts. The rule is :data:`VERDICT_RULE` (rendered by the evaluation-protocol page):

1. Per-seed values are aligned by seed. ``paired`` designs (variants trained with the same seeds,
   which share the sampler and augmentation streams) and ``exact-paired`` ones (two test-time
   switches of one checkpoint) use the paired t-test on the per-seed differences of the seeds
   present in both arms; ``unpaired`` designs use Welch's t-test. Δ = mean(treatment - baseline),
   with its 95 % confidence interval.
2. A margin m per metric family (:data:`MARGIN_FAMILIES`): m = max(floor, 0.5 · |paper's Δ|), the
   floor alone when the paper gives no number.
3. Directional claims: *no effect* if the CI lies inside (-m, +m); else *confirmed* if the
   Holm-adjusted p < 0.05 and Δ has the paper's sign, *contradicted* if it has the other sign;
   else *inconclusive*, with the minimum effect these seeds could detect. Equivalence claims:
   *confirmed* if the CI lies inside (-m, +m), *contradicted* if it lies wholly outside [-m, m],
   else *inconclusive*. Fewer than two pairs (or values per arm): *inconclusive*.
4. Holm's correction runs over the ``paper`` and ``mechanism`` claims of one :func:`claims_table`
   call (one chapter); ``sanity`` claims are judged on their raw p and kept out of the scorecard.
"""
from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

ClaimKind = Literal["paper", "mechanism", "sanity"]
Hypothesis = Literal["directional", "equivalence"]
Design = Literal["paired", "exact-paired", "unpaired"]
Verdict = Literal["confirmed", "contradicted", "no effect", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("confirmed", "contradicted", "no effect", "inconclusive")
KINDS: tuple[ClaimKind, ...] = ("paper", "mechanism", "sanity")
HYPOTHESES: tuple[Hypothesis, ...] = ("directional", "equivalence")
DESIGNS: tuple[Design, ...] = ("paired", "exact-paired", "unpaired")
#: kinds that enter Holm's family and the scorecard
SCORED_KINDS: tuple[ClaimKind, ...] = ("paper", "mechanism")
ALPHA = 0.05
POWER = 0.8
#: the margin is this fraction of the paper's own |Δ| (when larger than the family's floor)
MARGIN_SCALE = 0.5
MAGNITUDES = ("within x0.5-x2", "smaller", "larger", "opposite", "—")


@dataclass(frozen=True)
class MarginFamily:
    """Metrics of one kind and unit, with the smallest difference that still counts as an effect.

    Attributes:
        floor: the margin's floor, in the metric's units.
        unit: what the metric is measured in (shown on the protocol page).
        names: metric columns of the family, matched exactly.
        patterns: regular expressions matched (``re.search``) against other metric names.
    """

    floor: float
    unit: str
    names: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


#: The margin families, checked in order (exact names of every family first, then patterns). The floors
#: are the smallest differences that would matter for a reader of the papers: 1 point of accuracy (the
#: papers' tables report one decimal and rarely discuss gains below a point), 0.01 of a cosine
#: similarity (PAL-F9's entries move by 0.02-0.06), 0.02 of a share or hit rate, 1 point of an
#: entropy in % of its maximum, 0.05 nats, a quarter of a body part, 2 points of a relative drop.
MARGIN_FAMILIES: dict[str, MarginFamily] = {
    "accuracy": MarginFamily(1.0, "% points (Rank-k, mAP, mINP, segmentation accuracy / mIoU, drops of them)",
                             names=("seg_miou", "seg_pixel_accuracy", "x5_drop", "drop"),
                             patterns=(r"(^|_)(rank\d+|mAP|mINP)(_|$)",)),
    "relative drop": MarginFamily(2.0, "% of the reference accuracy (relative drops and losses)",
                                  names=("x3_local_loss", "relative_drop"), patterns=(r"relative",)),
    "similarity": MarginFamily(0.01, "cosine similarity / correlation",
                               names=("mean_off_diagonal", "mean_adjacent", "mean_non_adjacent"),
                               patterns=(r"correlation", r"similarity")),
    "share": MarginFamily(0.02, "fraction in [0, 1] (shares of mass, hit rates, positions in image height)",
                          names=("grad_in_stripe", "cam_centroid_row"),
                          patterns=(r"_mass$", r"_share$", r"_split$", r"hit_rate", r"fraction")),
    "share %": MarginFamily(2.0, "share in % (of a response map's mass)", names=("response_fg_mass",)),
    "entropy %": MarginFamily(1.0, "entropy in % of its maximum", names=("response_row_entropy",)),
    "entropy": MarginFamily(0.05, "nats", names=("cam_entropy",), patterns=(r"entropy",)),
    "count": MarginFamily(0.25, "body parts (of the 7)", names=("cam_coverage",), patterns=(r"coverage",)),
    "slope": MarginFamily(0.005, "image height per part index", names=("x3_height_slope", "x4_cam_height_slope"),
                          patterns=(r"slope",)),
}


def margin_family(metric: str) -> str:
    """The :data:`MARGIN_FAMILIES` key of ``metric`` (exact names first, then the patterns).

    Raises ``KeyError`` for a metric no family covers: declare it rather than guess its unit.
    """
    for name, fam in MARGIN_FAMILIES.items():
        if metric in fam.names:
            return name
    for name, fam in MARGIN_FAMILIES.items():
        if any(re.search(p, metric) for p in fam.patterns):
            return name
    raise KeyError(f"no margin family covers the metric {metric!r}: add it to MARGIN_FAMILIES or pass family=")


@dataclass(frozen=True)
class Claim:
    """One testable claim of a paper (see the module docstring for how it is judged).

    Attributes:
        id: short id, unique within the paper (e.g. ``"C1-pcb"``).
        artefact: the artefact id (e.g. ``"PAL-F6"``).
        statement: the claim in words.
        metric: the column compared (e.g. ``"rank1"``, ``"mAP"``, ``"mean_off_diagonal"``).
        treatment / baseline: variant names whose values are compared (treatment - baseline).
        direction: +1 if the paper expects treatment > baseline, -1 if lower (directional claims).
        kind: ``paper`` (a statement of the paper), ``mechanism`` (the paper's explanation of it) or
            ``sanity`` (a benchmark or by-construction check: judged, shown apart, never scored).
        hypothesis: ``directional`` or ``equivalence`` (the paper says the two barely differ).
        design: ``paired`` (same seeds), ``exact-paired`` (same checkpoint, two test-time switches) or
            ``unpaired`` (Welch).
        headline: one of the paper's headline claims (its abstract / main ablation table).
        paper_effect: the paper's own Δ (treatment - baseline) in the metric's units, None if it gives none.
        paper_source: where that number is (table / figure, section, dataset); "" when there is none.
        family: margin family (a key of :data:`MARGIN_FAMILIES`); None: inferred from ``metric``.
        margin: explicit margin, overriding the family's rule (only with a comment saying why).
        equivalence_margin: deprecated alias of ``margin`` for claim lists not yet converted.
    """

    id: str
    artefact: str
    statement: str
    metric: str
    treatment: str
    baseline: str
    direction: int = 1
    kind: ClaimKind = "paper"
    hypothesis: Hypothesis = "directional"
    design: Design = "paired"
    headline: bool = False
    paper_effect: float | None = None
    paper_source: str = ""
    family: str | None = None
    margin: float | None = None
    equivalence_margin: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Deprecated path, kept until every claim list is converted: ``equivalence_margin=x`` (or the old
        # positional 8th argument, which now lands in ``kind``) becomes the explicit ``margin``.
        legacy = self.equivalence_margin
        if not isinstance(self.kind, str):
            legacy, kind = self.kind, "paper"
            object.__setattr__(self, "kind", kind)
        if legacy is not None:
            warnings.warn(f"Claim {self.id}: equivalence_margin is deprecated, use family= or margin=",
                          DeprecationWarning, stacklevel=3)
            if self.margin is None:
                object.__setattr__(self, "margin", float(legacy))
            object.__setattr__(self, "equivalence_margin", None)
        if self.kind not in KINDS or self.hypothesis not in HYPOTHESES or self.design not in DESIGNS:
            raise ValueError(f"Claim {self.id}: kind / hypothesis / design must be one of {KINDS} / {HYPOTHESES} "
                             f"/ {DESIGNS}, got {self.kind!r} / {self.hypothesis!r} / {self.design!r}")
        if self.direction not in (1, -1):
            raise ValueError(f"Claim {self.id}: direction must be +1 or -1, got {self.direction!r}")
        if self.family is not None and self.family not in MARGIN_FAMILIES:
            raise ValueError(f"Claim {self.id}: unknown margin family {self.family!r}")

    @property
    def margin_family(self) -> str:
        return self.family if self.family is not None else margin_family(self.metric)


def claim_margin(claim: Claim) -> float:
    """The claim's margin m: its explicit ``margin``, else max(family floor, 0.5 · |paper_effect|)."""
    if claim.margin is not None:
        return float(claim.margin)
    floor = MARGIN_FAMILIES[claim.margin_family].floor
    if claim.paper_effect is None:
        return floor
    return max(floor, MARGIN_SCALE * abs(float(claim.paper_effect)))


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    """One two-sample comparison: Δ, its 95 % CI, two-sided p, the standard error and degrees of freedom."""

    difference: float
    ci_low: float
    ci_high: float
    p: float
    se: float
    dof: float
    n: int  # pairs (paired) or the smaller arm (Welch)

    __test__ = False  # not a pytest class


NAN_RESULT = TestResult(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0)


def _t_result(diff: float, se: float, dof: float, n: int, alpha: float) -> TestResult:
    if se == 0 or not math.isfinite(se):
        # identical differences on every seed: the CI is the point, p is 0 unless the point is 0
        return TestResult(diff, diff, diff, 0.0 if diff != 0 else 1.0, 0.0, dof, n)
    half = float(stats.t.ppf(1 - alpha / 2, dof)) * se
    return TestResult(diff, diff - half, diff + half, float(2 * stats.t.sf(abs(diff / se), dof)), se, dof, n)


def paired_test(treatment: Sequence[float], baseline: Sequence[float], alpha: float = ALPHA) -> TestResult:
    """Paired t-test on ``treatment[i] - baseline[i]`` (aligned arrays (n,), NaN pairs dropped)."""
    d = np.asarray(treatment, dtype=float) - np.asarray(baseline, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) < 2:
        return NAN_RESULT if len(d) == 0 else TestResult(float(d[0]), math.nan, math.nan, math.nan, math.nan,
                                                         math.nan, 1)
    return _t_result(float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), len(d) - 1, len(d), alpha)


def exact_paired_test(treatment: Sequence[float], baseline: Sequence[float], alpha: float = ALPHA) -> TestResult:
    """Two test-time switches of the same checkpoints: the same paired t-test, named for the design."""
    return paired_test(treatment, baseline, alpha)


def welch_test(treatment: Sequence[float], baseline: Sequence[float], alpha: float = ALPHA) -> TestResult:
    """Welch's unpaired t-test on two arms (arrays (n_t,), (n_b,); NaNs dropped)."""
    a, b = np.asarray(treatment, dtype=float), np.asarray(baseline, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
        return TestResult(diff, math.nan, math.nan, math.nan, math.nan, math.nan, min(len(a), len(b)))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else len(a) + len(b) - 2
    return _t_result(float(a.mean() - b.mean()), se, dof, min(len(a), len(b)), alpha)


TESTS = {"paired": paired_test, "exact-paired": exact_paired_test, "unpaired": welch_test}


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as ``pvalues``; NaNs stay NaN and are not counted)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def minimum_detectable_effect(se: float, dof: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest |Δ| a two-sided t-test at ``alpha`` detects with probability ``power``, given the
    observed standard error: (t_{1-alpha/2} + t_{power}) · se (unadjusted alpha; NaN without an se)."""
    if not (math.isfinite(se) and math.isfinite(dof)) or dof <= 0:
        return math.nan
    return float((stats.t.ppf(1 - alpha / 2, dof) + stats.t.ppf(power, dof)) * se)


def sign_agreement(differences: Sequence[float], direction: int = 1) -> tuple[int, int]:
    """(seeds whose difference has the sign ``direction``, seeds with a difference)."""
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    return int((np.sign(d) == direction).sum()), len(d)


def ratio_magnitude(difference: float, paper_effect: float | None) -> tuple[float, str]:
    """(Δ / paper's Δ, its reading: "within x0.5-x2", "smaller", "larger", "opposite" or "—")."""
    if paper_effect is None or paper_effect == 0 or not math.isfinite(difference):
        return math.nan, "—"
    r = difference / paper_effect
    if r < 0:
        return r, "opposite"
    return r, "smaller" if r < 0.5 else "larger" if r > 2 else "within x0.5-x2"


def decide(claim: Claim, test: TestResult, p_decision: float, margin: float, alpha: float = ALPHA) -> Verdict:
    """The verdict of rule 3 (module docstring) from a test, the p it is decided on (Holm-adjusted for
    paper / mechanism claims, raw for sanity checks) and the margin."""
    if test.n < 2 or not math.isfinite(test.ci_low):
        return "inconclusive"
    inside = -margin < test.ci_low and test.ci_high < margin
    if claim.hypothesis == "equivalence":
        if inside:
            return "confirmed"
        return "contradicted" if (test.ci_low > margin or test.ci_high < -margin) else "inconclusive"
    if inside:
        return "no effect"
    if p_decision < alpha and test.difference != 0:
        return "confirmed" if np.sign(test.difference) == claim.direction else "contradicted"
    return "inconclusive"


VERDICT_RULE = __doc__[__doc__.index("1. Per-seed"):].strip()

#: what each claim kind, hypothesis, design and verdict means (rendered by the evaluation-protocol page)
GLOSSARY: dict[str, dict[str, str]] = {
    "kind": {
        "paper": "a statement the paper makes (its direction, and its own effect size where it gives one)",
        "mechanism": "the paper's explanation of its gains (e.g. less redundant part features)",
        "sanity": "a benchmark or by-construction check: judged on its raw p, shown apart, never scored",
    },
    "hypothesis": {
        "directional": "the paper says the treatment beats the baseline (or stays below it)",
        "equivalence": "the paper says the two barely differ",
    },
    "design": {
        "paired": "both variants trained with the same seeds (shared sampler and augmentation streams): "
                  "paired t-test on the per-seed differences",
        "exact-paired": "two test-time switches of one checkpoint: the same paired t-test, the pairs exact",
        "unpaired": "no common seeds by design: Welch's t-test",
    },
    "verdict": {
        "confirmed": "directional: the Holm-adjusted p < 0.05 in the paper's direction and the CI not inside "
                     "±margin; equivalence: the CI inside ±margin",
        "contradicted": "directional: Holm-adjusted p < 0.05 the other way; equivalence: the CI wholly outside "
                        "±margin",
        "no effect": "directional only: the CI inside ±margin (an effect, if any, too small to matter)",
        "inconclusive": "anything else, or fewer than two pairs: the seeds cannot tell (see the minimum "
                        "detectable effect)",
    },
}


def verdict_rule_text() -> str:
    """The verdict rule in words (what the evaluation-protocol page renders), margins included."""
    fams = "\n".join(f"   * {name}: floor {f.floor:g} {f.unit}" for name, f in MARGIN_FAMILIES.items())
    return f"{VERDICT_RULE}\n\nMargin families (floor, unit):\n{fams}"


# --------------------------------------------------------------------------------------------------
# The table every chapter renders
# --------------------------------------------------------------------------------------------------
#: the fields of ``partreid claims --json``, in order
JSON_FIELDS = ("paper", "id", "artefact", "kind", "headline", "hypothesis", "metric", "treatment", "baseline",
               "design", "regime", "seeds", "treatment_values", "baseline_values", "difference", "ci_low",
               "ci_high", "p", "p_holm", "paper_effect", "margin", "verdict")
DISPLAY_FIELDS = ("claim", "statement", "expected", "observed", "seed_signs", "ratio", "magnitude", "mde",
                  "paper_source")


def _arm(values: pd.DataFrame, variant: str, metric: str, variant_col: str, seed_col: str | None) -> pd.Series:
    """Seed -> value of one variant (NaNs dropped; several runs of one seed are averaged). Without a seed
    column (deprecated) the index is the row position, and the values can only be compared unpaired."""
    if metric not in values.columns or variant_col not in values.columns:
        return pd.Series(dtype=float)
    sel = values[values[variant_col] == variant]
    v = pd.to_numeric(sel[metric], errors="coerce").astype(float).to_numpy()
    if seed_col is None:
        return pd.Series(v[~np.isnan(v)])
    seeds = pd.to_numeric(sel[seed_col], errors="coerce").astype(float).to_numpy()
    keep = ~(np.isnan(v) | np.isnan(seeds))
    return pd.Series(v[keep], index=seeds[keep].astype(int)).groupby(level=0).mean().sort_index()


def _fmt(x: float, sign: str = "") -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:{sign}.4g}" if abs(x) < 0.1 and x != 0 else f"{x:{sign}.2f}"


def _observed(c: Claim, t_s: pd.Series, b_s: pd.Series, test: TestResult, design: Design) -> str:
    """The row's "observed" text: the two means, the pairs, Δ and its CI (or why there is none)."""
    missing = [v for v, s in ((c.treatment, t_s), (c.baseline, b_s)) if len(s) == 0]
    if missing:
        return f"no records ({', '.join(missing)})"
    means = f"{_fmt(float(t_s.mean()))} vs {_fmt(float(b_s.mean()))}"
    if design != "unpaired":
        means += f" ({test.n} paired seed{'s' if test.n != 1 else ''})"
    if test.n < 2 or not math.isfinite(test.ci_low):
        return f"{means}; Δ {_fmt(test.difference, '+')}, too few seeds"
    return f"{means}; Δ {_fmt(test.difference, '+')}, 95% CI [{_fmt(test.ci_low, '+')}, {_fmt(test.ci_high, '+')}]"


def _judge_one(c: Claim, values: pd.DataFrame, variant_col: str, seed_col: str | None) -> dict[str, object]:
    """Everything of one row but Holm's p and the verdict."""
    design: Design = c.design if seed_col is not None else "unpaired"  # no seeds: nothing to pair by
    t_s = _arm(values, c.treatment, c.metric, variant_col, seed_col)
    b_s = _arm(values, c.baseline, c.metric, variant_col, seed_col)
    if seed_col is not None:
        seeds = [int(s) for s in sorted(set(t_s.index) | set(b_s.index))]
        tv: list[float | None] = [float(t_s[s]) if s in t_s.index else None for s in seeds]
        bv: list[float | None] = [float(b_s[s]) if s in b_s.index else None for s in seeds]
    else:
        seeds, tv, bv = [], t_s.tolist(), b_s.tolist()
    margin = claim_margin(c)
    if design == "unpaired":
        test = welch_test(t_s.to_numpy(float), b_s.to_numpy(float))
        diffs = np.array([])
    else:
        common = sorted(set(t_s.index) & set(b_s.index))
        diffs = t_s[common].to_numpy(float) - b_s[common].to_numpy(float)
        test = TESTS[design](t_s[common].to_numpy(float), b_s[common].to_numpy(float))
    observed = _observed(c, t_s, b_s, test, design)
    if design != "unpaired" and len(diffs):
        if c.hypothesis == "equivalence":
            seed_signs = f"{int((np.abs(diffs) < margin).sum())} of {len(diffs)} seeds within ±{margin:g}"
        else:
            k, n = sign_agreement(diffs, c.direction)
            seed_signs = f"{k} of {n} seeds {'positive' if c.direction > 0 else 'negative'}"
    else:
        seed_signs = "—"
    ratio, magnitude = ratio_magnitude(test.difference, c.paper_effect)
    if c.hypothesis == "equivalence":
        expected = f"|{c.treatment} - {c.baseline}| < {margin:g}"
    else:
        expected = f"{c.treatment} {'>' if c.direction > 0 else '<'} {c.baseline}"
    return {
        "id": c.id, "artefact": c.artefact, "kind": c.kind, "headline": bool(c.headline), "hypothesis": c.hypothesis,
        "metric": c.metric, "treatment": c.treatment, "baseline": c.baseline, "design": design, "seeds": seeds,
        "treatment_values": tv, "baseline_values": bv, "difference": test.difference, "ci_low": test.ci_low,
        "ci_high": test.ci_high, "p": test.p, "paper_effect": c.paper_effect, "margin": margin,
        "claim": c.id, "statement": c.statement, "expected": expected, "observed": observed,
        "seed_signs": seed_signs, "ratio": ratio, "magnitude": magnitude,
        "mde": minimum_detectable_effect(test.se, test.dof), "paper_source": c.paper_source,
        "family": c.margin_family, "_test": test, "_claim": c,
    }


def claims_table(claims: Sequence[Claim], values: pd.DataFrame, paper: str | None = None, regime: str = "scratch",
                 variant_col: str = "variant", seed_col: str = "seed", split: str | None = "test") -> pd.DataFrame:
    """Judge every claim on ``values`` (one row per (variant, seed) run; metric columns) by the rule of
    the module docstring, Holm's correction over this call's paper and mechanism claims.

    Returns one row per claim, in order: the :data:`JSON_FIELDS` and the :data:`DISPLAY_FIELDS` (plus
    ``family``). ``seeds`` lists every seed either arm has; ``treatment_values`` / ``baseline_values``
    are aligned with it (None where an arm lacks that seed). A claim whose variants or metric have no
    values is "inconclusive" with "no records (...)" as its observation (chapters render before all
    their runs exist). A ``values`` table without ``seed_col`` (deprecated) can only be judged unpaired:
    the ``design`` column then says "unpaired".

    Verdicts are reported on the test split: where ``values`` has a ``split`` column, rows of another split
    (SynthReID's ``val``, which is for tuning) are left out; rows without one count as test, which is what
    every record made before the validation split was evaluated on. ``split=None`` keeps every row.
    """
    if split is not None and "split" in values.columns:
        values = values[values["split"].isna() | (values["split"] == split)]
    if paper is None:
        warnings.warn("claims_table without paper= is deprecated", DeprecationWarning, stacklevel=2)
    if seed_col not in values.columns:
        warnings.warn(f"claims_table: no {seed_col!r} column, every claim is judged unpaired (Welch)",
                      DeprecationWarning, stacklevel=2)
        seed_col_used: str | None = None
    else:
        seed_col_used = seed_col
    rows = [_judge_one(c, values, variant_col, seed_col_used) for c in claims]
    scored = [i for i, r in enumerate(rows) if r["kind"] in SCORED_KINDS]
    adjusted = holm([rows[i]["p"] for i in scored])
    p_holm = {i: float(a) for i, a in zip(scored, adjusted, strict=True)}
    for i, r in enumerate(rows):
        r["p_holm"] = p_holm.get(i, math.nan)  # sanity checks: not in Holm's family, decided on raw p
        p_dec = r["p_holm"] if i in p_holm else r["p"]
        r["verdict"] = decide(r.pop("_claim"), r.pop("_test"), p_dec, r["margin"])
        if r["observed"].startswith("no records"):
            r["verdict"] = "inconclusive"
        r["paper"] = paper or ""
        r["regime"] = regime
    columns = [*JSON_FIELDS, *DISPLAY_FIELDS, "family"]
    return pd.DataFrame(rows, columns=columns)


def table_records(table: pd.DataFrame) -> list[dict[str, object]]:
    """The rows of a :func:`claims_table` as JSON-ready dicts with exactly :data:`JSON_FIELDS` (NaN -> None)."""
    def clean(v: object) -> object:
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return None if not math.isfinite(float(v)) else float(v)
        if isinstance(v, np.bool_):
            return bool(v)
        return v

    return [{k: clean(r[k]) for k in JSON_FIELDS} for _, r in table.iterrows()]


__all__ = ["ALPHA", "Claim", "ClaimKind", "DESIGNS", "Design", "GLOSSARY", "HYPOTHESES", "Hypothesis", "JSON_FIELDS",
           "KINDS", "MAGNITUDES", "MARGIN_FAMILIES", "MarginFamily", "SCORED_KINDS", "TestResult", "VERDICTS",
           "VERDICT_RULE", "Verdict", "claim_margin", "claims_table", "decide", "exact_paired_test",
           "holm", "margin_family", "minimum_detectable_effect", "paired_test", "ratio_magnitude", "sign_agreement",
           "table_records", "verdict_rule_text", "welch_test"]
