"""MPN's coarse body-part priors (spec ``papers/mpn.md`` §2.5-2.6; artefacts MPN-F5, MPN-X2, MPN-X5).

A prior is *where the body is* in a training image, at feature-map resolution (h, w):

* ``mask``  M (N, 1, h, w) in {0, 1}: the dilated body mask that removes background clutter;
* ``top`` / ``bot`` (N,) int64: the first and last body rows of M (inclusive), the body ROI;
* ``valid`` (N,) bool: False where the image failed the validity check and fell back to the
  whole-image uniform division (M = 1, top = 0, bot = h - 1; spec §9 A10).

The K parts are implicit: K equal strips between ``top`` and ``bot`` (strip 1 = head).

Sources:

* :func:`prior_from_masks`: the paper's pipeline on part-label maps (SynthReID's exact 8-class
  masks play both tools: the part labels are the "parsing map", their union the "segmentation").
* :func:`prior_from_keypoints`: a keypoint-only alternative (not in the paper): the ROI spans the
  visible COCO-17 keypoints, extended to the top of the head and the soles; no mask (M = 1).
* :func:`uniform_prior`: the whole image (Table 2's "Uniform Division").

:func:`degrade_prior` worsens a prior on purpose (MPN-X2's prior-noise knob), and
:func:`part_maps` turns the backbone map F and a prior into the K AT inputs P_k.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.types import COCO_KEYPOINTS, PART_CLASSES

#: Part-label classes that count as "head" and as "legs" in the validity check (spec §9 A7,
#: mapped onto :data:`PART_CLASSES`).
HEAD_CLASSES: tuple[int, ...] = (PART_CLASSES.index("head"),)
LEG_CLASSES: tuple[int, ...] = tuple(PART_CLASSES.index(c) for c in ("upper_leg", "lower_leg", "foot"))

_FACE_KPS = tuple(COCO_KEYPOINTS.index(k) for k in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
_SHOULDER_KPS = tuple(COCO_KEYPOINTS.index(k) for k in ("left_shoulder", "right_shoulder"))
_KNEE_KPS = tuple(COCO_KEYPOINTS.index(k) for k in ("left_knee", "right_knee"))
_ANKLE_KPS = tuple(COCO_KEYPOINTS.index(k) for k in ("left_ankle", "right_ankle"))


@dataclass
class PartPrior:
    """Coarse body prior of a batch at feature resolution.

    Attributes:
        mask: float (N, 1, h, w) in {0, 1}.
        top: int64 (N,), first body row (inclusive), in [0, h - 1].
        bot: int64 (N,), last body row (inclusive), in [top, h - 1].
        valid: bool (N,), False where the whole-image fallback is used.
    """

    mask: torch.Tensor
    top: torch.Tensor
    bot: torch.Tensor
    valid: torch.Tensor

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.mask.shape[-2:])  # type: ignore[return-value]

    def clone(self) -> PartPrior:
        return PartPrior(self.mask.clone(), self.top.clone(), self.bot.clone(), self.valid.clone())


def uniform_prior(n: int, feat_size: tuple[int, int], device: torch.device | str = "cpu") -> PartPrior:
    """The whole image as the body: M = 1, top = 0, bot = h - 1 (the invalid-image fallback)."""
    h, w = feat_size
    return PartPrior(
        mask=torch.ones(n, 1, h, w, device=device),
        top=torch.zeros(n, dtype=torch.long, device=device),
        bot=torch.full((n,), h - 1, dtype=torch.long, device=device),
        valid=torch.zeros(n, dtype=torch.bool, device=device),
    )


def _rows_extent(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mask (N, 1, h, w) -> (top, bot, nonempty): first / last row holding any foreground."""
    rows = mask[:, 0].amax(-1) > 0  # (N, h)
    h = rows.shape[1]
    idx = torch.arange(h, device=mask.device)
    top = torch.where(rows, idx, h).amin(1)
    bot = torch.where(rows, idx, -1).amax(1)
    return top, bot, rows.any(1)


def _apply_fallback(prior: PartPrior, use: torch.Tensor) -> PartPrior:
    """Replace the images where ``use`` (N,) is True by the whole-image fallback."""
    n = use.shape[0]
    fb = uniform_prior(n, prior.size, prior.mask.device)
    m = use.view(n, 1, 1, 1)
    return PartPrior(
        mask=torch.where(m, fb.mask, prior.mask),
        top=torch.where(use, fb.top, prior.top),
        bot=torch.where(use, fb.bot, prior.bot),
        valid=prior.valid & ~use,
    )


def prior_from_masks(part_masks: torch.Tensor, feat_size: tuple[int, int], presence_frac: float = 0.005,
                     threshold: float = 0.5) -> PartPrior:
    """The paper's prior pipeline (§2.5, Fig. 5a) on part-label maps.

    1. valid = head pixels >= ``presence_frac`` · H·W and leg pixels (upper/lower leg, foot)
       >= ``presence_frac`` · H·W (spec A7: 0.5 % of the image);
    2. body = every labelled part (classes 1..7; background 0 and unlabelled 255 are not body);
    3. area-downsample to ``feat_size``, binarise at ``threshold`` (>=), dilate with a 1×2
       kernel (out[x] = max(M[x], M[x+1]); spec A9);
    4. top / bot = first / last foreground row;
    5. invalid images (and images whose body vanishes at feature resolution) use the
       whole-image fallback (A10).

    Args:
        part_masks: int (N, H, W) with values in ``range(len(PART_CLASSES))`` or 255.
        feat_size: (h, w) of the backbone map.

    Returns:
        :class:`PartPrior` at (h, w).
    """
    if part_masks.dim() != 3:
        raise ValueError(f"part masks must be (N, H, W) int labels, got shape {tuple(part_masks.shape)}")
    n, hh, ww = part_masks.shape
    m = part_masks.long()
    min_px = presence_frac * hh * ww
    head = torch.isin(m, torch.tensor(HEAD_CLASSES, device=m.device)).flatten(1).sum(1)
    legs = torch.isin(m, torch.tensor(LEG_CLASSES, device=m.device)).flatten(1).sum(1)
    valid = (head >= min_px) & (legs >= min_px)
    body = ((m >= 1) & (m < len(PART_CLASSES))).float().unsqueeze(1)  # (N, 1, H, W)
    # area (average) down-sampling; adaptive bins when H, W are not multiples of h, w (A8)
    frac = F.adaptive_avg_pool2d(body, feat_size)
    mask = (frac >= threshold).float()
    mask = F.max_pool2d(F.pad(mask, (0, 1, 0, 0)), kernel_size=(1, 2), stride=1)  # 1×2 dilation (A9)
    top, bot, nonempty = _rows_extent(mask)
    prior = PartPrior(mask, top.clamp(0, feat_size[0] - 1), bot.clamp(0, feat_size[0] - 1), valid & nonempty)
    return _apply_fallback(prior, ~prior.valid)


def prior_from_keypoints(keypoints: torch.Tensor, image_size: tuple[int, int], feat_size: tuple[int, int],
                         head_margin: float = 1.0, foot_margin: float = 0.3) -> PartPrior:
    """A keypoint-based ROI prior (not in the paper: MPN uses parsing + segmentation).

    valid = a face keypoint (nose, eyes, ears) and a knee or ankle are visible (the analogue of
    "head and at least one leg"). The ROI runs from the highest visible keypoint, raised by
    ``head_margin`` × (mean shoulder y − mean face y) to reach the top of the head, to the lowest
    visible keypoint, lowered by ``foot_margin`` × (mean ankle y − mean knee y) to reach the
    soles. Pixel rows map to feature rows by ``floor(y · h / H)``. Keypoints carry no mask, so
    M = 1 (use the ``"roi"`` prior with them).

    Args:
        keypoints: float (N, 17, 3), COCO-17 order: x, y in pixels of ``image_size``, visibility.
        image_size: (H, W) of the images.
        feat_size: (h, w) of the backbone map.
    """
    if keypoints.dim() != 3 or keypoints.shape[1:] != (17, 3):
        raise ValueError(f"keypoints must be (N, 17, 3) COCO-17 (x, y, visibility), got {tuple(keypoints.shape)}")
    n = keypoints.shape[0]
    hh = image_size[0]
    h = feat_size[0]
    y = keypoints[..., 1].float()
    vis = keypoints[..., 2] > 0

    def mean_y(idx: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        v = vis[:, idx].float()
        cnt = v.sum(1)
        return (y[:, idx] * v).sum(1) / cnt.clamp_min(1), cnt > 0

    face_y, has_face = mean_y(_FACE_KPS)
    sh_y, has_sh = mean_y(_SHOULDER_KPS)
    knee_y, has_knee = mean_y(_KNEE_KPS)
    ankle_y, has_ankle = mean_y(_ANKLE_KPS)
    valid = has_face & (has_knee | has_ankle)
    y_top = torch.where(vis, y, torch.full_like(y, math.inf)).amin(1)
    y_bot = torch.where(vis, y, torch.full_like(y, -math.inf)).amax(1)
    y_top = y_top - torch.where(has_face & has_sh, head_margin * (sh_y - face_y).clamp_min(0), torch.zeros_like(y_top))
    y_bot = y_bot + torch.where(has_knee & has_ankle, foot_margin * (ankle_y - knee_y).clamp_min(0),
                                torch.zeros_like(y_bot))
    to_row = lambda v: torch.nan_to_num(torch.floor(v * h / hh), nan=0.0, posinf=h - 1, neginf=0).long()  # noqa: E731
    top = to_row(y_top).clamp(0, h - 1)
    bot = torch.maximum(to_row(y_bot).clamp(0, h - 1), top)
    prior = PartPrior(torch.ones(n, 1, *feat_size, device=keypoints.device), top, bot, valid)
    return _apply_fallback(prior, ~valid)


def _resample_rows_nearest(mask: torch.Tensor, top: torch.Tensor, bot: torch.Tensor,
                           new_top: torch.Tensor, new_bot: torch.Tensor) -> torch.Tensor:
    """Move and stretch rows [top, bot] of ``mask`` (N, 1, h, w) onto rows [new_top, new_bot] (nearest)."""
    n, _, h, w = mask.shape
    i = torch.arange(h, device=mask.device).view(1, h).float()
    scale = (bot - top + 1).float().view(n, 1) / (new_bot - new_top + 1).float().view(n, 1)
    src = torch.floor(top.view(n, 1) + (i - new_top.view(n, 1) + 0.5) * scale).long().clamp(0, h - 1)
    inside = (i >= new_top.view(n, 1)) & (i <= new_bot.view(n, 1))  # (N, h)
    rows = torch.gather(mask, 2, src.view(n, 1, h, 1).expand(n, 1, h, w))
    return rows * inside.view(n, 1, h, 1)


def degrade_prior(prior: PartPrior, noise: float, max_shift_frac: float = 1 / 6, max_failure_rate: float = 0.5,
                  generator: torch.Generator | None = None) -> PartPrior:
    """Worsen a prior on purpose (MPN-X2's prior-noise knob; spec §10 claim C5).

    ``noise`` in [0, 1] scales two error types, both drawn independently per image:

    * boundary jitter (detector / tool position and scale errors): ``top`` and ``bot`` each
      move by an integer drawn uniformly from [-r, r] rows, r = round(noise · max_shift_frac · h)
      (at h = 24 and noise = 1: ±4 rows, one strip); the mask's body rows are moved and
      stretched with them, so mask and ROI stay consistent;
    * tool failure: with probability ``noise · max_failure_rate`` (0-50 %), the image falls
      back to the whole-image uniform division, as when the parsing tool misses the head or legs.

    ``noise = 0`` returns an exact copy. Random numbers come from ``generator`` (CPU) or the
    global CPU RNG, so results do not depend on the device.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"prior noise must be in [0, 1], got {noise}")
    if noise == 0.0:
        return prior.clone()
    n = prior.top.shape[0]
    h = prior.size[0]
    dev = prior.top.device
    r = int(round(noise * max_shift_frac * h))
    if r > 0:
        d = torch.randint(-r, r + 1, (2, n), generator=generator).to(dev)
        a, b = (prior.top + d[0]).clamp(0, h - 1), (prior.bot + d[1]).clamp(0, h - 1)
        new_top, new_bot = torch.minimum(a, b), torch.maximum(a, b)
        mask = _resample_rows_nearest(prior.mask, prior.top, prior.bot, new_top, new_bot)
        prior = PartPrior(mask, new_top, new_bot, prior.valid.clone())
    fail = (torch.rand(n, generator=generator) < noise * max_failure_rate).to(dev)
    return _apply_fallback(prior, fail)


def strip_rows(h: int, num_parts: int) -> int:
    """Height of the resampled AT map: h if h is a multiple of K, else K · ceil(h / K).

    The paper's 24-row map splits into 6 strips of 4 rows; a 128×64 input gives 8 rows, which
    is resampled to 12 (6 strips of 2) so that every part gets the same height.
    """
    return h if h % num_parts == 0 else num_parts * math.ceil(h / num_parts)


def part_maps(fmap: torch.Tensor, prior: PartPrior | None, num_parts: int, use_mask: bool = True,
              use_roi: bool = True) -> list[torch.Tensor]:
    """The AT inputs P_1..P_K (§2.6, Fig. 5b): mask, crop the ROI and resize, split into K strips.

    1. ``use_mask``: F' = F ⊙ M (M broadcast over channels);
    2. ``use_roi``: rows [top, bot] of F' resized back to H' = :func:`strip_rows` rows, full width,
       bilinear; without ROI the whole map is resized to H' (a no-op when K divides h);
    3. K equal horizontal strips.

    Step 2 is "crop, then bilinear resize" exactly (``F.interpolate(F'[top:bot+1], (H', w),
    align_corners=False)`` per image): the source row of each output row is clamped into the
    crop. The spec's ``affine_grid`` pseudocode instead blends in the row just outside the crop
    at the two edge output rows when it upsamples; the paper's text ("the portion within the
    boundaries is resized") is followed here. Differentiable w.r.t. ``fmap``: the AT losses
    reach the backbone (A27).

    Args:
        fmap: (N, C, h, w) backbone map.
        prior: the batch's prior at (h, w); only read when ``use_mask`` or ``use_roi``.

    Returns:
        K tensors (N, C, H'/K, w), top strip (head) first.
    """
    n, _, h, w = fmap.shape
    if use_mask or use_roi:
        if prior is None:
            raise ValueError("part_maps: a prior is needed for the mask / ROI steps (use_mask or use_roi)")
        if prior.size != (h, w) or prior.top.shape[0] != n:
            raise ValueError(f"prior is {prior.size} for {prior.top.shape[0]} images, feature map is {(h, w)} "
                             f"for {n} images")
    x = fmap * prior.mask.to(fmap.dtype) if use_mask else fmap  # type: ignore[union-attr]
    out_h = strip_rows(h, num_parts)
    if use_roi or out_h != h:
        # the sampling grid and the interpolation run in fp32: bf16 row coordinates would be off by ~1 %
        f32 = dict(device=fmap.device, dtype=torch.float32)
        if use_roi:
            top, bot = prior.top.float(), prior.bot.float()  # type: ignore[union-attr]
        else:
            top, bot = torch.zeros(n, **f32), torch.full((n,), h - 1.0, **f32)
        i = torch.arange(out_h, **f32).view(1, out_h)
        scale = ((bot - top + 1) / out_h).view(n, 1)
        src = (top.view(n, 1) + (i + 0.5) * scale - 0.5).clamp(min=top.view(n, 1), max=bot.view(n, 1))
        gy = (2 * src + 1) / h - 1  # pixel row -> normalised (align_corners=False)
        gx = (2 * torch.arange(w, **f32) + 1) / w - 1
        grid = torch.stack(torch.broadcast_tensors(gx.view(1, 1, w), gy.view(n, out_h, 1)), dim=-1)
        x = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False).to(x.dtype)
    return list(torch.chunk(x, num_parts, dim=2))
