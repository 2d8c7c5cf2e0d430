"""CGPN: coarse granularity part-level features + supervised global-level features (Mao et al.).

Spec ``papers/cgpn.md`` (§2, §3; reference sketch §2.8). No official code; choices are
marked with the spec's §9 ambiguity number.

Architecture (CGPN-F2)::

    image -> shared trunk (stem, layer1, layer2, layer3[0] = res_conv4_1)                    (MGN split)
    3 branches, each an own copy of layer3[1:] + layer4 (last stride 1, §9 #1) -> T_i (N, C, h, w)
      global part:  two 1x1 convs C->C on T_i (bias, no BN/ReLU, §9 #2), each followed by GMP -> f_g1, f_g2
                    training targets: GMP of the upper / lower half of T_i -> f_gl1, f_gl2 (§9 #3)
                    global feature f_g = [f_g1, f_g2] (2C-d) -> Reduction 2C->256 (+BN+ReLU, §9 #7)
      local part:   T_i cut into N_i = 2, 3, 4 stripes; GMP over every window of k adjacent stripes with
                    1/2 <= k/N_i < 1 (coarse: 2 + 2 + 5 windows, CGPN-F3) -> Reduction C->256 each
    test descriptor: 3 global + 9 local 256-d features = 12 x 256 = 3072 (§2.5).

Losses (§3, Eq. 4): L = sum of 12 CE (no label smoothing) + sum of batch-hard triplets (margin 1.2)
+ MSE(f_g1, f_gl1) + MSE(f_g2, f_gl2) summed over branches (``"mse"``).

The paper contradicts itself on the triplet placement (§3.2): paragraph 1 and the ablation
descriptions put a triplet on the local features too, paragraph 2 on the global features only.
Default ``local_triplet=True`` (triplet on all 12 reduced features, the spec's reading);
``local_triplet=False`` is the MGN-style reading (3 global features). CGPN-3 (no global part)
keeps triplets on its local features either way (the paper says so for that variant).

Ablations (CGPN-T2, §2.7): CGPN-1 ``local_parts="none"``; CGPN-2 ``local_parts="fine"``;
CGPN-3 ``global_part="none"``; CGPN-4 ``global_part="unsupervised"`` (two-conv head kept, MSE
dropped, §9 #23); extension CGPN-4b ``global_part="plain"`` (GMP(T) -> C -> 256, not in the paper).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.types import Batch
from .backbones import BackboneConfig, build_backbone, clone, split_blocks
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .parts import Classifier, Reduction, init_kaiming
from .registry import register_model

GLOBAL_PARTS = ("supervised", "unsupervised", "none", "plain")
LOCAL_PARTS = ("coarse", "fine", "none")


def _cgpn_loss() -> LossConfig:
    # cgpn.md §3: margin 1.2, no label smoothing, all weights 1, per-feature terms summed (§9 #10)
    return LossConfig(id_weight=1.0, label_smoothing=0.0, triplet_weight=1.0, triplet_margin=1.2, reduce_terms="sum")


@dataclass
class CGPNConfig:
    """CGPN settings; defaults are the paper's model (CGPN-T2 row "CGPN")."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)  # ResNet-50, last stride 1 (§9 #1)
    loss: LossConfig = field(default_factory=_cgpn_loss)
    #: stripe count N of each branch
    stripes: tuple[int, ...] = (2, 3, 4)
    #: first block of each branch (after res_conv4_1, as MGN)
    branch_block: str = "layer3.1"
    #: "coarse" (paper), "fine" (CGPN-2: single stripes), "none" (CGPN-1)
    local_parts: str = "coarse"
    #: smallest window height fraction of a coarse window (1/2 in the paper; a §8 extension sweep)
    min_frac: float = 0.5
    #: "supervised" (paper), "unsupervised" (CGPN-4), "none" (CGPN-3), "plain" (CGPN-4b extension)
    global_part: str = "supervised"
    #: triplet on the local features too (§3.2 paragraph 1; the spec's default) or on globals only
    local_triplet: bool = True
    #: weight of the MSE term (Eq. 4: 1)
    mse_weight: float = 1.0
    #: "mean": F.mse_loss per pair (mean over batch and channels, §9 #5); "sum_channels": Eq. 3 literally
    mse_reduction: str = "mean"
    #: stop the gradient through the half-map targets (distillation reading, §9 #6); the paper: no
    mse_detach_target: bool = False
    #: BN + ReLU after each global 1x1 conv (§9 #2 option)
    gconv_bn_relu: bool = False
    #: classify the global feature "reduced" (256-d, default) or "raw" (2C-d, MGN-paper style, §9 #8)
    global_ce_on: str = "reduced"
    reduce_dim: int = 256
    #: ReLU after the reduction BN (MGN's Conv-BN-ReLU, §2.4)
    reduction_relu: bool = True

    def __post_init__(self) -> None:
        for key, allowed in (("local_parts", LOCAL_PARTS), ("global_part", GLOBAL_PARTS),
                             ("mse_reduction", ("mean", "sum_channels")), ("global_ce_on", ("reduced", "raw"))):
            if getattr(self, key) not in allowed:
                raise ValueError(f"CGPNConfig.{key}: expected one of {allowed}, got {getattr(self, key)!r}")
        if not self.stripes or any(int(n) < 1 for n in self.stripes):
            raise ValueError(f"CGPNConfig.stripes: expected stripe counts >= 1, got {self.stripes!r}")
        if self.local_parts == "none" and self.global_part == "none":
            raise ValueError("CGPNConfig: local_parts='none' and global_part='none' leave no feature")
        if not 0.0 < self.min_frac <= 1.0:
            raise ValueError(f"CGPNConfig.min_frac: expected a fraction in (0, 1], got {self.min_frac}")


def windows(n: int, min_frac: float = 0.5, fine: bool = False) -> list[tuple[int, int]]:
    """Stripe windows ``(first, end)`` of ``n`` stripes, in the paper's order (CGPN-F3 / F4).

    ``fine``: every single stripe. Coarse: every run of k adjacent stripes with
    ``min_frac <= k/n < 1``, larger windows first (the whole map is the global part's job).
    ``windows(2) = [(0,1), (1,2)]``, ``windows(3) = [(0,2), (1,3)]``,
    ``windows(4) = [(0,3), (1,4), (0,2), (1,3), (2,4)]``.
    """
    if fine:
        return [(s, s + 1) for s in range(n)]
    out = []
    for k in range(n - 1, 0, -1):
        if k / n + 1e-9 >= min_frac:
            out += [(s, s + k) for s in range(n - k + 1)]
    return out


def stripe_bounds(h: int, n: int) -> list[int]:
    """Row boundaries of ``n`` stripes of a height-``h`` map: ``round(j*h/n)`` (exact for h = 12, 24; §9 #30)."""
    if h < n:
        raise ValueError(f"CGPN: a feature map of height {h} cannot hold {n} stripes; use a taller input")
    return [round(j * h / n) for j in range(n + 1)]


def rows_gmp(t: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
    """Global max pooling over rows ``[r0, r1)``: (N, C, H, W) -> (N, C)."""
    return t[:, :, r0:r1].amax(dim=(2, 3))


class SupervisedGlobalHead(nn.Module):
    """Two 1x1 convs on the whole map, each followed by GMP (§2.2).

    Input T (N, C, h, w) -> (f_g1, f_g2), each (N, C). Training targets are the GMP of the
    upper / lower half of T (:meth:`targets`).
    """

    def __init__(self, c: int, bn_relu: bool = False):
        super().__init__()

        def conv() -> nn.Module:
            if not bn_relu:
                return nn.Conv2d(c, c, 1, bias=True)
            m = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            m.apply(init_kaiming)
            return m

        self.convs = nn.ModuleList([conv(), conv()])

    def forward(self, t: torch.Tensor) -> list[torch.Tensor]:
        return [conv(t).amax(dim=(2, 3)) for conv in self.convs]

    @staticmethod
    def targets(t: torch.Tensor) -> list[torch.Tensor]:
        hb = stripe_bounds(t.shape[2], 2)
        return [rows_gmp(t, hb[p], hb[p + 1]) for p in range(2)]


class CGPN(ReidModel):
    """Coarse-granularity part network with supervised global parts. See the module docstring.

    Training forward: :class:`ModelOutput` with 12 logits (3 global, then 9 local), the triplet
    features (12 reduced features by default), ``aux["part_features"]`` (N, 9, 256) the reduced local
    features, ``aux["feature_maps"]`` the branch maps T_i, and for the MSE term
    ``aux["global_head_features"]`` / ``aux["global_targets"]`` (N, 2·branches, C): f_g1, f_g2 of
    branch 1, then branch 2, ... and the matching upper / lower half-map GMP (present for the
    supervised and the unsupervised two-conv head, so CGPN-X2 can compare them; only the supervised
    one turns them into the ``"mse"`` term). Eval forward: (N, feat_dim).

    Heads come from :mod:`partreid_core.models.parts`: ``Reduction`` (Linear = 1x1 conv on the pooled
    vector, BN, ReLU; kaiming init) and ``Classifier`` without bias (Eq. 1), N(0, 0.001) init (one of
    the two MGN inits the spec allows, §2.4). ``feature_names`` lists the 12 features in embedding order.
    With the paper's choices the ResNet-50 model has 99,964,992 parameters for C = 751 (cgpn.md §2.6).
    """

    def __init__(self, cfg: CGPNConfig, num_classes: int):
        super().__init__(cfg.loss)
        self.cfg = cfg
        self.stripes = tuple(int(n) for n in cfg.stripes)
        backbone = build_backbone(cfg.backbone)
        if not hasattr(backbone, "blocks"):
            raise TypeError(f"CGPN needs a backbone with blocks(); {cfg.backbone.name!r} has none")
        trunk, tail = split_blocks(backbone.blocks(), cfg.branch_block)
        self.trunk = trunk
        self.branches = nn.ModuleList(clone(tail) for _ in self.stripes)
        c, d = backbone.out_channels, cfg.reduce_dim
        self.use_global = cfg.global_part != "none"
        self.use_local = cfg.local_parts != "none"
        if cfg.global_part in ("supervised", "unsupervised"):
            self.global_heads = nn.ModuleList(SupervisedGlobalHead(c, cfg.gconv_bn_relu) for _ in self.stripes)
        g_dim = c if cfg.global_part == "plain" else 2 * c
        self.windows = [windows(n, cfg.min_frac, cfg.local_parts == "fine") if self.use_local else []
                        for n in self.stripes]
        if self.use_local and not any(self.windows):
            raise ValueError(f"CGPNConfig: no local window for stripes={self.stripes} and min_frac={cfg.min_frac}")
        n_global = len(self.stripes) if self.use_global else 0
        n_local = sum(len(w) for w in self.windows)
        dims = [g_dim] * n_global + [c] * n_local
        self.reductions = nn.ModuleList(Reduction(k, d, relu=cfg.reduction_relu) for k in dims)
        cls_dims = [g_dim if (i < n_global and cfg.global_ce_on == "raw") else d for i in range(len(dims))]
        self.classifiers = nn.ModuleList(Classifier(k, num_classes, bias=False) for k in cls_dims)  # Eq. 1: no bias
        self.n_global, self.n_local = n_global, n_local
        self.feature_names = [f"N{n}[{i}]/global" for i, n in enumerate(self.stripes)][:n_global] + [
            f"N{n}[{i}]/stripes{s + 1}-{e}of{n}" for i, n in enumerate(self.stripes) for s, e in self.windows[i]]
        self.feat_dim = d * len(dims)
        self.num_classes = num_classes

    def inference_modules(self) -> set[str]:
        return {name for name, _ in self.named_children()} - {"classifiers"}

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        """images (N, 3, H, W) -> ModelOutput (training) or (N, feat_dim) (eval)."""
        cfg = self.cfg
        x = self.trunk(images)
        raw_g, raw_l, heads, targets, maps = [], [], [], [], []
        for i, (n, branch) in enumerate(zip(self.stripes, self.branches, strict=True)):
            t = branch(x)
            maps.append(t)
            if cfg.global_part == "plain":
                raw_g.append(t.amax(dim=(2, 3)))
            elif self.use_global:
                fg = self.global_heads[i](t)
                raw_g.append(torch.cat(fg, 1))
                if self.training:
                    heads += fg
                    targets += SupervisedGlobalHead.targets(t)
            if self.use_local:
                b = stripe_bounds(t.shape[2], n)
                raw_l += [rows_gmp(t, b[s], b[e]) for s, e in self.windows[i]]
        raw = raw_g + raw_l
        feats = [red(f) for red, f in zip(self.reductions, raw, strict=True)]
        embedding = torch.cat(feats, 1)
        if not self.training:
            return embedding
        cls_in = [raw[i] if (i < self.n_global and cfg.global_ce_on == "raw") else f for i, f in enumerate(feats)]
        logits = [cls(f) for cls, f in zip(self.classifiers, cls_in, strict=True)]
        g_feats, l_feats = feats[: self.n_global], feats[self.n_global:]
        triplet = g_feats + (l_feats if (cfg.local_triplet or not g_feats) else [])
        aux: dict = {"feature_maps": maps}
        if l_feats:
            aux["part_features"] = torch.stack(l_feats, 1)
        if heads:
            aux["global_head_features"] = torch.stack(heads, 1)
            aux["global_targets"] = torch.stack(targets, 1)
        return ModelOutput(logits=logits, features=triplet, embedding=embedding, aux=aux)

    def mse_loss(self, out: ModelOutput) -> torch.Tensor:
        """Eq. 3: sum over the 2·branches (head, half-map target) pairs of the chosen MSE reduction."""
        f, t = out.aux["global_head_features"], out.aux["global_targets"]  # (N, M, C)
        if self.cfg.mse_detach_target:
            t = t.detach()
        if self.cfg.mse_reduction == "mean":
            per_pair = (f.float() - t.float()).pow(2).mean(dim=(0, 2))  # = F.mse_loss of each pair
        else:
            per_pair = (f.float() - t.float()).pow(2).sum(2).mean(0)  # squared L2 norm, batch mean
        return per_pair.sum()

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """``"id"`` (12 CE, summed), ``"triplet"`` (per the placement above, summed) and ``"mse"``
        (supervised global part only; absent for CGPN-3/CGPN-4/plain)."""
        losses = super().compute_losses(out, batch)
        if self.cfg.global_part == "supervised" and self.cfg.mse_weight:
            losses["mse"] = self.cfg.mse_weight * self.mse_loss(out)
        return losses


@register_model("cgpn", config=CGPNConfig)
def build_cgpn(cfg: CGPNConfig, num_classes: int) -> CGPN:
    """CGPN (Mao et al.): 3 branches, coarse windows + MSE-supervised global parts, 3072-d."""
    return CGPN(cfg, num_classes)
