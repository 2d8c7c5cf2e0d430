"""Run records: ``results/<experiment>/<run>/`` with config.json, history.csv, metrics.json, analysis.npz.

* ``config.json``: ``{"config": <resolved ExperimentConfig>, "seed", "git_commit", "git_dirty",
  "device", "versions": {python, torch, torchvision, numpy}, "date" (UTC ISO), "wall_time_s",
  "num_train_ids", "world_size", "regime" ("scratch" | "fine-tuned"), "pretrained_trunk" ({name, sha256,
  source} of the loaded weights, or null)}``.
* ``history.csv``: one row per epoch: ``epoch``, ``loss`` and ``loss/<term>`` (epoch means),
  ``lr`` (first group) and ``lr/<group>``, ``images_per_s``, ``time_s``, and evaluation columns
  (``rank1``, ``mAP``, ...) on the epochs that were evaluated (empty otherwise).
* ``metrics.json``: the final :func:`evaluate_model` dict (rank1/5/10, mAP, mAP_trapezoid, mINP,
  query counts, and the ``rr_`` re-ranked ones when re-ranking ran), and ``split``: the evaluated split
  (``test`` or SynthReID's ``val``; records written before the validation split existed lack it: test).
* ``analysis.npz``: arrays from the analysis hooks (optional).

A record is complete when ``config.json`` and ``metrics.json`` both exist and belong to one run: the
engine writes a fresh ``run_id`` into both, removes a stale ``metrics.json`` before writing anything and
writes ``metrics.json`` last, so a run killed between its writes leaves an incomplete folder, never a new
config beside an old run's metrics. Records written before run ids existed carry none in either file and
stay complete (:func:`is_complete`).

Run identity (:func:`config_hash`): a hash of the resolved config without the keys in
:data:`HASH_EXCLUDED`, which name, place or display a run, or only evaluate it, without changing what it
trains. A checkpoint stores it and is resumed only by a config with the same hash. Checkpoints live at
:func:`checkpoint_file`: ``<checkpoint_dir>/<records root key>/<experiment>/<run>/last.pt``, so two
records roots (``--out``) never share one.

One writer per run (:func:`run_lock`): an exclusive ``fcntl`` lock on ``<run folder>/.lock`` while a
process trains the run; a second process gets :class:`RunLockedError`.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RECORD_FILES = ("config.json", "history.csv", "metrics.json")

#: Config keys (dotted; a key names its whole subtree) that do not change what a run trains, left out of
#: :func:`config_hash`: the run's names and labels (``experiment`` and ``run`` are in its paths already;
#: ``recipe`` and ``profile`` only name where the resolved values came from), display and placement
#: (``train.progress``, ``train.checkpoint_dir``), everything under ``eval`` (evaluation reads the trained
#: model; the final metrics are always computed with the config at hand) and the ``analysis`` hooks (run
#: on the trained model at the end). Everything else, the seed included, is part of a run's identity.
HASH_EXCLUDED: tuple[str, ...] = ("experiment", "run", "recipe", "profile", "train.progress",
                                  "train.checkpoint_dir", "eval", "analysis")


class RunLockedError(RuntimeError):
    """Another process holds the run folder's lock (it is training that run)."""


class _FolderError(OSError):
    """An OSError built as ``(errno, message)`` whose text is the message alone (no "[Errno 28]")."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


class DiskFullError(_FolderError):
    """A write failed for lack of space; the message names the folder (the partial file is removed)."""


class NotWritableError(_FolderError):
    """A folder a run must write to (records, checkpoints) cannot be written; checked before any work."""


def run_dir(out: str | Path, experiment: str, run: str) -> Path:
    return Path(out) / experiment / run


def new_run_id() -> str:
    """A fresh id for one training call; written into both config.json and metrics.json."""
    return uuid.uuid4().hex


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_complete(path: str | Path) -> bool:
    """True when ``config.json`` and ``metrics.json`` exist, parse and carry the same ``run_id``
    (or neither carries one: a record written before run ids)."""
    meta, metrics = _read_json(Path(path) / "config.json"), _read_json(Path(path) / "metrics.json")
    if not isinstance(meta, dict) or not isinstance(metrics, dict):
        return False
    return meta.get("run_id") == metrics.get("run_id")


def _flat_config(config: dict) -> dict[str, Any]:
    flat = _flatten(config)
    return {k: v for k, v in flat.items()
            if not any(k == x or k.startswith(x + ".") for x in HASH_EXCLUDED)}


def config_hash(config: dict) -> str:
    """16 hex digits of sha256 over the resolved config dict (``config_to_dict``) without :data:`HASH_EXCLUDED`."""
    body = json.dumps(_flat_config(config), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def config_diff(old: dict, new: dict) -> list[str]:
    """``["optim.lr: 0.01 -> 0.001", ...]``: the hashed keys whose values differ between two config dicts."""
    a, b = _flat_config(old), _flat_config(new)
    missing = object()
    return [f"{k}: {a.get(k, '(absent)')!s} -> {b.get(k, '(absent)')!s}" for k in sorted(set(a) | set(b))
            if a.get(k, missing) != b.get(k, missing)]


def records_key(out: str | Path) -> str:
    """``<folder name>-<8 hex of sha256(absolute path)>`` of a records root: its checkpoints' folder name."""
    root = Path(out).resolve()
    return f"{root.name or 'root'}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def checkpoint_file(checkpoint_dir: str | Path, out: str | Path, experiment: str, run: str) -> Path:
    """``<checkpoint_dir>/<records_key(out)>/<experiment>/<run>/last.pt``.

    A relative ``checkpoint_dir`` is taken under ``$PARTREID_CHECKPOINTS`` when that is set (the test suite
    points it at a temporary folder, so no test can overwrite a real run's checkpoint), else under the working
    directory. Checkpoints of the older layout (``<checkpoint_dir>/<experiment>/<run>/last.pt``) are not read.
    """
    root = Path(checkpoint_dir)
    if not root.is_absolute() and os.environ.get("PARTREID_CHECKPOINTS"):
        root = Path(os.environ["PARTREID_CHECKPOINTS"]) / root
    return root / records_key(out) / experiment / run / "last.pt"


def disk_full(error: BaseException, folder: Path, min_free: int = 1 << 20) -> bool:
    """Whether a failed write failed for lack of space: ENOSPC, or (torch's writer reports it as a RuntimeError
    such as ``enforce fail at inline_container.cc``) less than ``min_free`` bytes left on ``folder``'s disk."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if "No space left" in str(error):
        return True
    try:
        return shutil.disk_usage(folder).free < min_free
    except OSError:
        return False


@contextlib.contextmanager
def guarded_write(path: Path, tmp: Path) -> Iterator[None]:
    """Around writing ``tmp`` (later renamed to ``path``): on failure remove the partial ``tmp`` (a partial
    file would keep a full disk full) and say "no space left on <folder>" when that is the cause."""
    try:
        yield
    except BaseException as e:
        full = not isinstance(e, (KeyboardInterrupt, SystemExit)) and disk_full(e, path.parent)
        with contextlib.suppress(OSError):
            tmp.unlink()
        if full:
            raise DiskFullError(errno.ENOSPC, f"no space left on {path.parent} (writing {path.name}; the partial "
                                f"file was removed)") from e
        raise


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with guarded_write(path, tmp):
        tmp.write_text(text)
    os.replace(tmp, path)


def check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` and write and remove a probe file in it, or raise :class:`NotWritableError`."""
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise NotWritableError(e.errno or errno.EACCES,
                               f"the {what} folder {folder} is not writable ({e.strerror or e})") from None


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[Path]:
    """Hold an exclusive lock on run folder ``path`` (created if needed) for the ``with`` block.

    The lock is ``fcntl.flock`` on ``path/.lock``, released by the kernel when the process dies (a killed
    run never blocks the next one); the file holds "pid@host" for the refusal message and is removed on
    release. A process that opened the file just before its holder removed it finds its inode gone and
    tries again, so two processes never both hold a lock.

    Raises:
        RunLockedError: another process holds it.
    """
    path.mkdir(parents=True, exist_ok=True)
    lock = path / ".lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(f"{path} is being trained by another process ({holder}, lock {lock})") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and our lock: take the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}@{socket.gethostname()}".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def lock_holder(path: Path) -> str | None:
    """"pid N@host" when another process holds run folder ``path``'s lock, else None (creates nothing)."""
    try:
        fd = os.open(path / ".lock", os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(fd, 200).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)  # closing releases a shared lock taken just to probe
    return None


def begin_record(path: Path) -> None:
    """Remove a stale ``metrics.json`` (and ``analysis.npz``) before a run writes its record, so a run
    killed between its writes leaves an incomplete folder rather than a new config beside old metrics."""
    for name in ("metrics.json", "analysis.npz"):
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()


def git_state(cwd: str | Path | None = None) -> tuple[str, bool]:
    """(commit hash or "unknown", dirty flag) of the repository containing ``cwd`` (or this package)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return commit or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def environment(device: str) -> dict[str, Any]:
    import torch
    import torchvision

    commit, dirty = git_state()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "device": device,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__},
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host_cpus": os.cpu_count(),
    }


def results_root(start: str | Path | None = None) -> Path:
    """Where run records live: ``$PARTREID_RESULTS``, else ``results/`` of the checkout that contains
    ``start`` (default: the working directory; notebooks run from ``notebooks/``), else ``./results``."""
    if os.environ.get("PARTREID_RESULTS"):
        return Path(os.environ["PARTREID_RESULTS"])
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "partreid_core").is_dir():
            return d / "results"
    return Path("results")


def write_bench(path: str | Path, kind: str, args: dict[str, Any], result: dict[str, Any], device: str) -> Path:
    """A benchmark record: one JSON file with the command's arguments, its result and the environment."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": kind, "args": args, "result": result, **environment(device)}
    atomic_write_text(path, json.dumps(body, indent=2, sort_keys=True, default=float))
    return path


def write_config(path: Path, config: dict, meta: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / "config.json", json.dumps({"config": config, **meta}, indent=2, sort_keys=True))


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """All rows to history.csv; the columns are the union in first-seen order."""
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    tmp = path / "history.csv.tmp"
    with guarded_write(path / "history.csv", tmp), open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    os.replace(tmp, path / "history.csv")


def write_metrics(path: Path, metrics: dict[str, float | str], run_id: str | None = None) -> None:
    """metrics.json: numbers as floats, text (the evaluated ``split``) as is, and ``run_id`` (the one in
    config.json) when given."""
    body: dict[str, Any] = {k: v if isinstance(v, str) else float(v) for k, v in metrics.items()}
    if run_id is not None:
        body["run_id"] = run_id
    atomic_write_text(path / "metrics.json", json.dumps(body, indent=2, sort_keys=True))


def write_analysis(path: Path, arrays: dict[str, np.ndarray], max_mb: float = 8.0) -> None:
    size = sum(a.nbytes for a in arrays.values()) / 2**20
    if size > max_mb:
        raise ValueError(f"analysis arrays take {size:.1f} MB; records keep analysis.npz under {max_mb} MB "
                         f"(largest: {max(arrays, key=lambda k: arrays[k].nbytes)})")
    tmp = path / "analysis.tmp.npz"
    with guarded_write(path / "analysis.npz", tmp):
        np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path / "analysis.npz")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _iter_runs(root: Path, experiments: Iterable[str] | None) -> Iterable[Path]:
    exps = sorted(p for p in root.iterdir() if p.is_dir()) if experiments is None else [root / e for e in experiments]
    for exp in exps:
        if exp.is_dir():
            yield from sorted(p for p in exp.iterdir() if is_complete(p))


def load_records(root: str | Path = "results", experiment: str | Iterable[str] | None = None,
                 config_columns: bool = True) -> pd.DataFrame:
    """One row per complete run under ``root`` (optionally only some experiments).

    Columns: ``experiment``, ``run``, ``path``, provenance (``model``, ``dataset``, ``profile``,
    ``recipe``, ``seed``, ``device``, ``git_commit``, ``date``, ``wall_time_s``, ``epochs``, ``split``), every metric
    of metrics.json, and (``config_columns``) the flattened config as ``cfg.<key.sub>`` columns,
    which is how a notebook groups a sweep by the field its variants change.
    """
    root = Path(root)
    exps = [experiment] if isinstance(experiment, str) else experiment
    rows = []
    if not root.is_dir():
        return pd.DataFrame(rows)
    for path in _iter_runs(root, exps):
        meta = json.loads((path / "config.json").read_text())
        cfg = meta.get("config", {})
        row: dict[str, Any] = {
            "experiment": path.parent.name, "run": path.name, "path": str(path),
            "model": cfg.get("model"), "dataset": cfg.get("data", {}).get("dataset"),
            "profile": cfg.get("profile"), "recipe": cfg.get("recipe"), "seed": meta.get("seed", cfg.get("seed")),
            "variant": meta.get("variant", ""), "device": meta.get("device"), "git_commit": meta.get("git_commit"),
            "date": meta.get("date"), "wall_time_s": meta.get("wall_time_s"),
            "epochs": cfg.get("train", {}).get("epochs"), "run_id": meta.get("run_id"),
            # records older than the field trained from scratch (no pretrained trunk existed then)
            "regime": meta.get("regime", "scratch"),
            "pretrained_trunk": (meta.get("pretrained_trunk") or {}).get("name"),
            "pretrained_trunk_sha256": (meta.get("pretrained_trunk") or {}).get("sha256"),
        }
        metrics = json.loads((path / "metrics.json").read_text())
        metrics.pop("run_id", None)  # provenance, in the run_id column above
        row.update(metrics)
        row.setdefault("split", "test")   # records from before the validation split were evaluated on test
        if config_columns:
            row.update({f"cfg.{k}": v for k, v in _flatten(cfg).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def load_history(path: str | Path) -> pd.DataFrame:
    """A run's history.csv as a DataFrame (one row per epoch)."""
    return pd.read_csv(Path(path) / "history.csv")


def load_analysis(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(Path(path) / "analysis.npz") as z:
        return {k: z[k] for k in z.files}
