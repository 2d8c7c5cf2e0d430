"""Batched augmentations and the P x K sampler: invariants."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from partreid_core.data.augment import (
    FLIP_PERMUTATION,
    ErasingConfig,
    RSAConfig,
    hflip,
    pad_crop,
    random_erasing,
    random_shift,
)
from partreid_core.data.sampler import PKSampler, RandomBatchSampler
from partreid_core.data.types import COCO_KEYPOINTS


def _batch(n=6, h=24, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, h, w), generator=g, dtype=torch.uint8)
    masks = torch.randint(0, 8, (n, h, w), generator=g, dtype=torch.uint8)
    kps = torch.stack([torch.randint(0, w, (n, 17), generator=g).float(),
                       torch.randint(0, h, (n, 17), generator=g).float(), torch.ones(n, 17)], -1)
    return images, masks, kps


def _gen(seed=1):
    return torch.Generator().manual_seed(seed)


def test_flip_twice_is_identity_and_swaps_left_right():
    images, masks, kps = _batch()
    once = hflip(images, masks, kps)
    twice = hflip(*once)
    for a, b in zip(twice, (images, masks, kps), strict=True):
        assert torch.equal(a, b)
    # left_wrist of the flipped sample is the mirrored right_wrist of the original
    lw, rw = COCO_KEYPOINTS.index("left_wrist"), COCO_KEYPOINTS.index("right_wrist")
    assert once[2][0, lw, 0] == 11 - kps[0, rw, 0] and once[2][0, lw, 1] == kps[0, rw, 1]
    assert FLIP_PERMUTATION[0] == 0  # the nose stays
    # masks are flipped with the image and keep their (side-agnostic) class values
    assert torch.equal(once[1], masks.flip(2))


def test_masks_and_keypoints_follow_the_image():
    """Encode each pixel's coordinates in the image; after pad-crop and RSA, each mask / keypoint still
    points at the pixel whose content came from the same source location."""
    n, h, w = 8, 24, 12
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    images = torch.stack([ys * 10, xs * 20, torch.full_like(ys, 255)]).to(torch.uint8).expand(n, 3, h, w).clone()
    masks = ((ys * w + xs) % 200).to(torch.uint8).expand(n, h, w).clone()  # a label per source pixel (mod 200)
    src = torch.tensor([[3.0, 5.0, 1.0]]).expand(n, 17, 3).clone()  # keypoint at x=3, y=5
    imgs2, masks2, kps2 = pad_crop(images, masks, src, pad=3, gen=_gen())
    for i in range(n):
        x, y, v = kps2[i, 0].tolist()
        if v:
            assert imgs2[i, 0, int(y), int(x)] == 5 * 10 and imgs2[i, 1, int(y), int(x)] == 3 * 20
        # where the image shows source pixel (yy, xx), the mask holds that pixel's label
        real = imgs2[i, 2] == 255
        lab = ((imgs2[i, 0].long() // 10) * w + imgs2[i, 1].long() // 20) % 200
        assert torch.equal(masks2[i][real].long(), lab[real])
        assert (masks2[i][~real] == 0).all()  # padding is background
    # RSA (bilinear image, nearest mask): on blocks of constant label painted in the label's colour, every
    # output pixel that shows exactly a label colour carries that label in the mask
    block = ((ys // 4) * 3 + xs // 4) % 8  # 8 labels in 4x4 blocks
    palette = torch.tensor([[0, 0, 0], [200, 0, 0], [0, 200, 0], [0, 0, 200], [200, 200, 0], [0, 200, 200],
                            [200, 0, 200], [100, 100, 100]], dtype=torch.uint8)
    img_b = palette[block].permute(2, 0, 1).expand(n, 3, h, w).clone()
    m_b = block.to(torch.uint8).expand(n, h, w).clone()
    kp = torch.tensor([[5.0, 9.0, 1.0]]).expand(n, 17, 3).clone()  # centre of block (row 2, col 1): label 7
    imgs3, masks3, kps3, b = random_shift(img_b, m_b, kp, RSAConfig(p=1.0), _gen(5), return_boxes=True)
    checked = 0
    for i in range(n):
        inside = torch.zeros(h, w, dtype=torch.bool)
        inside[b.y0[i]:b.y0[i] + b.nh[i], b.x0[i]:b.x0[i] + b.nw[i]] = True
        pix = imgs3[i].permute(1, 2, 0)  # (H, W, 3)
        for lab in range(8):
            exact = (pix == palette[lab]).all(-1) & inside
            assert (masks3[i][exact] == lab).all()
            checked += int(exact.sum())
        x, y, v = kps3[i, 0].tolist()
        if v:  # a visible keypoint lands on its block's colour
            assert masks3[i, round(y), round(x)] == 7
    assert checked > 0.3 * n * h * w / 2


def test_rsa_keeps_the_patch_inside_the_canvas_per_the_spec():
    n, h, w = 64, 48, 16
    images = torch.full((n, 3, h, w), 200, dtype=torch.uint8)  # the whole box is "person"
    masks = torch.full((n, h, w), 2, dtype=torch.uint8)
    cfg = RSAConfig(p=1.0)
    out, m, _, b = random_shift(images, masks, None, cfg, _gen(3), return_boxes=True)
    # the resized patch lies fully inside the H x W canvas (rmgl.md §4: "ensure the patch will not locate outside")
    assert (b.y0 >= 0).all() and (b.x0 >= 0).all() and (b.y0 + b.nh <= h).all() and (b.x0 + b.nw <= w).all()
    # the sampled rates respect their ranges: r_c in [0.7, 1], r_h in [0.5, 1/r_c], r_w in [0.5, 1]
    r_c = b.crop_h.float() / h
    assert (r_c >= 0.7 - 1 / h).all() and (b.crop_w == w).all()  # full width kept (A15)
    assert (b.nh.float() >= 0.5 * b.crop_h - 1).all() and (b.nh <= h).all()
    assert (b.nw.float() >= 0.5 * w - 1).all()
    # no content is lost: every patch pixel is person, everything else is the 127 fill and background label
    for i in range(n):
        box = torch.zeros(h, w, dtype=torch.bool)
        box[b.y0[i]:b.y0[i] + b.nh[i], b.x0[i]:b.x0[i] + b.nw[i]] = True
        assert (out[i][:, box] == 200).all() and (out[i][:, ~box] == 127).all()
        assert (m[i][box] == 2).all() and (m[i][~box] == 0).all()
    # both branches of the p_c draw occur, at about p_c = 0.5
    assert 0.2 < (b.crop_h < h).float().mean() < 0.8


def test_rsa_matches_interpolate_on_the_crop():
    """The batched grid_sample equals the spec's per-image crop -> F.interpolate -> paste."""
    images, _, _ = _batch(n=5, h=32, w=16, seed=4)
    out, _, _, b = random_shift(images, None, None, RSAConfig(p=1.0), _gen(7), return_boxes=True)
    for i in range(5):
        patch = images[i:i + 1, :, b.crop_y[i]:b.crop_y[i] + b.crop_h[i], :].float()
        ref = F.interpolate(patch, size=(int(b.nh[i]), int(b.nw[i])), mode="bilinear", align_corners=False)
        got = out[i, :, b.y0[i]:b.y0[i] + b.nh[i], b.x0[i]:b.x0[i] + b.nw[i]].float()
        assert (got - ref[0].round()).abs().max() <= 1


def test_random_erasing_area_bounds_and_masks():
    n, h, w = 200, 64, 32
    x = torch.randn(n, 3, h, w)
    masks = torch.full((n, h, w), 3, dtype=torch.uint8)
    cfg = ErasingConfig(p=0.5, area=(0.02, 0.4), fill=(9.0, 9.0, 9.0))
    out, m, (apply, y, xx, eh, ew) = random_erasing(x, masks, cfg, _gen(2), return_boxes=True)
    erased = (out == 9.0).all(1)  # (N, H, W)
    frac = erased.float().mean((1, 2))
    assert 0.35 < apply.float().mean() < 0.65
    assert torch.equal(frac > 0, apply)
    a = frac[apply]
    # rounding h and w moves the area by at most (h + w + 1) pixels
    slack = (h + w + 1) / (h * w)
    assert (a >= 0.02 - slack).all() and (a <= 0.4 + slack).all()
    assert (eh[apply] < h).all() and (ew[apply] < w).all()
    assert torch.equal(m == 0, erased)  # erased label pixels become background
    assert torch.equal(out[~erased[:, None].expand_as(out)], x[~erased[:, None].expand_as(x)])


def test_augmentations_are_reproducible_from_the_generator():
    images, masks, kps = _batch()
    a = random_shift(images, masks, kps, RSAConfig(p=1.0), _gen(9))
    b = random_shift(images, masks, kps, RSAConfig(p=1.0), _gen(9))
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)


@pytest.mark.parametrize("epoch", ["images", "ids"])
def test_pk_sampler_invariants(epoch):
    # 10 identities with 1..10 images: identities with fewer than K images are sampled with replacement
    labels = torch.cat([torch.full((i + 1,), i) for i in range(10)])
    s = PKSampler(labels, p=3, k=4, epoch=epoch)
    batches = s.epoch_batches(torch.Generator().manual_seed(0))
    assert len(batches) >= 1
    for b in batches:
        assert b.shape == (12,)
        lab = labels[b].view(3, 4)
        assert (lab == lab[:, :1]).all()  # K consecutive rows share an identity
        assert len(set(lab[:, 0].tolist())) == 3  # P distinct identities
        for row in b.view(3, 4):
            if len(torch.nonzero(labels == labels[row[0]])) >= 4:
                assert len(set(row.tolist())) == 4  # no repeats when the identity has K images
    if epoch == "ids":
        assert len(batches) == 10 // 3
        assert len({int(labels[b[0]]) for bt in batches for b in bt.view(3, 4)}) == 9  # each id at most once
    else:
        seen = torch.cat(batches)
        assert len(set(seen.tolist())) >= 0.7 * len(labels)  # each image about once
    assert torch.equal(torch.cat(batches), torch.cat(s.epoch_batches(torch.Generator().manual_seed(0))))
    with pytest.raises(ValueError, match="at least P=20 identities"):
        PKSampler(labels, p=20, k=4)


def test_random_batch_sampler_drop_last():
    s = RandomBatchSampler(10, 4)
    b = s.epoch_batches(torch.Generator().manual_seed(0))
    assert len(b) == 2 and len(set(torch.cat(b).tolist())) == 8
