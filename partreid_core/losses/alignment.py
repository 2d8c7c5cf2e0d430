"""MPN's feature-space alignment losses between main-task and auxiliary-task features.

Spec ``papers/mpn.md`` §3 (Eq. 5-9) and Table 3 (MPN-T3). ``h`` is the concatenation of the K
main-task part features, ``g`` that of the K auxiliary-task part features, both (N, K·d) and
raw (not normalised). ``D(x, y) = 1 - cos(x, y)``. Gradients flow into both sides (no
stop-gradient, as in the official code).

* :func:`class_wise_alignment` (L_CF, Eq. 8, MPN's choice): per identity in the batch, the
  cosine distance between the mean of its ``h`` and the mean of its ``g``, averaged over
  identities. Robust to noisy priors because per-image errors of ``g`` average out.
* :func:`batch_wise_alignment` (MMD-like, ignores labels): distance between the batch means.
* :func:`sample_wise_alignment` (Eq. 9): mean per-image distance.

The fourth Table-3 variant ("sample-wise [10]", DSA-reID style) is not a separate term: the
triplet loss takes ``h + g`` instead of ``h`` (see ``MPNConfig.alignment = "sample_dsa"``).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

_EPS = 1e-6


def _check(h: torch.Tensor, g: torch.Tensor) -> None:
    if h.shape != g.shape or h.dim() != 2:
        raise ValueError(f"alignment needs h and g of the same (N, D) shape, got {tuple(h.shape)} and {tuple(g.shape)}")


def class_means(x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-identity means of ``x`` (N, D) -> ((S, D) in sorted label order, (S,) the labels)."""
    ids, inv = torch.unique(labels, sorted=True, return_inverse=True)
    sums = x.new_zeros(len(ids), x.shape[1]).index_add_(0, inv, x)
    counts = torch.bincount(inv, minlength=len(ids)).to(x.dtype)
    return sums / counts[:, None], ids


def class_wise_alignment(h: torch.Tensor, g: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_CF = (1/S) Σ_i D(mean_a h_i^a, mean_a g_i^a) over the S identities of the batch (Eq. 8).

    Input: h, g (N, D); labels (N,). Output: scalar in [0, 2].
    """
    _check(h, g)
    hb, _ = class_means(h.float(), labels)
    gb, _ = class_means(g.float(), labels)
    return (1 - F.cosine_similarity(hb, gb, dim=1, eps=_EPS)).mean()


def batch_wise_alignment(h: torch.Tensor, g: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """1 - cos(mean_batch h, mean_batch g): MMD-like, label-free (Table 3 "Batch-wise"). ``labels`` is ignored."""
    _check(h, g)
    return 1 - F.cosine_similarity(h.float().mean(0, keepdim=True), g.float().mean(0, keepdim=True), dim=1,
                                   eps=_EPS).squeeze(0)


def sample_wise_alignment(h: torch.Tensor, g: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """L_SF = (1/N) Σ_n D(h_n, g_n) (Eq. 9, Table 3 "Sample-wise (Eq. 9)"). ``labels`` is ignored."""
    _check(h, g)
    return (1 - F.cosine_similarity(h.float(), g.float(), dim=1, eps=_EPS)).mean()


ALIGNMENT_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "class": class_wise_alignment,
    "batch": batch_wise_alignment,
    "sample": sample_wise_alignment,
}


class FeatureAlignmentLoss(nn.Module):
    """One of :data:`ALIGNMENT_LOSSES` by name: forward(h (N, D), g (N, D), labels (N,)) -> scalar."""

    def __init__(self, mode: str = "class"):
        super().__init__()
        if mode not in ALIGNMENT_LOSSES:
            raise ValueError(f"alignment mode must be one of {sorted(ALIGNMENT_LOSSES)}, got {mode!r}")
        self.mode = mode

    def forward(self, h: torch.Tensor, g: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return ALIGNMENT_LOSSES[self.mode](h, g, labels)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
