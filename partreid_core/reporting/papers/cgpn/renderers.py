"""CGPN chapter renderers: one function per artefact, each taking the :class:`~partreid_core.reporting.chapter.Chapter`
of ``open_chapter("CGPN")`` and returning a matplotlib Figure or a pandas Styler / DataFrame of formatted strings.

Tables show fixed decimals and :data:`MISSING` ("—") where the paper reports nothing or a run has no record; the
paper authors' numbers are labelled "paper". Figures keep every text at 8 pt or more (:func:`min_font`) and their
legends outside the data.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text

from ....analysis.chapter_hooks import cgpn as hooks
from ....data import build_dataset
from ....engine.records import load_analysis, load_history
from ....experiments.ranklists import load_ranklist
from ....models import build_model
from ....models.cgpn import stripe_bounds, windows
from ...chapter import MISSING, Chapter, fmt
from ...figures import rank_list_figure
from .core import (
    CONV1_HEADS,
    CONV2_HEADS,
    OCCLUDED_PREFIX,
    STRIPE_HEADS,
    cam_upper_share,
    mean_share,
    peak_upper_share,
    window_losses,
)
from .reference import DATASETS, T2_ROWS, T2_VARIANTS, TABLE1, TABLE2, TABLE2B_TEXT, table2_deltas

#: the smallest font a figure of the chapter may use (pt)
MIN_FONT = 8
#: the training conditions: label -> (variant prefix, the paper's data set it stands in for)
CONDITIONS_TRAIN: dict[str, tuple[str, str]] = {"synth-s": ("", "Market-1501"),
                                                "S-occluded": (OCCLUDED_PREFIX, "CUHK03-labeled")}
#: the variants of the robustness curves (CGPN-X1), in legend order
X1_VARIANTS: tuple[str, ...] = ("cgpn", "cgpn4_unsup", "cgpn2_fine", "cgpn1_noloc", "cgpn3_noglob", "mgn",
                                "cgpn_globaltriplet")
#: the variants of the Grad-CAM table (CGPN-X2); MGN and CGPN-3 have no supervised global head
X2_VARIANTS: tuple[str, ...] = ("cgpn", "cgpn4_unsup", "cgpn2_fine", "cgpn1_noloc", "cgpn_globaltriplet")
#: branch-1 heads shown in the Grad-CAM grid: its conv_1 and conv_2 heads and its two fixed stripes
CAM_GRID_HEADS: tuple[int, ...] = (CONV1_HEADS[0], CONV2_HEADS[0], *STRIPE_HEADS)
#: the rank-list record of CGPN-F5 (``partreid ranklist``, under the records root)
F5_RECORD = Path("ranklists") / "cgpn-vs-mgn-occlusion0.9-s0"
#: the cpu profile's model (ResNet-50 topology at width 0.25) and input of the CGPN-F2 dummy forward
F2_WIDTH, F2_INPUT = 0.25, (128, 64)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")


# ---------------------------------------------------------------------------------------------- shared helpers
def min_font(fig: Figure, size: float = MIN_FONT) -> Figure:
    """Raise every text of ``fig`` (titles, ticks, legends, annotations) to at least ``size`` pt."""
    for t in fig.findobj(Text):
        if t.get_fontsize() < size:
            t.set_fontsize(size)
    return fig


def styled(table: pd.DataFrame, caption: str) -> pd.io.formats.style.Styler:
    """A table of formatted strings with its caption (what the page shows)."""
    return table.style.set_caption(caption)


def _cells(frame: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Every numeric cell with fixed decimals, :data:`MISSING` for NaN."""
    return frame.map(lambda v: fmt(v, digits))


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend_below(fig: Figure, axes, ncol: int = 4) -> None:
    """One legend for the figure, below the axes (never on the data)."""
    handles, labels = {}, []
    for ax in np.atleast_1d(axes).flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if labels:
        fig.legend([handles[lab] for lab in labels], labels, loc="lower center", ncol=ncol, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))


def status_table(ch: Chapter) -> pd.DataFrame:
    """The incomplete rows of :meth:`Chapter.status` (sweep, variant, seeds, command), or one row saying that
    every planned run has its record."""
    st = ch.status()
    todo = st[st["state"] != "complete"]
    if todo.empty:
        return pd.DataFrame({"state": ["every planned run has its record"]})
    return todo[["sweep", "variant", "seeds", "command"]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- CGPN-F1..F4
def fig_f1(ch: Chapter, n_ids: int = 4, per_id: int = 6) -> Figure:
    """CGPN-F1: ``n_ids`` synthetic identities × ``per_id`` gallery views under S-occluded (occlusion 0.6,
    truncation 0.3), each tagged holistic / occluded / part-missing from the generator's metadata."""
    ds = build_dataset(ch.dataset or "synth-s", occlusion=0.6, truncation=0.3)
    manifest = ds.manifest("gallery")
    pids = sorted({s.pid for s in manifest if s.pid > 0})[:n_ids]   # pid 0 = distractors
    idx = [s.index for pid in pids for s in [m for m in manifest if m.pid == pid][:per_id]]
    views = ds.render("gallery", idx, F2_INPUT)
    fig, axes = plt.subplots(len(pids), per_id, figsize=(1.45 * per_id, 2.4 * len(pids)), squeeze=False)
    for ax, k in zip(axes.flat, range(len(idx)), strict=False):
        ax.imshow(views.images[k].permute(1, 2, 0).numpy())
        tag = ("part-missing" if views.meta["truncated"][k] > 0 else
               "occluded" if views.meta["n_occluders"][k] > 0 else "holistic")
        ax.set_title(f"id {int(views.pids[k])} cam {int(views.camids[k])}\n{tag}")
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("CGPN-F1: synthetic identities, holistic / occluded / part-missing views", fontsize=10)
    fig.tight_layout()
    return min_font(fig)


@functools.lru_cache(maxsize=1)
def _f2_forward():
    """The cpu-profile CGPN and the shapes of one dummy forward: (model, trunk shape, branch-map shapes, dim)."""
    import torch


    model = build_model("cgpn", 200, {"backbone": {"width": F2_WIDTH}}).eval()
    x = torch.zeros(2, 3, *F2_INPUT)
    with torch.no_grad():
        trunk = model.trunk(x)
        maps = [b(trunk) for b in model.branches]
        emb = model(x)
    return model, tuple(trunk.shape[1:]), [tuple(m.shape[1:]) for m in maps], int(emb.shape[1])


def table_f2(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-F2 shape table: tensor -> shape along the cpu-profile model, from a dummy forward."""
    model, trunk, maps, dim = _f2_forward()
    c = maps[0][0]
    rows = [("input", f"3×{F2_INPUT[0]}×{F2_INPUT[1]}"), ("shared trunk (… res_conv4_1)", "×".join(map(str, trunk)))]
    rows += [(f"T_{i + 1} (branch {i + 1}, last stride 1)", "×".join(map(str, m))) for i, m in enumerate(maps)]
    rows += [(f"feature {n}", f"{2 * c if 'global' in n else c} → {model.cfg.reduce_dim}") for n in model.feature_names]
    rows.append(("test descriptor", f"{dim} = {len(model.feature_names)} × {model.cfg.reduce_dim}"))
    return styled(pd.DataFrame(rows, columns=["tensor", "shape"]),
                  f"CGPN-F2: shapes of the cpu-profile model (width {F2_WIDTH}, {F2_INPUT[0]}×{F2_INPUT[1]} input)")


def fig_f2(ch: Chapter) -> Figure:
    """CGPN-F2 schematic, drawn from the model's ``CGPNConfig`` (stripes, windows, widths)."""
    model, _, maps, dim = _f2_forward()
    c = maps[0][0]
    fig, ax = plt.subplots(figsize=(13, 4.4))
    ax.axis("off")
    ax.add_patch(plt.Rectangle((0, 1.2), 1.7, 1.2, fc="#ddd", ec="k"))
    ax.text(0.85, 1.8, "shared trunk\nstem…res_conv4_1", ha="center", va="center")
    for i, n in enumerate(model.stripes):
        y = 2.9 - 1.3 * i
        ax.annotate("", (2.1, y + 0.3), (1.7, 1.8), arrowprops={"arrowstyle": "->"})
        ax.add_patch(plt.Rectangle((2.1, y), 2.5, 0.6, fc="#cde", ec="k"))
        ax.text(3.35, y + 0.3, f"branch {i + 1}: res_conv4_2…5\nT_{i + 1} {c}×{maps[i][1]}×{maps[i][2]}",
                ha="center", va="center")
        ax.annotate("", (5.0, y + 0.3), (4.6, y + 0.3), arrowprops={"arrowstyle": "->"})
        ax.add_patch(plt.Rectangle((5.0, y + 0.32), 5.2, 0.36, fc="#fdd", ec="k"))
        ax.text(7.6, y + 0.5, f"global: 2×conv1×1 + GMP → {2 * c} → {model.cfg.reduce_dim} "
                "(MSE to half-map GMP)", ha="center", va="center")
        nw = len(model.windows[i])
        ax.add_patch(plt.Rectangle((5.0, y - 0.08), 5.2, 0.36, fc="#dfd", ec="k"))
        ax.text(7.6, y + 0.1, f"local: N={n} stripes → {nw} coarse windows → GMP → {nw}×{model.cfg.reduce_dim}",
                ha="center", va="center")
    ax.text(10.4, 1.8, f"concat\n{dim}-d", ha="left", va="center", fontsize=9)
    ax.set_xlim(0, 11.4)
    ax.set_ylim(-0.2, 3.7)
    ax.set_title("CGPN-F2: CGPN as built from CGPNConfig (cpu profile)", fontsize=10)
    return min_font(fig)


def _draw_windows(ax_row, fine: bool, h: int = 24, w: int = 8) -> None:
    """One row of CGPN-F3/F4: the windows of branches N = 2, 3, 4 on an ``h``-row map."""
    for ax, n in zip(ax_row, (2, 3, 4), strict=True):
        wins = windows(n, 0.5, fine)
        b = stripe_bounds(h, n)
        for k, (s, e) in enumerate(wins):
            x0 = k * (w + 4)
            ax.add_patch(plt.Rectangle((x0, 0), w, h, fc="white", ec="0.6"))
            for r in b[1:-1]:
                ax.plot([x0, x0 + w], [h - r, h - r], color="0.6", lw=0.6)
            ax.add_patch(plt.Rectangle((x0, h - b[e]), w, b[e] - b[s], fc=f"C{k}", alpha=0.5))
            ax.text(x0 + w / 2, -2.5, f"f_l{k + 1}\nrows {b[s]}–{b[e]}\n{(b[e] - b[s]) / h:.2f}", ha="center",
                    va="top")
        ax.set_xlim(-1, 5 * (w + 4))
        ax.set_ylim(-12, h + 1)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(f"N = {n}: {len(wins)} {'stripes' if fine else 'windows'}", fontsize=9)


def fig_f3_f4(ch: Chapter) -> Figure:
    """CGPN-F3 (coarse windows, upper row) and CGPN-F4 (CGPN-2's fine stripes, lower row), drawn by
    ``models.cgpn.windows``, the function the model uses, on the paper's 24-row map (384×128 input)."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    _draw_windows(axes[0], fine=False)
    _draw_windows(axes[1], fine=True)
    axes[0][0].text(-3, 12, "CGPN-F3\ncoarse", ha="right", va="center", fontsize=9)
    axes[1][0].text(-3, 12, "CGPN-F4\nfine (CGPN-2)", ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return min_font(fig)


# ---------------------------------------------------------------------------------------------- CGPN-T1, T2, T2b
def table_t1(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-T1 as the paper prints it (rows = methods, "—" where the paper reports nothing)."""
    return styled(_cells(TABLE1.frame()), f"CGPN-T1 (paper, reference only): {TABLE1.source}")


def table_t1_ours(ch: Chapter) -> pd.io.formats.style.Styler:
    """Our CGPN and MGN (CGPN's recipe) rows: mean ± std over seeds per training condition (rows = models)."""
    rows = {}
    for label, variant in (("CGPN (ours)", "cgpn"), ("MGN (ours, CGPN's recipe)", "mgn")):
        rows[label] = {f"{cond} {name}": ch.mean_std(prefix + variant, col)
                       for cond, (prefix, _) in CONDITIONS_TRAIN.items()
                       for name, col in (("Rank-1", "rank1"), ("mAP", "mAP"))}
    caption = "CGPN-T1, our synthetic rows · " + ch.provenance(["cgpn", "mgn", OCCLUDED_PREFIX + "cgpn"])
    return styled(pd.DataFrame.from_dict(rows, orient="index"), caption)


def table_t2(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-T2 as the paper prints it, with what each row removes."""
    table = _cells(TABLE2.frame())
    table.insert(0, "removes", [T2_ROWS[r] for r in table.index])
    return styled(table, f"CGPN-T2 (paper): {TABLE2.source}")


def table_t2_ours(ch: Chapter, condition: str = "synth-s") -> pd.io.formats.style.Styler:
    """CGPN-T2 rows beside ours under one training condition (:data:`CONDITIONS_TRAIN`): per metric the paper's
    value on the data set the condition stands in for, our mean ± std (n seeds) and ours − paper."""
    prefix, dataset = CONDITIONS_TRAIN[condition]
    rows = {}
    for row, variant in T2_VARIANTS.items():
        cells = {}
        for name, col in (("Rank-1", "rank1"), ("mAP", "mAP")):
            paper = TABLE2.value(row, dataset, name)
            cells[f"{name} paper ({dataset})"] = fmt(paper)
            cells[f"{name} ours"] = ch.mean_std(prefix + variant, col)
            cells[f"{name} ours − paper"] = fmt(ch.mean(prefix + variant, col) - paper, signed=True)
        rows[row] = cells
    variants = [prefix + v for v in T2_VARIANTS.values()]
    return styled(pd.DataFrame.from_dict(rows, orient="index"),
                  f"CGPN-T2, ours on {condition} · " + ch.provenance(variants))


def _delta_cell(ch: Chapter, treatment: str, baseline: str) -> str:
    """Paired Rank-1 / mAP difference (mean over the common seeds) as "+r / +m (n=k)", :data:`MISSING` without."""
    r, m = (ch.paired_delta(treatment, baseline, col) for col in ("rank1", "mAP"))
    if m.empty:
        return MISSING
    return f"{fmt(r.mean(), signed=True)} / {fmt(m.mean(), signed=True)} (n={len(m)})"


def table_t2b(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-T2b: per comparison of the text (§4.4-4.5), the paper's Rank-1 / mAP deltas per data set (from
    :data:`TABLE2`) and ours per training condition (paired by seed)."""
    rows = {}
    for row, ref in TABLE2B_TEXT:
        cells = {f"paper {d}": f"{r:+.1f} / {m:+.1f}" for d, (r, m) in zip(DATASETS, table2_deltas(row, ref),
                                                                           strict=True)}
        for cond, (prefix, _) in CONDITIONS_TRAIN.items():
            cells[f"ours {cond}"] = _delta_cell(ch, prefix + T2_VARIANTS[row], prefix + T2_VARIANTS[ref])
        rows[f"{row} − {ref}"] = cells
    return styled(pd.DataFrame.from_dict(rows, orient="index"), "CGPN-T2b: Rank-1 / mAP deltas, paper and ours")


# ---------------------------------------------------------------------------------------------- claims
#: what each claim asks, in a reader's words
CLAIM_QUESTIONS: dict[str, str] = {
    "C3": "whether the MSE supervision of the global heads improves retrieval at the default knobs",
    "C3-occ": "whether it helps more when training and testing under heavy occlusion and truncation",
    "C3-X1-occ": "whether it makes the trained model degrade less as occluders are added",
    "C3-X1-trunc": "whether it makes the trained model degrade less on part-missing boxes",
    "C6": "whether the supervised heads split into an upper-body and a lower-body head (channel peaks)",
    "C6-cam": "the same split seen through Grad-CAM of each head's score",
    "C1": "whether coarse windows beat single fine stripes",
    "C1-occ": "the same under S-occluded training",
    "C1-X1-trunc": "whether coarse windows lose less on part-missing boxes",
    "C2": "whether the local part is needed at all",
    "C4": "whether the global part is needed at all",
    "C5": "whether unsupervised global parts still help a local-only model on near-holistic data",
    "C7": "whether CGPN beats MGN trained with the same recipe",
    "C7-X1-occ": "whether CGPN keeps more of its mAP than MGN under heavy occlusion",
    "C7-X1-trunc": "whether CGPN keeps more of its mAP than MGN on part-missing boxes",
    "C8": "whether a coarse window alone loses less of its mAP under occlusion than a fine stripe alone",
    "C8-occ": "whether a coarse window alone keeps a higher mAP under occlusion than a fine stripe alone",
    "C8-height": "whether, within CGPN-2, its half-height stripes lose less of their mAP under occlusion than its "
                 "thinner ones",
    "C8-height-occ": "whether, within CGPN-2, its half-height stripes keep a higher mAP under occlusion than its "
                     "thinner ones",
}
#: what a verdict means for the paper, in a reader's words
VERDICT_WORDS: dict[str, str] = {
    "confirmed": "the seeds support the paper",
    "contradicted": "a significant effect in the opposite direction: a negative result",
    "no effect": "the 95 % CI lies inside the claim's margin: a negative result",
    "inconclusive": "the seeds cannot tell (too few seeds for an effect this size, or too much spread)",
}


def table_claims(ch: Chapter) -> pd.io.formats.style.Styler:
    """Every claim of the chapter as ``partreid claims --paper CGPN`` judges it (rows = claims): what it compares,
    the observation, Holm-adjusted p, minimum detectable effect, ratio to the paper's Δ and the verdict."""
    t = ch.claims()
    table = pd.DataFrame({
        "claim": t["claim"], "artefact": t["artefact"], "kind": t["kind"], "statement": t["statement"],
        "design": t["design"], "observed": t["observed"],
        "seeds": t["seed_signs"].fillna(MISSING).replace("", MISSING),
        "Holm p": [fmt(p, 3) for p in t["p_holm"]], "MDE": [fmt(m, 2) for m in t["mde"]],
        "ours ÷ paper's Δ": [MISSING if fmt(r) == MISSING else f"{fmt(r)}×" for r in t["ratio"]],
        "verdict": t["verdict"]}).set_index("claim")
    return styled(table, "CGPN claims, judged paired by seed with Holm's correction over the chapter's claims")


def claims_text(ch: Chapter) -> str:
    """One Markdown bullet per claim: what it asks, what the records show and what the verdict means."""
    lines = []
    for _, r in ch.claims().iterrows():
        ask = CLAIM_QUESTIONS[r["claim"]]
        observed = str(r["observed"])
        if observed.startswith("no records"):
            lines.append(f"* **{r['claim']}** ({ask}): {observed}; the status table gives the command.")
        elif observed.startswith("no "):
            lines.append(f"* **{r['claim']}** ({ask}): {observed}; the hook stored no usable value.")
        else:
            lines.append(f"* **{r['claim']}** ({ask}): {observed}: **{r['verdict']}**, {VERDICT_WORDS[r['verdict']]}.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- CGPN-X1
def fig_x1(ch: Chapter, metric: str = "mAP") -> Figure:
    """CGPN-X1: ``metric`` vs occlusion and vs truncation level (other knob 0), mean ± std over seeds of each
    variant of :data:`X1_VARIANTS` that has the ``cgpn_knobs`` hook; one legend below the panels."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    drawn = 0
    for i, variant in enumerate(X1_VARIANTS):
        levels = ch.analysis(variant).get("cgpn_knobs/levels")
        for ax, knob in zip(axes, hooks.KNOBS, strict=True):
            y = ch.stack(variant, f"cgpn_knobs/{knob}_{metric}")
            if y is None or levels is None:
                continue
            drawn += 1
            ax.errorbar(levels, y.mean(0), yerr=y.std(0, ddof=1) if len(y) > 1 else None, capsize=3,
                        marker=MARKERS[i], color=f"C{i}", label=f"{variant} (n={len(y)})")
    for ax, knob in zip(axes, ("occlusion", "truncation (part-missing boxes)"), strict=True):
        ax.set_xlabel(f"{knob} level (other knob 0)")
        ax.grid(alpha=0.3)
        if not drawn:
            _no_data(ax, "no cgpn_knobs arrays in the records (status table)")
    axes[0].set_ylabel(f"{metric} (%)")
    fig.suptitle(f"CGPN-X1: {metric} vs occlusion / truncation (mean ± std over seeds)", fontsize=10)
    _legend_below(fig, axes)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return min_font(fig)


def table_x1(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-X1 end points per variant (rows): mAP at level 0, at occlusion / truncation 0.9 and the drops,
    mean ± std over seeds."""
    cols = {"clean mAP": "occ0_mAP", "mAP at occlusion 0.9": "occ90_mAP", "occlusion drop": "occ_drop",
            "mAP at truncation 0.9": "trunc90_mAP", "truncation drop": "trunc_drop"}
    rows = {v: {name: ch.mean_std(v, col) for name, col in cols.items()} for v in X1_VARIANTS}
    return styled(pd.DataFrame.from_dict(rows, orient="index"), "CGPN-X1: mAP (%) at the curves' end points")


# ---------------------------------------------------------------------------------------------- CGPN-X2
def fig_x2(ch: Chapter) -> Figure:
    """CGPN-X2: upper-body share at the channel peaks of each head, per test condition, CGPN vs CGPN-4
    (mean ± std over seeds); the dashed line is the upper body's area share (a head blind to position)."""
    fig, axes = plt.subplots(1, len(hooks.CONDITIONS), figsize=(13, 4.6), sharey=True)
    width, drawn = 0.38, False
    for vi, variant in enumerate(("cgpn", "cgpn4_unsup")):
        comp = ch.stack(variant, "cgpn_parts/peak_composition")       # (S, K conditions, J heads, 3)
        area = ch.stack(variant, "cgpn_parts/area_share")             # (S, K, 3)
        if comp is None or area is None:
            continue
        drawn = True
        share = peak_upper_share(comp)                                 # (S, K, J)
        area_upper = peak_upper_share(area).mean(0)                    # (K,)
        for ci, ax in enumerate(axes):
            ax.bar(np.arange(share.shape[2]) + (vi - 0.5) * width, share[:, ci].mean(0), width,
                   yerr=share[:, ci].std(0, ddof=1) if len(share) > 1 else None, capsize=2, color=f"C{vi}",
                   hatch="" if vi == 0 else "//", label=f"{variant} (n={len(share)})")
            ax.axhline(area_upper[ci], ls="--", color="k", lw=0.8,
                       label="area share of the upper body" if vi == 0 else None)
    for ax, cond in zip(axes, hooks.CONDITIONS, strict=True):
        ax.set_xticks(range(len(hooks.HEAD_NAMES)))
        ax.set_xticklabels(hooks.HEAD_NAMES, rotation=60, ha="right")
        ax.set_title(cond.replace("_", "-"), fontsize=9)
        if not drawn:
            _no_data(ax, "no cgpn_parts arrays in the records")
    axes[0].set_ylabel("upper-body share at channel peaks")
    fig.suptitle("CGPN-X2: where the global heads' channels peak", fontsize=10)
    _legend_below(fig, axes, ncol=3)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return min_font(fig)


def table_x2(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-X2 companion (rows = variant × condition): the Grad-CAM upper-body share of the conv_1 and conv_2
    heads and of branch 1's two fixed stripes, and the cosine of each head's feature to its MSE target;
    mean over seeds and images, "—" where no image put Grad-CAM mass on the body."""
    rows = []
    for variant in X2_VARIANTS:
        mass = ch.stack(variant, "cgpn_parts/cam_part_mass")           # (S, K, J, 8)
        cos = ch.stack(variant, "cgpn_parts/head_target_cos")          # (S, K, 6)
        if mass is None or cos is None:
            continue
        upper = cam_upper_share(mass)                                  # (S, K, J), NaN: no body mass
        for ci, cond in enumerate(hooks.CONDITIONS):
            u = upper[:, ci]
            rows.append({
                "variant": variant, "condition": cond.replace("_", "-"),
                "Grad-CAM upper share, conv_1 heads": fmt(mean_share(u[:, list(CONV1_HEADS)]), 2),
                "Grad-CAM upper share, conv_2 heads": fmt(mean_share(u[:, list(CONV2_HEADS)]), 2),
                "Grad-CAM upper share, b1 upper / lower stripe":
                    " / ".join(fmt(mean_share(u[:, j]), 2) for j in STRIPE_HEADS),
                "cos(f_g1, f_gl1)": fmt(cos[:, ci, list(CONV1_HEADS)].mean(), 3),
                "cos(f_g2, f_gl2)": fmt(cos[:, ci, list(CONV2_HEADS)].mean(), 3)})
    table = pd.DataFrame(rows, columns=["variant", "condition", "Grad-CAM upper share, conv_1 heads",
                                        "Grad-CAM upper share, conv_2 heads",
                                        "Grad-CAM upper share, b1 upper / lower stripe", "cos(f_g1, f_gl1)",
                                        "cos(f_g2, f_gl2)"])
    return styled(table.set_index(["variant", "condition"]), "CGPN-X2: Grad-CAM shares and head-target cosines")


def fig_x2_cams(ch: Chapter, variant: str = "cgpn") -> Figure:
    """CGPN-X2 Grad-CAM maps of branch 1's heads and stripes (:data:`CAM_GRID_HEADS`) on the example images
    the hook stored for the lowest seed of ``variant`` (rows = images, two per test condition)."""
    a = ch.analysis(variant)
    if "cgpn_parts/example_images" not in a:
        fig, ax = plt.subplots(figsize=(5, 1.5))
        _no_data(ax, f"no Grad-CAM examples for {variant} in the records")
        return min_font(fig)
    ims, cams = a["cgpn_parts/example_images"], a["cgpn_parts/example_cams"].astype(np.float32)
    cols = 1 + len(CAM_GRID_HEADS)
    fig, axes = plt.subplots(len(ims), cols, figsize=(1.7 * cols, 2.5 * len(ims)), squeeze=False)
    for r in range(len(ims)):
        image = ims[r].transpose(1, 2, 0)
        axes[r, 0].imshow(image)
        axes[r, 0].set_title(hooks.CONDITIONS[r // hooks.N_EXAMPLES_PER_CONDITION].replace("_", "-"))
        for k, j in enumerate(CAM_GRID_HEADS):
            axes[r, k + 1].imshow(image)
            axes[r, k + 1].imshow(cams[r, j], cmap="jet", alpha=0.5)
            axes[r, k + 1].set_title(hooks.HEAD_NAMES[j].replace(" (", "\n("))
    for ax in axes.flat:
        ax.axis("off")
    seed = int(ch.of(variant)["seed"].min())
    fig.suptitle(f"CGPN-X2: Grad-CAM of branch-1 heads and stripes ({variant}, seed {seed})", fontsize=9)
    fig.tight_layout()
    return min_font(fig)


# ---------------------------------------------------------------------------------------------- CGPN-X3
def single_window_frame(ch: Chapter, variants: tuple[str, ...] = ("cgpn", "cgpn2_fine")) -> pd.DataFrame:
    """CGPN-X3 as a tidy table: one row per run × feature of the ``cgpn_single_window`` hook, with columns
    variant, seed, feature, height (fraction of the map), kind (global / local), holistic mAP,
    S-occluded mAP and relative loss % (:func:`window_losses`)."""
    rows = []
    for variant in variants:
        for seed, path in zip(ch.of(variant)["seed"], ch.of(variant)["path"], strict=True):
            if not (Path(path) / "analysis.npz").is_file():
                continue
            a = load_analysis(path)
            if "cgpn_single_window/holistic_mAP" not in a:
                continue
            for name, frac, hol, occ, loss in zip(a["cgpn_single_window/names"], a["cgpn_single_window/height_frac"],
                                                  a["cgpn_single_window/holistic_mAP"],
                                                  a["cgpn_single_window/occluded_mAP"], window_losses(a), strict=True):
                rows.append({"variant": variant, "seed": int(seed), "feature": str(name), "height": float(frac),
                             "kind": "global" if frac >= 1 else "local", "holistic mAP": float(hol),
                             "S-occluded mAP": float(occ), "relative loss %": float(loss)})
    return pd.DataFrame(rows, columns=["variant", "seed", "feature", "height", "kind", "holistic mAP",
                                       "S-occluded mAP", "relative loss %"])


def table_x3(ch: Chapter) -> pd.io.formats.style.Styler:
    """CGPN-X3 summary (rows = variant × kind × window height): mean over features and seeds of the holistic and
    S-occluded mAP of one feature alone and its relative loss."""
    x3 = single_window_frame(ch)
    cols = ["holistic mAP", "S-occluded mAP", "relative loss %"]
    if x3.empty:
        return styled(pd.DataFrame({"state": [f"{MISSING}: no cgpn_single_window arrays in the records"]}),
                      "CGPN-X3")
    summary = x3.assign(height=x3["height"].round(2)).groupby(["variant", "kind", "height"])[cols].mean()
    summary["seeds"] = x3.assign(height=x3["height"].round(2)).groupby(["variant", "kind", "height"])["seed"].nunique()
    table = _cells(summary[cols])
    table["seeds"] = summary["seeds"].astype(str)
    table.index = table.index.set_levels(table.index.levels[2].map(lambda h: f"{h:.2f}"), level=2)
    return styled(table, "CGPN-X3: one feature alone, holistic vs S-occluded test (mAP %)")


def fig_x3(ch: Chapter) -> Figure:
    """CGPN-X3: relative mAP loss of each local feature alone vs its window height, CGPN vs CGPN-2
    (mean ± std over features of one height and seeds)."""
    x3 = single_window_frame(ch)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, variant in enumerate(("cgpn", "cgpn2_fine")):
        loc = x3[(x3["variant"] == variant) & (x3["kind"] == "local")]
        if loc.empty:
            continue
        g = loc.groupby(loc["height"].round(3))["relative loss %"]
        ax.errorbar(g.mean().index, g.mean(), yerr=g.std(), marker=MARKERS[i], color=f"C{i}", capsize=3, ls="",
                    label=f"{variant} ({loc['seed'].nunique()} seeds)")
    if not ax.lines and not ax.collections:
        _no_data(ax, "no cgpn_single_window arrays in the records")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_xlabel("window height (fraction of the image)")
    ax.set_ylabel("mAP lost holistic → S-occluded (%)")
    ax.set_title("CGPN-X3: single local features under occlusion", fontsize=9)
    fig.tight_layout()
    return min_font(fig)


# ---------------------------------------------------------------------------------------------- CGPN-F5, X5, triplet
def fig_f5(ch: Chapter) -> Figure:
    """CGPN-F5: the ``partreid ranklist`` record of MGN (upper rows) vs CGPN (lower rows) at occlusion 0.9, with
    the share of all queries on which CGPN's AP is higher / lower in the title."""
    record = ch.results / F5_RECORD
    if not (record / "ranklist.npz").is_file():
        fig, ax = plt.subplots(figsize=(5, 1.5))
        _no_data(ax, f"no rank-list record at {F5_RECORD}")
        return min_font(fig)
    arrays = load_ranklist(record)
    a, b = arrays["ap_a"], arrays["ap_b"]
    both = ~np.isnan(a) & ~np.isnan(b)
    title = (f"CGPN-F5: top-4 at occlusion 0.9, MGN (upper) vs CGPN (lower); green = same identity\n"
             f"over all {both.sum()} queries CGPN's AP is higher on {(b > a)[both].mean():.0%}, "
             f"lower on {(b < a)[both].mean():.0%}")
    return min_font(rank_list_figure(arrays, "MGN", "CGPN", title))


def table_triplet(ch: Chapter) -> pd.io.formats.style.Styler:
    """The two readings of the triplet placement (rows): triplet on all 12 features (default) and on the 3
    global ones; mean ± std (n seeds) of the headline and X1 metrics."""
    cols = {"Rank-1": "rank1", "mAP": "mAP", "mAP at occlusion 0.9": "occ90_mAP",
            "mAP at truncation 0.9": "trunc90_mAP"}
    rows = {label: {name: ch.mean_std(v, col) for name, col in cols.items()}
            for label, v in (("cgpn (triplet on all 12 features)", "cgpn"),
                             ("cgpn_globaltriplet (triplet on the 3 globals)", "cgpn_globaltriplet"))}
    return styled(pd.DataFrame.from_dict(rows, orient="index"),
                  "Triplet placement · " + ch.provenance(["cgpn", "cgpn_globaltriplet"]))


#: the loss terms (and the learning rate) of CGPN-X5, as history.csv names them
X5_COLUMNS: tuple[str, ...] = ("loss/id", "loss/triplet", "loss/mse", "lr")


def fig_x5(ch: Chapter, variant: str = "cgpn") -> Figure:
    """CGPN-X5: each loss term and the learning rate per epoch, one line per seed of ``variant``."""
    fig, axes = plt.subplots(1, len(X5_COLUMNS), figsize=(13, 3.6))
    runs = ch.of(variant)
    for i, (seed, path) in enumerate(zip(runs["seed"], runs["path"], strict=True)):
        h = load_history(path)
        for ax, col in zip(axes, X5_COLUMNS, strict=True):
            if col in h:
                ax.plot(h["epoch"], h[col], marker=MARKERS[i % len(MARKERS)], color=f"C{i}", ms=4,
                        label=f"seed {int(seed)}")
    for ax, col in zip(axes, X5_COLUMNS, strict=True):
        ax.set_title(col, fontsize=9)
        ax.set_xlabel("epoch")
        if not ax.lines:
            _no_data(ax, f"no {variant} history")
    fig.suptitle(f"CGPN-X5: loss terms of the {variant} runs", fontsize=10)
    _legend_below(fig, axes, ncol=6)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return min_font(fig)


#: the renderers of each artefact of ``ARTEFACTS`` that has one (CGPN-X4 is not run: the chapter says so)
RENDERERS: dict[str, tuple[Callable[..., object], ...]] = {
    "CGPN-F1": (fig_f1,), "CGPN-F2": (table_f2, fig_f2), "CGPN-F3": (fig_f3_f4,), "CGPN-F4": (fig_f3_f4,),
    "CGPN-F5": (fig_f5,), "CGPN-T1": (table_t1, table_t1_ours), "CGPN-T2": (table_t2, table_t2_ours),
    "CGPN-T2b": (table_t2b,), "CGPN-X1": (fig_x1, table_x1), "CGPN-X2": (fig_x2, table_x2, fig_x2_cams),
    "CGPN-X3": (table_x3, fig_x3), "CGPN-X5": (fig_x5,),
}

__all__ = ["CAM_GRID_HEADS", "CLAIM_QUESTIONS", "CONDITIONS_TRAIN", "F5_RECORD", "MIN_FONT", "RENDERERS",
           "VERDICT_WORDS", "X1_VARIANTS", "X2_VARIANTS", "X5_COLUMNS", "claims_text", "fig_f1", "fig_f2",
           "fig_f3_f4", "fig_f5", "fig_x1", "fig_x2", "fig_x2_cams", "fig_x3", "fig_x5", "min_font",
           "single_window_frame", "status_table", "table_claims", "table_f2", "table_t1", "table_t1_ours",
           "table_t2", "table_t2_ours", "table_t2b", "table_triplet", "table_x1", "table_x2", "table_x3"]
