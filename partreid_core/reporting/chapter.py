"""The chapter toolkit: one paper's run records, opened once, and the few helpers every chapter needs.

A chapter opens its paper with :func:`open_chapter` and hands the :class:`Chapter` to the artefact renderers of
``partreid_core.reporting.papers.<paper>`` (``table_t6(ch)``, ``fig_f9(ch)``): the notebook itself holds the
narrative and one call per artefact. Everything here reads records; nothing trains.

>>> ch = open_chapter("PAL")                      # doctest: +SKIP
>>> ch.mean_std("pcb_ps", "rank1")                # "41.3 ± 1.2 (n=5)"  # doctest: +SKIP
>>> ch.paired_delta("pcb_ps", "pcb", "rank1")     # per-seed differences, indexed by seed  # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from ..engine.records import load_analysis, load_records
from ..experiments.sweep import load_sweep
from .cli import REGIME_NAMES
from .glance import headline_table, regime_summary
from .paths import regime_root, repository_root, results_root, shown
from .tables import provenance

#: the sweep folder (``partreid_core/experiments/sweeps/<folder>``) and chapter page of each paper
FOLDERS = {"PAL": "pal", "RMGL": "rmgl", "CGPN": "cgpn", "MPN": "mpn", "PLR": "plr_osnet"}
#: what a cell shows where a value does not exist (not run, or not reported by the paper)
MISSING = "—"
#: seeds planned for a variant that no headline claim uses (headline variants get every seed of their grid)
BASE_SEEDS = 3
#: the profile whose sweeps make each regime's records (``partreid sweep ... --profile``)
REGIME_PROFILES = {"scratch": "cpu", "fine-tuned": "cpu-ft"}


def paper_module(paper: str) -> ModuleType:
    """``partreid_core.reporting.papers.<paper>`` for a paper id (``"PAL"``) or module name (``"plr_osnet"``)."""
    from .papers import PAPERS  # here, not at the top: every paper's package imports this module

    by_name = {m.__name__.rsplit(".", 1)[-1]: m for m in PAPERS.values()}
    module = PAPERS.get(paper) or by_name.get(paper)
    if module is None:
        raise KeyError(f"unknown paper {paper!r}; the book has {sorted(PAPERS)}")
    return module


def module_runs(module: ModuleType, results: str | Path) -> pd.DataFrame:
    """The paper module's tidy run table (one row per complete run, with ``variant``, ``seed``, ``path`` and its
    derived columns): ``run_table(results)``. An absent records folder gives an empty table."""
    return module.run_table(results)


def fmt(x: object, digits: int = 1, signed: bool = False) -> str:
    """A number with fixed decimals, :data:`MISSING` for None / NaN (never "nan", never 0.000000)."""
    if x is None:
        return MISSING
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return MISSING
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


@dataclass
class Chapter:
    """One paper's records in one regime, filtered to one profile / dataset where asked.

    Attributes:
        paper: the paper id (``"PAL"``).
        module: ``partreid_core.reporting.papers.<paper>`` (claims, reference tables, renderers).
        results: the regime's records (``root`` itself for scratch, ``root/fine-tuned`` for fine-tuned).
        root: the records root that holds every regime (absolute; :func:`partreid_core.reporting.paths.results_root`
            by default); the at-a-glance table reads both regimes from it.
        regime: ``"scratch"`` or ``"fine-tuned"`` (:data:`partreid_core.reporting.paths.REGIMES`).
        runs: one row per complete run (``variant``, ``seed``, ``path``, provenance, metrics, derived columns).
    """

    paper: str
    module: ModuleType
    results: Path
    profile: str | None = None
    dataset: str | None = None
    regime: str = "scratch"
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    root: Path | None = None

    def __post_init__(self) -> None:
        if self.root is None:  # a Chapter built by hand on one regime's folder
            self.root = self.results

    # ------------------------------------------------------------------ selection
    def of(self, variant: str) -> pd.DataFrame:
        """The runs of one variant, sorted by seed (empty when none)."""
        if self.runs.empty or "variant" not in self.runs:
            return self.runs.iloc[0:0]
        return self.runs[self.runs["variant"] == variant].sort_values("seed")

    def has(self, variant: str) -> bool:
        return not self.of(variant).empty

    def values(self, variant: str, col: str) -> pd.Series:
        """``col`` of a variant's runs as floats, indexed by seed, missing values dropped."""
        rows = self.of(variant)
        if col not in rows:
            return pd.Series(dtype=float)
        v = pd.to_numeric(rows[col], errors="coerce")
        v.index = pd.Index(rows["seed"].astype(int), name="seed")
        return v.dropna()

    # ------------------------------------------------------------------ summaries
    def mean_std(self, variant: str, col: str, digits: int = 1, scale: float = 1.0) -> str:
        """``"mean ± std (n=k)"`` over the seeds (sample std), :data:`MISSING` when the variant has no value."""
        v = self.values(variant, col) * scale
        if v.empty:
            return MISSING
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        return f"{v.mean():.{digits}f} ± {sd:.{digits}f} (n={len(v)})"

    def mean(self, variant: str, col: str) -> float:
        v = self.values(variant, col)
        return float(v.mean()) if len(v) else float("nan")

    def paired_delta(self, treatment: str, baseline: str, col: str,
                     baseline_col: str | None = None) -> pd.Series:
        """Per-seed ``treatment − baseline`` over the seeds both have (the claims' paired design)."""
        t = self.values(treatment, col)
        b = self.values(baseline, baseline_col or col)
        return (t - b).dropna()

    def delta_text(self, treatment: str, baseline: str, col: str, digits: int = 1) -> str:
        """The paired difference as a reader scans it: mean, per-seed values and the sign agreement."""
        d = self.paired_delta(treatment, baseline, col)
        if d.empty:
            return MISSING
        per_seed = ", ".join(f"{x:+.{digits}f}" for x in d)
        return f"{d.mean():+.{digits}f} (per seed {per_seed}; {int((d > 0).sum())} of {len(d)} positive)"

    # ------------------------------------------------------------------ analysis arrays
    def analysis(self, variant: str, seed: int | None = None) -> dict[str, np.ndarray]:
        """The ``analysis.npz`` arrays of one run (the lowest seed unless ``seed``); ``{}`` when absent."""
        rows = self.of(variant)
        if seed is not None:
            rows = rows[rows["seed"] == seed]
        for path in rows.get("path", []):
            if (Path(path) / "analysis.npz").is_file():
                return load_analysis(path)
        return {}

    def stack(self, variant: str, key: str) -> np.ndarray | None:
        """``key`` of every seed's ``analysis.npz`` stacked on a new first axis (seeds × ...), in seed order;
        None when no run of the variant has it. Arrays of unequal shapes raise (they are not one quantity)."""
        arrays = []
        for path in self.of(variant).get("path", []):
            if (Path(path) / "analysis.npz").is_file():
                a = load_analysis(path)
                if key in a:
                    arrays.append(np.asarray(a[key]))
        return np.stack(arrays) if arrays else None

    # ------------------------------------------------------------------ provenance and state
    def provenance(self, variants: list[str] | None = None) -> str:
        """How the numbers of a table were made (profile, dataset, seeds, device, commit, regime, trunk)."""
        sub = self.runs if variants is None or self.runs.empty else self.runs[self.runs["variant"].isin(variants)]
        if sub.empty:
            return "no records yet" + (f" for {', '.join(variants)}" if variants else "")
        return provenance(sub)

    def sweep_folder(self) -> Path:
        return repository_root() / "partreid_core" / "experiments" / "sweeps" / FOLDERS[self.paper]

    def headline_variants(self) -> set[str]:
        """The variants a headline claim compares (they get every seed of their sweep's grid)."""
        return {v for c in getattr(self.module, "CLAIMS", []) if c.headline for v in (c.treatment, c.baseline)}

    def status(self) -> pd.DataFrame:
        """One row per variant of every sweep of the chapter: seeds with records, planned seeds (all of the
        grid's for headline variants, the first :data:`BASE_SEEDS` for the others), and the command that makes
        the missing ones (empty when the variant is complete)."""
        rows = []
        headline = self.headline_variants()
        for path in sorted(self.sweep_folder().glob("*.yaml")):
            sw = load_sweep(path)
            recs = load_records(self.results, sw.experiment, config_columns=False)
            if not recs.empty and self.profile is not None:
                recs = recs[recs["profile"] == self.profile]
            for variant in sw.variants:
                have = set() if recs.empty else set(recs.loc[recs["variant"] == variant, "seed"].dropna().astype(int))
                planned = sw.seeds if variant in headline else sw.seeds[:BASE_SEEDS]
                missing = [s for s in planned if s not in have]
                cmd = ("" if not missing else f"partreid sweep {shown(path)} --only {variant} --seeds "
                       + " ".join(map(str, missing)) + self._profile_option() + f" --out {shown(self.results)}")
                rows.append({"sweep": path.stem, "variant": variant, "seeds": f"{len(planned) - len(missing)} of "
                             f"{len(planned)}", "state": "complete" if not missing else "missing", "command": cmd})
        return pd.DataFrame(rows, columns=["sweep", "variant", "seeds", "state", "command"])

    def _profile_option(self) -> str:
        """`` --profile P`` where the regime's runs are made at another profile than the sweep files' own
        (the fine-tuned regime: ``cpu-ft``); empty for the scratch regime, whose sweep files name their profile."""
        return "" if self.regime == "scratch" else f" --profile {self.profile or REGIME_PROFILES[self.regime]}"

    def status_summary(self) -> str:
        """One line per sweep: complete, or which variants lack seeds (the command is in :meth:`status`)."""
        st = self.status()
        if st.empty:
            return "no sweeps"
        lines = []
        for sweep, g in st.groupby("sweep", sort=False):
            todo = g[g["state"] != "complete"]
            lines.append(f"{sweep}: complete" if todo.empty else
                         f"{sweep}: {len(todo)} of {len(g)} variants incomplete ({', '.join(todo['variant'])})")
        return "\n".join(lines)

    # ------------------------------------------------------------------ verdicts
    def claims(self) -> pd.DataFrame:
        """Every claim of the paper judged on these records (the module's ``claims_table``; the same rows as
        ``partreid claims --paper``)."""
        return self.module.claims_table(self.results)

    def glance(self, link_prefix: str | None = None, regimes: tuple[str, ...] | list[str] | None = None
               ) -> pd.DataFrame:
        """The paper's headline claims at a glance (:func:`partreid_core.reporting.glance.headline_table`), in
        every regime side by side (default), or in ``regimes`` (``("scratch",)``: the single-regime table)."""
        return headline_table(self.root, [self.paper], link_prefix=link_prefix, regimes=regimes or REGIME_NAMES)


    def regime_summary(self) -> str:
        """Markdown: the headline claims sorted into regime-robust, regime-dependent and not yet judged in both
        regimes (:func:`partreid_core.reporting.glance.regime_summary`), with the command for the missing runs."""
        folder = {"PLR": "plr_osnet"}.get(self.paper, self.paper.lower())
        command = f"REGIME=fine-tuned PAPERS={folder} bash scripts/headline_seeds.sh"
        return regime_summary(self.glance(link_prefix=None), rerun=command)


def open_chapter(paper: str, results: str | Path | None = None, profile: str | None = None,
                 dataset: str | None = None, regime: str = "scratch") -> Chapter:
    """Open a paper's records in one regime: every complete run of its experiments under the regime's folder of
    ``results`` (:func:`~partreid_core.reporting.paths.regime_root`: ``results`` itself for scratch,
    ``results/fine-tuned`` for fine-tuned; default root: the repository's records, wherever the chapter
    executes), kept to ``profile`` / ``dataset`` when given. Missing records give an empty :attr:`Chapter.runs`,
    never an error."""
    module = paper_module(paper)
    root = Path(results) if results is not None else results_root()
    here = regime_root(root, regime)
    runs = module_runs(module, here)
    for col, want in (("profile", profile), ("dataset", dataset)):
        if want is not None and not runs.empty and col in runs:
            runs = runs[runs[col] == want]
    return Chapter(paper=module.PAPER, module=module, results=here, profile=profile, dataset=dataset,
                   regime=regime, runs=runs.reset_index(drop=True), root=root)


__all__ = ["BASE_SEEDS", "Chapter", "FOLDERS", "MISSING", "REGIME_PROFILES", "fmt", "module_runs", "open_chapter",
           "paper_module"]
