"""Analysis hooks of the RMGL chapter (spec ``papers/rmgl.md``; notebook ``notebooks/rmgl.py``).

Both hooks run at the end of training on the trained model, so the chapter needs no checkpoint:

* ``rmgl_receptive_rows`` (RMGL-X1, RMGL-F1, RMGL-F3a): the input-row profile of the gradient of
  every local stripe feature, for the original path (output partition, OP) and the receptive
  path (RP) of the trained model, and for *untrained* models of the same configuration with the
  RP cut at every position (IP, res2 ... res5). With BN in eval mode a row outside a feature's
  receptive region gets a gradient of exactly 0, so the profiles' support is the measured region.
* ``rmgl_misalignment`` (RMGL-X3, RMGL-T5's ABP rows, RMGL-X2, RMGL-F5): the trained model evaluated
  on SynthReID's test split re-rendered at several ``misalignment`` levels (same people, only the
  boxes change), each level with ABP stripes *and* uniform stripes at test time. ABP is a test-time
  switch (rmgl.md §2.6, A14 i), so one forward pass gives both descriptors: the uniform descriptor
  comes from the model with ``test_stripes="uniform"``, and the ABP one re-pools the same
  original-path maps with :func:`~partreid_core.models.rmgl.abp_boundaries`. The ABP row boundaries
  of the first query images are kept with the person's true vertical offset (``shift_y``) and scale.
"""
from __future__ import annotations

import contextlib
import math
from contextlib import contextmanager

import numpy as np
import torch

from ...data import build_dataset
from ...data.synth.scene import Knobs
from ...data.transforms import normalize
from ...data.types import SplitTensors
from ...engine.hooks import AnalysisContext, bn_eval_forward
from ...evaluation.metrics import evaluate
from ...models.backbones import undo_zero_init
from ...models.rmgl import RMGL, RP_POSITIONS, abp_boundaries, pool_rows
from ..hooks import register_hook
from ..saliency import input_gradient_rows

#: test misalignment levels of RMGL-X3 (SynthReID's default, used in training, is 0.3)
MISALIGNMENT_LEVELS: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9)
#: query images whose ABP boundaries are kept per level (RMGL-X2 / RMGL-F5)
BOUNDARY_IMAGES = 256
#: images averaged in the gradient row profiles (RMGL-X1)
GRADIENT_IMAGES = 8


@contextmanager
def stripes_mode(model: RMGL, mode: str):
    """Temporarily set the test-time stripes (``"abp"`` / ``"uniform"``) of an RMGL model."""
    saved = model.cfg.test_stripes
    model.cfg.test_stripes = mode
    try:
        yield model
    finally:
        model.cfg.test_stripes = saved


# ------------------------------------------------------------------------------------------------
# RMGL-X1: receptive regions of the stripe features
# ------------------------------------------------------------------------------------------------
def stripe_row_profiles(model: RMGL, images: torch.Tensor, path: str) -> np.ndarray:
    """Mean input-gradient row profile of every local stripe feature of ``path``.

    Args:
        model: an RMGL in eval mode (original-path stripes should be uniform: see :func:`stripes_mode`).
        images: normalised float (N, 3, H, W).
        path: ``"orig"`` or ``"rp"``.
    Returns:
        (P, H) float32: for each stripe feature (in ``feature_names`` order), the share of
        |d ||f||^2 / d x| per input row, averaged over the images (each image's profile sums to 1).
    """
    with torch.no_grad():
        p = model.stripe_features(images[:1], path).shape[1]
    rows = [input_gradient_rows(lambda x, j=j: model.stripe_features(x, path)[:, j], images).mean(0)
            for j in range(p)]
    return torch.stack(rows).numpy().astype(np.float32)


def untrained_like(model: RMGL, **overrides) -> RMGL:
    """A freshly initialised RMGL with ``model``'s configuration changed by ``overrides`` (eval mode).

    The project's ResNet zero-initialises the last BN of every residual branch (each block starts as
    the identity, for training from scratch); an untrained network would then pass gradient through
    the shortcuts only and show a far smaller region than the architecture's. Those BN weights are set
    to 1 here so the measured support is the architectural one (rmgl.md §2.3, Eq. 5-6).
    """
    from dataclasses import replace

    torch.manual_seed(0)
    return undo_zero_init(RMGL(replace(model.cfg, **overrides), model.num_classes).eval())


@register_hook("rmgl_receptive_rows")
def rmgl_receptive_rows(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """Gradient row profiles of stripe features (RMGL-X1): trained OP / RP, untrained RP per cut position.

    Returns (P_o / P_r = number of original / RP stripe features, H = image height):
        ``orig_rows`` (P_o, H) and ``rp_rows`` (P_r, H) of the trained model (a path it lacks is absent);
        ``orig_names`` / ``rp_names`` the feature names; ``positions`` the cut positions (IP = "input");
        ``untrained_rp_rows`` (len(positions), P_r2, H) for an untrained dual-path model with each cut
        (P_r2 = sum of K over branches with K > 1), ``untrained_orig_rows`` (P_o2, H) its OP stripes.
        Non-RMGL models return nothing.
    """
    model = ctx.model
    if not isinstance(model, RMGL):
        return {}
    model.eval()
    images = normalize(ctx.query.images[:GRADIENT_IMAGES].to(ctx.device)).float()
    out: dict[str, np.ndarray] = {}
    names = model.feature_names
    with torch.enable_grad(), stripes_mode(model, "uniform"):
        for path in ("orig", "rp"):
            sel = [n for n, (_, p, s) in zip(names, model.feature_slots, strict=True) if p == path and s != "global"]
            if sel:
                out[f"{path}_rows"] = stripe_row_profiles(model, images, path)
                out[f"{path}_names"] = np.asarray(sel)
        # architecture-only reference: the receptive confinement does not depend on the weights
        positions = list(RP_POSITIONS)
        rp_by_pos = []
        for pos in positions:
            fresh = untrained_like(model, paths="dual", rp_position=pos, test_stripes="uniform").to(ctx.device)
            rp_by_pos.append(stripe_row_profiles(fresh, images, "rp"))
        out["untrained_rp_rows"] = np.stack(rp_by_pos)
        out["untrained_orig_rows"] = stripe_row_profiles(fresh, images, "orig")
        out["positions"] = np.asarray(positions)
    return out


# ------------------------------------------------------------------------------------------------
# RMGL-X3 / ABP vs uniform: one trained model at several misalignment levels
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def abp_and_uniform_embeddings(model: RMGL, images: torch.Tensor, *, flip: bool = True, batch_size: int = 256,
                               device: torch.device | None = None, amp_dtype: torch.dtype | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Test descriptors with ABP and with uniform original-path stripes, from one forward pass per image.

    Args:
        model: an RMGL (put in eval mode here; its mode is restored).
        images: uint8 (N, 3, H, W).
        flip: average the descriptors of the image and its horizontal flip (as the evaluation does).
    Returns:
        ``(abp (N, D), uniform (N, D), bounds)`` float32 on CPU; ``bounds`` holds, per branch with
        original-path stripes, the ABP row boundaries (N, K + 1) of the un-flipped images (final-map rows).
        For a model without original-path stripes (only RP) both descriptors are the same.
    """
    device = device or next(model.parameters()).device
    was = model.training
    model.eval()
    cfg = model.cfg
    autocast = (torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())
    orig_branches = [(b, k) for b, k in enumerate(model.stripes) if model._has_orig(k) and k > 1]
    slot_index = {slot: i for i, slot in enumerate(model.feature_slots)}

    def embed(x: torch.Tensor, keep_bounds: bool):
        with autocast, stripes_mode(model, "uniform"):
            p = model._pooled(x)
            uni = list(p["vectors"])
            abp = list(uni)
            bounds = []
            for b, k in orig_branches:
                y = p["maps"][b]  # the original-path map of branch b (every branch appends one map)
                bd = abp_boundaries(y, k)
                st = pool_rows(y, bd, cfg.abp_pool)
                for s in range(k):
                    abp[slot_index[(b, "orig", s)]] = st[:, s]
                if keep_bounds:
                    bounds.append(bd.cpu())
            e_u = torch.cat(model._reduce_all(uni), 1).float()
            e_a = torch.cat(model._reduce_all(abp), 1).float()
        return e_a, e_u, bounds

    abps, unis, bounds = [], [], []
    try:
        for s in range(0, images.shape[0], batch_size):
            x = normalize(images[s:s + batch_size].to(device))
            a, u, bd = embed(x, True)
            if flip:
                a2, u2, _ = embed(x.flip(3), False)
                a, u = (a + a2) / 2, (u + u2) / 2
            abps.append(a.cpu())
            unis.append(u.cpu())
            bounds.append(bd)
    finally:
        model.train(was)
    per_branch = [torch.cat([b[i] for b in bounds]) for i in range(len(orig_branches))]
    return torch.cat(abps), torch.cat(unis), per_branch


def _split_at(ctx: AnalysisContext, level: float) -> tuple[SplitTensors, SplitTensors]:
    """Query and gallery of the run's dataset with ``misalignment=level`` (the run's own splits at its level)."""
    cfg = ctx.config
    kw = dict(cfg.data.dataset_kwargs)
    native = float(kw.get("misalignment", Knobs().misalignment))
    if math.isclose(level, native):
        return ctx.query, ctx.gallery
    ds = build_dataset(cfg.data.dataset, **{**kw, "misalignment": level})
    return ds.load_split("query", tuple(cfg.data.size)), ds.load_split("gallery", tuple(cfg.data.size))


@register_hook("rmgl_misalignment")
def rmgl_misalignment(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """Retrieval with ABP vs uniform test stripes at each SynthReID misalignment level (RMGL-X3, T5, X2).

    Returns (L = number of levels):
        ``levels`` (L,); for metric in rank1, mAP, mAP_trapezoid, mINP and mode in abp, uniform:
        ``<metric>_<mode>`` (L,) in percent (no re-ranking);
        ``bounds_K<k>`` (L, n, k + 1) ABP boundaries (final-map rows) of the first n query images for each
        branch with original-path stripes (``map_height`` (1,) gives the final-map height);
        ``shift_y`` / ``scale`` (L, n): the person's true vertical offset and scale in those images
        (SynthReID ``meta``; absent on other datasets). Only the native split is evaluated on a
        dataset that is not SynthReID (``levels`` = [nan]). Non-RMGL models return nothing.
    """
    model = ctx.model
    if not isinstance(model, RMGL):
        return {}
    cfg = ctx.config
    synthetic = str(cfg.data.dataset).startswith("synth")
    levels = MISALIGNMENT_LEVELS if synthetic else (float("nan"),)

    keys = ("rank1", "mAP", "mAP_trapezoid", "mINP")
    res: dict[str, list[float]] = {f"{k}_{m}": [] for k in keys for m in ("abp", "uniform")}
    bounds: dict[int, list[np.ndarray]] = {}
    meta: dict[str, list[np.ndarray]] = {"shift_y": [], "scale": []}
    map_h = 0
    for level in levels:
        query, gallery = (ctx.query, ctx.gallery) if not synthetic else _split_at(ctx, level)
        kw = dict(flip=cfg.eval.flip, batch_size=cfg.eval.batch_size, device=ctx.device, amp_dtype=ctx.amp_dtype)
        qa, qu, qb = abp_and_uniform_embeddings(model, query.images, **kw)
        ga, gu, _ = abp_and_uniform_embeddings(model, gallery.images, **kw)
        ids = (query.pids, gallery.pids, query.camids, gallery.camids)
        for mode, (qf, gf) in (("abp", (qa, ga)), ("uniform", (qu, gu))):
            m = evaluate(qf, gf, *ids, metric=cfg.eval.metric).to_dict()
            for k in keys:
                res[f"{k}_{mode}"].append(m[k])
        n = min(BOUNDARY_IMAGES, len(query))
        ks = [k for k in model.stripes if model._has_orig(k) and k > 1]
        for k, bd in zip(ks, qb, strict=True):
            bounds.setdefault(k, []).append(bd[:n].numpy().astype(np.int16))
            map_h = int(bd[0, -1])
        for key in meta:
            if key in query.meta:
                meta[key].append(query.meta[key][:n].numpy().astype(np.float32))
    out: dict[str, np.ndarray] = {"levels": np.asarray(levels, dtype=np.float32)}
    out.update({k: np.asarray(v, dtype=np.float32) for k, v in res.items()})
    out.update({f"bounds_K{k}": np.stack(v) for k, v in bounds.items()})
    out.update({k: np.stack(v) for k, v in meta.items() if len(v) == len(levels)})
    if bounds:
        out["map_height"] = np.asarray([map_h])
    return out


# ------------------------------------------------------------------------------------------------
# RMGL-F4: response maps of the original and receptive paths
# ------------------------------------------------------------------------------------------------
#: query images whose response maps are kept for the figure / scored for the concentration proxies
RESPONSE_EXAMPLES, RESPONSE_IMAGES = 6, 64


def response_maps(model: RMGL, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Channel-mean response of the final maps, per local branch and path: ``{"O-2": (N, h, w), "RP-2": ...}``.

    ``images`` are normalised (N, 3, H, W). The model runs its training-mode forward (for the maps in
    ``aux``) with every BN and dropout in eval mode, so nothing is updated. RP maps are the shards
    re-assembled along height, as the model returns them (rmgl.md RMGL-F4).
    """
    with torch.no_grad(), bn_eval_forward(model):
        out = model(images)
    maps, rp_maps = list(out.aux["feature_maps"]), list(out.aux["rp_feature_maps"])
    res: dict[str, torch.Tensor] = {}
    for k in model.stripes:
        o = maps.pop(0) if model._has_orig(k) else None
        r = rp_maps.pop(0) if model._has_rp(k) else None
        if k > 1:
            if o is not None:
                res[f"O-{k}"] = o.float().mean(1)
            if r is not None:
                res[f"RP-{k}"] = r.float().mean(1)
    return res


def response_concentration(resp: torch.Tensor, fg: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Concentration proxies of responses (N, h, w) (rmgl.md RMGL-F4, "quantitative proxy").

    ``row_entropy``: entropy of the row marginal of the (non-negative) response over log(h), in [0, 1]
    (lower = more concentrated in height); ``fg_mass``: share of the response on the person, ``fg``
    being (N, h, w) foreground fractions of each map cell (absent without masks).
    """
    r = resp.clamp_min(0)
    rows = r.sum(2)
    p = rows / rows.sum(1, keepdim=True).clamp_min(1e-12)
    ent = -(p * p.clamp_min(1e-12).log()).sum(1) / math.log(r.shape[1])
    out = {"row_entropy": ent}
    if fg is not None:
        out["fg_mass"] = (r * fg).sum((1, 2)) / r.sum((1, 2)).clamp_min(1e-12)
    return out


@register_hook("rmgl_response_maps")
def rmgl_response_maps(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """RMGL-F4: response maps O-K / RP-K on the first query images and their concentration proxies.

    Returns ``names`` (M,) map names, per name ``maps/<name>`` (n, h, w) float16 min-max normalised per map
    for the first ``RESPONSE_EXAMPLES`` query images (an RP map's height is the sum of its shards' heights,
    which can differ from the original map's), ``images`` (n, 3, H, W) uint8, and per name
    ``row_entropy/<name>`` and ``fg_mass/<name>`` (N,) over the first ``RESPONSE_IMAGES`` query images
    (fg_mass only with part masks). Non-RMGL models return nothing.
    """
    model = ctx.model
    if not isinstance(model, RMGL):
        return {}
    n = min(RESPONSE_IMAGES, len(ctx.query))
    images = normalize(ctx.query.images[:n].to(ctx.device))
    resp = response_maps(model, images)
    if not resp:
        return {}
    names = sorted(resp, key=lambda s: (s.split("-")[0] != "O", int(s.split("-")[1])))
    out: dict[str, np.ndarray] = {"names": np.asarray(names), "images": ctx.query.images[:RESPONSE_EXAMPLES].numpy()}
    for k in names:
        ex = resp[k][:RESPONSE_EXAMPLES]
        lo, hi = ex.amin((1, 2), keepdim=True), ex.amax((1, 2), keepdim=True)
        out[f"maps/{k}"] = ((ex - lo) / (hi - lo).clamp_min(1e-12)).cpu().numpy().astype(np.float16)
        fg = None
        if ctx.query.masks is not None:
            m = (ctx.query.masks[:n].to(ctx.device) != 0) & (ctx.query.masks[:n].to(ctx.device) != 255)
            fg = torch.nn.functional.adaptive_avg_pool2d(m[:, None].float(), resp[k].shape[-2:])[:, 0]
        for stat, v in response_concentration(resp[k], fg).items():
            out[f"{stat}/{k}"] = v.cpu().numpy().astype(np.float32)
    return out
