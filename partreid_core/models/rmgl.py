"""RMGL: Receptive Multi-granularity Representation (Wang et al.), spec ``papers/rmgl.md``.

No official code exists; this is the first open implementation. Every decision the paper
leaves open is written down here with the spec's ambiguity id (A1...A29).

Architecture (rmgl.md §2, RMGL-F2)::

    image (N,3,H,W) -> shared trunk (stem, layer1 = res_conv1 .. res_conv2c)      -> x_m
    for each branch K in ``stripes`` (default Local-2, Local-3), own copy of layer2..layer4 (stride 1):
      original path:  y = g(x_m)                     -> GMP(y) + K stripes of y (uniform / ABP at test)
      RP path:        x_m cut into K row shards, stacked on the batch axis, through the *same* g
                      -> K shard maps -> GMP of each (+ GMP of the re-assembled map = RP global, A3)
    every pooled C-d vector -> own Reduction (1x1 conv as Linear + BN, no ReLU, A4) -> 256-d
                            -> own classifier (A5)
    test descriptor = concat of all 256-d features: 14 x 256 = 3584 for stripes (2, 3).

Losses (rmgl.md §3, Eq. 2-4): one CE per 256-d feature (14), one batch-hard triplet per branch
on the concatenation of that branch's 256-d features (A6), margin 0.6, all weights 1, no label
smoothing (A8).

Ablation switches (RMGL-T5, RMGL-F8, RMGL-F9, rmgl.md §2.9):

* ``paths``: ``"dual"`` (original + RP, RMGL), ``"original"`` (BL; output partition, OP),
  ``"receptive"`` (only RP).
* ``rp_position``: where the RP cut is made, named as the tensor *fed into* res_x:
  ``"input"`` (IP: image stripes through the whole network), ``"res2"``, ``"res3"`` (default,
  after res_conv2c), ``"res4"``, ``"res5"``. OP in Fig. 9 is ``paths="original"`` (A20).
* ``stripes``: branches, e.g. ``(2,)``, ``(3,)``, ``(2, 3)``, ``(1, 2, 3)`` (K=1 = a "Global
  Branch" with only its original path and a single global feature, A25), ``(2, 3, 4)``;
  single-branch ``(n,)`` sweeps the partition number n (RMGL-F8).
* ``test_stripes``: ``"abp"`` (activation balanced pooling at test time, §2.6) or ``"uniform"``.
* ``branch_block``: the block each branch starts with (default ``"layer2.0"``: branches copy
  the layers after res_conv2c, A1; MGN's split would be ``"layer3.1"``).

Random shifting augmentation (RSA, §4) is a data transform of the engine, not part of the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.types import Batch
from .backbones import BackboneConfig, build_backbone, clone, split_blocks
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .parts import Classifier, GeneralizedPool, Reduction, horizontal_stripes
from .registry import register_model

#: RP cut positions (rmgl.md §0): the name of the block the cut tensor is fed into.
RP_POSITIONS: dict[str, str | None] = {
    "input": None,  # IP: the image itself
    "res2": "layer1.0",  # stem output
    "res3": "layer2.0",  # layer1 output = after res_conv2c (RMGL default)
    "res4": "layer3.0",  # layer2 output
    "res5": "layer4.0",  # layer3 output
}
PATHS = ("dual", "original", "receptive")


def _rmgl_loss() -> LossConfig:
    # rmgl.md §3/§5: margin 0.6 (Fig. 10), no label smoothing (A8), every term weight 1, summed (Eq. 4)
    return LossConfig(id_weight=1.0, label_smoothing=0.0, triplet_weight=1.0, triplet_margin=0.6, reduce_terms="sum")


@dataclass
class RMGLConfig:
    """RMGL settings; defaults are the paper's model (2+3-stripe + RP + ABP; RSA lives in the data transforms)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)  # ResNet-50, last stride 1 (A2)
    loss: LossConfig = field(default_factory=_rmgl_loss)
    #: stripe count K of each branch (RMGL-T5 rows: (2,), (3,), (2, 3), (1, 2, 3), (2, 3, 4); RMGL-F8: (n,))
    stripes: tuple[int, ...] = (2, 3)
    #: "dual" (RMGL), "original" (BL / output partition), "receptive" (only RP) — RMGL-T5
    paths: str = "dual"
    #: RP cut position: "input" (IP), "res2", "res3" (default), "res4", "res5" — RMGL-F9
    rp_position: str = "res3"
    #: first block of each branch (A1: after res_conv2c)
    branch_block: str = "layer2.0"
    #: the RP path has its own global feature, GMP of the re-assembled RP map (A3); False gives 12 features
    rp_global: bool = True
    #: pooling of every global map and stripe: "max" (GMP, paper) or "avg"
    pool: str = "max"
    #: test-time stripes of the original path: "abp" (paper) or "uniform" (RMGL-T5 rows without ABP)
    test_stripes: str = "abp"
    #: also use ABP stripes in training (A14 i: test time only by default)
    abp_train: bool = False
    #: pooling inside ABP stripes: "max" (A14 ii, default) or "avg" (Eq. 11 as printed)
    abp_pool: str = "max"
    #: reduced feature size (256 in the paper)
    reduce_dim: int = 256
    #: ReLU after the reduction BN (A4: the paper names conv + BN only)
    reduction_relu: bool = False
    #: "branch": one triplet per branch on the concat of its features (A6); "global": one per global feature (MGN style)
    triplet_on: str = "branch"

    def __post_init__(self) -> None:
        def bad(key: str, value: object, allowed: object) -> ValueError:
            return ValueError(f"RMGLConfig.{key}: expected one of {allowed}, got {value!r}")

        if self.paths not in PATHS:
            raise bad("paths", self.paths, PATHS)
        if self.rp_position not in RP_POSITIONS:
            raise bad("rp_position", self.rp_position, tuple(RP_POSITIONS))
        if self.pool not in ("max", "avg"):
            raise bad("pool", self.pool, ("max", "avg"))
        if self.abp_pool not in ("max", "avg"):
            raise bad("abp_pool", self.abp_pool, ("max", "avg"))
        if self.test_stripes not in ("abp", "uniform"):
            raise bad("test_stripes", self.test_stripes, ("abp", "uniform"))
        if self.triplet_on not in ("branch", "global"):
            raise bad("triplet_on", self.triplet_on, ("branch", "global"))
        if not self.stripes or any(int(k) < 1 for k in self.stripes):
            raise ValueError(
                f"RMGLConfig.stripes: expected a non-empty tuple of stripe counts >= 1, got {self.stripes!r}")
        if self.paths == "receptive" and all(k == 1 for k in self.stripes):
            raise ValueError("RMGLConfig: paths='receptive' needs at least one branch with more than 1 stripe")


# --------------------------------------------------------------------------------------------
# Activation balanced pooling (rmgl.md §2.6, Eq. 8-11; RMGL-F5)
# --------------------------------------------------------------------------------------------
def uniform_boundaries(h: int, k: int) -> list[int]:
    """Row boundaries ``[0, ..., h]`` of ``k`` near-equal stripes: ``round(j * h / k)``."""
    return [round(j * h / k) for j in range(k + 1)]


def abp_boundaries(y: torch.Tensor, k: int) -> torch.Tensor:
    """ABP stripe boundaries per image.

    Each channel votes for the row of its unique spatial maximum (Eq. 8: strict ``>``, so tied or
    all-zero channels do not vote, A14 iv); ``h_j`` is the largest number of leading rows holding
    at most ``ceil(j * C_eff / k)`` votes (Eq. 10 with the garbled target read as j·C/k, A14 iii).
    Every stripe keeps at least one row (A14 vii). An image where no channel votes falls back to
    uniform boundaries (our choice: Eq. 10 is undefined there).

    Args:
        y: (N, C, H, W) final original-path map; ``H >= k``.
        k: number of stripes.
    Returns:
        (N, k + 1) int64 boundaries, strictly increasing, from 0 to H.
    """
    n, c, h, w = y.shape
    if h < k:
        raise ValueError(f"ABP needs at least {k} rows for {k} stripes, the map has {h}")
    y = y.detach()
    flat = y.flatten(2)
    if flat.shape[2] > 1:
        top2 = flat.topk(2, dim=2)
        vmax, idx = top2.values[..., 0], top2.indices[..., 0]
        votes = (vmax > top2.values[..., 1]).float()
    else:
        idx = torch.zeros(n, c, dtype=torch.long, device=y.device)
        votes = torch.ones(n, c, device=y.device)
    rows = idx // w
    hist = torch.zeros(n, h, device=y.device).scatter_add_(1, rows, votes)
    cum = hist.cumsum(1)  # cum[:, r] = H_x(r + 1)
    c_eff = cum[:, -1]
    uniform = torch.tensor(uniform_boundaries(h, k), device=y.device)
    bounds = [torch.zeros(n, dtype=torch.long, device=y.device)]
    for j in range(1, k):
        target = torch.ceil(j * c_eff / k)
        hj = (cum <= target[:, None]).sum(1)
        hj = torch.maximum(hj, bounds[-1] + 1)
        hj = torch.minimum(hj, torch.full_like(hj, h - (k - j)))
        hj = torch.where(c_eff > 0, hj, uniform[j].expand(n))
        bounds.append(hj)
    bounds.append(torch.full((n,), h, dtype=torch.long, device=y.device))
    return torch.stack(bounds, 1)


def pool_rows(y: torch.Tensor, bounds: torch.Tensor, mode: str = "max") -> torch.Tensor:
    """Pool per-image row bands: ``y`` (N, C, H, W), ``bounds`` (N, k + 1) -> (N, k, C).

    Band j covers rows ``[bounds[:, j], bounds[:, j + 1])``; ``mode`` is "max" or "avg" (Eq. 11).
    """
    n, c, h, w = y.shape
    r = torch.arange(h, device=y.device)[None]
    out = []
    for j in range(bounds.shape[1] - 1):
        m = (r >= bounds[:, j : j + 1]) & (r < bounds[:, j + 1 : j + 2])  # (N, H)
        m4 = m[:, None, :, None]
        if mode == "max":
            out.append(y.masked_fill(~m4, float("-inf")).amax(dim=(2, 3)))
        else:
            out.append((y * m4).sum(dim=(2, 3)) / (m.sum(1, keepdim=True) * w).to(y.dtype))
    return torch.stack(out, 1)


def abp_pool(y: torch.Tensor, k: int, mode: str = "max") -> torch.Tensor:
    """Activation balanced pooling: (N, C, H, W) -> (N, k, C) with per-image :func:`abp_boundaries`."""
    return pool_rows(y, abp_boundaries(y, k), mode)


# --------------------------------------------------------------------------------------------
# Receptive partition (rmgl.md §2.3)
# --------------------------------------------------------------------------------------------
def receptive_shards(x: torch.Tensor, k: int) -> list[torch.Tensor]:
    """Cut (N, C, H, W) into ``k`` contiguous row shards, top to bottom (boundaries ``round(j*H/k)``)."""
    h = x.shape[2]
    if h < k:
        raise ValueError(f"receptive partition: cannot cut a map of height {h} into {k} shards; use a taller input")
    b = uniform_boundaries(h, k)
    return [x[:, :, b[j] : b[j + 1]] for j in range(k)]


def run_shards(fn: nn.Module, shards: list[torch.Tensor]) -> list[torch.Tensor]:
    """Apply ``fn`` to every shard as an independent sample (zero padding at the cut).

    Equal-height shards are stacked on the batch axis and go through ``fn`` in one call (§2.3
    step 2-4: BN sees the K·N stripe batch, A26). Where the map height is not divisible by K
    (e.g. 128x64 inputs with K=3) the shards go through ``fn`` one by one; the receptive
    confinement is the same, only the training BN statistics are taken per shard.
    """
    if len(fn) == 0:
        return shards
    if all(s.shape == shards[0].shape for s in shards):
        return list(fn(torch.cat(shards, 0)).split(shards[0].shape[0], 0))
    return [fn(s) for s in shards]


class RMGL(ReidModel):
    """Receptive multi-granularity network. See the module docstring for the layout and switches.

    Training forward: :class:`ModelOutput` with one logits entry per 256-d feature (14 by default),
    one triplet feature per branch (the concat of its 256-d features: 1536-d for K=2, 2048-d for
    K=3), ``aux["part_features"]`` (N, P, 256) = the local stripe features (original stripes then
    RP stripes, branch by branch; P = 10 by default), ``aux["feature_maps"]`` the original-path
    maps (N, C, h, w) per branch (RP maps where a branch has no original path) and
    ``aux["rp_feature_maps"]`` the re-assembled RP maps. Eval forward: (N, feat_dim).

    Notes on choices the paper leaves open:

    * Heads come from :mod:`partreid_core.models.parts`: ``Reduction`` (the 1x1 conv as a Linear on the
      pooled vector + BN, kaiming init) and ``Classifier`` with bias, N(0, 0.001) (A29). Training-only
      parts: ``classifiers``; the engine's 10x learning-rate group (A13) is ``reductions`` + ``classifiers``.
    * Uniform original-path stripes use the shared :func:`horizontal_stripes` (adaptive bins); where the
      final height is not divisible by K (e.g. 8 rows, K=3 at 128x64) neighbouring bins share one row,
      while RP shards and ABP always partition the rows. At 384x128 (24 rows) and 192x64 (12 rows) the
      two coincide for K = 2, 3, 4, 6.
    * Every feature name is in ``feature_names`` (``"K2[0]/rp/s1"`` = branch 0 with K=2, RP path,
      stripe 1), in the order of the embedding's 256-d blocks and of ``out.logits``.
    """

    def __init__(self, cfg: RMGLConfig, num_classes: int):
        super().__init__(cfg.loss)
        self.cfg = cfg
        self.stripes = tuple(int(k) for k in cfg.stripes)
        backbone = build_backbone(cfg.backbone)
        if not hasattr(backbone, "blocks"):
            raise TypeError(f"RMGL needs a backbone with blocks(); {cfg.backbone.name!r} has none")
        blocks = backbone.blocks()
        names = [n for n, _ in blocks]
        trunk, tail = split_blocks(blocks, cfg.branch_block)
        self.trunk = trunk
        self.branches = nn.ModuleList(clone(tail) for _ in self.stripes)
        self._split = names.index(cfg.branch_block)
        cut = RP_POSITIONS[cfg.rp_position]
        if cut is not None and cut not in names:
            raise KeyError(f"RMGLConfig.rp_position={cfg.rp_position!r}: backbone has no block {cut!r}")
        self._cut = 0 if cut is None else names.index(cut)  # RP cut = the tensor fed into block index _cut
        c = backbone.out_channels
        self.pool = GeneralizedPool(cfg.pool)

        # the feature layout: (branch index, path, slot) with slot "global" or stripe index
        self.feature_slots: list[tuple[int, str, str | int]] = []
        for b, k in enumerate(self.stripes):
            if self._has_orig(k):
                self.feature_slots += [(b, "orig", "global")] + ([(b, "orig", s) for s in range(k)] if k > 1 else [])
            if self._has_rp(k):
                rp_global = [(b, "rp", "global")] if cfg.rp_global else []
                self.feature_slots += rp_global + [(b, "rp", s) for s in range(k)]
        self.feature_names = [f"K{self.stripes[b]}[{b}]/{p}/{s if s == 'global' else f's{s}'}"
                              for b, p, s in self.feature_slots]
        self.reductions = nn.ModuleList(
            Reduction(c, cfg.reduce_dim, relu=cfg.reduction_relu) for _ in self.feature_slots)
        self.classifiers = nn.ModuleList(Classifier(cfg.reduce_dim, num_classes, bias=True) for _ in self.feature_slots)
        self.feat_dim = cfg.reduce_dim * len(self.feature_slots)
        self.num_classes = num_classes

    # -- layout -------------------------------------------------------------------------------
    def _has_orig(self, k: int) -> bool:
        # A25: a K=1 branch is a "Global Branch" with only the original path (an RP path would be identical)
        return self.cfg.paths in ("dual", "original") or k == 1

    def _has_rp(self, k: int) -> bool:
        return self.cfg.paths in ("dual", "receptive") and k > 1

    def _stages(self, b: int, start: int, end: int | None = None) -> nn.Sequential:
        """Blocks ``[start, end)`` of branch ``b``'s full network (trunk blocks, then the branch's own)."""
        n_total = self._split + len(self.branches[b])
        end = n_total if end is None else end
        mods = [self.trunk[i] if i < self._split else self.branches[b][i - self._split] for i in range(start, end)]
        return nn.Sequential(*mods)

    def inference_modules(self) -> set[str]:
        return {name for name, _ in self.named_children()} - {"classifiers"}

    # -- forward ------------------------------------------------------------------------------
    def _pooled(self, x: torch.Tensor) -> dict:
        """Run both paths. Returns pooled C-d vectors per feature slot and the maps."""
        cfg, cut, split = self.cfg, self._cut, self._split
        use_abp = cfg.test_stripes == "abp" and (not self.training or cfg.abp_train)
        # shared trunk; keep the tensor at the cut when the cut lies in the trunk
        h = x
        at_cut = x if cut == 0 else None
        for i in range(split):
            h = self.trunk[i](h)
            if i + 1 == cut:
                at_cut = h
        x_m = h
        shared_rp: dict[int, list[torch.Tensor]] = {}  # K -> shards after the trunk (cut inside the trunk)
        vectors: dict[tuple, torch.Tensor] = {}
        maps: list[torch.Tensor] = []
        rp_maps: list[torch.Tensor] = []
        for b, k in enumerate(self.stripes):
            branch = self.branches[b]
            y = None
            if cut >= split:  # the cut lies inside the branch: run up to it once, both paths continue from it
                pre = branch[: cut - split](x_m) if cut > split else x_m
                if self._has_orig(k):
                    y = branch[cut - split :](pre)
                rp_in, rp_from = pre, cut
            else:
                if self._has_orig(k):
                    y = branch(x_m)
                rp_in, rp_from = at_cut, cut
            if y is not None:
                maps.append(y)
                vectors[(b, "orig", "global")] = self.pool(y)
                if k > 1:
                    st = abp_pool(y, k, cfg.abp_pool) if use_abp else horizontal_stripes(y, k, cfg.pool)
                    for s in range(k):
                        vectors[(b, "orig", s)] = st[:, s]
            if self._has_rp(k):
                if cut < split:
                    # cut in the trunk: the shards share the trunk blocks after the cut (one stacked pass per K)
                    if k not in shared_rp:
                        shared_rp[k] = run_shards(self._stages(b, cut, split), receptive_shards(rp_in, k))
                    outs = run_shards(branch, shared_rp[k])
                else:
                    outs = run_shards(self._stages(b, rp_from), receptive_shards(rp_in, k))
                z = torch.cat(outs, 2)  # re-assembled RP map, top to bottom
                rp_maps.append(z)
                if cfg.rp_global:
                    vectors[(b, "rp", "global")] = self.pool(z)
                for s, o in enumerate(outs):
                    vectors[(b, "rp", s)] = self.pool(o)
            if y is None and self._has_rp(k):
                maps.append(rp_maps[-1])
        return {"vectors": [vectors[slot] for slot in self.feature_slots], "maps": maps, "rp_maps": rp_maps}

    def _reduce_all(self, vectors: list[torch.Tensor]) -> list[torch.Tensor]:
        return [red(v) for red, v in zip(self.reductions, vectors, strict=True)]

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        """images (N, 3, H, W) -> ModelOutput (training) or (N, feat_dim) (eval)."""
        p = self._pooled(images)
        feats = self._reduce_all(p["vectors"])
        embedding = torch.cat(feats, 1)
        if not self.training:
            return embedding
        logits = [cls(f) for cls, f in zip(self.classifiers, feats, strict=True)]
        if self.cfg.triplet_on == "branch":
            triplet = [torch.cat([f for f, (b, _, _) in zip(feats, self.feature_slots, strict=True) if b == i], 1)
                       for i in range(len(self.stripes))]
        else:
            triplet = [f for f, (_, _, s) in zip(feats, self.feature_slots, strict=True) if s == "global"]
        local = [f for f, (_, _, s) in zip(feats, self.feature_slots, strict=True) if s != "global"]
        aux: dict = {"feature_maps": p["maps"], "rp_feature_maps": p["rp_maps"]}
        if local:
            aux["part_features"] = torch.stack(local, 1)
        return ModelOutput(logits=logits, features=triplet, embedding=embedding, aux=aux)

    def stripe_features(self, images: torch.Tensor, path: str | None = None, reduced: bool = True) -> torch.Tensor:
        """Local stripe features in eval mode, differentiable w.r.t. ``images`` (RMGL-X1, RMGL-F1).

        Args:
            images: (N, 3, H, W).
            path: ``"orig"``, ``"rp"`` or None (both, in ``feature_names`` order).
            reduced: the 256-d reduced features (default) or the pooled C-d vectors before reduction.
        Returns:
            (N, P, d) with P the selected stripes (``[n for n in feature_names if '/global' not in n]``).
        """
        if self.training:
            raise RuntimeError("stripe_features needs eval mode (BN running statistics); call model.eval() first")
        if path not in (None, "orig", "rp"):
            raise ValueError(f"path must be 'orig', 'rp' or None, got {path!r}")
        vectors = self._pooled(images)["vectors"]
        if reduced:
            vectors = self._reduce_all(vectors)
        sel = [v for v, (_, p, s) in zip(vectors, self.feature_slots, strict=True)
               if s != "global" and path in (None, p)]
        if not sel:
            raise ValueError(f"this RMGL has no {path or 'local'} stripe features (paths={self.cfg.paths!r})")
        return torch.stack(sel, 1)

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """Eq. 4: ``"id"`` = sum of the CE of every 256-d feature; ``"triplet"`` = sum of the per-branch triplets.

        The placement is fixed by :meth:`forward` (``out.logits`` one per feature, ``out.features``
        one per branch), so the shared ID / triplet terms of :class:`ReidModel` apply unchanged.
        """
        if len(out.logits) != len(self.feature_slots):
            raise ValueError(f"RMGL expects {len(self.feature_slots)} logits, got {len(out.logits)}")
        return super().compute_losses(out, batch)


@register_model("rmgl", config=RMGLConfig)
def build_rmgl(cfg: RMGLConfig, num_classes: int) -> RMGL:
    """RMGL (Wang et al.): dual-path receptive partition, 2+3 stripes, ABP at test, 3584-d."""
    return RMGL(cfg, num_classes)
