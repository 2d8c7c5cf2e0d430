"""Analysis hooks of the MPN chapter (run at the end of training; arrays go to ``analysis.npz``).

* ``mpn_misalignment`` (MPN-X1, spec §10 claim C1): the trained model evaluated on the test
  split re-rendered at SynthReID misalignment levels 0, 0.3, 0.6, 0.9 (the same people, only the
  detection-box error grows; as :func:`partreid_core.experiments.robustness.evaluate_under_knob`
  does from a checkpoint, but from the :class:`AnalysisContext`).
* ``mpn_channels`` (MPN-X3, claim C8): per-part channel importance of conv1
  (:meth:`MPN.channel_importance`) and each backbone channel's body-relative height, measured on
  query images against their exact part masks.
* ``mpn_gradcam`` (MPN-X4, MPN-F7/F8, claim C7): Grad-CAM of each part task's classifier
  (:meth:`MPN.part_logits`) at ``backbone.layer4[-1]``, scored against K horizontal strips of the
  ground-truth body ROI (the k-th sixth of the rows between the first and the last foreground
  row of the mask) with :func:`partreid_core.analysis.cam_part_statistics`; plus a few maps.

* ``mpn_channel_maps`` (MPN-F2): layer4 channels that fire at a consistent body height, one per fifth of the
  body, chosen on well-aligned query images (misalignment 0), with their maps.
* ``mpn_nuisance_cams`` (MPN-F8): Grad-CAM of every part task on query images re-rendered with one nuisance
  turned up (detector error = misalignment 0.9, pose 1, background clutter 1, occlusion 0.9), scored like X4.
* ``mpn_test_prior`` (MPN-X5, claim C9): MPN's test descriptor (the MT features, which need no prior)
  against the AT descriptor computed at test time with priors degraded on purpose
  (:meth:`MPN.at_embedding`, noise 0 / 0.5 / 1), on the run's own test split.

Hooks return ``{}`` when the model is not an MPN or the data lack what they need (no part
masks, a dataset without a ``misalignment`` knob), so a sweep on real data still completes.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from ...config import merge
from ...data import build_dataset
from ...data.transforms import normalize
from ...data.types import SplitTensors
from ...engine.hooks import AnalysisContext, eval_mode
from ...engine.trainer import evaluate as evaluate_run
from ...evaluation import evaluate
from ...evaluation.features import extract_features
from ..cam import cam_part_statistics, grad_cam
from ..hooks import register_hook

#: MPN-X1's misalignment levels (SynthReID ``misalignment`` knob; synth-s trains at 0.3).
MISALIGNMENT_LEVELS: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9)
#: query images scored by Grad-CAM / the channel heights, and maps kept for the figures.
N_CAM_IMAGES = 48
N_CAM_MAPS = 4


def _is_mpn(model: torch.nn.Module) -> bool:
    return hasattr(model, "part_logits") and hasattr(model, "channel_importance")


def body_rows(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """First / last foreground row of each mask, and whether the mask has a body.

    Args:
        masks: (N, H, W) integer part labels, 0 = background, 255 = unlabelled.
    Returns:
        top (N,), bot (N,) int64 rows (inclusive; 0 and H-1 where there is no body) and
        valid (N,) bool.
    """
    fg = ((masks > 0) & (masks != 255)).any(dim=2)  # (N, H)
    h = masks.shape[1]
    valid = fg.any(dim=1)
    rows = torch.arange(h, device=masks.device).expand_as(fg)
    top = torch.where(fg, rows, torch.full_like(rows, h)).min(1).values
    bot = torch.where(fg, rows, torch.full_like(rows, -1)).max(1).values
    top = torch.where(valid, top, torch.zeros_like(top))
    bot = torch.where(valid, bot, torch.full_like(bot, h - 1))
    return top, bot, valid


def strip_labels(masks: torch.Tensor, num_parts: int) -> torch.Tensor:
    """(N, H, W) part masks -> (N, H, W) int64 strip labels: k + 1 for the rows of the k-th of
    ``num_parts`` equal horizontal strips of the body ROI (full width), 0 outside the ROI.

    The ROI is [top, bot] of :func:`body_rows`; a pixel row r belongs to strip
    floor(K · (r + 0.5 − top) / (bot + 1 − top)).
    """
    n, h, w = masks.shape
    top, bot, _ = body_rows(masks)
    r = torch.arange(h, device=masks.device, dtype=torch.float64)[None] + 0.5  # (1, H)
    rel = (r - top[:, None].double()) / (bot - top + 1)[:, None].double()  # (N, H), in [0, 1) on the ROI
    inside = (rel >= 0) & (rel < 1)
    lab = torch.where(inside, (rel * num_parts).floor().long().clamp(0, num_parts - 1) + 1, torch.zeros_like(inside,
                                                                                                          dtype=torch.long))
    return lab[:, :, None].expand(n, h, w).contiguous()


def _with_masks(split: SplitTensors, n: int) -> torch.Tensor:
    """Indices of the first ``n`` images of ``split`` whose mask shows a body."""
    if split.masks is None:
        return torch.zeros(0, dtype=torch.long)
    _, _, valid = body_rows(split.masks.long())
    return torch.nonzero(valid).flatten()[:n]


# --- MPN-X1 ------------------------------------------------------------------------------------------------
def misalignment_curve(ctx: AnalysisContext, levels: Sequence[float] = MISALIGNMENT_LEVELS) -> dict[str, np.ndarray]:
    """Metrics of the trained model at each misalignment level of the run's own dataset.

    Returns ``levels`` (L,) and one (L,) array per scalar metric of the evaluation (``mAP``,
    ``mAP_trapezoid``, ``rank1``, ...), or ``{}`` if the dataset has no ``misalignment`` knob.
    """
    cfg = ctx.config
    rows: list[dict[str, float]] = []
    for level in levels:
        kw = {**cfg.data.dataset_kwargs, "misalignment": float(level)}
        try:
            ds = build_dataset(cfg.data.dataset, **kw)
        except TypeError as e:  # a real dataset: no knob to turn
            warnings.warn(f"mpn_misalignment: dataset {cfg.data.dataset!r} has no misalignment knob ({e}); skipped",
                          stacklevel=2)
            return {}
        query, gallery = (ds.load_split(s, tuple(cfg.data.size)) for s in ("query", "gallery"))
        run_cfg = merge(cfg, {"data": {"dataset_kwargs": kw}})
        rows.append(evaluate_run(ctx.model, query, gallery, run_cfg, ctx.device, ctx.amp_dtype, rerank=False))
    keys = [k for k in rows[0] if all(np.isscalar(r.get(k)) for r in rows)]
    out = {"levels": np.asarray(levels, dtype=np.float32)}
    out.update({k: np.asarray([r[k] for r in rows], dtype=np.float32) for k in keys})
    return out


@register_hook("mpn_misalignment")
def mpn_misalignment(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """MPN-X1: see :func:`misalignment_curve` (any ReID model works, not only MPN)."""
    return misalignment_curve(ctx)


# --- MPN-X3 ------------------------------------------------------------------------------------------------
@torch.no_grad()
def channel_heights(backbone: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Body-relative height of every backbone output channel, averaged over images.

    For image i and channel c, the activation-weighted mean row of F_c (rows at their centres,
    in image pixels) is expressed relative to the body ROI of the mask: 0 = top of the body
    (head), 1 = bottom (feet). Channels silent on an image are left out of its mean.

    Args:
        images: (N, 3, H, W) normalised; masks: (N, H, W) part labels.
    Returns:
        (C,) float32 (NaN for a channel silent on every image).
    """
    fmap = backbone(images).float().clamp_min(0)  # (N, C, h, w); ReLU output, clamp guards other trunks
    n, c, h, _ = fmap.shape
    img_h = images.shape[2]
    prof = fmap.mean(3)  # (N, C, h)
    mass = prof.sum(2)  # (N, C)
    centres = (torch.arange(h, dtype=torch.float32, device=fmap.device) + 0.5) * img_h / h
    y = (prof * centres).sum(2) / mass.clamp_min(1e-12)  # (N, C) image rows
    top, bot, _ = body_rows(masks.to(fmap.device).long())
    rel = (y - top[:, None].float()) / (bot - top + 1)[:, None].float()
    on = mass > 1e-6
    return ((rel * on).sum(0) / on.sum(0).clamp_min(1)).where(on.any(0), torch.full((c,), float("nan"),
                                                                                    device=fmap.device)).cpu()


@register_hook("mpn_channels")
def mpn_channels(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """MPN-X3: ``importance`` (K, C) = column norms of each test-task conv1, ``channel_height`` (C,)
    body-relative channel heights on query images, ``part_height`` (K,) = the importance-weighted
    mean height per part (claim C8 expects it to grow with k for MPN, to be flat for MT Only)."""
    if not _is_mpn(ctx.model):
        return {}
    model = ctx.model
    imp = model.channel_importance().float().cpu()  # (K, C)
    out = {"importance": imp.numpy()}
    idx = _with_masks(ctx.query, N_CAM_IMAGES)
    if len(idx) == 0:
        return out
    images = normalize(ctx.query.images[idx].to(ctx.device))
    height = channel_heights(model.backbone, images, ctx.query.masks[idx])
    ok = ~torch.isnan(height)
    w = imp * ok
    part_height = (w * torch.nan_to_num(height)).sum(1) / w.sum(1).clamp_min(1e-12)
    out.update(channel_height=height.numpy(), part_height=part_height.numpy())
    return out


# --- MPN-X4 ------------------------------------------------------------------------------------------------
def part_cams(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """(K, N, H, W) Grad-CAM of each part task's top-1 logit at ``backbone.layer4[-1]``.

    Test identities are unseen in training, so the target is the classifier's top-1 class
    (spec A22). ``images``: (N, 3, H, W) normalised, on the model's device.
    """
    k = model.cfg.num_parts
    with torch.enable_grad():
        return np.stack([grad_cam(lambda x, p=p: model.part_logits(x, p), model, model.backbone.layer4[-1], images)
                         for p in range(k)])


def cam_strip_scores(cams: np.ndarray, masks: torch.Tensor) -> dict[str, np.ndarray]:
    """Score K part-task CAMs against the K strips of the ground-truth body ROI.

    Args:
        cams: (K, N, H, W) in [0, 1]; masks: (N, H, W) part labels.
    Returns:
        ``strip_mass`` (K, N, K + 1): fraction of part task k's CAM mass on strip j (column 0 =
        outside the ROI), NaN for an all-zero CAM; ``hit_rate`` (K,) = mean over the non-empty CAMs
        of strip_mass[k, :, k + 1]; ``cam_height`` (K, N): body-relative height of each CAM's mass
        (0 = top of the body), NaN for an all-zero CAM;
        ``correlation`` (K, K) mean over images of the Pearson correlation between part CAMs;
        ``mean_correlation`` (N,): per image, its mean off-diagonal correlation (CAM diversity).
    """
    k, n, h, _ = cams.shape
    labels = strip_labels(masks.long().cpu(), k)
    strip_mass = np.stack([cam_part_statistics(cams[p], labels, num_classes=k + 1)["part_mass"] for p in range(k)])
    # a CAM with no positive evidence (all zero after Grad-CAM's ReLU) has no mass to place: NaN, not 0 on every strip
    empty = cams.reshape(k, n, -1).sum(2) <= 0  # (K, N)
    strip_mass[empty] = np.nan
    hit = np.asarray([np.nanmean(strip_mass[p, :, p + 1]) if (~empty[p]).any() else np.nan for p in range(k)])
    top, bot, _ = body_rows(masks.long().cpu())
    rows = (np.arange(h) + 0.5)[None, :]
    prof = cams.sum(3)  # (K, N, H)
    y = (prof * rows).sum(2) / np.maximum(prof.sum(2), 1e-12)
    height = (y - top.numpy()[None]) / (bot - top + 1).numpy()[None]
    height[empty] = np.nan
    flat = cams.reshape(k, n, -1).transpose(1, 0, 2)  # (N, K, HW)
    flat = flat - flat.mean(2, keepdims=True)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=2, keepdims=True), 1e-12)
    corr = flat @ flat.transpose(0, 2, 1)  # (N, K, K)
    off = (corr.sum((1, 2)) - np.trace(corr, axis1=1, axis2=2)) / max(1, k * (k - 1))
    return {"strip_mass": strip_mass.astype(np.float32), "hit_rate": hit.astype(np.float32),
            "cam_height": height.astype(np.float32), "correlation": corr.mean(0).astype(np.float32),
            "mean_correlation": off.astype(np.float32)}


@register_hook("mpn_gradcam")
def mpn_gradcam(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """MPN-X4 (and the maps of MPN-F7/F8): :func:`cam_strip_scores` on the first
    ``N_CAM_IMAGES`` query images with a body mask, plus ``maps`` (n, K, H, W) float16 CAMs,
    ``images`` (n, 3, H, W) uint8 and ``masks`` (n, H, W) uint8 of the first ``N_CAM_MAPS``."""
    if not _is_mpn(ctx.model):
        return {}
    idx = _with_masks(ctx.query, N_CAM_IMAGES)
    if len(idx) == 0:
        return {}
    images = normalize(ctx.query.images[idx].to(ctx.device))
    cams = part_cams(ctx.model, images)
    out = cam_strip_scores(cams, ctx.query.masks[idx])
    m = min(N_CAM_MAPS, len(idx))
    out.update(maps=cams[:, :m].transpose(1, 0, 2, 3).astype(np.float16),
               images=ctx.query.images[idx[:m]].cpu().numpy().astype(np.uint8),
               masks=ctx.query.masks[idx[:m]].cpu().numpy().astype(np.uint8),
               query_index=idx.numpy().astype(np.int32))
    return out


# --- MPN-F2 ------------------------------------------------------------------------------------------------
#: well-aligned query images scored for channel selection / images whose maps are kept; height bins of the body
N_CHANNEL_IMAGES, N_CHANNEL_MAPS, HEIGHT_BINS = 64, 4, 5


@torch.no_grad()
def channel_peak_heights(fmap: torch.Tensor, masks: torch.Tensor, image_h: int) -> torch.Tensor:
    """Body-relative height (0 = top of the body, 1 = its bottom) of each channel's peak row, per image.

    ``fmap`` (N, C, h, w) backbone output, ``masks`` (N, H, W) part labels. The peak row is the argmax of the
    width-mean profile, at its centre in image rows. Returns (N, C) float32.
    """
    prof = fmap.float().mean(3)                                           # (N, C, h)
    h = prof.shape[2]
    y = (prof.argmax(2).float() + 0.5) * image_h / h                      # (N, C) image rows
    top, bot, _ = body_rows(masks.to(fmap.device).long())
    return (y - top[:, None].float()) / (bot - top + 1)[:, None].float()


@register_hook("mpn_channel_maps")
def mpn_channel_maps(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """MPN-F2: one layer4 channel per fifth of the body height that fires there consistently.

    On the first ``N_CHANNEL_IMAGES`` query images with a body, rendered at misalignment 0: among the channels
    whose mean activation is in the top quarter, for each of ``HEIGHT_BINS`` bins of body-relative height the channel
    whose mean peak height falls in the bin with the smallest spread (std over images). Returns ``channels`` (B,)
    (-1 for an empty bin), ``peak_mean`` / ``peak_std`` (B,), ``all_peak_std`` (C,) for comparison, ``maps``
    (n, B, h, w) float16 min-max normalised per map, ``images`` (n, 3, H, W) uint8 of the first
    ``N_CHANNEL_MAPS`` images. ``{}`` for non-MPN models, data without masks or without a misalignment knob.
    """
    cfg = ctx.config
    if not _is_mpn(ctx.model) or not str(cfg.data.dataset).startswith("synth"):
        return {}
    q = build_dataset(cfg.data.dataset, **{**cfg.data.dataset_kwargs, "misalignment": 0.0}).load_split(
        "query", tuple(cfg.data.size))
    idx = _with_masks(q, N_CHANNEL_IMAGES)
    if len(idx) == 0:
        return {}
    with eval_mode(ctx.model), torch.no_grad():
        fmap = ctx.model.backbone(normalize(q.images[idx].to(ctx.device))).float()
    peaks = channel_peak_heights(fmap, q.masks[idx], q.images.shape[2]).cpu()      # (N, C)
    act = fmap.mean((0, 2, 3)).cpu()                                               # (C,)
    mean, std = peaks.mean(0), peaks.std(0)
    strong = act >= act.quantile(0.75)
    chosen, pm, ps = [], [], []
    for b in range(HEIGHT_BINS):
        inside = strong & (mean >= b / HEIGHT_BINS) & (mean < (b + 1) / HEIGHT_BINS)
        if not inside.any():
            chosen.append(-1), pm.append(float("nan")), ps.append(float("nan"))
            continue
        c = int(torch.where(inside, std, torch.full_like(std, float("inf"))).argmin())
        chosen.append(c), pm.append(float(mean[c])), ps.append(float(std[c]))
    m = min(N_CHANNEL_MAPS, len(idx))
    maps = torch.stack([fmap[:m, c] if c >= 0 else torch.zeros_like(fmap[:m, 0]) for c in chosen], 1).cpu()
    lo, hi = maps.amin((2, 3), keepdim=True), maps.amax((2, 3), keepdim=True)
    return {"channels": np.asarray(chosen, dtype=np.int32), "peak_mean": np.asarray(pm, dtype=np.float32),
            "peak_std": np.asarray(ps, dtype=np.float32), "all_peak_std": std.numpy().astype(np.float32),
            "maps": ((maps - lo) / (hi - lo).clamp_min(1e-12)).numpy().astype(np.float16),
            "images": q.images[idx[:m]].cpu().numpy().astype(np.uint8)}


# --- MPN-F8 ------------------------------------------------------------------------------------------------
#: MPN-F8's nuisance groups (the paper's (a, b) detector errors, (c) pose, (d) clutter / occlusion): knob overrides
NUISANCES: dict[str, dict[str, float]] = {"detector error": {"misalignment": 0.9}, "pose": {"pose": 1.0},
                                          "clutter": {"clutter": 1.0}, "occlusion": {"occlusion": 0.9}}
#: images per group scored / kept as maps
N_NUISANCE_IMAGES, N_NUISANCE_MAPS = 16, 2


@register_hook("mpn_nuisance_cams")
def mpn_nuisance_cams(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """MPN-F8: per group of :data:`NUISANCES`, :func:`cam_strip_scores`'s ``hit_rate`` (K,) and
    ``mean_correlation`` over the first ``N_NUISANCE_IMAGES`` query images with a body mask, and the first
    ``N_NUISANCE_MAPS`` images (uint8), masks and CAMs (float16, (n, K, H, W)). Keys are ``<group>/<name>``
    with spaces as underscores; ``groups`` lists the group names. ``{}`` for non-MPN models or non-SynthReID data.
    """
    cfg = ctx.config
    if not _is_mpn(ctx.model) or not str(cfg.data.dataset).startswith("synth"):
        return {}
    out: dict[str, np.ndarray] = {"groups": np.asarray(list(NUISANCES))}
    for group, knobs in NUISANCES.items():
        q = build_dataset(cfg.data.dataset, **{**cfg.data.dataset_kwargs, **knobs}).load_split("query",
                                                                                               tuple(cfg.data.size))
        idx = _with_masks(q, N_NUISANCE_IMAGES)
        if len(idx) == 0:
            continue
        cams = part_cams(ctx.model, normalize(q.images[idx].to(ctx.device)))
        s = cam_strip_scores(cams, q.masks[idx])
        key = group.replace(" ", "_")
        m = min(N_NUISANCE_MAPS, len(idx))
        out.update({f"{key}/hit_rate": s["hit_rate"], f"{key}/mean_correlation": s["mean_correlation"],
                    f"{key}/maps": cams[:, :m].transpose(1, 0, 2, 3).astype(np.float16),
                    f"{key}/images": q.images[idx[:m]].cpu().numpy().astype(np.uint8),
                    f"{key}/masks": q.masks[idx[:m]].cpu().numpy().astype(np.uint8)})
    return out


# --- MPN-X5 ------------------------------------------------------------------------------------------------
#: test-time prior noise levels of MPN-X5 (``MPN.at_embedding(prior_noise=...)``; 0 = exact masks)
TEST_PRIOR_NOISE: tuple[float, ...] = (0.0, 0.5, 1.0)


@torch.no_grad()
def at_features(model: torch.nn.Module, split: SplitTensors, noise: float, device: torch.device,
                batch_size: int = 128, seed: int = 0) -> torch.Tensor:
    """(N, K·d) AT descriptors of a split's images with their priors degraded by ``noise`` (no flip).

    The degradation draws from the global RNG; it is forked and seeded, so the result is reproducible and
    the caller's RNG state is left as it was.
    """
    out = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for i in range(0, len(split.images), batch_size):
            x = normalize(split.images[i:i + batch_size].to(device))
            m = split.masks[i:i + batch_size].to(device).long()
            out.append(model.at_embedding(x, m, prior_noise=noise).float().cpu())
    return torch.cat(out)


@register_hook("mpn_test_prior")
def mpn_test_prior(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """MPN-X5: retrieval with the MT descriptor (MPN's test feature) and with the AT descriptor built from
    test-time priors at each level of :data:`TEST_PRIOR_NOISE`, both without flip.

    Returns ``levels`` (L,), ``mt_mAP`` / ``mt_rank1`` (scalars: the MT descriptor has no prior to fail) and
    ``at_mAP`` / ``at_rank1`` / ``at_mAP_trapezoid`` (L,), in %. ``{}`` for models without auxiliary tasks or
    splits without masks.
    """
    model, q, g = ctx.model, ctx.query, ctx.gallery
    if not _is_mpn(model) or not getattr(model, "uses_at", False) or q.masks is None or g.masks is None:
        return {}
    with eval_mode(model):
        metric = ctx.config.eval.metric
        ids = (q.pids, g.pids, q.camids, g.camids)
        kw = dict(batch_size=ctx.config.eval.batch_size, flip=False, device=ctx.device, amp_dtype=ctx.amp_dtype)
        mt = evaluate(extract_features(model, q.images, **kw), extract_features(model, g.images, **kw), *ids,
                      metric=metric).to_dict()
        at: dict[str, list[float]] = {"mAP": [], "rank1": [], "mAP_trapezoid": []}
        for level in TEST_PRIOR_NOISE:
            r = evaluate(at_features(model, q, level, ctx.device), at_features(model, g, level, ctx.device, seed=1),
                         *ids, metric=metric).to_dict()
            for k in at:
                at[k].append(r[k])
    return {"levels": np.asarray(TEST_PRIOR_NOISE, dtype=np.float32), "mt_mAP": np.float32(mt["mAP"]),
            "mt_rank1": np.float32(mt["rank1"]), "mt_mAP_trapezoid": np.float32(mt["mAP_trapezoid"]),
            **{f"at_{k}": np.asarray(v, dtype=np.float32) for k, v in at.items()}}
