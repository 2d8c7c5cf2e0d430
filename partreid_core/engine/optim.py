"""Parameter groups, optimisers and learning-rate schedules."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..models.backbones import is_backbone_param
from .config import OptimConfig, ScheduleConfig

#: top-level child names whose parameters form the "backbone" group when a model has no ``param_groups()``
BACKBONE_PREFIXES: tuple[str, ...] = ("backbone", "trunk")


def split_param_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Named parameter groups of ``model``.

    The rule, first match wins:
      1. a model that defines ``param_groups() -> dict[str, Iterable[Parameter]]`` decides;
      2. if the model holds parameters created by a backbone builder (tagged by
         :func:`partreid_core.models.backbones.build_backbone`, and kept by ``clone`` in per-branch
         copies), those are ``"backbone"`` and every other parameter is ``"head"``;
      3. otherwise a parameter is ``"backbone"`` when the first component of its name is in
         :data:`BACKBONE_PREFIXES`, and ``"head"`` otherwise.
    Every trainable parameter must be in exactly one group.
    """
    trainable = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
    tagged = any(is_backbone_param(p) for p in model.parameters())
    if hasattr(model, "param_groups"):
        groups = {name: [p for p in params if p.requires_grad] for name, params in model.param_groups().items()}
    elif tagged:
        groups = {"backbone": [], "head": []}
        for p in model.parameters():
            if p.requires_grad:
                groups["backbone" if is_backbone_param(p) else "head"].append(p)
    else:
        groups = {"backbone": [], "head": []}
        for n, p in model.named_parameters():
            if p.requires_grad:
                groups["backbone" if n.split(".")[0] in BACKBONE_PREFIXES else "head"].append(p)
    seen: dict[int, str] = {}
    for g, params in groups.items():
        for p in params:
            if id(p) in seen:
                raise ValueError(f"parameter {trainable.get(id(p), '?')} is in groups {seen[id(p)]!r} and {g!r}")
            seen[id(p)] = g
    missing = [n for i, n in trainable.items() if i not in seen]
    if missing:
        raise ValueError(f"{type(model).__name__}.param_groups() leaves parameters out: {missing[:5]}")
    return {g: ps for g, ps in groups.items() if ps}


def _is_norm_or_bias(model: nn.Module) -> set[int]:
    out = set()
    for m in model.modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)):
            out.update(id(p) for p in m.parameters(recurse=False))
    out.update(id(p) for n, p in model.named_parameters() if n.endswith(".bias"))
    return out


def build_optimizer(model: nn.Module, cfg: OptimConfig, base_lr: float | None = None) -> torch.optim.Optimizer:
    """One optimiser over all parameter groups; each torch param group carries ``name`` and
    ``base_lr`` (= lr x lr_mult[name]) which :func:`apply_lr` scales by the schedule factor."""
    lr = cfg.lr if base_lr is None else base_lr
    groups = split_param_groups(model)
    unknown = set(cfg.lr_mult) - set(groups)
    if unknown:
        raise ValueError(f"optim.lr_mult names groups {sorted(unknown)} the model does not have "
                         f"({type(model).__name__} groups: {sorted(groups)})")
    no_decay = set() if cfg.decay_norm_and_bias else _is_norm_or_bias(model)
    torch_groups = []
    for name, params in groups.items():
        g_lr = lr * cfg.lr_mult.get(name, 1.0)
        for suffix, ps, wd in (("", [p for p in params if id(p) not in no_decay], cfg.weight_decay),
                               ("/no_decay", [p for p in params if id(p) in no_decay], 0.0)):
            if ps:
                torch_groups.append({"params": ps, "name": name + suffix, "base_lr": g_lr, "lr": g_lr,
                                     "weight_decay": wd})
    if cfg.name == "sgd":
        return torch.optim.SGD(torch_groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if cfg.name in ("adam", "amsgrad"):
        return torch.optim.Adam(torch_groups, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                                amsgrad=cfg.name == "amsgrad")
    return torch.optim.AdamW(torch_groups, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def lr_factor(cfg: ScheduleConfig, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """The schedule's factor of the base lr at 0-based ``epoch`` and ``step`` within it.

    Hand-checked values (tests): PLR-OSNet Market (warm-up 19 epochs from 0.1, milestones 60, 90)
    gives 3.5e-4 x 0.1 x (1 + 9/19) = 5.1579e-5 at epoch 1; MGN (warm-up 20 epochs from 0.1)
    gives 0.1 x (0.1 + 0.045 e), i.e. 0.01 + 0.0045 e as pal.md §4.4 writes.
    """
    if cfg.warmup_epochs > 0:
        e = epoch if cfg.warmup_per == "epoch" else epoch + step / max(1, steps_per_epoch)
        if e < cfg.warmup_epochs:
            t = e / cfg.warmup_epochs
            if cfg.warmup == "linear":
                return cfg.warmup_start + (1 - cfg.warmup_start) * t
            return cfg.warmup_start ** (1 - t)
    if cfg.decay == "step":
        return cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    if cfg.decay == "cosine":
        return cfg.min_factor + (1 - cfg.min_factor) * 0.5 * (1 + math.cos(math.pi * epoch / max(1, epochs)))
    return 1.0


def apply_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor
