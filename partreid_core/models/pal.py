"""PAL — Part Awareness Learning (Huang et al., TIP 2020): a training-only part-segmentation head.

Spec: ``pal.md`` §2.2 (PAL-F2), §3.5 (loss), §8 (ablations), §9. A PS head reads the base
model's final feature map (``aux["feature_map"]`` of its training output, or every map of
``aux["feature_maps"]`` — MGN's three branch Conv5 maps, with **one head shared** by all
branches) and is supervised with the class-balanced cross-entropy of
:mod:`partreid_core.losses.segmentation`; ``L = L_reid + lambda * L_ps`` (for MGN, L_ps is the
mean over the branches). The head is absent from the inference graph: the eval forward is the
base model's eval forward, and :meth:`PartAwareModel.inference_modules` is the base's.

Registered models, one per base, each with its own config class: the base model's config with one more
field, ``ps`` (:class:`PSConfig`), so a profile's ``backbone`` override reaches a model and its PS variant alike::

    globalpool_ps (GlobalPoolPSConfig)  pcb_ps (PCBPSConfig)  mgn_ps (MGNPSConfig)  osnet_ps (OSNetReidPSConfig)

Every PAL ablation is a :class:`PSConfig` field: ``head_type`` a-d (PAL-T7), ``weight`` = lambda
(PAL-F12; 0 gives the base model exactly: no head is run, no ``"ps"`` term), ``granularity``
fg / 2 / 4 / 7 parts (PAL-T6, PAL-F11; the head predicts M = 2 / 3 / 5 / 8 classes), ``label_noise``
(PAL-T8 analogue: training labels degraded like a poor segmenter's) and ``segmenter`` (PAL-T8 analogue:
training labels predicted by a segmenter trained on another SynthReID domain, :mod:`.segmenter`).

Head output resolution vs the base map (h, w) (§2.2): a, b -> (h, w); c -> (2h, 2w); d -> (4h, 4w).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.types import Batch
from ..losses.segmentation import PartSegmentationLoss, degrade_part_labels, num_part_classes, remap_part_labels
from .base import ReidModel
from .globalpool import GlobalPoolConfig
from .mgn import MGNConfig
from .osnet_reid import OSNetReidConfig
from .output import ModelOutput
from .pcb import PCBConfig
from .registry import MODELS, register_model

#: PS head types of PAL Fig. 2: (number of 3x3 convs, number of stride-2 3x3 deconvs).
HEAD_TYPES: dict[str, tuple[int, int]] = {"a": (0, 0), "b": (1, 0), "c": (0, 1), "d": (0, 2)}


@dataclass
class PSConfig:
    """The PAL part-segmentation branch; defaults are the paper's final model."""

    #: Fig. 2 / PAL-T7: "a" 1x1 classifier, "b" conv3x3 + classifier, "c" deconv + classifier
    #: (default), "d" 2 deconvs + classifier.
    head_type: str = "c"
    #: Channels of the 3x3 conv/deconv layers (256 in the paper at every backbone width).
    mid_channels: int = 256
    #: lambda of L = L_reid + lambda * L_ps (PAL-F12); 0 reproduces the base model.
    weight: float = 1.0
    #: PAL-T6 label granularity: "fg", "2", "4" or "7" parts.
    granularity: str = "7"
    #: Label value of pixels without a label (not counted in any class).
    ignore_index: int = 255
    #: Pseudo-label quality (PAL-T8 analogue, claim C9): the training labels degraded by
    #: :func:`~partreid_core.losses.segmentation.degrade_part_labels` at this level in [0, 1]; 0 = exact masks.
    label_noise: float = 0.0
    #: Pseudo-label source (PAL-T8 analogue, claim C9 iii): a part-segmenter checkpoint written by
    #: ``partreid segmenter train``; when set, the PS labels of each training batch are that frozen
    #: segmenter's predictions on the (augmented) batch images instead of the dataset's masks.
    #: Empty = the dataset's masks.
    segmenter: str = ""


class PartSegmentationHead(nn.Module):
    """PAL Fig. 2 PS head: (N, C_in, h, w) -> (N, M, s*h, s*w) logits, s = 1, 1, 2, 4 for a, b, c, d.

    3x3 convs / deconvs have no bias and are followed by BN + ReLU; the final 1x1 conv has a
    bias. Conv/deconv weights ~ N(0, 0.001), final bias 0, BN at defaults (PAL code [C]).
    """

    def __init__(self, in_channels: int, num_classes: int, head_type: str = "c", mid_channels: int = 256):
        super().__init__()
        if head_type not in HEAD_TYPES:
            raise ValueError(f"PS head_type must be one of {sorted(HEAD_TYPES)}, got {head_type!r}")
        n_conv, n_deconv = HEAD_TYPES[head_type]
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(n_conv):
            layers += [nn.Conv2d(c, mid_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(mid_channels),
                       nn.ReLU(inplace=True)]
            c = mid_channels
        for _ in range(n_deconv):
            layers += [nn.ConvTranspose2d(c, mid_channels, 3, stride=2, padding=1, output_padding=1, bias=False),
                       nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True)]
            c = mid_channels
        layers.append(nn.Conv2d(c, num_classes, 1))
        self.body = nn.Sequential(*layers)
        self.upsample = 2 ** n_deconv
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PartAwareModel(ReidModel):
    """A base ReID model plus PAL's PS head, which exists only in training.

    Training forward: the base's ``ModelOutput`` with ``aux["seg_logits"]`` (N, M, h', w') for the
    first feature map and, for multi-map bases (MGN), ``aux["seg_logits_1"]``,
    ``aux["seg_logits_2"]``… for the others. Eval forward: the base's (N, D) embedding.
    """

    def __init__(self, base: ReidModel, ps: PSConfig):
        super().__init__(base.loss_cfg)
        if ps.weight < 0:
            raise ValueError(f"PSConfig.weight (lambda) must be >= 0, got {ps.weight}")
        if not 0.0 <= ps.label_noise <= 1.0:
            raise ValueError(f"PSConfig.label_noise must be in [0, 1], got {ps.label_noise}")
        self.base = base
        self.ps_cfg = ps
        self.feat_dim = base.feat_dim
        self.num_part_classes = num_part_classes(ps.granularity)
        in_channels = getattr(base, "feature_channels", None)
        if in_channels is None and hasattr(base, "backbone"):
            in_channels = base.backbone.out_channels
        if in_channels is None:
            raise ValueError(f"{type(base).__name__} exposes neither 'feature_channels' nor 'backbone.out_channels'; "
                             "the PS head cannot know its input channels")
        self.ps_head = PartSegmentationHead(in_channels, self.num_part_classes, ps.head_type, ps.mid_channels)
        self.ps_loss = PartSegmentationLoss(ps.ignore_index, validate=False)  # remap_part_labels validates
        # Loaded on first use and kept outside the module tree: the frozen label source is not part of
        # the model (not in its state dict, parameter count or optimiser), and evaluating a checkpoint
        # does not need the segmenter's file.
        self.__dict__["_segmenter"] = None

    @staticmethod
    def _maps(out: ModelOutput) -> list[torch.Tensor]:
        if "feature_maps" in out.aux:
            return list(out.aux["feature_maps"])
        if "feature_map" not in out.aux:
            raise KeyError("the base model's training output has no aux['feature_map'] for the PS head to read")
        return [out.aux["feature_map"]]

    def forward(self, images: torch.Tensor, masks: torch.Tensor | None = None,
                keypoints: torch.Tensor | None = None) -> ModelOutput | torch.Tensor:
        out = self.base(images, masks, keypoints)
        if not self.training or not self.ps_cfg.weight:
            return out
        for k, fmap in enumerate(self._maps(out)):
            out.aux["seg_logits" if k == 0 else f"seg_logits_{k}"] = self.ps_head(fmap)
        return out

    def pseudo_labels(self, images: torch.Tensor) -> torch.Tensor:
        """The configured segmenter's 8-class labels (N, H, W) int64 for normalised ``images`` (N, 3, H, W)."""
        seg = self.__dict__["_segmenter"]
        if seg is None:
            from .segmenter import load_segmenter  # segmenter imports this module
            seg = self.__dict__["_segmenter"] = load_segmenter(self.ps_cfg.segmenter)
        if next(seg.parameters()).device != images.device:
            seg.to(images.device)
        return seg.predict(images)

    def compute_losses(self, out: ModelOutput, batch: Batch) -> dict[str, torch.Tensor]:
        losses = self.base.compute_losses(out, batch)
        if not self.ps_cfg.weight:
            return losses
        if self.ps_cfg.segmenter:
            masks = self.pseudo_labels(batch.images)
        elif batch.masks is None:
            raise ValueError("PAL's PS loss needs part masks: Batch.masks is None (load the dataset with masks, "
                             "set ps.segmenter to a segmenter checkpoint, or set ps.weight = 0)")
        else:
            masks = batch.masks
        labels = remap_part_labels(masks, self.ps_cfg.granularity, self.ps_cfg.ignore_index)
        if self.ps_cfg.label_noise:
            labels = degrade_part_labels(labels, self.num_part_classes, self.ps_cfg.label_noise,
                                         self.ps_cfg.ignore_index)
        seg = [out.aux["seg_logits"]] + [out.aux[f"seg_logits_{k}"] for k in range(1, len(self._maps(out)))]
        losses["ps"] = self.ps_cfg.weight * torch.stack([self.ps_loss(s, labels) for s in seg]).mean()
        return losses

    def predict_parts(self, images: torch.Tensor, branch: int | None = None) -> torch.Tensor:
        """PS-head logits (N, M, h', w') for analysis (PAL-F14), in train or eval mode.

        Runs the base's training-mode forward (to get its feature maps) while every submodule
        keeps its own mode, so in eval mode BN uses running statistics and nothing is updated.
        For multi-map bases ``branch`` picks one map (0-based); ``None`` averages the logits.
        """
        was_training = self.base.training
        self.base.training = True  # only the top-level flag: it selects the ModelOutput path
        try:
            out = self.base(images)
        finally:
            self.base.training = was_training
        maps = self._maps(out)
        if branch is not None:
            return self.ps_head(maps[branch])
        return torch.stack([self.ps_head(m) for m in maps]).mean(0)

    def inference_modules(self) -> set[str]:
        return {"base"}


@dataclass
class GlobalPoolPSConfig(GlobalPoolConfig):
    """globalpool + PAL part segmentation: the globalpool fields, and ``ps`` the PS branch."""

    ps: PSConfig = field(default_factory=PSConfig)


@dataclass
class PCBPSConfig(PCBConfig):
    """pcb + PAL part segmentation: the pcb fields, and ``ps`` the PS branch."""

    ps: PSConfig = field(default_factory=PSConfig)


@dataclass
class MGNPSConfig(MGNConfig):
    """mgn + PAL part segmentation: the mgn fields, and ``ps`` the PS branch (one head shared by the branches)."""

    ps: PSConfig = field(default_factory=PSConfig)


@dataclass
class OSNetReidPSConfig(OSNetReidConfig):
    """osnet + PAL part segmentation: the osnet fields, and ``ps`` the PS branch."""

    ps: PSConfig = field(default_factory=PSConfig)


#: PS variant -> (base model name, its config class)
PS_VARIANTS: dict[str, tuple[str, type]] = {"globalpool_ps": ("globalpool", GlobalPoolPSConfig),
                                            "pcb_ps": ("pcb", PCBPSConfig), "mgn_ps": ("mgn", MGNPSConfig),
                                            "osnet_ps": ("osnet", OSNetReidPSConfig)}


def base_config(cfg: GlobalPoolPSConfig | PCBPSConfig | MGNPSConfig | OSNetReidPSConfig):
    """The base model's own config (an instance of the parent class) from a PS variant's: every field but ``ps``."""
    base_cls = type(cfg).__mro__[1]
    return base_cls(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(base_cls) if f.init})


def _register_ps(name: str, base_name: str, cfg_cls: type) -> None:
    if MODELS.get(base_name).config_cls is not cfg_cls.__mro__[1]:
        raise TypeError(f"{cfg_cls.__name__} must extend the config class of {base_name!r}")

    def build(cfg, num_classes: int) -> PartAwareModel:
        return PartAwareModel(MODELS.build(base_name, base_config(cfg), num_classes), cfg.ps)

    build.__doc__ = f"{base_name} + PAL's training-only part-segmentation head (PAL)."
    register_model(name, cfg_cls)(build)


for _name, (_base, _cls) in PS_VARIANTS.items():
    _register_ps(_name, _base, _cls)

__all__ = ["HEAD_TYPES", "PSConfig", "PartSegmentationHead", "PartAwareModel", "GlobalPoolPSConfig", "PCBPSConfig",
           "MGNPSConfig", "OSNetReidPSConfig", "PS_VARIANTS", "base_config"]
