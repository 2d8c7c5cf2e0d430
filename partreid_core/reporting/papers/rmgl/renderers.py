"""The RMGL chapter's artefacts, one function each: a table (DataFrame of formatted strings) or a matplotlib Figure.

Every renderer that reads records takes the :class:`partreid_core.reporting.chapter.Chapter` of
``open_chapter("RMGL")``; the few that show the paper's numbers or the library's own code (a forward pass, an
augmentation) take nothing. Missing records never raise: a table shows :data:`MISSING` ("—") in the cells
whose runs are absent, a figure says which records it lacks and the command that makes them.

The hook-derived values (test-time switches, stripe paths, response maps; see :mod:`.core`) are read once per
chapter by :func:`derived` and then addressed like variants (``"rmgl+abp@0.9"``, ``"rmgl:rp"``, ``"rmgl:O-3"``),
so the toolkit's ``mean_std`` / ``paired_delta`` serve them as they serve the runs.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ....data import build_dataset
from ....data.augment import ErasingConfig, RSAConfig, random_erasing, random_shift
from ....data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize
from ....models import build_model
from ...chapter import MISSING, Chapter, fmt
from .core import HEAVY, NATIVE, HookTables, hook_tables, support, switched, tidy_values
from .reference import EQ6_LAYERS, T1, T5, T6, eq6_region

#: the split every number of the chapter is read on (validation runs never reach a table or a verdict)
SPLIT = "test"
#: markers for series beyond the colour cycle (each series gets a colour and a marker of its own)
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "<", ">", "h", "p", "8", "d")
#: font size of the figures' small text (ticks, legends, panel labels); nothing on a page is smaller
SMALL = 8


# ---------------------------------------------------------------------------------------------- shared state
@dataclass
class Derived:
    """What the renderers read besides ``ch.runs``: the hook tables and a chapter over the tidy values.

    Attributes:
        hooks: :func:`.core.hook_tables` of the test-split runs.
        values: ``ch`` with ``runs`` = :func:`.core.tidy_values` (one row per run and per hook-derived variant).
    """

    hooks: HookTables
    values: Chapter


_CACHE: dict[int, tuple[pd.DataFrame, Derived]] = {}


def evaluated_runs(ch: Chapter) -> pd.DataFrame:
    """The chapter's runs evaluated on the test split (all of them, for records that predate the split)."""
    if ch.runs.empty or "split" not in ch.runs:
        return ch.runs
    return ch.runs[ch.runs["split"].fillna(SPLIT) == SPLIT]


def derived(ch: Chapter) -> Derived:
    """The hook tables and tidy values of ``ch`` (computed once per chapter: every run's arrays are read)."""
    hit = _CACHE.get(id(ch))
    if hit is not None and hit[0] is ch.runs:
        return hit[1]
    runs = evaluated_runs(ch)
    hooks = hook_tables(runs)
    out = Derived(hooks, dataclasses.replace(ch, runs=tidy_values(runs, hooks)))
    _CACHE.clear()  # one chapter at a time: a page opens one
    _CACHE[id(ch)] = (ch.runs, out)
    return out


def _command(ch: Chapter, variants: list[str]) -> str:
    """The command(s) that make the missing runs of ``variants`` (from the chapter's status)."""
    st = ch.status()
    cmds = st.loc[st["variant"].isin(variants) & (st["command"] != ""), "command"]
    return "; ".join(dict.fromkeys(cmds)) or f"partreid sweep {ch.sweep_folder()}/<sweep>.yaml"


def _message_figure(text: str) -> Figure:
    """A figure that says what is missing (axes off: no empty plot on the page)."""
    fig, ax = plt.subplots(figsize=(6, 0.8))
    ax.axis("off")
    ax.text(0, 0.5, text, fontsize=9, va="center", wrap=True)
    return fig


def _missing(ch: Chapter, what: str, variants: list[str]) -> str:
    return f"{what}: no records yet for {', '.join(variants)} (make them with: {_command(ch, variants)})"


def _first_with(ch: Chapter, key: str, prefer: str = "rmgl") -> tuple[str, int, dict[str, np.ndarray]]:
    """(variant, seed, arrays) of the lowest-seed run of ``prefer`` holding ``key``, else of any run that does."""
    variants = [prefer] + sorted(set(evaluated_runs(ch).get("variant", [])) - {prefer})
    for v in variants:
        for seed in ch.of(v).get("seed", []):
            a = ch.analysis(v, seed=int(seed))
            if key in a:
                return v, int(seed), a
    return "", -1, {}


# ---------------------------------------------------------------------------------------------- state of the runs
def status_table(ch: Chapter) -> pd.DataFrame:
    """The variants whose planned seeds lack records, with the command that makes them (columns sweep, variant,
    seeds, command); one row saying so when every planned run has its record."""
    st = ch.status()
    todo = st[st["state"] != "complete"].drop(columns="state")
    if todo.empty:
        return pd.DataFrame({"state": ["every planned run has its record"]})
    return todo.set_index(["sweep", "variant"])


# ---------------------------------------------------------------------------------------------- RMGL-F2, F3, F1
def table_f2(width: float = 0.25, size: tuple[int, int] = (128, 64)) -> pd.DataFrame:
    """RMGL-F2: the network of Fig. 2 as tensor shapes (C × H × W), from a training forward pass of the
    library's model at the chapter's scale; the last row lists the test descriptor's features in order."""
    import torch


    torch.manual_seed(0)
    net = build_model("rmgl", 10, {"backbone": {"width": width}}).train()
    with torch.no_grad():
        out = net(torch.randn(2, 3, *size))

    def dims(t) -> str:
        return " × ".join(map(str, tuple(t.shape[1:])))

    rows = [(f"original-path map, branch K={k}", dims(m))
            for k, m in zip(net.stripes, out.aux["feature_maps"], strict=True)]
    rows += [(f"RP map (K shards re-assembled), branch K={k}", dims(m))
             for k, m in zip(net.stripes, out.aux["rp_feature_maps"], strict=True)]
    rows += [("local stripe features (original + RP path)", dims(out.aux["part_features"])),
             ("triplet inputs (one per branch)", ", ".join(dims(f) for f in out.features)),
             ("classifiers (one per 256-d feature)", str(len(out.logits))),
             ("test descriptor", dims(out.embedding)),
             ("its features, in order", ", ".join(net.feature_names))]
    return pd.DataFrame(rows, columns=["tensor", "shape"]).set_index("tensor")


def table_f3_derived() -> pd.DataFrame:
    """RMGL-F3 (derived): Eq. 6's region height (px) of one RP stripe for the paper's 384×128 input, per cut
    position (rows) and number of shards n_s (columns)."""
    table = pd.DataFrame({f"n_s = {n}": {cut: fmt(eq6_region(*v, n), 0) for cut, v in EQ6_LAYERS.items()}
                          for n in (2, 3, 4, 6)})
    table.index.name = "cut position (384×128 input)"
    return table


def _extent(first: int, last: int) -> str:
    return MISSING if first < 0 else f"{first}–{last} ({last - first + 1})"


def table_f3_measured(ch: Chapter) -> pd.DataFrame:
    """RMGL-F3 (measured): input rows with non-zero gradient ("first–last (count)") of each stripe feature of
    an untrained model, one column per cut position (IP = the image) and OP; rows = stripe features."""
    _, _, a = _first_with(ch, "rmgl_receptive_rows/untrained_rp_rows")
    if not a:
        return pd.DataFrame({"stripe": [MISSING]}, index=[_missing(ch, "RMGL-F3", ["rmgl"])])
    names = [str(n).replace("/rp", "") for n in a["rmgl_receptive_rows/rp_names"]]
    positions = ["IP" if p == "input" else str(p) for p in a["rmgl_receptive_rows/positions"]]
    sup = support(a["rmgl_receptive_rows/untrained_rp_rows"])
    table = pd.DataFrame({p: [_extent(*s) for s in sup[i]] for i, p in enumerate(positions)},
                         index=pd.Index([f"stripe {n}" for n in names], name="feature"))
    table["OP"] = [_extent(*s) for s in support(a["rmgl_receptive_rows/untrained_orig_rows"])]
    return table


def fig_f1(ch: Chapter) -> Figure:
    """RMGL-F1 / F3: which input rows (black) each stripe feature of an untrained model sees, one panel per cut
    position and one for OP; x = stripe feature, y = input row."""
    _, _, a = _first_with(ch, "rmgl_receptive_rows/untrained_rp_rows")
    if not a:
        return _message_figure(_missing(ch, "RMGL-F1", ["rmgl"]))
    names = [str(n).replace("/rp", "") for n in a["rmgl_receptive_rows/rp_names"]]
    positions = ["IP" if p == "input" else str(p) for p in a["rmgl_receptive_rows/positions"]] + ["OP"]
    profiles = list(a["rmgl_receptive_rows/untrained_rp_rows"]) + [a["rmgl_receptive_rows/untrained_orig_rows"]]
    fig, axes = plt.subplots(1, len(positions), figsize=(13, 3.4), sharey=True)
    for ax, p, rows in zip(axes, positions, profiles, strict=True):
        ax.imshow(rows.T > 0, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(p, fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=SMALL)
        ax.tick_params(labelsize=SMALL)
    axes[0].set_ylabel("input row", fontsize=9)
    fig.suptitle("RMGL-F1 / RMGL-F3: input rows each stripe feature can see (black), untrained, by cut position",
                 fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- RMGL-X1
def table_x1(ch: Chapter) -> pd.DataFrame:
    """RMGL-X1: share (%) of each stripe feature's input gradient inside its own nominal stripe, averaged over
    stripes, per variant (rows): original path (OP), receptive path (RP), mean ± std over seeds, and RP − OP
    paired by seed."""
    vals = derived(ch).values
    variants = sorted(derived(ch).hooks.locality["variant"].unique())
    rows = []
    for v in variants:
        d = vals.paired_delta(f"{v}:rp", f"{v}:orig", "grad_in_stripe") * 100
        rows.append({"variant": v, "OP (%)": vals.mean_std(f"{v}:orig", "grad_in_stripe", scale=100),
                     "RP (%)": vals.mean_std(f"{v}:rp", "grad_in_stripe", scale=100),
                     "RP − OP (points)": fmt(d.mean() if len(d) else None, 1, signed=True)})
    if not rows:
        return pd.DataFrame({"OP (%)": [MISSING]}, index=[_missing(ch, "RMGL-X1", ["rmgl"])])
    return pd.DataFrame(rows).set_index("variant")


def fig_x1(ch: Chapter) -> Figure:
    """RMGL-X1: gradient row profiles (share of |gradient| per input row) of a trained RMGL's stripe features,
    one panel per path (OP, RP), one line per stripe feature."""
    v, seed, a = _first_with(ch, "rmgl_receptive_rows/rp_rows")
    if not a:
        return _message_figure(_missing(ch, "RMGL-X1", ["rmgl"]))
    paths = [p for p in ("orig", "rp") if f"rmgl_receptive_rows/{p}_rows" in a]
    fig, axes = plt.subplots(1, len(paths), figsize=(5 * len(paths), 3.4), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], paths, strict=True):
        names = [str(n) for n in a[f"rmgl_receptive_rows/{p}_names"]]
        for j, (n, prow) in enumerate(zip(names, a[f"rmgl_receptive_rows/{p}_rows"], strict=True)):
            ax.plot(prow, label=n, marker=MARKERS[j], markevery=16, ms=4)
        ax.set_title(f"{v} (seed {seed}): {'OP' if p == 'orig' else 'RP'} stripes", fontsize=9)
        ax.set_xlabel("input row", fontsize=9)
        ax.tick_params(labelsize=SMALL)
        ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes[0][0].set_ylabel("share of |gradient|", fontsize=9)
    fig.suptitle("RMGL-X1: gradient row profiles of the trained model's stripe features", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- RMGL-F4
def table_f4(ch: Chapter) -> pd.DataFrame:
    """RMGL-F4 (quantified): per variant and response map (rows), the row entropy of the channel-mean response
    (% of its maximum; lower = more concentrated in height) and its share on the person (%), mean ± std."""
    vals = derived(ch).values
    resp = derived(ch).hooks.response
    if resp.empty:
        return pd.DataFrame({"row entropy (% of max)": [MISSING]}, index=[_missing(ch, "RMGL-F4", ["rmgl"])])
    rows = [{"variant": v, "map": m,
             "row entropy (% of max)": vals.mean_std(f"{v}:{m}", "response_row_entropy", digits=2),
             "on the person (%)": vals.mean_std(f"{v}:{m}", "response_fg_mass")}
            for v, m in resp[["variant", "map"]].drop_duplicates().itertuples(index=False)]
    return pd.DataFrame(rows).set_index(["variant", "map"])


def fig_f4(ch: Chapter) -> Figure:
    """RMGL-F4: the first query images (top row) and, below, each path's channel-mean final map over them
    (min-max per image, bilinear to the image size), with the nominal stripe boundaries in white."""
    v, seed, a = _first_with(ch, "rmgl_response_maps/images")
    if not a:
        return _message_figure(_missing(ch, "RMGL-F4", ["rmgl"]))
    names = [str(n) for n in a["rmgl_response_maps/names"]]
    imgs = a["rmgl_response_maps/images"]
    h, w = imgs.shape[2:]
    fig, axes = plt.subplots(len(names) + 1, len(imgs), figsize=(1.25 * len(imgs), 2.1 * (len(names) + 1)),
                             squeeze=False)
    for j, img in enumerate(imgs):
        axes[0, j].imshow(img.transpose(1, 2, 0))
        for i, n in enumerate(names):
            ax = axes[i + 1, j]
            ax.imshow(img.transpose(1, 2, 0))
            ax.imshow(a[f"rmgl_response_maps/maps/{n}"][j].astype(np.float32), cmap="jet", alpha=0.5, vmin=0,
                      vmax=1, interpolation="bilinear", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
            k = int(n.split("-")[1])
            for b in range(1, k):
                ax.axhline(b * h / k - 0.5, color="w", lw=0.8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for i, label in enumerate(["image"] + names):
        axes[i, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"RMGL-F4: channel-mean responses, {v} seed {seed} (min-max per image)", fontsize=9)
    fig.tight_layout()
    return fig


def text_f4(ch: Chapter) -> str:
    """RMGL-F4 in words (Markdown): RMGL's O-3 vs O-2 row entropy and the response's share on the person."""
    vals = derived(ch).values
    o2, o3 = vals.mean("rmgl:O-2", "response_row_entropy"), vals.mean("rmgl:O-3", "response_row_entropy")
    fg = derived(ch).hooks.response
    fg = fg.loc[fg["variant"] == "rmgl", "response_fg_mass"].mean() if not fg.empty else float("nan")
    if not (math.isfinite(o2) and math.isfinite(o3)):
        return _missing(ch, "RMGL-F4", ["rmgl"])
    side = "the direction the paper describes" if o3 < o2 else "the opposite of the paper's direction"
    return (f"RMGL's O-3 has a row entropy of {o3:.2f} % of the maximum against {o2:.2f} % for O-2: {side}, "
            f"by {abs(o2 - o3):.2f} points of a scale on which a flat map scores 100 %; claim F4-granularity "
            f"below judges it over the seeds. The min-max normalised maps follow the person, yet only "
            f"{fmt(fg, 0)} % of the raw response lies on the person's mask, little more than the person's share "
            "of the image (about a quarter on synth-s): the channel mean of the final ReLU maps has a large floor "
            "everywhere, and the figure's normalisation hides it.")


# ---------------------------------------------------------------------------------------------- RMGL-T5
#: Table V's 2+3-stripe rows -> (our variant, test stripes); our op-baseline and only-rp keep RSA
T5_ROWS: dict[str, tuple[str, str]] = {
    "2+3-stripe (BL)": ("op-baseline-no-rsa", "uniform"),
    "2+3-stripe+ABP": ("op-baseline-no-rsa", "abp"),
    "2+3-stripe+RSA": ("op-baseline", "uniform"),
    "2+3-stripe+RP": ("rmgl-no-rsa", "uniform"),
    "2+3-stripe only RP": ("only-rp", "uniform"),
    "2+3-stripe+RP+RSA": ("rmgl", "uniform"),
    "2+3-stripe+RP+ABP+RSA (RMGL)": ("rmgl", "abp"),
}
#: the effects Table V isolates: (effect, treatment row, baseline row) of :data:`T5_ROWS`
T5_EFFECTS: tuple[tuple[str, str, str], ...] = (
    ("+RP (with RSA)", "2+3-stripe+RP+RSA", "2+3-stripe+RSA"),
    ("+ABP on RP+RSA", "2+3-stripe+RP+ABP+RSA (RMGL)", "2+3-stripe+RP+RSA"),
    ("+ABP on BL", "2+3-stripe+ABP", "2+3-stripe (BL)"),
    ("+RSA on RP", "2+3-stripe+RP+RSA", "2+3-stripe+RP"),
    ("+RSA on BL", "2+3-stripe+RSA", "2+3-stripe (BL)"),
)
_METRICS = (("mAP", "Market mAP", "mAP"), ("rank1", "Market R1", "R1"))


def _t5_variant(row: str) -> str:
    variant, mode = T5_ROWS[row]
    return switched(variant, mode, NATIVE)


def table_t5(ch: Chapter) -> pd.DataFrame:
    """RMGL-T5, ours beside the paper: per Table V 2+3-stripe row (rows), the paper's Market mAP / Rank-1 and
    ours (mean ± std over seeds, at the runs' own test misalignment), with our variant and test stripes."""
    vals = derived(ch).values
    rows = []
    for row, (variant, mode) in T5_ROWS.items():
        out = {"paper row (Table V)": row, "ours": f"{variant}, {mode} stripes"}
        for metric, col, label in _METRICS:
            out[f"{label}: paper (Market)"] = fmt(T5.value(row, col))
            out[f"{label}: ours"] = vals.mean_std(_t5_variant(row), metric)
        rows.append(out)
    return pd.DataFrame(rows).set_index("paper row (Table V)")


def table_t5_effects(ch: Chapter) -> pd.DataFrame:
    """RMGL-T5's effects: per effect (rows) the paper's Δ (Market) and ours, paired by seed, in mAP and Rank-1."""
    vals = derived(ch).values
    rows = []
    for name, t, b in T5_EFFECTS:
        out = {"effect": name, "rows compared": f"{t} − {b}"}
        for metric, col, label in _METRICS:
            d = vals.paired_delta(_t5_variant(t), _t5_variant(b), metric)
            out[f"{label}: paper Δ (Market)"] = fmt(T5.value(t, col) - T5.value(b, col), 1, signed=True)
            out[f"{label}: ours Δ"] = (MISSING if d.empty else
                                       f"{d.mean():+.1f} ({int((d > 0).sum())} of {len(d)} seeds positive)")
        rows.append(out)
    return pd.DataFrame(rows).set_index("effect")


# ---------------------------------------------------------------------------------------------- RMGL-X3
#: the variants drawn with uniform test stripes too (every variant twice would hide the curves)
X3_UNIFORM = ("rmgl", "op-baseline")


def _levels(ch: Chapter) -> pd.DataFrame:
    """Mean / std of mAP and mean Rank-1 over seeds per variant, stripes and test misalignment level."""
    mis = derived(ch).hooks.misalignment
    return mis.groupby(["variant", "stripes", "level"]).agg(
        mAP=("mAP", "mean"), sd=("mAP", "std"), rank1=("rank1", "mean"), n=("mAP", "count")).reset_index()


def fig_x3(ch: Chapter) -> Figure:
    """RMGL-X3: mAP (left, ± std over seeds) and Rank-1 (right) vs test misalignment, every variant with ABP
    stripes (solid) and the p1 pair with uniform stripes (dashed); one colour and marker per variant."""
    if derived(ch).hooks.misalignment.empty:
        return _message_figure(_missing(ch, "RMGL-X3", ["rmgl", "op-baseline"]))
    g = _levels(ch)
    variants = sorted(g["variant"].unique())
    colours = {v: plt.cm.tab20(i % 20) for i, v in enumerate(variants)}
    markers = {v: MARKERS[i % len(MARKERS)] for i, v in enumerate(variants)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (variant, mode), d in g.groupby(["variant", "stripes"]):
        if mode == "uniform" and variant not in X3_UNIFORM:
            continue
        style = {"ls": "-" if mode == "abp" else "--", "marker": markers[variant], "color": colours[variant],
                 "ms": 5}
        axes[0].errorbar(d.level, d.mAP, yerr=d.sd.fillna(0), capsize=3, label=f"{variant} ({mode})", **style)
        axes[1].plot(d.level, d.rank1, **style)
    for ax, (label, title) in zip(axes, (("mAP (%)", "mAP"), ("Rank-1 (%)", "Rank-1")), strict=True):
        ax.set_xlabel("test misalignment", fontsize=9)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=SMALL)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize=SMALL, frameon=False)
    fig.suptitle("RMGL-X3: retrieval vs test misalignment (training misalignment 0.3)", fontsize=10)
    fig.tight_layout()
    return fig


def table_x3(ch: Chapter) -> pd.DataFrame:
    """RMGL-X3 as numbers: mAP (mean ± std over seeds) per variant and test stripes (rows) at each test
    misalignment level (columns)."""
    mis = derived(ch).hooks.misalignment
    if mis.empty:
        return pd.DataFrame({"mAP": [MISSING]}, index=[_missing(ch, "RMGL-X3", ["rmgl", "op-baseline"])])
    vals = derived(ch).values
    levels = sorted(mis["level"].unique())
    rows = [{"variant": v, "stripes": s, **{f"mAP @ {lv:g}": vals.mean_std(switched(v, s, lv), "mAP")
                                            for lv in levels}}
            for v, s in mis[["variant", "stripes"]].drop_duplicates().sort_values(["variant", "stripes"])
            .itertuples(index=False)]
    return pd.DataFrame(rows).set_index(["variant", "stripes"])


def table_x3_lost(ch: Chapter, clean: float = 0.0, heavy: float = HEAVY) -> pd.DataFrame:
    """How much each variant (rows) loses from tight boxes (``clean``) to the worst (``heavy``), ABP stripes,
    mean over seeds: mAP at both, the points lost, and the share of the clean mAP lost (%)."""
    vals = derived(ch).values
    variants = sorted(derived(ch).hooks.misalignment["variant"].unique())
    rows = []
    for v in variants:
        a, b = vals.mean(switched(v, "abp", clean), "mAP"), vals.mean(switched(v, "abp", heavy), "mAP")
        rows.append({"variant": v, f"mAP @ {clean:g}": fmt(a), f"mAP @ {heavy:g}": fmt(b),
                     "points lost": fmt(a - b), "share lost (%)": fmt(100 * (a - b) / a if a else None)})
    if not rows:
        return pd.DataFrame({"points lost": [MISSING]}, index=[_missing(ch, "RMGL-X3", ["rmgl"])])
    return pd.DataFrame(rows).set_index("variant")


# ---------------------------------------------------------------------------------------------- RMGL-X2 / F5
def boundary_points(ch: Chapter, variant: str = "rmgl", k: int = 2) -> pd.DataFrame:
    """One row per (seed, test level, query image): the person's vertical offset ``shift_y`` (box heights) and
    the first inner ABP cut of the K=``k`` branch as a fraction of the map height (columns seed, level,
    shift_y, cut, map_rows)."""
    cols = ["seed", "level", "shift_y", "cut", "map_rows"]
    bounds = ch.stack(variant, f"rmgl_misalignment/bounds_K{k}")          # (seeds, levels, images, k + 1)
    shift = ch.stack(variant, "rmgl_misalignment/shift_y")               # (seeds, levels, images)
    if bounds is None or shift is None or len(bounds) != len(shift):
        return pd.DataFrame(columns=cols)
    levels = ch.stack(variant, "rmgl_misalignment/levels")[0]
    hmap = int(ch.stack(variant, "rmgl_misalignment/map_height")[0, 0])
    seeds = ch.of(variant)["seed"].astype(int).to_numpy()[: len(bounds)]
    s, lv, _ = np.meshgrid(seeds, levels, np.arange(shift.shape[-1]), indexing="ij")
    return pd.DataFrame({"seed": s.ravel(), "level": lv.ravel(), "shift_y": shift.ravel(),
                         "cut": bounds[..., 1].ravel() / hmap, "map_rows": hmap})


def fig_x2(ch: Chapter) -> Figure:
    """RMGL-X2 / F5: the ABP cut of the K=2 branch (fraction of the map height, slightly jittered) vs the
    person's vertical offset in the box, coloured by test misalignment, against the uniform cut."""
    pts = boundary_points(ch)
    if pts.empty:
        return _message_figure(_missing(ch, "RMGL-X2", ["rmgl"]))
    fig, ax = plt.subplots(figsize=(6, 4))
    jitter = np.random.default_rng(0).normal(0, 0.008, len(pts))
    sc = ax.scatter(pts.shift_y, pts.cut + jitter, c=pts.level, s=6, alpha=0.5, cmap="viridis")
    ax.axhline(0.5, color="k", ls="--", label="uniform cut (K=2)")
    ax.set_xlabel("person centre offset in the box (shift_y, box heights)", fontsize=9)
    ax.set_ylabel("ABP cut (fraction of map height)", fontsize=9)
    ax.set_title("RMGL-X2 / RMGL-F5: ABP cut of the K=2 branch", fontsize=10)
    ax.tick_params(labelsize=SMALL)
    cbar = fig.colorbar(sc)
    cbar.set_label("test misalignment", fontsize=9)
    cbar.ax.tick_params(labelsize=SMALL)
    ax.legend(fontsize=SMALL, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    fig.tight_layout()
    return fig


def table_x2(ch: Chapter) -> pd.DataFrame:
    """RMGL-X2: Pearson r between ``shift_y`` and RMGL's K=2 ABP cut per seed (rows), over every test level,
    and their mean; a positive r means the cut follows the person down the box."""
    pts = boundary_points(ch)
    if pts.empty:
        return pd.DataFrame({"Pearson r": [MISSING]}, index=[_missing(ch, "RMGL-X2", ["rmgl"])])
    r = {f"seed {s}": (np.corrcoef(d.shift_y, d.cut)[0, 1] if d.cut.std() > 0 else float("nan"))
         for s, d in pts.groupby("seed")}
    r["mean over seeds"] = float(np.nanmean(list(r.values())))
    table = pd.DataFrame({"Pearson r (shift_y, ABP cut)": {k: fmt(v, 2, signed=True) for k, v in r.items()},
                          "map rows (cut step)": f"{pts.map_rows.iloc[0]} (1/{pts.map_rows.iloc[0]})"})
    table.index.name = "rmgl"
    return table


# ---------------------------------------------------------------------------------------------- RMGL-F6
def fig_f6(n: int = 6, size: tuple[int, int] = (128, 64)) -> Figure:
    """RMGL-F6: ``n`` SynthReID query images (top; the RSA crop band in yellow), the library's RSA of them
    (middle) and random erasing (bottom)."""
    import torch


    h, w = size
    imgs = build_dataset("synth-tiny").load_split("query", size).images[:n]
    shifted, _, _, boxes = random_shift(imgs, None, None, RSAConfig(p=1.0), torch.Generator().manual_seed(0),
                                        return_boxes=True)
    erased, _ = random_erasing(normalize(imgs), None, ErasingConfig(p=1.0), torch.Generator().manual_seed(0))
    mean, std = (torch.tensor(c).view(3, 1, 1) * 255 for c in (IMAGENET_MEAN, IMAGENET_STD))
    erased = (erased * std + mean).clamp(0, 255).to(torch.uint8)
    fig, axes = plt.subplots(3, len(imgs), figsize=(1.4 * len(imgs), 6.3), squeeze=False)
    for i in range(len(imgs)):
        for r, im in enumerate((imgs[i], shifted[i], erased[i])):
            axes[r, i].imshow(im.permute(1, 2, 0).numpy())
            axes[r, i].set_xticks([])
            axes[r, i].set_yticks([])
        cy, band = int(boxes.crop_y[i]), int(boxes.crop_h[i])
        if band < h:  # the cropped band (p_c = 0.5)
            axes[0, i].add_patch(plt.Rectangle((-0.5, cy - 0.5), w, band, fill=False, ec="yellow", lw=1.5))
    for r, label in enumerate(("original", "RSA", "RE")):
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.suptitle("RMGL-F6: RSA (crop band in yellow → resize → paste on grey) vs random erasing", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- RMGL-T6
#: (group, augmentation) -> (our variant, Table VI's row or None where the paper has no such row)
T6_OURS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("2+3-stripe BL", "none"): ("op-baseline-no-rsa", None),
    ("2+3-stripe BL", "RCJ"): ("op-baseline-rcj", "2+3-stripe+RCJ"),
    ("2+3-stripe BL", "RC"): ("op-baseline-rc", "2+3-stripe+RC"),
    ("2+3-stripe BL", "RE"): ("op-baseline-re", "2+3-stripe+RE"),
    ("2+3-stripe BL", "RSA"): ("op-baseline", "2+3-stripe+RSA"),
    ("RMGL (dual path)", "none"): ("rmgl-no-rsa", None),
    ("RMGL (dual path)", "RE"): ("rmgl-re", None),
    ("RMGL (dual path)", "RSA"): ("rmgl", None),
    ("RMGL (dual path)", "RSA+RE"): ("rmgl-rsa-re", None),
}


def table_t6(ch: Chapter) -> pd.DataFrame:
    """RMGL-T6, ours: per (group, augmentation) (rows) our variant, its mAP and Rank-1 (mean ± std over seeds),
    Δ mAP against the same group's model without augmentation (paired by seed) and the paper's Δ (Table VI
    minus Table V's 2+3-stripe BL, Market), "—" where the paper has no row."""
    bl = T5.value("2+3-stripe (BL)", "Market mAP")
    vals = derived(ch).values
    rows = []
    for (group, augm), (variant, paper_row) in T6_OURS.items():
        none = T6_OURS[(group, "none")][0]
        d = vals.paired_delta(variant, none, "mAP") if augm != "none" else pd.Series(dtype=float)
        rows.append({"group": group, "augmentation": augm, "variant": variant,
                     "mAP": vals.mean_std(variant, "mAP"), "R1": vals.mean_std(variant, "rank1"),
                     "Δ mAP: ours": MISSING if d.empty else f"{d.mean():+.1f} ± {d.std(ddof=1):.1f}",
                     "Δ mAP: paper (Market)": (fmt(T6.value(paper_row, "Market mAP") - bl, 1, signed=True)
                                               if paper_row else MISSING)})
    return pd.DataFrame(rows).set_index(["group", "augmentation"])


# ---------------------------------------------------------------------------------------------- claims
#: what each claim tests, for the reader (the statement says it in the paper's words)
WHY: dict[str, str] = {
    "S1-locality": "Share of a stripe feature's input gradient inside its own stripe: RP vs OP of the same "
                   "trained RMGL. This is the mechanism RMGL rests on (a check of the wiring, not a finding).",
    "S3-rp": "The paper's central ablation (Table V, 2+3 stripes, both with RSA).",
    "S3-rp-r1": "The same comparison in Rank-1.",
    "S6-abp-bl": "ABP as a pure test-time switch on the baseline (the paper's number is without RSA; ours has RSA).",
    "S6-abp-rmgl": "ABP on the full model.",
    "S6-abp-misaligned": "The paper motivates ABP by misalignment; at test misalignment 0.9 the gain should grow.",
    "S4-rp-misaligned": "Does RMGL's advantage hold when the boxes get worse than in training?",
    "S4-rsa": "RSA on vs off for the full model.",
    "S4-rsa-bl": "RSA on vs off for the output-partition baseline.",
    "S4-rsa-misaligned": "RSA should help most when test boxes are badly misaligned.",
    "S5-rsa-vs-re": "RSA vs random erasing as the augmentation of the full model (Table VI has baseline rows only).",
    "S5-rsa-re": "RSA+RE vs RSA on the full model.",
    "S3-only-rp": "Dual path vs only RP.",
    "S3-only-rp-bl": "Only RP vs the OP baseline.",
    "S9-ip": "RP at res3 vs input partition (Fig. 9: an intermediate cut is best).",
    "S3-rp-norsa": "Table V's own BL → +RP rows, both without RSA.",
    "S5-bl-rsa-vs-re": "Table VI on the 2+3-stripe BL: RSA vs random erasing.",
    "S5-bl-rsa-vs-rcj": "Table VI on the BL: RSA vs colour jitter.",
    "S5-bl-rsa-vs-rc": "Table VI on the BL: RSA vs random cropping.",
    "S9-res4": "Fig. 9: the res3 cut vs one stage later (res4).",
    "F4-granularity": "Fig. 4: the finer branch's response is more concentrated in height (row entropy, % of max).",
}
#: decimals per margin family (accuracy in % points: one; shares in [0, 1] and entropies in %: two)
_DIGITS = {"share": 2, "entropy %": 2, "similarity": 3}


def _ci(row: pd.Series) -> str:
    d = _DIGITS.get(str(row.get("family")), 1)
    if row["difference"] is None or not math.isfinite(float(row["difference"])):
        return MISSING
    return (f"{fmt(row['difference'], d, signed=True)} "
            f"[{fmt(row['ci_low'], d, signed=True)}, {fmt(row['ci_high'], d, signed=True)}]")


def _times(ratio: object) -> str:
    text = fmt(ratio, 1)
    return text if text == MISSING else f"{text}×"


def table_claims(ch: Chapter) -> pd.DataFrame:
    """Every claim of the chapter (rows), as ``partreid claims --paper RMGL`` judges it: kind, design, the
    paper's Δ and source, ours with its 95 % CI, the ratio, the minimum detectable effect, Holm's p, the seeds'
    signs and the verdict; numbers with fixed decimals, "—" where there is none."""
    rows = []
    for _, r in ch.claims().iterrows():
        d = _DIGITS.get(str(r.get("family")), 1)
        rows.append({"claim": r["claim"], "artefact": r["artefact"], "kind": r["kind"],
                     "statement": r["statement"], "metric": r["metric"], "design": r["design"],
                     "paper's Δ": fmt(r["paper_effect"], d, signed=True),
                     "ours: Δ [95 % CI]": _ci(r), "ours ÷ paper's": _times(r["ratio"]),
                     "MDE": fmt(r["mde"], d),
                     "p (Holm; sanity: raw)": fmt(r["p_holm"] if r["kind"] != "sanity" else r["p"], 3),
                     "seeds": r["seed_signs"] or MISSING, "verdict": r["verdict"]})
    return pd.DataFrame(rows).set_index("claim")


def claims_text(ch: Chapter) -> str:
    """One Markdown bullet per claim: what it tests, the paper's Δ and source, ours with the CI, and the verdict
    in the rule's words (no verdict is written anywhere but here, from the records)."""
    lines = []
    for _, r in ch.claims().iterrows():
        if str(r["observed"]).startswith("no records"):
            evidence = f"{r['observed']}; make them with {_command(ch, [r['treatment'], r['baseline']])}"
        else:
            paper = (f"paper {fmt(r['paper_effect'], 1, signed=True)} ({r['paper_source']}), "
                     if r["paper_effect"] is not None and math.isfinite(float(r["paper_effect"])) else "")
            evidence = (f"{paper}ours {_ci(r)} over {len(r['seeds'])} seeds ({r['design']}), "
                        f"minimum detectable effect {fmt(r['mde'], _DIGITS.get(str(r['family']), 1))}: "
                        f"**{r['verdict']}**")
        lines.append(f"- **{r['claim']}** ({r['artefact']}). {WHY.get(r['claim'], r['statement'])} {evidence}.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- RMGL-T1 / T4
def table_t1(ch: Chapter) -> pd.DataFrame:
    """RMGL-T1: Table I (paper values) with our RMGL rows appended (mean ± std over seeds, SynthReID; "—" for
    the real data sets the rows cannot have)."""
    table = T1.frame()
    runs = evaluated_runs(ch)
    label = f"(ours, SynthReID {ch.dataset or 'synth'}, {ch.profile or 'any'} profile; not comparable)"
    table.loc[f"RMGL {label}"] = [ch.mean_std("rmgl", "mAP"), ch.mean_std("rmgl", "rank1"), MISSING, MISSING]
    rk = ("rr_mAP" in runs and "rr_rank1" in runs)
    table.loc[f"RMGL+RK {label}"] = [ch.mean_std("rmgl", "rr_mAP") if rk else MISSING,
                                     ch.mean_std("rmgl", "rr_rank1") if rk else MISSING, MISSING, MISSING]
    return table


def table_t4(ch: Chapter) -> pd.DataFrame:
    """RMGL-T4's synthetic analogue: per method of the comparison chapter (rows, best A→B mAP first) the seeds,
    mAP on domain A and on domain B (direct transfer) and Rank-1 on B, mean ± std over seeds."""
    from ...comparison import robustness_runs  # here, not at the top: reporting.comparison imports the papers

    dom = robustness_runs(ch.results)
    dom = dom[dom["knob"] == "domain"] if not dom.empty else dom
    if dom.empty:
        return pd.DataFrame({"A→B mAP": [MISSING]},
                            index=["no domain-shift records yet: partreid robustness --knob domain"])
    by_seed = dom.pivot_table(index=["method", "seed"], columns="level", values=["rank1", "mAP"])

    def ms(col: tuple[str, str], m: str) -> str:
        v = by_seed.loc[m][col].dropna()
        return MISSING if v.empty else f"{v.mean():.1f} ± {v.std(ddof=1) if len(v) > 1 else 0:.1f}"

    methods = by_seed[("mAP", "B")].groupby("method").mean().sort_values(ascending=False).index
    rows = [{"method": m, "seeds": int(dom.loc[dom["method"] == m, "seed"].nunique()),
             "A→A mAP": ms(("mAP", "A"), m), "A→B mAP": ms(("mAP", "B"), m), "A→B R1": ms(("rank1", "B"), m)}
            for m in methods]
    return pd.DataFrame(rows).set_index("method")


def text_t4(ch: Chapter) -> str:
    """RMGL-T4 in words (Markdown): RMGL's rank on A→B mAP and the PAL models' (PAP+PS's nearest relatives)."""
    t4 = table_t4(ch)
    if "RMGL" not in t4.index:
        return "RMGL has no domain-shift record yet: partreid robustness --knob domain (see the comparison chapter)."
    order = list(t4.index)
    pal = ", ".join(f"{m} {t4.loc[m, 'A→B mAP']}" for m in order if m.startswith("PAL"))
    return (f"RMGL ranks {order.index('RMGL') + 1} of {len(order)} on A→B mAP ({t4.loc['RMGL', 'A→B mAP']}); "
            f"the PAL models, PAP+PS's nearest relatives here, give {pal or MISSING}. The paper's RMGL† beats "
            "PAP+PS† on every transfer of Table IV (by 0.2 to 3.2 mAP).")


# ---------------------------------------------------------------------------------------------- RMGL-F9
#: Fig. 9's cut positions of the 2+3-stripe dual path -> our variant
F9_CUTS: tuple[tuple[str, str], ...] = (("IP", "ip"), ("res3", "rmgl"), ("res4", "rp-res4"), ("OP", "op-baseline"))


def fig_f9(ch: Chapter) -> Figure:
    """RMGL-F9 (ours): Rank-1 (left) and mAP (right) vs the cut position of the 2+3-stripe dual path, mean ±
    std over seeds; positions without records are left out and named in the title."""
    vals = derived(ch).values
    have = [(cut, v) for cut, v in F9_CUTS if vals.has(v)]
    if len(have) < 2:
        return _message_figure(_missing(ch, "RMGL-F9", [v for _, v in F9_CUTS]))
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.2))
    for ax, (col, label) in zip(axes, (("rank1", "Rank-1 (%)"), ("mAP", "mAP (%)")), strict=True):
        per_cut = [vals.values(v, col) for _, v in have]
        ax.errorbar(range(len(have)), [v.mean() for v in per_cut],
                    yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in per_cut], marker="o", capsize=3)
        ax.set_xticks(range(len(have)), [c for c, _ in have])
        ax.set_xlabel("cut position", fontsize=9)
        ax.set_ylabel(label, fontsize=9)
        ax.tick_params(labelsize=SMALL)
    seeds = ", ".join(f"{c} n={len(vals.values(v, 'mAP'))}" for c, v in have)
    absent = [c for c, v in F9_CUTS if not vals.has(v)]
    fig.suptitle(f"RMGL-F9 (ours, 2+3-stripe dual path): accuracy vs cut position ({seeds}"
                 + (f"; no records for {', '.join(absent)}" if absent else "") + ")", fontsize=9)
    fig.tight_layout()
    return fig


#: the renderers of each artefact (the rest of ARTEFACTS is prose: figures the chapter does not reproduce)
RENDERERS = {
    "RMGL-T1": (table_t1,), "RMGL-T4": (table_t4, text_t4), "RMGL-T5": (table_t5, table_t5_effects),
    "RMGL-T6": (table_t6,), "RMGL-F1": (fig_f1,), "RMGL-F2": (table_f2,),
    "RMGL-F3": (table_f3_derived, table_f3_measured), "RMGL-F4": (table_f4, fig_f4, text_f4),
    "RMGL-F5": (fig_x2,), "RMGL-F6": (fig_f6,), "RMGL-F9": (fig_f9,), "RMGL-X1": (table_x1, fig_x1),
    "RMGL-X2": (fig_x2, table_x2), "RMGL-X3": (fig_x3, table_x3, table_x3_lost),
}

__all__ = ["Derived", "F9_CUTS", "MARKERS", "RENDERERS", "SPLIT", "T5_EFFECTS", "T5_ROWS",
           "T6_OURS", "WHY", "X3_UNIFORM", "boundary_points", "claims_text", "derived", "fig_f1", "fig_f4",
           "fig_f6", "fig_f9", "fig_x1", "fig_x2", "fig_x3", "status_table", "table_claims", "table_f2",
           "table_f3_derived", "table_f3_measured", "table_f4", "table_t1", "table_t4", "table_t5",
           "table_t5_effects", "table_t6", "table_x1", "table_x2", "table_x3", "table_x3_lost", "evaluated_runs",
           "text_f4", "text_t4"]
