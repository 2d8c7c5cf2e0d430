"""MPN: multi-task part-aware network with coarse priors (Ding et al., TPAMI 2020).

Spec: ``papers/mpn.md``. For each of K = 6 body parts, a **main task** MT_k sees the whole
backbone map F and an **auxiliary task** AT_k sees the k-th strip P_k of F cropped with a
coarse body prior (training only). Each task runs conv1 (1×1, BN, ReLU) → global max pooling →
optional channel attention (CA) → conv2 (1×1, BN, ReLU) → its own ID classifier. Knowledge
moves from AT_k to MT_k by **hard parameter sharing** (conv1, CA, conv2 shared; classifiers
separate) and by the **class-wise feature-space alignment** L_CF. At test the ATs are dropped:
the descriptor is ``h = [f^1; …; f^6]``, 6 × 512 = 3072-d, computed from images alone.

Every Table 1/2/3 and Fig. 9 variant is a field of :class:`MPNConfig`; :data:`MPN_VARIANTS`
names them (``"T1/baseline"`` … ``"T3/class"``, ``"F9/soft_conv1"``).

Choices where the spec / paper is silent or the code base differs (all in :class:`MPNConfig`):

* Triplet loss (§3, A2): batch-hard on L2-normalised h with *squared* Euclidean distance and
  margin 0.4 (the official code), averaged over the anchors whose hinge is positive (N_T). On unit
  vectors ‖â − b̂‖² = 2 D(a, b) with D the cosine distance, so the hinge is [2 D_ap − 2 D_an + 0.4]_+
  = 2 [D_ap − D_an + 0.2]_+: the same hardest triplets and the same violating set as the paper's
  cosine term with α = 0.2, but **twice its value and gradient**. ``loss.triplet_weight`` (default 1,
  the official code's scale) multiplies it; 0.5 gives the paper's Eq. 3 term exactly (the gpu
  recipe). The shared ``TripletLoss`` uses plain Euclidean distance and averages over all anchors by
  default, so MPN configures it with ``normalize=True, squared=True, average="violating"``.
* Initialisation (§5.1): the backbone starts from an IDE model trained on the same data set
  (``init_from``: a training checkpoint ``last.pt`` of the ``mpn_ide`` recipe, or a state dict;
  its ``backbone.*`` entries are loaded into the trunk, :func:`load_trunk`).
* ID loss: plain softmax CE (label smoothing 0), summed over the 2K classifiers (A1). Logged as
  ``"id"`` (MT classifiers) and ``"id_at"`` (AT classifiers); both have weight 1.
* CA is shared by MT_k and AT_k whenever it is on, also in the unshared ablations ("CA shared").
* With a 128×64 input the map has 8 rows, not a multiple of K: the AT map is resampled to
  12 rows (:func:`~partreid_core.models.mpn_priors.strip_rows`).
* The Baseline row (``tasks="at"``) trains K ATs on uniform strips and tests with the same
  strips (no prior is needed at test).
* The flip-sum of the official test code (A17) is left to the evaluation.

Analysis hooks: :meth:`MPN.part_logits` / :meth:`MPN.part_task` give one part task's logits
for Grad-CAM (MPN-F7, MPN-F8, MPN-X4; target layer ``model.backbone.layer4[-1]``);
:meth:`MPN.channel_importance` gives per-part conv1 channel importances (MPN-X3, claim C8);
:meth:`MPN.at_embedding` gives the prior-dependent AT descriptor for the AT-at-test comparison (MPN-X5).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import ConfigError, merge
from ..data.types import Batch
from ..losses import TripletLoss
from ..losses.alignment import FeatureAlignmentLoss
from .backbones import BackboneConfig, build_backbone, clone, mark_provenance
from .backbones.weights import file_sha256
from .base import LossConfig, ReidModel
from .mpn_priors import PartPrior, degrade_prior, part_maps, prior_from_keypoints, prior_from_masks, uniform_prior
from .output import ModelOutput
from .parts import Classifier, GeneralizedPool
from .registry import register_model

TASKS = ("mt+at", "mt", "at")
ALIGNMENTS = ("none", "class", "batch", "sample", "sample_dsa")
PRIORS = ("uniform", "roi", "mask_roi")
PRIOR_SOURCES = ("masks", "keypoints")
SOFT_SHARE = ("none", "conv1", "conv2")


def _mpn_loss() -> LossConfig:
    # §3: plain softmax CE summed over the 2K classifiers; triplet margin 0.4 on normalised h
    return LossConfig(id_weight=1.0, label_smoothing=0.0, triplet_weight=1.0, triplet_margin=0.4, reduce_terms="sum")


@dataclass
class MPNConfig:
    """MPN and its ablations (defaults = the full MPN of the paper, with CA).

    Attributes:
        num_parts: K body parts (6).
        part_dim: width of both 1×1 convs, the per-part feature dimension (512).
        tasks: ``"mt+at"`` (MPN and every MTL row), ``"mt"`` (Table 1 "MT Only"), ``"at"``
            (Table 1 "Baseline": K ATs on uniform strips, tested on the same strips).
        share_conv1 / share_conv2: hard parameter sharing of conv1 (C1-S) / conv2 (C2-S)
            between MT_k and AT_k (conv + BN + ReLU, BN running stats included; A4).
        channel_attention: CA after the pooling (MPN) or not (MPN°); shared by MT_k and AT_k.
        ca_reduction: CA bottleneck reduction (4: 512 → 128 → 512).
        alignment: feature-space alignment: ``"class"`` (L_CF, Eq. 8), ``"batch"``, ``"sample"``
            (Eq. 9), ``"sample_dsa"`` (triplet on h + g, [10]) or ``"none"`` (Table 3).
        align_weight: λ (1).
        prior: AT input (Table 2): ``"mask_roi"`` (ours), ``"roi"`` (ROI resize) or ``"uniform"``.
        prior_source: ``"masks"`` (part-label maps, the paper's pipeline) or ``"keypoints"``
            (ROI from COCO-17 keypoints, not in the paper; ROI only, so ``prior="roi"``).
        prior_noise: in [0, 1], degrades the training prior on purpose (MPN-X2;
            :func:`~partreid_core.models.mpn_priors.degrade_prior`); 0 = exact.
        part_presence_frac: head / leg pixel fraction needed for a valid prior (A7).
        mask_threshold: binarisation threshold of the area-downsampled mask (A8).
        soft_share: Fig. 9: ``"conv1"`` / ``"conv2"`` adds ``soft_share_weight`` ·
            Σ_k ‖θ^MT_k − θ^AT_k‖² over that (unshared) conv's weight and bias (A20).
    """

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    loss: LossConfig = field(default_factory=_mpn_loss)
    num_parts: int = 6
    part_dim: int = 512
    tasks: str = "mt+at"
    share_conv1: bool = True
    share_conv2: bool = True
    channel_attention: bool = True
    ca_reduction: int = 4
    alignment: str = "class"
    align_weight: float = 1.0
    prior: str = "mask_roi"
    prior_source: str = "masks"
    prior_noise: float = 0.0
    part_presence_frac: float = 0.005
    mask_threshold: float = 0.5
    soft_share: str = "none"
    soft_share_weight: float = 0.0
    #: checkpoint whose trunk initialises the backbone (MPN §5.1's IDE model; "" = none). A relative path
    #: is looked up under $PARTREID_CHECKPOINTS first (as the trainer writes checkpoints), then as given.
    init_from: str = ""

    def __post_init__(self) -> None:
        for key, allowed in (("tasks", TASKS), ("alignment", ALIGNMENTS), ("prior", PRIORS),
                             ("prior_source", PRIOR_SOURCES), ("soft_share", SOFT_SHARE)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"mpn config key {key!r} must be one of {allowed}, got {getattr(self, key)!r}")
        if not 0.0 <= self.prior_noise <= 1.0:
            raise ConfigError(f"mpn config key 'prior_noise' must be in [0, 1], got {self.prior_noise}")
        if self.num_parts < 1 or self.part_dim < 1:
            raise ConfigError(f"mpn config: num_parts and part_dim must be positive, got {self.num_parts}, "
                              f"{self.part_dim}")
        if self.tasks != "mt+at" and self.alignment != "none":
            raise ConfigError(f"mpn config: alignment={self.alignment!r} needs tasks='mt+at' (got tasks="
                              f"{self.tasks!r}); set alignment='none'")
        if self.tasks == "at" and self.prior != "uniform":
            raise ConfigError("mpn config: the Baseline (tasks='at') tests its ATs on uniform strips, so it needs "
                              f"prior='uniform', got prior={self.prior!r}")
        if self.prior_source == "keypoints" and self.prior == "mask_roi":
            raise ConfigError("mpn config: keypoints give no body mask; use prior='roi' with prior_source='keypoints'")
        if self.soft_share != "none":
            if self.tasks != "mt+at" or getattr(self, f"share_{self.soft_share}"):
                raise ConfigError(f"mpn config: soft_share={self.soft_share!r} needs tasks='mt+at' and "
                                  f"share_{self.soft_share}=False (it replaces hard sharing)")


#: Named ablation variants (overrides of :class:`MPNConfig`): Table 1 (MPN-T1), Table 2
#: (MPN-T2), Table 3 (MPN-T3) and Fig. 9 (MPN-F9, one weight; sweep ``soft_share_weight``).
_NO_SHARE = {"share_conv1": False, "share_conv2": False}
MPN_VARIANTS: dict[str, dict[str, Any]] = {
    "T1/baseline": {"tasks": "at", "prior": "uniform", "alignment": "none", "channel_attention": False},
    "T1/mt_only": {"tasks": "mt", "alignment": "none", "channel_attention": False},
    "T1/naive_mtl": {**_NO_SHARE, "alignment": "none", "channel_attention": False},
    "T1/c1s": {"share_conv1": True, "share_conv2": False, "alignment": "none", "channel_attention": False},
    "T1/c2s": {"share_conv1": False, "share_conv2": True, "alignment": "none", "channel_attention": False},
    "T1/c1s_c2s": {"alignment": "none", "channel_attention": False},
    "T1/cf": {**_NO_SHARE, "alignment": "class", "channel_attention": False},
    "T1/mpn_noca": {"channel_attention": False},
    "T1/mpn": {},
    "T2/uniform": {"channel_attention": False, "prior": "uniform"},
    "T2/roi": {"channel_attention": False, "prior": "roi"},
    "T2/mask_roi": {"channel_attention": False, "prior": "mask_roi"},
    "T3/none": {**_NO_SHARE, "alignment": "none", "channel_attention": False},
    "T3/batch": {**_NO_SHARE, "alignment": "batch", "channel_attention": False},
    "T3/sample_dsa": {**_NO_SHARE, "alignment": "sample_dsa", "channel_attention": False},
    "T3/sample": {**_NO_SHARE, "alignment": "sample", "channel_attention": False},
    "T3/class": {**_NO_SHARE, "alignment": "class", "channel_attention": False},
    "F9/soft_conv1": {**_NO_SHARE, "alignment": "none", "channel_attention": False, "soft_share": "conv1",
                      "soft_share_weight": 1.0},
    "F9/soft_conv2": {**_NO_SHARE, "alignment": "none", "channel_attention": False, "soft_share": "conv2",
                      "soft_share_weight": 1.0},
}


def mpn_variant(name: str, overrides: dict[str, Any] | None = None) -> MPNConfig:
    """The :class:`MPNConfig` of a named variant (:data:`MPN_VARIANTS`), with ``overrides`` applied on top."""
    if name not in MPN_VARIANTS:
        raise KeyError(f"unknown MPN variant {name!r}; known: {', '.join(MPN_VARIANTS)}")
    return merge(merge(MPNConfig(), MPN_VARIANTS[name]), overrides or {})


def _checkpoint_candidates(path: str) -> list[Path]:
    p = Path(path)
    if p.is_absolute() or not os.environ.get("PARTREID_CHECKPOINTS"):
        return [p]
    return [Path(os.environ["PARTREID_CHECKPOINTS"]) / p, p]


def load_trunk(backbone: nn.Module, path: str) -> nn.Module:
    """Load the trunk of a trained model into ``backbone`` (strict), in place; returns ``backbone``.

    ``path``: a trainer checkpoint (``{"model": state_dict, ...}``, e.g. the ``mpn_ide`` recipe's
    ``last.pt``) or a plain state dict; the entries under ``backbone.`` are taken (a state dict without
    that prefix is used whole). Every backbone parameter is then tagged ``ide:<path> sha256:<hex>``
    for the record's ``pretrained_trunk``.

    Raises:
        FileNotFoundError: no file at any candidate path (all are listed, with how to make the file).
        RuntimeError: the file's trunk does not match the backbone (other architecture or width).
    """
    candidates = _checkpoint_candidates(path)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        listing = "\n  ".join(str(p) for p in candidates)
        raise FileNotFoundError(
            f"MPN's init_from checkpoint was not found. Looked for:\n  {listing}\n"
            "Train the IDE model first (partreid train --recipe mpn_ide --profile <profile> --dataset <dataset> "
            "--seed <seed>), pass another file with --set model_overrides.init_from=<path>, or start from the "
            "backbone's own initialisation with --set model_overrides.init_from=''.")
    state = torch.load(found, map_location="cpu", weights_only=False)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("backbone.") for k in state):
        state = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    try:
        backbone.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{found}: its trunk does not fit this backbone ({e})") from None
    mark_provenance(backbone, f"ide:{found} sha256:{file_sha256(found)}")
    return backbone


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """1×1 conv (bias, PyTorch default init; A26) + BN + ReLU. (N, c_in, h, w) -> (N, c_out, h, w)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=True), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ChannelAttention(nn.Module):
    """CA (Fig. 6, §2.3, A5): y ⊙ σ(BN(conv(ReLU(BN(conv(y)))))), 1×1 convs d → d/r → d.

    Input (N, d, 1, 1) (already max-pooled, so the module's own GMP is a no-op) -> same shape.
    """

    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim // reduction, 1, bias=True), nn.BatchNorm2d(dim // reduction), nn.ReLU(inplace=True),
            nn.Conv2d(dim // reduction, dim, 1, bias=True), nn.BatchNorm2d(dim),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.sigmoid(self.body(y))


class PartBranch(nn.Module):
    """One part task's feature extractor (§2.2): conv1 → GMP → [CA] → conv2.

    Input (N, C, h, w) — the whole map F (MT) or a strip P_k (AT) — -> (N, d), non-negative.
    An unshared AT passes its own ``conv1`` / ``conv2`` and reuses the rest.
    """

    def __init__(self, c_in: int, dim: int, channel_attention: bool, ca_reduction: int = 4):
        super().__init__()
        self.conv1 = conv_bn_relu(c_in, dim)
        self.pool = GeneralizedPool("max")
        self.ca = ChannelAttention(dim, ca_reduction) if channel_attention else nn.Identity()
        self.conv2 = conv_bn_relu(dim, dim)

    def forward(self, x: torch.Tensor, conv1: nn.Module | None = None, conv2: nn.Module | None = None) -> torch.Tensor:
        y = (self.conv1 if conv1 is None else conv1)(x)
        y = self.ca(self.pool(y)[:, :, None, None])
        return (self.conv2 if conv2 is None else conv2)(y).flatten(1)


class PartTaskLogits(nn.Module):
    """images (N, 3, H, W) -> (N, num_classes): logits of one part task, for Grad-CAM wrappers."""

    def __init__(self, model: MPN, part: int):
        super().__init__()
        self.model = model
        self.part = part

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.part_logits(images, self.part)


class MPN(ReidModel):
    """MPN and its ablations (one class, switched by :class:`MPNConfig`).

    Modules: ``backbone`` (ResNet-50 trunk, last stride 1); ``branches[k]`` (conv1, CA, conv2 of
    part k: MT_k's, and AT_k's where shared; the Baseline's AT_k); ``at_layers[k]`` (AT_k's
    own conv1 / conv2 where not shared, else absent); ``mt_classifiers`` / ``at_classifiers``.

    Training ``forward(images, masks, keypoints)`` -> :class:`ModelOutput`:
        logits: K MT logits then K AT logits, each (N, num_classes);
        features: ``[h]`` (N, K·d) for the triplet loss (``[h + g]`` for ``alignment="sample_dsa"``,
            ``[g]`` for the Baseline);
        embedding: the test descriptor of this forward (N, K·d);
        aux: ``part_features`` (N, K, d) MT features (Baseline: its AT features),
            ``at_part_features`` (N, K, d), ``feature_map`` (N, C, h, w),
            ``prior_mask`` (N, 1, h, w), ``prior_top`` / ``prior_bot`` / ``prior_valid`` (N,).
    Eval ``forward(images)`` -> (N, K·d) (3072 for the paper's K = 6, d = 512); priors unused.
    """

    def __init__(self, cfg: MPNConfig, num_classes: int):
        super().__init__(cfg.loss)
        self.cfg = cfg
        self.num_classes = num_classes
        self.uses_mt = cfg.tasks in ("mt+at", "mt")
        self.uses_at = cfg.tasks in ("mt+at", "at")
        # §3, A2: squared distance on L2-normalised h, hinge averaged over violating anchors
        self.triplet_loss = TripletLoss(cfg.loss.triplet_margin, normalize=True, squared=True, average="violating")
        self.backbone = build_backbone(cfg.backbone)
        if cfg.init_from:
            load_trunk(self.backbone, cfg.init_from)
        c_in = self.backbone.out_channels  # derived, so narrow backbones work unchanged
        k, d = cfg.num_parts, cfg.part_dim
        self.branches = nn.ModuleList(
            PartBranch(c_in, d, cfg.channel_attention, cfg.ca_reduction) for _ in range(k))
        unshared = [n for n, shared in (("conv1", cfg.share_conv1), ("conv2", cfg.share_conv2)) if not shared]
        self.at_layers: nn.ModuleList | None = None
        if cfg.tasks == "mt+at" and unshared:
            # separate AT copies start identical to the MT layers (A20; matters for soft sharing)
            self.at_layers = nn.ModuleList(
                nn.ModuleDict({n: clone(getattr(b, n)) for n in unshared}) for b in self.branches)
        self.mt_classifiers = nn.ModuleList(Classifier(d, num_classes, bias=True) for _ in range(k)) \
            if self.uses_mt else None
        self.at_classifiers = nn.ModuleList(Classifier(d, num_classes, bias=True) for _ in range(k)) \
            if self.uses_at else None
        self.alignment = FeatureAlignmentLoss(cfg.alignment) if cfg.alignment in ("class", "batch", "sample") else None
        self.feat_dim = k * d
        if (k, d) == (6, 512):
            assert self.feat_dim == 3072, "MPN's test descriptor is 6 × 512 = 3072-d"

    # --- priors -------------------------------------------------------------------------------------------
    def build_prior(self, fmap_size: tuple[int, int], image_size: tuple[int, int], n: int, device: torch.device,
                    masks: torch.Tensor | None = None, keypoints: torch.Tensor | None = None,
                    noise: float | None = None) -> PartPrior:
        """The prior of a batch at feature resolution ``fmap_size``, degraded by ``noise``
        (default: ``cfg.prior_noise``)."""
        cfg = self.cfg
        noise = cfg.prior_noise if noise is None else noise
        if cfg.prior == "uniform":
            return uniform_prior(n, fmap_size, device)
        if cfg.prior_source == "masks":
            if masks is None:
                raise ValueError(f"MPN with prior={cfg.prior!r} and prior_source='masks' needs Batch.masks (N, H, W) "
                                 "part labels to build its prior; got None (use a dataset with masks, or "
                                 "prior='uniform')")
            if tuple(masks.shape[-2:]) != tuple(image_size):
                raise ValueError(f"masks are {tuple(masks.shape[-2:])}, images are {tuple(image_size)}")
            prior = prior_from_masks(masks, fmap_size, cfg.part_presence_frac, cfg.mask_threshold)
        else:
            if keypoints is None:
                raise ValueError("MPN with prior_source='keypoints' needs Batch.keypoints (N, 17, 3) to build its "
                                 "prior; got None")
            prior = prior_from_keypoints(keypoints, image_size, fmap_size)
        return degrade_prior(prior, noise) if noise > 0 else prior

    # --- tasks --------------------------------------------------------------------------------------------
    def _at_feature(self, k: int, strip: torch.Tensor) -> torch.Tensor:
        own = self.at_layers[k] if self.at_layers is not None else nn.ModuleDict()
        return self.branches[k](strip, conv1=own["conv1"] if "conv1" in own else None,
                                conv2=own["conv2"] if "conv2" in own else None)

    def _mt_features(self, fmap: torch.Tensor) -> list[torch.Tensor]:
        return [b(fmap) for b in self.branches]

    def _uniform_strip_features(self, fmap: torch.Tensor) -> list[torch.Tensor]:
        strips = part_maps(fmap, None, self.cfg.num_parts, use_mask=False, use_roi=False)
        return [self._at_feature(k, s) for k, s in enumerate(strips)]

    def _test_part_features(self, fmap: torch.Tensor) -> torch.Tensor:
        """(N, K, d): MT features (Baseline: AT features on uniform strips). Needs no prior."""
        feats = self._mt_features(fmap) if self.uses_mt else self._uniform_strip_features(fmap)
        return torch.stack(feats, 1)

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        fmap = self.backbone(images)
        if not self.training:
            return self._test_part_features(fmap).flatten(1)
        cfg = self.cfg
        n = images.shape[0]
        aux: dict[str, torch.Tensor] = {"feature_map": fmap}
        logits: list[torch.Tensor] = []
        f = z = None
        if self.uses_mt:
            f = self._mt_features(fmap)
            logits += [c(x) for c, x in zip(self.mt_classifiers, f, strict=True)]
        if self.uses_at:
            prior = self.build_prior(tuple(fmap.shape[-2:]), tuple(images.shape[-2:]), n, fmap.device, masks, keypoints)
            strips = part_maps(fmap, prior, cfg.num_parts, use_mask=cfg.prior == "mask_roi",
                               use_roi=cfg.prior in ("roi", "mask_roi"))
            z = [self._at_feature(k, s) for k, s in enumerate(strips)]
            logits += [c(x) for c, x in zip(self.at_classifiers, z, strict=True)]
            aux.update(prior_mask=prior.mask, prior_top=prior.top, prior_bot=prior.bot, prior_valid=prior.valid)
            aux["at_part_features"] = torch.stack(z, 1)
        parts = torch.stack(f if f is not None else z, 1)  # type: ignore[arg-type]
        aux["part_features"] = parts
        h = parts.flatten(1)
        if cfg.alignment == "sample_dsa":
            trip = h + aux["at_part_features"].flatten(1)
        else:
            trip = h
        return ModelOutput(logits=logits, features=[trip], embedding=h, aux=aux)

    # --- losses -------------------------------------------------------------------------------------------
    def soft_share_distance(self) -> torch.Tensor:
        """Σ_k ‖θ^MT_k − θ^AT_k‖² over the conv weight + bias of ``cfg.soft_share`` (Fig. 9, A20)."""
        layer = self.cfg.soft_share
        total = self.branches[0].conv1[0].weight.new_zeros(())
        for b, own in zip(self.branches, self.at_layers, strict=True):  # type: ignore[arg-type]
            mt_conv, at_conv = getattr(b, layer)[0], own[layer][0]
            total = total + (mt_conv.weight - at_conv.weight).pow(2).sum() + (mt_conv.bias - at_conv.bias).pow(2).sum()
        return total

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """``id`` (MT classifiers), ``id_at`` (AT classifiers), ``triplet``, ``align`` (λ · L_*),
        ``soft_share`` (Fig. 9 only). Eq. 10: L = L_ID + L_TRI + λ L_CF."""
        cfg, lc = self.cfg, self.loss_cfg
        y = batch.labels
        k = cfg.num_parts
        mt_logits = out.logits[:k] if self.uses_mt else []
        at_logits = out.logits[k:] if self.uses_mt else out.logits
        losses: dict[str, torch.Tensor] = {}
        if lc.id_weight and mt_logits:
            losses["id"] = lc.id_weight * self._reduce([self.id_loss(z, y) for z in mt_logits])
        if lc.id_weight and at_logits:
            losses["id_at"] = lc.id_weight * self._reduce([self.id_loss(z, y) for z in at_logits])
        if lc.triplet_weight and out.features:
            losses["triplet"] = lc.triplet_weight * self._reduce([self.triplet_loss(f, y) for f in out.features])
        if self.alignment is not None and cfg.align_weight:
            h = out.aux["part_features"].flatten(1)
            g = out.aux["at_part_features"].flatten(1)
            losses["align"] = cfg.align_weight * self.alignment(h, g, y)
        if cfg.soft_share != "none" and cfg.soft_share_weight:
            losses["soft_share"] = cfg.soft_share_weight * self.soft_share_distance()
        return losses

    # --- inference / analysis -----------------------------------------------------------------------------
    def inference_modules(self) -> set[str]:
        """The eval forward uses the backbone and the test-task branches only."""
        return {"backbone", "branches"}

    def at_embedding(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                     keypoints: torch.Tensor | None = None, prior_noise: float = 0.0) -> torch.Tensor:
        """(N, 3, H, W) -> (N, K·d): the AT descriptor g = [z^1; …; z^K], computed with priors.

        This is the "AT-at-test" comparison of MPN-X5 (claim C9): unlike the MT descriptor it
        needs a prior on the test images, so test-time prior failures (``prior_noise``) reach
        it. Runs in the module's current mode (call ``.eval()`` first for test features).
        """
        if not self.uses_at:
            raise ValueError(f"at_embedding needs auxiliary tasks; this model has tasks={self.cfg.tasks!r}")
        fmap = self.backbone(images)
        prior = self.build_prior(tuple(fmap.shape[-2:]), tuple(images.shape[-2:]), images.shape[0], fmap.device,
                                 masks, keypoints, noise=prior_noise)
        strips = part_maps(fmap, prior, self.cfg.num_parts, use_mask=self.cfg.prior == "mask_roi",
                           use_roi=self.cfg.prior in ("roi", "mask_roi"))
        return torch.cat([self._at_feature(k, s) for k, s in enumerate(strips)], 1)

    def part_logits(self, images: torch.Tensor, part: int) -> torch.Tensor:
        """(N, 3, H, W) -> (N, num_classes): logits of part ``part``'s test task from images alone.

        MT_k's classifier on MT_k's feature (Baseline: AT_k's classifier on uniform strip k). For
        Grad-CAM per part task (MPN-F7/F8, MPN-X4), use ``model.part_task(k)`` as the model and
        ``model.backbone.layer4[-1]`` as the target layer, in eval mode.
        """
        if not 0 <= part < self.cfg.num_parts:
            raise IndexError(f"part must be in [0, {self.cfg.num_parts}), got {part}")
        fmap = self.backbone(images)
        if self.uses_mt:
            return self.mt_classifiers[part](self.branches[part](fmap))
        strips = part_maps(fmap, None, self.cfg.num_parts, use_mask=False, use_roi=False)
        return self.at_classifiers[part](self._at_feature(part, strips[part]))

    def part_task(self, part: int) -> PartTaskLogits:
        """An ``nn.Module`` mapping images to part ``part``'s test-task logits (Grad-CAM wrapper)."""
        return PartTaskLogits(self, part)

    @torch.no_grad()
    def channel_importance(self) -> torch.Tensor:
        """(K, C): importance of backbone channel c for part k = ‖W_k[:, c]‖₂, W_k the (d × C)
        weight of part k's test-task conv1 (MPN-X3, spec §10 claim C8)."""
        return torch.stack([b.conv1[0].weight.flatten(1).norm(dim=0) for b in self.branches])


@register_model("mpn", MPNConfig)
def builder(cfg: MPNConfig, num_classes: int) -> MPN:
    """MPN (Ding et al., TPAMI 2020): MT/AT part tasks with coarse priors, 6 × 512 = 3072-d."""
    return MPN(cfg, num_classes)
