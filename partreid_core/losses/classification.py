"""Identity (softmax) losses."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CrossEntropyLabelSmooth(nn.Module):
    """Cross-entropy with label smoothing (Szegedy et al.; BoT uses epsilon = 0.1).

    Input: logits (N, C) and integer labels (N,). Output: scalar mean loss.
    ``epsilon = 0`` is the plain cross-entropy.
    """

    def __init__(self, epsilon: float = 0.1):
        super().__init__()
        self.epsilon = epsilon

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # fp32 log-softmax: bf16 logits lose the small probabilities that smoothing relies on
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.epsilon)
