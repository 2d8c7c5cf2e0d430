"""Batched training augmentations on device tensors (no per-image PIL work).

Every geometric op transforms the images, the part masks and the keypoints together, so
a model that uses side labels (PAL's PS head, MPN's priors) always sees aligned labels.
All randomness comes from an explicit ``torch.Generator`` on the batch's device, which
makes a run reproducible and resumable (the engine checkpoints the generator state).

Conventions:
    images: uint8 (N, 3, H, W) until :func:`random_erasing`, which works on the
        normalised float batch (as torchvision's ``RandomErasing`` after ``Normalize``).
    masks: uint8 (N, H, W) part labels; pixels an op *creates* (padding, RSA's canvas) are
        labelled background (0): they are certainly not a body part.
    keypoints: float (N, 17, 3) with x, y in pixel-index coordinates (column j has x = j)
        and visibility in {0, 1}; a keypoint moved outside the canvas gets visibility 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import ConfigError
from .types import COCO_KEYPOINTS

#: COCO-17 index permutation that swaps every left keypoint with its right counterpart.
FLIP_PERMUTATION: tuple[int, ...] = tuple(
    COCO_KEYPOINTS.index(n.replace("left_", "right_") if n.startswith("left_") else n.replace("right_", "left_"))
    for n in COCO_KEYPOINTS
)


@dataclass
class ErasingConfig:
    """Random erasing (Zhong et al. 2020) on the normalised batch.

    ``fill`` is per channel in normalised space: (0, 0, 0) is the ImageNet mean colour (MGN's
    choice, PAL §9 #5); PLR-OSNet's code fills (0.4914, 0.4822, 0.4465). ``erase_masks``
    labels erased mask pixels background (PAL §9 #5: "set erased labels to background"); MPN's
    official loader keeps its masks (and so its priors) as they are, ``erase_masks=False``.
    ``aspect_sampling``: how the aspect ratio r = h / w is drawn from ``aspect``: ``"log"``,
    log r uniform (torchvision's ``RandomErasing``; the default, every ``cpu`` record used it), or
    ``"uniform"``, r uniform in [0.3, 3.33] (Zhong et al.'s code, which PLR-OSNet and MPN use:
    r > 1 then has about 77 % of the draws instead of 50 %).
    """

    p: float = 0.0
    area: tuple[float, float] = (0.02, 0.4)
    aspect: tuple[float, float] = (0.3, 1 / 0.3)
    fill: tuple[float, float, float] = (0.0, 0.0, 0.0)
    attempts: int = 100
    erase_masks: bool = True
    aspect_sampling: str = "log"

    def __post_init__(self) -> None:
        if self.aspect_sampling not in ("log", "uniform"):
            raise ConfigError(f"erasing.aspect_sampling must be 'log' or 'uniform', got {self.aspect_sampling!r}")


@dataclass
class StyleConfig:
    """Photometric style jitter on uint8 images: per-image brightness, contrast, saturation and
    per-channel colour gains, each a factor drawn uniformly from ``[1 - x, 1 + x]``.

    Used by the PAL-T8 analogue (claim C9) as the SPGAN stand-in: a segmenter trained on one
    SynthReID domain with this jitter sees lighting and colour casts like the other domain's.
    Geometry is untouched, so masks and keypoints need no change.
    """

    p: float = 0.0
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.5
    channel_gain: float = 0.2


@dataclass
class RSAConfig:
    """RMGL's random shifting augmentation (rmgl.md §4; raw text §III-D).

    ``p`` is the overall probability (not given in the paper; spec A15 chooses 1.0),
    ``p_c`` the crop probability, ``rc_min``/``rh_min``/``rw_min`` the lower bounds of the
    uniform crop/resize rates, ``fill`` the canvas value for uint8 images (127).
    ``crop_width=True`` is the alternative reading of A15 (the crop also scales the width by r_c).
    """

    p: float = 0.0
    p_c: float = 0.5
    rc_min: float = 0.7
    rh_min: float = 0.5
    rw_min: float = 0.5
    fill: int = 127
    crop_width: bool = False


def _uniform(n: int, lo: float | torch.Tensor, hi: float | torch.Tensor, gen: torch.Generator,
             device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def _randint(n: int, high: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per-element uniform integers in [0, high] inclusive (``high`` int64 (n,))."""
    u = torch.rand(n, generator=gen, device=high.device)
    return torch.minimum((u * (high + 1).to(u.dtype)).long(), high)


def hflip(images: torch.Tensor, masks: torch.Tensor | None = None, keypoints: torch.Tensor | None = None,
          which: torch.Tensor | None = None):
    """Horizontally flip the samples selected by bool ``which`` (N,) (all when None).

    Keypoints: x -> W - 1 - x and left/right names swapped; masks flip only, since
    PART_CLASSES has no left/right classes. Returns (images, masks, keypoints).
    """
    n, _, _, w = images.shape
    if which is None:
        which = torch.ones(n, dtype=torch.bool, device=images.device)
    sel = which.view(n, 1, 1, 1)
    images = torch.where(sel, images.flip(3), images)
    if masks is not None:
        masks = torch.where(sel[:, 0], masks.flip(2), masks)
    if keypoints is not None:
        flipped = keypoints[:, list(FLIP_PERMUTATION)].clone()
        flipped[..., 0] = (w - 1) - flipped[..., 0]
        keypoints = torch.where(which.view(n, 1, 1), flipped, keypoints)
    return images, masks, keypoints


def random_hflip(images, masks, keypoints, p: float, gen: torch.Generator):
    """Flip each sample with probability ``p``."""
    if p <= 0:
        return images, masks, keypoints
    which = torch.rand(images.shape[0], generator=gen, device=images.device) < p
    return hflip(images, masks, keypoints, which)


def random_style(images: torch.Tensor, cfg: StyleConfig, gen: torch.Generator) -> torch.Tensor:
    """Jitter the style of each sample with probability ``cfg.p``: uint8 (N, 3, H, W) -> uint8 (N, 3, H, W).

    Order: channel gains -> brightness -> contrast (about the image's mean grey) -> saturation (about
    each pixel's grey); the result is rounded and clipped to [0, 255]. Unselected samples are unchanged.
    """
    if cfg.p <= 0:
        return images
    n, dev = images.shape[0], images.device

    def factor(amount: float, *shape: int) -> torch.Tensor:
        return _uniform(n * math.prod(shape), 1 - amount, 1 + amount, gen, dev).view(n, *shape)

    apply = torch.rand(n, generator=gen, device=dev) < cfg.p
    gains = factor(cfg.channel_gain, 3).view(n, 3, 1, 1)
    bright, contrast, sat = (factor(a, 1).view(n, 1, 1, 1) for a in (cfg.brightness, cfg.contrast, cfg.saturation))
    x = images.float() * gains * bright
    grey_w = torch.tensor((0.299, 0.587, 0.114), device=dev).view(1, 3, 1, 1)
    mean_grey = (x * grey_w).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = mean_grey + contrast * (x - mean_grey)
    grey = (x * grey_w).sum(1, keepdim=True)
    x = grey + sat * (x - grey)
    out = x.round().clamp(0, 255).to(images.dtype)
    return torch.where(apply.view(n, 1, 1, 1), out, images)


def _gather_windows(x: torch.Tensor, oy: torch.Tensor, ox: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Per-sample (h, w) windows of x (N, C, Hp, Wp) at offsets (oy, ox) -> (N, C, h, w)."""
    n = x.shape[0]
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (N, h, 1)
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (N, 1, w)
    idx = torch.arange(n, device=x.device)[:, None, None]
    return x[idx, :, rows, cols].permute(0, 3, 1, 2)  # advanced dims first: (N, h, w, C)


def pad_crop(images, masks, keypoints, pad: int, gen: torch.Generator):
    """Zero-pad by ``pad`` pixels on each side, then take a random H x W crop per sample.

    (torchvision ``RandomCrop(size, padding=pad)``.) Masks pad with background.
    """
    if pad <= 0:
        return images, masks, keypoints
    n, _, h, w = images.shape
    dev = images.device
    oy = _randint(n, torch.full((n,), 2 * pad, device=dev, dtype=torch.long), gen)
    ox = _randint(n, torch.full((n,), 2 * pad, device=dev, dtype=torch.long), gen)
    images = _gather_windows(F.pad(images, (pad, pad, pad, pad)), oy, ox, h, w)
    if masks is not None:
        masks = _gather_windows(F.pad(masks[:, None], (pad, pad, pad, pad)), oy, ox, h, w)[:, 0]
    if keypoints is not None:
        keypoints = keypoints.clone()
        keypoints[..., 0] += (pad - ox).view(n, 1).to(keypoints.dtype)
        keypoints[..., 1] += (pad - oy).view(n, 1).to(keypoints.dtype)
        keypoints = _hide_outside(keypoints, h, w)
    return images, masks, keypoints


def _hide_outside(keypoints: torch.Tensor, h: int, w: int) -> torch.Tensor:
    x, y = keypoints[..., 0], keypoints[..., 1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    keypoints[..., 2] = keypoints[..., 2] * inside.to(keypoints.dtype)
    return keypoints


@dataclass
class RSABoxes:
    """Per-sample RSA parameters, all (N,) int64: the cropped band [crop_y, crop_y + crop_h) x
    [crop_x, crop_x + crop_w) and the pasted box [y0, y0 + nh) x [x0, x0 + nw); ``applied`` bool."""

    crop_y: torch.Tensor
    crop_h: torch.Tensor
    crop_x: torch.Tensor
    crop_w: torch.Tensor
    y0: torch.Tensor
    x0: torch.Tensor
    nh: torch.Tensor
    nw: torch.Tensor
    applied: torch.Tensor


def sample_rsa(n: int, h: int, w: int, cfg: RSAConfig, gen: torch.Generator, device) -> RSABoxes:
    """Draw RSA parameters exactly as rmgl.md §4 (one draw per sample).

    Crop (prob p_c): r_c ~ U(rc_min, 1), band height hc = max(1, round(r_c H)) at a uniform
    vertical offset, full width. Resize: r_h ~ U(rh_min, 1/r_c), r_w ~ U(rw_min, 1);
    nh = min(H, max(1, round(r_h hc))), nw = min(W, max(1, round(r_w wc))). Shift: a uniform
    position with the patch fully inside the H x W canvas.
    """
    applied = torch.rand(n, generator=gen, device=device) < cfg.p
    crop = torch.rand(n, generator=gen, device=device) < cfg.p_c
    r_c = torch.where(crop, _uniform(n, cfg.rc_min, 1.0, gen, device), torch.ones(n, device=device))
    hc = torch.clamp(torch.round(r_c * h), min=1).long()
    wc = torch.clamp(torch.round(r_c * w), min=1).long() if cfg.crop_width else torch.full_like(hc, w)
    cy = _randint(n, h - hc, gen)
    cx = _randint(n, w - wc, gen)
    r_h = _uniform(n, cfg.rh_min, 1.0 / r_c, gen, device)
    r_w = _uniform(n, cfg.rw_min, 1.0, gen, device)
    nh = torch.clamp(torch.round(r_h * hc), min=1, max=h).long()
    nw = torch.clamp(torch.round(r_w * wc), min=1, max=w).long()
    y0 = _randint(n, h - nh, gen)
    x0 = _randint(n, w - nw, gen)
    return RSABoxes(cy, hc, cx, wc, y0, x0, nh, nw, applied)


def random_shift(images, masks, keypoints, cfg: RSAConfig, gen: torch.Generator, return_boxes: bool = False):
    """RMGL's RSA for a batch: crop a band, resize it (aspect change), paste it on a fill canvas.

    Implemented as one ``grid_sample`` per batch: each output pixel inside the pasted box
    reads the bilinear sample at its pre-image in the band (source coordinates clamped to
    the band, which reproduces ``F.interpolate(..., align_corners=False)`` on the crop);
    pixels outside the box get ``cfg.fill``. Masks use nearest sampling, keypoints the
    forward map (those outside the band become invisible).
    """
    n, _, h, w = images.shape
    dev = images.device
    b = sample_rsa(n, h, w, cfg, gen, dev)
    if not bool(b.applied.any()):
        return (images, masks, keypoints, b) if return_boxes else (images, masks, keypoints)
    f = lambda t: t.to(torch.float32).view(n, 1, 1)  # noqa: E731
    ys = torch.arange(h, device=dev, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, device=dev, dtype=torch.float32).view(1, 1, w)
    # pre-image of output pixel centres, in source pixel-index coordinates
    src_y = f(b.crop_y) + (ys - f(b.y0) + 0.5) * f(b.crop_h) / f(b.nh) - 0.5
    src_x = f(b.crop_x) + (xs - f(b.x0) + 0.5) * f(b.crop_w) / f(b.nw) - 0.5
    src_y = torch.minimum(torch.maximum(src_y, f(b.crop_y)), f(b.crop_y + b.crop_h - 1)).expand(n, h, w)
    src_x = torch.minimum(torch.maximum(src_x, f(b.crop_x)), f(b.crop_x + b.crop_w - 1)).expand(n, h, w)
    grid = torch.stack(((2 * src_x + 1) / w - 1, (2 * src_y + 1) / h - 1), dim=-1)  # align_corners=False
    inside = ((ys >= f(b.y0)) & (ys < f(b.y0 + b.nh)) & (xs >= f(b.x0)) & (xs < f(b.x0 + b.nw)))
    keep = (inside & b.applied.view(n, 1, 1))  # (N, H, W): pixels that come from the patch
    sampled = F.grid_sample(images.float(), grid, mode="bilinear", align_corners=False)
    sampled = sampled.round_().clamp_(0, 255).to(torch.uint8)
    canvas = torch.where(keep[:, None], sampled, torch.full_like(images, cfg.fill))
    out_images = torch.where(b.applied.view(n, 1, 1, 1), canvas, images)
    out_masks = masks
    if masks is not None:
        sm = F.grid_sample(masks[:, None].float(), grid, mode="nearest", align_corners=False)[:, 0].to(masks.dtype)
        out_masks = torch.where(b.applied.view(n, 1, 1), torch.where(keep, sm, torch.zeros_like(sm)), masks)
    out_kp = keypoints
    if keypoints is not None:
        kx, ky = keypoints[..., 0], keypoints[..., 1]
        in_band = ((ky >= f(b.crop_y)[:, 0] - 0.5) & (ky <= f(b.crop_y + b.crop_h)[:, 0] - 0.5)
                   & (kx >= f(b.crop_x)[:, 0] - 0.5) & (kx <= f(b.crop_x + b.crop_w)[:, 0] - 0.5))
        nx = f(b.x0)[:, 0] + (kx - f(b.crop_x)[:, 0] + 0.5) * f(b.nw)[:, 0] / f(b.crop_w)[:, 0] - 0.5
        ny = f(b.y0)[:, 0] + (ky - f(b.crop_y)[:, 0] + 0.5) * f(b.nh)[:, 0] / f(b.crop_h)[:, 0] - 0.5
        moved = torch.stack((nx, ny, keypoints[..., 2] * in_band.to(keypoints.dtype)), dim=-1)
        out_kp = torch.where(b.applied.view(n, 1, 1), moved, keypoints)
    return (out_images, out_masks, out_kp, b) if return_boxes else (out_images, out_masks, out_kp)


def sample_erasing(n: int, h: int, w: int, cfg: ErasingConfig, gen: torch.Generator, device):
    """torchvision ``RandomErasing`` parameters for a batch: (apply (N,) bool, y, x, eh, ew (N,) int64).

    Per sample, ``cfg.attempts`` candidates with area ~ U(area) * H * W and an aspect drawn as
    ``cfg.aspect_sampling`` says (log-uniform or uniform; the same number of random draws either way);
    the first candidate that fits (eh < H and ew < W) is used; a sample with none is left intact.
    """
    a = cfg.attempts
    area = _uniform(n * a, cfg.area[0], cfg.area[1], gen, device).view(n, a) * (h * w)
    if cfg.aspect_sampling == "uniform":
        ratio = _uniform(n * a, cfg.aspect[0], cfg.aspect[1], gen, device).view(n, a)
    else:
        log_r = _uniform(n * a, math.log(cfg.aspect[0]), math.log(cfg.aspect[1]), gen, device).view(n, a)
        ratio = torch.exp(log_r)
    eh = torch.round(torch.sqrt(area * ratio)).long()
    ew = torch.round(torch.sqrt(area / ratio)).long()
    ok = (eh < h) & (ew < w) & (eh > 0) & (ew > 0)
    first = torch.argmax(ok.to(torch.int8), dim=1)  # first valid candidate (0 if none)
    has = ok.any(1)
    eh = eh.gather(1, first[:, None])[:, 0]
    ew = ew.gather(1, first[:, None])[:, 0]
    apply = (torch.rand(n, generator=gen, device=device) < cfg.p) & has
    eh = torch.where(has, eh, torch.ones_like(eh))
    ew = torch.where(has, ew, torch.ones_like(ew))
    y = _randint(n, h - eh, gen)
    x = _randint(n, w - ew, gen)
    return apply, y, x, eh, ew


def random_erasing(images: torch.Tensor, masks: torch.Tensor | None, cfg: ErasingConfig,
                   gen: torch.Generator, return_boxes: bool = False):
    """Erase one random rectangle per selected sample of a normalised float batch (N, 3, H, W).

    Returns (images, masks) (plus the boxes when ``return_boxes``).
    """
    n, _, h, w = images.shape
    dev = images.device
    boxes = sample_erasing(n, h, w, cfg, gen, dev)
    apply, y, x, eh, ew = boxes
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    region = ((ys >= y.view(n, 1, 1)) & (ys < (y + eh).view(n, 1, 1)) & (xs >= x.view(n, 1, 1))
              & (xs < (x + ew).view(n, 1, 1)) & apply.view(n, 1, 1))
    fill = torch.tensor(cfg.fill, device=dev, dtype=images.dtype).view(1, 3, 1, 1)
    images = torch.where(region[:, None], fill, images)
    if masks is not None and cfg.erase_masks:
        masks = torch.where(region, torch.zeros_like(masks), masks)
    return (images, masks, boxes) if return_boxes else (images, masks)
