"""The training engine: one function, :func:`train`, from a resolved config to a run record.

What it does, in order: (optionally) join a ``torchrun`` process group; seed; decode the
dataset's splits once and keep the training split on the device; build the model
(channels_last, optional ``torch.compile``, DDP); build one optimiser (or one per phase of an
alternating update) with named parameter groups; then per epoch draw the sampler's batches,
augment them on the device, forward under bf16 autocast, check every loss term is finite,
step, log, evaluate when due and write an atomic checkpoint (model, optimisers, history, all
RNG states) so ``resume=True`` continues to exactly the metrics of an uninterrupted run on CPU.
At the end: the final evaluation (with re-ranking), the hooks' ``after_train`` (hook objects the
caller passes: the engine knows no hook by name), and the record.

What guards the record (see :mod:`partreid_core.engine.records`): before any data is loaded the
model's config is validated, the records and checkpoint folders are checked writable and the run folder is
locked (one writer per run); a checkpoint is resumed only when its config hash equals this config's
(otherwise :class:`CheckpointError` names the differing keys; ``restart=True`` trains from scratch), and
a truncated checkpoint or one for another class count is refused with the same error. The free disk
space is checked against the checkpoint's size before the first epoch; a failed write removes its
partial file and says "no space left on <folder>" when that is why.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm  # plain: tqdm.auto warns in kernels without ipywidgets (the book build)

from ..data import build_dataset
from ..data.translate import translate_split
from ..data.types import SplitTensors, eval_splits, relabel
from ..evaluation import evaluate_model
from ..models import build_model
from ..models.backbones import pretrained_provenance, trunk_provenance
from ..models.registry import model_config
from . import records
from .config import ExperimentConfig, config_to_dict
from .hooks import AnalysisContext, HookBase, check_hooks, eval_mode, run_after_train
from .optim import apply_lr, build_optimizer, lr_factor, split_param_groups
from .pipeline import build_sampler, make_batch


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; the message names the epoch, step and term."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be resumed (another config, unreadable, another class count) or written."""


@dataclass
class RunResult:
    path: Path
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    #: "trained", or "exists" (``skip_existing`` found the record complete once it held the run's lock)
    status: str = "trained"


# ---------------------------------------------------------------------------------------------
# small helpers


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """True where oneDNN runs bf16 natively (AVX512-BF16 / AMX); elsewhere bf16 on CPU is emulated and slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_dtype_for(mode: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA for "auto"; CPU trains in fp32 unless asked.

    ``"bf16"`` on a CPU without native bf16 falls back to fp32 (the record's config says which ran).
    """
    if mode == "off":
        return None
    if mode == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    if mode == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        warnings.warn("train.amp=bf16 asked for, but this CPU has no native bf16: training in fp32", stacklevel=2)
        return None
    return torch.bfloat16 if mode == "bf16" else torch.float16


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the ``torchrun`` process group when WORLD_SIZE > 1; returns (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def load_splits(cfg: ExperimentConfig) -> tuple[SplitTensors, SplitTensors, SplitTensors]:
    """Decode train and the evaluated query / gallery once at ``cfg.data.size`` (CPU tensors).

    The query and gallery are those of ``cfg.eval.split``: ``test`` or SynthReID's ``val`` (a dataset without
    a validation split raises ValueError before anything is decoded).
    """
    ds = build_dataset(cfg.data.dataset, **cfg.data.dataset_kwargs)
    out = []
    for split in ("train", *eval_splits(ds, cfg.eval.split)):
        st = ds.load_split(split, tuple(cfg.data.size))
        if not cfg.data.use_masks:
            st.masks = None
        if not cfg.data.use_keypoints:
            st.keypoints = None
        out.append(st)
    return tuple(out)  # type: ignore[return-value]


def checkpoint_path(cfg: ExperimentConfig, out: str | Path = "results") -> Path:
    """``<checkpoint_dir>/<records key of out>/<experiment>/<run>/last.pt`` (:func:`records.checkpoint_file`):
    the run's checkpoint for records root ``out``, so two records roots never share one."""
    return records.checkpoint_file(cfg.train.checkpoint_dir, out, cfg.experiment, cfg.run_name)


def resolve_init_from(cfg: ExperimentConfig, out: str | Path = "results") -> dict[str, Any]:
    """``cfg.model_overrides`` with a ``run:<experiment>/<run>`` value of ``init_from`` (MPN's IDE stage) replaced
    by that run's checkpoint under the same records root (:func:`records.checkpoint_file`): checkpoints are
    keyed by the records root, so a recipe names the run, not a folder."""
    init = cfg.model_overrides.get("init_from")
    if not (isinstance(init, str) and init.startswith("run:")):
        return cfg.model_overrides
    experiment, _, run = init.removeprefix("run:").partition("/")
    path = records.checkpoint_file(cfg.train.checkpoint_dir, out, experiment, run)
    return {**cfg.model_overrides, "init_from": str(path)}


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with records.guarded_write(path, tmp):  # a partial .tmp is removed; a full disk is named
            torch.save(obj, tmp)
    except records.DiskFullError:
        raise
    except (OSError, RuntimeError) as e:
        raise CheckpointError(f"could not write the checkpoint {path}: {type(e).__name__}: {e}") from e
    os.replace(tmp, path)


def _state_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def check_checkpoint_space(folder: Path, core: torch.nn.Module, n_optimizers: int) -> None:
    """Fail before the first epoch when ``folder``'s disk cannot hold one checkpoint: the model's state plus
    up to two buffers per parameter per optimiser (Adam's moments; SGD's momentum is one), and 1 MiB."""
    need = _state_bytes(core) * (1 + 2 * n_optimizers) + (1 << 20)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise records.DiskFullError(28, f"no space left on {folder}: a checkpoint needs about "
                                    f"{need / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free")


def _remove_checkpoint(ckpt: Path) -> None:
    for f in [ckpt, *ckpt.parent.glob("rng-rank*.pt")]:
        with contextlib.suppress(FileNotFoundError):
            f.unlink()


def load_resume_state(ckpt: Path, cfg: ExperimentConfig, device: torch.device) -> dict[str, Any]:
    """The checkpoint at ``ckpt`` if it was written by a config with this config's hash.

    Raises:
        CheckpointError: the file cannot be read (truncated, not a checkpoint) or its config hash differs
            (the message lists the differing keys and names ``--restart``).
    """
    restart = "delete it or pass --restart (partreid train/sweep) to train from scratch"
    try:
        state = torch.load(ckpt, map_location=device, weights_only=False)
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise CheckpointError(f"the checkpoint {ckpt} cannot be read ({type(e).__name__}: {e}); it may be "
                              f"truncated: {restart}") from None
    if not isinstance(state, dict) or not {"model", "optimizers", "epoch", "history", "rng"} <= set(state):
        raise CheckpointError(f"{ckpt} is not a training checkpoint of partreid train: {restart}")
    # The hash of the config stored in the checkpoint (not the hash stored beside it), under today's
    # HASH_EXCLUDED: a checkpoint written before hashes existed, moved from the older layout
    # (<checkpoint_dir>/<experiment>/<run>/last.pt) into checkpoint_path, resumes when its config is this one.
    want = records.config_hash(config_to_dict(cfg))
    if records.config_hash(state.get("config") or {}) != want:
        diff = records.config_diff(state.get("config") or {}, config_to_dict(cfg))
        shown = "; ".join(diff[:8]) + (f"; and {len(diff) - 8} more" if len(diff) > 8 else "")
        raise CheckpointError(
            f"the checkpoint {ckpt} was written by another config ({shown or 'config hash differs'}); a run resumes "
            f"only its own config: {restart}, or set the old values back")
    return state


def _rng_state(gens: dict[str, torch.Generator]) -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
             "gens": {k: g.get_state() for k, g in gens.items()}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], gens: dict[str, torch.Generator]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    for k, g in gens.items():
        g.set_state(state["gens"][k])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def evaluate(model: torch.nn.Module, query: SplitTensors, gallery: SplitTensors, cfg: ExperimentConfig,
             device: torch.device, amp_dtype: torch.dtype | None, rerank: bool) -> dict[str, float]:
    with eval_mode(model), torch.no_grad():
        return evaluate_model(model, query, gallery, metric=cfg.eval.metric, flip=cfg.eval.flip, rerank=rerank,
                              batch_size=cfg.eval.batch_size, device=device, amp_dtype=amp_dtype)


def epoch_batches(sampler, gen: torch.Generator, iters: int | None) -> list[torch.Tensor]:
    """One epoch of index batches: a sampler pass, or exactly ``iters`` batches from consecutive passes."""
    batches = sampler.epoch_batches(gen)
    if iters is None:
        return batches
    while len(batches) < iters:
        batches += sampler.epoch_batches(gen)
    return batches[:iters]


def _phase_terms(cfg: ExperimentConfig) -> list[tuple[str, ...] | None]:
    """Loss-term selections per update phase (None = every term)."""
    if cfg.train.update == "joint":
        return [None]
    return [tuple(p.terms) for p in cfg.train.phases]


def _select(losses: dict[str, torch.Tensor], terms: tuple[str, ...] | None, all_phases: list) -> dict:
    if terms is None:
        return losses
    named = {t for ph in all_phases if ph is not None for t in ph}
    stray = set(losses) - named
    if stray:
        raise KeyError(f"loss terms {sorted(stray)} are in no train.phases entry (phases name {sorted(named)})")
    return {k: v for k, v in losses.items() if k in terms}


def _allreduce_grads(model: torch.nn.Module, world: int) -> None:
    """Average the gradients over ranks (parameters without a gradient stay without one on every rank,
    since all ranks run the same graph). BN running statistics stay per rank; rank 0's are saved."""
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def _frozen_params(model: torch.nn.Module, cfg: ExperimentConfig, epoch: int) -> list[torch.nn.Parameter]:
    if epoch >= cfg.train.freeze_backbone_epochs:
        return []
    return split_param_groups(model).get("backbone", [])


def _freeze_bn_of(model: torch.nn.Module, frozen: list[torch.nn.Parameter]) -> None:
    """Put modules whose own parameters are all frozen in eval mode (torchreid's open_specified_layers)."""
    ids = {id(p) for p in frozen}
    for m in model.modules():
        own = list(m.parameters(recurse=False))
        if own and all(id(p) in ids for p in own):
            m.eval()


# ---------------------------------------------------------------------------------------------
# checkpoints


def save_checkpoint(ckpt: Path, core: torch.nn.Module, optimizers: list[torch.optim.Optimizer],
                    history: list[dict[str, Any]], epoch: int, gens: dict[str, torch.Generator], elapsed: float,
                    cfg: ExperimentConfig, num_classes: int, rank: int = 0) -> None:
    """Write the state after ``epoch`` (1-based) epochs atomically: on rank 0 ``ckpt`` (model, optimisers, history,
    RNG states, elapsed seconds, the config and its hash, the class count); on another rank only its RNG
    states (``rng-rank<r>.pt`` beside it), so a resumed DDP run continues every rank's own augmentation draws."""
    if rank == 0:
        _atomic_save({"model": core.state_dict(), "optimizers": [o.state_dict() for o in optimizers],
                      "history": history, "epoch": epoch, "rng": _rng_state(gens), "elapsed": elapsed,
                      "config": config_to_dict(cfg), "config_hash": records.config_hash(config_to_dict(cfg)),
                      "num_classes": num_classes}, ckpt)
    else:
        _atomic_save(_rng_state(gens), ckpt.with_name(f"rng-rank{rank}.pt"))


def load_checkpoint(state: dict[str, Any], ckpt: Path, core: torch.nn.Module,
                    optimizers: list[torch.optim.Optimizer], gens: dict[str, torch.Generator], num_classes: int,
                    rank: int = 0) -> tuple[list[dict[str, Any]], int, float]:
    """Restore a checkpoint read by :func:`load_resume_state` into the model, optimisers and generators.

    Returns ``(history, epochs done, elapsed seconds)``. Raises CheckpointError when it is for another class
    count or does not fit the model or optimisers.
    """
    if state.get("num_classes") != num_classes:
        raise CheckpointError(f"the checkpoint {ckpt} is for {state.get('num_classes')} training identities, "
                              f"this run's data has {num_classes}: pass --restart to train from scratch")
    try:
        core.load_state_dict(state["model"])
        for opt, s in zip(optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(s)
    except (RuntimeError, ValueError, KeyError) as e:
        raise CheckpointError(f"the checkpoint {ckpt} does not fit this run's model or optimisers "
                              f"({type(e).__name__}: {str(e).splitlines()[0]}): pass --restart") from None
    rank_rng = ckpt.with_name(f"rng-rank{rank}.pt")
    _set_rng_state(torch.load(rank_rng, weights_only=False) if rank and rank_rng.is_file() else state["rng"], gens)
    return state["history"], state["epoch"], state["elapsed"]


# ---------------------------------------------------------------------------------------------
# one epoch


@dataclass
class Trainee:
    """What the epochs update, and how: built once per run by :func:`_train_locked`.

    ``core`` is the model itself (losses, state dicts, evaluation), ``model`` the module put in train mode
    (``core`` or its DDP wrapper), ``fwd`` what the batches go through (``model`` or ``torch.compile(model)``).
    ``optimizers[i]`` steps the loss terms ``phases[i]`` (None: every term; one entry for a joint update).
    ``manual_sync``: gradients are averaged over ranks explicitly (alternating updates under DDP).
    """

    core: torch.nn.Module
    model: torch.nn.Module
    fwd: Any
    optimizers: list[torch.optim.Optimizer]
    phases: list[tuple[str, ...] | None]
    scaler: torch.amp.GradScaler | None
    device: torch.device
    amp_dtype: torch.dtype | None
    rank: int = 0
    world: int = 1
    manual_sync: bool = False


def _step(t: Trainee, cfg: ExperimentConfig, batch, epoch: int, step: int, frozen: list[torch.nn.Parameter],
          sums: dict[str, torch.Tensor], counts: dict[str, int]) -> None:
    """One forward / backward / optimiser step per update phase on ``batch``; adds each term to ``sums``."""
    for terms, opt in zip(t.phases, t.optimizers, strict=True):
        with torch.autocast(t.device.type, dtype=t.amp_dtype or torch.float32, enabled=t.amp_dtype is not None):
            output = t.fwd(batch.images, masks=batch.masks, keypoints=batch.keypoints)
        losses = _select(t.core.compute_losses(output, batch), terms, t.phases)
        if not losses:
            raise ValueError(f"no loss terms selected for phase {terms}")
        vals = torch.stack([v.detach().float() for v in losses.values()])
        if not bool(torch.isfinite(vals).all()):
            bad = [k for k, v in zip(losses, vals.tolist(), strict=True) if not np.isfinite(v)]
            raise NonFiniteLossError(
                f"non-finite loss at epoch {epoch + 1}, step {step + 1}: term {bad[0]!r} = "
                f"{losses[bad[0]].item()} (all terms: {dict(zip(losses, vals.tolist(), strict=True))})")
        total = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        if t.scaler is not None:
            t.scaler.scale(total).backward()
        else:
            total.backward()
        if t.manual_sync:
            _allreduce_grads(t.core, t.world)
        for p in frozen:
            p.grad = None
        if cfg.train.grad_clip:
            if t.scaler is not None:
                t.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(t.core.parameters(), cfg.train.grad_clip)
        if t.scaler is not None:
            t.scaler.step(opt)
            t.scaler.update()
        else:
            opt.step()
        for k, v in losses.items():  # a term in several phases (PAL's "ps") is averaged over them
            sums[k] = sums.get(k, 0.0) + v.detach().float()
            counts[k] = counts.get(k, 0) + 1


def train_one_epoch(t: Trainee, cfg: ExperimentConfig, train_split: SplitTensors, labels: torch.Tensor,
                    batches: list[torch.Tensor], epoch: int, gen: torch.Generator, show: bool = False
                    ) -> dict[str, Any]:
    """Train epoch ``epoch`` (0-based) over ``batches`` (index tensors into ``train_split``, see
    :func:`epoch_batches`); ``gen`` draws the augmentations.

    Returns the epoch's history row: ``epoch`` (1-based), ``loss`` and ``loss/<term>`` (means over the epoch's
    steps, averaged over ranks), ``lr`` and ``lr/[<optimiser>:]<group>`` after the last step, ``images_per_s``,
    ``time_s``.
    """
    n_steps, epochs = len(batches), cfg.train.epochs
    frozen = _frozen_params(t.core, cfg, epoch)
    t.model.train()
    if frozen:
        _freeze_bn_of(t.core, frozen)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    n_images, t0 = 0, time.time()
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not show, leave=False)
    for step, idx in enumerate(bar):
        factor = lr_factor(cfg.schedule, epoch, step, n_steps, epochs)
        for opt in t.optimizers:
            apply_lr(opt, factor)
        if t.world > 1:
            share = len(idx) // t.world
            idx = idx[t.rank * share:(t.rank + 1) * share]
        batch = make_batch(train_split, labels, idx, cfg.data, gen, cfg.train.channels_last)
        _step(t, cfg, batch, epoch, step, frozen, sums, counts)
        n_images += len(idx) * t.world
        if show and (step % 10 == 0 or step == n_steps - 1):
            rate = n_images / max(1e-9, time.time() - t0)
            bar.set_postfix(loss=f"{sum(float(v) / counts[k] for k, v in sums.items()):.3f}",
                            lr=f"{t.optimizers[0].param_groups[0]['lr']:.2e}", img_s=f"{rate:.0f}")
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    dt = time.time() - t0
    row: dict[str, Any] = {"epoch": epoch + 1}
    means = {k: float(v) / counts[k] for k, v in sums.items()}
    if t.world > 1:  # average the epoch means over ranks so the record describes the whole batch
        m = torch.tensor(list(means.values()), device=t.device, dtype=torch.float64)
        dist.all_reduce(m)
        means = dict(zip(means, (m / t.world).tolist(), strict=True))
    row["loss"] = sum(means.values())
    row.update({f"loss/{k}": v for k, v in means.items()})
    row["lr"] = t.optimizers[0].param_groups[0]["lr"]
    for i, opt in enumerate(t.optimizers):
        pre = "" if len(t.optimizers) == 1 else f"{i}:"
        row.update({f"lr/{pre}{g['name']}": g["lr"] for g in opt.param_groups})
    row["images_per_s"] = n_images / max(dt, 1e-9)
    row["time_s"] = dt
    return row


# ---------------------------------------------------------------------------------------------


def train(cfg: ExperimentConfig, out: str | Path = "results", resume: bool = False,
          device: str | torch.device | None = None, stop_after_epochs: int | None = None,
          splits: tuple[SplitTensors, SplitTensors, SplitTensors] | None = None,
          variant: str = "", restart: bool = False, skip_existing: bool = False,
          hooks: Sequence[HookBase] | None = None) -> RunResult:
    """Train ``cfg`` and write its record to ``out/<experiment>/<run>/``.

    Args:
        resume: continue from the run's checkpoint (:func:`checkpoint_path`) when it exists and was written
            by a config with the same hash (:func:`records.config_hash`).
        restart: remove the run's checkpoint and train from scratch (what a refused resume offers).
        stop_after_epochs: return after this many epochs of this call (the checkpoint is kept,
            no record is written): splits a long run in pieces, and is how tests simulate a crash.
        splits: pre-decoded (train, query, gallery) to skip decoding (benchmarks, notebooks); the query and
            gallery must be those of ``cfg.eval.split`` (see :func:`load_splits`).
        variant: a label stored in config.json (the sweep runner's variant name).
        skip_existing: once the run's lock is held, return the existing record (``status="exists"``) when it
            is complete: a sweep started beside another never trains a run twice.
        hooks: :class:`~partreid_core.engine.hooks.HookBase` objects; after the final evaluation each one's
            ``after_train`` arrays go to ``analysis.npz`` as ``"<hook.name>/<array>"``. Every name in
            ``cfg.analysis`` needs a hook of that name (the experiments layer builds them:
            :func:`partreid_core.experiments.runs.train_experiment`).

    Raises:
        ValueError: ``cfg.analysis`` names a hook that ``hooks`` lacks (before anything else is done).
        NonFiniteLossError: a loss term is NaN/inf, naming epoch (1-based), step and term.
        CheckpointError: the checkpoint is unreadable, of another config or class count, or cannot be written.
        RunLockedError: another process is training this run (``records.run_lock``).
        NotWritableError, DiskFullError: the records or checkpoint folder cannot be written or is too full
            (checked before any data is loaded, and on every write).
    """
    t_start = time.time()
    hooks = list(hooks or ())
    check_hooks(cfg.analysis, hooks)
    device = resolve_device(device)
    rank, world = init_distributed(device)
    # Fail before work: the model's own fields (typed, validated) and both output folders, then the lock.
    model_config(cfg.model, cfg.model_overrides)
    path = records.run_dir(out, cfg.experiment, cfg.run_name)
    ckpt = checkpoint_path(cfg, out)
    with contextlib.ExitStack() as stack:
        if rank == 0:
            records.check_writable(path, "records")
            records.check_writable(ckpt.parent, "checkpoint")
            stack.enter_context(records.run_lock(path))
        if world > 1:
            dist.barrier()  # every rank decides on the record below only once rank 0 holds the lock
        if skip_existing and records.is_complete(path):
            history = records.load_history(path).to_dict("records")
            metrics = json.loads((path / "metrics.json").read_text())
            metrics.pop("run_id", None)
            return RunResult(path, metrics, history, status="exists")
        return _train_locked(cfg, path, ckpt, resume, restart, device, rank, world, stop_after_epochs, splits,
                             variant, t_start, out, hooks)


def _train_locked(cfg: ExperimentConfig, path: Path, ckpt: Path, resume: bool, restart: bool,
                  device: torch.device, rank: int, world: int, stop_after_epochs: int | None,
                  splits: tuple[SplitTensors, SplitTensors, SplitTensors] | None, variant: str,
                  t_start: float, out: str | Path, hooks: list[HookBase]) -> RunResult:
    """The body of :func:`train` once the run's folders are checked and its lock is held."""
    state = None
    if restart:
        if rank == 0:
            _remove_checkpoint(ckpt)
        if world > 1:
            dist.barrier()
    elif resume and ckpt.is_file():
        state = load_resume_state(ckpt, cfg, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    seed_everything(cfg.seed)
    amp_dtype = amp_dtype_for(cfg.train.amp, device)
    # evaluation in fp32 unless a recipe or profile asks otherwise (eval.amp="train": as training, the cpu profile)
    eval_dtype = amp_dtype if cfg.eval.amp == "train" else amp_dtype_for(cfg.eval.amp, device)
    train_split, query, gallery = splits or load_splits(cfg)
    train_split = translate_split(train_split, cfg.data.translate)  # MPN's offline x5 set (no-op: copies 1)
    labels, num_classes = relabel(train_split.pids)
    train_split = train_split.to(device)
    labels = labels.to(device)

    core = build_model(cfg.model, num_classes, resolve_init_from(cfg, out)).to(device)
    trunk_source = pretrained_provenance(core)  # "imagenet:<file> sha256:<hex>", "ide:...", or "none"
    if cfg.train.channels_last:
        core = core.to(memory_format=torch.channels_last)
    optimizers = ([build_optimizer(core, cfg.optim)] if cfg.train.update == "joint"
                  else [build_optimizer(core, cfg.optim, base_lr=p.lr) for p in cfg.train.phases])
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 and device.type == "cuda" else None

    sampler = build_sampler(cfg.data, labels)
    if world > 1 and cfg.data.train_batch % world:
        raise ValueError(f"batch {cfg.data.train_batch} does not split over {world} processes")
    if world > 1 and cfg.data.sampler == "pk" and cfg.data.p % world:
        raise ValueError(f"P={cfg.data.p} identities do not split over {world} processes (each rank takes P/world ids)")
    gens = {"sampler": torch.Generator().manual_seed(cfg.seed),
            "augment": torch.Generator(device=device).manual_seed(cfg.seed + 1 + rank)}

    history: list[dict[str, Any]] = []
    start_epoch, elapsed_before = 0, 0.0
    if rank == 0:
        check_checkpoint_space(ckpt.parent, core, len(optimizers))
    if state is not None:
        history, start_epoch, elapsed_before = load_checkpoint(state, ckpt, core, optimizers, gens, num_classes, rank)
        if rank == 0:
            print(f"resumed {ckpt} at epoch {start_epoch}/{cfg.train.epochs}")

    model: torch.nn.Module = core
    # Alternating phases leave the other phase's heads out of the graph while their outputs exist,
    # which DDP's reducer rejects; those runs average gradients explicitly (_allreduce_grads).
    manual_sync = world > 1 and cfg.train.update == "alternating"
    if world > 1 and not manual_sync:
        model = torch.nn.parallel.DistributedDataParallel(core, device_ids=[device] if device.type == "cuda" else None)
    elif manual_sync:
        for tensor in core.state_dict().values():
            dist.broadcast(tensor, 0)
    trainee = Trainee(core, model, torch.compile(model) if cfg.train.compile else model, optimizers,
                      _phase_terms(cfg), scaler, device, amp_dtype, rank, world, manual_sync)

    epochs = cfg.train.epochs
    last_epoch = epochs if stop_after_epochs is None else min(epochs, start_epoch + stop_after_epochs)
    show = cfg.train.progress and rank == 0
    for epoch in range(start_epoch, last_epoch):
        batches = epoch_batches(sampler, gens["sampler"], cfg.train.iters_per_epoch)
        row = train_one_epoch(trainee, cfg, train_split, labels, batches, epoch, gens["augment"], show)
        due = cfg.eval.every and (epoch + 1) % cfg.eval.every == 0 and epoch + 1 < epochs
        if due and rank == 0:
            row.update(evaluate(core, query, gallery, cfg, device, eval_dtype, rerank=False))
        history.append(row)
        if show:
            print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(
                f"{k}={v:.4g}" for k, v in row.items() if k in ("loss", "lr", "images_per_s", "rank1", "mAP")))
        save_checkpoint(ckpt, core, optimizers, history, epoch + 1, gens, elapsed_before + time.time() - t_start,
                        cfg, num_classes, rank)
        if world > 1:
            dist.barrier()

    if last_epoch < epochs:
        return RunResult(path, {}, history)
    metrics: dict[str, float] = {}
    if rank == 0:
        metrics = evaluate(core, query, gallery, cfg, device, eval_dtype, rerank=cfg.eval.rerank)
        if history:
            history[-1].update({k: v for k, v in metrics.items() if not k.startswith("rr_")})
        arrays = {}
        if hooks:
            core.eval()
            arrays = run_after_train(hooks, AnalysisContext(core, train_split, query, gallery, cfg, device,
                                                            eval_dtype))
        meta = {"seed": cfg.seed, "variant": variant, "num_train_ids": num_classes, "world_size": world,
                "precision": str(amp_dtype or torch.float32).removeprefix("torch."),
                "eval_precision": str(eval_dtype or torch.float32).removeprefix("torch."),
                "wall_time_s": elapsed_before + time.time() - t_start, **records.environment(device_name(device)),
                # regime and pretrained_trunk: what the config asks for, or what was loaded (MPN's IDE stage)
                **trunk_provenance(model_config(cfg.model, cfg.model_overrides), loaded=trunk_source)}
        write_run_record(path, cfg, meta, history, metrics, arrays)
    if world > 1:
        dist.barrier()
    return RunResult(path, metrics, history)


def write_run_record(path: Path, cfg: ExperimentConfig, meta: dict[str, Any], history: list[dict[str, Any]],
                     metrics: dict[str, float], arrays: dict[str, np.ndarray]) -> None:
    """Write the record of a finished run: config.json (``cfg`` with ``meta``, a fresh ``run_id`` and the config
    hash), history.csv, analysis.npz (when ``arrays``) and, last, metrics.json with the same run id and
    ``cfg.eval.split``; a stale metrics.json goes first, so a kill midway leaves an incomplete record."""
    path.mkdir(parents=True, exist_ok=True)
    run_id = records.new_run_id()
    meta = {**meta, "run_id": run_id, "config_hash": records.config_hash(config_to_dict(cfg))}
    records.begin_record(path)
    records.write_config(path, config_to_dict(cfg), meta)
    records.write_history(path, history)
    if arrays:
        records.write_analysis(path, arrays)
    records.write_metrics(path, {**metrics, "split": cfg.eval.split}, run_id)
