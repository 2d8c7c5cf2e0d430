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
# # SynthReID: the embedded benchmark
#
# No real ReID data set and no ImageNet weights can be reached from this study, so every chapter runs on
# **SynthReID**, a procedural pedestrian benchmark built into `partreid_core`. It follows the
# Market-1501 protocol and keeps the part-level ground truth exact: every image comes with an 8-class
# part mask (PAL's label set), 17 COCO keypoints with visibility, and the nuisance values actually applied.
# The difficulties the five papers attack are knobs:
#
# | knob | what it does | chapters that turn it |
# |---|---|---|
# | `misalignment` | detection-box shift, scale (cutting head/feet or zooming out) and aspect jitter | MPN (C1), PLR-OSNet ("detected" boxes), PAL |
# | `occlusion` | occluders in front of the person: other pedestrians, poles, cars, textured boxes | CGPN (S-occluded), PLR-OSNet |
# | `truncation` | part-missing boxes: only the top or bottom 50–80 % of the body, stretched to the box | CGPN (part-missing crops) |
# | `clutter` | background clutter in clothing colours | PAL (C5), MPN (C6) |
# | `pose` | walking-pose amplitude | all |
# | `domain` | `"A"` or `"B"`: other backgrounds, warmer and darker light, higher cameras | PAL (C10, T9) |
#
# An identity is a combination of attributes (skin tone, hair colour and style, hat, upper garment colour,
# pattern and sleeves, a small emblem on the front or back, lower garment colour and type, shoes, bag, height,
# build). Every attribute value is shared by many identities, so no single part identifies a person.
# Cameras differ in gain and colour cast, background, viewpoint prior (front, back, left, right), blur,
# noise and effective resolution.
#
# Everything below renders small subsets at 128×64 in a few seconds; nothing here generates `synth-m`.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from partreid_core.data import PART_CLASSES, build_dataset
from partreid_core.data.synth import GENERATOR_VERSION, PRESETS, VIEWPOINTS, build_synth

torch.set_num_threads(2)
SIZE = (128, 64)
PALETTE = np.array([(0, 0, 0), (230, 60, 60), (60, 180, 75), (255, 225, 25), (245, 130, 48), (0, 130, 200),
                    (145, 30, 180), (240, 240, 240)], dtype=np.uint8)   # fixed 8-colour part palette, background black
print("generator", GENERATOR_VERSION)


def show(images, titles=None, rows=1, scale=1.1, ax_title=None):
    """Grid of uint8 (N, 3, H, W) or (N, H, W, 3) images."""
    images = [np.asarray(im.permute(1, 2, 0) if torch.is_tensor(im) and im.shape[0] == 3 else im) for im in images]
    cols = int(np.ceil(len(images) / rows))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * scale, rows * 2 * scale), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, im in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(im)
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    if ax_title:
        fig.suptitle(ax_title, fontsize=9)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## Identities × cameras
#
# Six test identities of `synth-s` (rows), one gallery image per camera (columns). Within a row the
# person keeps their clothes; across cameras light, background, viewpoint, blur and resolution change.

# %%
ds = build_synth("synth-s", seed=0)
gal = ds.keys("gallery")
pids = sorted(set(gal[gal[:, 0] > 0, 0].tolist()))[:6]
picks, titles = [], []
for pid in pids:
    for cam in range(ds.preset.cameras):
        hit = np.nonzero((gal[:, 0] == pid) & (gal[:, 1] == cam))[0]
        picks.append(int(hit[0]) if len(hit) else None)
        titles.append(f"id {pid} c{cam + 1}")
idx = [p for p in picks if p is not None]
st = ds.render("gallery", idx, SIZE)
blank = np.full((*SIZE, 3), 255, np.uint8)
it = iter(st.images)
grid = [next(it) if p is not None else blank for p in picks]
show(grid, titles, rows=len(pids), ax_title="synth-s test identities × cameras (blank: not seen by that camera)")

# %% [markdown]
# ## Part masks and keypoints
#
# The mask holds the *visible* part labels (PAL-F3 (a)): occluders, bags and everything outside the box are
# background. Keypoints are drawn where visible (their own limb is the visible surface and the viewpoint
# shows them; e.g. no nose from the back).

# %%
SKELETON = [(5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (11, 12), (5, 11), (6, 12), (11, 13), (13, 15), (12, 14),
            (14, 16), (0, 1), (0, 2), (1, 3), (2, 4)]
st = ds.render("train", list(range(0, 160, 20)), SIZE)
fig, axes = plt.subplots(3, len(st), figsize=(len(st) * 1.1, 6.6))
for i in range(len(st)):
    img = st.images[i].permute(1, 2, 0).numpy()
    kp = st.keypoints[i].numpy()
    axes[0, i].imshow(img)
    axes[0, i].set_title(VIEWPOINTS[int(st.meta["viewpoint"][i])], fontsize=7)
    axes[1, i].imshow(PALETTE[st.masks[i].numpy()])
    axes[2, i].imshow((0.5 * img + 0.5 * PALETTE[st.masks[i].numpy()]).astype(np.uint8))
    for a, b in SKELETON:
        if kp[a, 2] > 0 and kp[b, 2] > 0:
            axes[2, i].plot(kp[[a, b], 0], kp[[a, b], 1], "-", color="cyan", lw=0.8)
    v = kp[:, 2] > 0
    axes[2, i].scatter(kp[v, 0], kp[v, 1], s=4, c="white", edgecolors="k", linewidths=0.3)
for ax in axes.flat:
    ax.axis("off")
handles = [plt.Rectangle((0, 0), 1, 1, color=PALETTE[k] / 255) for k in range(len(PART_CLASSES))]
fig.legend(handles, PART_CLASSES, loc="lower center", ncol=4, fontsize=7)
fig.tight_layout(rect=(0, 0.06, 1, 1))

# %% [markdown]
# ## The knobs, one at a time
#
# One training image with one knob raised from 0 to 1 and the others at 0. Per-image random draws do not
# depend on the knob values, so a larger value moves the *same* box further, grows the *same* occluder, and
# so on. `occlusion` and `truncation` are also probabilities (of an occluder, of a part-missing box), so a
# given image may stay clean until the knob passes its own random threshold.

# %%
base = dict(misalignment=0.0, occlusion=0.0, truncation=0.0, clutter=0.0, pose=0.0)
levels = (0.0, 0.25, 0.5, 0.75, 1.0)
# a side view (the walking pose shows best from the side); the viewpoint does not depend on the knobs
sample = [next(i for i, s in enumerate(ds.scenes("train", list(range(40)))) if s.meta["viewpoint"] >= 2)]
rows, labels = [], []
for knob in ("misalignment", "occlusion", "truncation", "clutter", "pose"):
    for lv in levels:
        st = build_synth("synth-s", **{**base, knob: lv}).render("train", sample, SIZE)
        rows.append(st.images[0])
        labels.append(f"{knob}={lv}")
for dom in ("A", "B"):
    st = build_synth("synth-s", domain=dom).render("train", sample, SIZE)
    rows.append(st.images[0])
    labels.append(f"domain={dom}")
show(rows, labels, rows=6, scale=1.2, ax_title="one image, one knob at a time")

# %% [markdown]
# A row per knob level over several images (occlusion; the truncation knob uses the same mechanism and
# tags every image with `meta["truncated"]`, 1 = legs cut, 2 = head cut):

# %%
for knob in ("misalignment", "occlusion", "truncation"):
    imgs, ttl = [], []
    for lv in (0.0, 0.5, 1.0):
        st = build_synth("synth-s", **{**base, "clutter": 0.5, "pose": 0.6, knob: lv}).render("train", list(range(0, 80, 10)), SIZE)
        imgs += list(st.images)
        ttl += [f"{knob}={lv}"] * len(st)
    show(imgs, ttl, rows=3, scale=0.9)

# %% [markdown]
# ### Simple image statistics against the knobs
#
# Foreground IoU with the unperturbed render falls as misalignment grows; the occluded fraction of the body
# rises and the visible foreground falls as occlusion grows (48 images at 64×32; these are the quantities
# `tests/test_synth.py` asserts to be monotone). Model-based calibration comes with the training engine.

# %%
idx = list(range(48))
rows = []
ref = build_synth("synth-s", misalignment=0.0, occlusion=0.0, truncation=0.0).render("train", idx, (64, 32))
for lv in levels:
    m = build_synth("synth-s", misalignment=lv, occlusion=0.0, truncation=0.0).render("train", idx, (64, 32))
    o = build_synth("synth-s", misalignment=0.0, occlusion=lv, truncation=0.0).render("train", idx, (64, 32))
    a, b = m.masks > 0, ref.masks > 0
    iou = ((a & b).flatten(1).sum(1) / (a | b).flatten(1).sum(1).clamp(min=1)).mean().item()
    rows.append({"level": lv, "fg IoU vs unperturbed (misalignment)": iou,
                 "occluded body fraction (occlusion)": o.meta["occluded_frac"].mean().item(),
                 "visible foreground fraction (occlusion)": o.meta["fg_frac"].mean().item()})
knob_stats = pd.DataFrame(rows).set_index("level")
fig, ax = plt.subplots(figsize=(5, 3))
knob_stats.plot(ax=ax, marker="o")
ax.set_xlabel("knob level")
ax.legend(fontsize=7)
knob_stats.round(3)

# %% [markdown]
# ## Dataset statistics (PAL-T1 analogue)
#
# Identities / images per split for the three presets, beside Market-1501 as PAL's Table I reports it.
# SynthReID has four splits: **train**, **val** (with a query and a gallery of its own), and the test **query**
# and **gallery**. The val split holds a quarter as many identities as the test split, disjoint from train and
# test (drawn from a stream of their own), seen by the same cameras under the test protocol (one query per
# identity and camera, the rest in the gallery), and a quarter as many distractors. Galleries include the pid-0
# distractors (counted as images, not identities). These tables come from the manifests; nothing is rendered.

# %%
SPLIT_COLUMNS = {"train": "train", "val_query": "val query", "val_gallery": "val gallery", "query": "query",
                 "gallery": "gallery"}
rows = []
for name in PRESETS:
    s = build_dataset(name, seed=0).statistics()
    rows.append({"dataset": name, **{f"{col} (ids / images)": f"{s.loc[sp, 'identities']} / {s.loc[sp, 'images']:,}"
                                     for sp, col in SPLIT_COLUMNS.items()},
                 "cameras": int(s["cameras"].max()),
                 "distractors (val / test)": f"{s.loc['val_gallery', 'distractors (pid 0)']} / "
                                             f"{s.loc['gallery', 'distractors (pid 0)']}"})
rows.append({"dataset": "Market1501 (PAL-T1, paper)", "train (ids / images)": "751 / 12,936",
             "val query (ids / images)": "–", "val gallery (ids / images)": "–",
             "query (ids / images)": "750 / 3,368", "gallery (ids / images)": "750 / 15,913", "cameras": 6,
             "distractors (val / test)": "– / 2798"})
pd.DataFrame(rows).set_index("dataset")

# %% [markdown]
# **Validation before test.** Every tuning decision of this study — recipe calibration, loss weights, knob
# levels — is made on val (`eval.split: val` in a run's config, `partreid eval --checkpoint ... --split val`
# for a trained model); test is for reporting only, and a record's `metrics.json` says which split it was
# evaluated on (records without the field were evaluated on test). The val split came later than the `cpu`
# profile's recalibrations described below: the learning rates, decay points, batch shapes, erasing and epochs
# chosen for OSNet, PLR-OSNet, MPN, RMGL, CGPN and MGN were chosen on test Rank-1, before the split existed, so
# the test numbers of those recipes are not free of that selection.

# %% [markdown]
# Viewpoint priors differ per camera (`synth-s` training images; from the scene parameters, no rendering):

# %%
tr = ds.keys("train")
scenes = ds.scenes("train")
views = pd.crosstab(pd.Series([f"c{c + 1}" for c in tr[:, 1]], name="camera"),
                    pd.Series([VIEWPOINTS[s.meta["viewpoint"]] for s in scenes], name="viewpoint"), normalize="index")
views.round(2)

# %% [markdown]
# ## Calibration
#
# Is the benchmark informative? Three quality bars, each answered by run records under `results/`:
#
# 1. *Not trivial, not impossible*: a GlobalPool baseline trained with the `cpu` profile on `synth-s` should
#    land between 40% and 85% Rank-1.
# 2. *Part information matters*: a PCB-style striped model should differ measurably from GlobalPool.
# 3. *The knobs bite*: raising misalignment and occlusion should lower a fixed model's Rank-1 monotonically
#    and substantially.
#
# The runs: every `cpu` recipe once on `synth-s` (GlobalPool and PCB with three seeds), made with
# `partreid sweep partreid_core/experiments/sweeps/calibration/*.yaml --workers 2`; the knob curves evaluate the
# seed-0 GlobalPool model at five levels of each knob (`partreid eval --checkpoint ... --knob misalignment
# --levels 0 0.25 0.5 0.75 1 --out results/calibration-knobs/misalignment`).

# %%

from IPython.display import display

from partreid_core.engine.records import load_history, load_records
from partreid_core.reporting import provenance
from partreid_core.reporting.claims import paired_test
from partreid_core.reporting.paths import results_root

RESULTS = results_root()
cal = load_records(RESULTS, "calibration")
if cal.empty:
    print("No calibration records yet: run `partreid sweep partreid_core/experiments/sweeps/calibration/*.yaml`")
else:
    cal["images/s"] = [load_history(p)["images_per_s"].mean() for p in cal["path"]]
    table = (cal.groupby("model")
             .agg(runs=("seed", "count"), rank1=("rank1", "mean"), rank1_sd=("rank1", "std"), mAP=("mAP", "mean"),
                  mINP=("mINP", "mean"), minutes=("wall_time_s", lambda t: t.mean() / 60),
                  images_per_s=("images/s", "mean"))
             .sort_values("rank1"))
    print(provenance(cal))
    display(table.round(2))

# %%
if not cal.empty:
    chance = 100 / 200  # Rank-1 of a random ranking with 200 test identities, roughly
    first_last = {}
    for model, path in zip(cal["model"], cal["path"], strict=True):
        h = load_history(path)
        if "loss/id" in h:
            first_last[model] = (h["loss/id"].iloc[0], h["loss/id"].iloc[-1])
    learns = table.assign(
        learns=lambda t: np.where(t["rank1"] > 10 * chance, "yes", "NO (near chance)"),
        id_loss_first_epoch=[first_last.get(m, (np.nan, np.nan))[0] for m in table.index],
        id_loss_last_epoch=[first_last.get(m, (np.nan, np.nan))[1] for m in table.index],
    )[["rank1", "learns", "id_loss_first_epoch", "id_loss_last_epoch"]]
    display(learns.round(2))

# %% [markdown]
# The table above is the first finding of the calibration, and it is not what a recipe file promises: some of the
# papers' recipes, scaled to the `cpu` budget and trained from scratch, **do not learn at all** — their ID loss
# (summed over a model's classifiers, so compare it with ln 200 ≈ 5.3 per classifier) stays where it started and the
# metric features collapse under the triplet loss. The GlobalPool and PCB recipes learn; MGN learns too little
# (R1 31%); OSNet, PLR-OSNet, MPN, RMGL, CGPN and MGN were recalibrated, as the next section shows. (The calibration records above keep the old
# recipes: they are the evidence for the change.)

# %% [markdown]
# ### Recalibrating OSNet, PLR-OSNet, MPN, RMGL, CGPN and MGN
#
# Single diagnostic runs (`results/diagnostics/`, cpu profile, synth-s, seed 0) located the causes:
#
# * **OSNet head collapse.** The `osnet` model's default losses are PLR-OSNet's: label-smoothed CE, soft-margin
#   triplet and center loss on the 512-d vector *after* the head's ReLU. From scratch, the triplet drives that vector
#   to exactly zero: the ID loss sits at ln 200 = 5.30, the soft triplet at ln 2 = 0.69 and the center term at
#   5e-4 · 512. With CE alone, the same network learns. So the baselines use the OSNet paper's own softmax-only
#   loss. For PAL's OSNet this is also torchreid's recipe, which PAL follows.
# * **Learning rate and budget for the OSNet family.** PLR-OSNet's Adam 3.5e-4 is a fine-tuning rate. From scratch it
#   leaves the ID loss at ln C for 10 epochs. The `cpu` recipes use 1.5e-3 (torchreid's OSNet rate), 15 epochs
#   and no random erasing. Erasing at 128×64 roughly halves what a from-scratch net learns in 10 epochs.
# * **Summed classifiers at 5× the rate.** The first `cpu` recipes trained every SGD model at 5× its paper's rate.
#   That rule works for single-loss models (GlobalPool, PCB's summed stripes at ×0.1 backbone rate). It fails where
#   many ID losses are summed. MPN's 6 + 6 losses climb above chance and its part features die (R1 0.6%). RMGL's 14
#   losses stay at chance for two epochs. At the papers' own rate of 0.01, both learn. MPN also gets a one-epoch
#   warm-up, 8 × 4 batches, no erasing and 15 epochs.
# * **Decay points scaled too far.** CGPN decays at epochs 60 and 80 of 240. Scaled to 10 epochs, that spends
#   most of a from-scratch run at lr ≤ 1e-3, and the model learned little and unevenly (R1 21 ± 13). With the
#   paper's 0.01, decay at epochs 6 and 8 and 8 × 4 batches, one run reaches R1 77%.
# * **Few identities per batch for many classifiers.** PAL's MGN averages 8 ID losses, with 4 identities × 8 images
#   per batch and random erasing. Its mean ID loss stays near ln 200 until the first decay (R1 31%). With 8 × 4
#   batches, no erasing and 15 epochs at the paper's rates, it learns (`paper_lr_8x4_noerase`, R1 79%). A 10× lower
#   rate with 8 × 4 batches and erasing kept learns even less (`paper_lr_8x4`, R1 15%): the rate was not the cause.
#   Batch shape and erasing were changed together; these runs do not separate them.
#
# These are deviations of the `cpu` profile only; the `gpu` recipes keep the papers' values. Each recipe file states
# its deviations in its header.

# %%
diag_experiments = sorted(f"diagnostics/{p.name}" for p in (RESULTS / "diagnostics").glob("*") if p.is_dir())
diag = load_records(RESULTS, diag_experiments) if diag_experiments else pd.DataFrame()
if diag.empty:
    print("No diagnostics records")
else:
    rows = []
    for r in diag.itertuples():
        h = load_history(r.path)
        rows.append({"diagnostic": f"{r.experiment.split('/')[-1]}/{r.run}", "model": r.model,
                     "epochs": r.epochs, "ID loss, last epoch": h["loss/id"].iloc[-1],
                     "triplet, last epoch": h["loss/triplet"].iloc[-1] if "loss/triplet" in h else np.nan,
                     "rank1": r.rank1, "mAP": r.mAP})
    print(provenance(diag))
    display(pd.DataFrame(rows).set_index("diagnostic").round(2))

# %% [markdown]
# `minutes` is the wall time of a whole run (data, 600 training iterations of 32 images, evaluation with
# re-ranking, analysis hooks) on one CPU thread; other runs and tools shared the two cores while these ran, so read
# it as an upper bound (the benchmark records of the engine-performance page were taken on an otherwise idle
# machine). `images/s` is the training throughput. Chance Rank-1 on `synth-s` is about 0.5% (200 test identities).

# %%
if not cal.empty:
    gp = cal.loc[cal.model == "globalpool", "rank1"]
    in_band = 40 <= gp.mean() <= 85
    print(f"1. GlobalPool Rank-1 = {gp.mean():.1f} ± {gp.std():.1f} over {len(gp)} seeds: "
          f"{'inside' if in_band else 'OUTSIDE'} the 40–85% band")
    by_seed = cal.pivot_table(index="seed", columns="model", values="rank1")[["pcb", "globalpool"]].dropna()
    t = paired_test(by_seed["pcb"], by_seed["globalpool"])  # same seed, same sampler and augmentation streams
    differs = t.p < 0.05
    print(f"2. PCB − GlobalPool Rank-1 = {t.difference:+.1f} (95% CI [{t.ci_low:+.1f}, {t.ci_high:+.1f}], "
          f"paired by seed over {t.n} seeds, p = {t.p:.3f}): "
          f"{'differs measurably' if differs else 'no measurable difference'}")

# %%
import matplotlib.pyplot as plt

curves = {k: RESULTS / "calibration-knobs" / k / "knobs.csv" for k in ("misalignment", "occlusion")}
if all(p.exists() for p in curves.values()):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, (knob, path) in zip(axes, curves.items(), strict=True):
        df = pd.read_csv(path)
        ax.plot(df["level"], df["rank1"], "o-", label="Rank-1")
        ax.plot(df["level"], df["mAP"], "s--", label="mAP")
        ax.set_xlabel(f"{knob} knob")
        ax.set_title(knob)
        drops = np.diff(df["rank1"].to_numpy())
        print(f"3. {knob}: Rank-1 {df['rank1'].iloc[0]:.1f} -> {df['rank1'].iloc[-1]:.1f}; "
              f"{'monotone' if (drops <= 0).all() else 'NOT monotone'} decrease")
    axes[0].set_ylabel("%")
    axes[0].legend()
    fig.suptitle("A fixed GlobalPool model (cpu profile, seed 0) as the test set gets harder", fontsize=10)
    fig.tight_layout()
else:
    print("No knob records yet: run `partreid eval --checkpoint checkpoints/calibration/pal_globalpool-s0/last.pt "
          "--knob misalignment --levels 0 0.25 0.5 0.75 1 --out results/calibration-knobs/misalignment` (and occlusion)")

# %% [markdown]
# ## The fine-tuned regime: pretraining and calibration on val
#
# The papers fine-tune ImageNet trunks; the study's stand-in is a trunk pretrained on **SynthReID-P**, a
# disjoint set of synthetic pedestrians with their own style (`partreid pretrain`), fine-tuned with each paper's
# recipe as written (the `cpu-ft` profile). The trunks on record:

# %% tags=["hide-input"]
from partreid_core.reporting.calibration import calibration_table, pretraining_table

pretraining_table(RESULTS)

# %% [markdown]
# Its SynthReID setting was chosen on the **validation split** alone (identities disjoint from train and test,
# its own query and gallery), by a rule written into `sweeps/calibration/cpu_ft_val.yaml` before the first of
# these runs: GlobalPool's mean val Rank-1 over seeds 0–2 must lie in [40, 90]; above 90, one harder setting of
# the knobs for every method, the first rung of a fixed ladder that brings GlobalPool to 90 or below
# (`cpu_ft_val_harder.yaml`). PCB is shown for the baselines' order and never entered the choice.

# %% tags=["hide-input"]
calibration_table(RESULTS).drop(columns="rank1")

# %% [markdown]
# At SynthReID's default knobs the fine-tuned GlobalPool saturates (98.3 val Rank-1 on each seed, 169 of 172
# queries), so the fine-tuned regime runs on the first rung, *harder-1* (misalignment 0.6, occlusion 0.5,
# truncation 0.15, clutter 0.8, against the defaults 0.3, 0.2, 0.05, 0.5). Two consequences for reading the
# chapters:
#
# - The two regimes differ in their data as well as their trunks, so absolute accuracies are not comparable
#   across regimes; each claim is judged within a regime, paired by seed, and only verdicts are compared.
# - At the defaults PCB and GlobalPool tie on val (both 98.3 on seed 0): saturation hides their order. At
#   harder-1 GlobalPool is above PCB on val (the table's two harder-1 rows), the order the literature reports on
#   Market-1501 for GlobalPool with BoT's tricks against PCB. In the scratch regime the order is the reverse (PCB
#   far above GlobalPool, the calibration table above): there the benchmark favours stripe models, fine-tuned it
#   does not.
