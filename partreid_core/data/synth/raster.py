"""Batch rasteriser of SynthReID scenes: images, part masks, keypoints at any (H, W).

A batch of N scenes is rendered at once with torch CPU ops on the pixel grid. Every primitive slot
(capsule or trapezoid, see :mod:`.scene`) is evaluated for the whole batch, but only inside the union
of its per-image bounding boxes, and written through a z-buffer (per-image depths encode the
viewpoint's z-order). Pixel colours come from palette gathers, procedural background banks and a
noise bank, then camera effects (effective resolution, blur, noise, gain, colour cast).

All ops on the pixel grid are elementwise IEEE float32 ops (+ - * /, comparisons, floor) or integer
gathers, with inputs that are exact float32 numbers (see ``scene.q``), so an image does not depend on
the batch it is rendered in, on the number of threads or on the CPU's vector width.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .scene import (
    _BANK,
    CAPSULES,
    GARMENT,
    KEYPOINT_SLOTS,
    OCCLUDER_SLOTS,
    SLOT_PART,
    SLOTS,
    STYLE_DOMAINS,
    TRAPS,
    ImageScene,
    rng_for,
)

TEX_H, TEX_W = 192, 96   # background bank resolution (sampled with nearest neighbour)
N_PLAIN, N_CLUTTER, N_NOISE = 8, 8, 4
NOISE_SIZE = 128
_NOISE_STD = 18.76       # std of a sum of 4 uniform integers in [-16, 16]

_WALL = {"A": [(200, 195, 185), (170, 170, 175), (150, 140, 120), (210, 205, 200), (120, 125, 130),
               (185, 170, 150), (140, 150, 160), (100, 95, 90)],
         "B": [(90, 110, 80), (120, 130, 140), (70, 85, 60), (160, 150, 130), (60, 70, 90),
               (130, 140, 100), (100, 100, 105), (150, 120, 90)],
         # P (SynthReID-P, pretraining only): pastel and brick facades, glass and asphalt
         "P": [(175, 190, 215), (205, 160, 145), (150, 170, 185), (225, 215, 170), (95, 105, 125),
               (170, 120, 100), (200, 210, 200), (80, 80, 85)]}


def _smooth_noise(r: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Integer value noise in [-1, 1] (h, w): a coarse random grid, upsampled and box-filtered."""
    g = r.integers(-64, 65, size=(h // cell + 2, w // cell + 2)).astype(np.float64)
    up = np.repeat(np.repeat(g, cell, 0), cell, 1)[:h + cell, :w + cell]
    cs = up.cumsum(0).cumsum(1)   # integer-valued float64: exact
    box = cs[cell:, cell:] - cs[:-cell, cell:] - cs[cell:, :-cell] + cs[:-cell, :-cell]
    return box[:h, :w] / (64.0 * cell * cell)


@lru_cache(maxsize=4)
def background_bank(domain: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The procedural texture banks of a domain (fixed, independent of the dataset seed).

    Returns:
        plain: float32 (N_PLAIN, TEX_H, TEX_W, 3): wall/floor scenes with value noise and tile lines.
        clutter: float32 (N_CLUTTER, TEX_H, TEX_W, 4): rectangles in clothing colours (RGB) and their rank
            in [0, 255] (255 = none); a pixel shows clutter when rank < 255·level.
        noise: float32 (N_NOISE, NOISE_SIZE, NOISE_SIZE, 3) integer noise with std ``_NOISE_STD``.
    """
    d = STYLE_DOMAINS.index(domain)
    r = rng_for(0, _BANK, d)
    yy, xx = np.mgrid[0:TEX_H, 0:TEX_W]
    plain = np.zeros((N_PLAIN, TEX_H, TEX_W, 3))
    for k in range(N_PLAIN):
        base = np.array(_WALL[domain][k], dtype=np.float64)
        horizon = int(TEX_H * (0.55 + 0.25 * r.random()))
        nz = _smooth_noise(r, TEX_H, TEX_W, int(r.integers(4, 16)))
        floor_c = base * (0.55 + 0.3 * r.random())
        img = np.where((yy < horizon)[..., None], base, floor_c) * (1 + 0.25 * nz)[..., None]
        period = int(r.integers(8, 24))
        if k % 2 == 0:   # bricks / tiles on the wall
            lines = ((yy % period) == 0) | (((xx + (yy // period) * (period // 2)) % (2 * period)) == 0)
            img = np.where((lines & (yy < horizon))[..., None], img * 0.7, img)
        else:            # floor tiles
            lines = (((yy - horizon) % period) == 0) | ((xx % period) == 0)
            img = np.where((lines & (yy >= horizon))[..., None], img * 0.75, img)
        plain[k] = np.clip(np.round(img), 0, 255)
    clutter = np.zeros((N_CLUTTER, TEX_H, TEX_W, 4))
    for k in range(N_CLUTTER):
        rgb = np.zeros((TEX_H, TEX_W, 3))
        rank = np.full((TEX_H, TEX_W), 255.0)
        n = 40
        for i in range(n):   # later (higher-rank) objects are drawn below earlier ones
            j = n - 1 - i
            h, w = r.integers(6, 60), r.integers(4, 40)
            y0, x0 = r.integers(-10, TEX_H), r.integers(-10, TEX_W)
            col = GARMENT[r.integers(len(GARMENT))] * (0.6 + 0.4 * r.random())
            sl = (slice(max(y0, 0), max(y0 + h, 0)), slice(max(x0, 0), max(x0 + w, 0)))
            rgb[sl] = np.round(col)
            rank[sl] = np.floor(255.0 * j / n)
        clutter[k, ..., :3], clutter[k, ..., 3] = rgb, rank
    noise = r.integers(-16, 17, size=(4, N_NOISE, NOISE_SIZE, NOISE_SIZE, 3)).sum(0).astype(np.float64)
    return (torch.from_numpy(plain.astype(np.float32)), torch.from_numpy(clutter.astype(np.float32)),
            torch.from_numpy(noise.astype(np.float32)))


def _boxes_blur(x: torch.Tensor, dim: int) -> torch.Tensor:
    """[1, 2, 1] / 4 filter along ``dim`` with replicated borders, in a fixed summation order."""
    n = x.shape[dim]
    prev = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)
    nxt = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)
    return ((prev + nxt) + (x + x)) * 0.25


def _window(lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[int, int]:
    a, b = int(np.floor(lo.min())) - 1, int(np.ceil(hi.max())) + 2
    return max(a, 0), min(b, n)


def render_batch(scenes: list[ImageScene], size: tuple[int, int], domain: str) -> dict[str, torch.Tensor]:
    """Render ``scenes`` at ``size`` = (H, W).

    Returns a dict with ``images`` uint8 (N, 3, H, W), ``masks`` uint8 (N, H, W) (``PART_CLASSES`` indices
    of the visible body; occluders, bags and the outside are background), ``keypoints`` float32 (N, 17, 3)
    (x, y in pixels, visibility 1 iff the keypoint's own limb is the visible surface at that pixel and the
    viewpoint shows it), ``occluded_frac`` and ``fg_frac`` float32 (N,).
    """
    H, W = size
    N = len(scenes)
    if N == 0:
        raise ValueError("render_batch needs at least one scene")
    box = np.stack([s.box for s in scenes])                  # u_c, v_top, h, aspect
    sy, sx = H * box[:, 2], H * box[:, 2] * box[:, 3]        # pixels per world unit
    cy, cx = H * box[:, 1], W * box[:, 0]
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    X = torch.arange(W, dtype=torch.float32) + 0.5
    Y = torch.arange(H, dtype=torch.float32) + 0.5
    WX = (X.view(1, 1, W) - f32(cx).view(N, 1, 1)) / f32(sx).view(N, 1, 1)     # (N, 1, W) world x
    WY = (Y.view(1, H, 1) - f32(cy).view(N, 1, 1)) / f32(sy).view(N, 1, 1)     # (N, H, 1) world y

    zbuf = torch.full((N, H, W), 1e4, dtype=torch.float32)
    ids = torch.zeros((N, H, W), dtype=torch.uint8)
    caps = np.stack([s.caps for s in scenes])     # (N, n_caps, 8)
    traps = np.stack([s.traps for s in scenes])   # (N, n_traps, 8)
    occ_slots = set(OCCLUDER_SLOTS.tolist())

    def draw(slot: int, inside_fn, lo_x, hi_x, lo_y, hi_y, on, z):
        if not on.any():
            return
        x0, x1 = _window(cx[on] + sx[on] * lo_x[on], cx[on] + sx[on] * hi_x[on], W)
        y0, y1 = _window(cy[on] + sy[on] * lo_y[on], cy[on] + sy[on] * hi_y[on], H)
        if x0 >= x1 or y0 >= y1:
            return
        inside = inside_fn(WX[:, :, x0:x1], WY[:, y0:y1, :])
        zb, idw = zbuf[:, y0:y1, x0:x1], ids[:, y0:y1, x0:x1]
        zt = f32(z).view(N, 1, 1)
        hit = inside & (zt < zb)
        zb.copy_(torch.where(hit, zt, zb))
        idw.masked_fill_(hit, slot)

    def pass_(occluders: bool):
        for k in range(len(CAPSULES)):
            slot = k + 1
            if (slot in occ_slots) != occluders:
                continue
            c = caps[:, k]
            on = c[:, 7] > 0
            rmax = np.maximum(c[:, 4], c[:, 5])
            ax, ay, bx, by, r0, r1 = (f32(c[:, i]).view(N, 1, 1) for i in range(6))
            ex, ey = bx - ax, by - ay
            l2 = ex * ex + ey * ey
            inv = torch.where(l2 > 0, 1.0 / torch.where(l2 > 0, l2, torch.ones_like(l2)), torch.zeros_like(l2))
            dr = r1 - r0

            def inside(wx, wy, ax=ax, ay=ay, ex=ex, ey=ey, inv=inv, r0=r0, dr=dr):
                dx, dy = wx - ax, wy - ay
                t = ((dx * ex) + (dy * ey)) * inv
                t = t.clamp_(0.0, 1.0)
                qx, qy = dx - t * ex, dy - t * ey
                rr = r0 + t * dr
                return (qx * qx + qy * qy) <= rr * rr

            draw(slot, inside, np.minimum(c[:, 0], c[:, 2]) - rmax, np.maximum(c[:, 0], c[:, 2]) + rmax,
                 np.minimum(c[:, 1], c[:, 3]) - rmax, np.maximum(c[:, 1], c[:, 3]) + rmax, on, c[:, 6])
        for k in range(len(TRAPS)):
            slot = len(CAPSULES) + k + 1
            if (slot in occ_slots) != occluders:
                continue
            p = traps[:, k]
            on = p[:, 7] > 0
            y0, y1, xc0, xc1, w0, w1 = (f32(p[:, i]).view(N, 1, 1) for i in range(6))
            inv_h = 1.0 / torch.where(y1 > y0, y1 - y0, torch.ones_like(y0))
            dxc, dw = xc1 - xc0, w1 - w0

            def inside(wx, wy, y0=y0, y1=y1, xc0=xc0, w0=w0, inv_h=inv_h, dxc=dxc, dw=dw):
                t = (wy - y0) * inv_h                      # (N, h, 1)
                in_y = (wy >= y0) & (wy <= y1)
                xc, w = xc0 + t * dxc, w0 + t * dw
                return ((wx - xc).abs() <= w) & in_y

            wmax = np.maximum(p[:, 4], p[:, 5])
            draw(slot, inside, np.minimum(p[:, 2], p[:, 3]) - wmax, np.maximum(p[:, 2], p[:, 3]) + wmax,
                 p[:, 0], p[:, 1], on, p[:, 6])

    pass_(occluders=False)
    part_lut = torch.from_numpy(SLOT_PART)
    body = torch.take(part_lut, ids.long()) > 0       # visible body before occluders
    pass_(occluders=True)
    idl = ids.long()
    masks = torch.take(part_lut, idl)
    visible = masks > 0
    n_body = body.flatten(1).sum(1).double()
    n_vis = visible.flatten(1).sum(1).double()
    occluded_frac = torch.where(n_body > 0, 1.0 - n_vis / n_body.clamp(min=1), torch.zeros_like(n_body))

    # --- colours: one flat gather from [person palettes | plain bank | clutter bank] -------------------
    plain_bank, clutter_bank, noise_bank = background_bank(domain)
    clutter_rank = clutter_bank[..., 3].contiguous()
    S = len(SLOTS) + 1
    nidx = torch.arange(N).view(N, 1, 1)
    ptype = np.stack([s.patterned for s in scenes]).astype(np.int64) * np.array(
        [s.pattern if s.pattern else 2 for s in scenes])[:, None]
    for i, name in enumerate(SLOTS):                                        # occluder boxes: checks
        if name.startswith("occ_r"):
            ptype[:, i + 1] = np.minimum(ptype[:, i + 1], 1) * 2
    inv_p = f32([1.0 / s.period for s in scenes]).view(N, 1, 1)
    sy_ = torch.floor(WY * inv_p)                                           # (N, H, 1)
    sx_ = torch.floor(WX * inv_p)                                           # (N, 1, W)
    fid = nidx * S + idl                                                    # (N, H, W) flat slot index
    pt = torch.take(torch.from_numpy(ptype.reshape(-1)), fid)
    second = ((pt == 1) & (torch.remainder(sy_, 2.0) > 0)) | ((pt == 2) & (torch.remainder(sy_ + sx_, 2.0) > 0))
    person_idx = fid * 2 + second.long()

    bg = np.stack([s.bg for s in scenes])
    ty = (np.floor((np.arange(H) + 0.5)[None] / H * TEX_H * bg[:, 2:3] + bg[:, 4:5] * TEX_H) % TEX_H).astype(np.int64)
    tx = (np.floor((np.arange(W) + 0.5)[None] / W * TEX_W * bg[:, 2:3] + bg[:, 3:4] * TEX_W) % TEX_W).astype(np.int64)
    texel = torch.from_numpy(ty * TEX_W).view(N, H, 1) + torch.from_numpy(tx).view(N, 1, W)
    kp_ = torch.from_numpy(bg[:, 0].astype(np.int64) * (TEX_H * TEX_W)).view(N, 1, 1)
    kc_ = torch.from_numpy(bg[:, 1].astype(np.int64) * (TEX_H * TEX_W)).view(N, 1, 1)
    clutter_idx = kc_ + texel
    show = torch.take(clutter_rank, clutter_idx) < f32(bg[:, 5] * 255.0).view(N, 1, 1)
    n_person, n_tex = N * S * 2, N_PLAIN * TEX_H * TEX_W
    index = torch.where(idl > 0, person_idx, torch.where(show, clutter_idx + (n_person + n_tex),
                                                             kp_ + texel + n_person))

    # effective resolution: nearest-neighbour down/up sampling of the colour index by an integer block
    block = np.array([s.block for s in scenes])
    if (block > 1).any():
        iy = np.minimum((np.arange(H)[None] // block[:, None]) * block[:, None] + block[:, None] // 2, H - 1)
        ix = np.minimum((np.arange(W)[None] // block[:, None]) * block[:, None] + block[:, None] // 2, W - 1)
        index = index[nidx, torch.from_numpy(iy).view(N, H, 1), torch.from_numpy(ix).view(N, 1, W)]
    table = torch.cat([f32(np.stack([s.colour for s in scenes])).reshape(-1, 3), plain_bank.reshape(-1, 3),
                       clutter_bank[..., :3].reshape(-1, 3)])
    img = table.index_select(0, index.reshape(-1)).view(N, H, W, 3)

    light = np.stack([s.light for s in scenes])                             # gain r, g, b, gradient
    grad = 1.0 - f32(light[:, 3]).view(N, 1, 1, 1) * ((Y.view(1, H, 1, 1) / H) - 0.5)
    img = img * (grad * f32(light[:, :3]).view(N, 1, 1, 3))

    blur = np.array([s.blur for s in scenes])
    for level in (1, 2):   # blur only the images that need it
        sel = torch.from_numpy(np.nonzero(blur >= level)[0])
        if len(sel):
            img[sel] = _boxes_blur(_boxes_blur(img[sel], 1), 2)
    nz = np.stack([s.noise for s in scenes])
    oy = np.floor(nz[:, 2] * NOISE_SIZE).astype(np.int64)
    ox = np.floor(nz[:, 5] * NOISE_SIZE).astype(np.int64)
    ny = torch.from_numpy((oy[:, None] + np.arange(H)[None]) % NOISE_SIZE * NOISE_SIZE).view(N, H, 1)
    nx = torch.from_numpy((ox[:, None] + np.arange(W)[None]) % NOISE_SIZE).view(N, 1, W)
    kn = torch.from_numpy(nz[:, 1].astype(np.int64) * NOISE_SIZE * NOISE_SIZE).view(N, 1, 1)
    noise = noise_bank.reshape(-1, 3).index_select(0, (kn + ny + nx).reshape(-1)).view(N, H, W, 3)
    img = img + noise * f32(nz[:, 0] / _NOISE_STD).view(N, 1, 1, 1)
    images = torch.floor(img.clamp_(0.0, 255.0) + 0.5).to(torch.uint8).permute(0, 3, 1, 2).contiguous()

    # --- keypoints ------------------------------------------------------------------------------
    kw = np.stack([s.kp for s in scenes])                                   # (N, 17, 2) world
    kpx = cx[:, None] + sx[:, None] * kw[..., 0]
    kpy = cy[:, None] + sy[:, None] * kw[..., 1]
    inb = (kpx >= 0) & (kpx < W) & (kpy >= 0) & (kpy < H)
    iy_ = np.clip(np.floor(kpy), 0, H - 1).astype(np.int64)
    ix_ = np.clip(np.floor(kpx), 0, W - 1).astype(np.int64)
    slot_at = idl.numpy()[np.arange(N)[:, None], iy_, ix_]                  # (N, 17)
    own = KEYPOINT_SLOTS[np.arange(17)[None, :], slot_at]
    vis = inb & own & np.stack([s.kp_facing for s in scenes])
    keypoints = torch.from_numpy(np.stack([kpx, kpy, vis], -1).astype(np.float32))
    return {"images": images, "masks": masks.to(torch.uint8), "keypoints": keypoints,
            "occluded_frac": occluded_frac.float(), "fg_frac": (n_vis / (H * W)).float()}
