"""The PLR-OSNet chapter's study: its experiments, artefact checklist, claims and how the run records answer them.

Records come from the chapter's sweeps (``partreid_core/experiments/sweeps/plr_osnet``):

* ``plr_osnet-core`` (p1): ``plr_osnet``, ``local_only`` (PLR-T4), ``multiple_id`` (PLR-T5), ``osnet``;
* ``plr_osnet-ablations`` (p2): ``global_only``, ``no_attention`` (PLR-T6), ``hard_margin`` (PLR-T7);
* ``plr_osnet-detected`` (p2): ``plr_osnet``, ``multiple_id``, ``osnet`` at misalignment 0.8.

The two settings share variant names, so the claims compare **keys**: the variant name for the
synth-s default setting (core and ablations) and ``detected/<variant>`` for the detected regime.
PLR-F4's claim compares per-run CAM statistics of the ``plr_cam`` hook under keys
``<variant>:<target>`` (e.g. ``plr_osnet:part4``). Metrics are in the paper's AP convention:
torchreid's non-interpolated ``mAP`` (and ``rank1``), in percent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ....data.types import PART_CLASSES
from ....engine.records import load_analysis, load_records
from ... import claims
from ...claims import Claim

PAPER = "PLR"
EXPERIMENTS = ["plr_osnet-core", "plr_osnet-ablations", "plr_osnet-detected"]
#: key prefix of the detected-regime experiment (misalignment 0.8)
DETECTED = "detected/"

ARTEFACTS = {
    "PLR-T1": "reference only",      # Market-1501 SOTA table: transcribed (real data + ImageNet init needed)
    "PLR-T2": "reference only",      # DukeMTMC-reID SOTA table: transcribed
    "PLR-T3": "reproduced",          # synthetic analogue: PLR-OSNet vs OSNet, default vs detected boxes
    "PLR-T4": "reproduced",          # global branch: plr_osnet vs local_only (p1)
    "PLR-T5": "reproduced",          # single vs multiple ID loss (p1)
    "PLR-T6": "reproduced",          # attention: p2_ablations (counts as pending runs while it has no records)
    "PLR-T7": "reproduced",          # soft vs hard margin: p2_ablations (idem)
    "PLR-M1": "reproduced",          # parameter / FLOP counts, computed exactly
    "PLR-F1": "reference only",      # chart of published numbers
    "PLR-F2": "reference only",      # schematic redrawn; the per-part accuracy panel is not run
    "PLR-F3": "reproduced",          # diagram + layer table from the real module
    "PLR-F4": "reproduced",          # Grad-CAM of global and part vectors, scored against part masks
    "PLR-F5": "reproduced",          # partreid ranklist on the seed-0 plr_osnet / osnet checkpoints
    "PLR-S1": "reproduced",          # lr schedule curves, exact
}

#: where the paper's numbers are (the source text has no page breaks, so sections stand in for pages)
_ABL = "§IV-E (Market-1501)"
_DET = "CUHK03-detected, the paper's misaligned boxes"

CLAIMS: list[Claim] = [
    Claim("T4-global", "PLR-T4", "Adding the global (GMP) branch raises mAP over the local branch alone",
          "mAP", "plr_osnet", "local_only", headline=True, paper_effect=2.0, paper_source="Table IV, " + _ABL),
    Claim("T5-single-id", "PLR-T5", "One ID loss on the concatenated stripes beats one ID loss per stripe",
          "mAP", "plr_osnet", "multiple_id", headline=True, paper_effect=3.3, paper_source="Table V, " + _ABL),
    Claim("T3-vs-osnet", "PLR-T3", "PLR-OSNet beats the OSNet baseline (same width, recipe and seeds)",
          "mAP", "plr_osnet", "osnet", headline=True, paper_effect=4.0,
          paper_source="Table I, §IV-C (Market-1501; OSNet as published)"),
    # "the improvement is moderate" (§IV-E 3): still a stated improvement, so directional
    Claim("T6-attention", "PLR-T6", "SAM + CAM attention helps a little", "mAP", "plr_osnet", "no_attention",
          headline=True, paper_effect=0.5, paper_source="Table VI, " + _ABL),
    # Table VII is CUHK03 only (+4.6 mAP, labeled); on Market and Duke the paper saw "no observable improvement"
    # (§IV-E 4), and the default setting stands in for those: the paper's own finding there is no difference
    Claim("T7-soft-margin", "PLR-T7", "On holistic boxes the soft-margin triplet loss brings no observable "
          "improvement over the hard margin (0.3); the paper's large gap is on CUHK03 only. Exploratory",
          "mAP", "plr_osnet", "hard_margin", hypothesis="equivalence"),
    Claim("T3-detected-vs-osnet", "PLR-T3", "PLR-OSNet beats OSNet on detected (misaligned) boxes",
          "mAP", DETECTED + "plr_osnet", DETECTED + "osnet", paper_effect=9.4,
          paper_source=f"Table III, §IV-C ({_DET}; OSNet as published)"),
    Claim("T5-detected", "PLR-T5", "Single ID loss beats multiple ID losses on detected (misaligned) boxes",
          "mAP", DETECTED + "plr_osnet", DETECTED + "multiple_id", paper_effect=2.5,
          paper_source=f"Table V, §IV-E ({_DET})"),
    # benchmark checks: detected boxes are harder by construction of the regime; the part-4 stripe sits below
    # the part-1 stripe by construction of the partition (two Grad-CAM targets of one checkpoint)
    Claim("T3-detected-harder", "PLR-T3", "Detected boxes are harder than the default boxes (mAP drops)",
          "mAP", DETECTED + "plr_osnet", "plr_osnet", direction=-1, kind="sanity", paper_effect=-3.3,
          paper_source="Table III, §IV-C (PLR-OSNet, CUHK03-detected - CUHK03-labeled)"),
    Claim("F4-parts-vertical", "PLR-F4",
          "Part maps are diverse: part 4's Grad-CAM mass sits lower in the image than part 1's",
          "cam_centroid_row", "plr_osnet:part4", "plr_osnet:part1", kind="sanity", design="exact-paired"),
]


def load_runs(results_root: str | Path = "results") -> pd.DataFrame:
    """One row per complete run of the chapter's experiments with a ``key`` column (see module doc)."""
    df = load_records(results_root, EXPERIMENTS, config_columns=False)
    if df.empty:
        return pd.DataFrame(columns=["experiment", "variant", "key", "seed", "mAP", "rank1", "path"])
    df = df.copy()
    df["key"] = [(DETECTED if e == "plr_osnet-detected" else "") + v
                 for e, v in zip(df.experiment, df.variant, strict=True)]
    return df


def cam_centroid(row_profile: np.ndarray) -> np.ndarray:
    """(T, H) per-row CAM mass -> (T,) centre of mass as a fraction of the image height (0 top, 1 bottom)."""
    h = row_profile.shape[-1]
    rows = (np.arange(h) + 0.5) / h
    p = row_profile / np.clip(row_profile.sum(-1, keepdims=True), 1e-12, None)
    return (p * rows).sum(-1)


def cam_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """PLR-F4 statistics per run and target: one row per (run, target) with key ``<key>:<target>``.

    Columns: key, variant_key, target, seed, split, cam_centroid_row, body_mass, and ``mass_<class>`` for the
    8 part classes (mean over the scored query images).
    """
    rows = []
    for r in runs.itertuples():
        f = Path(r.path) / "analysis.npz"
        if not f.exists():
            continue
        a = load_analysis(r.path)
        if "plr_cam/target_names" not in a:
            continue
        cent = cam_centroid(a["plr_cam/row_profile"])
        for t, name in enumerate(a["plr_cam/target_names"]):
            row = {"key": f"{r.key}:{name}", "variant_key": r.key, "target": str(name), "seed": r.seed,
                   "split": getattr(r, "split", "test"),
                   "cam_centroid_row": float(cent[t]), "body_mass": float(a["plr_cam/body_mass"][t].mean())}
            mass = a["plr_cam/part_mass"][t].mean(0)
            row.update({f"mass_{c}": float(m) for c, m in zip(PART_CLASSES, mass, strict=True)})
            rows.append(row)
    return pd.DataFrame(rows)


def tidy_values(runs: pd.DataFrame) -> pd.DataFrame:
    """The table the claims are judged on: one row per run (key, seed, split, mAP, rank1) plus the PLR-F4 rows
    of :func:`cam_runs` (key ``<key>:<target>``, the run's seed and split)."""
    cols = ["key", "seed", "split", "mAP", "rank1"]
    if runs.empty:
        return pd.DataFrame(columns=[*cols, "cam_centroid_row"])
    runs = runs.assign(split=runs["split"].fillna("test") if "split" in runs.columns else "test")
    cams = cam_runs(runs)
    return pd.concat([runs[cols], cams] if len(cams) else [runs[cols]], ignore_index=True)


def claims_table(results_root: str | Path = "results") -> pd.DataFrame:
    """Every claim of :data:`CLAIMS` judged on the records under ``results_root`` by the book's verdict rule
    (:func:`partreid_core.reporting.claims.claims_table`, variants matched on the ``key`` column).

    A claim whose treatment or baseline has no records comes out "inconclusive" with "no records"
    (naming what is missing) in the ``observed`` column.
    """
    return claims.claims_table(CLAIMS, tidy_values(load_runs(results_root)), paper=PAPER, variant_col="key")


def run_table(results_root: str | Path = "results") -> pd.DataFrame:
    """The chapter toolkit's run table (:func:`partreid_core.reporting.chapter.open_chapter`): :func:`load_runs`
    with ``variant`` set to the regime-qualified ``key``, so ``Chapter.of("detected/plr_osnet")`` selects the
    detected-box runs and ``Chapter.of("plr_osnet")`` the default-box ones; the sweep's own variant name is kept
    in ``sweep_variant``."""
    runs = load_runs(results_root)
    return runs.assign(sweep_variant=runs["variant"], variant=runs["key"])


__all__ = ["PAPER", "EXPERIMENTS", "ARTEFACTS", "CLAIMS", "DETECTED", "claims_table", "tidy_values", "load_runs",
           "run_table", "cam_runs", "cam_centroid"]
