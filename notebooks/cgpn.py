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
# # CGPN: coarse-grained part features with supervised global features
#
# Mao, Cao, Li, Jia, Zheng, *Integrating Coarse Granularity Part-level Features with Supervised Global-level
# Features for Person Re-identification*, arXiv 2010.07675 (v1, 2020).
#
# **No public code exists for CGPN; `partreid_core.models.cgpn` is, as far as we know, its first open
# implementation.** CGPN is an MGN-style three-branch ResNet-50 (split after `res_conv4_1`). Each branch has
#
# * a **supervised global part**: two 1×1 convolutions over the branch map `T`, each followed by global max
#   pooling (GMP), pulled by an MSE loss towards the GMP of the **upper** and the **lower** half of `T`;
# * a **coarse-grained local part**: GMP over every window of adjacent stripes (N = 2, 3, 4 stripes per branch)
#   that covers at least half of the map but not all of it, 2 + 2 + 5 = 9 windows.
#
# The paper argues that both make the descriptor robust to occlusion and to missing body parts (the boxes of
# CUHK03 that cut a person off; §1, Fig. 1). This chapter tests that on SynthReID, whose `occlusion` and
# `truncation` (part-missing box) knobs and exact part masks let us measure both the accuracy and the mechanism.
#
# The paper contradicts itself on where the triplet loss goes (§3.2): paragraph 1 and the ablation text put it
# on the local features too, paragraph 2 on the global features only. The default here is the first reading
# (`CGPNConfig.local_triplet=True`, triplet on all 12 features); the other reading is run once (one seed).
#
# **Results at a glance.** The paper's headline claims, the paper's own Δ beside ours (paired by seed, with its
# 95 % CI), their ratio, how many seeds agree in sign and the verdict. The ablation claims C1–C4 are shown in
# {ref}`CGPN-T2 <cgpn-t2>`, C7 (CGPN against MGN) in {ref}`CGPN-T1 <cgpn-t1>`; every claim of the chapter is in
# the {ref}`claims table <cgpn-claims>`.

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
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, Markdown, display

from partreid_core.reporting import glance
from partreid_core.reporting.chapter import open_chapter
from partreid_core.reporting.papers import cgpn

torch.set_num_threads(2)


def show(fig):
    """Display a renderer's figure once (the inline backend would draw it again at the end of the cell)."""
    display(fig)
    plt.close(fig)


PROFILE = "cpu"        # the records this page renders (synth-s, from scratch)
ch = open_chapter("CGPN", profile=PROFILE)
display(HTML(glance.render(ch.glance(link_prefix=""))))

# %% [markdown]
# **The two regimes.** Each headline claim is judged in the scratch regime (from-scratch training, the `cpu`
# profile) and in the fine-tuned regime (a SynthReID-P trunk fine-tuned with the paper's recipe as written, on the
# harder SynthReID setting its calibration chose; see the SynthReID page). A verdict that holds in one regime only
# says the claim depends on how the network is trained, which the paper, fine-tuning ImageNet trunks, never
# varied.

# %% tags=["remove-input"]
Markdown(ch.regime_summary())

# %% [markdown]
# Every number on this page comes from the run records of the sweeps in `partreid_core/experiments/sweeps/cgpn/`.
# `p1_supervision` (CGPN vs CGPN-4) is the chapter's heart; the `p2_*` sweeps complete CGPN-T2, add MGN, the
# other triplet reading and the S-occluded training condition. The table lists what is still missing and the
# command that makes it; every table and figure below renders whatever subset of records exists.

# %% tags=["remove-input"]
display(cgpn.status_table(ch))

# %% [markdown]
# ## CGPN-F2: architecture, built from the model config
#
# The schematic is drawn from the `CGPNConfig` of a model instance, and the shape table comes from a dummy forward
# of the cpu-profile model (ResNet-50 topology at width 0.25, 128×64 input), not from the paper's Fig. 2 (§3.1).

# %% tags=["hide-input"]
display(cgpn.table_f2(ch))
show(cgpn.fig_f2(ch))

# %% [markdown]
# ## CGPN-F3 and CGPN-F4: coarse windows vs fine stripes
#
# Both drawings come from `partreid_core.models.cgpn.windows`, the function the model uses. With a 24-row map
# (the paper's 384×128 input) the coarse windows of branch 3 cover 3/4 and 1/2 of the map; the main text's "two
# 2/3" (§3.1) is a typo (the caption of Fig. 3 gives 3h/4, 3h/4, h/2, h/2, h/2). In CGPN-2 (Fig. 4) branch 1 is
# unchanged: with N = 2 a stripe is already half the map.

# %% tags=["hide-input"]
show(cgpn.fig_f3_f4(ch))

# %% [markdown]
# ## CGPN-F1: holistic, occluded and part-missing views (synthetic)
#
# The paper's Fig. 1 (§1) shows CUHK03 people that are occluded or cut off. Here: four SynthReID identities
# rendered under the S-occluded setting (occlusion 0.6, truncation 0.3); the tags come from the generator's
# metadata.

# %% tags=["hide-input"]
show(cgpn.fig_f1(ch))

# %% [markdown]
# (cgpn-t1)=
# ## CGPN-T1: comparison with the state of the art (reference) and our synthetic CGPN / MGN rows
#
# The paper's Table 1 (§4.3, p. 6; single query, no re-ranking, ImageNet-pretrained ResNet-50, 384×128,
# 240 epochs). Its MGN row is the published MGN result under MGN's own recipe, not a retraining. CGPN does not say
# which AP convention it uses; we compare in the non-interpolated `mAP` (see the evaluation-protocol chapter).

# %% tags=["hide-input"]
display(cgpn.table_t1(ch))
display(cgpn.table_t1_ours(ch))

# %% [markdown]
# MGN is retrained here with **CGPN's recipe** (`cgpn` recipe with `{model: mgn}`: one joint SGD update, flip
# only, margin 1.2, per-feature terms summed), so that only the architecture differs. PAL's `pal_mgn` recipe
# would add random erasing, a larger batch and the alternating CE/triplet update: a gap between it and CGPN would
# mix recipe and architecture, which is exactly the confound the paper's Table 1 has (87.1 vs 68.0 Rank-1 on
# CUHK03). The MGN variant is the original MGN (global branch stride 2, global CE on the 256-d reduction, no
# FC256), not PAL's. Claim C7 (CGPN beats MGN, the paper's +3.0 mAP on Market-1501, §4.3) is judged on these
# rows; its verdict is in the table at the top.

# %% [markdown]
# (cgpn-t2)=
# ## CGPN-T2: the ablation, paper vs ours
#
# Paper: Table 2 (§4.4–4.5), Rank-1 / mAP on Market-1501, DukeMTMC-reID and CUHK03-labeled. Ours: synth-s at its
# default knobs (occlusion 0.2, truncation 0.05; closest to the holistic data sets, so beside the paper's
# Market-1501 columns) and S-occluded (trained and tested at occlusion 0.6, truncation 0.3; beside CUHK03).
# Absolute numbers are not comparable (from scratch, synthetic, 600 iterations); the `ours − paper` columns only
# put them side by side. The deltas (CGPN-T2b) are what the claims test.

# %% tags=["hide-input"]
display(cgpn.table_t2(ch))
for condition in cgpn.CONDITIONS_TRAIN:
    display(cgpn.table_t2_ours(ch, condition))

# %% [markdown]
# ## CGPN-T2b: the deltas, from the paper's table and from our runs
#
# The text (§4.4–4.5) states the deltas of each ablation; the paper's columns are recomputed from the transcribed
# Table 2 (the tests check that they equal the text's numbers). Ours: the mean over seeds of the per-seed
# difference (the variants share their seeds), Rank-1 / mAP; the claims table below gives each one's 95 % CI.

# %% tags=["hide-input"]
display(cgpn.table_t2b(ch))

# %% [markdown]
# (cgpn-claims)=
# ## Claims
#
# One row per claim of the paper (§4.3–4.5, Tables 1–2) that the sweeps address, and per mechanism the paper
# offers for it (§3.1, §4.4), judged by the book's verdict rule (the evaluation-protocol chapter states it in
# full). The variants of a claim are trained with the same seeds, so each claim is a **paired** test on the
# per-seed differences (exactly paired for the CGPN-X3 comparisons within one checkpoint); Holm's correction runs
# over all the paper and mechanism claims of this chapter. A claim is *confirmed* when the Holm-adjusted p is below
# 0.05 in the paper's direction, *contradicted* when it is below 0.05 the other way, *no effect* when the 95 % CI
# lies inside the claim's margin (half the paper's |Δ|, or the metric's floor), and *inconclusive* otherwise; `MDE`
# is the smallest effect these seeds could have detected, `ours ÷ paper's Δ` the ratio of our effect to the
# paper's. Metrics: `mAP` at the run's own test set; `occ90_mAP` / `trunc90_mAP` from the CGPN-X1 hook
# (occlusion or truncation 0.9 on a clean base, no flip); `x2_peak_split` / `x2_cam_split` from the CGPN-X2 hook
# (upper-body share of the `conv_1` heads minus that of the `conv_2` heads, holistic images); `x3_*` from the
# CGPN-X3 hook.

# %% tags=["hide-input"]
display(cgpn.table_claims(ch))
display(Markdown(cgpn.claims_text(ch)))

# %% [markdown]
# ## CGPN-X1: accuracy as occlusion and part-missing boxes grow
#
# Each trained model is re-evaluated at the end of training (hook `cgpn_knobs`) on test sets rendered from a
# **clean** base (the run's knobs with occlusion 0 and truncation 0), raising one knob at a time to 0.45 and 0.9.
# The identities and per-image draws are the same at every level, so the curves isolate the knob. No flip-TTA here
# (to keep the hook under a minute per run), which is why level 0 differs from the headline mAP. The paper has no
# such sweep; it argues from CUHK03 (§4.4–4.5).

# %% tags=["hide-input"]
show(cgpn.fig_x1(ch))
display(cgpn.table_x1(ch))

# %% [markdown]
# ## CGPN-X2: do the supervised global heads look at the upper and lower body?
#
# Hook `cgpn_parts`, on query images of three conditions (holistic; occluded at occlusion 0.9; part-missing at
# truncation 0.9). For every channel of `conv_p(T_i)` we take the map cell where it peaks and read the cell's
# composition from the exact part mask: upper body = head, torso, arms; lower body = legs, feet. A head that
# ignored position would score the **area share** (dashed line). The MSE (§3.2, Eq. 3) should push `conv_1` heads
# to peak on the upper body and `conv_2` heads on the lower body in CGPN, and leave CGPN-4's heads unsplit.
# Branch 1's fixed upper / lower half stripes (position-bound by construction) are the reference. On part-missing
# boxes the half split of the image no longer matches the body's halves: does the head follow the body or the
# image position?
#
# The Grad-CAM companion (table and maps below) weights the channels of the branch map `T` by the gradient of each
# head's score and sums them over the **whole** map, so it shows where the channels a head relies on fire. For the
# two fixed stripes this is not position-bound (their channel weights come from one half, the activations from
# everywhere), which is why their maps look alike; for stripes, read the channel-peak chart. A head whose CAM is
# zero on every image (possible after ReLU) has no share ("—").

# %% tags=["hide-input"]
show(cgpn.fig_x2(ch))
display(cgpn.table_x2(ch))
show(cgpn.fig_x2_cams(ch))

# %% [markdown]
# ## CGPN-X3: is a coarse window more robust on its own?
#
# Claim C8 says the coarse features are more robust *in themselves* (the paper's explanation of C1, §4.4): a
# large window should lose less of its accuracy under occlusion than a thin stripe. Each 256-d feature of the test
# descriptor is used alone for retrieval, on the holistic test split (clean base) and on the S-occluded one
# (occlusion 0.6, truncation 0.3), without flip (hook `cgpn_single_window`, run on the trained checkpoints with
# `partreid analyze checkpoints/cgpn/cgpn-s*/last.pt checkpoints/cgpn/cgpn2_fine-s*/last.pt --hooks
# cgpn_single_window`; `config.json` lists it under `post_hoc_analysis`). CGPN's local windows are 1/2, 2/3 and
# 3/4 of the height; CGPN-2's fine stripes 1/2, 1/3, 1/4.

# %% tags=["hide-input"]
display(cgpn.table_x3(ch))
show(cgpn.fig_x3(ch))

# %% [markdown]
# ## CGPN-F5: top-4 retrieval lists of MGN and CGPN on occluded queries
#
# The paper's Fig. 5 (§4.6) shows CUHK03 queries where CGPN retrieves the right person. Ours: the seed-0 MGN and
# CGPN of this chapter (same recipe), the test split re-rendered at occlusion 0.9, and the three queries where CGPN
# gains most AP over MGN (the same case rule as PLR-F5 and PAL-F15; chosen by the gain, so they show where CGPN
# helps, not how often; the title counts all queries). The record comes from `partreid ranklist --checkpoint
# checkpoints/cgpn/mgn-s0/last.pt --against checkpoints/cgpn/cgpn-s0/last.pt --k 4 --test-knob occlusion=0.9
# --out results/ranklists/cgpn-vs-mgn-occlusion0.9-s0`.

# %% tags=["hide-input"]
show(cgpn.fig_f5(ch))

# %% [markdown]
# ## The other reading of the triplet placement (one seed)
#
# `cgpn_globaltriplet` puts the triplet loss on the 3 global features only (§3.2 paragraph 2, MGN's convention).
# It is run once, as a check of the reading; one seed supports no verdict, so it is shown next to the default's
# seeds only.

# %% tags=["hide-input"]
display(cgpn.table_triplet(ch))

# %% [markdown]
# ## CGPN-X5: training curves of the loss terms
#
# `L = L_softmax + L_triplet + L_mse` (§3.2, weights 1). The MSE is the per-pair `F.mse_loss` (mean over batch
# and channels) summed over the 6 pairs, CE and triplet are summed over their features. The curves show the scale
# each term actually has in training.

# %% tags=["hide-input"]
show(cgpn.fig_x5(ch))

# %% [markdown]
# ## CGPN-X4: not run
#
# The sweeps of `min_frac` (the coarse windows' minimum height), of the MSE weight and of `mse_detach_target`
# are not part of the chapter's sweeps; CGPN-4b (a plain GMP global part) neither.
#
# ## Deviations and resolved ambiguities
#
# Implementation choices where the paper (§3.1–3.2, Fig. 2–3, Eq. (1)–(3)) is silent or inconsistent (all in
# `partreid_core/models/cgpn.py`):
#
# * Last stride 1 in all three branches; global part = two `Conv2d(C, C, 1)` with bias, no BN/ReLU, each
#   followed by GMP; MSE targets = GMP of the upper / lower half of `T`, no stop-gradient.
# * MSE = `F.mse_loss` per pair summed over 6 pairs, not Eq. 3's channel sum that would be ×C larger;
#   12 CE and the triplets are summed over features; CE on the 256-d reductions; classifiers
#   without bias; nothing shared between the 12 heads.
# * Triplet on all 12 features (`local_triplet=True`); the global-only reading run once (above).
# * Branch-3 windows are 3/4 and 1/2 of the map, not "2/3"; the descriptor is all 12 features.
# * CGPN-4 keeps the two-conv global head and only drops the MSE; CGPN-1 keeps the MSE; CGPN-3
#   puts a triplet on each of its 9 local features.
# * MGN is retrained with the `cgpn` recipe, as the original MGN (global branch stride 2, CE on the 256-d
#   reductions), with CGPN's loss settings (margin 1.2, summed terms).
# * Evaluation: Euclidean distance on the flip-averaged descriptor, single query, same-ID-same-camera gallery
#   entries excluded; we report the non-interpolated mAP (the paper does not name its convention).
#
# Differences from the paper's setting (§4.2):
#
# * From scratch (no ImageNet weights), ResNet-50 topology at **width 0.25**, **128×64** input (a 8×4 branch map
#   instead of 24×8; stripe boundaries `round(j·h/N)`, exact for h = 8 with N = 2 and 4, rounded for N = 3).
# * SynthReID `synth-s` (200 training identities) instead of Market / Duke / CUHK03; S-occluded (occlusion 0.6,
#   truncation 0.3) stands in for CUHK03.
# * **600 iterations** (10 epochs × 60) of batch 32 (P×K = 8×4 instead of 8×8), the paper's lr 0.01 with ×0.1
#   after epochs 6 and 8, bf16 autocast. The paper decays at epochs 60 and 80 of 240, which scales to epochs 2 and 3.
#   From scratch that leaves most of the budget at lr ≤ 1e-3. A first recipe that used those points, 5× the lr and
#   4×8 batches learned little and unevenly (Rank-1 21 ± 13 over three seeds; its records are in the git history).
#   The recalibrated recipe reaches Rank-1 74 % by epoch 5 and 77 % at the end of a single diagnostic run
#   (`results/diagnostics/cgpn-from-scratch`). **That recalibration was chosen on test Rank-1** (synth-s has no
#   separate validation split in these runs), as for every from-scratch recipe of the book; the
#   evaluation-protocol chapter explains what this means for the numbers. It favours no variant over another:
#   all variants of the chapter share the recipe.
# * Several seeds per variant (the paper reports one run; the counts are in each table); the triplet-reading
#   check is one seed.
# * CGPN-X1 curves are evaluated without flip-TTA at levels 0, 0.45, 0.9 (to keep the hook near a minute).
