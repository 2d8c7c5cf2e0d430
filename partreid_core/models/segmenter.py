"""A small part segmenter: the pseudo-label source of the PAL-T8 analogue (claim C9, label source iii).

PAL trains its PS head on part maps predicted by a segmenter trained on another dataset (COCO
DensePose parts, adapted with SPGAN; spec ``pal.md`` PAL-T8, §10 C9). The analogue here is a
narrow ResNet-50 (the ``cpu`` profile's width) with PAL's PS head type (d) on top, trained on one
SynthReID domain (:mod:`partreid_core.experiments.segmenter`) and then used, frozen, to label the
training images of a PAL run on the other domain (``PSConfig.segmenter``).

Input: normalised images (N, 3, H, W), as :class:`~partreid_core.data.types.Batch` holds them.
Output: logits (N, 8, H/4, W/4) over :data:`~partreid_core.data.types.PART_CLASSES`;
:meth:`PartSegmenter.predict` gives (N, H, W) int64 labels at the input resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import from_dict, to_dict
from ..data.types import PART_CLASSES
from .backbones import BackboneConfig, build_backbone
from .pal import PartSegmentationHead

#: the command that writes a segmenter checkpoint (named in the error when one is missing)
TRAIN_COMMAND = "partreid segmenter train"


@dataclass
class SegmenterConfig:
    """Architecture of :class:`PartSegmenter` (the training recipe is in ``experiments.segmenter``)."""

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(width=0.25, last_stride=1))
    #: PAL Fig. 2 head type; "d" (two stride-2 deconvs) gives logits at 1/4 of the input size
    head_type: str = "d"
    mid_channels: int = 64


class PartSegmenter(nn.Module):
    """Backbone + PS head: (N, 3, H, W) normalised images -> (N, 8, h, w) part logits."""

    def __init__(self, cfg: SegmenterConfig | None = None):
        super().__init__()
        self.cfg = cfg or SegmenterConfig()
        self.backbone = build_backbone(self.cfg.backbone)
        self.head = PartSegmentationHead(self.backbone.out_channels, len(PART_CLASSES), self.cfg.head_type,
                                         self.cfg.mid_channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised images -> (N, H, W) int64 labels in 0..7 (logits upsampled bilinearly)."""
        logits = self(images).float()
        logits = F.interpolate(logits, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=False)
        return logits.argmax(1)


def save_segmenter(path: str | Path, model: PartSegmenter, meta: dict[str, Any] | None = None) -> Path:
    """Write ``{"config", "state_dict", "meta"}`` to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"config": to_dict(model.cfg), "state_dict": model.state_dict(), "meta": meta or {}}, tmp)
    tmp.replace(path)
    return path


def load_segmenter(path: str | Path, map_location: str | torch.device = "cpu") -> PartSegmenter:
    """The frozen segmenter saved at ``path``, in eval mode with ``requires_grad`` off.

    Raises:
        FileNotFoundError: no file at ``path`` (the message names the command that writes it).
        ValueError: the file is not a segmenter checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no part-segmenter checkpoint at {path.resolve()}; write it with "
                                f"`{TRAIN_COMMAND}` (see partreid_core/experiments/segmenter.py)")
    state = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(state, dict) or not {"config", "state_dict"} <= set(state):
        raise ValueError(f"{path} is not a part-segmenter checkpoint (expected keys 'config' and 'state_dict')")
    model = PartSegmenter(from_dict(SegmenterConfig, state["config"]))
    model.load_state_dict(state["state_dict"])
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


__all__ = ["PartSegmenter", "SegmenterConfig", "TRAIN_COMMAND", "load_segmenter", "save_segmenter"]
