"""The comparison chapter's tables, computed from records: accuracy, cost, robustness, scorecard.

Every number comes from a record under ``results/``:

* accuracy: the chapters' runs named by :data:`partreid_core.experiments.comparison.METHODS`;
* cost: ``results/bench/models-<profile>.json`` (``partreid bench models``);
* robustness: ``results/comparison-robustness/<knob>/<method>-s<seed>/knobs.csv`` (``partreid robustness``);
* scorecard: each paper module's ``ARTEFACTS`` and ``claims_table()`` (paper + mechanism claims; sanity
  checks counted apart).

A method without records stays in every table with empty cells and ``seeds = 0``, so what is
missing is visible rather than silently dropped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..engine.records import load_records
from ..experiments.comparison import METHODS, ROBUSTNESS_EXPERIMENT, ROBUSTNESS_LEVELS, Method
from ..experiments.sweep import load_sweep
from . import papers  # papers.PAPERS is read at call time: a test swaps in its own papers
from .chapter import MISSING, fmt
from .claims import SCORED_KINDS, VERDICTS, Claim, claims_table
from .paths import REGIMES, regime_root, repository_root, shown

#: metrics of the accuracy table; mAP is torchreid's non-interpolated AP, mAP_trapezoid the interpolated one
ACCURACY_METRICS = ["rank1", "mAP", "mAP_trapezoid", "mINP"]


def method_runs(root: str | Path = "results", methods: list[Method] | None = None, profile: str | None = None,
                dataset: str | None = None, split: str | None = "test") -> pd.DataFrame:
    """One row per (method, seed) run found: method, kind, seed, the accuracy metrics and provenance.

    ``profile`` / ``dataset`` keep only the runs made with them (None: all); ``split`` the runs evaluated on
    that split (``"test"``: the comparison never ranks on the validation split, which is for tuning)."""
    methods = methods or METHODS
    recs = load_records(root, sorted({m.experiment for m in methods}), config_columns=False)
    for col, want in (("profile", profile), ("dataset", dataset), ("split", split)):
        if not recs.empty and want is not None:
            recs = recs[recs[col] == want]
    cols = ["method", "kind", "seed", *ACCURACY_METRICS, "profile", "dataset", "device", "git_commit", "path"]
    if recs.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for m in methods:
        sel = recs[(recs.experiment == m.experiment) & (recs.variant == m.variant)]
        for r in sel.itertuples():
            rows.append({"method": m.label, "kind": m.kind, "seed": r.seed,
                         **{k: getattr(r, k) for k in ACCURACY_METRICS},
                         "profile": r.profile, "dataset": r.dataset, "device": r.device,
                         "git_commit": r.git_commit, "path": r.path})
    return pd.DataFrame(rows, columns=cols)


def load_bench(root: str | Path = "results", profile: str = "cpu") -> pd.DataFrame:
    """``results/bench/models-<profile>.json`` as a table indexed by the bench label (empty if absent)."""
    f = Path(root) / "bench" / f"models-{profile}.json"
    if not f.is_file():
        return pd.DataFrame(columns=["train_images_per_s", "infer_images_per_s", "params", "macs"])
    rec = json.loads(f.read_text())
    df = pd.DataFrame(rec["result"]["rows"]).set_index("label")
    df.attrs["device"], df.attrs["git_commit"] = rec.get("device"), rec.get("git_commit")
    return df


def comparison_table(root: str | Path = "results", profile: str = "cpu", dataset: str | None = None,
                     methods: list[Method] | None = None) -> pd.DataFrame:
    """One row per method: seeds, mean and std of each accuracy metric, params, MACs, train / infer images/s,
    from the runs of ``profile`` (and ``dataset``, if given) and that profile's benchmark record."""
    methods = methods or METHODS
    runs = method_runs(root, methods, profile, dataset)
    bench = load_bench(root, profile)
    rows = []
    for m in methods:
        r = runs[runs.method == m.label]
        row: dict[str, object] = {"method": m.label, "kind": m.kind, "seeds": len(r)}
        for k in ACCURACY_METRICS:
            v = r[k].astype(float)
            row[k] = v.mean() if len(v) else np.nan
            row[f"{k}_std"] = v.std(ddof=1) if len(v) > 1 else np.nan
        b = bench.loc[m.bench] if m.bench in bench.index else None
        for k in ("params", "macs", "train_images_per_s", "infer_images_per_s"):
            row[k] = float(b[k]) if b is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def format_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for display: ``mean ± std`` strings, M params, M MACs, rounded rates."""
    out = pd.DataFrame({"method": table.method, "seeds": table.seeds})
    for k in ACCURACY_METRICS:
        out[k] = [("—" if np.isnan(m) else f"{m:.1f}" if np.isnan(s) else f"{m:.1f} ± {s:.1f}")
                  for m, s in zip(table[k], table[f"{k}_std"], strict=True)]
    out["params (M)"] = [("—" if np.isnan(v) else f"{v / 1e6:.2f}") for v in table.params]
    out["MACs (M)"] = [("—" if np.isnan(v) else f"{v / 1e6:.0f}") for v in table.macs]
    out["train img/s"] = [("—" if np.isnan(v) else f"{v:.0f}") for v in table.train_images_per_s]
    out["infer img/s"] = [("—" if np.isnan(v) else f"{v:.0f}") for v in table.infer_images_per_s]
    return out


# --------------------------------------------------------------------------------------------------
# Construct validity: does SynthReID rank the methods as Market-1501 does?
# --------------------------------------------------------------------------------------------------
#: the profile each regime's comparison runs were made with (:data:`~partreid_core.reporting.paths.REGIMES`)
REGIME_PROFILES = {"scratch": "cpu", "fine-tuned": "cpu-ft"}
#: fewer common methods than this give no τ: with two, τ is ±1 whatever the numbers are
MIN_RANKED = 3


@dataclass(frozen=True)
class Published:
    """A method's published Market-1501 single-query numbers (%, no re-ranking), as one table prints them.

    Attributes:
        row: the row's name in that table (the stand-in, where the table has no row for the method itself).
        source: paper, table and section (the source texts have no page numbers; sections stand in for pages).
        rank1 / mAP: the values; None where the paper reports none (e.g. only as bars in a figure).
        ap: the AP convention of the code behind the number: ``trapezoid`` (the Market-1501 devkit's
            interpolated AP: PAL's EANet code, MPN's code), ``non-interpolated`` (torchreid) or ``not stated``.
    """

    row: str
    source: str
    rank1: float | None
    mAP: float | None
    ap: str = "not stated"


_PAL_T2 = "PAL, Table II, §IV-D"
#: one entry per :data:`~partreid_core.experiments.comparison.METHODS` label. PAL's Table II lists PCB, MGN and
#: OSNet with their own papers' numbers; PAL's GP+PS and PCB+PS gains are drawn only as bars (Fig. 6) with
#: their Δ in the text, so their absolute values are not reported. No paper of the five lists a plain
#: GlobalPool ResNet-50: PLR-OSNet's Table I row of BagOfTricks (a GlobalPool ResNet-50 with BNNeck, warm-up,
#: random erasing, label smoothing, last stride 1 and triplet loss) stands in for it.
PUBLISHED: dict[str, Published] = {
    "GlobalPool": Published("BagOfTricks [10] (GlobalPool stand-in)", "PLR-OSNet, Table I, §IV-C", 94.5, 85.9),
    "PCB": Published("PCB [9]", _PAL_T2, 92.3, 77.4),
    "MGN": Published("MGN [10]", _PAL_T2, 95.7, 86.9),
    "OSNet": Published("OSNet [24]", _PAL_T2, 94.8, 84.9, "non-interpolated"),
    "PAL (GP+PS)": Published("GP_R50 + PS", "PAL, Fig. 6, §IV-C (bars only; Δ +1.0 Rank-1 / +1.7 mAP in the text)",
                             None, None, "trapezoid"),
    "PAL (PCB+PS)": Published("PCB + PS", "PAL, Fig. 6, §IV-C (bars only; Δ +0.7 Rank-1 / +1.5 mAP in the text)",
                              None, None, "trapezoid"),
    "PAL (MGN+PS)": Published("MGN+PS (Ours)", _PAL_T2, 95.8, 88.7, "trapezoid"),
    "RMGL": Published("RMGL (Ours), without re-ranking", "RMGL, Table I, §IV-B", 96.2, 90.0),
    "CGPN": Published("CGPN", "CGPN, Table 1, §4.3, p. 6", 96.1, 89.9),
    "MPN": Published("MPN (single query)", "MPN, Table 4, §5.4.1", 96.3, 89.4, "trapezoid"),
    "PLR-OSNet": Published("PLR-OSNet", "PLR-OSNet, Table I, §IV-C", 95.6, 88.9, "non-interpolated"),
}
#: what the construct-validity table says about AP conventions (the papers' codes differ; ours is one)
AP_NOTE = ("Published mAPs follow each paper's own evaluation code (column AP): PAL's and MPN's integrate AP by "
           "the trapezoid rule of the Market-1501 devkit, torchreid's (OSNet, PLR-OSNet) is non-interpolated, the "
           "others do not say. Ours is the non-interpolated mAP for every method (the method table gives both), "
           "so our ranking is in one convention and the published one in several.")


def construct_validity(root: str | Path = "results", regimes: tuple[str, ...] = tuple(REGIMES),
                       methods: list[Method] | None = None) -> pd.DataFrame:
    """Each method's published Market-1501 Rank-1 / mAP beside ours per regime (means over seeds, test split).

    Returns one row per method (in :data:`METHODS` order) with ``method``, ``published as``, ``source``,
    ``paper rank1``, ``paper mAP``, ``AP`` (the published mAP's convention) and, per regime,
    ``<regime> rank1``, ``<regime> mAP`` and ``<regime> seeds`` (the regime's records under
    :func:`~partreid_core.reporting.paths.regime_root`, profile :data:`REGIME_PROFILES`). Values not reported
    or not run are NaN; a regime without records has 0 seeds.
    """
    methods = methods or METHODS
    out = pd.DataFrame({"method": [m.label for m in methods]})
    pub = [PUBLISHED.get(m.label) for m in methods]
    out["published as"] = [p.row if p else MISSING for p in pub]
    out["source"] = [p.source if p else MISSING for p in pub]
    out["paper rank1"] = [np.nan if p is None or p.rank1 is None else p.rank1 for p in pub]
    out["paper mAP"] = [np.nan if p is None or p.mAP is None else p.mAP for p in pub]
    out["AP"] = [p.ap if p else MISSING for p in pub]
    for regime in regimes:
        t = comparison_table(regime_root(root, regime), REGIME_PROFILES[regime], methods=methods).set_index("method")
        for k in ("rank1", "mAP"):
            out[f"{regime} {k}"] = t[k].reindex(out.method).to_numpy(float)
        out[f"{regime} seeds"] = t["seeds"].reindex(out.method).fillna(0).astype(int).to_numpy()
    return out


def rank_agreement(table: pd.DataFrame, regimes: tuple[str, ...] = tuple(REGIMES)) -> pd.DataFrame:
    """Kendall's τ-b between the published ranking and ours, per regime and metric.

    ``table``: :func:`construct_validity`. Only methods with a published value and a record enter (each
    metric on its own). Returns one row per (regime, metric): ``regime``, ``metric``, ``methods`` (how many
    were ranked), ``tau``, ``p`` (two-sided, exact for small n without ties), ``concordant`` / ``discordant``
    (pairs ordered alike / oppositely; tied pairs in neither) and ``ranked`` (the methods' labels).
    Fewer than :data:`MIN_RANKED` methods give NaN.
    """
    rows = []
    for regime in regimes:
        for metric in ("rank1", "mAP"):
            both = table.dropna(subset=[f"paper {metric}", f"{regime} {metric}"])
            a, b = both[f"paper {metric}"].to_numpy(float), both[f"{regime} {metric}"].to_numpy(float)
            tau, p = (stats.kendalltau(a, b) if len(both) >= MIN_RANKED else (np.nan, np.nan))
            sign = np.sign(np.subtract.outer(a, a)) * np.sign(np.subtract.outer(b, b))
            upper = sign[np.triu_indices(len(a), 1)]
            rows.append({"regime": regime, "metric": metric, "methods": len(both), "tau": float(tau), "p": float(p),
                         "concordant": int((upper > 0).sum()), "discordant": int((upper < 0).sum()),
                         "ranked": ", ".join(both.method)})
    return pd.DataFrame(rows, columns=["regime", "metric", "methods", "tau", "p", "concordant", "discordant",
                                       "ranked"])


def format_construct_validity(table: pd.DataFrame, regimes: tuple[str, ...] = tuple(REGIMES)) -> pd.DataFrame:
    """:func:`construct_validity` for display: one decimal, :data:`MISSING` where not reported / not run,
    each regime's columns labelled with its seeds (``"scratch Rank-1"``...), indexed by method."""
    out = pd.DataFrame({"published as": table["published as"], "source": table["source"],
                        "paper Rank-1": table["paper rank1"].map(fmt), "paper mAP": table["paper mAP"].map(fmt),
                        "AP": table["AP"]})
    for regime in regimes:
        out[f"{regime} Rank-1"] = table[f"{regime} rank1"].map(fmt)
        out[f"{regime} mAP"] = table[f"{regime} mAP"].map(fmt)
        out[f"{regime} seeds"] = table[f"{regime} seeds"]
    out.index = pd.Index(table["method"], name="method")
    return out


def missing_runs(root: str | Path, regime: str, methods: list[Method] | None = None,
                 seeds: tuple[int, ...] = (0, 1, 2)) -> pd.DataFrame:
    """The methods of ``regime`` (:data:`REGIME_PROFILES`) that lack some of ``seeds`` on the test split, with the
    command that makes them: the chapter sweep defining the method's variant, run in the regime's profile into
    the regime's records root. Columns: ``method``, ``seeds`` (those on record), ``command``."""
    out = regime_root(root, regime)
    runs = method_runs(out, methods, REGIME_PROFILES[regime])
    files = sorted((repository_root() / "partreid_core" / "experiments" / "sweeps").glob("*/*.yaml"))
    sweeps = [(f, load_sweep(f)) for f in files if f.parent.name not in ("calibration", "scale")]
    rows = []
    for m in methods or METHODS:
        have = set(runs.loc[runs.method == m.label, "seed"].astype(int))
        todo = [s for s in seeds if s not in have]
        if not todo:
            continue
        f = next(f for f, sw in sweeps if sw.experiment == m.experiment and m.variant in sw.variants)
        profile = "" if regime == "scratch" else f" --profile {REGIME_PROFILES[regime]}"
        rows.append({"method": m.label, "seeds": len(have),
                     "command": f"partreid sweep {shown(f)}{profile} --only {m.variant} --seeds "
                                f"{' '.join(map(str, todo))} --out {shown(out)}"})
    return pd.DataFrame(rows, columns=["method", "seeds", "command"])


def robustness_runs(root: str | Path = "results", methods: list[Method] | None = None) -> pd.DataFrame:
    """Long table of the robustness records: method, seed, knob, level and the metrics per level."""
    methods = methods or METHODS
    base = Path(root) / ROBUSTNESS_EXPERIMENT
    frames = []
    for m in methods:
        for f in sorted(base.glob(f"*/{m.slug}-s*/knobs.csv")):
            df = pd.read_csv(f)
            df["level"] = df["level"].astype(str)
            df.insert(0, "seed", int(f.parent.name.rsplit("-s", 1)[1]))
            df.insert(0, "method", m.label)
            frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["method", "seed", "knob", "level", "rank1", "mAP"])
    return pd.concat(frames, ignore_index=True)


def fig_robustness(runs: pd.DataFrame, title: str, methods: list[Method] | None = None):
    """mAP as each knob of :data:`ROBUSTNESS_LEVELS` grows: one panel per knob, one line per method (mean ± std
    over seeds; dashed = baselines); ``runs`` is :func:`robustness_runs`. An empty panel says "no records yet"."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    methods = methods or METHODS
    knobs = list(ROBUSTNESS_LEVELS)
    colors = dict(zip([m.label for m in methods], sns.color_palette("tab10", len(methods)), strict=True))
    styles = {m.label: "--" if m.kind == "baseline" else "-" for m in methods}
    fig, axes = plt.subplots(1, len(knobs), figsize=(15, 4.2))
    for ax, knob in zip(axes, knobs, strict=True):
        sel = runs[runs.knob == knob] if not runs.empty else runs
        levels = [str(v) for v in ROBUSTNESS_LEVELS[knob]]
        for meth, g in sel.groupby("method", sort=False):
            stats_ = g.groupby("level").mAP.agg(["mean", "std"]).reindex(levels)
            ax.errorbar(np.arange(len(levels)), stats_["mean"], yerr=stats_["std"].fillna(0), ls=styles[meth],
                        label=f"{meth} (n={g.seed.nunique()})", color=colors[meth], marker="o", ms=3, capsize=2)
        ax.set_xticks(range(len(levels)), levels)
        ax.set_xlabel(knob)
        ax.set_ylabel("mAP (%)")
        ax.grid(alpha=0.3)
        if sel.empty:
            ax.text(0.5, 0.5, "no records yet", ha="center", transform=ax.transAxes)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, bbox_to_anchor=(0.5, -0.12))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def robustness_drop(runs: pd.DataFrame, knob: str, metric: str = "mAP") -> pd.DataFrame:
    """Per method: mean ``metric`` at the knob's first and last level and the relative drop (in %).

    The relative drop (1 - last / first) compares methods of different accuracy on one scale: what
    fraction of its clean accuracy a method keeps as the knob grows.
    """
    sel = runs[runs.knob == knob]
    rows = []
    for meth, g in sel.groupby("method", sort=False):
        (lo, first), (hi, last) = _end_levels(g, metric)
        rows.append({"method": meth, "seeds": g.seed.nunique(), f"{metric}@{lo}": first,
                     f"{metric}@{hi}": last, "relative drop %": _relative_drop(first, last)})
    return pd.DataFrame(rows)


def _end_levels(g: pd.DataFrame, metric: str) -> tuple[tuple[str, float], tuple[str, float]]:
    """(first level, mean metric there), (last level, mean metric there) of one knob's rows, in record order."""
    levels = list(dict.fromkeys(g.level))
    return tuple((lv, g[g.level == lv][metric].mean()) for lv in (levels[0], levels[-1]))  # type: ignore[return-value]


def _relative_drop(first: float, last: float) -> float:
    return 100 * (1 - last / first) if first else np.nan


def relative_drops(runs: pd.DataFrame, knob: str, metric: str = "mAP") -> pd.DataFrame:
    """Per (method, seed): 100 * (1 - metric at the knob's last level / at its first level)."""
    sel = runs[runs.knob == knob]
    rows = []
    for (meth, seed), g in sel.groupby(["method", "seed"], sort=False):
        (_, first), (_, last) = _end_levels(g, metric)
        rows.append({"method": meth, "seed": seed, "knob": knob, "drop": _relative_drop(first, last)})
    return pd.DataFrame(rows, columns=["method", "seed", "knob", "drop"])


#: The papers' robustness claims, tested against each other on one benchmark. "More robust" means a higher
#: mAP than the baseline at the knob's hardest level, paired by seed (the methods share the seeds); the
#: relative drop is reported beside it, never instead of it (a low clean accuracy makes a small drop cheap).
#: Each metric is ``<knob>_mAP``: the mAP at the knob's last level (:func:`hard_level_table`).
ROBUSTNESS_CLAIMS: list[tuple[str, Claim]] = [
    ("misalignment", Claim("RMGL-misalign", "RMGL-X3", "RMGL's receptive stripes + RSA have a higher mAP than "
                           "PCB's stripes at the strongest misalignment", "misalignment_mAP", "RMGL", "PCB")),
    ("misalignment", Claim("MPN-misalign", "MPN-X1", "MPN's coarse priors give a higher mAP than PCB at the "
                           "strongest misalignment", "misalignment_mAP", "MPN", "PCB")),
    ("misalignment", Claim("PLR-misalign", "PLR-T3", "PLR-OSNet's single ID loss over stripes gives a higher mAP "
                           "than PCB at the strongest misalignment", "misalignment_mAP", "PLR-OSNet", "PCB")),
    ("misalignment", Claim("PAL-misalign", "PAL-F6", "PAL's PS head gives PCB a higher mAP at the strongest "
                           "misalignment", "misalignment_mAP", "PAL (PCB+PS)", "PCB")),
    ("occlusion", Claim("CGPN-occlusion", "CGPN-X1", "CGPN has a higher mAP than PCB at the strongest occlusion",
                        "occlusion_mAP", "CGPN", "PCB")),
    ("occlusion", Claim("CGPN-occlusion-mgn", "CGPN-X1", "CGPN has a higher mAP than MGN, the model its paper "
                        "compares with, at the strongest occlusion", "occlusion_mAP", "CGPN", "MGN")),
    ("occlusion", Claim("MPN-occlusion", "MPN-X1", "MPN has a higher mAP than PCB at the strongest occlusion",
                        "occlusion_mAP", "MPN", "PCB")),
    ("domain", Claim("PAL-domain-gp", "PAL-T9", "PAL's PS head gives GlobalPool a higher mAP on domain B "
                     "(trained on A)", "domain_mAP", "PAL (GP+PS)", "GlobalPool")),
    ("domain", Claim("PAL-domain-pcb", "PAL-T9", "PAL's PS head gives PCB a higher mAP on domain B",
                     "domain_mAP", "PAL (PCB+PS)", "PCB")),
    ("domain", Claim("PAL-domain-mgn", "PAL-T9", "PAL's PS head gives MGN a higher mAP on domain B",
                     "domain_mAP", "PAL (MGN+PS)", "MGN")),
]


def hard_level_table(runs: pd.DataFrame, metric: str = "mAP") -> pd.DataFrame:
    """One row per (method, seed) of :func:`robustness_runs`: ``variant`` (= method), ``seed`` and, per knob,
    ``<knob>_<metric>`` (the metric at the knob's last, hardest level), ``<knob>_level`` (that level) and
    ``<knob>_drop`` (the relative drop in %, first to last level)."""
    rows: dict[tuple[str, int], dict[str, object]] = {}
    for (meth, seed, knob), g in runs.groupby(["method", "seed", "knob"], sort=False):
        (_, first), (hi, last) = _end_levels(g, metric)
        r = rows.setdefault((meth, int(seed)), {"variant": meth, "seed": int(seed)})
        r.update({f"{knob}_{metric}": last, f"{knob}_level": hi, f"{knob}_drop": _relative_drop(first, last)})
    return pd.DataFrame(list(rows.values()), columns=["variant", "seed"] if not rows else None)


def robustness_claims(runs: pd.DataFrame) -> pd.DataFrame:
    """Every claim of :data:`ROBUSTNESS_CLAIMS` judged by the book's rule on the mAP at the hardest level,
    paired by seed, with Holm's correction over these claims; ``knob``, ``level`` (the hardest one) and the
    mean relative drops of treatment and baseline (``drop_treatment`` / ``drop_baseline``, %) beside."""
    values = hard_level_table(runs)
    table = claims_table([c for _, c in ROBUSTNESS_CLAIMS], values, paper="comparison")
    knobs = [k for k, _ in ROBUSTNESS_CLAIMS]
    table.insert(0, "knob", knobs)

    def mean_of(column: str, variant: str) -> float:
        if column not in values.columns:
            return np.nan
        return float(pd.to_numeric(values.loc[values.variant == variant, column], errors="coerce").mean())

    table["level"] = [next(iter(values[f"{k}_level"].dropna()), None) if f"{k}_level" in values.columns else None
                      for k in knobs]
    for side in ("treatment", "baseline"):
        table[f"drop_{side}"] = [mean_of(f"{k}_drop", getattr(c, side)) for k, c in ROBUSTNESS_CLAIMS]
    return table


def scorecard(root: str | Path = "results") -> pd.DataFrame:
    """Per paper: artefacts by status, and its paper + mechanism claims by verdict, from the paper modules
    and the records.

    Columns: ``paper``, ``artefacts``, one per :data:`~partreid_core.reporting.papers.STATUSES`, ``claims``
    (paper + mechanism), ``headline``, one per :data:`~partreid_core.reporting.claims.VERDICTS`, ``of which no
    records`` (inconclusive for want of runs), ``sanity`` (benchmark / by-construction checks, counted apart,
    never in the verdicts) and ``not confirmed`` (= contradicted + no effect, kept for readers of the older
    three-verdict scorecard). A claims table without a ``kind`` column counts every claim as a paper claim.
    An artefact the module marks "reproduced" counts as "pending runs" while all its claims lack records
    (:func:`partreid_core.reporting.papers.artefact_statuses`).
    """
    rows = []
    for name, mod in papers.PAPERS.items():
        claims = mod.claims_table(root)
        art = pd.Series(list(papers.artefact_statuses(mod, claims).values()))
        kind = claims["kind"] if "kind" in claims.columns else pd.Series("paper", index=claims.index)
        scored = claims[kind.isin(SCORED_KINDS)]
        headline = scored["headline"].astype(bool) if "headline" in scored.columns else pd.Series(False, scored.index)
        row: dict[str, object] = {"paper": name, "artefacts": len(art)}
        row.update({s: int((art == s).sum()) for s in papers.STATUSES})
        row["claims"] = len(scored)
        row["headline"] = int(headline.sum())
        row.update({v: int((scored.verdict == v).sum()) for v in VERDICTS})
        row["of which no records"] = int(scored.observed.astype(str).str.startswith("no records").sum())
        row["sanity"] = int((kind == "sanity").sum())
        row["not confirmed"] = row["contradicted"] + row["no effect"]
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["ACCURACY_METRICS", "AP_NOTE", "MIN_RANKED", "PUBLISHED", "Published", "REGIME_PROFILES",
           "ROBUSTNESS_CLAIMS", "comparison_table", "construct_validity", "format_comparison",
           "fig_robustness", "format_construct_validity", "hard_level_table", "load_bench", "method_runs",
           "missing_runs", "rank_agreement",
           "relative_drops", "robustness_claims", "robustness_drop", "robustness_runs", "scorecard"]
