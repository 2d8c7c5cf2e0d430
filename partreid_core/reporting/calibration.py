"""The fine-tuned regime's calibration, as the SynthReID page shows it: the SynthReID-P trunks, and the val-split
runs that chose the regime's SynthReID setting (rule: ``sweeps/calibration/cpu_ft_val.yaml``).

Both tables read records only; nothing here decides anything the records do not already hold, except applying
the rule's fixed threshold to the numbers shown.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..engine.records import load_records
from .paths import regime_root

#: the rule of sweeps/calibration/cpu_ft_val.yaml: GlobalPool's mean val Rank-1 over seeds 0-2 in [40, 90]
BAND = (40.0, 90.0)
#: the knobs a SynthReID setting is named by, in the order the table shows them
KNOBS = ("misalignment", "occlusion", "truncation", "clutter", "pose")
CALIBRATION_EXPERIMENTS = ("calibration-val", "calibration-val-harder")


def pretraining_table(results: str | Path = "results") -> pd.DataFrame:
    """One row per SynthReID-P pretraining record (``results/pretrain/<name>/pretrain.json``).

    Columns: trunk, backbone, width, epochs, training images, identities, wall time (min), held-out top-1 (%),
    trunk sha256 (first 12 hex digits). Empty (with those columns) when no pretraining has run."""
    cols = ["trunk", "backbone", "width", "epochs", "train images", "identities", "wall (min)", "held-out top-1",
            "sha256"]
    rows = []
    for path in sorted((Path(results) / "pretrain").glob("*/pretrain.json")):
        rec = json.loads(path.read_text())
        cfg = json.loads((path.parent / "config.json").read_text()) if (path.parent / "config.json").is_file() else {}
        cfg = cfg.get("config", cfg)
        rows.append({"trunk": rec["trunk"], "backbone": cfg.get("backbone"), "width": cfg.get("width"),
                     "epochs": cfg.get("epochs"), "train images": rec.get("train_images"),
                     "identities": rec.get("num_train_ids"), "wall (min)": round(rec["wall_time_s"] / 60, 1),
                     "held-out top-1": round(float(rec["heldout_top1"]), 1), "sha256": rec["trunk_sha256"][:12]})
    return pd.DataFrame(rows, columns=cols)


def _setting(row: pd.Series) -> str:
    """``"misalignment 0.6 · occlusion 0.5 · ..."`` from a record's flattened ``cfg.data.dataset_kwargs.*``."""
    parts = [f"{k} {row[c]:g}" for k in KNOBS if (c := f"cfg.data.dataset_kwargs.{k}") in row and pd.notna(row[c])]
    return " · ".join(parts) or "defaults"


def _sd(values: pd.Series) -> float:
    """Sample standard deviation; 0 for one seed (no spread to show)."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def calibration_table(results: str | Path = "results") -> pd.DataFrame:
    """The fine-tuned regime's val-split calibration runs, one row per (step, SynthReID setting, model).

    Columns: step (the sweep's experiment), setting (its knobs), model, seeds, val Rank-1 and mAP as
    "mean ± sd", the mean Rank-1 as a number (``rank1``), and for GlobalPool the rule's reading ("in band",
    "above 90: saturated", "below 40"); PCB rows say "order only" (they never enter the choice)."""
    root = regime_root(results, "fine-tuned")
    runs = load_records(root, list(CALIBRATION_EXPERIMENTS))
    cols = ["step", "setting", "model", "seeds", "val Rank-1", "val mAP", "rank1", "rule"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    runs = runs[runs["split"] == "val"].copy()
    runs["setting"] = runs.apply(_setting, axis=1)
    rows = []
    for (exp, setting, model), g in runs.groupby(["experiment", "setting", "model"], sort=False):
        r1, m = g["rank1"].astype(float), g["mAP"].astype(float)
        if model == "globalpool":
            mean = r1.mean()
            rule = ("in band" if BAND[0] <= mean <= BAND[1] else
                    f"above {BAND[1]:g}: saturated" if mean > BAND[1] else f"below {BAND[0]:g}")
        else:
            rule = "order only"
        rows.append({"step": exp, "setting": setting, "model": model,
                     "seeds": ", ".join(str(int(s)) for s in sorted(g["seed"])),
                     "val Rank-1": f"{r1.mean():.1f} ± {_sd(r1):.1f}", "val mAP": f"{m.mean():.1f} ± {_sd(m):.1f}",
                     "rank1": float(r1.mean()), "rule": rule})
    return pd.DataFrame(rows, columns=cols)


__all__ = ["BAND", "CALIBRATION_EXPERIMENTS", "KNOBS", "calibration_table", "pretraining_table"]
