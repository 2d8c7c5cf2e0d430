"""The OSNet re-ID baseline (Zhou et al., ICCV 2019): OSNet + torchreid's standard head.

The baseline PLR-OSNet is compared with (spec ``plr_osnet.md`` §2.2 / §2.6; PLR-T1..T3,
PLR-F5)::

    backbone (N, C, h, w) -> global avg pool -> fc: Linear(C, 512) -> BN1d -> ReLU -> v (512)
    train: classifier Linear(512, N_id)(v) -> label-smoothed CE; soft triplet + center on v
    test : v (512-d, not normalised; torchreid returns it as is)

At x1.0 the eval graph has 2,169,508 unique parameters (backbone 1,905,828 + head 263,680);
torchreid's counter reports 2,193,616 params / 978,878,352 multiply-adds at 256x128, the
OSNet paper's "2.2M / 978.9M" (PLR-M1). Module names are torchreid's (``fc.0``, ``fc.1``,
``classifier``), so a torchreid re-ID checkpoint's keys match under the ``backbone.`` prefix
for the trunk.

With ``backbone.pretrained`` the trunk gets torchreid's ImageNet weights; the ImageNet
checkpoint's own 512-d ``fc`` is not loaded (the shared loader drops ``fc.*``), so the head
starts from the N(0, 0.01) init, unlike torchreid, which copies that fc too.

Loss: the OSNet paper trains with softmax only; PLR-F5 needs an OSNet "trained with the same
recipe" as PLR-OSNet (spec §2.6), so the defaults are PLR's: label smoothing 0.1, soft-margin
triplet on v, center loss weight 5e-4 on v. ``loss.triplet_weight=0, center_weight=0``
gives the OSNet paper's softmax-only recipe.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import ConfigError
from ..data.types import Batch
from ..losses.center import CenterLoss
from .backbones import BackboneConfig, build_backbone
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .plr_osnet import _init_linear
from .registry import register_model


@dataclass
class OSNetReidConfig:
    """OSNet baseline settings (defaults: OSNet x1.0, the PLR-OSNet recipe's losses)."""

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(name="osnet_x1_0"))
    loss: LossConfig = field(default_factory=lambda: LossConfig(
        id_weight=1.0, label_smoothing=0.1, triplet_weight=1.0, triplet_margin=None, reduce_terms="sum"))
    #: width of the fc embedding (torchreid uses 512 at every OSNet width)
    feature_dim: int = 512
    center_weight: float = 5e-4
    center_learnable: bool = False
    center_seed: int = 1
    #: put ``fc`` in the "backbone" parameter group, so ``train.freeze_backbone_epochs`` freezes it too and
    #: only the classifier trains (torchreid's ``fixbase_epoch`` with ``open_layers=["classifier"]``, PAL
    #: §4.2). Off: ``fc`` is a head layer (and trains in those epochs), as every cpu record was trained.
    fc_in_backbone_group: bool = False


class OSNetReid(ReidModel):
    """OSNet + GAP + fc(512) head. Eval: (N, 3, H, W) -> v (N, feature_dim).

    Training output: logits ``[(N, K)]``, features ``[v]``, embedding ``v``,
    aux ``feature_map`` = the conv5 map (N, C, h, w). No stripes, so no ``part_features``.
    """

    def __init__(self, cfg: OSNetReidConfig, num_classes: int):
        if cfg.feature_dim < 1:
            raise ConfigError(f"osnet config: feature_dim must be >= 1, got {cfg.feature_dim}")
        super().__init__(cfg.loss)
        self.cfg = cfg
        self.backbone = build_backbone(cfg.backbone)
        c = self.backbone.out_channels
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(c, cfg.feature_dim), nn.BatchNorm1d(cfg.feature_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(cfg.feature_dim, num_classes)
        self.center = CenterLoss(num_classes, cfg.feature_dim, cfg.center_learnable, cfg.center_seed)
        self.fc.apply(_init_linear)
        self.classifier.apply(_init_linear)
        self.feat_dim = cfg.feature_dim

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        fmap = self.backbone(images)
        v = self.fc(self.global_avgpool(fmap).flatten(1))
        if not self.training:
            return v
        return ModelOutput(logits=[self.classifier(v)], features=[v], embedding=v, aux={"feature_map": fmap})

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """The shared ``id`` + ``triplet`` terms plus ``center`` (weight ``center_weight``) on v."""
        losses = super().compute_losses(out, batch)
        if self.cfg.center_weight:
            losses["center"] = self.cfg.center_weight * self.center(out.features[0], batch.labels)
        return losses

    def inference_modules(self) -> set[str]:
        return {"backbone", "global_avgpool", "fc"}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """"backbone" (the trunk, plus ``fc`` when ``fc_in_backbone_group``) and "head" (the rest)."""
        to_backbone = {id(p) for p in self.backbone.parameters()}
        if self.cfg.fc_in_backbone_group:
            to_backbone |= {id(p) for p in self.fc.parameters()}
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
        for p in self.parameters():
            groups["backbone" if id(p) in to_backbone else "head"].append(p)
        return groups


@register_model("osnet", config=OSNetReidConfig)
def build_osnet_reid(cfg: OSNetReidConfig, num_classes: int) -> OSNetReid:
    """OSNet baseline: OSNet x1.0 + GAP + fc 512 (BN, ReLU), 512-d test feature (torchreid head)."""
    return OSNetReid(cfg, num_classes)


__all__ = ["OSNetReid", "OSNetReidConfig", "build_osnet_reid"]
