"""Analysis hooks of the plr_osnet chapter: PLR-F4's Grad-CAM of the global vector and the part vectors.

``plr_cam`` (PLR-F4, spec §7 and ambiguity 17): Grad-CAM on the **shared-trunk output** (ATT(384) of
PLR-OSNet, i.e. the input both branches read; conv3 of the OSNet baseline, the same depth), so a part
map is not confined to its own stripe by construction. The hook runs on the **query** images (test
identities, which have no classifier row), so each map's scalar target is the spec's fallback for
unseen identities: the squared L2 norm of the pre-BN vector,

* ``global``: ``||h||^2`` with ``h = fc2(GMP(F_G))`` (PLR-OSNet) or the 512-d ``v`` (OSNet baseline);
* ``part<p>``: ``||g_p||^2`` with ``g_p`` the average-pooled stripe ``p`` of the local branch.

The model runs in training mode with BN in eval mode (running statistics) so that the pre-BN
features are returned (the eval forward only returns the L2-normalised test descriptor).
Maps are scored against the exact SynthReID part masks with
:func:`partreid_core.analysis.cam_part_statistics`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...data.transforms import normalize
from ...engine.hooks import AnalysisContext
from ..cam import cam_part_statistics, grad_cam
from ..hooks import register_hook

#: images scored per run (evenly spaced over the query split) and images whose maps are stored
N_STATS, N_KEEP = 64, 6


def _target_layer(model: nn.Module) -> nn.Module:
    """The shared trunk's output: ATT(384) (Identity without attention) or the OSNet backbone's conv3."""
    if hasattr(model, "att3"):
        return model.att3 if not isinstance(model.att3, nn.Identity) else model.conv3
    backbone = getattr(model, "backbone", None)
    if backbone is not None and hasattr(backbone, "conv3"):
        return backbone.conv3
    raise TypeError(f"plr_cam: {type(model).__name__} is neither PLR-OSNet nor the OSNet baseline")


class _PreBNScores:
    """``images (N, 3, H, W) -> (N, T)`` squared norms of the pre-BN vectors named in ``names``.

    Runs the training forward with every BN (and dropout) in eval mode, then restores the modes.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.has_parts = bool(getattr(getattr(model, "cfg", None), "local_branch", False))
        self.has_global = bool(getattr(getattr(model, "cfg", None), "global_branch", True))
        p = getattr(model, "num_parts", 0) if self.has_parts else 0
        self.names = (["global"] if self.has_global else []) + [f"part{i + 1}" for i in range(p)]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        m, was = self.model, self.model.training
        m.train()
        for mod in m.modules():
            if isinstance(mod, (nn.modules.batchnorm._BatchNorm, nn.Dropout)):
                mod.eval()
        try:
            out = m(images)
        finally:
            m.train(was)
        cols = []
        if self.has_global:
            cols.append(out.features[-1].float().pow(2).sum(1, keepdim=True))
        if self.has_parts:
            cols.append(out.aux["part_features"].float().pow(2).sum(2))            # (N, P)
        return torch.cat(cols, 1)


def _row_profile(cams: np.ndarray) -> np.ndarray:
    """(N, H, W) maps -> (H,) mean over images of the per-image CAM mass per row (each row sums to 1)."""
    rows = cams.sum(2)
    return (rows / np.clip(rows.sum(1, keepdims=True), 1e-12, None)).mean(0)


def _overlap(maps: np.ndarray) -> np.ndarray:
    """(T, N, H, W) -> (T, T) mean histogram intersection of the mass-normalised maps of each image."""
    t, n = maps.shape[:2]
    flat = maps.reshape(t, n, -1).astype(np.float64)
    flat = flat / np.clip(flat.sum(2, keepdims=True), 1e-12, None)
    return np.minimum(flat[:, None], flat[None]).sum(3).mean(2)


@register_hook("plr_cam")
def plr_cam(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """PLR-F4: Grad-CAM of the global and part vectors on the query split, scored against part masks.

    Returns (T targets = ``global`` and/or ``part1..P``, n = min(64, #query) images, 8 mask classes):
        ``target_names`` (T,) str; ``index`` (n,) query indices used;
        ``part_mass`` (T, n, 8) CAM mass fraction per mask class; ``body_mass``, ``entropy`` (T, n);
        ``row_profile`` (T, H) mean vertical distribution of CAM mass;
        ``overlap`` (T, T) mean histogram intersection between the maps of one image;
        ``maps`` (T, k, H, W) float16 for the first k = 6 scored images, with their ``images``
        (k, 3, H, W) uint8 and ``masks`` (k, H, W) uint8. Nothing without masks in the query split.
    """
    split = ctx.query
    if split.masks is None or len(split) == 0:
        return {}
    model = ctx.model
    scores = _PreBNScores(model)
    n = min(N_STATS, len(split))
    idx = torch.from_numpy(np.unique(np.linspace(0, len(split) - 1, n).round().astype(np.int64)))
    images = normalize(split.images[idx].to(ctx.device))
    masks = split.masks[idx].cpu().numpy()
    layer = _target_layer(model)
    maps = np.stack([grad_cam(scores, model, layer, images, targets=[t] * len(idx))
                     for t in range(len(scores.names))])                             # (T, n, H, W)
    stats = [cam_part_statistics(m, masks) for m in maps]
    k = min(N_KEEP, len(idx))
    return {
        "target_names": np.array(scores.names),
        "index": idx.numpy(),
        "part_mass": np.stack([s["part_mass"] for s in stats]).astype(np.float32),
        "body_mass": np.stack([s["body_mass"] for s in stats]).astype(np.float32),
        "entropy": np.stack([s["entropy"] for s in stats]).astype(np.float32),
        "row_profile": np.stack([_row_profile(m) for m in maps]).astype(np.float32),
        "overlap": _overlap(maps).astype(np.float32),
        "maps": maps[:, :k].astype(np.float16),
        "images": split.images[idx[:k]].cpu().numpy(),
        "masks": masks[:k].astype(np.uint8),
    }


__all__ = ["plr_cam"]
