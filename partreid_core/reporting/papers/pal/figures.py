"""The PAL chapter's figures: one renderer per artefact, each returning a matplotlib ``Figure``.

Renderers that read records take the :class:`~partreid_core.reporting.chapter.Chapter` and return a one-line
string (what is missing and the command that makes it) instead of a figure with empty axes. Every text of a
figure is at least :data:`MIN_FONT` points, and legends sit below the axes, off the data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text

from ....data import PART_CLASSES, build_dataset
from ....engine.records import load_analysis
from ....experiments.ranklists import load_ranklist
from ....losses.segmentation import remap_part_labels
from ...chapter import Chapter
from ...figures import rank_list_figure
from ...paths import shown
from .records import MAP, segmenter_table
from .reference import F6_DELTAS, F7_DELTAS, F9_PCB, F9_PCB_PS, F12_KNOWN
from .tables import F7_VARIANTS, PAIRS, missing_line

MIN_FONT = 8
#: the book's 8-colour part palette (background, head, torso, upper arm, lower arm, upper leg, lower leg, foot)
PALETTE = np.array([(0, 0, 0), (230, 60, 60), (60, 180, 75), (255, 225, 25), (245, 130, 48), (0, 130, 200),
                    (145, 30, 180), (240, 240, 240)], dtype=np.uint8)
BASE, PS = "#9ecae1", "#fdae6b"            # the paper's colours: blue = ReID routine, orange = the PS branch
LAMBDAS = [0, 0.1, 0.5, 1, 2, 5, 10]
#: PAL-F12: model -> {lambda: variant}
LAMBDA_VARIANTS = {m: {0: m, 0.1: f"{m}_ps_lambda0.1", 0.5: f"{m}_ps_lambda0.5", 1: f"{m}_ps", 2: f"{m}_ps_lambda2",
                       5: f"{m}_ps_lambda5", 10: f"{m}_ps_lambda10"} for m in ("pcb", "mgn")}
F12_FLOOR = -15.0   # PAL-F12 points below it (a collapsed run) are drawn at the floor with their value beside them


def colour(mask: np.ndarray) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 in :data:`PALETTE`."""
    return PALETTE[np.asarray(mask).clip(0, 7)]


def to_hwc(img: np.ndarray) -> np.ndarray:
    return np.asarray(img).transpose(1, 2, 0)


def _figure(*args, **kw) -> tuple[Figure, np.ndarray]:
    """A figure not attached to pyplot (the notebook displays what a renderer returns, once)."""
    fig = Figure(**kw)
    axes = fig.subplots(*args, squeeze=False)
    return fig, axes


def finish(fig: Figure, legend_axes=None, ncol: int = 4) -> Figure:
    """Lay the figure out: a legend below the axes (from ``legend_axes``' handles), and every text at least
    :data:`MIN_FONT` points."""
    if legend_axes is not None:
        handles, labels = [], []
        for ax in np.atleast_1d(legend_axes).flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=MIN_FONT)
    for ax in fig.axes:
        ax.tick_params(labelsize=max(MIN_FONT, 8))
    for t in fig.findobj(Text):
        if t.get_fontsize() < MIN_FONT:
            t.set_fontsize(MIN_FONT)
    fig.tight_layout(rect=(0, 0.1 if legend_axes is not None else 0, 1, 1))
    return fig


def _image_grid(rows: list[tuple[str, list[np.ndarray]]], title: str, width: float = 1.4) -> Figure:
    """Rows of images (label, [H x W x 3 arrays]) as a grid without ticks; the label on each row's first image."""
    n = max(len(images) for _, images in rows)
    fig, axes = _figure(len(rows), n, figsize=(width * n + 0.6, 2.2 * len(rows)))
    for r, (label, images) in enumerate(rows):
        for j in range(n):
            ax = axes[r, j]
            if j < len(images):
                ax.imshow(images[j], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(j < len(images))
        axes[r, 0].set_ylabel(label, fontsize=MIN_FONT)
    fig.suptitle(title, fontsize=9)
    return finish(fig)


# ------------------------------------------------------------------------------------------ method and labels
def fig_f1() -> Figure:
    """PAL-F1: the method as a block diagram (the PS branch, orange, exists only in training)."""
    fig, axes = _figure(1, 1, figsize=(8, 2.6))
    ax = axes[0, 0]
    ax.axis("off")
    boxes = [(0.0, 0.35, "image\n128×64", "#dddddd"), (0.16, 0.35, "backbone\n(ResNet-50 / OSNet)", BASE),
             (0.43, 0.62, "ReID head\n(GP / PCB / MGN)", BASE), 
             (0.43, 0.05, "PS head (train only)\nconv → 8 classes", PS),
             (0.72, 0.62, "L_reid, test feature", BASE), 
             (0.72, 0.05, "λ · L_ps (class-balanced CE)\nvs part labels", PS)]
    for x, y, text, c in boxes:
        ax.text(x, y, text, bbox=dict(boxstyle="round", fc=c, ec="k"), fontsize=9, va="bottom")
    for (x0, y0), (x1, y1) in [((0.1, 0.42), (0.16, 0.42)), ((0.36, 0.45), (0.43, 0.66)), ((0.36, 0.4), (0.43, 0.12)),
                               ((0.62, 0.68), (0.72, 0.68)), ((0.65, 0.12), (0.72, 0.12))]:
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->"))
    ax.set_title("PAL-F1: the PS branch (orange) exists only during training", fontsize=9)
    return finish(fig)


def _label_examples(dataset: str, n: int = 6):
    """``n`` evenly spaced training images of ``dataset`` at 128×64 with their masks (no cherry-picking)."""
    ds = build_dataset(dataset)
    picks = np.linspace(0, len(ds.manifest("train")) - 1, n).round().astype(int).tolist()
    return ds.render("train", picks, (128, 64))


def fig_f3(dataset: str = "synth-s") -> Figure:
    """PAL-F3: training images, their exact 8-class masks and the labels the type-(c) head is trained on
    (nearest-resized to its 16×8 output)."""
    import torch


    train = _label_examples(dataset)
    small = torch.nn.functional.interpolate(train.masks[:, None].float(), size=(16, 8), mode="nearest")[:, 0]
    rows = [("image", [to_hwc(x) for x in train.images]), ("(a) 8-class mask", [colour(m) for m in train.masks]),
            ("(b) label at 16×8", [colour(m.long()) for m in small])]
    return _image_grid(rows, "PAL-F3: synthetic part labels\n(" + ", ".join(PART_CLASSES) + ")")


def fig_f11(dataset: str = "synth-s") -> Figure:
    """PAL-F11: one mask under the four label granularities of Table VI (coarse classes in their index's colour)."""
    train = _label_examples(dataset)
    mask = train.masks[1].long()
    images = [to_hwc(train.images[1])] + [colour(remap_part_labels(mask[None], g)[0]) for g in ("fg", "2", "4", "7")]
    fig, axes = _figure(1, 5, figsize=(7, 2.9))
    for ax, img, name in zip(axes[0], images, ["image", "Foreground", "Two Parts", "Four Parts", "Seven Parts"],
                             strict=True):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(name, fontsize=MIN_FONT)
        ax.axis("off")
    fig.suptitle("PAL-F11: label granularities", fontsize=9)
    return finish(fig)


def fig_f3_segmenters(ch: Chapter) -> Figure | str:
    """PAL-F3 with pseudo labels (PAL-T8 analogue): domain-A training images, their exact masks and each
    segmenter's predicted labels."""
    names = list(segmenter_table(ch.results).index)
    if not names:
        return missing_line("segmenters", "partreid segmenter train --domain B [--style]")
    arrays = {n: load_analysis(ch.results / "pal-segmenter" / n) for n in names}
    first = arrays[names[0]]
    k = min(8, len(first["images_A"]))
    rows = [("image", [to_hwc(x) for x in first["images_A"][:k]]),
            ("exact mask", [colour(m) for m in first["masks_A"][:k]])]
    rows += [(f"segmenter {n}", [colour(m) for m in a["pred_A"][:k]]) for n, a in arrays.items()]
    return _image_grid(rows, "PAL-F3 (pseudo labels) / PAL-T8: domain-A images, exact masks, predicted labels", 1.1)


# ------------------------------------------------------------------------------------------ the PS effect
def fig_f6(ch: Chapter) -> Figure | str:
    """PAL-F6: Rank-1 and mAP of GP, PCB, MGN without / with PS (mean ± std over seeds), our paired Δ and the
    paper's (Market1501) above each pair."""
    if not any(ch.has(v) for p in PAIRS for v in p[:2]):
        return missing_line("PAL-F6", "partreid sweep partreid_core/experiments/sweeps/pal/p1_pcb.yaml")
    fig, axes = _figure(1, 2, figsize=(9, 3.6))
    for ax, (col, label, k) in zip(axes[0], [("rank1", "Rank-1 (%)", 0), (MAP, "mAP, trapezoid (%)", 1)], strict=True):
        top = 0.0
        for j, (base, ps, _) in enumerate(PAIRS):
            for off, v, c, lab in [(-0.18, base, BASE, "without PS"), (0.18, ps, PS, "with PS")]:
                vals = ch.values(v, col)
                if len(vals):
                    ax.bar(j + off, vals.mean(), 0.34, yerr=vals.std(ddof=1) if len(vals) > 1 else 0, color=c,
                           edgecolor="k", capsize=3, label=lab)
                    top = max(top, vals.max())
            d = ch.paired_delta(ps, base, col)
            if len(d):
                ax.text(j, top * 1.04, f"Δ {d.mean():+.1f}\n(paper {F6_DELTAS[base]['Market1501'][k]:+.1f})",
                        ha="center", fontsize=MIN_FONT)
        ax.set_ylim(0, top * 1.25)
        ax.set_xticks(range(len(PAIRS)), [p[2] for p in PAIRS])
        ax.set_ylabel(label)
    fig.suptitle(f"PAL-F6 on {ch.dataset or 'synth-s'}: mean ± std over seeds; paper Δ = Market1501", fontsize=9)
    return finish(fig, axes, ncol=2)


def fig_f7(ch: Chapter) -> Figure | str:
    """PAL-F7: the PS gain on GlobalPool per backbone, ours (paired mean ± std) beside the paper's (MSMT17)."""
    fig, axes = _figure(1, 2, figsize=(9, 3.4))
    for ax, (col, label, k) in zip(axes[0], [("rank1", "ΔRank-1", 0), (MAP, "ΔmAP (trapezoid)", 1)], strict=True):
        for j, (bb, (base, ps)) in enumerate(F7_VARIANTS.items()):
            d = ch.paired_delta(ps, base, col)
            if len(d):
                ax.bar(j - 0.18, d.mean(), 0.34, yerr=d.std(ddof=1) if len(d) > 1 else 0, capsize=3, color="tab:blue",
                       label=f"ours ({ch.dataset or 'synth-s'})")
            ax.bar(j + 0.18, F7_DELTAS[bb][k], 0.34, color="tab:orange", alpha=0.7, hatch="//", label="paper (MSMT17)")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(len(F7_VARIANTS)), list(F7_VARIANTS))
        ax.set_ylabel(label)
    fig.suptitle("PAL-F7: gain of the PS head on GlobalPool, per backbone", fontsize=9)
    return finish(fig, axes, ncol=2)


def fig_f12(ch: Chapter) -> Figure | str:
    """PAL-F12: the gain over λ = 0 at every λ for PCB+PS and MGN+PS (ours: mean ± std of the per-seed
    differences; the paper's points known in numbers, dotted). A point from one seed says so; a point below
    :data:`F12_FLOOR` is drawn at the floor with its value written beside it."""
    if not ch.has("pcb") and not ch.has("mgn"):
        return missing_line("PAL-F12", "partreid sweep partreid_core/experiments/sweeps/pal/p4_pcb_lambda.yaml")
    fig, axes = _figure(1, 2, figsize=(9, 3.8))
    for ax, (col, label, k) in zip(axes[0], [("rank1", "ΔRank-1", 0), (MAP, "ΔmAP (trapezoid)", 1)], strict=True):
        for model, marker, c in [("pcb", "s", "tab:blue"), ("mgn", "^", "tab:green")]:
            pts = []
            for lam, v in LAMBDA_VARIANTS[model].items():
                d = ch.paired_delta(v, model, col) if lam else pd.Series([0.0])
                if len(d):
                    pts.append((LAMBDAS.index(lam), d.mean(), d.std(ddof=1) if len(d) > 1 else 0.0, len(d), lam))
            if pts:
                x, m, s, n, lam = map(np.array, zip(*pts, strict=True))
                low = m < F12_FLOOR
                ax.errorbar(x, np.maximum(m, F12_FLOOR), yerr=np.where(low, 0, s), marker=marker, capsize=3, color=c,
                            label=f"{model.upper()}+PS ours ({ch.dataset or 'synth-s'})")
                for xi, mi, si, ni, li in zip(x, m, s, n, lam, strict=True):
                    notes = ([f"{mi:+.0f} ± {si:.0f} ↓"] if mi < F12_FLOOR else []) \
                        + (["1 seed"] if ni == 1 and li else [])
                    if notes:   # off the scale, or one seed (no error bar): said on the point, inside the axes
                        ax.annotate(", ".join(notes), (xi, max(mi, F12_FLOOR)), fontsize=MIN_FONT, xytext=(-3, 4),
                                    textcoords="offset points", color=c, ha="right")
            known = F12_KNOWN[model]
            ax.plot([LAMBDAS.index(lam) for lam in known], [v[k] - known[0.0][k] for v in known.values()],
                    marker=marker, ls=":", color=c, alpha=0.5, label=f"{model.upper()}+PS paper (MSMT17)")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylim(F12_FLOOR - 2, None)
        ax.set_xticks(range(len(LAMBDAS)), [str(x) for x in LAMBDAS])
        ax.set_xlabel("λ")
        ax.set_ylabel(label)
    fig.suptitle("PAL-F12: gain over λ = 0", fontsize=9)
    return finish(fig, axes, ncol=2)


def fig_f13(ch: Chapter) -> Figure | str:
    """PAL-F13: Rank-1 with a single block of the test feature (mean ± std over seeds), PCB and MGN, without /
    with PS."""
    if not any(ch.stack(v, "pal_single_part/rank1") is not None for v in ("pcb", "mgn")):
        return missing_line("PAL-F13", "partreid sweep partreid_core/experiments/sweeps/pal/p1_pcb.yaml")
    fig, axes = _figure(1, 2, figsize=(10, 3.6))
    for ax, (base, ps) in zip(axes[0], [("pcb", "pcb_ps"), ("mgn", "mgn_ps")], strict=True):
        names = None
        for off, v, c, lab in [(-0.2, base, BASE, "without PS"), (0.2, ps, PS, "with PS")]:
            r = ch.stack(v, "pal_single_part/rank1")             # seeds x blocks
            if r is not None:
                names = [str(x) for x in ch.analysis(v)["pal_single_part/names"]]
                ax.bar(np.arange(len(names)) + off, r.mean(0), 0.4, yerr=r.std(0, ddof=1) if len(r) > 1 else None,
                       color=c, edgecolor="k", capsize=2, label=lab)
        if names:
            ax.set_xticks(range(len(names)), names)
        ax.set_title(base.upper(), fontsize=9)
        ax.set_ylabel("Rank-1 (%) with one block")
    fig.suptitle("PAL-F13: single-part-feature test", fontsize=9)
    return finish(fig, axes, ncol=2)


# ------------------------------------------------------------------------------------------ mechanisms
def fig_f9(ch: Chapter) -> Figure:
    """PAL-F9: the 6×6 stripe-similarity matrices, the paper's (a) PCB and (b) PCB+PS, ours (mean over seeds)
    and our PCB − PCB+PS difference; grey panels share one range (lighter = higher)."""
    mats = {"paper PCB": F9_PCB, "paper PCB+PS": F9_PCB_PS}
    ours = {f"ours {name}": ch.stack(v, "part_similarity/matrix") for v, name in [("pcb", "PCB"), ("pcb_ps", "PCB+PS")]}
    mats |= {k: s.mean(0) for k, s in ours.items() if s is not None}
    if len(mats) == 4:
        mats["ours PCB − PCB+PS"] = mats["ours PCB"] - mats["ours PCB+PS"]
    fig, axes = _figure(1, len(mats), figsize=(2.9 * len(mats), 3.2))
    lo = min(v.min() for k, v in mats.items() if "−" not in k)
    for ax, (k, m) in zip(axes[0], mats.items(), strict=True):
        diff = "−" in k
        top = np.abs(m).max()
        ax.imshow(m, cmap="RdBu_r" if diff else "gray", vmin=-top if diff else lo, vmax=top if diff else 1.0)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=MIN_FONT,
                        color="k" if diff or m[i, j] > (lo + 1) / 2 else "w")
        ax.set_title(k, fontsize=9)
        ax.set_xticks(range(6), [str(i) for i in range(1, 7)])
        ax.set_yticks(range(6), [str(i) for i in range(1, 7)])
    fig.suptitle("PAL-F9: mean cosine similarity of the 6 stripe features (grey: lighter = higher, shared range)",
                 fontsize=9)
    return finish(fig)


def fig_f10(ch: Chapter) -> Figure | str:
    """PAL-F10: Grad-CAM of MGN and MGN+PS (seed 0, the first 6 probes) over the image."""
    a_mgn, a_ps = ch.analysis("mgn"), ch.analysis("mgn_ps")
    if "pal_grad_cam/cams" not in a_mgn or "pal_grad_cam/cams" not in a_ps:
        return missing_line("PAL-F10", f"partreid sweep partreid_core/experiments/sweeps/pal/p2_mgn.yaml --out "
                                       f"{shown(ch.results)}")
    n = min(6, len(a_mgn["pal_grad_cam/cams"]))
    fig, axes = _figure(3, n, figsize=(1.4 * n + 0.6, 6.6))
    for j in range(n):
        img = to_hwc(a_mgn["pal_grad_cam/images"][j]).astype(float) / 255
        axes[0, j].imshow(img)
        for r, a in [(1, a_mgn), (2, a_ps)]:
            axes[r, j].imshow(img)
            axes[r, j].imshow(a["pal_grad_cam/cams"][j].astype(float), cmap="jet", alpha=0.5, vmin=0, vmax=1)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for r, t in enumerate(["image", "MGN", "MGN+PS"]):
        axes[r, 0].set_ylabel(t, fontsize=MIN_FONT)
    fig.suptitle("PAL-F10: Grad-CAM, branch 2 global ID logit\n(seed 0, first 6 probes)", fontsize=9)
    return finish(fig)


def fig_f14(ch: Chapter) -> Figure | str:
    """PAL-F14: the PCB+PS head's predictions on query images (seed 0) beside the images and ground truth."""
    seg = ch.analysis("pcb_ps")
    if "pal_segmentation/pred" not in seg:
        return missing_line("PAL-F14", "partreid sweep partreid_core/experiments/sweeps/pal/p1_pcb.yaml")
    n = min(6, len(seg["pal_segmentation/pred"]))
    rows = [("image", [to_hwc(x) for x in seg["pal_segmentation/images"][:n]]),
            ("ground truth", [colour(m) for m in seg["pal_segmentation/target"][:n]]),
            ("PS head", [colour(m) for m in seg["pal_segmentation/pred"][:n]])]
    return _image_grid(rows, "PAL-F14: PCB+PS part segmentation\non query images (seed 0)")


def fig_f15(ch: Chapter, record: str = "ranklists/pcb_ps-vs-pcb-s0") -> Figure | str:
    """PAL-F15: the top-10 lists of PCB (upper) and PCB+PS (lower) for the three queries where PS gains most AP,
    with how often PCB+PS's AP is higher / lower over all queries in the title."""
    import matplotlib.pyplot as plt


    path = ch.results / record
    if not (path / "ranklist.npz").is_file():
        return missing_line("PAL-F15", "partreid ranklist --checkpoint checkpoints/pal-pcb/pcb-s0/last.pt --against "
                                       f"checkpoints/pal-pcb/pcb_ps-s0/last.pt --out {shown(path)}")
    arrays = load_ranklist(path)
    a, b = arrays["ap_a"], arrays["ap_b"]
    both = ~np.isnan(a) & ~np.isnan(b)
    title = (f"PAL-F15: top-10, PCB (upper) vs PCB+PS (lower); green = same identity\nover all {both.sum()} "
             f"queries PCB+PS's AP is higher on {(b > a)[both].mean():.0%}, lower on {(b < a)[both].mean():.0%}")
    fig = rank_list_figure(arrays, "PCB", "PCB+PS", title)
    plt.close(fig)     # drawn by pyplot: detach it, so the page shows the returned figure once
    return finish(fig)


__all__ = ["F12_FLOOR", "LAMBDAS", "LAMBDA_VARIANTS", "MIN_FONT", "PALETTE", "colour", "fig_f1", "fig_f10", "fig_f11",
           "fig_f12", "fig_f13", "fig_f14", "fig_f15", "fig_f3", "fig_f3_segmenters", "fig_f6", "fig_f7", "fig_f9",
           "finish", "to_hwc"]
