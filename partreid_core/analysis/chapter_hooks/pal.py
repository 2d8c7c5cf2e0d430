"""Analysis hooks of the PAL chapter (registered into ``partreid_core.analysis.hooks.HOOKS``).

Each runs once at the end of a training run and returns small arrays for ``analysis.npz``
(the book never trains, so everything a PAL figure needs is computed here):

* ``pal_segmentation`` (PAL-F14): the PS head's part maps on query images, scored against the
  SynthReID masks (pixel accuracy, per-class IoU, mIoU, confusion matrix) plus a few example maps.
* ``pal_cross_domain`` (PAL-T9): the trained model tested on the other SynthReID domain
  (train on "A", test on "B"), no adaptation.
* ``pal_single_part`` (PAL-F13): Rank-1 / mAP of each single part block of the test feature
  (PCB: the 6 stripe embeddings; MGN: B1G, B2G, B3G, B2S1, B2S2, B3S1, B3S2, B3S3).
* ``pal_grad_cam`` (PAL-F10): Grad-CAM of MGN branch 2's global ID logit (target ``branch2.layer4``)
  on a fixed probe set of training images, and where the CAM mass falls on the body parts.

Hooks that do not apply to a model (e.g. segmentation on a model without a PS head) return ``{}``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...data import build_dataset
from ...data.transforms import normalize
from ...data.types import relabel
from ...engine.hooks import AnalysisContext, eval_mode
from ...evaluation import evaluate_model
from ...evaluation.features import extract_features
from ...losses.segmentation import remap_part_labels
from ...models.mgn import MGN
from ...models.pcb import PCB
from ..cam import cam_part_statistics, grad_cam
from ..hooks import register_hook
from ..retrieval import block_metrics
from ..segmentation import confusion_matrix, segmentation_scores

#: images scored by pal_segmentation / kept as examples; probe images of pal_grad_cam; CAMs kept.
SEG_LIMIT, SEG_EXAMPLES, CAM_PROBES, CAM_EXAMPLES = 512, 8, 32, 8


def _ps_model(model: torch.nn.Module):
    """The PAL wrapper (has ``predict_parts``), or None for a model without a PS head."""
    return model if hasattr(model, "predict_parts") and hasattr(model, "ps_cfg") else None


def _base(model: torch.nn.Module) -> torch.nn.Module:
    return model.base if _ps_model(model) is not None else model


def _probe_indices(n: int, k: int) -> torch.Tensor:
    """k evenly spaced indices of a split of n images: fixed, the same for every seed and variant."""
    return torch.linspace(0, n - 1, min(k, n)).round().long().unique()


@register_hook("pal_segmentation")
def pal_segmentation(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """PAL-F14: PS-head segmentation of the first ``SEG_LIMIT`` query images.

    Scored at the head's resolution against the masks resized with nearest neighbour (the labels
    the head is trained on, pal.md §3.5) and, as ``*_full``, at image resolution (logits resized
    bilinearly, then argmax [A], pal.md §7 PAL-F14). Masks are remapped to the model's granularity.

    Returns: ``pixel_accuracy``, ``miou``, ``pixel_accuracy_full``, ``miou_full`` (scalars), ``iou`` (M,),
    ``confusion`` (M, M) int64 (rows = target), ``images`` uint8 (E, 3, H, W), ``target`` / ``pred``
    uint8 (E, H, W) at image resolution, E = ``SEG_EXAMPLES``. ``{}`` for models without a PS head or masks.
    """
    model = _ps_model(ctx.model)
    if model is None or ctx.query.masks is None:
        return {}
    m = model.num_part_classes
    ignore = model.ps_cfg.ignore_index
    n = min(SEG_LIMIT, len(ctx.query))
    preds, targets, preds_full, targets_full = [], [], [], []
    with eval_mode(model), torch.no_grad():
        for s in range(0, n, 64):
            images = normalize(ctx.query.images[s:min(n, s + 64)].to(ctx.device))
            logits = model.predict_parts(images).float()                       # (B, M, h', w')
            labels = remap_part_labels(ctx.query.masks[s:min(n, s + 64)].to(ctx.device).long(),
                                       model.ps_cfg.granularity, ignore)       # (B, H, W)
            small = F.interpolate(labels[:, None].float(), size=logits.shape[2:], mode="nearest")[:, 0].long()
            preds.append(logits.argmax(1).cpu())
            targets.append(small.cpu())
            full = F.interpolate(logits, size=labels.shape[1:], mode="bilinear", align_corners=False)
            preds_full.append(full.argmax(1).cpu())
            targets_full.append(labels.cpu())
    pred, target = torch.cat(preds), torch.cat(targets)
    pred_full, target_full = torch.cat(preds_full), torch.cat(targets_full)
    head = segmentation_scores(pred, target, m, ignore)
    full = segmentation_scores(pred_full, target_full, m, ignore)
    e = _probe_indices(n, SEG_EXAMPLES)
    return {
        "pixel_accuracy": np.float32(head["pixel_accuracy"]), "miou": np.float32(head["miou"]),
        "iou": np.asarray(head["iou"], dtype=np.float32),
        "pixel_accuracy_full": np.float32(full["pixel_accuracy"]), "miou_full": np.float32(full["miou"]),
        "confusion": confusion_matrix(pred, target, m, ignore).numpy(),
        "images": ctx.query.images[e].numpy(),
        "target": target_full[e].to(torch.uint8).numpy(), "pred": pred_full[e].to(torch.uint8).numpy(),
    }


def other_domain(domain: str) -> str:
    """The SynthReID domain a model trained on ``domain`` is tested on (A <-> B)."""
    if domain not in ("A", "B"):
        raise ValueError(f"SynthReID domain must be 'A' or 'B', got {domain!r}")
    return "B" if domain == "A" else "A"


@register_hook("pal_cross_domain")
def pal_cross_domain(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """PAL-T9 analogue: test on the other SynthReID domain with the run's own evaluation settings.

    The paper trains on MSMT17 and tests on Market1501 / CUHK03 without adaptation; here the
    train domain is the run's ``data.dataset_kwargs.domain`` (default "A") and the test set is the
    same preset's query/gallery rendered in the other domain (other backgrounds, lighting,
    camera heights). Returns ``rank1``, ``rank5``, ``rank10``, ``mAP``, ``mAP_trapezoid`` (scalars, %)
    and ``target_domain`` (a string).
    """
    data = ctx.config.data
    if not data.dataset.startswith("synth"):
        raise ValueError(f"pal_cross_domain needs a SynthReID dataset (domains A/B), got data.dataset={data.dataset!r}")
    kwargs = dict(data.dataset_kwargs)
    target = other_domain(kwargs.get("domain", "A"))
    kwargs["domain"] = target
    ds = build_dataset(data.dataset, **kwargs)
    size = tuple(data.size)
    query, gallery = ds.load_split("query", size), ds.load_split("gallery", size)
    with eval_mode(ctx.model), torch.no_grad():
        metrics = evaluate_model(ctx.model, query, gallery, metric=ctx.config.eval.metric,
                                 flip=ctx.config.eval.flip, batch_size=ctx.config.eval.batch_size,
                                 device=ctx.device, amp_dtype=ctx.amp_dtype)
    out = {k: np.float32(metrics[k]) for k in ("rank1", "rank5", "rank10", "mAP", "mAP_trapezoid") if k in metrics}
    out["target_domain"] = np.array(target)
    return out


def part_blocks(model: torch.nn.Module) -> list[str] | None:
    """Names of the equal-width blocks of the test feature (PAL-F13), or None for a global model.

    PCB: ``S1..S6`` (stripe embeddings, top to bottom); MGN: ``B1G, B2G, B3G, B2S1, B2S2, B3S1, ...``
    (pal.md §2.6 index order).
    """
    base = _base(model)
    if isinstance(base, PCB):
        return [f"S{j + 1}" for j in range(base.cfg.num_stripes)]
    if isinstance(base, MGN):
        stripes = base.cfg.stripes
        names = [f"B{k + 1}G" for k in range(len(stripes))]
        names += [f"B{k + 1}S{j + 1}" for k, s in enumerate(stripes) if s > 1 for j in range(s)]
        return names
    return None


@register_hook("pal_single_part")
def pal_single_part(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """PAL-F13: test with one block of the test feature at a time (same metric and flip as the full test).

    Returns ``names`` (P,) strings, ``rank1``, ``mAP``, ``mAP_trapezoid`` (P,) in %. ``{}`` for global models.
    """
    names = part_blocks(ctx.model)
    if names is None:
        return {}
    kw = dict(batch_size=ctx.config.eval.batch_size, flip=ctx.config.eval.flip, device=ctx.device,
              amp_dtype=ctx.amp_dtype)
    qf = extract_features(ctx.model, ctx.query.images, **kw)
    gf = extract_features(ctx.model, ctx.gallery.images, **kw)
    return {"names": np.array(names), **block_metrics(qf, gf, ctx.query, ctx.gallery, len(names),
                                                      metric=ctx.config.eval.metric)}


def mgn_branch2_global_logits(mgn: torch.nn.Module):
    """``images (N, 3, H, W) -> (N, C_id)``: MGN branch 2's global ID logits (PAL-F10's score).

    The true forward path: trunk -> branch 2 -> global max pool -> Em2048 (Linear-BN-ReLU) -> FC
    (the authors' wrapper skipped Em2048's BN + ReLU, pal.md §7; we do not).
    """
    def score(images: torch.Tensor) -> torch.Tensor:
        z = mgn.pool(mgn.branch2(mgn.trunk(images)))
        if mgn.global_embeddings is not None:
            z = mgn.global_embeddings[1](z)
        else:
            z = mgn.global_reductions[1](z)
        return mgn.global_classifiers[1](z)

    return score


@register_hook("pal_grad_cam")
def pal_grad_cam(ctx: AnalysisContext) -> dict[str, np.ndarray]:
    """PAL-F10: Grad-CAM on ``branch2.layer4`` (``base.branch2.layer4`` for ``mgn_ps``), score = branch 2's
    global ID logit of the ground-truth class, on ``CAM_PROBES`` evenly spaced **training** images
    (the official code's choice, pal.md §9 #12: test identities have no classifier logit).

    Returns ``probe_index`` (K,), ``coverage`` / ``entropy`` / ``body_mass`` (K,) and ``part_mass`` (K, 8)
    from :func:`partreid_core.analysis.cam_part_statistics` against the 8-class masks, ``cams`` float16
    (E, H, W), ``images`` uint8 (E, 3, H, W), ``masks`` uint8 (E, H, W) for the figure (E = ``CAM_EXAMPLES``).
    ``{}`` for models other than MGN.
    """
    mgn = _base(ctx.model)
    if not isinstance(mgn, MGN) or ctx.train.masks is None:
        return {}
    idx = _probe_indices(len(ctx.train), CAM_PROBES)
    labels, _ = relabel(ctx.train.pids)
    images = normalize(ctx.train.images[idx].to(ctx.device))
    with torch.enable_grad():
        cams = grad_cam(mgn_branch2_global_logits(mgn), ctx.model, mgn.branch2.layer4, images,
                        targets=labels[idx].tolist())
    masks = ctx.train.masks[idx].numpy()
    stats = cam_part_statistics(cams, masks)
    e = slice(0, CAM_EXAMPLES)
    return {
        "probe_index": idx.numpy(), **{k: np.asarray(v, dtype=np.float32) for k, v in stats.items()},
        "cams": cams[e].astype(np.float16), "images": ctx.train.images[idx][e].numpy(), "masks": masks[e],
    }
