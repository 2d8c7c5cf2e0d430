"""The comparison chapter's inputs: which run records stand for each method, and its robustness runs.

No new training: every method is represented by the runs its own chapter already made with its own
paper recipe (``cpu`` profile, ``synth-s``, seeds 0-2), so the comparison costs only evaluation.
:data:`METHODS` names them; :func:`run_robustness` evaluates each method's checkpoints as one
SynthReID knob grows and writes one record per (knob, method, seed)::

    results/comparison-robustness/<knob>/<method slug>-s<seed>/{knobs.csv, config.json}

``partreid robustness --knob misalignment`` runs it (records that exist are skipped).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..engine import records
from .robustness import evaluate_under_knob

ROBUSTNESS_EXPERIMENT = "comparison-robustness"
#: knob -> levels of the robustness curves (synth-s trains at misalignment 0.3, occlusion 0, domain A)
ROBUSTNESS_LEVELS: dict[str, list[float | str]] = {
    "misalignment": [0.0, 0.3, 0.6, 0.9],
    "occlusion": [0.0, 0.25, 0.5, 0.75],
    "domain": ["A", "B"],
}


@dataclass(frozen=True)
class Method:
    """One row of the comparison.

    Attributes:
        label: the name in tables and plots.
        kind: ``"baseline"`` or ``"method"`` (one of the five papers).
        paper: key of :data:`partreid_core.reporting.papers.PAPERS` (None for baselines).
        experiment / variant: the chapter records that represent it (``results/<experiment>/<variant>-s<seed>``).
        bench: ``recipe`` or ``recipe:model`` measured by ``partreid bench models``.
    """

    label: str
    kind: str
    paper: str | None
    experiment: str
    variant: str
    bench: str

    @property
    def slug(self) -> str:
        return self.label.lower().replace(" ", "_").replace("+", "_").replace("(", "").replace(")", "")


METHODS: list[Method] = [
    Method("GlobalPool", "baseline", None, "pal-globalpool", "globalpool", "pal_globalpool"),
    Method("PCB", "baseline", None, "pal-pcb", "pcb", "pal_pcb"),
    Method("MGN", "baseline", None, "pal-mgn", "mgn", "pal_mgn"),
    Method("OSNet", "baseline", None, "plr_osnet-core", "osnet", "pal_osnet"),
    Method("PAL (GP+PS)", "method", "PAL", "pal-globalpool", "globalpool_ps", "pal_globalpool:globalpool_ps"),
    Method("PAL (PCB+PS)", "method", "PAL", "pal-pcb", "pcb_ps", "pal_pcb:pcb_ps"),
    Method("PAL (MGN+PS)", "method", "PAL", "pal-mgn", "mgn_ps", "pal_mgn:mgn_ps"),
    Method("RMGL", "method", "RMGL", "rmgl-rp", "rmgl", "rmgl"),
    Method("CGPN", "method", "CGPN", "cgpn", "cgpn", "cgpn"),
    Method("MPN", "method", "MPN", "mpn-t1", "mpn", "mpn"),
    Method("PLR-OSNet", "method", "PLR", "plr_osnet-core", "plr_osnet", "plr_osnet"),
]


def method(label: str) -> Method:
    for m in METHODS:
        if label in (m.label, m.slug):
            return m
    raise KeyError(f"unknown method {label!r}; known: {', '.join(m.label for m in METHODS)}")


def checkpoint_path(m: Method, seed: int, checkpoints: str | Path = "checkpoints", out: str | Path = "results") -> Path:
    """Where ``partreid sweep --out <out>`` left the method's ``last.pt`` for ``seed``."""
    return records.checkpoint_file(checkpoints, out, m.experiment, f"{m.variant}-s{seed}")


def robustness_dir(out: str | Path, knob: str, m: Method, seed: int) -> Path:
    return Path(out) / ROBUSTNESS_EXPERIMENT / knob / f"{m.slug}-s{seed}"


def run_robustness(knob: str, methods: Sequence[Method] | None = None, seeds: Sequence[int] = (0, 1, 2),
                   levels: Sequence[float | str] | None = None, out: str | Path = "results",
                   checkpoints: str | Path = "checkpoints", device: str | None = None) -> list[dict[str, str]]:
    """Evaluate every (method, seed) checkpoint at each level of ``knob``; one status row per pair.

    Status: ``done`` (record written), ``exists`` (skipped), ``no checkpoint`` (the chapter's run is
    not trained here: the message names the path), ``run not complete`` (a checkpoint but no run record
    yet: the run may still be training) or ``failed: <error>``.
    """
    if knob not in ROBUSTNESS_LEVELS and levels is None:
        raise KeyError(f"no default levels for knob {knob!r}; give levels (defaults exist for "
                       f"{', '.join(ROBUSTNESS_LEVELS)})")
    levels = list(levels if levels is not None else ROBUSTNESS_LEVELS[knob])
    status = []
    for m in methods or METHODS:
        for seed in seeds:
            dest = robustness_dir(out, knob, m, seed)
            ckpt = checkpoint_path(m, seed, checkpoints, out)
            record = records.run_dir(out, m.experiment, f"{m.variant}-s{seed}")
            if (dest / "knobs.csv").is_file():
                status.append({"path": str(dest), "status": "exists"})
            elif not ckpt.is_file():
                status.append({"path": str(dest), "status": f"no checkpoint ({ckpt})"})
            elif not records.is_complete(record):
                # a sweep writes last.pt every epoch: without the run's record the checkpoint may be half-trained
                status.append({"path": str(dest), "status": f"run not complete (no record at {record})"})
            else:
                try:
                    evaluate_under_knob(ckpt, knob, levels, device=device, out=dest)
                    status.append({"path": str(dest), "status": "done"})
                except Exception as e:  # one broken checkpoint must not stop the other curves
                    status.append({"path": str(dest), "status": f"failed: {type(e).__name__}: {e}"})
    return status


__all__ = ["METHODS", "Method", "ROBUSTNESS_EXPERIMENT", "ROBUSTNESS_LEVELS", "checkpoint_path", "method",
           "robustness_dir", "run_robustness"]
