"""Analysis hooks of the CGPN chapter (cgpn.md §10, artefacts CGPN-X1 and CGPN-X2).

``cgpn_knobs`` (CGPN-X1, claims C1/C3/C7): the trained model evaluated on SynthReID test sets whose
occlusion or truncation (part-missing box) rate grows. It does what
:func:`partreid_core.experiments.robustness.evaluate_under_knob` does for a checkpoint, but from the
:class:`AnalysisContext` at the end of training (no checkpoint is committed). Both curves start
from a *clean* base (the run's dataset keywords with ``occlusion=0, truncation=0``) and raise one
knob at a time, so level 0 is shared and each curve isolates its knob. The test identities and
their per-image draws do not depend on the knobs (robustness.py), so every level shows the same
people. [CHOICE] Levels 0, 0.45, 0.9 (5 evaluations in all) and no flip-TTA or re-ranking, to keep
the hook near a minute on one shared CPU core (measured: ~15 s per evaluation of a width-0.25 CGPN
on synth-s 128x64); every model gets the same treatment, and the headline metrics.json (default
knobs, flip) is unaffected.

``cgpn_parts`` (CGPN-X2, claim C6): does each global head of CGPN (``conv_1`` -> upper, ``conv_2``
-> lower, pulled by the MSE towards the half-map maxima) attend to the upper or lower body? Three
test conditions rendered from the same identities: holistic (clean base), occluded (occlusion 0.9,
images with an occluder) and part-missing (truncation 0.9, truncated images). Two measures:

* channel peaks (the spec's C6 measure): for each channel of ``conv_p(T_i)`` the spatial argmax
  cell of the h x w map; the cell's composition (background / upper / lower body pixels of the
  exact part mask, averaged over the cell) is accumulated. ``area_share`` is the same composition
  averaged over all cells, i.e. what a head peaking at random positions would score;
* Grad-CAM (:func:`partreid_core.analysis.grad_cam`) of each head's score ``sum_c GMP(conv_p(T_i))_c``
  with the branch's last stage as target layer, scored by
  :func:`partreid_core.analysis.cam_part_statistics` against the masks. Grad-CAM weights the channels of
  T by the score's gradient and sums them over the whole map, so for the two fixed stripes it is not
  position-bound (their channel weights come from one half, the activations from everywhere); the
  channel-peak measure is the one that separates position from content.

Heads are ordered ``[b1 conv_1, b1 conv_2, b2 conv_1, b2 conv_2, b3 conv_1, b3 conv_2,
b1 upper stripe, b1 lower stripe]``: the last two are branch 1's position-bound half-map maxima
(the MSE targets f_gl1/f_gl2, = CGPN's f_l1^1/f_l2^1 before reduction), the comparison the spec
asks for. Upper body = head, torso, upper/lower arm (mask classes 1-4); lower = upper/lower leg,
foot (5-7). Models without the two-conv global head (MGN, CGPN-3, plain) return nothing.

``cgpn_single_window`` (CGPN-X3, claim C8): retrieval with one 256-d feature of the test descriptor at a time,
on the holistic test split (clean base) and on the S-occluded one (occlusion 0.6, truncation 0.3, the
``cgpn-occluded`` training condition), with each feature's window height fraction (1 for a global feature).
"""
from __future__ import annotations

import numpy as np
import torch

from ...data import build_dataset
from ...data.transforms import normalize
from ...data.types import SplitTensors
from ...engine.hooks import AnalysisContext, eval_mode
from ...evaluation import evaluate_model
from ...evaluation.features import extract_features
from ...models.cgpn import SupervisedGlobalHead, rows_gmp, stripe_bounds
from ..cam import cam_part_statistics, grad_cam
from ..hooks import register_hook
from ..retrieval import block_metrics

#: knob levels of the CGPN-X1 curves (level 0 = the clean base, shared by both curves)
KNOB_LEVELS: tuple[float, ...] = (0.0, 0.45, 0.9)
KNOBS: tuple[str, ...] = ("occlusion", "truncation")
#: X2 test conditions: (name, knob overrides on the clean base, meta selector)
CONDITIONS: tuple[str, ...] = ("holistic", "occluded", "part_missing")
UPPER_CLASSES: tuple[int, ...] = (1, 2, 3, 4)
LOWER_CLASSES: tuple[int, ...] = (5, 6, 7)
HEAD_NAMES: tuple[str, ...] = ("b1 conv1 (upper)", "b1 conv2 (lower)", "b2 conv1 (upper)", "b2 conv2 (lower)",
                               "b3 conv1 (upper)", "b3 conv2 (lower)", "b1 upper stripe", "b1 lower stripe")
#: images per condition for channel peaks / Grad-CAM, and example maps kept
N_PEAK_IMAGES = 128
N_CAM_IMAGES = 24
N_EXAMPLES_PER_CONDITION = 2


def _is_synth(name: str) -> bool:
    return name.startswith("synth")


def _clean_kwargs(ctx: AnalysisContext) -> dict:
    return {**ctx.config.data.dataset_kwargs, "occlusion": 0.0, "truncation": 0.0}


def _test_splits(ctx: AnalysisContext, **knobs) -> tuple[SplitTensors, SplitTensors]:
    ds = build_dataset(ctx.config.data.dataset, **{**_clean_kwargs(ctx), **knobs})
    size = tuple(ctx.config.data.size)
    return ds.load_split("query", size), ds.load_split("gallery", size)


@register_hook("cgpn_knobs")
def cgpn_knobs(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """CGPN-X1: mAP / rank-1 / mAP_trapezoid as occlusion and truncation grow (any model).

    Returns ``levels`` (L,) and, for each knob in :data:`KNOBS`, ``<knob>_mAP``, ``<knob>_rank1``,
    ``<knob>_mAP_trapezoid`` (L,), percent. Non-SynthReID datasets return nothing.
    """
    cfg = ctx.config
    if not _is_synth(cfg.data.dataset):
        return {}
    model = ctx.model
    out: dict[str, np.ndarray] = {"levels": np.asarray(KNOB_LEVELS, dtype=np.float32)}
    cache: dict[float, dict] = {}
    with eval_mode(model):
        for knob in KNOBS:
            rows = []
            for level in KNOB_LEVELS:
                if level == 0.0 and 0.0 in cache:  # the clean base is shared by both curves
                    rows.append(cache[0.0])
                    continue
                q, g = _test_splits(ctx, **{knob: float(level)})
                with torch.no_grad():
                    m = evaluate_model(model, q, g, metric=cfg.eval.metric, flip=False, rerank=False,
                                       batch_size=cfg.eval.batch_size, device=ctx.device, amp_dtype=ctx.amp_dtype)
                if level == 0.0:
                    cache[0.0] = m
                rows.append(m)
            for key in ("mAP", "rank1", "mAP_trapezoid"):
                out[f"{knob}_{key}"] = np.asarray([r[key] for r in rows], dtype=np.float32)
    return out


def _condition_images(ctx: AnalysisContext, condition: str, n: int) -> SplitTensors | None:
    """Up to ``n`` query images of one X2 condition (holistic / occluded / part_missing)."""
    if condition == "holistic":
        q, _ = _test_splits(ctx)
        keep = torch.ones(len(q), dtype=torch.bool)
    elif condition == "occluded":
        q, _ = _test_splits(ctx, occlusion=0.9)
        keep = q.meta["n_occluders"] > 0
    elif condition == "part_missing":
        q, _ = _test_splits(ctx, truncation=0.9)
        keep = q.meta["truncated"] > 0
    else:
        raise ValueError(f"cgpn_parts: unknown condition {condition!r}; expected one of {CONDITIONS}")
    idx = torch.nonzero(keep).flatten()[:n]
    if len(idx) == 0:
        return None
    return SplitTensors(q.images[idx], q.pids[idx], q.camids[idx], None if q.masks is None else q.masks[idx])


def _cell_composition(masks: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """masks (N, H, W) uint8 -> (N, 3, h, w): fraction of background / upper / lower pixels per map cell
    (unlabelled 255 pixels count as background)."""
    m = masks.long()
    upper = sum((m == c) for c in UPPER_CLASSES).float()
    lower = sum((m == c) for c in LOWER_CLASSES).float()
    comp = torch.stack([1.0 - upper - lower, upper, lower], 1)  # (N, 3, H, W)
    return torch.nn.functional.adaptive_avg_pool2d(comp, (h, w))


def _head_maps(model: torch.nn.Module, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per global head, conv_p(T_i) (N, C, h, w), and the branch maps T_i."""
    x = model.trunk(images)
    maps, heads = [], []
    for i, branch in enumerate(model.branches):
        t = branch(x)
        maps.append(t)
        heads += [conv(t) for conv in model.global_heads[i].convs]
    return heads, maps


def _score_fns(model: torch.nn.Module) -> list[tuple]:
    """(score_fn, target_layer) per entry of :data:`HEAD_NAMES`; score (N, 1)."""
    fns = []
    for i, branch in enumerate(model.branches):
        for p in range(2):
            def fn(x, i=i, p=p):
                t = model.branches[i](model.trunk(x))
                return model.global_heads[i].convs[p](t).amax(dim=(2, 3)).sum(1, keepdim=True)
            fns.append((fn, branch[-1]))
    for p in range(2):
        def fn(x, p=p):
            t = model.branches[0](model.trunk(x))
            hb = stripe_bounds(t.shape[2], 2)
            return rows_gmp(t, hb[p], hb[p + 1]).sum(1, keepdim=True)
        fns.append((fn, model.branches[0][-1]))
    return fns


@register_hook("cgpn_parts")
def cgpn_parts(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """CGPN-X2: where the global heads look, per condition (see the module docstring).

    Returns (K = 3 conditions, J = 8 heads of :data:`HEAD_NAMES`, 8 mask classes):
      ``peak_composition`` (K, J, 3): bg / upper / lower share at the channel-peak cells (stripes: the
      cells of the stripe rows' peaks are computed the same way from T_1);
      ``area_share`` (K, 3): the same composition averaged over all cells (chance level);
      ``cam_part_mass`` (K, J, 8): mean Grad-CAM mass per mask class; ``cam_body_mass`` (K, J);
      ``head_target_cos`` (K, 6): mean cosine between f_gp and its half-map target f_glp;
      ``n_images`` (K,); ``example_images`` (E, 3, H, W) uint8, ``example_masks`` (E, H, W) uint8 and
      ``example_cams`` (E, J, H, W) float16, E = 2 per condition. Nothing for models without
      the two-conv global head or for data without masks.
    """
    model = ctx.model
    cfg = ctx.config
    if not hasattr(model, "global_heads") or not _is_synth(cfg.data.dataset):
        return {}
    was = model.training
    model.eval()
    device = ctx.device
    k, j = len(CONDITIONS), len(HEAD_NAMES)
    peak = np.full((k, j, 3), np.nan, np.float32)
    area = np.full((k, 3), np.nan, np.float32)
    mass = np.full((k, j, 8), np.nan, np.float32)
    body = np.full((k, j), np.nan, np.float32)
    cos = np.full((k, 6), np.nan, np.float32)
    n_img = np.zeros(k, np.int64)
    ex_img, ex_mask, ex_cam = [], [], []
    try:
        for ci, cond in enumerate(CONDITIONS):
            split = _condition_images(ctx, cond, N_PEAK_IMAGES)
            if split is None or split.masks is None:
                continue
            n_img[ci] = len(split)
            images = normalize(split.images.to(device)).float()
            with torch.no_grad():
                heads, maps = _head_maps(model, images)
                h, w = maps[0].shape[2:]
                comp = _cell_composition(split.masks.to(device), h, w)       # (N, 3, h, w)
                area[ci] = comp.mean(dim=(0, 2, 3)).cpu().numpy()
                t1 = maps[0]
                hb = [0, round(h / 2), h]
                stripe_maps = [t1[:, :, hb[p]:hb[p + 1]] for p in range(2)]
                for jj, fmap in enumerate(heads + stripe_maps):
                    row0 = 0 if jj < 6 else hb[jj - 6]
                    n, c, hh, ww = fmap.shape
                    flat = fmap.float().flatten(2).argmax(2)                   # (N, C) cell index
                    cells = comp[:, :, row0:row0 + hh].flatten(2)              # (N, 3, hh*ww)
                    picked = torch.gather(cells, 2, flat[:, None, :].expand(n, 3, c))  # (N, 3, C)
                    peak[ci, jj] = picked.mean(dim=(0, 2)).cpu().numpy()
                targets = [SupervisedGlobalHead.targets(t) for t in maps]
                for b in range(len(maps)):
                    for p in range(2):
                        f = heads[2 * b + p].amax(dim=(2, 3))
                        cos[ci, 2 * b + p] = torch.nn.functional.cosine_similarity(
                            f.float(), targets[b][p].float(), dim=1).mean().item()
            cam_images = images[:N_CAM_IMAGES]
            cam_masks = split.masks[:N_CAM_IMAGES]
            cams_all = []
            for jj, (fn, layer) in enumerate(_score_fns(model)):
                cams = grad_cam(fn, model, layer, cam_images.clone(), targets=[0] * len(cam_images))
                stats = cam_part_statistics(cams, cam_masks.numpy(), num_classes=8)
                mass[ci, jj] = stats["part_mass"].mean(0)
                body[ci, jj] = stats["body_mass"].mean()
                cams_all.append(cams[:N_EXAMPLES_PER_CONDITION])
            ex_img.append(split.images[:N_EXAMPLES_PER_CONDITION].numpy())
            ex_mask.append(split.masks[:N_EXAMPLES_PER_CONDITION].numpy())
            ex_cam.append(np.stack(cams_all, 1))
    finally:
        model.train(was)
    out = {"peak_composition": peak, "area_share": area, "cam_part_mass": mass, "cam_body_mass": body,
           "head_target_cos": cos, "n_images": n_img}
    if ex_img:
        out.update(example_images=np.concatenate(ex_img).astype(np.uint8),
                   example_masks=np.concatenate(ex_mask).astype(np.uint8),
                   example_cams=np.concatenate(ex_cam).astype(np.float16))
    return out


#: CGPN-X3 test conditions: name -> knob overrides on the clean base (S-occluded as in p2_occluded.yaml)
WINDOW_CONDITIONS: dict[str, dict[str, float]] = {"holistic": {}, "occluded": {"occlusion": 0.6, "truncation": 0.3}}


def window_fraction(name: str) -> float:
    """Height fraction of a CGPN feature named like ``"N4[2]/stripes1-3of4"`` (0.75); 1.0 for ``".../global"``."""
    import re

    m = re.fullmatch(r"N\d+\[\d+\]/stripes(\d+)-(\d+)of(\d+)", name)
    if m is None:
        if name.endswith("/global"):
            return 1.0
        raise ValueError(f"not a CGPN feature name: {name!r}")
    first, last, n = (int(g) for g in m.groups())
    return (last - first + 1) / n


@register_hook("cgpn_single_window")
def cgpn_single_window(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """CGPN-X3: single-feature retrieval per window, holistic vs S-occluded (no flip, as ``cgpn_knobs``).

    Returns ``names`` (P,), ``height_frac`` (P,) and ``<condition>_mAP`` / ``<condition>_rank1`` (P,) in % for
    each condition of :data:`WINDOW_CONDITIONS`. Models without ``feature_names`` (not CGPN) and datasets that
    are not SynthReID return nothing.
    """
    names = getattr(ctx.model, "feature_names", None)
    if names is None or not _is_synth(ctx.config.data.dataset):
        return {}
    out: dict[str, np.ndarray] = {"names": np.asarray(names),
                                  "height_frac": np.asarray([window_fraction(n) for n in names], dtype=np.float32)}
    kw = dict(batch_size=ctx.config.eval.batch_size, flip=False, device=ctx.device, amp_dtype=ctx.amp_dtype)
    with eval_mode(ctx.model):
        for cond, knobs in WINDOW_CONDITIONS.items():
            q, g = _test_splits(ctx, **knobs)
            with torch.no_grad():
                qf, gf = extract_features(ctx.model, q.images, **kw), extract_features(ctx.model, g.images, **kw)
            m = block_metrics(qf, gf, q, g, len(names), metric=ctx.config.eval.metric)
            out[f"{cond}_mAP"], out[f"{cond}_rank1"] = m["mAP"], m["rank1"]
    return out
