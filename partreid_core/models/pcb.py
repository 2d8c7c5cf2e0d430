"""PCB as used in PAL (spec ``pal.md`` §2.5, PAL Fig. 5 / PAL-F5).

Differs from Sun et al.'s original: **max** pooling inside each stripe, Em256 embeddings
(Linear - BN1d - ReLU) instead of 1x1 conv + BN + ReLU, and no RPP.

    Conv5 (N, C, h, w) -> 6 horizontal stripes -> local max pool -> 6 x (N, C)
        -> 6 independent Em256 -> 6 x (N, 256)  --+--> 6 independent FC -> 6 CE (summed, §3.3)
                                                  +--> concat -> test feature (N, 1536)

At test time each 256-d part is L2-normalised before the concatenation (authors' code [C];
``normalize_parts``), so the cosine distance of the evaluation weighs every stripe equally.
With a 128x64 input Conv5 has 8 rows; the stripes are adaptive bins of 1-2 rows (they overlap
when the height is not a multiple of 6, as ``adaptive_max_pool2d`` defines).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import BackboneConfig, build_backbone
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .parts import Classifier, Reduction, horizontal_stripes
from .registry import register_model


@dataclass
class PCBConfig:
    """PCB settings; defaults are PAL's PCB (§2.5, §4.3)."""

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(last_stride=1))
    num_stripes: int = 6
    #: "max" (PAL) or "avg" (Sun et al.).
    pool: str = "max"
    #: Em256 width, kept at the paper's 256 at any backbone width.
    embed_dim: int = 256
    #: L2-normalise each part embedding before concatenating the test feature (PAL/EANet code).
    normalize_parts: bool = True
    #: Sum of the 6 CEs, no label smoothing, no triplet (§3.3).
    loss: LossConfig = field(default_factory=lambda: LossConfig(label_smoothing=0.0, triplet_weight=0.0,
                                                                reduce_terms="sum"))


class PCB(ReidModel):
    """Training forward: ``ModelOutput`` with ``num_stripes`` logits, ``embedding`` (N, 1536),
    ``aux["feature_map"]`` (N, C, h, w), ``aux["part_features"]`` (N, 6, C): the max-pooled
    Conv5 stripes *before* Em256 (what PAL-F9's part-similarity matrix is computed from), and
    ``aux["part_embeddings"]`` (N, 6, 256). ``features`` holds the concatenated embedding only
    when a triplet loss is configured. Eval forward: (N, num_stripes * embed_dim).
    """

    def __init__(self, cfg: PCBConfig, num_classes: int):
        super().__init__(cfg.loss)
        if cfg.num_stripes < 1:
            raise ValueError(f"PCBConfig.num_stripes must be >= 1, got {cfg.num_stripes}")
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone)
        self.feature_channels = c = self.backbone.out_channels
        self.embeddings = nn.ModuleList(Reduction(c, cfg.embed_dim, relu=True) for _ in range(cfg.num_stripes))
        self.classifiers = nn.ModuleList(Classifier(cfg.embed_dim, num_classes, bias=True)
                                         for _ in range(cfg.num_stripes))
        self.feat_dim = cfg.num_stripes * cfg.embed_dim

    def descriptor(self, part_embeddings: torch.Tensor) -> torch.Tensor:
        """(N, P, d) part embeddings -> (N, P*d) test feature (per-part L2 if configured)."""
        if self.cfg.normalize_parts:
            part_embeddings = F.normalize(part_embeddings, dim=2)
        return part_embeddings.flatten(1)

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        fmap = self.backbone(images)                                       # (N, C, h, w)
        parts = horizontal_stripes(fmap, self.cfg.num_stripes, self.cfg.pool)  # (N, P, C)
        emb = torch.stack([e(parts[:, i]) for i, e in enumerate(self.embeddings)], 1)  # (N, P, d)
        desc = self.descriptor(emb)
        if not self.training:
            return desc
        logits = [cls(emb[:, i]) for i, cls in enumerate(self.classifiers)]
        feats = [emb.flatten(1)] if self.loss_cfg.triplet_weight else []
        return ModelOutput(logits=logits, features=feats, embedding=desc,
                           aux={"feature_map": fmap, "part_features": parts, "part_embeddings": emb})

    def inference_modules(self) -> set[str]:
        return {"backbone", "embeddings"}


@register_model("pcb", PCBConfig)
def build_pcb(cfg: PCBConfig, num_classes: int) -> PCB:
    """PCB (PAL's version): 6 max-pooled stripes, Em256 + FC per stripe, 1536-d test feature."""
    return PCB(cfg, num_classes)


__all__ = ["PCBConfig", "PCB", "build_pcb"]
