# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # All five methods on one benchmark
#
# Each paper compares itself with its own choice of baselines, on its own data, with its own training recipe
# and its own evaluation code. This chapter puts the five methods (PAL, RMGL, CGPN, MPN, PLR-OSNet) and four
# baselines (GlobalPool, PCB, MGN, OSNet) side by side. All of them are trained by one engine, on the same
# SynthReID split, and evaluated by one evaluation module:
#
# * **one table**: Rank-1, mAP in both AP conventions, mINP, parameters, multiply-adds, and training and inference
#   images/s;
# * **robustness curves** as SynthReID's misalignment, occlusion and domain shift grow, with the robustness claims
#   of the papers tested against each other;
# * **cost against accuracy**, and a short conclusion per method, computed from the records;
# * **construct validity**: does SynthReID rank the methods as Market-1501 does (Kendall's τ per regime)?
# * **does a verdict survive scale?** Two claims' Δ across regimes, widths and training lengths;
# * the **reproduction scorecard**: for each paper, how many artefacts were reproduced and how many claims were
#   confirmed, not confirmed or inconclusive. It is gathered from the chapters' claims tables, not typed.
#
# **No new training.** Each method is represented by the runs its own chapter made with its own paper recipe
# (`synth-s`, seeds 0–2), in each of the study's two regimes: **scratch** (`cpu` profile, trunks trained from
# scratch) and **fine-tuned** (`cpu-ft` profile, trunks pretrained on SynthReID-P and fine-tuned with each paper's
# recipe as written; records under `results/fine-tuned/`). `partreid_core.experiments.comparison.METHODS` names those runs.
# The methods therefore share the data, the budget in iterations (the cpu profile's 600 to 900) and the
# evaluation. Each keeps its own optimiser, sampler and losses, as its paper prescribes. Some recipes had to change
# to learn at all from scratch: the OSNet family, MPN, RMGL, CGPN and MGN. The chapter, the recipe file and the
# recalibration section of {doc}`synthreid` say how.

# %% tags=["remove-cell"]
# Opened on Colab (or in any kernel without the project): clone the repository, run records included, and install it.
try:
    import partreid_core  # noqa: F401
except ImportError:
    import subprocess
    import sys

    subprocess.run(["git", "clone", "--depth", "1", "https://github.com/partreid/partreid", "partreid"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", "partreid"], check=True)
    sys.path.insert(0, "partreid")

# %% tags=["remove-input"]
from partreid_core.reporting.paths import REGIMES, regime_root, repository_root, results_root, shown

PROFILE = "cpu"          # the comparison's runs: "cpu" (synth-s); "gpu" (synth-m) once a GPU has run them
DATASET = "synth-s"
RESULTS_DIR = results_root()   # $PARTREID_RESULTS, else the repository's results/, wherever the chapter runs
RETRAIN = False          # True: run the missing robustness evaluations and the benchmark (needs the checkpoints)

# %% tags=["remove-input"]
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from partreid_core.experiments.comparison import METHODS, ROBUSTNESS_LEVELS, run_robustness
from partreid_core.reporting import comparison as cmp
from partreid_core.reporting import provenance
from partreid_core.reporting.papers import STATUSES

pd.set_option("display.max_colwidth", 100)
pd.set_option("display.width", 200)

ROOT = repository_root()
RESULTS = shown(RESULTS_DIR)   # as a reader types it at the repository root
BENCH_RECIPES = [m.bench for m in METHODS]

if RETRAIN:
    for knob in ROBUSTNESS_LEVELS:
        for s in run_robustness(knob, out=RESULTS_DIR, checkpoints=ROOT / "checkpoints"):
            print(s["status"], s["path"])
    subprocess.run([sys.executable, "-m", "partreid_core.cli", "bench", "models", "--recipes", *BENCH_RECIPES,
                    "--profile", PROFILE, "--threads", "1", "--out", str(RESULTS_DIR / "bench" / f"models-{PROFILE}.json")],
                   check=True, cwd=ROOT)

runs = cmp.method_runs(RESULTS_DIR, profile=PROFILE, dataset=DATASET)
print(provenance(runs))
print("AP conventions: mAP = non-interpolated (torchreid, Market-1501 code); mAP_trapezoid = interpolated; "
      "mINP = mean inverse negative penalty; all in %")

# %% [markdown]
# ## The headline claims at a glance
#
# Four to six claims per paper, those of its abstract and main ablation table, fixed before their fourth and fifth
# seeds were run: the paper's own Δ (its table or figure and data set), ours with its 95 % confidence interval
# (paired by seed), their ratio, how many seeds agree in sign, and the verdict under the rule of
# {doc}`evaluation_protocol` (Holm-corrected within each chapter). The rows are those of `partreid claims`; each
# claim links to its chapter.

# %% tags=["hide-input"]
from IPython.display import HTML  # noqa: E402

from partreid_core.reporting import glance  # noqa: E402

display(HTML(glance.render(glance.headline_table(RESULTS_DIR, link_prefix=""))))

# %% [markdown]
# ## The table
#
# Mean ± standard deviation over the seeds each method has (column `seeds`). Parameters and multiply-adds are
# counted on the eval forward pass at the profile's 128×64 input with the profile's backbones (ResNet-50 topology
# at width 0.25, OSNet x0.25). Training images/s is the engine's full step: the method's own sampler, augmentation
# and losses, including masks or priors where the method uses them. Inference images/s is test-descriptor extraction
# without flip. Both rates come from one `partreid bench models` run, with every model under the same conditions.
# The run used one thread while other work shared the second core, so rates within about a quarter of each other
# are within the noise. GlobalPool and PAL (GP+PS) share one inference graph, and their inference rates show
# the size of that noise.

# %% tags=["hide-input"]
table = cmp.comparison_table(RESULTS_DIR, PROFILE, DATASET)   # the scratch regime: the sections below use it
bench = cmp.load_bench(RESULTS_DIR, PROFILE)
if bench.empty:
    print(f"No benchmark record yet: partreid bench models --recipes {' '.join(BENCH_RECIPES)} --profile {PROFILE} "
          f"--threads 1 --out {RESULTS}/bench/models-{PROFILE}.json")
else:
    print(f"cost columns: results/bench/models-{PROFILE}.json · device {bench.attrs['device']} · "
          f"commit {bench.attrs['git_commit']}")
cmp.format_comparison(table).set_index("method")

# %% [markdown]
# ### The fine-tuned regime
#
# The same methods, each fine-tuning a SynthReID-P trunk with its paper's recipe as written, only the length scaled
# (`cpu-ft`). The cost columns are those of the scratch table: the same networks at the same input size. Where a
# method has no records yet, the command that makes them is listed.

# %% tags=["hide-input"]
FT_DIR = regime_root(RESULTS_DIR, "fine-tuned")
display(cmp.format_comparison(cmp.comparison_table(FT_DIR, cmp.REGIME_PROFILES["fine-tuned"])).set_index("method")
        .drop(columns=["params (M)", "MACs (M)", "train img/s", "infer img/s"]))
todo = cmp.missing_runs(RESULTS_DIR, "fine-tuned")
print("no records yet for: " + ", ".join(todo.method) + "\n" + "\n".join(todo.command) if len(todo) else "")

# %% [markdown]
# **The `gpu` profile on `synth-m`** (paper input sizes, ImageNet-sized backbones, paper epochs) needs a GPU, as
# does its fine-tuned counterpart `gpu-synth` (the same recipes on a gpu-tier SynthReID-P trunk). The cell below
# shows whatever records of the two exist.

# %% tags=["hide-input"]
for root, prof in ((RESULTS_DIR, "gpu"), (FT_DIR, "gpu-synth")):
    n = len(cmp.method_runs(root, profile=prof))
    print(f"{n} {prof}-profile runs on record" + ("" if n else " — pending a GPU"))

# %% [markdown]
# ### Seed by seed
#
# The spread matters as much as the mean. A method with one seed is shown but not ranked against the others.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
order = [m.label for m in METHODS]
palette = {m.label: ("#7f7f7f" if m.kind == "baseline" else "#1f77b4") for m in METHODS}
for ax, metric in zip(axes, ["rank1", "mAP"], strict=False):
    if not runs.empty:
        sns.stripplot(data=runs, y="method", x=metric, order=order, hue="method", palette=palette, size=6,
                      ax=ax, legend=False)
        means = runs.groupby("method")[metric].mean().reindex(order)
        ax.scatter(means.values, range(len(order)), marker="|", s=400, color="k", zorder=3)
    ax.set_xlabel(f"{metric} (%)")
    ax.set_ylabel("")
    ax.grid(axis="x", alpha=0.3)
fig.suptitle(f"Accuracy per seed ({PROFILE} profile, {DATASET}); bars = means; grey = baselines")
fig.tight_layout()

# %% [markdown]
# ## Does SynthReID rank the methods as Market-1501 does?
#
# A proxy benchmark has construct validity for cross-paper comparisons if it orders methods as the real benchmark
# does. The table sets each method's published Market-1501 Rank-1 and mAP (single query, no re-ranking, from the
# paper's own comparison table; the column `source` names it) beside ours in each regime, and the second table gives
# Kendall's τ-b between the two orders, per regime and metric, over the methods that have both. τ counts pairs of
# methods: +1 if every pair is ordered alike, −1 if every pair is reversed, 0 if agreements and reversals balance.
# With nine methods, |τ| must reach about 0.56 before p falls below 0.05 (the `p` column); the published values
# themselves lie within a few points of each other, so some published pairs are closer than the papers' own seed
# noise.
#
# A low τ does not void the chapters: a within-paper ablation (PS on or off, RP or OP) compares two models trained
# alike on the same data, and the proxy can still test whether that switch helps. What a low τ rules out is reading
# the proxy's ranking across papers as the literature's.

# %% tags=["hide-input"]
cv = cmp.construct_validity(RESULTS_DIR)
display(cmp.format_construct_validity(cv))
print(cmp.AP_NOTE)
cmp.rank_agreement(cv).round(2)

# %% [markdown]
# ## Cost against accuracy
#
# Each point is one method: mAP against inference multiply-adds and against training throughput on this machine.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for ax, (col, label, scale) in zip(axes, [("macs", "multiply-adds per image (M)", 1e6),
                                          ("train_images_per_s", "training images/s", 1.0)], strict=False):
    t = table.dropna(subset=[col, "mAP"])
    for r in t.itertuples():
        ax.errorbar(getattr(r, col) / scale, r.mAP, yerr=0 if np.isnan(r.mAP_std) else r.mAP_std, fmt="o",
                    color=palette[r.method], capsize=3)
        ax.annotate(r.method, (getattr(r, col) / scale, r.mAP), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    ax.set_xlabel(label)
    ax.set_ylabel("mAP (%)")
    ax.grid(alpha=0.3)
    if t.empty:
        ax.text(0.5, 0.5, "no benchmark record yet", ha="center", transform=ax.transAxes)
fig.tight_layout()

# %% [markdown]
# ## Robustness curves
#
# Every method's trained checkpoints (all seeds) are evaluated on the same test people re-rendered at growing
# levels of one SynthReID knob. The identities and per-image random draws do not depend on the knob, so a curve
# isolates it. The models were trained at misalignment 0.3, occlusion 0 and domain A. `partreid robustness --knob
# <knob>` makes the records (`results/comparison-robustness/`; with `--out results/fine-tuned`, those of the
# fine-tuned regime's checkpoints, under `results/fine-tuned/comparison-robustness/`). One figure per regime.

# %% tags=["hide-input"]
rob = cmp.robustness_runs(RESULTS_DIR)
knobs = list(ROBUSTNESS_LEVELS)
for regime in REGIMES:
    r = cmp.robustness_runs(regime_root(RESULTS_DIR, regime))
    print(f"{regime}: {r.groupby(['method', 'seed', 'knob']).ngroups if not r.empty else 0} robustness records"
          + ("" if not r.empty else f"; make them with: partreid robustness --knob <knob> --out "
             f"{shown(regime_root(RESULTS_DIR, regime))}"))
    if not r.empty:   # a regime without records gets the line above, not a figure of empty axes
        cmp.fig_robustness(r, f"{regime}: mAP as each knob grows (mean ± std over seeds; dashed = baselines)")
        plt.show()

# %% [markdown]
# Methods differ in clean accuracy, so the fair comparison is **how much of its own mAP a method keeps**. The table
# gives the relative drop from the first to the last level: the lower it is, the more robust the method.

# %% tags=["hide-input"]
drops = pd.concat([cmp.robustness_drop(rob, k).assign(knob=k) for k in knobs], ignore_index=True) \
    if not rob.empty else pd.DataFrame(columns=["method", "knob", "relative drop %"])
if not drops.empty:
    display(drops.pivot(index="method", columns="knob", values="relative drop %").reindex(order).round(1))

# %% [markdown]
# ### The papers' robustness claims, tested against each other
#
# Each paper says its design makes part features robust to something. Misalignment is RMGL's receptive partition
# and MPN's and PLR-OSNet's motivation; occlusion is CGPN's; PAL claims robustness across domains. Here each claim
# becomes a test on the per-seed relative drops: the method should lose a smaller share of its mAP than the
# baseline it builds on. Welch's t-test at 5 %, equivalence margin 2 points of relative drop.

# %% tags=["hide-input"]
rclaims = cmp.robustness_claims(rob)
rclaims[["knob", "claim", "artefact", "statement", "expected", "observed", "seeds", "verdict"]]

# %% [markdown]
# ## Does a verdict survive scale?
#
# The chapters judge every claim at one budget. Here two claims are followed across both regimes and three scale
# cells: width 0.25 at the profile's iterations, width 0.25 at four times the iterations (every schedule point at
# the same fraction of training), and width 0.5. Each point is Δ = treatment − baseline with its 95 % confidence
# interval, paired by seed (3 seeds per cell, the chapters' paired t-test); the dashed line is the paper's own Δ. A
# verdict that holds in every cell is robust to scale; one whose sign or size moves with the cell is a statement
# about the budget. The commands below make the cells not yet run.

# %% tags=["hide-input"]
from partreid_core.reporting import scale  # noqa: E402

for key in scale.STUDIES:
    scale.fig_scale(RESULTS_DIR, key)
    plt.show()
    cells = scale.scale_table(RESULTS_DIR, key)
    display(scale.format_scale(cells))
    print("\n".join(c for c in cells.command if c))

# %% [markdown]
# ## Reproduction scorecard
#
# Computed from each chapter's artefact checklist (`ARTEFACTS` in `partreid_core/reporting/papers/<paper>.py`) and
# its claims table, the same one the chapter renders. An artefact the checklist marks as reproduced counts as
# "pending runs" while none of its claims has a record. "of which no records" counts the inconclusive claims whose
# runs have not been made yet: they are missing evidence, not negative evidence.

# %% tags=["hide-input"]
card = cmp.scorecard(RESULTS_DIR).set_index("paper")
card

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
card[list(STATUSES)].plot.barh(stacked=True, ax=axes[0],
                               color=["#2ca02c", "#bbbbbb", "#ffbf00", "#ff7f0e", "#d62728"])
axes[0].set_title("artefacts")
verdict = card[["confirmed", "not confirmed", "inconclusive"]].copy()
verdict["inconclusive (no records)"] = card["of which no records"]
verdict["inconclusive"] -= card["of which no records"]
verdict.plot.barh(stacked=True, ax=axes[1], color=["#2ca02c", "#d62728", "#ffbf00", "#dddddd"])
axes[1].set_title("claims")
for ax in axes:
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
fig.tight_layout()

# %% [markdown]
# ## Conclusions per method
#
# Generated from the tables above, so they change when the records do. "Rank" is among methods with at least
# three seeds. The robustness number is the share of its own mAP a method keeps at the last misalignment and
# occlusion levels.

# %% tags=["hide-input"]
ranked = table[table.seeds >= 3].sort_values("mAP", ascending=False).reset_index(drop=True)
keep = (100 - drops.pivot(index="method", columns="knob", values="relative drop %")) if not drops.empty else None
lines = []
for m in METHODS:
    r = table.set_index("method").loc[m.label]
    if r.seeds == 0:
        lines.append(f"* **{m.label}**: no runs on record yet (`{m.experiment}/{m.variant}`).")
        continue
    acc = f"mAP {r.mAP:.1f}" + ("" if np.isnan(r.mAP_std) else f" ± {r.mAP_std:.1f}") + f" over {r.seeds} seed(s)"
    pos = ranked.index[ranked.method == m.label]
    acc += f", rank {pos[0] + 1} of {len(ranked)}" if len(pos) else " (too few seeds to rank)"
    parts = [acc]
    if keep is not None and m.label in keep.index:
        k = keep.loc[m.label]
        parts.append("keeps " + ", ".join(f"{k[c]:.0f}% under {c}" for c in ("misalignment", "occlusion")
                                          if c in k and not np.isnan(k[c])))
    if not np.isnan(r.macs):
        parts.append(f"{r.macs / 1e6:.0f}M MACs, {r.train_images_per_s:.0f} training img/s")
    if m.paper:
        c = card.loc[m.paper]
        parts.append(f"paper claims: {c.confirmed} confirmed, {c['not confirmed']} not confirmed, "
                     f"{c.inconclusive} inconclusive")
    lines.append(f"* **{m.label}**: " + "; ".join(parts) + ".")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Reading these conclusions.** They hold at the cpu profile: networks trained from scratch at width 0.25 on
# 128×64 synthetic people for 600 to 900 iterations. Two caveats matter. First, a method whose design needs an
# ImageNet-initialised backbone, or a long schedule to converge (MGN's three branches, MPN's twelve summed
# classifiers), is at a disadvantage at this budget; that says as much about the budget as about the method.
# Second, methods whose recipes had to change to learn at all are marked in their chapters. The gpu profile on
# synth-m is the test of whether a ranking holds at the papers' scale.
