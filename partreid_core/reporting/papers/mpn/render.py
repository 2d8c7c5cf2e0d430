"""The MPN chapter's artefacts, one function each: a table (pandas Styler of formatted strings) or a figure.

Every renderer takes the :class:`~partreid_core.reporting.chapter.Chapter` of ``open_chapter("MPN")`` and reads
only its records (the reference tables read :mod:`.reference`). Where the records a renderer needs are missing it
returns a :class:`Note` naming them and the command that makes them, never an empty figure. Figures are made
off pyplot's list of open figures, so a notebook shows each once (as the cell's value) and tests leak none.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from ....data import PART_CLASSES, build_dataset
from ....models import build_model
from ....models.mpn import ChannelAttention
from ....models.mpn_priors import prior_from_masks
from ...chapter import MISSING, Chapter, fmt
from . import reference
from .verdicts import AP, own_strip_mass

#: how the page names our variants
LABEL = {"baseline": "Baseline", "mt_only": "MT Only", "naive_mtl": "Naive MTL", "c1s_c2s": "+C1-S+C2-S",
         "mpn_noca": "MPN°", "mpn": "MPN", "lambda0p3": "MPN° λ=0.3", "lambda3": "MPN° λ=3",
         "noise0p5": "MPN° noise 0.5", "noise1": "MPN° noise 1"}
#: Table 1's rows that the sweeps train, in the paper's order
T1_ORDER = ["baseline", "mt_only", "naive_mtl", "c1s_c2s", "mpn_noca", "mpn"]
#: a colour and a marker per variant, the same in every figure
STYLE = {v: (f"C{i}", m) for i, (v, m) in enumerate(zip(LABEL, "osD^vP*Xph", strict=True))}
#: query images shown in MPN-F1 / MPN-F5, the misalignment levels of MPN-F1, the training image size
SHOWN, LEVELS, SIZE = (0, 7), (0.0, 0.3, 0.6, 0.9), (128, 64)
#: the hooks run on the trained checkpoints afterwards (``partreid analyze``), by the array prefix they write
ANALYZE = "partreid analyze checkpoints/mpn-t1/mpn-s*/last.pt --hooks {hook}"


class Note(str):
    """A line of text a renderer returns instead of an artefact (shown as Markdown, not as a quoted string)."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


# ---------------------------------------------------------------------------------------------- helpers
def _styled(df: pd.DataFrame, caption: str, hide_index: bool = False) -> Styler:
    """A table of formatted strings with its caption; never truncated (a Styler shows every row and column)."""
    st = df.style.set_caption(caption).set_table_styles(
        [{"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left"}])
    return st.hide(axis="index") if hide_index else st


def _figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.0, 3.2)):
    """``plt.subplots(..., squeeze=False)`` closed at once (the caller returns the figure; nothing stays open)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    plt.close(fig)
    return fig, axes


def _finish(fig: Figure, title: str, legend_ax=None) -> Figure:
    """Title, tick labels of at least 8 pt, the legend to the right of ``legend_ax`` (off the data)."""
    for ax in fig.axes:
        ax.tick_params(labelsize=8)
    if legend_ax is not None:
        legend_ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _sd(y: np.ndarray) -> np.ndarray | None:
    """Sample std over the first axis (seeds), None for one seed (no error bar)."""
    return y.std(0, ddof=1) if len(y) > 1 else None


def _command(ch: Chapter, variants: list[str]) -> str:
    """The command(s) that make the missing runs of ``variants`` (from :meth:`Chapter.status`)."""
    st = ch.status()
    cmds = st.loc[st["variant"].isin(variants) & (st["command"] != ""), "command"].tolist()
    return "; ".join(f"`{c}`" for c in cmds) or "the chapter's sweeps (see the status table)"


def _no_records(ch: Chapter, artefact: str, variants: list[str], command: str | None = None) -> Note:
    return Note(f"{artefact}: no records yet for {', '.join(LABEL.get(v, v) for v in variants)}; "
                f"make them with {command or _command(ch, variants)}.")


def _with(ch: Chapter, variants: list[str], key: str) -> list[str]:
    """The ``variants`` whose runs stored analysis array ``key``."""
    return [v for v in variants if ch.stack(v, key) is not None]


def _overlay_grid(rows: list[tuple[str, np.ndarray, np.ndarray]], col_titles: list[str], title: str) -> Figure:
    """Heat maps over their image: one row per (label, image (3, H, W), maps (K, h, w) in [0, 1]); the image
    alone, then each map stretched over it (a smaller map is drawn bilinearly at the image's size)."""
    k = rows[0][2].shape[0]
    fig, axes = _figure(len(rows), k + 1, (1.15 * (k + 1), 2.1 * len(rows) + 0.4))
    for r, (label, image, maps) in enumerate(rows):
        im = image.transpose(1, 2, 0)
        h, w = im.shape[:2]
        axes[r, 0].imshow(im)
        axes[r, 0].set_ylabel(label, fontsize=9)
        for p in range(k):
            ax = axes[r, p + 1]
            ax.imshow(im)
            if np.isfinite(maps[p]).all():
                ax.imshow(maps[p].astype(np.float32), cmap="jet", alpha=0.5, vmin=0, vmax=1,
                          extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="bilinear")
            if r == 0:
                ax.set_title(col_titles[p], fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    return _finish(fig, title)


def _pm(values: pd.Series | np.ndarray, digits: int) -> str:
    """``mean ± std`` (sample std; 0 for one value), :data:`MISSING` for none."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return MISSING
    return f"{v.mean():.{digits}f} ± {(v.std(ddof=1) if len(v) > 1 else 0.0):.{digits}f}"


# ---------------------------------------------------------------------------------------------- state
def status_table(ch: Chapter) -> Styler | Note:
    """The planned runs that have no record yet, with the command that makes them (``sweep``, ``variant``,
    ``seeds`` = "have of planned", ``command``); one line when every planned run has its record."""
    st = ch.status()
    todo = st[st["state"] != "complete"]
    if todo.empty:
        return Note("Every planned run has its record.")
    return _styled(todo[["sweep", "variant", "seeds", "command"]], "runs still to make", hide_index=True)


# ---------------------------------------------------------------------------------------------- paper tables
def _paper_table(artefact: str, name: str) -> Callable[[Chapter | None], Styler]:
    """A renderer ``name`` of the paper's table ``artefact`` (:data:`.reference.TABLES`)."""
    table = reference.TABLES[artefact]

    def render(ch: Chapter | None = None) -> Styler:
        return _styled(table.frame(), f"{artefact}: paper, {table.source}: {table.title}")

    render.__name__ = render.__qualname__ = name
    render.__doc__ = f"The paper's {table.source} ({table.title}), one row per paper row, '—' where not reported."
    return render


table_t1_paper = _paper_table("MPN-T1", "table_t1_paper")
table_t2 = _paper_table("MPN-T2", "table_t2")
table_t3 = _paper_table("MPN-T3", "table_t3")
table_t4 = _paper_table("MPN-T4", "table_t4")
table_t5 = _paper_table("MPN-T5", "table_t5")
table_t6 = _paper_table("MPN-T6", "table_t6")
table_t7 = _paper_table("MPN-T7", "table_t7")
table_t8_paper = _paper_table("MPN-T8", "table_t8_paper")
table_f9 = _paper_table("MPN-F9", "table_f9")


# ---------------------------------------------------------------------------------------------- MPN-T1
def table_t1(ch: Chapter) -> Styler:
    """Table 1's trained rows: the paper's Market-1501 Rank-1 and mAP beside ours (mean ± std over seeds, n),
    and ours − paper. Rows = :data:`T1_ORDER` (all of them, "—" where a variant has no run)."""
    rows = []
    for v in T1_ORDER:
        row = {"model": LABEL[v]}
        for metric, col, name in (("Market Rank-1", "rank1", "Rank-1"), ("Market mAP", AP, "mAP")):
            paper = reference.T1.value(reference.T1_ROWS[v], metric)
            ours = ch.mean(v, col)
            row |= {f"{name} paper": fmt(paper), f"{name} ours": ch.mean_std(v, col),
                    f"{name} ours − paper": fmt(ours - paper, signed=True)}
        rows.append(row)
    return _styled(pd.DataFrame(rows).set_index("model"),
                   "MPN-T1: paper (Table 1, §5.2, Market-1501) and ours (SynthReID, mean ± std over seeds)")


def fig_t1(ch: Chapter) -> Figure | Note:
    """Bars: mean trapezoid mAP of each Table 1 variant with its std; dots: the seeds."""
    have = [v for v in T1_ORDER if ch.has(v)]
    if not have:
        return _no_records(ch, "MPN-T1", T1_ORDER)
    fig, ax = _figure(figsize=(6.5, 3.2))
    ax = ax[0, 0]
    vals = [ch.values(v, AP) for v in have]
    ax.bar(range(len(have)), [y.mean() for y in vals], yerr=[y.std(ddof=1) if len(y) > 1 else 0 for y in vals],
           color="tab:blue", alpha=0.7, capsize=3)
    for i, y in enumerate(vals):
        ax.scatter(np.full(len(y), i), y, color="k", s=10, zorder=3)
    ax.set_xticks(range(len(have)), [LABEL[v] for v in have], rotation=20)
    ax.set_ylabel("mAP (trapezoid, %)")
    return _finish(fig, "MPN-T1 on SynthReID: mean ± std, dots = seeds")


# ---------------------------------------------------------------------------------------------- MPN-T8
#: the models counted for MPN-T8: page label, model name, overrides, the paper's Table 8 row (None: not in it)
T8_MODELS = (("PCB-like (pcb, 6 stripes)", "pcb", {}, "PCB [19]"),
             ("Baseline (K ATs, uniform strips)", "mpn",
              {"tasks": "at", "prior": "uniform", "alignment": "none", "channel_attention": False}, None),
             ("MPN°", "mpn", {"channel_attention": False}, "MPN°"),
             ("MPN", "mpn", {}, None))


@lru_cache(maxsize=1)
def _t8_counts() -> dict[str, float]:
    """Millions of parameters without the classifiers, at full width (ResNet-50) and 751 identities."""
    counts = {}
    for label, name, overrides, _ in T8_MODELS:
        model = build_model(name, 751, {"backbone": {"width": 1.0}, **overrides})
        counts[label] = sum(p.numel() for n, p in model.named_parameters() if "classifier" not in n) / 1e6
    return counts


def table_t8(ch: Chapter | None = None) -> Styler:
    """Our parameter counts (M, classifiers excluded, full width) beside the paper's Table 8 train count."""
    counts = _t8_counts()
    rows = [{"model": label, "ours #params (M)": fmt(counts[label], 2),
             "paper #params (M)": fmt(None if row is None else reference.T8.value(row, "train #params (M)"))}
            for label, _, _, row in T8_MODELS]
    return _styled(pd.DataFrame(rows).set_index("model"), "MPN-T8: parameters, ours and the paper's (Table 8)")


# ---------------------------------------------------------------------------------------------- MPN-F1/F5/F6
@lru_cache(maxsize=4)
def _renders(dataset: str):
    """The :data:`SHOWN` query images of ``dataset`` rendered at each of :data:`LEVELS` ({level: split})."""
    return {lv: build_dataset(dataset, misalignment=lv).render("query", list(SHOWN), SIZE) for lv in LEVELS}


def _box(mask: np.ndarray, classes: list[int]) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the pixels of ``classes`` in a label map, None if there are none."""
    ys, xs = np.nonzero(np.isin(mask, classes))
    return None if len(ys) == 0 else (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def fig_f1(ch: Chapter) -> Figure:
    """The same query people at misalignment 0 … 0.9: head and feet boxes blue, arms and legs green."""
    cls = {n: i for i, n in enumerate(PART_CLASSES)}
    renders = _renders(ch.dataset or "synth-s")
    fig, axes = _figure(len(SHOWN), len(LEVELS), (1.4 * len(LEVELS), 2.7 * len(SHOWN)))
    parts = ((["head"], "tab:blue"), (["foot"], "tab:blue"), (["upper_arm", "lower_arm"], "tab:green"),
             (["upper_leg", "lower_leg"], "tab:green"))
    for r in range(len(SHOWN)):
        for c, lv in enumerate(LEVELS):
            ax, st = axes[r, c], renders[lv]
            ax.imshow(st.images[r].permute(1, 2, 0).numpy())
            for names, colour in parts:
                b = _box(st.masks[r].numpy(), [cls[n] for n in names])
                if b is not None:
                    ax.add_patch(plt.Rectangle(b[:2], b[2], b[3], fill=False, color=colour, lw=1))
            ax.set_axis_off()
            if r == 0:
                ax.set_title(f"misalignment {lv}", fontsize=8)
    return _finish(fig, "MPN-F1: misalignment grows left to right")


def fig_f5(ch: Chapter) -> Figure:
    """The coarse prior at misalignment 0.6: the 8×4 foreground mask, and the ROI (red) with its 6 strips."""
    st = _renders(ch.dataset or "synth-s")[0.6]
    prior = prior_from_masks(st.masks.long(), (8, 4))
    fig, axes = _figure(1, 2 * len(SHOWN), (1.5 * 2 * len(SHOWN), 2.9))
    scale = SIZE[0] / 8
    for i in range(len(SHOWN)):
        axes[0, 2 * i].imshow(prior.mask[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[0, 2 * i].set_title(f"mask 8×4\nvalid={bool(prior.valid[i])}", fontsize=8)
        ax = axes[0, 2 * i + 1]
        ax.imshow(st.images[i].permute(1, 2, 0).numpy())
        y0, y1 = int(prior.top[i]) * scale, (int(prior.bot[i]) + 1) * scale
        for y in (y0, y1):
            ax.axhline(y, color="red", lw=1.2)
        for k in range(1, 6):
            ax.axhline(y0 + k * (y1 - y0) / 6, color="white", lw=0.6, ls="--")
        ax.set_title("ROI + 6 strips", fontsize=8)
    for ax in axes[0]:
        ax.set_axis_off()
    return _finish(fig, "MPN-F5: coarse prior at misalignment 0.6")


def table_f6(ch: Chapter | None = None) -> Styler:
    """The layers of one channel-attention module (d = 512, reduction 4): output shape and parameters."""
    import torch


    ca = ChannelAttention(512, 4).eval()
    rows, x = [], torch.zeros(2, 512, 1, 1)
    with torch.no_grad():
        for layer in ca.body:
            x = layer(x)
            rows.append({"layer": type(layer).__name__, "output shape": " × ".join(map(str, x.shape[1:])),
                         "parameters": f"{sum(p.numel() for p in layer.parameters()):,}"})
    rows.append({"layer": "sigmoid · input", "output shape": "512 × 1 × 1", "parameters": "0"})
    return _styled(pd.DataFrame(rows), "MPN-F6: channel attention, layer by layer", hide_index=True)


# ---------------------------------------------------------------------------------------------- CAM figures
def fig_f2(ch: Chapter) -> Figure | Note:
    """MPN's (lowest seed) layer4 channels with the most consistent body height, one per fifth of the body."""
    a = ch.analysis("mpn")
    if "mpn_channel_maps/channels" not in a:
        return _no_records(ch, "MPN-F2", ["mpn"], f"`{ANALYZE.format(hook='mpn_channel_maps')}`")
    chans, imgs, maps = a["mpn_channel_maps/channels"], a["mpn_channel_maps/images"], a["mpn_channel_maps/maps"]
    seed = int(ch.of("mpn")["seed"].iloc[0])
    rows = [(f"image {i + 1}", im, np.where((chans >= 0)[:, None, None], maps[i], np.nan))
            for i, im in enumerate(imgs)]
    titles = [f"fifth {j + 1}: " + (f"ch {c}" if c >= 0 else "none") for j, c in enumerate(chans)]
    return _overlay_grid(rows, titles, f"MPN-F2: layer4 channels of MPN (seed {seed}) with a consistent height")


def table_f2(ch: Chapter) -> Styler | Note:
    """Per seed of MPN and fifth of the body: the channel, its mean peak height and spread over images, and
    the median spread of all channels."""
    rows = []
    for seed in ch.of("mpn")["seed"].astype(int) if ch.has("mpn") else []:
        a = ch.analysis("mpn", seed)
        if "mpn_channel_maps/channels" not in a:
            continue
        median = float(np.nanmedian(a["mpn_channel_maps/all_peak_std"]))
        for j, c in enumerate(a["mpn_channel_maps/channels"]):
            rows.append({"seed": seed, "fifth of the body": j + 1, "channel": str(int(c)) if c >= 0 else MISSING,
                         "mean peak height": fmt(a["mpn_channel_maps/peak_mean"][j], 3),
                         "spread (std)": fmt(a["mpn_channel_maps/peak_std"][j], 3),
                         "median spread, all channels": fmt(median, 3)})
    if not rows:
        return _no_records(ch, "MPN-F2", ["mpn"], f"`{ANALYZE.format(hook='mpn_channel_maps')}`")
    return _styled(pd.DataFrame(rows).set_index(["seed", "fifth of the body"]),
                   "MPN-F2: channels with a consistent body height (0 = top of the head, 1 = soles)")


F7_VARIANTS = ["baseline", "mt_only", "naive_mtl", "mpn_noca", "mpn"]


def fig_f7(ch: Chapter) -> Figure | Note:
    """Grad-CAM of the 6 part tasks on one query image, one row per model (its lowest seed)."""
    rows = []
    for v in F7_VARIANTS:
        a = ch.analysis(v)
        if "mpn_gradcam/maps" in a:
            rows.append((LABEL[v], a["mpn_gradcam/images"][0], a["mpn_gradcam/maps"][0]))
    if not rows:
        return _no_records(ch, "MPN-F7", F7_VARIANTS)
    return _overlay_grid(rows, [f"part {p + 1}" for p in range(rows[0][2].shape[0])],
                         "MPN-F7: Grad-CAM per part task (lowest seed of each model)")


def _nuisance(ch: Chapter) -> list[dict[str, np.ndarray]]:
    """The ``analysis.npz`` of every MPN seed that has the ``mpn_nuisance_cams`` arrays."""
    seeds = ch.of("mpn")["seed"].astype(int) if ch.has("mpn") else []
    return [a for a in (ch.analysis("mpn", s) for s in seeds) if "mpn_nuisance_cams/groups" in a]


def fig_f8(ch: Chapter) -> Figure | Note:
    """MPN's part-task Grad-CAMs (lowest seed) on the first image of each nuisance group."""
    found = _nuisance(ch)
    if not found:
        return _no_records(ch, "MPN-F8", ["mpn"], f"`{ANALYZE.format(hook='mpn_nuisance_cams')}`")
    a = found[0]
    groups = [str(g) for g in a["mpn_nuisance_cams/groups"]]
    rows = [(g, a[f"mpn_nuisance_cams/{g.replace(' ', '_')}/images"][0],
             a[f"mpn_nuisance_cams/{g.replace(' ', '_')}/maps"][0]) for g in groups]
    return _overlay_grid(rows, [f"part {p + 1}" for p in range(rows[0][2].shape[0])],
                         "MPN-F8: MPN's part-task Grad-CAMs under one nuisance each")


def table_f8(ch: Chapter) -> Styler | Note:
    """Per nuisance group, over MPN's seeds: hit rate (mean over tasks) and mean CAM correlation, mean ± std."""
    found = _nuisance(ch)
    if not found:
        return _no_records(ch, "MPN-F8", ["mpn"], f"`{ANALYZE.format(hook='mpn_nuisance_cams')}`")
    rows = []
    for g in (str(g) for g in found[0]["mpn_nuisance_cams/groups"]):
        key = f"mpn_nuisance_cams/{g.replace(' ', '_')}"
        rows.append({"group": g, "seeds": str(len(found)),
                     "hit rate (mean over tasks)": _pm([a[f"{key}/hit_rate"].mean() for a in found], 3),
                     "mean CAM correlation": _pm([a[f"{key}/mean_correlation"].mean() for a in found], 3)})
    return _styled(pd.DataFrame(rows).set_index("group"), "MPN-F8: CAM scores per nuisance (mean ± std over seeds)")


# ---------------------------------------------------------------------------------------------- MPN-X1
def fig_x1(ch: Chapter) -> Figure | Note:
    """Trapezoid mAP and Rank-1 against test misalignment, mean ± std over seeds, one series per variant."""
    have = _with(ch, T1_ORDER, f"mpn_misalignment/{AP}")
    if not have:
        return _no_records(ch, "MPN-X1", T1_ORDER)
    fig, axes = _figure(1, 2, (9.5, 3.3))
    for v in have:
        levels = ch.stack(v, "mpn_misalignment/levels")[0]
        colour, marker = STYLE[v]
        for ax, key in zip(axes[0], (AP, "rank1"), strict=True):
            y = ch.stack(v, f"mpn_misalignment/{key}").astype(float)
            ax.errorbar(levels, y.mean(0), yerr=_sd(y), marker=marker, color=colour, capsize=3,
                        label=f"{LABEL[v]} (n={len(y)})")
    for ax, name in zip(axes[0], ("mAP (trapezoid, %)", "Rank-1 (%)"), strict=True):
        ax.set_xlabel("test misalignment")
        ax.set_ylabel(name)
        ax.axvline(0.3, color="grey", ls=":", lw=1)
    return _finish(fig, "MPN-X1: mean ± std over seeds (dotted: the training level)", axes[0, 1])


def table_x1(ch: Chapter) -> Styler | Note:
    """Rows = variants, columns = mean trapezoid mAP at each test misalignment and the drop from 0 to 0.9."""
    have = _with(ch, T1_ORDER, f"mpn_misalignment/{AP}")
    if not have:
        return _no_records(ch, "MPN-X1", T1_ORDER)
    rows = []
    for v in have:
        y = ch.stack(v, f"mpn_misalignment/{AP}").astype(float).mean(0)
        levels = ch.stack(v, "mpn_misalignment/levels")[0]
        rows.append({"model": LABEL[v], "seeds": str(len(ch.stack(v, "mpn_misalignment/levels")))}
                    | {f"misalignment {lv:g}": fmt(x) for lv, x in zip(levels, y, strict=True)}
                    | {"drop 0 → 0.9": fmt(y[0] - y[-1])})
    return _styled(pd.DataFrame(rows).set_index("model"), "MPN-X1: trapezoid mAP (%), mean over seeds")


# ---------------------------------------------------------------------------------------------- MPN-X2, λ
def _curve(ax, ch: Chapter, points: list[tuple[float, str]], col: str, label: str, style: tuple[str, str]) -> None:
    """Mean ± std of ``col`` over seeds at each (x, variant) that has runs."""
    have = [(x, ch.values(v, col)) for x, v in points if ch.has(v)]
    ax.errorbar([x for x, _ in have], [y.mean() for _, y in have],
                yerr=[y.std(ddof=1) if len(y) > 1 else 0 for _, y in have], color=style[0], marker=style[1],
                capsize=3, label=label)


X2_POINTS = [(0.0, "mpn_noca"), (0.5, "noise0p5"), (1.0, "noise1")]
LAMBDA_POINTS = [(0.0, "c1s_c2s"), (0.3, "lambda0p3"), (1.0, "mpn_noca"), (3.0, "lambda3")]


def fig_x2(ch: Chapter) -> Figure | Note:
    """MPN°'s trapezoid mAP against the training prior's noise (0 = exact masks); MT Only (no prior) dashed."""
    if not any(ch.has(v) for _, v in X2_POINTS):
        return _no_records(ch, "MPN-X2", [v for _, v in X2_POINTS])
    fig, ax = _figure(figsize=(6.0, 3.2))
    ax = ax[0, 0]
    _curve(ax, ch, X2_POINTS, AP, "MPN°", STYLE["mpn_noca"])
    if ch.has("mt_only"):
        ax.axhline(ch.mean("mt_only", AP), color=STYLE["mt_only"][0], ls="--", label="MT Only (no prior)")
    ax.set_xlabel("training prior noise")
    ax.set_ylabel("mAP (trapezoid, %)")
    return _finish(fig, "MPN-X2: noisy coarse priors (mean ± std over seeds)", ax)


def fig_lambda(ch: Chapter) -> Figure | Note:
    """MPN°'s trapezoid mAP and Rank-1 against the weight λ of L_CF (λ = 0 is +C1-S+C2-S, λ = 1 is MPN°)."""
    if not any(ch.has(v) for _, v in LAMBDA_POINTS):
        return _no_records(ch, "alignment weight", [v for _, v in LAMBDA_POINTS])
    fig, ax = _figure(figsize=(6.0, 3.2))
    ax = ax[0, 0]
    _curve(ax, ch, LAMBDA_POINTS, AP, "mAP (trapezoid)", ("tab:blue", "o"))
    _curve(ax, ch, LAMBDA_POINTS, "rank1", "Rank-1", ("tab:red", "s"))
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("λ (weight of L_CF)")
    ax.set_ylabel("%")
    return _finish(fig, "alignment weight λ (MPN°, mean ± std over seeds)", ax)


# ---------------------------------------------------------------------------------------------- MPN-X3
def fig_x3(ch: Chapter) -> Figure | Note:
    """Left: importance-weighted channel height per part (mean ± std over seeds). Right: MPN's (lowest seed)
    conv1 importance of every channel per part, channels sorted by body-relative height, z-scored per part."""
    have = _with(ch, T1_ORDER, "mpn_channels/part_height")
    if not have:
        return _no_records(ch, "MPN-X3", T1_ORDER)
    fig, axes = _figure(1, 2, (10.5, 4.0))
    for v in have:
        y = ch.stack(v, "mpn_channels/part_height").astype(float)
        axes[0, 0].errorbar(np.arange(1, y.shape[1] + 1), y.mean(0), yerr=_sd(y), marker=STYLE[v][1],
                            color=STYLE[v][0], capsize=3, label=LABEL[v])
    axes[0, 0].set_xlabel("part k")
    axes[0, 0].set_ylabel("importance-weighted\nchannel height")
    v = "mpn" if "mpn" in have else have[-1]
    a = ch.analysis(v)
    imp, h = a["mpn_channels/importance"], a.get("mpn_channels/channel_height")
    order = np.argsort(np.nan_to_num(h, nan=0.5)) if h is not None else np.arange(imp.shape[1])
    z = imp[:, order]
    z = (z - z.mean(1, keepdims=True)) / (z.std(1, keepdims=True) + 1e-12)
    axes[0, 1].imshow(z, aspect="auto", cmap="coolwarm", vmin=-3, vmax=3, interpolation="nearest")
    axes[0, 1].set_yticks(range(imp.shape[0]), [f"part {i + 1}" for i in range(imp.shape[0])])
    axes[0, 1].set_xlabel("backbone channels by body-relative height (head → feet)")
    axes[0, 1].set_title(f"{LABEL[v]} seed {int(ch.of(v)['seed'].iloc[0])}: conv1 importance (z per part)",
                         fontsize=9)
    axes[0, 0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=3)  # below, off the data
    return _finish(fig, "MPN-X3: which channels does each part select?")


# ---------------------------------------------------------------------------------------------- MPN-X4
X4_VARIANTS = T1_ORDER + ["lambda0p3", "lambda3", "noise0p5", "noise1"]


def table_x4(ch: Chapter) -> Styler | Note:
    """Per variant with CAM scores: hit rate, CAM correlation and CAM height slope, mean ± std over seeds (n)."""
    rows = [{"model": LABEL[v], "hit rate": ch.mean_std(v, "x4_hit_rate", 3),
             "CAM correlation": ch.mean_std(v, "x4_cam_correlation", 3),
             "CAM height slope": ch.mean_std(v, "x4_cam_height_slope", 3)}
            for v in X4_VARIANTS if not ch.values(v, "x4_hit_rate").empty]
    if not rows:
        return _no_records(ch, "MPN-X4", T1_ORDER)
    return _styled(pd.DataFrame(rows).set_index("model"), "MPN-X4: part-task Grad-CAMs against the body strips")


def fig_x4(ch: Chapter) -> Figure | Note:
    """Per part task k: the CAM's body-relative height and its mass on strip k, mean ± std over seeds."""
    have = _with(ch, T1_ORDER, "mpn_gradcam/cam_height")
    if not have:
        return _no_records(ch, "MPN-X4", T1_ORDER)
    fig, axes = _figure(1, 2, (10.0, 3.3))
    for v in have:
        height = np.nanmean(ch.stack(v, "mpn_gradcam/cam_height").astype(float), 2)        # (seeds, K)
        own = np.nanmean(np.stack([own_strip_mass(m) for m in ch.stack(v, "mpn_gradcam/strip_mass")]), 2)
        k = np.arange(1, height.shape[1] + 1)
        for ax, y in zip(axes[0], (height, own), strict=True):
            ax.errorbar(k, y.mean(0), yerr=_sd(y), marker=STYLE[v][1], color=STYLE[v][0], capsize=3,
                        label=LABEL[v])
    axes[0, 0].plot([1, 6], [1 / 12, 11 / 12], "k:", lw=1, label="ideal (strip centres)")
    axes[0, 1].axhline(1 / 6, color="k", ls="--", lw=1, label="chance (1/6)")
    axes[0, 0].set_ylabel("CAM body-relative height")
    axes[0, 1].set_ylabel("CAM mass on own strip")
    for ax in axes[0]:
        ax.set_xlabel("part task k")
    handles = {}
    for ax in axes[0]:  # one legend for both panels, outside the data
        handles |= dict(zip(*ax.get_legend_handles_labels()[::-1], strict=True))
    fig = _finish(fig, "MPN-X4: mean ± std over seeds")
    axes[0, 1].legend(handles.values(), handles.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- MPN-X5
def table_x5(ch: Chapter) -> Styler | Note:
    """Per variant with the ``mpn_test_prior`` hook and test-prior noise level: mAP of MPN's MT descriptor
    (needs no prior) and of the AT-at-test descriptor, mean ± std over seeds."""
    rows = []
    for v in ("mpn", "mpn_noca"):
        at = ch.stack(v, "mpn_test_prior/at_mAP")
        if at is None:
            continue
        mt = ch.stack(v, "mpn_test_prior/mt_mAP")
        for j, lv in enumerate(ch.stack(v, "mpn_test_prior/levels")[0]):
            rows.append({"model": LABEL[v], "test-prior noise": f"{lv:g}", "seeds": str(len(at)),
                         "MT descriptor mAP (MPN's)": _pm(mt, 1), "AT-at-test mAP": _pm(at[:, j], 1)})
    if not rows:
        return _no_records(ch, "MPN-X5", ["mpn"], f"`{ANALYZE.format(hook='mpn_test_prior')}`")
    return _styled(pd.DataFrame(rows).set_index(["model", "test-prior noise"]),
                   "MPN-X5: test-time priors, MT vs AT-at-test (mAP %, mean ± std over seeds)")


# ---------------------------------------------------------------------------------------------- claims
#: metric families written in points with one decimal (as :mod:`partreid_core.reporting.glance` does)
POINT_FAMILIES = ("accuracy", "drop", "share_pct", "entropy_pct", "relative drop")


def _claim_format(row: pd.Series) -> Callable[..., str]:
    """How one claim's numbers are written: one decimal for points, three for fractions and similarities,
    scientific notation for quantities below 0.001 (the channel-height slopes)."""
    if row["family"] in POINT_FAMILIES:
        return lambda x, signed=True: fmt(x, 1, signed)
    finite = [abs(float(x)) for x in (row["difference"], row["ci_low"], row["ci_high"]) if np.isfinite(float(x))]
    if finite and max(finite) < 0.001:
        return lambda x, signed=True: (MISSING if x is None or not np.isfinite(float(x))
                                       else f"{float(x):{'+' if signed else ''}.1e}")
    return lambda x, signed=True: fmt(x, 3, signed)


def _claim_cells(row: pd.Series) -> dict[str, str]:
    """The formatted numbers of one claim: paper's Δ, ours with its CI, the ratio, Holm's p and the MDE."""
    num = _claim_format(row)
    ours = MISSING if not np.isfinite(row["difference"]) else \
        f"{num(row['difference'])} [{num(row['ci_low'])}, {num(row['ci_high'])}]"
    p = row["p_holm"]
    return {"paper's Δ": num(row["paper_effect"]), "ours: Δ [95 % CI]": ours,
            "ours ÷ paper's": f"{row['ratio']:.1f}×" if np.isfinite(row["ratio"]) else MISSING,
            "MDE": num(row["mde"], False),
            "p (Holm)": MISSING if not np.isfinite(p) else ("< 0.001" if p < 1e-3 else f"{p:.3f}")}


def _claims(ch: Chapter) -> pd.DataFrame:
    """The claims table with every number as text (:func:`_claim_cells`)."""
    t = ch.claims()
    for c in ("difference", "ci_low", "ci_high", "ratio", "mde", "p_holm"):
        t[c] = pd.to_numeric(t[c], errors="coerce")
    cells = pd.DataFrame([_claim_cells(r) for _, r in t.iterrows()], index=t.index)
    return pd.concat([t, cells], axis=1)


def table_claims(ch: Chapter) -> Styler:
    """Every claim of the chapter, in the rows of ``partreid claims --paper MPN``: the paper's Δ, ours with its
    95 % CI, the ratio, the seeds' signs, Holm's p, the minimum detectable effect (MDE) and the verdict."""
    t = _claims(ch)
    cols = ["claim", "artefact", "kind", "statement", "metric", "design", "paper's Δ", "ours: Δ [95 % CI]",
            "ours ÷ paper's", "seed_signs", "p (Holm)", "MDE", "verdict"]
    return _styled(t[cols].rename(columns={"seed_signs": "seeds"}), "MPN claims, judged on the run records",
                   hide_index=True)


#: what each verdict says to the reader
EXPLAIN = {
    "confirmed": "the seeds support the paper here.",
    "contradicted": "the seeds go against the paper at this scale (significantly the other way).",
    "no effect": "the difference is too small to matter: its 95 % CI lies inside the claim's margin.",
    "inconclusive": "these seeds do not settle it (after Holm's correction over the chapter's claims); they "
                    "would detect an effect of about {mde} or more (the MDE).",
}


def claims_reading(ch: Chapter) -> Note:
    """One Markdown line per claim: what it says, our Δ with its CI, the verdict and what the verdict means."""
    lines = []
    for _, r in _claims(ch).iterrows():
        if r["ours: Δ [95 % CI]"] == MISSING:
            lines.append(f"- **{r['claim']}** ({r['artefact']}): {r['statement']}. {r['observed']}.")
            continue
        lines.append(f"- **{r['claim']}** ({r['artefact']}): {r['statement']}. Ours Δ {r['ours: Δ [95 % CI]']} "
                     f"on `{r['metric']}`: **{r['verdict']}**; " + EXPLAIN[r["verdict"]].format(mde=r["MDE"]))
    return Note("\n".join(lines))


#: the renderers of each artefact (an artefact without one is described in the chapter's prose only)
RENDERERS: dict[str, tuple[Callable, ...]] = {
    "MPN-T1": (table_t1_paper, table_t1, fig_t1), "MPN-T2": (table_t2,), "MPN-T3": (table_t3,),
    "MPN-T4": (table_t4,), "MPN-T5": (table_t5,), "MPN-T6": (table_t6,), "MPN-T7": (table_t7,),
    "MPN-T8": (table_t8_paper, table_t8), "MPN-F1": (fig_f1,), "MPN-F2": (fig_f2, table_f2),
    "MPN-F5": (fig_f5,), "MPN-F6": (table_f6,), "MPN-F7": (fig_f7,), "MPN-F8": (fig_f8, table_f8),
    "MPN-F9": (table_f9,), "MPN-X1": (fig_x1, table_x1), "MPN-X2": (fig_x2, fig_lambda), "MPN-X3": (fig_x3,),
    "MPN-X4": (table_x4, fig_x4), "MPN-X5": (table_x5,),
}

__all__ = ["LABEL", "Note", "RENDERERS", "STYLE", "T1_ORDER", "claims_reading", "fig_f1", "fig_f2", "fig_f5",
           "fig_f7", "fig_f8", "fig_lambda", "fig_t1", "fig_x1", "fig_x2", "fig_x3", "fig_x4", "status_table",
           "table_claims", "table_f2", "table_f6", "table_f8", "table_f9", "table_t1", "table_t1_paper", "table_t2",
           "table_t3", "table_t4", "table_t5", "table_t6", "table_t7", "table_t8", "table_t8_paper", "table_x1",
           "table_x4", "table_x5"]
