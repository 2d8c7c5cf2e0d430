"""MGN — Multiple Granularity Network (Wang et al., ACM MM 2018), as used in PAL.

Spec: ``pal.md`` §2.6 (PAL Fig. 8 / PAL-F8), losses §3.4; the original MGN as described in
``cgpn.md`` §2.7 and ``rmgl.md`` §2.9 is reachable through config switches.

    trunk  = stem, layer1, layer2, layer3.0         (shared; "up to res_conv4_1")
    branch k = own copy of layer3.1.. and layer4    (k = 1, 2, 3; every branch stride 1 in PAL)
    branch 1: GMP -> z_g1
    branch 2: GMP -> z_g2, 2 stripes -> z_21, z_22
    branch 3: GMP -> z_g3, 3 stripes -> z_31, z_32, z_33

Heads (PAL defaults, the authors' PAL-MGN code [C]):

* global ID path (x3): z_gk (C) -> Em2048 = Linear(C, C) - BN - ReLU -> FC -> CE;
* global triplet/test path (x3): z_gk -> Em256 reduction (Linear(C, 256) - BN - ReLU) ->
  FC256 = Linear(256, 256) (no BN, no ReLU) -> f_gk: triplet loss and test;
* stripe path (x5): stripe vector -> Em256 -> FC -> CE; the Em256 output is the test part.

Test feature (N, 2048): ``[B1G, B2G, B3G, B2S1, B2S2, B3S1, B3S2, B3S3]``, 8 x 256 (the index
order of PAL-F13(b)). Losses: mean of the 8 CEs (no smoothing) and mean of the 3 batch-hard
triplets with margin 0.1 (``LossConfig.reduce_terms="mean"``). The alternating two-optimiser
update of §4.4 is the engine's business: ``compute_losses`` returns ``"id"`` and ``"triplet"``
separately.

Original MGN (Wang et al.): ``global_stride=2``, ``global_id_head="reduced"`` (CE on the 256-d
reduced features), ``triplet_fc=False``, ``loss.triplet_margin=1.2``, ``loss.reduce_terms="sum"``
(see :data:`ORIGINAL_MGN_PRESET`).

``C`` is the backbone's ``out_channels`` (2048 for ResNet-50, 512 at width 0.25); the 256-d
reductions stay 256 at every width, so the test feature is 2048-d in every profile.
The branches are exposed as ``branch1..branch3``, each with ``layer3`` and ``layer4`` children
(PAL-F10's Grad-CAM target is ``branch2.layer4``).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from .backbones import BackboneConfig, build_backbone, clone, set_block_stride, split_blocks
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .parts import Classifier, GeneralizedPool, Reduction, horizontal_stripes
from .registry import register_model

#: Overrides for the original MGN (stride-2 global branch, CE on the 256-d reductions, margin 1.2, sums).
ORIGINAL_MGN_PRESET: dict = {
    "global_stride": 2,
    "global_id_head": "reduced",
    "triplet_fc": False,
    "loss": {"triplet_margin": 1.2, "reduce_terms": "sum"},
}


@dataclass
class MGNConfig:
    """MGN settings; defaults are PAL's MGN (§2.6, §3.4)."""

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(last_stride=1))
    #: First block owned by the branches; everything before it is the shared trunk.
    split_block: str = "layer3.1"
    #: Stripes per branch; 1 = a global-only branch. (1, 2, 3) gives MGN's 8 features.
    stripes: tuple[int, ...] = (1, 2, 3)
    #: layer4 stride of the global-only branch(es): 1 in PAL (§9 #21), 2 in the original MGN.
    global_stride: int = 1
    #: "max" (MGN, PAL) or "avg".
    pool: str = "max"
    reduce_dim: int = 256
    #: "em2048": global CE on Linear(C, C)-BN-ReLU of the raw pooled vector (PAL code);
    #: "reduced": global CE on the 256-d reduction (original MGN / CGPN's choice).
    global_id_head: str = "em2048"
    #: PAL's FC256 (Linear 256->256) after each global reduction; its output is the triplet/test feature.
    triplet_fc: bool = True
    #: PAL: mean of 8 CE and mean of 3 triplets (margin 0.1), no label smoothing.
    loss: LossConfig = field(default_factory=lambda: LossConfig(label_smoothing=0.0, triplet_margin=0.1,
                                                                reduce_terms="mean"))


def _init_bn(m: nn.Module) -> None:
    """PAL-MGN code: BN weight ~ N(1, 0.02), bias 0."""
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _reduction(c_in: int, c_out: int) -> Reduction:
    """Em256: Linear(c_in, c_out, no bias) - BN - ReLU, Kaiming fan_in (the code's 1x1 conv, §9 #19)."""
    r = Reduction(c_in, c_out, relu=True)
    nn.init.kaiming_normal_(r.body[0].weight, mode="fan_in")
    r.apply(_init_bn)
    return r


def _em_global(c: int) -> Reduction:
    """Em2048: Linear(C, C) - BN - ReLU, weight N(0, 0.001)."""
    r = Reduction(c, c, relu=True)
    nn.init.normal_(r.body[0].weight, std=0.001)
    r.apply(_init_bn)
    return r


def _fc256(d: int) -> nn.Linear:
    fc = nn.Linear(d, d)
    nn.init.normal_(fc.weight, std=0.01)
    nn.init.zeros_(fc.bias)
    return fc


class MGNBranch(nn.Module):
    """One branch: its own ``layer3`` tail and ``layer4``; (N, C3, h, w) -> (N, C, h', w')."""

    def __init__(self, tail: list[tuple[str, nn.Module]]):
        super().__init__()
        groups: OrderedDict[str, list[nn.Module]] = OrderedDict()
        for name, block in tail:
            groups.setdefault(name.split(".")[0], []).append(clone(block))
        for stage, blocks in groups.items():
            self.add_module(stage, nn.Sequential(*blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.children():
            x = stage(x)
        return x


class MGN(ReidModel):
    """Training forward: ``ModelOutput`` with 8 logits (3 global, then 5 stripes), 3 triplet
    features (N, 256), ``embedding`` (N, 2048), ``aux["feature_maps"]`` = the 3 branch Conv5
    maps (PAL's shared PS head reads each of them), ``aux["feature_map"]`` = branch 1's map,
    ``aux["part_features"]`` (N, 5, C): the max-pooled Conv5 stripe vectors before Em256 (B2S1,
    B2S2, B3S1, B3S2, B3S3) and ``aux["part_embeddings"]`` (N, 5, 256). Eval forward: (N, 2048).
    """

    def __init__(self, cfg: MGNConfig, num_classes: int):
        super().__init__(cfg.loss)
        if not cfg.stripes or any(s < 1 for s in cfg.stripes):
            raise ValueError(f"MGNConfig.stripes must be positive stripe counts, got {cfg.stripes}")
        if cfg.global_id_head not in ("em2048", "reduced"):
            raise ValueError(f"MGNConfig.global_id_head must be 'em2048' or 'reduced', got {cfg.global_id_head!r}")
        self.cfg = cfg
        backbone = build_backbone(cfg.backbone)
        if not hasattr(backbone, "blocks") or cfg.backbone.name != "resnet50":
            raise ValueError(f"MGN needs a ResNet backbone (bottleneck blocks), got {cfg.backbone.name!r}")
        blocks = backbone.blocks()
        self.trunk, _ = split_blocks(blocks, cfg.split_block)
        tail = blocks[[n for n, _ in blocks].index(cfg.split_block):]
        self.feature_channels = c = backbone.out_channels
        self.branches = nn.ModuleList()
        for s in cfg.stripes:
            branch = MGNBranch(tail)
            # every branch is stride 1 in PAL; the backbone's own last_stride is overridden here
            set_block_stride(branch.layer4[0], cfg.global_stride if s == 1 else 1)
            self.branches.append(branch)
        self.pool = GeneralizedPool(cfg.pool)
        d = cfg.reduce_dim
        nb, n_parts = len(cfg.stripes), sum(s for s in cfg.stripes if s > 1)
        self.global_reductions = nn.ModuleList(_reduction(c, d) for _ in range(nb))
        self.global_fcs = nn.ModuleList(_fc256(d) for _ in range(nb)) if cfg.triplet_fc else None
        id_dim = c if cfg.global_id_head == "em2048" else d
        self.global_embeddings = (nn.ModuleList(_em_global(c) for _ in range(nb))
                                  if cfg.global_id_head == "em2048" else None)
        self.global_classifiers = nn.ModuleList(Classifier(id_dim, num_classes, bias=True) for _ in range(nb))
        self.part_reductions = nn.ModuleList(_reduction(c, d) for _ in range(n_parts))
        self.part_classifiers = nn.ModuleList(Classifier(d, num_classes, bias=True) for _ in range(n_parts))
        self.feat_dim = (nb + n_parts) * d

    # Grad-CAM and the docs address branches as branch1..branchK (PAL-F10: branch2.layer4)
    def __getattr__(self, name: str):
        if name.startswith("branch") and name[6:].isdigit():
            return self._modules["branches"][int(name[6:]) - 1]
        return super().__getattr__(name)

    def branch_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) -> one Conv5 map (N, C, h, w) per branch."""
        x = self.trunk(images)
        return [b(x) for b in self.branches]

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        maps = self.branch_maps(images)
        pooled = [self.pool(m) for m in maps]                                   # K x (N, C)
        g_feats = [r(z) for r, z in zip(self.global_reductions, pooled, strict=True)]        # K x (N, d)
        if self.global_fcs is not None:
            g_feats = [fc(f) for fc, f in zip(self.global_fcs, g_feats, strict=True)]
        stripes = [horizontal_stripes(m, s, self.cfg.pool)
                   for m, s in zip(maps, self.cfg.stripes, strict=True) if s > 1]
        parts = torch.cat(stripes, 1) if stripes else maps[0].new_zeros(maps[0].shape[0], 0, maps[0].shape[1])
        p_feats = [r(parts[:, i]) for i, r in enumerate(self.part_reductions)]  # P x (N, d)
        desc = torch.cat(g_feats + p_feats, 1)
        if not self.training:
            return desc
        g_id = ([e(z) for e, z in zip(self.global_embeddings, pooled, strict=True)]
                if self.global_embeddings is not None
                else g_feats)
        logits = ([cls(f) for cls, f in zip(self.global_classifiers, g_id, strict=True)]
                  + [cls(f) for cls, f in zip(self.part_classifiers, p_feats, strict=True)])
        aux = {"feature_map": maps[0], "feature_maps": maps, "part_features": parts}
        if p_feats:
            aux["part_embeddings"] = torch.stack(p_feats, 1)
        return ModelOutput(logits=logits, features=g_feats, embedding=desc, aux=aux)

    def inference_modules(self) -> set[str]:
        names = {"trunk", "branches", "pool", "global_reductions", "part_reductions"}
        return names | ({"global_fcs"} if self.global_fcs is not None else set())


@register_model("mgn", MGNConfig)
def build_mgn(cfg: MGNConfig, num_classes: int) -> MGN:
    """MGN (PAL's version): 3 branches, 8 features, 2048-d test feature."""
    return MGN(cfg, num_classes)


__all__ = ["MGNConfig", "MGN", "MGNBranch", "ORIGINAL_MGN_PRESET", "build_mgn"]
