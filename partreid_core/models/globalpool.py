"""GlobalPool: one pooled vector of the last feature map, in two flavours.

* ``neck="embedding"`` (default): PAL's GP baseline (PAL Fig. 4, spec ``pal.md`` §2.4 / PAL-F4).
  Global max pooling -> Em512 (Linear - BN1d - ReLU) -> FC classifier (with bias, N(0, 0.001)),
  one cross-entropy without label smoothing, no triplet loss; the **512-d Em512 output** (after
  the ReLU) is the test feature. The paper uses GMP for ResNet-50 / MobileNetV2 / DenseNet-121
  and global *average* pooling for OSNet (``pool="avg"``).
* ``neck="bnneck"``: BoT (Luo et al. 2019). Global average pooling -> feature f (triplet and
  center losses) -> BNNeck (BN without shift) -> bias-free classifier (label-smoothed CE); the
  BN output (C-d, C = ``backbone.out_channels``) is the test feature. :data:`BOT_PRESET` holds
  the overrides of the BoT recipe (GAP, BNNeck, smoothing 0.1, triplet margin 0.3, center
  loss 0.0005).

Every channel count is derived from the backbone (``backbone.out_channels``), so the narrow
``cpu``-profile ResNet works unchanged; ``embed_dim`` stays 512 as in the paper at any width.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.types import Batch
from ..losses.center import CenterLoss
from .backbones import BackboneConfig, build_backbone
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .parts import BNNeck, Classifier, GeneralizedPool
from .registry import register_model

#: Overrides that turn the default (PAL GP) into BoT's BNNeck baseline.
BOT_PRESET: dict = {
    "pool": "avg",
    "neck": "bnneck",
    "center_weight": 0.0005,
    "loss": {"label_smoothing": 0.1, "triplet_weight": 1.0, "triplet_margin": 0.3},
}


@dataclass
class GlobalPoolConfig:
    """GlobalPool settings; defaults are PAL's GP-R50 (spec §2.4, §4.1)."""

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(last_stride=1))
    #: "max" (PAL GP with ResNet/MobileNet/DenseNet), "avg" (BoT; PAL with OSNet), "avgmax", or "pal":
    #: PAL's rule, "avg" on an OSNet backbone and "max" on the others (PAL-F7's rows; the gpu recipe's choice).
    pool: str = "max"
    #: "embedding" (PAL: Em512 = Linear-BN-ReLU, test feature after ReLU) or "bnneck" (BoT).
    neck: str = "embedding"
    #: Em512's width (only for ``neck="embedding"``); not scaled with the backbone width.
    embed_dim: int = 512
    #: Weight of BoT's center loss on the triplet feature (0 = off; BoT uses 0.0005).
    center_weight: float = 0.0
    #: PAL GP: one CE, no label smoothing, no triplet loss.
    loss: LossConfig = field(default_factory=lambda: LossConfig(label_smoothing=0.0, triplet_weight=0.0))


class GlobalPool(ReidModel):
    """Backbone -> global pooling -> neck -> classifier.

    Training forward: ``ModelOutput`` with one logits (N, num_classes), one triplet feature
    (the embedding for ``"embedding"``, the pre-BN pooled vector for ``"bnneck"``; present only
    when the triplet or center loss is on), ``embedding`` (N, feat_dim) and
    ``aux["feature_map"]`` (N, C, h, w). Eval forward: (N, feat_dim).
    """

    def __init__(self, cfg: GlobalPoolConfig, num_classes: int):
        super().__init__(cfg.loss)
        if cfg.neck not in ("embedding", "bnneck"):
            raise ValueError(f"GlobalPoolConfig.neck must be 'embedding' or 'bnneck', got {cfg.neck!r}")
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone)
        self.feature_channels = self.backbone.out_channels
        pool = cfg.pool if cfg.pool != "pal" else ("avg" if cfg.backbone.name.startswith("osnet") else "max")
        self.pool = GeneralizedPool(pool)
        c = self.feature_channels
        if cfg.neck == "embedding":
            # EANet/PAL code: default nn.Linear/BN init for the embedding, classifier with bias
            self.neck = nn.Sequential(nn.Linear(c, cfg.embed_dim), nn.BatchNorm1d(cfg.embed_dim), nn.ReLU(inplace=True))
            self.feat_dim = cfg.embed_dim
            self.classifier = Classifier(cfg.embed_dim, num_classes, bias=True)
        else:
            self.neck = BNNeck(c)
            self.feat_dim = c
            self.classifier = Classifier(c, num_classes, bias=False)
        self.center_loss = CenterLoss(num_classes, self._metric_dim()) if cfg.center_weight > 0 else None

    def _metric_dim(self) -> int:
        return self.cfg.embed_dim if self.cfg.neck == "embedding" else self.feature_channels

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        fmap = self.backbone(images)                      # (N, C, h, w)
        pooled = self.pool(fmap)                          # (N, C)
        neck = self.neck(pooled)                          # (N, feat_dim)
        if not self.training:
            return neck
        metric = neck if self.cfg.neck == "embedding" else pooled
        wants_metric = self.loss_cfg.triplet_weight or self.center_loss is not None
        return ModelOutput(logits=[self.classifier(neck)], features=[metric] if wants_metric else [],
                           embedding=neck, aux={"feature_map": fmap})

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.loss_cfg
        losses: dict[str, torch.Tensor] = {}
        if out.logits and cfg.id_weight:
            losses["id"] = cfg.id_weight * self.id_loss(out.logits[0], batch.labels)
        if out.features and cfg.triplet_weight:
            losses["triplet"] = cfg.triplet_weight * self.triplet_loss(out.features[0], batch.labels)
        if self.center_loss is not None:
            losses["center"] = self.cfg.center_weight * self.center_loss(out.features[0], batch.labels)
        return losses

    def inference_modules(self) -> set[str]:
        return {"backbone", "pool", "neck"}


@register_model("globalpool", GlobalPoolConfig)
def build_globalpool(cfg: GlobalPoolConfig, num_classes: int) -> GlobalPool:
    """GlobalPool: PAL's GP (GMP, Em512, CE) or BoT's BNNeck baseline (``BOT_PRESET``)."""
    return GlobalPool(cfg, num_classes)


__all__ = ["BOT_PRESET", "GlobalPoolConfig", "GlobalPool", "build_globalpool"]
