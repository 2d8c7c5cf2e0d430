"""RMGL chapter: artefact checklist, testable claims and their verdicts from run records.

The records come from the sweeps in ``partreid_core/experiments/sweeps/rmgl/``:

* ``rmgl-rp`` (p1): ``rmgl`` (dual path, RP after res_conv2c, 2+3 stripes, RSA, ABP at test) vs
  ``op-baseline`` (the same network with the original path only: output partition, Table V's "BL" with RSA);
* ``rmgl-rsa`` (p2): ``rmgl-no-rsa``, ``rmgl-re`` (random erasing instead of RSA), ``rmgl-rsa-re``,
  ``op-baseline-no-rsa``;
* ``rmgl-partition`` (p2): ``ip`` (input partition), ``rp-res4`` (cut one stage later), ``only-rp``;
* ``rmgl-augment`` (p3): Table VI's colour jitter, random crop and random erasing on the 2+3-stripe baseline
  (``op-baseline-rcj``, ``op-baseline-rc``, ``op-baseline-re``).

Besides the runs' own metrics, every run's ``analysis.npz`` holds the hooks of
:mod:`partreid_core.analysis.chapter_hooks.rmgl`. They become extra rows of the tidy table the claims
are judged on, under derived variant names (test-time switches of one trained model, no extra runs):

* ``"<variant>+abp@<level>"`` / ``"<variant>+uniform@<level>"``: the run evaluated at SynthReID
  misalignment ``level`` with ABP / uniform original-path stripes (``rmgl_misalignment``);
* ``"<variant>:orig"`` / ``"<variant>:rp"``: the run's stripe features of the original path (output
  partition) / the receptive path, with ``grad_in_stripe`` = the share of a stripe feature's input
  gradient that falls inside its own nominal stripe rows, averaged over stripes (``rmgl_receptive_rows``);
* ``"<variant>:O-2"``, ``":O-3"``, ``":RP-2"``, ``":RP-3"``: the run's response maps (RMGL-F4,
  ``rmgl_response_maps``), with ``response_row_entropy`` (entropy of the row marginal of the channel-mean
  response in % of its maximum; lower = more concentrated) and ``response_fg_mass`` (% of it on the person).

Retrieval claims use ``mAP`` (non-interpolated): the paper does not say which AP it computes and has no
public code, and the book compares such papers in the most common convention (evaluation-protocol chapter).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ....engine.records import load_analysis, load_records
from ... import claims
from ...claims import Claim

PAPER = "RMGL"
EXPERIMENTS = ["rmgl-rp", "rmgl-rsa", "rmgl-partition", "rmgl-augment"]
#: the sweep files of the chapter, priority first
SWEEP_FILES = ["p1_rp.yaml", "p2_rsa.yaml", "p2_partition.yaml", "p3_augment.yaml"]

ARTEFACTS: dict[str, str] = {
    "RMGL-T1": "pending runs",       # Market / Duke need the real data sets and paper-scale training
    "RMGL-T2": "pending runs",       # CUHK03
    "RMGL-T3": "pending runs",       # MSMT17
    "RMGL-T4": "reproduced",        # synthetic analogue: A->B direct transfer of every method (comparison records)
    "RMGL-T5": "reproduced",        # BL vs +RP, uniform vs ABP (p1); RSA / only-RP rows in p2
    "RMGL-T6": "reproduced",        # 2+3-stripe BL with RCJ / RC / RE / RSA (p3, p1, p2), RMGL with RE; no RCRS
    "RMGL-F1": "reproduced",        # gradient support of IP / OP / RP stripe features
    "RMGL-F2": "reproduced",        # tensor-shape table from a forward pass
    "RMGL-F3": "reproduced",        # receptive intervals, DERIVED vs measured
    "RMGL-F4": "reproduced",        # rmgl_response_maps hook (partreid analyze on the p1 checkpoints)
    "RMGL-F5": "reproduced",        # ABP boundaries vs the person's true offset
    "RMGL-F6": "reproduced",        # RSA examples from the library's transform
    "RMGL-F7": "pending runs",       # RSA parameter sweeps
    "RMGL-F8": "pending runs",       # partition number sweep
    "RMGL-F9": "reproduced",        # cut position IP / res3 / res4 / OP of the 2+3 dual path (p1, p2); no K grid
    "RMGL-F10": "pending runs",      # triplet margin sweep
    "RMGL-F11": "pending runs",      # weight decay sweep
    "RMGL-X1": "reproduced",
    "RMGL-X2": "reproduced",
    "RMGL-X3": "reproduced",
}

#: the test misalignment the claims on robustness read (the hooks also store 0, 0.3 and 0.6)
HEAVY = 0.9
#: SynthReID's default misalignment: the level of every run's own test split
NATIVE = 0.3


def switched(variant: str, mode: str, level: float) -> str:
    """The derived variant name of ``variant`` evaluated at test misalignment ``level`` with ``mode`` stripes."""
    return f"{variant}+{mode}@{level:g}"


_v = switched  # the claims' short name for it


#: where the paper's Market-1501 numbers are (the source text has no page breaks, so sections stand in for pages)
_T5 = "Table V, §IV-D (Market-1501)"
_T6 = "Table VI, §IV-D (Market-1501)"

CLAIMS: list[Claim] = [
    # By construction of RP (Eq. 6-7): a check that the partition is wired as specified, not a finding
    Claim("S1-locality", "RMGL-X1",
          "RP confines each stripe feature to its own region; OP stripes see almost the whole image (Eq. 6-7)",
          "grad_in_stripe", "rmgl:rp", "rmgl:orig", kind="sanity", design="exact-paired"),
    # Table V has no "+ABP" baseline row; with RSA on both sides: 2+3-stripe+RP+RSA 89.7 - 2+3-stripe+RSA 88.3
    Claim("S3-rp", "RMGL-T5", "Adding the RP path improves over the output-partition baseline (2+3-stripe+RP > BL)",
          "mAP", "rmgl", "op-baseline", headline=True, paper_effect=1.4, paper_source=_T5),
    Claim("S3-rp-norsa", "RMGL-T5", "Adding the RP path improves the baseline without RSA (Table V's own BL -> +RP "
          "row: +1.2 mAP on Market)", "mAP", "rmgl-no-rsa", "op-baseline-no-rsa", paper_effect=1.2, paper_source=_T5),
    Claim("S3-rp-r1", "RMGL-T5", "Adding the RP path improves Rank-1 over the output-partition baseline",
          "rank1", "rmgl", "op-baseline", paper_effect=0.2, paper_source=_T5),
    # ABP is a test-time switch: the same checkpoint evaluated with ABP and with uniform stripes
    Claim("S6-abp-bl", "RMGL-T5", "ABP at test time improves the baseline (2+3-stripe+ABP > 2+3-stripe BL)",
          "mAP", _v("op-baseline", "abp", NATIVE), _v("op-baseline", "uniform", NATIVE), design="exact-paired",
          paper_effect=0.7, paper_source=_T5),
    Claim("S6-abp-rmgl", "RMGL-T5", "ABP at test time improves RMGL (RP+ABP+RSA > RP+RSA)",
          "mAP", _v("rmgl", "abp", NATIVE), _v("rmgl", "uniform", NATIVE), design="exact-paired", headline=True,
          paper_effect=0.3, paper_source=_T5),
    # robustness: absolute mAP at the hardest test misalignment (the paper has no misalignment sweep)
    Claim("S6-abp-misaligned", "RMGL-X3", "ABP helps under heavy misalignment (test misalignment 0.9, baseline)",
          "mAP", _v("op-baseline", "abp", HEAVY), _v("op-baseline", "uniform", HEAVY), design="exact-paired"),
    Claim("S4-rp-misaligned", "RMGL-X3", "RMGL stays ahead of the baseline under heavy misalignment (mAP at test "
          "misalignment 0.9)", "mAP", _v("rmgl", "abp", HEAVY), _v("op-baseline", "abp", HEAVY)),
    # p2: RSA, other augmentations, where to partition
    # Table V has no RP+ABP row without RSA; with RP on both sides: 2+3-stripe+RP+RSA 89.7 - 2+3-stripe+RP 88.3
    Claim("S4-rsa", "RMGL-T5", "RSA improves RMGL (RP+ABP+RSA > RP+ABP)", "mAP", "rmgl", "rmgl-no-rsa",
          headline=True, paper_effect=1.4, paper_source=_T5),
    Claim("S4-rsa-bl", "RMGL-T5", "RSA improves the baseline (2+3-stripe+RSA > BL)", "mAP",
          "op-baseline", "op-baseline-no-rsa", paper_effect=1.2, paper_source=_T5),
    Claim("S4-rsa-misaligned", "RMGL-X3", "RSA-trained RMGL is ahead of RMGL without RSA under heavy misalignment "
          "(mAP at test misalignment 0.9)", "mAP", _v("rmgl", "abp", HEAVY), _v("rmgl-no-rsa", "abp", HEAVY)),
    # Table VI compares the augmentations on the baselines only; its 2+3-stripe rows are the nearest numbers
    Claim("S5-rsa-vs-re", "RMGL-T6", "RSA beats random erasing as the training augmentation", "mAP",
          "rmgl", "rmgl-re", paper_effect=0.3, paper_source=_T6 + ", 2+3-stripe baseline rows"),
    Claim("S5-rsa-re", "RMGL-T6", "RSA and random erasing are complementary (RSA+RE > RSA)", "mAP",
          "rmgl-rsa-re", "rmgl", paper_effect=0.7, paper_source=_T6 + ", 2+3-stripe baseline rows"),
    Claim("S5-bl-rsa-vs-re", "RMGL-T6", "On the baseline, RSA beats random erasing (paper: +0.3 mAP, Market)", "mAP",
          "op-baseline", "op-baseline-re", paper_effect=0.3, paper_source=_T6),
    Claim("S5-bl-rsa-vs-rcj", "RMGL-T6", "On the baseline, RSA beats colour jitter (paper: +1.1 mAP)", "mAP",
          "op-baseline", "op-baseline-rcj", paper_effect=1.1, paper_source=_T6),
    Claim("S5-bl-rsa-vs-rc", "RMGL-T6", "On the baseline, RSA beats random cropping (paper: +1.0 mAP)", "mAP",
          "op-baseline", "op-baseline-rc", paper_effect=1.0, paper_source=_T6),
    # Table V has "only RP" rows without RSA only: 2+3-stripe+RP 88.3 - 2+3-stripe only RP 88.0
    Claim("S3-only-rp", "RMGL-T5", "The dual path beats only RP", "mAP", "rmgl", "only-rp", headline=True,
          paper_effect=0.3, paper_source=_T5),
    Claim("S3-only-rp-bl", "RMGL-T5", "Only RP still beats the output-partition baseline", "mAP",
          "only-rp", "op-baseline", paper_effect=0.9, paper_source=_T5),
    # the paper's reading of Fig. 4 (no numbers); two branches of one checkpoint on the same images
    Claim("F4-granularity", "RMGL-F4", "Higher granularity concentrates the response on local parts (row entropy "
          "of O-3 below O-2's)", "response_row_entropy", "rmgl:O-3", "rmgl:O-2", direction=-1, kind="mechanism",
          design="exact-paired"),
    # Fig. 9 plots the cut positions without printed values
    Claim("S9-res4", "RMGL-F9", "Cutting after res_conv2c (res3, the default) beats cutting one stage later (res4)",
          "mAP", "rmgl", "rp-res4"),
    Claim("S9-ip", "RMGL-F9", "Receptive partition (cut after res_conv2c) beats input partition", "mAP",
          "rmgl", "ip", headline=True),
]

_NAME = re.compile(r"^K(?P<k>\d+)\[\d+\]/(?P<path>orig|rp)/s(?P<s>\d+)$")


def nominal_rows(name: str, height: int) -> tuple[int, int]:
    """[first, last) input rows of the stripe a feature named like ``"K3[1]/rp/s2"`` nominally covers."""
    m = _NAME.match(str(name))
    if m is None:
        raise ValueError(f"not an RMGL stripe feature name (like 'K3[1]/rp/s2'): {name!r}")
    k, s = int(m["k"]), int(m["s"])
    return round(s * height / k), round((s + 1) * height / k)


def in_stripe_share(rows: np.ndarray, names) -> np.ndarray:
    """Share of each stripe feature's gradient row profile (P, H) inside its own nominal rows -> (P,)."""
    rows = np.asarray(rows, dtype=float)
    out = []
    for r, n in zip(rows, names, strict=True):
        a, b = nominal_rows(n, rows.shape[1])
        out.append(r[a:b].sum() / max(r.sum(), 1e-12))
    return np.asarray(out)


def support(rows: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """[first, last] row with gradient share > ``tol`` for each profile of (..., H) -> (..., 2) (-1 if none)."""
    rows = np.asarray(rows)
    nz = rows > tol
    h = rows.shape[-1]
    first = np.where(nz.any(-1), nz.argmax(-1), -1)
    last = np.where(nz.any(-1), h - 1 - nz[..., ::-1].argmax(-1), -1)
    return np.stack([first, last], -1)


def load(results_root: str | Path = "results") -> pd.DataFrame:
    """The chapter's run records (one row per complete run; empty if none)."""
    return load_records(results_root, EXPERIMENTS)


def _analysis(path: str) -> dict[str, np.ndarray]:
    try:
        return load_analysis(path)
    except (FileNotFoundError, OSError, ValueError):
        return {}


def _split(rec) -> str:
    """The split a record was evaluated on (records from before the validation split: test)."""
    split = getattr(rec, "split", None)
    return "test" if split is None or pd.isna(split) else str(split)


def misalignment_table(records: pd.DataFrame) -> pd.DataFrame:
    """Long table of the ``rmgl_misalignment`` hook: variant, seed, split, level, stripes (abp|uniform), metrics."""
    rows = []
    for rec in records.itertuples():
        a = _analysis(rec.path)
        if "rmgl_misalignment/levels" not in a:
            continue
        for i, level in enumerate(a["rmgl_misalignment/levels"]):
            for mode in ("abp", "uniform"):
                row = {"variant": rec.variant, "seed": rec.seed, "split": _split(rec), "level": float(level),
                       "stripes": mode}
                for m in ("rank1", "mAP", "mAP_trapezoid", "mINP"):
                    key = f"rmgl_misalignment/{m}_{mode}"
                    row[m] = float(a[key][i]) if key in a else np.nan
                rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "seed", "split", "level", "stripes", "rank1", "mAP",
                                       "mAP_trapezoid", "mINP"])


def locality_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per run and path (orig / rp): ``grad_in_stripe`` from the ``rmgl_receptive_rows`` hook."""
    rows = []
    for rec in records.itertuples():
        a = _analysis(rec.path)
        for path in ("orig", "rp"):
            key = f"rmgl_receptive_rows/{path}_rows"
            if key in a:
                share = in_stripe_share(a[key], a[f"rmgl_receptive_rows/{path}_names"])
                rows.append({"variant": rec.variant, "seed": rec.seed, "split": _split(rec), "path": path,
                             "grad_in_stripe": float(share.mean())})
    return pd.DataFrame(rows, columns=["variant", "seed", "split", "path", "grad_in_stripe"])


def response_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per run and response map (O-2, O-3, RP-2, RP-3): mean ``response_row_entropy`` (% of the maximum,
    log h) / ``response_fg_mass`` (%) over the scored query images, from the ``rmgl_response_maps`` hook (RMGL-F4)."""
    rows = []
    for rec in records.itertuples():
        a = _analysis(rec.path)
        for name in a.get("rmgl_response_maps/names", []):
            row = {"variant": rec.variant, "seed": rec.seed, "split": _split(rec), "map": str(name)}
            for stat in ("row_entropy", "fg_mass"):
                key = f"rmgl_response_maps/{stat}/{name}"
                row[f"response_{stat}"] = 100 * float(np.mean(a[key])) if key in a else np.nan
            rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "seed", "split", "map", "response_row_entropy",
                                       "response_fg_mass"])


@dataclass(frozen=True)
class HookTables:
    """The three hook tables of one set of records (each reads every run's ``analysis.npz`` once)."""

    misalignment: pd.DataFrame
    locality: pd.DataFrame
    response: pd.DataFrame


def hook_tables(records: pd.DataFrame) -> HookTables:
    """:func:`misalignment_table`, :func:`locality_table` and :func:`response_table` of ``records``."""
    return HookTables(misalignment_table(records), locality_table(records), response_table(records))


def tidy_values(records: pd.DataFrame, hooks: HookTables | None = None) -> pd.DataFrame:
    """The table the claims are judged on: one row per run, plus the hook-derived rows (module docstring), each
    with its run's ``seed`` and evaluated ``split``. ``hooks``: :func:`hook_tables` of ``records``, when made."""
    cols = ["variant", "seed", "split", "rank1", "mAP", "mAP_trapezoid", "mINP", "grad_in_stripe",
            "response_row_entropy", "response_fg_mass"]
    if records.empty:
        return pd.DataFrame(columns=cols)
    hooks = hooks or hook_tables(records)
    base = records[[c for c in cols if c in records.columns]].copy()
    mis = hooks.misalignment
    if not mis.empty:
        names = [switched(v, s, lv) for v, s, lv in zip(mis.variant, mis.stripes, mis.level, strict=True)]
        mis = mis.assign(variant=names)
        mis = mis.drop(columns=["level", "stripes"])
    loc = hooks.locality
    if not loc.empty:
        loc = loc.assign(variant=loc.variant + ":" + loc.path).drop(columns=["path"])
    resp = hooks.response
    if not resp.empty:
        resp = resp.assign(variant=resp["variant"] + ":" + resp["map"]).drop(columns=["map"])
    out = pd.concat([frame for frame in (base, mis, loc, resp) if not frame.empty], ignore_index=True)
    return out.reindex(columns=cols)


def claims_table(results_root: str | Path = "results") -> pd.DataFrame:
    """Every claim judged on the records under ``results_root`` by the book's verdict rule
    (:func:`partreid_core.reporting.claims.claims_table`; missing records: "inconclusive", "no records")."""
    return claims.claims_table(CLAIMS, tidy_values(load(results_root)), paper=PAPER)
run_table = load  # the chapter toolkit's name (reporting.chapter.module_runs)


__all__ = ["ARTEFACTS", "CLAIMS", "EXPERIMENTS", "HEAVY", "NATIVE", "PAPER", "SWEEP_FILES", "HookTables",
           "claims_table", "hook_tables", "in_stripe_share", "load", "locality_table", "misalignment_table",
           "nominal_rows", "response_table", "run_table", "support", "switched", "tidy_values"]
