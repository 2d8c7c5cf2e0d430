"""Audit of training records: does each record's history agree with its own config?

For every training record under a results root (a folder with ``config.json`` whose ``config`` is an
:class:`~partreid_core.engine.config.ExperimentConfig`, ``history.csv`` and ``metrics.json``), the
learning rate of each epoch is recomputed from the record's config with the engine's own schedule
(:func:`partreid_core.engine.optim.lr_factor`) and compared with ``history.csv``; the epoch count and
numbering are checked against ``train.epochs``, and config and metrics must belong to one run
(:func:`partreid_core.engine.records.is_complete`).

What ``history.csv`` logs (engine/trainer.py): per epoch, after its last step, ``lr/<group>`` of every
torch parameter group (``lr/<i>:<group>`` with alternating phases) and ``lr``, the first group's. The
engine sets a group's lr to ``base x lr_factor(schedule, epoch, step, steps, epochs)`` where ``base`` is
``optim.lr`` (or the phase's ``lr``) times ``optim.lr_mult[group]`` (a ``/no_decay`` suffix shares its
group's multiplier). The last step is ``train.iters_per_epoch - 1``; a record without a fixed
``iters_per_epoch`` and with a per-iteration warm-up cannot be recomputed without its data set and is
reported as unchecked.

Usage::

    python tests/audit_records.py results        # prints one line per failing record, exit 1 if any
"""
from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":  # run as a script from a checkout: import that checkout's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from partreid_core.config import ConfigError  # noqa: E402
from partreid_core.engine import records  # noqa: E402
from partreid_core.engine.config import ExperimentConfig, config_from_dict  # noqa: E402
from partreid_core.engine.optim import lr_factor  # noqa: E402

#: relative tolerance of an lr comparison (history.csv holds Python's repr of each float: exact)
REL_TOL = 1e-9


@dataclass
class Audit:
    """One record's audit: ``status`` is "ok", "fail" or "unchecked"; ``problems`` says why."""

    path: Path
    status: str = "ok"
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.status = "fail"
        self.problems.append(message)


def _base_lrs(cfg: ExperimentConfig, column: str) -> float:
    """The base lr of history column ``lr/<group>`` or ``lr/<i>:<group>``."""
    name = column.removeprefix("lr/")
    base = cfg.optim.lr
    if ":" in name:
        phase, name = name.split(":", 1)
        base = cfg.train.phases[int(phase)].lr
    return base * cfg.optim.lr_mult.get(name.removesuffix("/no_decay"), 1.0)


def expected_lr(cfg: ExperimentConfig, column: str, epoch: int) -> float | None:
    """The lr that column ``lr/...`` must hold for 0-based ``epoch`` (None: not computable without the data)."""
    steps = cfg.train.iters_per_epoch
    if steps is None:
        sch = cfg.schedule
        if sch.warmup_per == "iter" and sch.warmup_epochs > epoch:
            return None
        steps = 1  # the factor does not depend on the step here
    factor = lr_factor(cfg.schedule, epoch, steps - 1, steps, cfg.train.epochs)
    return _base_lrs(cfg, column) * factor


def _read_history(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path / "history.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def audit_record(path: str | Path) -> Audit:
    """Audit one training record folder (see the module docstring)."""
    path = Path(path)
    out = Audit(path)
    meta = json.loads((path / "config.json").read_text())
    try:
        cfg = config_from_dict(meta["config"])
    except (ConfigError, KeyError, TypeError) as e:
        out.fail(f"config.json does not parse as today's ExperimentConfig: {e}")
        return out
    if not records.is_complete(path):
        out.fail("config.json and metrics.json carry different run ids (or one is unreadable)")
    cols, rows = _read_history(path)
    epochs = cfg.train.epochs
    if len(rows) != epochs:
        out.fail(f"history.csv has {len(rows)} epochs, config says train.epochs={epochs}")
    numbers = [r.get("epoch", "") for r in rows]
    if numbers != [str(i + 1) for i in range(len(rows))]:
        out.fail(f"history.csv epochs are {numbers[:6]}{'...' if len(numbers) > 6 else ''}, not 1..{len(rows)}")
    lr_cols = [c for c in cols if c.startswith("lr/")]
    if "lr" not in cols or not lr_cols:
        out.fail("history.csv has no lr columns")
        return out
    unchecked = 0
    for i, row in enumerate(rows):
        if row["lr"] != row[lr_cols[0]]:
            out.fail(f"epoch {i + 1}: lr {row['lr']} is not the first group's ({lr_cols[0]} = {row[lr_cols[0]]})")
        for col in lr_cols:
            want = expected_lr(cfg, col, i)
            if want is None:
                unchecked += 1
                continue
            if row[col] == "":
                continue  # a group absent at this epoch (never in today's engine)
            got = float(row[col])
            if not math.isclose(got, want, rel_tol=REL_TOL, abs_tol=1e-15):
                out.fail(f"epoch {i + 1}: {col} = {got:.6g} in history.csv, the config's schedule gives {want:.6g}")
                break  # one column per epoch is enough to say it
    if unchecked and out.status == "ok":
        out.status = "unchecked"
        out.problems.append(f"{unchecked} lr values depend on the steps per epoch, which the record does not fix")
    return out


def is_training_record(path: Path) -> bool:
    """A folder with config.json (holding an ExperimentConfig-shaped ``config``), history.csv and metrics.json."""
    if not all((path / f).is_file() for f in records.RECORD_FILES):
        return False
    try:
        cfg = json.loads((path / "config.json").read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(cfg, dict) and {"schedule", "train", "optim"} <= set(cfg)


def audit_root(root: str | Path) -> list[Audit]:
    """Audit every training record under ``root`` (``<experiment>/<run>/``, experiments may nest; other
    folders, e.g. knob curves and segmenter records, are skipped)."""
    root = Path(root)
    found = sorted(p.parent for p in root.rglob("config.json") if is_training_record(p.parent))
    return [audit_record(p) for p in found]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "results")
    audits = audit_root(root)
    failed = [a for a in audits if a.status == "fail"]
    unchecked = [a for a in audits if a.status == "unchecked"]
    for a in failed:
        print(f"FAIL {a.path.relative_to(root)}: " + "; ".join(a.problems))
    for a in unchecked:
        print(f"UNCHECKED {a.path.relative_to(root)}: " + "; ".join(a.problems))
    print(f"{len(audits)} training records under {root}: {len(audits) - len(failed) - len(unchecked)} ok, "
          f"{len(failed)} fail, {len(unchecked)} unchecked")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
