"""CGPN chapter records: artefact checklist, testable claims and their verdicts from run records.

The records come from ``partreid_core/experiments/sweeps/cgpn/*.yaml``: experiment ``cgpn`` (synth-s at
its default knobs, the "S-holistic-ish" condition: occlusion 0.2, truncation 0.05) and
``cgpn-occluded`` (trained and tested at occlusion 0.6, truncation 0.3, "S-occluded").

:func:`run_table` turns every complete run into one row: the headline metrics (``rank1``, ``mAP``,
``mAP_trapezoid``), the CGPN-X1 curve end points (``occ90_mAP``, ``trunc90_mAP``: mAP with
occlusion / truncation 0.9 on a clean base, and the drops from the clean level) and the CGPN-X2
part-focus summaries (``x2_peak_split``: upper-body share (among body pixels) at the channel peaks
of the ``conv_1`` heads minus that of the ``conv_2`` heads, holistic test images, mean over branches;
``x2_cam_split``: the same with Grad-CAM mass) and the CGPN-X3 summary (``x3_local_loss``: mean relative mAP
loss in % of the local features used alone, holistic -> S-occluded test; ``x3_local_occ_mAP``: their mean
S-occluded mAP; the same two with the suffixes ``:coarse`` / ``:fine`` for the features at least / less than half
the map high). Runs of ``cgpn-occluded`` get the variant name ``occ/<variant>``. :func:`tidy_values` turns the
suffixed columns into pseudo-variant rows (``"cgpn2_fine:coarse"``) with the run's seed.

AP convention: CGPN does not say which AP it computes; it is compared in the non-interpolated
``mAP`` (notebooks/evaluation_protocol.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ....analysis.chapter_hooks.cgpn import CONDITIONS, LOWER_CLASSES, UPPER_CLASSES
from ....engine.records import load_records
from ... import claims
from ...claims import Claim
from .reference import T1_SOURCE, T2_SOURCE, T2_SOURCE_OCC

PAPER = "CGPN"
EXPERIMENTS = ("cgpn", "cgpn-occluded")
OCCLUDED_PREFIX = "occ/"

ARTEFACTS: dict[str, str] = {
    "CGPN-T1": "reference only",       # SOTA table on Market/Duke/CUHK03; our synthetic CGPN/MGN rows as an extra
    "CGPN-T2": "reproduced",           # ablation rows on synth-s (p1: CGPN, CGPN-4; p2: CGPN-1/2/3)
    "CGPN-T2b": "reproduced",          # deltas from the transcribed T2 (asserted) and from our runs
    "CGPN-F1": "reproduced",           # holistic / occluded / part-missing synthetic views
    "CGPN-F2": "reproduced",           # schematic + shape table from a dummy forward
    "CGPN-F3": "reproduced",           # coarse windows drawn from models.cgpn.windows
    "CGPN-F4": "reproduced",           # fine stripes, same routine
    "CGPN-F5": "reproduced",           # partreid ranklist, seed-0 MGN vs CGPN at occlusion 0.9 (needs p2_mgn)
    "CGPN-X1": "reproduced",           # occlusion / truncation curves (hook cgpn_knobs)
    "CGPN-X2": "reproduced",           # upper/lower focus of the global heads (hook cgpn_parts)
    "CGPN-X3": "reproduced",           # cgpn_single_window hook (partreid analyze on the CGPN / CGPN-2 checkpoints)
    "CGPN-X4": "pending runs",          # min_frac / MSE-weight sweeps: outside the 30-run budget
    "CGPN-X5": "reproduced",           # loss terms per epoch from history.csv
}

_O = OCCLUDED_PREFIX
#: pseudo-variants of the CGPN-X3 single-window evaluation of one run: its local features at least half the
#: map high ("<variant>:coarse") and thinner ones ("<variant>:fine"); only CGPN-2 has both
COARSE, FINE = ":coarse", ":fine"

CLAIMS: list[Claim] = [
    Claim("C3", "CGPN-T2", "MSE-supervised global parts beat unsupervised ones (CGPN > CGPN-4)",
          "mAP", "cgpn", "cgpn4_unsup", headline=True, paper_effect=0.6, paper_source=T2_SOURCE),
    Claim("C3-occ", "CGPN-T2", "... and more so under occlusion: CGPN > CGPN-4 trained/tested on S-occluded",
          "mAP", _O + "cgpn", _O + "cgpn4_unsup", paper_effect=2.9, paper_source=T2_SOURCE_OCC),
    # robustness: absolute mAP at the hardest knob level (0.9); the paper has no such sweep
    Claim("C3-X1-occ", "CGPN-X1", "supervised globals are more robust: CGPN > CGPN-4 in mAP at occlusion 0.9",
          "occ90_mAP", "cgpn", "cgpn4_unsup"),
    Claim("C3-X1-trunc", "CGPN-X1", "supervised globals are more robust: CGPN > CGPN-4 in mAP with 90% part-missing "
          "boxes", "trunc90_mAP", "cgpn", "cgpn4_unsup"),
    # the paper's explanation of C3 (§3.1, no numbers)
    Claim("C6", "CGPN-X2", "the MSE makes conv_1 heads peak on the upper body and conv_2 on the lower body "
          "(upper-share split larger for CGPN than CGPN-4)", "x2_peak_split", "cgpn", "cgpn4_unsup",
          kind="mechanism"),
    Claim("C6-cam", "CGPN-X2", "same, measured by Grad-CAM mass of each head's score",
          "x2_cam_split", "cgpn", "cgpn4_unsup", kind="mechanism"),
    Claim("C1", "CGPN-T2", "coarse windows beat fine stripes (CGPN > CGPN-2)", "mAP", "cgpn", "cgpn2_fine",
          headline=True, paper_effect=0.5, paper_source=T2_SOURCE),
    Claim("C1-occ", "CGPN-T2", "coarse windows beat fine stripes on S-occluded", "mAP",
          _O + "cgpn", _O + "cgpn2_fine", paper_effect=1.1, paper_source=T2_SOURCE_OCC),
    Claim("C1-X1-trunc", "CGPN-X1", "coarse windows are more robust to part-missing boxes (mAP at truncation 0.9)",
          "trunc90_mAP", "cgpn", "cgpn2_fine"),
    Claim("C2", "CGPN-T2", "local parts are needed (CGPN > CGPN-1)", "mAP", "cgpn", "cgpn1_noloc",
          headline=True, paper_effect=2.0, paper_source=T2_SOURCE),
    Claim("C4", "CGPN-T2", "global parts are needed (CGPN > CGPN-3)", "mAP", "cgpn", "cgpn3_noglob",
          headline=True, paper_effect=3.7, paper_source=T2_SOURCE),
    Claim("C5", "CGPN-T2b", "unsupervised globals still help on (near-)holistic data (CGPN-4 > CGPN-3)",
          "mAP", "cgpn4_unsup", "cgpn3_noglob", paper_effect=3.1, paper_source=T2_SOURCE),
    # CGPN-X3: the paper's explanation of C1 (§4.4, no numbers): coarse features are more robust in themselves.
    # Absolute mAP of the local features alone on S-occluded test images first, the relative loss beside it.
    Claim("C8-occ", "CGPN-X3", "a single coarse window keeps more mAP under S-occlusion than a single fine stripe "
          "(mean S-occluded mAP of the local features alone, CGPN vs CGPN-2)", "x3_local_occ_mAP", "cgpn",
          "cgpn2_fine", kind="mechanism"),
    Claim("C8", "CGPN-X3", "a single coarse window loses less of its mAP under S-occlusion than a single fine stripe "
          "(mean relative loss of the local features alone, CGPN vs CGPN-2)", "x3_local_loss", "cgpn", "cgpn2_fine",
          direction=-1, kind="mechanism"),
    # the same within one CGPN-2 checkpoint: its half-height stripes against its 1/3 and 1/4 stripes
    Claim("C8-height-occ", "CGPN-X3", "within CGPN-2, half-height stripes keep more S-occluded mAP than its 1/3 and "
          "1/4 stripes", "x3_local_occ_mAP", "cgpn2_fine" + COARSE, "cgpn2_fine" + FINE, kind="mechanism",
          design="exact-paired"),
    Claim("C8-height", "CGPN-X3", "within CGPN-2, half-height stripes lose less of their mAP under S-occlusion than "
          "its 1/3 and 1/4 stripes", "x3_local_loss", "cgpn2_fine" + COARSE, "cgpn2_fine" + FINE, direction=-1,
          kind="mechanism", design="exact-paired"),
    Claim("C7", "CGPN-T1", "CGPN beats MGN (same recipe) at synth-s default knobs", "mAP", "cgpn", "mgn",
          headline=True, paper_effect=3.0, paper_source=T1_SOURCE),
    Claim("C7-X1-occ", "CGPN-X1", "CGPN beats MGN in mAP at occlusion 0.9", "occ90_mAP", "cgpn", "mgn"),
    Claim("C7-X1-trunc", "CGPN-X1", "CGPN beats MGN in mAP with 90% part-missing boxes", "trunc90_mAP", "cgpn",
          "mgn"),
]

_COLUMNS = ("rank1", "mAP", "mAP_trapezoid", "occ0_mAP", "occ90_mAP", "trunc90_mAP", "occ_drop", "trunc_drop",
            "x2_peak_split", "x2_cam_split", "x3_local_loss", "x3_local_occ_mAP")
#: head indices of the CGPN-X2 arrays (the hook's ``HEAD_NAMES`` order b1 conv_1, b1 conv_2, ..., b3 conv_2, then
#: branch 1's fixed upper / lower stripes): the six supervised heads, their conv_1 (upper) and conv_2 (lower) ones
GLOBAL_HEADS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
CONV1_HEADS: tuple[int, ...] = (0, 2, 4)
CONV2_HEADS: tuple[int, ...] = (1, 3, 5)
STRIPE_HEADS: tuple[int, int] = (6, 7)
#: the CGPN-X3 columns of the coarse / fine pseudo-variants
_X3 = ("x3_local_loss", "x3_local_occ_mAP")


def _analysis_columns(path: str | Path) -> dict[str, float]:
    """The CGPN-X1 / X2 summaries of one run's analysis.npz (NaN where a hook stored nothing)."""
    out = {k: float("nan") for k in (*_COLUMNS[3:], *(c + s for s in (COARSE, FINE) for c in _X3))}
    f = Path(path) / "analysis.npz"
    if not f.is_file():
        return out
    with np.load(f) as z:
        a = {k: z[k] for k in z.files}
    if "cgpn_knobs/occlusion_mAP" in a:
        occ, trunc = a["cgpn_knobs/occlusion_mAP"], a["cgpn_knobs/truncation_mAP"]
        out.update(occ0_mAP=float(occ[0]), occ90_mAP=float(occ[-1]), trunc90_mAP=float(trunc[-1]),
                   occ_drop=float(occ[0] - occ[-1]), trunc_drop=float(trunc[0] - trunc[-1]))
    if "cgpn_parts/peak_composition" in a:
        holistic = CONDITIONS.index("holistic")
        heads = list(GLOBAL_HEADS)
        out["x2_peak_split"] = upper_split(peak_upper_share(a["cgpn_parts/peak_composition"][holistic, heads]))
        out["x2_cam_split"] = upper_split(cam_upper_share(a["cgpn_parts/cam_part_mass"][holistic, heads]))
    if "cgpn_single_window/holistic_mAP" in a:
        out.update(window_summary(a, a["cgpn_single_window/height_frac"] < 1))
        for suffix, keep in ((COARSE, _is_coarse), (FINE, lambda h: h < 0.5)):
            part = window_summary(a, keep(a["cgpn_single_window/height_frac"]))
            out.update({k + suffix: v for k, v in part.items()})
    return out


def _is_coarse(height_frac: np.ndarray) -> np.ndarray:
    """Local features at least half the map high (the paper's coarse-grained minimum, §3.1)."""
    return (height_frac >= 0.5 - 1e-6) & (height_frac < 1)


def window_summary(a: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, float]:
    """CGPN-X3 summary of the single features selected by ``keep`` (P,): mean relative mAP loss (%,
    :func:`window_losses`) and mean S-occluded mAP (%); NaN where none is selected."""
    if not np.any(keep):
        return {k: float("nan") for k in _X3}
    occ = a["cgpn_single_window/occluded_mAP"].astype(float)
    return {"x3_local_loss": float(np.mean(window_losses(a)[keep])), "x3_local_occ_mAP": float(np.mean(occ[keep]))}


def window_losses(a: dict[str, np.ndarray]) -> np.ndarray:
    """Relative mAP loss (%) of each single feature from the holistic to the S-occluded test (CGPN-X3)."""
    h, o = a["cgpn_single_window/holistic_mAP"].astype(float), a["cgpn_single_window/occluded_mAP"].astype(float)
    return 100 * (1 - o / np.clip(h, 1e-9, None))


def peak_upper_share(composition: np.ndarray) -> np.ndarray:
    """Upper-body share among the body pixels at the heads' channel peaks (CGPN-X2).

    ``composition`` (..., 3): background / upper / lower fractions (hook ``cgpn_parts/peak_composition``);
    returns (...). A head whose peaks saw no body at all gets 0 (the clip keeps the division finite)."""
    c = np.asarray(composition, dtype=float)
    return c[..., 1] / np.clip(c[..., 1:].sum(-1), 1e-12, None)


def cam_upper_share(mass: np.ndarray) -> np.ndarray:
    """Upper-body share of the Grad-CAM mass that falls on the body (CGPN-X2).

    ``mass`` (..., 8): Grad-CAM mass per part-mask class (hook ``cgpn_parts/cam_part_mass``; class 0 background,
    :data:`UPPER_CLASSES` head..arms, :data:`LOWER_CLASSES` legs, feet); returns (...), NaN where the CAM put
    no mass on the body (an all-zero CAM after ReLU: the share is undefined, not 0)."""
    m = np.asarray(mass, dtype=float)
    upper = m[..., list(UPPER_CLASSES)].sum(-1)
    body = upper + m[..., list(LOWER_CLASSES)].sum(-1)
    return np.where(body > 0, upper / np.where(body > 0, body, 1.0), np.nan)


def mean_share(x: np.ndarray) -> float:
    """Mean of the finite entries of a share array, NaN (without a warning) when none is finite."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def upper_split(upper_share: np.ndarray) -> float:
    """Mean over branches of (upper share of conv_1) - (upper share of conv_2); heads ordered b1c1, b1c2, ..."""
    u = np.asarray(upper_share, dtype=float).reshape(-1, 2)
    return float(np.mean(u[:, 0] - u[:, 1]))


def run_table(results_root: str | Path = "results") -> pd.DataFrame:
    """One row per complete CGPN-chapter run: experiment, variant, seed, provenance, metrics, X1/X2 summaries."""
    recs = load_records(results_root, experiment=list(EXPERIMENTS), config_columns=False)
    if recs.empty:
        return pd.DataFrame(columns=["experiment", "run", "path", "variant", "seed", *_COLUMNS])
    extra = pd.DataFrame([_analysis_columns(p) for p in recs["path"]], index=recs.index)
    recs = pd.concat([recs, extra], axis=1)
    occ = recs["experiment"] == "cgpn-occluded"
    recs.loc[occ, "variant"] = OCCLUDED_PREFIX + recs.loc[occ, "variant"].astype(str)
    for col in _COLUMNS:
        if col not in recs.columns:
            recs[col] = np.nan
    return recs


def tidy_values(table: pd.DataFrame) -> pd.DataFrame:
    """The table the claims are judged on: one row per run (variant, seed, split, :data:`_COLUMNS`) plus the
    CGPN-X3 pseudo-variants ``"<variant>:coarse"`` / ``"<variant>:fine"`` of every run that has them (its seed and
    split)."""
    table = table.assign(split=table["split"].fillna("test") if "split" in table.columns else "test")
    keys = ["variant", "seed", "split"]
    rows = [table[[*keys, *_COLUMNS]]]
    for suffix in (COARSE, FINE):
        cols = [c + suffix for c in _X3]
        if not set(cols) <= set(table.columns):
            continue
        sub = table.loc[table[cols].notna().any(axis=1), [*keys, *cols]]
        renamed = sub.rename(columns=dict(zip(cols, _X3, strict=True)))
        rows.append(renamed.assign(variant=sub["variant"].astype(str) + suffix))
    return pd.concat([r for r in rows if len(r)] or rows[:1], ignore_index=True).reindex(columns=[*keys, *_COLUMNS])


def claims_table(results_root: str | Path = "results") -> pd.DataFrame:
    """Every claim of :data:`CLAIMS` judged on the records by the book's verdict rule
    (:func:`partreid_core.reporting.claims.claims_table`); claims without records are "inconclusive"
    with "no records" in the observed column, claims whose runs exist but whose hook stored no value
    say so ("no <metric> values (...)")."""
    values = tidy_values(run_table(results_root))
    judged = claims.claims_table(CLAIMS, values, paper=PAPER)
    runs = set(values["variant"])
    for i, c in enumerate(CLAIMS):
        have = set(values.loc[values["variant"].isin([c.treatment, c.baseline]), ["variant", c.metric]]
                   .dropna()["variant"])
        empty = [v for v in (c.treatment, c.baseline) if v in runs and v not in have]
        if empty and all(v in runs for v in (c.treatment, c.baseline)):  # e.g. an all-zero Grad-CAM
            judged.loc[i, "observed"] = f"no {c.metric} values (" + ", ".join(empty) + ")"
            judged.loc[i, "verdict"] = "inconclusive"
    return judged


__all__ = ["ARTEFACTS", "CLAIMS", "COARSE", "CONV1_HEADS", "CONV2_HEADS", "EXPERIMENTS", "FINE", "GLOBAL_HEADS",
           "OCCLUDED_PREFIX", "PAPER", "STRIPE_HEADS", "cam_upper_share", "claims_table", "mean_share",
           "peak_upper_share", "run_table", "tidy_values", "upper_split", "window_losses", "window_summary"]
