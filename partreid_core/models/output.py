"""What a model returns in training (:class:`ModelOutput`); in eval it returns the embedding tensor."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ModelOutput:
    """Training-mode output of every ReID model.

    Attributes:
        logits: ID-classifier outputs, each (N, num_classes); each gets an ID loss.
        features: features for metric losses, each (N, d); each gets a triplet loss.
        embedding: (N, D) the test descriptor computed from the same forward (for analysis), or None.
        aux: model-specific outputs. Conventions: ``"feature_map"`` (N, C, h, w) the final backbone map
            (PAL's PS head attaches to it); ``"feature_maps"`` a list of per-branch maps (multi-branch models);
            ``"part_features"`` (N, P, d) stripe features (PAL-F9 similarity); ``"seg_logits"`` (N, M, h, w)
            PAL's PS head (``"seg_logits_k"`` per MGN branch).
    """

    logits: list[torch.Tensor] = field(default_factory=list)
    features: list[torch.Tensor] = field(default_factory=list)
    embedding: torch.Tensor | None = None
    aux: dict[str, torch.Tensor | list[torch.Tensor]] = field(default_factory=dict)
