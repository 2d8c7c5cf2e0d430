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
# # MPN: multi-task learning with coarse priors
#
# C. Ding, K. Wang, P. Wang, D. Tao, *Multi-task Learning with Coarse Priors for Robust Part-aware Person
# Re-identification*, IEEE TPAMI 2020 (arXiv 2003.08069). Implementation: `partreid_core.models.mpn`
# (`MPNConfig`, `MPN_VARIANTS`), priors `partreid_core.models.mpn_priors`, hooks
# `partreid_core.analysis.chapter_hooks.mpn`; claims, reference tables and every table and figure of this page
# `partreid_core.reporting.papers.mpn`.
#
# **The idea.** For each of K = 6 body parts a *main task* MT_k sees the whole backbone map F and an *auxiliary
# task* AT_k sees the k-th horizontal strip of F cropped with a coarse body prior (foreground mask, upper and lower
# body boundary). Each task is conv1 (1×1) → global max pooling → [channel attention, CA] → conv2 (1×1) → ID
# classifier. The AT learns "which channels are part k" easily because its input holds only part k; two mechanisms
# pass that to the MT: **hard parameter sharing** (MT_k and AT_k share conv1, CA and conv2; only classifiers differ)
# and the **class-wise feature alignment** L_CF (cosine distance between per-identity batch means of the MT and the
# AT descriptors). At test the ATs and the prior are dropped: the MTs pool over the whole map on their selected
# channels, which should make the 6 × 512 = 3072-d descriptor robust to detection misalignment with no part
# detection. The paper's central claim (§1, §5.2) is that robustness; its Table 1 attributes the gain to the
# components.
#
# **Results at a glance.** The paper's headline claims, the paper's Δ beside ours (paired by seed, with its 95 %
# confidence interval), the ratio of the two and the verdict. The Table 1 claims (C2-…) are argued in
# {ref}`MPN-T1 reproduced <mpn-t1-ours>`, the robustness claim (C1-…) in {ref}`MPN-X1 <mpn-x1>`; every claim of
# the chapter, headline or not, is in {ref}`the claims table <mpn-claims>`.

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
import torch
from IPython.display import HTML, Markdown

from partreid_core.reporting import glance
from partreid_core.reporting.chapter import open_chapter
from partreid_core.reporting.papers import mpn

torch.set_num_threads(1)
PROFILE, DATASET = "cpu", "synth-s"   # the setting of every number below
ch = open_chapter("MPN", profile=PROFILE, dataset=DATASET)
HTML(glance.render(ch.glance()))

# %% [markdown]
# **The two regimes.** Each headline claim is judged in the scratch regime (from-scratch training, the `cpu`
# profile) and in the fine-tuned regime (a SynthReID-P trunk fine-tuned with the paper's recipe as written, on the
# harder SynthReID setting its calibration chose; see the SynthReID page). A verdict that holds in one regime only
# says the claim depends on how the network is trained, which the paper, fine-tuning ImageNet trunks, never
# varied.

# %% tags=["remove-input"]
Markdown(ch.regime_summary())

# %% [markdown]
# **What is still missing.** The runs the chapter plans and has no record of yet, with the command that makes each
# (the chapter reads whatever records exist; a variant with fewer seeds is judged on the seeds it has):

# %% tags=["remove-input"]
mpn.status_table(ch)

# %% [markdown]
# **What this chapter runs** (sweeps in `partreid_core/experiments/sweeps/mpn/`; three seeds per variant, five for
# the variants of a headline claim):
#
# | file | experiment | variants | question |
# |---|---|---|---|
# | `p1_t1.yaml` | `mpn-t1` | `baseline`, `mt_only`, `mpn` | Table 1 end points; misalignment curve, CAMs, channels |
# | `p2_t1.yaml` | `mpn-t1` | `naive_mtl`, `c1s_c2s`, `mpn_noca` (MPN°) | MT+AT, + hard sharing, + class-wise alignment |
# | `p2_align_weight.yaml` | `mpn-align-weight` | `lambda0p3`, `lambda3` | weight λ of L_CF (λ = 0, 1 from `mpn-t1`) |
# | `p2_prior_noise.yaml` | `mpn-prior-noise` | `noise0p5`, `noise1` | exact masks degraded on purpose (MPN-X2) |
#
# Every run also stores, at the end of training, MPN-X1 (the test split re-rendered at misalignment 0, 0.3, 0.6,
# 0.9), MPN-X3 (conv1 channel importance per part) and MPN-X4 (Grad-CAM of every part task scored against the
# ground-truth body strips). Not run: the C1-S, C2-S and CF-alone rows of Table 1, the prior variants (Table 2),
# the alignment variants (Table 3) and soft sharing (Fig. 9); they are single config switches (`MPN_VARIANTS`)
# that the `gpu` profile can run. MPN-F2, MPN-F8 and MPN-X5 need no training: they were computed on the trained
# checkpoints afterwards (`partreid analyze`; `post_hoc_analysis` in each run's `config.json`).
#
# **Setting of every number below.** The cpu profile trains from scratch (no ImageNet or IDE initialisation) a
# width-0.25 ResNet-50 (last stride 1) on SynthReID `synth-s` at 128×64, 15 epochs × 60 iterations of batch 32
# (8 identities × 4 images), SGD Nesterov at the paper's lr 0.01 with a one-epoch linear warm-up, step decay at
# epochs 10/13, flip only; evaluation with flipped-feature sum and cosine distance. **AP convention:** MPN's
# official code computes AP with the Market-1501 devkit's trapezoid rule (see {doc}`evaluation_protocol`), so
# accuracy is compared in `mAP_trapezoid`; Rank-1 is convention-free. How the records were made:

# %% tags=["hide-input"]
print(ch.provenance())

# %% [markdown]
# ## Paper tables
#
# The paper reports Rank-1 and mAP (%) on Market-1501, DukeMTMC-reID, CUHK03 (new protocol, detected and labeled)
# and MSMT17, ResNet-50 at 384×128 initialised from an IDE model, no re-ranking. "—" marks a value the paper does
# not report.
#
# ### MPN-T1: Table 1, ablation of each component (paper)
# MTL = MT and AT both present; C1-S / C2-S = conv1 / conv2 shared by each MT-AT pair; CF = class-wise feature
# alignment; CA = channel attention. MPN° = MPN without CA.

# %% tags=["hide-input"]
mpn.table_t1_paper(ch)

# %% [markdown]
# (mpn-t1-ours)=
# ### MPN-T1 reproduced: the paper (Market-1501) next to ours
# Ours is the mean ± std over seeds on SynthReID (n = seeds); "ours − paper" is the raw gap. That gap is not
# meaningful (synthetic data, from scratch, 128×64, narrow backbone); the *ordering* and the differences between
# rows are what the claims test. The paper's mAP is the trapezoid AP of the official code, compared with our
# `mAP_trapezoid`. The paper's Table 1 differences on Market-1501 are 0.2–1.6 mAP points between neighbouring
# rows (§5.2); whether our seeds resolve differences of that size is what the claims table's MDE column says.

# %% tags=["hide-input"]
mpn.table_t1(ch)

# %% tags=["hide-input"]
mpn.fig_t1(ch)

# %% [markdown]
# ### MPN-T2: Table 2, type of body-part prior (paper; not run here)
# All rows are MPN° (sharing + CF, no CA) with a different AT input. The variants `T2/uniform`, `T2/roi`,
# `T2/mask_roi` of `MPN_VARIANTS` are implemented and not run at the cpu profile.

# %% tags=["hide-input"]
mpn.table_t2(ch)

# %% [markdown]
# ### MPN-T3: Table 3, variants of feature-space alignment (paper; not run here)
# No parameter sharing, no CA. `T3/batch`, `T3/sample`, `T3/sample_dsa`, `T3/class` are implemented and not run.

# %% tags=["hide-input"]
mpn.table_t3(ch)

# %% [markdown]
# ### MPN-T4: Table 4, state of the art on Market-1501 (paper, reference only)
# HF = holistic-feature, SPF = single-scale part-feature, MSF = multi-scale-feature methods; single / multi-query
# evaluation. MPN\* is MPN with the RGA-SC spatial attention [57] in the backbone (§5.4.1). No real benchmark can
# be reached from this study, and a SynthReID number would not be comparable, so no row of ours is added to
# Tables 4–7.

# %% tags=["hide-input"]
mpn.table_t4(ch)

# %% [markdown]
# ### MPN-T5: Table 5, state of the art on DukeMTMC-reID (paper, reference only)

# %% tags=["hide-input"]
mpn.table_t5(ch)

# %% [markdown]
# ### MPN-T6: Table 6, state of the art on CUHK03 new protocol (paper, reference only)
# ‡ The SFT row has only two numbers in the paper's text, with no "–" placeholders; we place them under
# *detected*, but they may belong to *labeled*. Treat that row as uncertain.

# %% tags=["hide-input"]
mpn.table_t6(ch)

# %% [markdown]
# ### MPN-T7: Table 7, state of the art on MSMT17 (paper, reference only)

# %% tags=["hide-input"]
mpn.table_t7(ch)

# %% [markdown]
# ### MPN-T8: Table 8, model complexity
# The paper's table (Titan V timings, 384×128) is the reference. We reproduce the deterministic part, the parameter
# counts at full width (ResNet-50, classifiers excluded); per-image times depend on the hardware and are not
# reproduced on a shared CPU.

# %% tags=["hide-input"]
mpn.table_t8_paper(ch)

# %% tags=["hide-input"]
mpn.table_t8(ch)

# %% [markdown]
# Our MPN° count matches a hand count from the layer sizes of §3 (31,390,784; the paper's Table 8 says 31.5M);
# test-time MPN° has exactly the parameters of training minus the AT classifiers, so its train and test counts are
# equal, as in the paper. Our PCB is PAL's version (6 × 1×1 conv 2048→256 + BN plus stripe heads), so its count
# differs slightly from the paper's 26.8M.
#
# ## Figures
#
# ### MPN-F1: misalignment examples (synthetic)
# The same query images of `synth-s` rendered at misalignment 0, 0.3, 0.6 and 0.9 (detection-box shift, scale and
# aspect error; the person and the per-image draws are fixed, only the box moves). Blue boxes: head and feet part
# extents from the exact masks (detector error moves them); green: arms and legs (limb pose).

# %% tags=["hide-input"]
mpn.fig_f1(ch)

# %% [markdown]
# ### MPN-F2: per-channel responses of layer4
# The paper shows single layer4 channels that fire on the same body part across images (Fig. 2, §3.1), the
# observation behind "channel selection = part localisation". Hook `mpn_channel_maps` takes 64 well-aligned query
# images (misalignment 0), keeps the quarter of channels with the highest mean activation, and for each fifth of the
# body height picks the channel whose peak row (argmax of the width-mean profile, relative to the body's top and
# bottom) lands in that fifth with the smallest spread over images. Its spread is compared with the median spread
# of all channels; the 8-row map limits the height resolution to an eighth of the image. The quantitative
# companion, each channel's body-relative height and conv1's per-part channel importance, is MPN-X3 below.

# %% tags=["hide-input"]
mpn.fig_f2(ch)

# %% tags=["hide-input"]
mpn.table_f2(ch)

# %% [markdown]
#
# ### MPN-F3: training architecture (reference only)
# ResNet-50 → F; for every part k: MT_k = conv1 → GMP → CA → conv2 → FC^MT_k on F, AT_k = the same conv1, CA and
# conv2 (hard sharing) → FC^AT_k on the prior strip P_k; L_CF between h = [f^1…f^K] and g = [z^1…z^K]; the triplet
# loss on h; ID losses on all 2K classifiers. The module tree is `MPN.backbone`, `MPN.branches[k]`
# (conv1, pool, ca, conv2), `MPN.at_layers[k]` (unshared ablations only), `MPN.mt_classifiers`, `MPN.at_classifiers`.
#
# ### MPN-F4: parsing and segmentation tool outputs (not reproducible)
# The paper combines a human parser and a person segmenter on real images and shows their failures (Fig. 4, §3.2).
# SynthReID has exact part masks instead; tool failures are *simulated* by `mpn_priors.degrade_prior` (boundary
# jitter and a fallback to uniform division), which is the prior-noise knob of MPN-X2.
#
# ### MPN-F5: the prior pipeline and the AT inputs (synthetic)
# From the exact part masks (Fig. 5a, §3.2): foreground at feature resolution (area down-sampling, threshold 0.5,
# 1×2 dilation), the upper and lower body boundaries (red), and the K = 6 equal strips between them (white) that
# become the AT inputs P_1…P_6 after crop-and-resize (the map is 8 × 4 at 128×64, so the crop is resampled to 12
# rows: 2 per strip).

# %% tags=["hide-input"]
mpn.fig_f5(ch)

# %% [markdown]
# ### MPN-F6: the channel-attention module
# Shapes of one CA (Fig. 6, §3.3, reduction 4), input the max-pooled 512-d part feature; its output re-weights the
# channels. At the cpu profile the part dimension is still 512 (only the backbone is narrow).

# %% tags=["hide-input"]
mpn.table_f6(ch)

# %% [markdown]
# ### MPN-F7: Grad-CAM of the 6 part classifiers (synthetic)
# One query image (misalignment 0.3, the training level); rows: the models, lowest seed; columns: the part tasks 1
# (top) … 6 (bottom). The Baseline's task k is its AT classifier on uniform strip k; the others' are MT classifiers
# on the whole map. The paper (Fig. 7, §5.2.5) expects fixed image strips for the Baseline, near-identical maps for
# Naive MTL, and head-to-feet maps in order for MPN. Target class = the top-1 logit (test identities are unseen).

# %% tags=["hide-input"]
mpn.fig_f7(ch)

# %% [markdown]
# ### MPN-F8: MPN's MT classifiers on grouped nuisances
# The paper (Fig. 8, §5.2.5) shows MPN's part-task Grad-CAMs on images with detector errors, pose changes, clutter
# and occlusion and finds them still reasonable. Ours: hook `mpn_nuisance_cams` renders the query split with one
# nuisance turned up (misalignment 0.9, pose 1, clutter 1, occlusion 0.9), draws the first image of each group for
# MPN's lowest seed, and scores 16 images per group like MPN-X4: the CAM mass of part task k on the k-th body strip
# (hit rate, mean over the tasks; a CAM spread evenly over the body ROI scores about 1/6 less its share off the
# body) and the mean correlation between the six tasks' CAMs.

# %% tags=["hide-input"]
mpn.fig_f8(ch)

# %% tags=["hide-input"]
mpn.table_f8(ch)

# %% [markdown]
# ### MPN-F9: hard vs soft parameter sharing (paper; not run here)
# Soft sharing (`F9/soft_conv1`, `F9/soft_conv2` with weights 0.01–10) is implemented and not run at the cpu
# profile. The paper's Fig. 9 is a plot; its text (§5.3.2) gives only how far hard sharing of conv1 beats the best
# soft weight:

# %% tags=["hide-input"]
mpn.table_f9(ch)

# %% [markdown]
# ## Extensions (not in the paper)
#
# (mpn-x1)=
# ### MPN-X1: accuracy as misalignment grows (claim C1)
# Each trained model (trained at misalignment 0.3) evaluated on the *same* test people re-rendered at misalignment
# 0, 0.3, 0.6 and 0.9. The paper (§1, §5.2) expects the uniform-strip Baseline to drop sharply, MT Only less and
# MPN least. Two claims read this: the absolute mAP at the hardest level (0.9) and, beside it, the drop from 0 to
# 0.9 ("loses less"); the drop alone can flatter a model whose clean mAP is low.

# %% tags=["hide-input"]
mpn.fig_x1(ch)

# %% tags=["hide-input"]
mpn.table_x1(ch)

# %% [markdown]
# ### MPN-X2: robustness to noisy coarse priors (claims C6)
# MPN° trained with SynthReID's exact masks degraded on purpose (`MPNConfig.prior_noise`): the body boundaries
# jitter by up to noise/6 of the map height (±1 row of the 8-row map) and a fraction noise/2 of the images fall back
# to uniform division, as when the parser misses the head or the legs. Noise 0 is MPN° of `mpn-t1`; MT Only (no
# prior at all) is the floor. The paper's nearest comparison is Table 2 (uniform division vs its own prior).
#
# **Alignment weight λ** (our extension). The paper fixes λ = 1 and sweeps nothing; our hypothesis is a broad
# optimum around λ ≈ 1. MPN° with λ ∈ {0 (= +C1-S+C2-S), 0.3, 1 (= MPN°), 3}.

# %% tags=["hide-input"]
mpn.fig_x2(ch)

# %% tags=["hide-input"]
mpn.fig_lambda(ch)

# %% [markdown]
# ### MPN-X3: which channels does each part select? (claim C8)
# Importance of backbone channel c for part k = the L2 norm of column c of part k's conv1 weight. Each channel's
# body-relative height is where its activation mass sits on query images, relative to the ground-truth body (0 =
# top of the head, 1 = bottom of the feet). If conv1 selects part-relevant channels, the importance-weighted height
# grows with k for MPN and stays flat for MT Only (the paper's argument in §3.1).

# %% tags=["hide-input"]
mpn.fig_x3(ch)

# %% [markdown]
# ### MPN-X4: does each part task look at its own body part? (claim C7)
# Grad-CAM of each part task on 48 query images, scored against the K = 6 equal horizontal strips of the
# ground-truth body (between the first and the last foreground row of the exact mask): **hit rate** = fraction of
# task k's CAM mass on strip k (1/6 ≈ 0.17 if the maps ignore the parts); **CAM correlation** = mean Pearson
# correlation between the 6 maps of an image (1 = all tasks look at the same place); **height slope** = how far the
# CAM's body-relative height moves down per part (0 = no order; 1/6 ≈ 0.17 for perfect head-to-feet order).

# %% tags=["hide-input"]
mpn.table_x4(ch)

# %% tags=["hide-input"]
mpn.fig_x4(ch)

# %% [markdown]
# ### MPN-X5: test-time prior failures, MPN vs AT-at-test (claim C9)
# MPN tests with its MT features, which need no prior; that is the paper's argument for robustness to parsing
# failures at test time (§1, §3.2). The alternative is to test with the AT descriptor, which needs a prior on every
# test image (`MPN.at_embedding(images, masks, prior_noise=…)`). Hook `mpn_test_prior` evaluates both on the run's
# own test split, without flip, with the test priors degraded at noise 0 (exact masks), 0.5 and 1 (the MPN-X2
# degradation: jittered boundaries, and a share noise/2 of the images fall back to uniform strips). The two
# descriptors come from one checkpoint, so the claim is exactly paired.

# %% tags=["hide-input"]
mpn.table_x5(ch)

# %% [markdown]
# (mpn-claims)=
# ## Claims
# One rule for every chapter of the book ({doc}`evaluation_protocol`). Each claim compares one metric between two
# variants over seeds. Variants trained with the same seeds are **paired by seed** (the paired t-test on the
# per-seed differences); two test-time descriptors of one checkpoint, or a run against a fixed chance level, are
# **exactly paired**; Welch's t-test is used only where the two arms share no seeds. Holm's correction runs over
# the chapter's paper and mechanism claims together. A claim is **confirmed** when the Holm-adjusted p < 0.05 and
# Δ has the paper's sign, **contradicted** when it is significant the other way, **no effect** when the 95 % CI of
# Δ lies inside the claim's margin (a floor per metric family, or half the paper's |Δ| where that is larger), and
# **inconclusive** otherwise; the MDE column gives the smallest effect these seeds could have detected, and "ours ÷
# paper's" sets our Δ against the paper's where the paper gives a number. Accuracy is `mAP_trapezoid` (the paper's
# convention); `x1_mAP_0.9` is the trapezoid mAP at misalignment 0.9 and `x1_mAP_drop` the mAP at 0 minus at 0.9
# (lower = more robust).

# %% tags=["hide-input"]
mpn.table_claims(ch)

# %% tags=["hide-input"]
mpn.claims_reading(ch)

# %% [markdown]
# **Reading the verdicts.** An *inconclusive* accuracy claim whose MDE is several times the paper's Δ says that
# this setting cannot resolve the effect, not that the paper is wrong: the paper's Table 1 differences on
# Market-1501 are 0.2–1.6 points between neighbouring rows, and our models are trained from scratch for 900
# iterations, far from convergence, where auxiliary tasks and alignment losses act as regularisers very differently
# than on a pre-trained IDE backbone. Where our Δ has the opposite sign to the paper's, the ratio column says so
# whatever the verdict. The analysis claims (C7, C8, C9) test the mechanism, part tasks that select body-part
# channels and attend to their part, independently of accuracy.
#
# ## Deviations and resolved ambiguities
#
# **Setting (all numbers):** trained from scratch (the paper starts from a dataset-specific IDE ResNet-50 trained
# from ImageNet weights, §5.1), synthetic data (SynthReID `synth-s`: 200 training identities, trained at
# misalignment 0.3), 128×64 instead of 384×128 (the feature map is 8×4, not 24×8), a width-0.25 ResNet-50 (512
# backbone channels; the part branches keep 512 dims), 900 iterations of batch 32 = 8 identities × 4 images (the
# paper: 6 × 8, 70 epochs of ~1,350 iterations), the paper's lr 0.01 with a one-epoch linear warm-up (the paper has
# none) and ×0.1 at epochs 10 and 13, no random erasing, bf16 autocast on CPU; three seeds per variant, five for
# the variants of a headline claim. No offline ×5 translation of the training set (SynthReID's misalignment knob
# plays that role).
#
# **Why this recipe** (the recalibration section of {doc}`synthreid`): the first cpu recipe used 5× the paper's lr,
# the rule that works for the single-loss SGD recipes, with 4 × 8 batches and erasing. The twelve summed ID losses
# then climbed above ln 200 per classifier and the part features died: R1 0.6% (`results/calibration/mpn-s0`). At
# the paper's own lr with a warm-up, 8 identities per batch (4 show each classifier too few classes per step), no
# erasing and 15 epochs, the same model reaches R1 76% (`results/diagnostics/mpn-from-scratch`). Like the book's
# other scratch recipes, this recalibration was chosen on test Rank-1 (SynthReID had no validation split then), so
# the absolute test numbers are not free of that selection; {doc}`evaluation_protocol` explains it. The variants of
# a comparison share the recipe.
#
# **Choices where the paper is silent or garbled** (the ids are ours; the model docstrings say more):
# - A1: ID loss = plain softmax CE summed over the 2K classifiers, batch-averaged (logged as `id` and `id_at`).
# - A2: triplet = batch-hard on L2-normalised h with squared Euclidean distance and margin 0.4 (= cosine distance
#   with α = 0.2), averaged over the violating anchors.
# - A4: hard sharing shares the whole conv + BN + ReLU block, BN running statistics included.
# - A5: CA = 1×1 conv 512→128 + BN + ReLU + 1×1 conv 128→512 + BN + sigmoid, one per part, shared by MT_k and AT_k
#   (also in the unshared ablations, "CA shared").
# - A6/A7/A8/A10: the prior comes from SynthReID's exact part masks (no parser or segmenter); head and legs must each
#   cover ≥ 0.5 % of the pixels, else the image falls back to uniform division with an all-ones mask; area
#   down-sampling, threshold 0.5, 1×2 dilation.
# - A11: the ROI crop uses integer rows of the dilated mask and bilinear `grid_sample`; with 8 rows (not a multiple
#   of K = 6) the crop is resampled to 12 rows, 2 per strip.
# - A13: random erasing p = 0.5, area 0.02–0.4, aspect 0.3–3.3, mean fill, after normalisation (gpu recipe; off at
#   the cpu profile, see above); A15: Nesterov SGD, one lr for all parameters; A16: the last epoch is reported;
#   A17: flipped features are summed at test.
# - A22: Grad-CAM at `backbone.layer4[-1]`, target = the part task's top-1 class (test identities are unseen).
# - The Baseline (Table 1, "PCB-like") trains K ATs on uniform strips and tests on the same strips, with the triplet
#   loss on its concatenated AT features.
# - Prior noise (MPN-X2) is not a tool simulation: `degrade_prior` jitters the boundaries and forces uniform-division
#   fallbacks at a rate of noise/2.
# - MPN-X4's body strips are the K equal row bands between the first and last foreground row of the exact mask, at
#   full width (background pixels inside the band count for the strip).
