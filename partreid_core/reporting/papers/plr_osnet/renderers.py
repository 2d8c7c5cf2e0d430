"""The PLR-OSNet chapter's artefacts, one function each, drawn from a :class:`~partreid_core.reporting.chapter.Chapter`.

Every renderer takes the chapter (``open_chapter("PLR")``) and returns a DataFrame of formatted strings, a
matplotlib Figure, or a :class:`Note` (a Markdown sentence) where the records it needs do not exist. Numbers come
from the run records or, for the reference tables, from :mod:`.reference`; "—" marks a value the paper does not
report or a run that has no record. Figures use fonts of at least :data:`MIN_FONT` points.
"""
from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text

from ....data.types import PART_CLASSES
from ....engine.optim import lr_factor
from ....experiments.config import resolve_config
from ....experiments.ranklists import load_ranklist
from ....models.complexity import models_table, module_table, torchreid_complexity
from ....models.registry import build_model
from ...chapter import MISSING, Chapter, fmt
from ...figures import rank_list_figure
from .reference import SCHEDULE_CHECKS, T1, T2, T3, T4, T5, T6, T7, TORCHREID_COUNTS, VARIANT_SIZES, PaperTable
from .study import DETECTED, cam_runs

MIN_FONT = 8
#: colours of the 8 SynthReID part classes in the mask panels (background black, foot light grey)
PALETTE = np.array([(0, 0, 0), (230, 60, 60), (60, 180, 75), (255, 225, 25), (245, 130, 48), (0, 130, 200),
                    (145, 30, 180), (240, 240, 240)], dtype=np.uint8)
#: line style and marker per Grad-CAM target, so the five curves differ beyond their colour
TARGET_STYLE = {"global": ("k", "-", None), "part1": ("tab:blue", "--", "o"), "part2": ("tab:orange", "-.", "s"),
                "part3": ("tab:green", ":", "^"), "part4": ("tab:red", "--", "D")}
#: where the PLR-F5 rank-list record lives under the records root (``partreid ranklist ... --out``)
RANKLIST = "ranklists/plr_osnet-vs-osnet-s0"
METRICS = (("mAP", "mAP"), ("Rank-1", "rank1"))


class Note(str):
    """A sentence a renderer returns in place of its artefact (records missing); notebooks show it as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def _finish(fig: Figure) -> Figure:
    """Raise every text of ``fig`` to :data:`MIN_FONT` points and detach it from pyplot, so a notebook shows it
    once, as the cell's value."""
    for text in fig.findobj(Text):
        if text.get_fontsize() < MIN_FONT:
            text.set_fontsize(MIN_FONT)
    plt.close(fig)
    return fig


def _count(v: object) -> str:
    """An integer count with thousands separators, "—" when absent."""
    return MISSING if v is None or pd.isna(v) else f"{int(v):,}"


def _millions(v: object) -> str:
    return MISSING if v is None or pd.isna(v) else f"{float(v) / 1e6:.1f}M"


# --------------------------------------------------------------------------------------------- status, claims
def status_table(ch: Chapter) -> pd.DataFrame | Note:
    """The planned variants that lack records: columns sweep, variant, seeds (with records / planned) and the
    command that makes the missing ones; one sentence when every planned run has its record."""
    st = ch.status()
    todo = st[st["state"] != "complete"]
    if todo.empty:
        return Note(f"Every planned run has its record ({len(st)} variants in {st['sweep'].nunique()} sweeps).")
    return todo[["sweep", "variant", "seeds", "command"]].reset_index(drop=True)


def _digits(family: str) -> int:
    """One decimal for accuracies in % points, three for PLR-F4's fractions of the image height."""
    return 1 if family == "accuracy" else 3


def table_claims(ch: Chapter) -> pd.DataFrame:
    """Every claim of the chapter as judged on the records (the rows of ``partreid claims --paper PLR``).

    Rows: claims. Columns: artefact, kind, statement, design, paper's Δ, ours Δ [95 % CI], p (Holm), MDE,
    ours ÷ paper's, seeds (sign agreement), verdict; "—" where a value does not exist.
    """
    c = ch.claims()
    rows = []
    for _, r in c.iterrows():
        d = _digits(str(r["family"]))
        has = pd.notna(r["difference"])
        rows.append({
            "claim": r["claim"], "artefact": r["artefact"], "kind": r["kind"], "statement": r["statement"],
            "design": r["design"],
            "paper's Δ": fmt(r["paper_effect"], d, signed=True),
            "ours: Δ [95 % CI]": (f"{fmt(r['difference'], d, True)} [{fmt(r['ci_low'], d, True)}, "
                                  f"{fmt(r['ci_high'], d, True)}]") if has else r["observed"],
            "p (Holm)": fmt(r["p_holm"], 3) if r["kind"] != "sanity" else f"{fmt(r['p'], 3)} (raw)",
            "MDE": fmt(r["mde"], d), "ours ÷ paper's": MISSING if pd.isna(r["ratio"]) else f"{r['ratio']:.1f}×",
            "seeds": r["seed_signs"] or MISSING, "verdict": r["verdict"],
        })
    return pd.DataFrame(rows).set_index("claim")


def claims_summary(ch: Chapter) -> Note:
    """One Markdown line per claim: its verdict in words, computed from the records (so it stays true as they
    change)."""
    what = {"confirmed": "the records support the claim",
            "contradicted": "the records show a clear difference in the other direction",
            "no effect": "the difference is practically zero (its 95 % CI lies inside the claim's margin)",
            "inconclusive": "the seeds do not decide it either way"}
    lines = []
    for _, r in ch.claims().iterrows():
        if str(r["observed"]).startswith("no records"):
            lines.append(f"- **{r['claim']}** ({r['artefact']}): not judged, {r['observed']}.")
        else:
            lines.append(f"- **{r['claim']}** ({r['artefact']}, {r['expected']}): **{r['verdict']}**, "
                         f"{what[r['verdict']]}; {r['observed']}.")
    return Note("\n".join(lines))


# --------------------------------------------------------------------------------------------- PLR-M1, PLR-F3
def table_m1(ch: Chapter) -> pd.DataFrame:
    """PLR-M1: parameters and multiply-adds of OSNet x1.0 and PLR-OSNet at 256×128 (classifiers excluded), ours
    (both counters) beside the papers' rounded figures and torchreid's exact count. Rows: the two models."""
    size = models_table(["osnet", "plr_osnet"], input_size=(256, 128))
    return pd.DataFrame({
        "paper params": [_millions(v) for v in size.paper_params],
        "ours, torchreid counter": [_count(v) for v in size.params_torchreid],
        "ours, unique": [_count(v) for v in size.params],
        "torchreid reference": [_count(TORCHREID_COUNTS[m][0]) for m in size.index],
        "paper MACs": [_millions(v) for v in size.paper_macs],
        "ours MACs (torchreid: conv + linear)": [_count(v) for v in size.macs_torchreid],
        "torchreid reference MACs": [_count(TORCHREID_COUNTS[m][1]) for m in size.index],
        "test feature": [_count(v) for v in size.feat_dim],
    }, index=pd.Index(size.index, name="model"))


@lru_cache(maxsize=1)
def _plr_modules() -> pd.DataFrame:
    """:func:`module_table` of the full PLR-OSNet at 256×128 (built once; the table and the diagram share it)."""
    return module_table(build_model("plr_osnet", 751).eval(), input_size=(256, 128))


def table_m1_modules(ch: Chapter) -> pd.DataFrame:
    """PLR-M1's per-module breakdown of PLR-OSNet (§III-B, Fig. 3): rows = top-level modules; type, unique
    parameters, those used at test, output shape of one eval forward at 256×128."""
    t = _plr_modules()
    return pd.DataFrame({"type": t["type"], "params": [_count(v) for v in t["params"]],
                         "params at test": [_count(v) for v in t["params_at_test"]],
                         "output shape": t["output_shape"].replace("", MISSING)}, index=t.index)


def table_m1_variants(ch: Chapter) -> pd.DataFrame:
    """Torchreid-style counts of the ablation variants and of the cpu sweeps' x0.25 model against torchreid's
    own counter. Rows: variants; columns params, reference, MACs, reference MACs, match."""
    rows = {}
    for v in VARIANT_SIZES:
        p, m = torchreid_complexity(build_model("plr_osnet", 751, v.overrides).eval(), v.input_size)
        rows[v.label] = {"params (torchreid)": _count(p), "reference": _count(v.params),
                         "MACs (torchreid)": _count(m), "reference MACs": _count(v.macs),
                         "match": "yes" if (p, m) == (v.params, v.macs) else "no"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")


def fig_f3(ch: Chapter) -> Figure:
    """PLR-F3: the architecture as a block diagram, with each block's output shape from a real forward."""
    shapes = _plr_modules()["output_shape"].to_dict()
    fig, ax = plt.subplots(figsize=(12.5, 4.0))
    ax.set_xlim(0, 12.2)
    ax.set_ylim(0, 4.2)
    ax.axis("off")

    def box(x: float, y: float, w: float, text: str, color: str) -> None:
        ax.add_patch(plt.Rectangle((x, y), w, 0.8, fc=color, ec="k", lw=0.8))
        ax.text(x + w / 2, y + 0.4, text, ha="center", va="center", fontsize=MIN_FONT)

    def arrow(x0: float, y0: float, x1: float, y1: float, color: str = "k") -> None:
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color=color, lw=1))

    box(0.0, 1.7, 1.1, "image\n3x256x128", "white")
    box(1.4, 1.7, 1.5, f"conv1+pool+conv2\n{shapes['conv2']}", "#dddddd")
    box(3.2, 1.7, 1.1, f"SAM+CAM\n{shapes['att2']}", "#f7d59c")
    box(4.6, 1.7, 1.2, f"conv3\n{shapes['conv3']}", "#dddddd")
    box(6.1, 1.7, 1.1, f"SAM+CAM\n{shapes['att3']}", "#f7d59c")
    for x0, x1 in [(1.1, 1.4), (2.9, 3.2), (4.3, 4.6), (5.8, 6.1)]:
        arrow(x0, 2.1, x1, 2.1)
    box(7.6, 3.2, 1.7, f"global conv4, conv5\n{shapes['global_conv5']}", "#fbc59a")
    box(9.6, 3.2, 1.1, "GMP, fc2\n512", "#fbc59a")
    box(11.0, 3.2, 1.1, "BN → ID\n+tri+cen", "#fbc59a")
    box(7.6, 0.2, 1.7, f"local conv4, conv5\n{shapes['local_conv5']}", "#a8c8f0")
    box(9.6, 0.2, 1.1, "4 stripes, avg\n→ concat 2048", "#a8c8f0")
    box(11.0, 0.2, 1.1, "BN → 1 ID\n+tri+cen", "#a8c8f0")
    arrow(7.2, 2.2, 7.6, 3.5, "tab:orange")
    arrow(7.2, 2.0, 7.6, 0.6, "tab:blue")
    for y, c in [(3.6, "tab:orange"), (0.6, "tab:blue")]:
        arrow(9.3, y, 9.6, y, c)
        arrow(10.7, y, 11.0, y, c)
    ax.text(9.9, 2.1, "test: concat(L2(BN(g)), L2(BN(h))) = 2560-d", fontsize=9, ha="center", va="center")
    ax.set_title("PLR-F3: PLR-OSNet (shared trunk with attention; global GMP branch; local 4-stripe branch, "
                 "one ID loss)", fontsize=10)
    return _finish(fig)


# --------------------------------------------------------------------------------------------- PLR-S1
def _lr_curve(profile: str, overrides: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(epochs,) epoch indices and the learning rate of each epoch under a profile's recipe (the engine's own
    :func:`lr_factor`)."""
    cfg = resolve_config("plr_osnet", profile, overrides or {})
    e = np.arange(cfg.train.epochs)
    return e, np.array([cfg.optim.lr * lr_factor(cfg.schedule, int(i), 0, 1, cfg.train.epochs) for i in e])


#: the three schedules of PLR-S1: §IV-B's two (Market/Duke 120 epochs, CUHK03 150) and the cpu profile's
SCHEDULES = {
    "market": ("gpu: Market/Duke, 120 epochs", "gpu", {}),
    "cuhk03": ("gpu: CUHK03, 150 epochs", "gpu", {"train": {"epochs": 150},
                                                  "schedule": {"warmup_epochs": 39, "milestones": [100, 130]}}),
    "cpu": ("cpu profile, 15 epochs", "cpu", {}),
}


def fig_s1(ch: Chapter) -> Figure:
    """PLR-S1: the learning-rate schedules, paper scale (left) and the cpu profile (right), log scale."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, (label, profile, over) in SCHEDULES.items():
        e, lr = _lr_curve(profile, over)
        axes[1 if name == "cpu" else 0].step(e, lr, where="post", label=label, ls="--" if name == "cuhk03" else "-")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("epoch (0-based)")
        ax.set_ylabel("learning rate")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9, frameon=False)  # off the data
    fig.suptitle("PLR-S1: learning-rate schedules", fontsize=11)
    fig.tight_layout()
    return _finish(fig)


def table_s1(ch: Chapter) -> pd.DataFrame:
    """PLR-S1's exact checks: rows = (schedule, epoch); ours, the value §IV-B implies, match to 4 digits."""
    curves = {name: _lr_curve(profile, over)[1] for name, (_, profile, over) in SCHEDULES.items() if name != "cpu"}
    rows = {c.label: {"ours": f"{curves[c.curve][c.epoch]:.4e}", "paper (§IV-B)": f"{c.lr:.4e}",
                      "match (4 digits)": "yes" if np.isclose(curves[c.curve][c.epoch], c.lr, rtol=1e-4) else "no"}
            for c in SCHEDULE_CHECKS}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("check")


# --------------------------------------------------------------------------------------------- paper tables
def table_t1(ch: Chapter) -> pd.DataFrame:
    """PLR-T1: Table I (Market-1501), the paper's numbers."""
    return T1.frame()


def table_t2(ch: Chapter) -> pd.DataFrame:
    """PLR-T2: Table II (DukeMTMC-reID), the paper's numbers."""
    return T2.frame()


def table_t3(ch: Chapter) -> pd.DataFrame:
    """PLR-T3: Table III (CUHK03 labeled / detected), the paper's numbers."""
    return T3.frame()


def table_t4(ch: Chapter) -> pd.DataFrame:
    """PLR-T4: Table IV (global features), the paper's numbers."""
    return T4.frame()


def table_t5(ch: Chapter) -> pd.DataFrame:
    """PLR-T5: Table V (single vs multiple ID loss), the paper's numbers."""
    return T5.frame()


def table_t6(ch: Chapter) -> pd.DataFrame:
    """PLR-T6: Table VI (attention modules), the paper's numbers."""
    return T6.frame()


def table_t7(ch: Chapter) -> pd.DataFrame:
    """PLR-T7: Table VII (soft vs hard margin, CUHK03 only), the paper's numbers."""
    return T7.frame()


def fig_f1(ch: Chapter) -> Figure:
    """PLR-F1: DukeMTMC-reID against CUHK03-detected for the methods in both Table II and Table III (published
    numbers only; the chart type of the paper's Fig. 1 is not recoverable from its text)."""
    duke, cuhk = T2.numbers(), T3.numbers()
    both = [m for m in duke.index if m in cuhk.index and cuhk.loc[m].notna().all()]
    groups = {"2018": ("tab:gray", "o", 40), "2019": ("tab:blue", "s", 40), "PLR-OSNet": ("tab:red", "*", 220)}
    # labels of close neighbours (Pyramid / SONA / BDB, MHN / MGN) go below, above or left of their point
    offsets = {("mAP", "Pyramid"): (4, -11, "left"), ("mAP", "MGN"): (4, 3, "left"),
               ("Rank-1", "Pyramid"): (-6, -1, "right"), ("Rank-1", "BDB"): (-6, -4, "right"),
               ("Rank-1", "MGN"): (4, 3, "left")}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, metric in zip(axes, ("mAP", "Rank-1"), strict=True):
        for m in both:
            group = "PLR-OSNet" if m.startswith("PLR") else ("2019" if "'19" in m else "2018")
            color, marker, size = groups[group]
            x, y = duke.loc[m, ("DukeMTMC-reID", metric)], cuhk.loc[m, ("CUHK03-D", metric)]
            ax.scatter(x, y, c=color, marker=marker, s=size, label=group)
            name = m.split(" (")[0]
            dx, dy, ha = offsets.get((metric, name), (4, -3, "left"))
            ax.annotate(name, (x, y), fontsize=MIN_FONT, xytext=(dx, dy), ha=ha, textcoords="offset points")
        ax.set_xlabel(f"DukeMTMC-reID {metric} (%)")
        ax.set_ylabel(f"CUHK03-detected {metric} (%)")
        ax.margins(0.12)
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle("PLR-F1: published results on DukeMTMC-reID and CUHK03-detected (Tables II and III)", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _finish(fig)


def fig_f2(ch: Chapter) -> Figure:
    """PLR-F2: the schematic of Fig. 2, redrawn: one ID loss per stripe (PCB) vs one on the concatenation (PLR)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, single in zip(axes, (False, True), strict=True):
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 5)
        ax.axis("off")
        ax.add_patch(plt.Rectangle((0.3, 0.5), 1.5, 4, fc="#dddddd", ec="k"))
        ax.text(1.05, 2.5, "conv5\nmap", ha="center", va="center", fontsize=9)
        for p in range(4):
            y = 4.0 - p
            ax.add_patch(plt.Rectangle((2.5, y - 0.3), 1.2, 0.6, fc="#a8c8f0", ec="k"))
            ax.text(3.1, y, f"g{p + 1}", ha="center", va="center", fontsize=9)
            ax.annotate("", (2.5, y), (1.8, y), arrowprops=dict(arrowstyle="->"))
            if not single:
                ax.add_patch(plt.Rectangle((5.0, y - 0.3), 2.0, 0.6, fc="#fbc59a", ec="k"))
                ax.text(6.0, y, f"ID loss {p + 1}", ha="center", va="center", fontsize=9)
                ax.annotate("", (5.0, y), (3.7, y), arrowprops=dict(arrowstyle="->"))
        if single:
            ax.add_patch(plt.Rectangle((4.6, 0.7), 1.2, 3.6, fc="#a8c8f0", ec="k"))
            ax.text(5.2, 2.5, "concat\n2048", ha="center", va="center", fontsize=9)
            for p in range(4):
                ax.annotate("", (4.6, 4.0 - p), (3.7, 4.0 - p), arrowprops=dict(arrowstyle="->"))
            ax.add_patch(plt.Rectangle((6.8, 2.2), 2.0, 0.6, fc="#fbc59a", ec="k"))
            ax.text(7.8, 2.5, "one ID loss", ha="center", va="center", fontsize=9)
            ax.annotate("", (6.8, 2.5), (5.8, 2.5), arrowprops=dict(arrowstyle="->"))
        ax.set_title("single ID loss (PLR)" if single else "multiple ID loss (PCB style)", fontsize=10)
    fig.suptitle("PLR-F2: part-level resolution with multiple vs a single ID loss", fontsize=11)
    return _finish(fig)


# --------------------------------------------------------------------------------------------- synthetic ablations
def _arm(label: str, key: str, full: str, paper: tuple[PaperTable, str, str] | None) -> dict:
    """One row of an ablation table: our run key, the key of the full model it is compared with (same box
    regime), and where the paper's row is (table, row, dataset), or None when the paper has no such row."""
    return {"label": label, "key": key, "full": full, "paper": paper}


def _paper_value(paper: tuple[PaperTable, str, str] | None, metric: str) -> float | None:
    return None if paper is None else paper[0].value(paper[1], paper[2], metric)


def ablation_table(ch: Chapter, arms: list[dict]) -> pd.DataFrame:
    """Paper beside ours for a list of :func:`_arm` rows. Rows = variants; columns (metric, quantity) for mAP and
    Rank-1: paper, paper's Δ to its full model, ours (mean ± std over seeds), ours Δ (paired by seed, mean of
    the per-seed differences to the full model of the same box regime). The full model's own Δ reads "(ref.)"."""
    paper_of = {a["key"]: a["paper"] for a in arms}
    rows = {}
    for a in arms:
        row = {}
        for name, col in METRICS:
            p, p_full = _paper_value(a["paper"], name), _paper_value(paper_of.get(a["full"]), name)
            ref = a["key"] == a["full"]
            row[(name, "paper")] = fmt(p)
            row[(name, "paper Δ")] = "(ref.)" if ref else fmt(None if p is None or p_full is None else p - p_full,
                                                               signed=True)
            row[(name, "ours")] = ch.mean_std(a["key"], col)
            d = ch.paired_delta(a["key"], a["full"], col)
            row[(name, "ours Δ")] = "(ref.)" if ref else fmt(d.mean() if len(d) else None, signed=True)
        rows[a["label"]] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["metric", ""])
    return df.rename_axis("variant")


def table_t3_ours(ch: Chapter) -> pd.DataFrame:
    """PLR-T3's synthetic analogue: PLR-OSNet and OSNet on default and detected (misalignment 0.8) boxes; the
    paper column is CUHK03-labeled for default boxes and CUHK03-detected for detected ones."""
    d = DETECTED
    return ablation_table(ch, [
        _arm("PLR-OSNet, default boxes", "plr_osnet", "plr_osnet", (T3, "PLR-OSNet", "CUHK03-L")),
        _arm("OSNet, default boxes", "osnet", "plr_osnet", (T3, "OSNet (ICCV'19)", "CUHK03-L")),
        _arm("PLR-OSNet, detected boxes", d + "plr_osnet", d + "plr_osnet", (T3, "PLR-OSNet", "CUHK03-D")),
        _arm("OSNet, detected boxes", d + "osnet", d + "plr_osnet", (T3, "OSNet (ICCV'19)", "CUHK03-D"))])


def table_t4_ours(ch: Chapter) -> pd.DataFrame:
    """PLR-T4's synthetic ablation (paper column: Market-1501), with the global-only arm the paper does not run."""
    return ablation_table(ch, [
        _arm("with global branch (plr_osnet)", "plr_osnet", "plr_osnet", (T4, "Yes", "Market-1501")),
        _arm("no global branch (local_only)", "local_only", "plr_osnet", (T4, "No", "Market-1501")),
        _arm("global branch only (global_only)", "global_only", "plr_osnet", None)])


def table_t5_ours(ch: Chapter) -> pd.DataFrame:
    """PLR-T5's synthetic ablation: default boxes (paper column Market-1501) and detected boxes (CUHK03-D)."""
    d = DETECTED
    return ablation_table(ch, [
        _arm("single ID loss, default boxes", "plr_osnet", "plr_osnet", (T5, "Single ID loss", "Market-1501")),
        _arm("multiple ID loss, default boxes", "multiple_id", "plr_osnet", (T5, "Multiple ID loss", "Market-1501")),
        _arm("single ID loss, detected boxes", d + "plr_osnet", d + "plr_osnet", (T5, "Single ID loss", "CUHK03-D")),
        _arm("multiple ID loss, detected boxes", d + "multiple_id", d + "plr_osnet",
             (T5, "Multiple ID loss", "CUHK03-D"))])


def table_t6_ours(ch: Chapter) -> pd.DataFrame:
    """PLR-T6's synthetic ablation (paper column: Market-1501)."""
    return ablation_table(ch, [
        _arm("with attention (plr_osnet)", "plr_osnet", "plr_osnet", (T6, "Yes", "Market-1501")),
        _arm("no attention", "no_attention", "plr_osnet", (T6, "No", "Market-1501"))])


def table_t7_ours(ch: Chapter) -> pd.DataFrame:
    """PLR-T7's synthetic ablation (paper column: CUHK03-L, the only data set of Table VII)."""
    return ablation_table(ch, [
        _arm("soft margin (plr_osnet)", "plr_osnet", "plr_osnet", (T7, "Soft margin", "CUHK03-L")),
        _arm("hard margin 0.3", "hard_margin", "plr_osnet", (T7, "Hard margin", "CUHK03-L"))])


# --------------------------------------------------------------------------------------------- PLR-F4, PLR-F5
def _cam_record(ch: Chapter, key: str) -> tuple[int, dict[str, np.ndarray]] | None:
    """(seed, analysis arrays) of the lowest seed of ``key`` whose record has Grad-CAM maps, else None."""
    for seed in ch.values(key, "mAP").index:
        a = ch.analysis(key, int(seed))
        if "plr_cam/maps" in a:
            return int(seed), a
    return None


def fig_f4_maps(ch: Chapter, key: str = "plr_osnet") -> Figure | Note:
    """PLR-F4: six query images of the lowest-seed ``key`` record with their part masks and the Grad-CAM map of
    each target (global, part1-4), one image per row."""
    found = _cam_record(ch, key)
    if found is None:
        return Note(f"PLR-F4: no `{key}` record with Grad-CAM maps under `{ch.results}`; see the status table.")
    seed, rec = found
    names, maps = [str(n) for n in rec["plr_cam/target_names"]], rec["plr_cam/maps"].astype(np.float32)
    k = maps.shape[1]
    fig, axes = plt.subplots(k, 2 + len(names), figsize=(1.35 * (2 + len(names)), 2.3 * k), squeeze=False)
    for i in range(k):
        img = rec["plr_cam/images"][i].transpose(1, 2, 0)
        axes[i, 0].imshow(img)
        axes[i, 1].imshow(PALETTE[np.minimum(rec["plr_cam/masks"][i], len(PALETTE) - 1)])
        for t in range(len(names)):
            axes[i, 2 + t].imshow(img)
            axes[i, 2 + t].imshow(maps[t, i], cmap="jet", alpha=0.55, vmin=0, vmax=1)
    for j, title in enumerate(["query", "mask", *names]):
        axes[0, j].set_title(title, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"PLR-F4: Grad-CAM of the global vector and parts 1-4 ({key}, seed {seed})", fontsize=10)
    fig.tight_layout()
    return _finish(fig)


def table_f4_mass(ch: Chapter) -> pd.DataFrame | Note:
    """Where the Grad-CAM mass falls, default boxes: rows (variant, target); columns the vertical centre of mass
    (0 top, 1 bottom), the mass on body pixels and on each part class, "mean ± std" over seeds of the per-run
    means over the scored images."""
    cams = cam_runs(ch.runs) if not ch.runs.empty else pd.DataFrame()
    if cams.empty:
        return Note("PLR-F4: no run has Grad-CAM statistics yet; see the status table.")
    cams = cams[~cams["variant_key"].str.startswith(DETECTED)]
    cols = {"cam_centroid_row": "centre of mass", "body_mass": "on body",
            **{f"mass_{c}": c.replace("_", " ") for c in PART_CLASSES}}
    g = cams.groupby(["variant_key", "target"], sort=False)[list(cols)]
    mean, std = g.mean(), g.std(ddof=1).fillna(0.0)
    out = pd.DataFrame({label: [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[c], std[c], strict=True)]
                        for c, label in cols.items()}, index=mean.index)
    return out.rename_axis(["variant", "target"])


def fig_f4_profiles(ch: Chapter, keys: tuple[str, ...] = ("plr_osnet", "multiple_id")) -> Figure | Note:
    """PLR-F4's vertical profile (share of CAM mass per image row, mean over seeds) for each target of each of
    ``keys``, and the mean overlap (histogram intersection) between the five maps of one PLR-OSNet image."""
    panels = {k: p.mean(0) for k in keys if (p := ch.stack(k, "plr_cam/row_profile")) is not None}
    overlap = ch.stack(keys[0], "plr_cam/overlap")
    if not panels or overlap is None:
        return Note(f"PLR-F4: no Grad-CAM profiles for {', '.join(keys)} yet; see the status table.")
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.4 * (len(panels) + 1), 4.2))
    for ax, (key, prof) in zip(axes, panels.items(), strict=False):
        names = [str(n) for n in ch.analysis(key)["plr_cam/target_names"]]
        frac = (np.arange(prof.shape[1]) + 0.5) / prof.shape[1]
        for t, name in enumerate(names):
            color, ls, marker = TARGET_STYLE[name]
            ax.plot(prof[t], frac, color=color, ls=ls, marker=marker, markevery=16, ms=5,
                    lw=2 if name == "global" else 1.2, label=name)
        for b in (0.25, 0.5, 0.75):
            ax.axhline(b, color="grey", lw=0.5, ls=":")
        ax.invert_yaxis()
        ax.set_xlabel("share of CAM mass per row")
        ax.set_ylabel("image height (0 = top)")
        ax.set_title(key, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    names = [str(n) for n in ch.analysis(keys[0])["plr_cam/target_names"]]
    ov = overlap.mean(0)
    im = axes[-1].imshow(ov, vmin=0, vmax=1, cmap="viridis")
    axes[-1].set_xticks(range(len(names)), names, rotation=45)
    axes[-1].set_yticks(range(len(names)), names)
    for (i, j), v in np.ndenumerate(ov):
        axes[-1].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=MIN_FONT, color="w" if v < 0.6 else "k")
    axes[-1].set_title(f"{keys[0]}: map overlap", fontsize=10)
    fig.colorbar(im, ax=axes[-1], fraction=0.046)
    fig.suptitle("PLR-F4: vertical distribution and overlap of the Grad-CAM maps", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _finish(fig)


def fig_f5(ch: Chapter) -> Figure | Note:
    """PLR-F5: top-10 of OSNet (upper rows) and PLR-OSNet (lower rows) for three queries, from the ``partreid
    ranklist`` record :data:`RANKLIST`; the title says how often PLR-OSNet's AP is higher over all queries."""
    record = ch.results / RANKLIST
    if not (record / "ranklist.npz").is_file():
        return Note(f"PLR-F5: no rank-list record at `{record}`; the command that makes it is in the text above.")
    arrays = load_ranklist(record)
    a, b = arrays["ap_a"], arrays["ap_b"]
    both = ~np.isnan(a) & ~np.isnan(b)
    fig = rank_list_figure(arrays, "OSNet", "PLR-OSNet",
                           "PLR-F5: top-10, OSNet (upper) vs PLR-OSNet (lower); green = same identity\n"
                           f"over all {int(both.sum())} queries PLR-OSNet's AP is higher on "
                           f"{(b > a)[both].mean():.0%}, lower on {(b < a)[both].mean():.0%}")
    _finish(fig)
    fig.tight_layout()   # again: the shared rank-list figure was laid out with smaller fonts
    return fig


#: the renderers that show each artefact of :data:`~.study.ARTEFACTS`, in the chapter's order
RENDERERS = {
    "PLR-M1": (table_m1, table_m1_modules, table_m1_variants), "PLR-F3": (fig_f3,), "PLR-S1": (fig_s1, table_s1),
    "PLR-T1": (table_t1,), "PLR-T2": (table_t2,), "PLR-T3": (table_t3, table_t3_ours), "PLR-F1": (fig_f1,),
    "PLR-T4": (table_t4, table_t4_ours), "PLR-T5": (table_t5, table_t5_ours), "PLR-F2": (fig_f2,),
    "PLR-T6": (table_t6, table_t6_ours), "PLR-T7": (table_t7, table_t7_ours),
    "PLR-F4": (fig_f4_maps, table_f4_mass, fig_f4_profiles), "PLR-F5": (fig_f5,),
}

__all__ = ["MIN_FONT", "Note", "RANKLIST", "RENDERERS", "ablation_table", "claims_summary", "fig_f1", "fig_f2",
           "fig_f3", "fig_f4_maps", "fig_f4_profiles", "fig_f5", "fig_s1", "status_table", "table_claims",
           "table_f4_mass", "table_m1", "table_m1_modules", "table_m1_variants", "table_s1", "table_t1", "table_t2",
           "table_t3", "table_t3_ours", "table_t4", "table_t4_ours", "table_t5", "table_t5_ours", "table_t6",
           "table_t6_ours", "table_t7", "table_t7_ours"]
