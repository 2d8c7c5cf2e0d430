"""The base class of every ReID model and the loss settings shared by all of them."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.types import Batch
from ..losses import CrossEntropyLabelSmooth, TripletLoss
from .output import ModelOutput


@dataclass
class LossConfig:
    """ID + triplet loss settings. ``triplet_margin = None`` selects the soft margin."""

    id_weight: float = 1.0
    label_smoothing: float = 0.1
    triplet_weight: float = 1.0
    triplet_margin: float | None = 0.3
    #: "sum" adds the loss of every logits/features entry (MGN, PCB); "mean" averages them.
    reduce_terms: str = "sum"


class ReidModel(nn.Module):
    """Base class: training forward returns :class:`ModelOutput`, eval forward the (N, D) embedding.

    Subclasses set ``feat_dim`` (the test-descriptor dimension D, asserted against each
    spec) and implement :meth:`forward`. :meth:`compute_losses` applies the shared ID and
    triplet losses; models with extra terms extend it and return every term by name, so the
    engine can log them and name the one that goes NaN.
    """

    feat_dim: int = 0

    def __init__(self, loss: LossConfig | None = None):
        super().__init__()
        self.loss_cfg = loss or LossConfig()
        self.id_loss = CrossEntropyLabelSmooth(self.loss_cfg.label_smoothing)
        self.triplet_loss = TripletLoss(self.loss_cfg.triplet_margin)

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        """images (N, 3, H, W) float; masks (N, H, W) / keypoints (N, 17, 3) only where a model uses them."""
        raise NotImplementedError

    def _reduce(self, terms: list[torch.Tensor]) -> torch.Tensor:
        total = torch.stack(terms).sum()
        return total / len(terms) if self.loss_cfg.reduce_terms == "mean" else total

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """Named, weighted loss terms; the engine optimises their sum."""
        cfg = self.loss_cfg
        losses: dict[str, torch.Tensor] = {}
        if out.logits and cfg.id_weight:
            losses["id"] = cfg.id_weight * self._reduce([self.id_loss(z, batch.labels) for z in out.logits])
        if out.features and cfg.triplet_weight:
            losses["triplet"] = cfg.triplet_weight * self._reduce(
                [self.triplet_loss(f, batch.labels) for f in out.features])
        return losses

    def inference_modules(self) -> set[str]:
        """Names of child modules used by the eval forward (training-only heads are excluded)."""
        return {name for name, _ in self.named_children()}
