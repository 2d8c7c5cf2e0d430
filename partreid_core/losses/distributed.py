"""Losses over the whole batch of a multi-process run: gather each rank's slice first.

Under ``torchrun`` every rank holds 1/world of the global batch. A loss that couples the samples
of a batch (batch-hard triplet mining, PAL's class-balanced PS loss, which pools each class's pixels
over the batch) computed per rank is not the loss of the global batch; the papers trained with
``DataParallel``, which computes it on the gathered batch. :func:`gather_with_grad` concatenates
the slices of all ranks in rank order, so every rank computes the global-batch loss.

Gradients: the gathered copies of other ranks' slices are constants here; the local slice gets
``world`` times its gradient. Every rank computes the same loss from the same gathered tensor, and
DDP (or the trainer's explicit all-reduce) *averages* the ranks' parameter gradients, so the
average is sum_r dL/dx_r dx_r/dtheta: the one-process gradient. No collective runs in the backward
pass, so nothing can interleave with DDP's bucketed gradient reductions.

With one process (or no process group) every function returns its input unchanged, so a
single-process run is bit-identical to one without this module. Slices must have the same shape on
every rank (the trainer splits each batch evenly).
"""
from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    """The number of processes of the default group (1 without an initialised group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _all_gather_cat(x: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class _GatherLocalGrad(torch.autograd.Function):
    """(n, ...) on each rank -> (world n, ...) in rank order; backward: the local rows' gradient x world."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.rank, ctx.world, ctx.n = dist.get_rank(), dist.get_world_size(), x.shape[0]
        return _all_gather_cat(x.detach())

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n] * ctx.world


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All ranks' (n, ...) slices concatenated, (world n, ...), with gradients through the local slice
    (scaled as the module docstring explains); ``x`` itself when world size is 1."""
    if world_size() == 1:
        return x
    return _GatherLocalGrad.apply(x)


def gather_nograd(x: torch.Tensor) -> torch.Tensor:
    """All ranks' (n, ...) slices concatenated (labels, masks); ``x`` itself when world size is 1."""
    if world_size() == 1:
        return x
    with torch.no_grad():
        return _all_gather_cat(x)


__all__ = ["world_size", "gather_with_grad", "gather_nograd"]
