"""Does a verdict survive scale? One paper claim's Δ per regime and scale cell, from the scale sweeps' records.

A study (:data:`STUDIES`) takes one claim of a paper module (its metric, arms, paper Δ) and the sweeps of
``partreid_core/experiments/sweeps/scale/<name>.yaml`` (scratch) and ``<name>_ft.yaml`` (fine-tuned), whose
variants are ``<arm>-w<width>-x<iterations factor>`` for each :data:`CELLS` entry. Records:
``<records root>/<experiment>/`` and ``<records root>/fine-tuned/<experiment>/``
(:func:`~partreid_core.reporting.paths.regime_root`).

Per cell, Δ = mean over seeds of (treatment − baseline), paired by seed, with the 95 % CI of
:func:`partreid_core.reporting.claims.paired_test`, the chapters' own test. No verdict and no Holm correction:
the cells describe how one effect moves with width, length and regime, they are not six more claims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.records import load_records
from .chapter import MISSING, fmt, paper_module
from .claims import Claim, paired_test
from .paths import REGIMES, regime_root, repository_root, shown


@dataclass(frozen=True)
class Cell:
    """One scale point: the trunk width and the factor on the profile recipe's iterations."""

    width: float
    iterations: int

    @property
    def name(self) -> str:
        return f"w{self.width:g}-x{self.iterations}"

    @property
    def label(self) -> str:
        return f"width {self.width:g}, {self.iterations}× iterations"


#: the cells of every scale study, in plotting order
CELLS: tuple[Cell, ...] = (Cell(0.25, 1), Cell(0.25, 4), Cell(0.5, 1))


@dataclass(frozen=True)
class ScaleStudy:
    """One claim across regimes and cells.

    Attributes:
        paper / claim_id: the claim of ``reporting.papers.<paper>.CLAIMS`` whose Δ is followed.
        experiment: the records folder of the scale sweeps (the same in both regimes).
        sweep: the sweep files' stem (``<sweep>.yaml`` scratch, ``<sweep>_ft.yaml`` fine-tuned).
    """

    paper: str
    claim_id: str
    experiment: str
    sweep: str

    @property
    def claim(self) -> Claim:
        return next(c for c in paper_module(self.paper).CLAIMS if c.id == self.claim_id)

    def sweep_file(self, regime: str) -> Path:
        suffix = {"scratch": "", "fine-tuned": "_ft"}[regime]
        return repository_root() / "partreid_core" / "experiments" / "sweeps" / "scale" / f"{self.sweep}{suffix}.yaml"


#: the scale studies of the comparison chapter, by the key the chapter names them with
STUDIES: dict[str, ScaleStudy] = {
    "PAL-GPPS": ScaleStudy("PAL", "C1-gp-mAP", "scale-pal-gpps", "pal_gpps"),
    "RMGL-RP": ScaleStudy("RMGL", "S3-rp", "scale-rmgl-rp", "rmgl_rp"),
}
#: seeds of every cell
SEEDS = (0, 1, 2)


def variant(arm: str, cell: Cell) -> str:
    """The sweep variant of one arm in one cell (``globalpool_ps-w0.25-x4``)."""
    return f"{arm}-{cell.name}"


def _arm(recs: pd.DataFrame, name: str, metric: str) -> pd.Series:
    """Seed -> ``metric`` of one variant's test-split runs (several runs of a seed averaged)."""
    if recs.empty or metric not in recs.columns:
        return pd.Series(dtype=float)
    sel = recs[(recs["variant"] == name) & (recs["split"] == "test")]
    v = pd.Series(pd.to_numeric(sel[metric], errors="coerce").to_numpy(float), index=sel["seed"].astype(int))
    return v.dropna().groupby(level=0).mean().sort_index()


def scale_table(root: str | Path, claim: str) -> pd.DataFrame:
    """One row per (regime, cell) of study ``claim`` (a :data:`STUDIES` key).

    Columns: ``regime``, ``cell`` (:attr:`Cell.name`), ``width``, ``iterations``, ``pairs`` (seeds both arms
    have), ``treatment`` / ``baseline`` (means over those seeds), ``difference``, ``ci_low``, ``ci_high``, ``p``
    (the paired t-test), ``paper_effect``, ``state`` (``run``, ``partial`` or ``not run``) and ``command``
    (the sweep command that makes the missing seeds; empty when none are missing).
    """
    study = STUDIES[claim]
    c = study.claim
    rows = []
    for regime in REGIMES:
        out = regime_root(root, regime)
        recs = load_records(out, study.experiment, config_columns=False)
        for cell in CELLS:
            names = (variant(c.treatment, cell), variant(c.baseline, cell))
            t, b = (_arm(recs, n, c.metric) for n in names)
            common = sorted(set(t.index) & set(b.index))
            test = paired_test(t[common].to_numpy(float), b[common].to_numpy(float))
            missing = [s for s in SEEDS if s not in common]
            cmd = "" if not missing else (f"partreid sweep {shown(study.sweep_file(regime))} --only {' '.join(names)}"
                                          f" --seeds {' '.join(map(str, missing))} --out {shown(out)}")
            rows.append({"regime": regime, "cell": cell.name, "width": cell.width, "iterations": cell.iterations,
                         "pairs": len(common), "treatment": float(t[common].mean()) if common else math.nan,
                         "baseline": float(b[common].mean()) if common else math.nan,
                         "difference": test.difference, "ci_low": test.ci_low, "ci_high": test.ci_high, "p": test.p,
                         "paper_effect": c.paper_effect, "state": "not run" if not common else
                         "partial" if missing else "run", "command": cmd})
    return pd.DataFrame(rows)


def format_scale(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`scale_table` for display: Δ with its CI, the arms' means, the seeds, indexed by (regime, cell)."""
    out = pd.DataFrame({
        "seeds": table["pairs"],
        "treatment": table["treatment"].map(fmt), "baseline": table["baseline"].map(fmt),
        "Δ [95% CI]": [MISSING if not math.isfinite(d) else f"{fmt(d, signed=True)}" + (
            "" if not math.isfinite(lo) else f" [{fmt(lo, signed=True)}, {fmt(hi, signed=True)}]")
            for d, lo, hi in zip(table["difference"], table["ci_low"], table["ci_high"], strict=True)],
        "paper Δ": table["paper_effect"].map(lambda v: fmt(v, signed=True)),
        "state": table["state"]})
    out.index = pd.MultiIndex.from_frame(table[["regime", "cell"]])
    return out


def fig_scale(root: str | Path, claim: str):
    """One figure for study ``claim``: Δ with its 95 % CI per cell, one marker per regime, the paper's Δ as a
    dashed reference line, zero as a thin one; a cell without records is marked "not run". Returns the figure."""
    import matplotlib.pyplot as plt

    study = STUDIES[claim]
    table = scale_table(root, claim)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    offsets = dict(zip(REGIMES, np.linspace(-0.12, 0.12, len(REGIMES)), strict=True))
    labelled: set[str] = set()
    for r in table.itertuples():
        x = [c.name for c in CELLS].index(r.cell) + offsets[r.regime]
        if r.pairs == 0:
            ax.annotate(f"{r.regime}: not run", (x, 0), ha="center", va="bottom", fontsize=8, color="0.4",
                        rotation=90, xytext=(0, 6), textcoords="offset points")
            continue
        err = None if not math.isfinite(r.ci_low) else [[r.difference - r.ci_low], [r.ci_high - r.difference]]
        k = list(REGIMES).index(r.regime)
        ax.errorbar(x, r.difference, yerr=err, fmt="os"[k % 2], capsize=3, color=f"C{k}",
                    label=None if r.regime in labelled else r.regime)
        labelled.add(r.regime)
    ax.axhline(0, color="0.6", lw=0.8)
    if study.claim.paper_effect is not None:
        ax.axhline(study.claim.paper_effect, color="k", ls="--", lw=1,
                   label=f"paper Δ {study.claim.paper_effect:+g} ({study.claim.paper_source.split(',')[0]})")
    ax.set_xticks(range(len(CELLS)), [c.label for c in CELLS])
    ax.set_xlim(-0.5, len(CELLS) - 0.5)
    ax.set_ylabel(f"Δ {study.claim.metric} ({study.claim.treatment} − {study.claim.baseline})")
    ax.set_title(f"{study.paper} {study.claim_id}: {study.claim.statement}", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


__all__ = ["CELLS", "Cell", "SEEDS", "STUDIES", "ScaleStudy", "fig_scale", "format_scale", "scale_table", "variant"]
