"""PLR-OSNet (Xie et al., "Learning Diverse Features with Part-Level Resolution for Person
Re-Identification", arXiv 2001.07442). Spec: ``shared/papers/plr_osnet.md``.

Topology (spec §2.3; shapes for x1.0 at 256x128)::

    shared: conv1 -> maxpool -> conv2(+transition) -> ATT(256) -> conv3(+transition) -> ATT(384)
            -> T (384x16x8)
    local : conv4_L -> conv5_L -> F_L (512x16x8) -> 4 horizontal stripes, avg-pooled -> g (2048)
            train: triplet + center on g; BN1d(2048)(g) -> Linear(2048, N) -> CE  (one ID loss)
    global: conv4_G -> conv5_G -> F_G -> global max pool -> fc2 Linear(512, 512) -> h (512)
            train: triplet + center on h; BN1d(512)(h) -> Linear(512, N) -> CE
    test  : concat(L2norm(BN(g)), L2norm(BN(h)))  -> 2560-d, norm sqrt(2)

conv4/conv5 are duplicated: the local branch takes the backbone's own stages, the global
branch a deep copy, so both start from the same (pretrained) weights. ``ATT(c)`` is SAM
then CAM (§2.4). Parameter inventory (§2.5, PLR-M1): 3,324,926 unique parameters without
the classifiers; 3,362,136 with torchreid's counter (the paper's "3.4M", see
:func:`partreid_core.models.complexity.torchreid_complexity`).

Losses (§3, code): per branch label-smoothed CE (eps 0.1), soft-margin batch-hard
triplet and a center loss weighted 5e-4, each loss type averaged over the two branches::

    L = 1/2 (CE_L + CE_G) + 1/2 (Tri_L + Tri_G) + 5e-4 * 1/2 (Cen_L + Cen_G)

The ½ is ``LossConfig.reduce_terms = "mean"``; ``"sum"`` gives the plain sum of Eq. (6).

Ablations of the paper (§2.6) are config fields of :class:`PLROSNetConfig`:

* PLR-T4 "no global features": ``global_branch=False`` (2048-d test feature);
  ``local_branch=False`` is the symmetric global-only model (512-d; not in the paper);
* PLR-T5 "multiple ID loss": ``id_loss="multiple"`` (per-part BN1d + Linear; the local CE
  is the mean of the part CEs, ``multiple_id_reduce="sum"`` for Eq. (1)'s sum);
* PLR-T6 "no attention": ``attention=False``;
* PLR-T7 "hard margin": ``loss.triplet_margin=0.3`` (``None`` = soft margin, the default).

Choices where the paper is silent (spec §9), taken from the authors' code: fc2 after GMP
(ambiguity 1), BN-neck-style heads with learnable BN bias and pre-BN features for
triplet/center (2), per-branch L2 norm at test (3), SAM without value conv, gamma = 0,
BN after gamma (4), pixel-wise SE as CAM (5), fixed random centers (8; ``center_learnable``
switches to Wen et al.'s learnable centers). Stripes are pooled with
:func:`~partreid_core.models.parts.horizontal_stripes` (adaptive bins): identical to the
code's ``H // 4`` slices whenever ``H`` is divisible by ``num_parts`` (16 rows at 256x128,
8 at 128x64, 4 at 64x32).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError
from ..data.types import Batch
from ..losses.center import CenterLoss
from .backbones import BackboneConfig, build_backbone, clone
from .backbones.osnet import OSNet
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .parts import GeneralizedPool, horizontal_stripes
from .registry import register_model


def _init_linear(m: nn.Module) -> None:
    """OSNet/PLR init of new 1-d layers: Linear N(0, 0.01) with zero bias, BN1d (1, 0)."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.01)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm1d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class SpatialAttention(nn.Module):
    """SAM: position attention without value conv (ABD-Net's PAM variant, spec §2.4).

    (N, C, H, W) -> (N, C, H, W): ``BN(gamma * o) + x`` with ``o_i = sum_j x_j A_ij``,
    ``A = softmax_j(q_i . k_j)``, q and k 1x1 convs C -> C/8 with bias, gamma a scalar
    initialised to 0. BN after the gamma scaling is the authors' order (kept as written).
    Convs keep PyTorch's default init, as in the code.
    """

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.query_conv = nn.Conv2d(channels, hidden, 1)
        self.key_conv = nn.Conv2d(channels, hidden, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query_conv(x).flatten(2).transpose(1, 2)          # (N, HW, C/8)
        k = self.key_conv(x).flatten(2)                            # (N, C/8, HW)
        attn = torch.softmax(torch.bmm(q, k), dim=-1)              # (N, HW, HW), rows sum to 1
        o = torch.bmm(x.flatten(2), attn.transpose(1, 2)).view(n, c, h, w)
        return self.bn(self.gamma * o) + x


class ChannelAttention(nn.Module):
    """CAM: pixel-wise squeeze-and-excitation (SE without the global pool, spec §2.4).

    (N, C, H, W) -> (N, C, H, W): ``x * sigmoid(fc2(relu(fc1(x))))`` with 1x1 convs
    C -> C/16 -> C (with bias); every position gets its own channel gate. Not residual.
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(self.relu(self.fc1(x))))


class SpatialChannelAttention(nn.Sequential):
    """``ATT(c)``: SAM then CAM. (N, C, H, W) -> (N, C, H, W). 25,425 params at C=256, 56,569 at 384."""

    def __init__(self, channels: int):
        super().__init__()
        self.sam = SpatialAttention(channels)
        self.cam = ChannelAttention(channels)


@dataclass
class PLROSNetConfig:
    """PLR-OSNet settings; defaults are the paper's full model (with the code's choices, spec §9)."""

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(name="osnet_x1_0"))
    #: soft-margin triplet, eps-0.1 label smoothing, each loss averaged over the branches (spec §3)
    loss: LossConfig = field(default_factory=lambda: LossConfig(
        id_weight=1.0, label_smoothing=0.1, triplet_weight=1.0, triplet_margin=None, reduce_terms="mean"))
    #: number of horizontal stripes of the local branch (4 in the paper; other values are an extension)
    num_parts: int = 4
    #: PLR-T4: False trains the local branch alone (2048-d test feature)
    global_branch: bool = True
    #: False trains the global branch alone (512-d; not a paper variant)
    local_branch: bool = True
    #: PLR-T5: "single" (one ID loss on the concatenated stripes) or "multiple" (one per stripe)
    id_loss: str = "single"
    #: how the per-stripe CEs of id_loss="multiple" combine: "mean" (torchreid code) or "sum" (Eq. 1)
    multiple_id_reduce: str = "mean"
    #: PLR-T6: SAM + CAM after conv2 and conv3
    attention: bool = True
    #: pooling of the global branch: "max" (paper, GMP) or "avg" (extension)
    global_pool: str = "max"
    #: center-loss weight gamma_c (applied to the branch mean of the two center losses)
    center_weight: float = 5e-4
    #: False: fixed random centers (authors' code); True: learnable centers (Wen et al.)
    center_learnable: bool = False
    #: seed of the random centers (local branch uses it, global branch seed + 1)
    center_seed: int = 1


def _check_config(cfg: PLROSNetConfig) -> None:
    where = "plr_osnet config"
    if not cfg.backbone.name.startswith("osnet"):
        raise ConfigError(
            f"{where}: backbone.name must be an OSNet variant (osnet_x1_0 ...), got {cfg.backbone.name!r}")
    if not (cfg.global_branch or cfg.local_branch):
        raise ConfigError(f"{where}: global_branch and local_branch cannot both be False")
    if cfg.id_loss not in ("single", "multiple"):
        raise ConfigError(f"{where}: id_loss must be 'single' or 'multiple', got {cfg.id_loss!r}")
    if cfg.multiple_id_reduce not in ("mean", "sum"):
        raise ConfigError(f"{where}: multiple_id_reduce must be 'mean' or 'sum', got {cfg.multiple_id_reduce!r}")
    if cfg.global_pool not in ("max", "avg"):
        raise ConfigError(f"{where}: global_pool must be 'max' or 'avg', got {cfg.global_pool!r}")
    if cfg.num_parts < 1:
        raise ConfigError(f"{where}: num_parts must be >= 1, got {cfg.num_parts}")


class PLROSNet(ReidModel):
    """PLR-OSNet. Eval: images (N, 3, H, W) -> (N, feat_dim), feat_dim = P*C + C (2560 at x1.0).

    Training output (:class:`ModelOutput`):
        logits: local first ([(N, K)] single or P x [(N, K)] multiple), then global [(N, K)].
        features: [g (N, P*C)] then [h (N, C)], pre-BN (triplet + center losses).
        embedding: the test descriptor computed in the same (training-mode) forward.
        aux: ``feature_map`` = F_L (N, C, h, w) (F_G for a global-only model),
            ``global_feature_map`` = F_G, ``shared_feature_map`` = T (N, C3, h, w),
            ``part_features`` = the P stripe vectors (N, P, C) (local branch only).
    """

    def __init__(self, cfg: PLROSNetConfig, num_classes: int):
        _check_config(cfg)
        super().__init__(cfg.loss)
        self.cfg = cfg
        self.num_classes = num_classes
        backbone = build_backbone(cfg.backbone)
        if not isinstance(backbone, OSNet):
            raise ConfigError(f"plr_osnet config: backbone {cfg.backbone.name!r} is not an OSNet")
        c2, c3, c = backbone.channels[1], backbone.channels[2], backbone.out_channels
        self.num_parts = cfg.num_parts

        # shared trunk (torchreid names for conv1..conv3, so pretrained OSNet keys still line up)
        # (registered in forward order, so module listings read top to bottom)
        self.conv1, self.maxpool = backbone.conv1, backbone.maxpool
        self.conv2 = backbone.conv2
        self.att2 = SpatialChannelAttention(c2) if cfg.attention else nn.Identity()
        self.conv3 = backbone.conv3
        self.att3 = SpatialChannelAttention(c3) if cfg.attention else nn.Identity()

        self.local_dim = cfg.num_parts * c if cfg.local_branch else 0
        self.global_dim = c if cfg.global_branch else 0
        if cfg.local_branch:
            self.local_conv4, self.local_conv5 = backbone.conv4, backbone.conv5
            if cfg.id_loss == "single":
                self.local_bn = nn.BatchNorm1d(self.local_dim)
                self.local_classifier = nn.Linear(self.local_dim, num_classes)
            else:
                self.local_bn = nn.ModuleList(nn.BatchNorm1d(c) for _ in range(cfg.num_parts))
                self.local_classifier = nn.ModuleList(nn.Linear(c, num_classes) for _ in range(cfg.num_parts))
            self.local_center = CenterLoss(num_classes, self.local_dim, cfg.center_learnable, cfg.center_seed)
        if cfg.global_branch:
            # the global copy starts from the same (pretrained) weights and then trains on its own
            self.global_conv4 = clone(backbone.conv4)
            self.global_conv5 = clone(backbone.conv5)
            self.global_pool = GeneralizedPool(cfg.global_pool)
            self.fc2 = nn.Linear(c, c)
            self.global_bn = nn.BatchNorm1d(c)
            self.global_classifier = nn.Linear(c, num_classes)
            self.global_center = CenterLoss(num_classes, c, cfg.center_learnable, cfg.center_seed + 1)
        for name in ("local_bn", "local_classifier", "fc2", "global_bn", "global_classifier"):
            if hasattr(self, name):
                getattr(self, name).apply(_init_linear)
        self.feat_dim = self.local_dim + self.global_dim

    # ------------------------------------------------------------------ forward
    def shared(self, images: torch.Tensor) -> torch.Tensor:
        """Shared trunk with attention: (N, 3, H, W) -> T (N, C3, H/16, W/16)."""
        x = self.maxpool(self.conv1(images))
        x = self.att2(self.conv2(x))
        return self.att3(self.conv3(x))

    def _local_bn(self, g: torch.Tensor) -> torch.Tensor:
        """BN of the concatenated stripes (N, P*C); per-stripe BNs for id_loss="multiple"."""
        if isinstance(self.local_bn, nn.ModuleList):
            return torch.cat([bn(p) for bn, p in zip(self.local_bn, g.chunk(self.num_parts, 1), strict=True)], 1)
        return self.local_bn(g)

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        t = self.shared(images)
        blocks: list[torch.Tensor] = []
        logits: list[torch.Tensor] = []
        features: list[torch.Tensor] = []
        aux: dict[str, torch.Tensor] = {"shared_feature_map": t}
        if self.cfg.local_branch:
            f_l = self.local_conv5(self.local_conv4(t))
            parts = horizontal_stripes(f_l, self.num_parts, "avg")            # (N, P, C)
            g = parts.flatten(1)                                                # (N, P*C)
            g_bn = self._local_bn(g)
            blocks.append(F.normalize(g_bn, dim=1))
            if self.training:
                if isinstance(self.local_classifier, nn.ModuleList):
                    parts = g_bn.chunk(self.num_parts, 1)
                    logits += [fc(p) for fc, p in zip(self.local_classifier, parts, strict=True)]
                else:
                    logits.append(self.local_classifier(g_bn))
                features.append(g)
                aux.update(feature_map=f_l, part_features=parts)
        if self.cfg.global_branch:
            f_g = self.global_conv5(self.global_conv4(t))
            h = self.fc2(self.global_pool(f_g))                                 # (N, C)
            h_bn = self.global_bn(h)
            blocks.append(F.normalize(h_bn, dim=1))
            if self.training:
                logits.append(self.global_classifier(h_bn))
                features.append(h)
                aux["global_feature_map"] = f_g
                aux.setdefault("feature_map", f_g)
        embedding = torch.cat(blocks, 1)
        if not self.training:
            return embedding
        return ModelOutput(logits=logits, features=features, embedding=embedding, aux=aux)

    # ------------------------------------------------------------------ losses
    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """``id``, ``triplet`` and ``center`` terms, each the branch mean (``reduce_terms="mean"``).

        The local ID term is the CE of the single classifier, or for id_loss="multiple" the
        mean (or sum) of the P stripe CEs; triplet and center losses act on the pre-BN g, h.
        """
        cfg, labels = self.loss_cfg, batch.labels
        n_local = 0 if not self.cfg.local_branch else (1 if self.cfg.id_loss == "single" else self.num_parts)
        ce = [self.id_loss(z, labels) for z in out.logits]
        id_terms: list[torch.Tensor] = []
        if n_local:
            local = torch.stack(ce[:n_local])
            id_terms.append(local.mean() if self.cfg.multiple_id_reduce == "mean" else local.sum())
        if self.cfg.global_branch:
            id_terms.append(ce[n_local])
        centers = [m for m in (getattr(self, "local_center", None), getattr(self, "global_center", None))
                   if m is not None]
        losses: dict[str, torch.Tensor] = {}
        if cfg.id_weight:
            losses["id"] = cfg.id_weight * self._reduce(id_terms)
        if cfg.triplet_weight:
            losses["triplet"] = cfg.triplet_weight * self._reduce([self.triplet_loss(f, labels) for f in out.features])
        if self.cfg.center_weight:
            losses["center"] = self.cfg.center_weight * self._reduce(
                [c(f, labels) for c, f in zip(centers, out.features, strict=True)])
        return losses

    def inference_modules(self) -> set[str]:
        """Children used by the eval forward: everything but the classifiers and center losses."""
        train_only = {"local_classifier", "global_classifier", "local_center", "global_center"}
        return {name for name, _ in self.named_children() if name not in train_only}


@register_model("plr_osnet", config=PLROSNetConfig)
def build_plr_osnet(cfg: PLROSNetConfig, num_classes: int) -> PLROSNet:
    """PLR-OSNet: OSNet trunk + SAM/CAM, GMP global branch and 4-stripe single-ID-loss local branch (2560-d)."""
    return PLROSNet(cfg, num_classes)


__all__ = ["PLROSNet", "PLROSNetConfig", "SpatialAttention", "ChannelAttention",
           "SpatialChannelAttention", "build_plr_osnet"]
