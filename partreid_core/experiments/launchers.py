"""Where a sweep's runs execute: here (``local``, the sweep runner's own processes) or as cluster jobs (``submitit``).

``partreid sweep FILE --launcher submitit`` turns every grid point that has no complete record into one job of a
SLURM job array through submitit (Facebook's launcher; ``pip install partreid[cluster]``)::

    partreid sweep partreid_core/experiments/sweeps/pal/*.yaml --launcher submitit \\
        --slurm-partition gpu --slurm-gpus-per-node 1 --slurm-cpus-per-task 8 --slurm-timeout-min 720

Each job (:func:`run_point`) checks the record again when it starts (a point finished by another job or an
earlier sweep is skipped), trains with ``resume=True`` (a requeued or pre-empted job continues from its
checkpoint, which lives under the checkpoint folder, not the staging folder), writes the record into a private
staging folder and publishes it with one ``rename`` of the folder: readers of ``results/`` see a run either
complete or absent, never half-written, also when two sweeps race on one point. Multi-GPU single runs stay
``torchrun`` + DDP; a job here is one process on one GPU.

``--slurm-cluster local`` runs the same jobs with submitit's ``LocalExecutor`` (subprocesses of this machine):
that is how the tests exercise the job path without SLURM.
"""
from __future__ import annotations

import argparse
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import records
from ..engine.config import ExperimentConfig, config_from_dict, config_to_dict
from .runs import train_experiment

LAUNCHERS = ("local", "submitit")


@dataclass
class LauncherConfig:
    """How to launch a sweep's runs. ``name="local"`` keeps the sweep runner's own processes (``--workers``)."""

    name: str = "local"
    #: submitit's executor: "slurm" (default) or "local" (submitit's LocalExecutor: subprocesses here)
    cluster: str = "slurm"
    #: submitit's folder of job scripts, pickles and logs (``%j`` is the job id)
    folder: str = "submitit/%j"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    mem_gb: float | None = None
    timeout_min: int = 24 * 60
    #: jobs of the array that run at once
    array_parallelism: int = 64
    #: wait for the jobs and report each point's status; False: submit, print the job ids and return
    wait: bool = True

    def __post_init__(self) -> None:
        if self.name not in LAUNCHERS:
            raise ValueError(f"launcher must be one of {LAUNCHERS}, got {self.name!r}")
        if self.cluster not in ("slurm", "local"):
            raise ValueError(f"submitit cluster must be 'slurm' or 'local', got {self.cluster!r}")


# ---------------------------------------------------------------------------------------------
# the job


def _publish(staged: Path, final: Path) -> bool:
    """Move a complete staged record folder to ``final`` with one rename; False if ``final`` is already complete.

    An incomplete ``final`` (a run that crashed before its ``metrics.json``) is moved aside first, so the
    rename lands on a free name; the leftover goes with the staging folder.
    """
    if records.is_complete(final):
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.replace(final, staged.with_name(staged.name + ".stale"))
    try:
        os.replace(staged, final)
    except OSError:  # another job published between the check and the rename
        if records.is_complete(final):
            return False
        raise
    return True


def run_point(cfg: dict[str, Any], out: str, variant: str, train_kwargs: dict[str, Any] | None = None,
              train_fn: Callable[..., Any] | None = None) -> str:
    """One grid point as a job: ``"exists"`` if its record is complete, else train it and return ``"trained"``.

    ``cfg`` is the resolved config as a dict (what config.json stores; it pickles across library versions).
    The record is trained into ``<out>/.staging/<run>-<unique>/`` and published atomically (:func:`_publish`).
    """
    config: ExperimentConfig = config_from_dict(cfg)
    final = records.run_dir(out, config.experiment, config.run_name)
    if records.is_complete(final):
        return "exists"
    if train_fn is None:
        train_fn = train_experiment
        threads = os.environ.get("SLURM_CPUS_PER_TASK")
        if threads:  # torch counts the node's cores, not the job's allotment
            import torch

            torch.set_num_threads(int(threads))
    stage_root = Path(out) / ".staging" / f"{config.experiment}-{config.run_name}-{uuid.uuid4().hex[:8]}"
    try:
        train_fn(config, out=str(stage_root), resume=True, variant=variant, **(train_kwargs or {}))
        staged = records.run_dir(stage_root, config.experiment, config.run_name)
        if not records.is_complete(staged):
            raise RuntimeError(f"training returned without a complete record in {staged}")
        return "trained" if _publish(staged, final) else "exists"
    finally:
        shutil.rmtree(stage_root, ignore_errors=True)
        try:
            stage_root.parent.rmdir()  # only when no other job is staging
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# submission


def make_executor(launcher: LauncherConfig):
    """The submitit executor for ``launcher`` (imported here: submitit is the optional ``cluster`` extra)."""
    try:
        import submitit
    except ImportError:
        raise SystemExit("--launcher submitit needs submitit: pip install 'partreid[cluster]'") from None
    if launcher.cluster == "local":
        ex = submitit.LocalExecutor(folder=launcher.folder)
        ex.update_parameters(timeout_min=launcher.timeout_min, gpus_per_node=0)
        return ex
    ex = submitit.AutoExecutor(folder=launcher.folder, cluster="slurm")
    params: dict[str, Any] = dict(name="partreid-sweep", timeout_min=launcher.timeout_min, nodes=1,
                                  tasks_per_node=1, gpus_per_node=launcher.gpus_per_node,
                                  cpus_per_task=launcher.cpus_per_task,
                                  slurm_array_parallelism=launcher.array_parallelism)
    if launcher.mem_gb is not None:
        params["mem_gb"] = launcher.mem_gb
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(launcher, key):
            params[f"slurm_{key}"] = getattr(launcher, key)
    ex.update_parameters(**params)
    return ex


def submit_points(todo: list[tuple[dict[str, Any], str, ExperimentConfig]], out: str | Path,
                  launcher: LauncherConfig, train_kwargs: dict[str, Any] | None = None,
                  executor: Any = None) -> list[dict[str, Any]]:
    """Submit one job per ``(status row, variant, config)`` of ``todo`` (one job array); one status row each.

    Waiting (``launcher.wait``), a row's status is the job's answer (``trained`` / ``exists``) or ``failed: <error>``;
    otherwise ``submitted: <job id>``.
    """
    if not todo:
        return []
    ex = executor if executor is not None else make_executor(launcher)
    with ex.batch():
        jobs = [ex.submit(run_point, config_to_dict(cfg), str(out), name, dict(train_kwargs or {}))
                for _, name, cfg in todo]
    status = []
    for (row, _, _), job in zip(todo, jobs, strict=True):
        if not launcher.wait:
            status.append({**row, "status": f"submitted: {job.job_id}"})
            continue
        try:
            status.append({**row, "status": job.result()})
        except Exception as e:  # noqa: BLE001 - one failed job must not hide the others
            msg = str(e).strip().splitlines()
            status.append({**row, "status": f"failed: job {job.job_id}: {msg[-1] if msg else type(e).__name__}"})
    return status


# ---------------------------------------------------------------------------------------------
# command line


def add_cli_args(p: argparse.ArgumentParser) -> None:
    """``partreid sweep`` options of the launcher."""
    p.add_argument("--launcher", choices=LAUNCHERS, default="local",
                   help="local: this machine (--workers); submitit: one SLURM job per grid point")
    p.add_argument("--slurm-cluster", choices=("slurm", "local"), default="slurm",
                   help="submitit executor: slurm, or local (subprocesses here, for tests)")
    p.add_argument("--slurm-folder", default="submitit/%j", help="job scripts and logs (default: submitit/%%j)")
    p.add_argument("--slurm-partition", help="SLURM partition (default: the cluster's)")
    p.add_argument("--slurm-account", help="SLURM account to charge")
    p.add_argument("--slurm-qos", help="SLURM quality of service")
    p.add_argument("--slurm-constraint", help="SLURM node constraint, e.g. a GPU model")
    p.add_argument("--slurm-gpus-per-node", type=int, default=1, help="GPUs per job (default: 1)")
    p.add_argument("--slurm-cpus-per-task", type=int, default=8, help="CPU cores per job (default: 8)")
    p.add_argument("--slurm-mem-gb", type=float, help="memory per job in GB (default: the cluster's)")
    p.add_argument("--slurm-timeout-min", type=int, default=24 * 60,
                   help="wall-clock limit per job, minutes (default: 1440)")
    p.add_argument("--slurm-array-parallelism", type=int, default=64,
                   help="jobs of the array running at once (default: 64)")
    p.add_argument("--no-wait", action="store_true", help="submit and return (job ids), do not wait for the jobs")


def from_args(args: argparse.Namespace) -> LauncherConfig | None:
    """The launcher of a parsed ``partreid sweep`` command line; None for the local runner."""
    if getattr(args, "launcher", "local") == "local":
        return None
    return LauncherConfig(name=args.launcher, cluster=args.slurm_cluster, folder=args.slurm_folder,
                          partition=args.slurm_partition, account=args.slurm_account, qos=args.slurm_qos,
                          constraint=args.slurm_constraint, gpus_per_node=args.slurm_gpus_per_node,
                          cpus_per_task=args.slurm_cpus_per_task, mem_gb=args.slurm_mem_gb,
                          timeout_min=args.slurm_timeout_min, array_parallelism=args.slurm_array_parallelism,
                          wait=not args.no_wait)
