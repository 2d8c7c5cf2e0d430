"""PAL chapter: artefacts, claims and their verdicts from run records.

The chapter's sweeps (``partreid_core/experiments/sweeps/pal``) write the experiments in
:data:`EXPERIMENTS`. Besides each run's ``metrics.json``, the verdicts use scalars derived from the
analysis hooks' arrays (``analysis.npz``, see :mod:`partreid_core.analysis.chapter_hooks.pal`);
:func:`run_table` puts both in one tidy table, one row per run.

PAL evaluates with the EANet code, whose AP is the trapezoid (interpolated) form of Zheng's
Market-1501 evaluation, so the mAP claims compare ``mAP_trapezoid`` (see the evaluation-protocol chapter).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ....analysis import similarity_summary
from ....engine.records import load_analysis, load_records
from ....experiments.segmenter import EXPERIMENT
from ... import claims as claims_mod
from ...claims import Claim

PAPER = "PAL"
EXPERIMENTS = ["pal-globalpool", "pal-pcb", "pal-mgn"]
#: the chapter's sweep files, in priority order (p1 first)
SWEEP_FILES = ["p1_globalpool.yaml", "p1_pcb.yaml", "p2_pcb.yaml", "p2_mgn.yaml", "p3_pcb.yaml", "p3_globalpool.yaml",
               "p4_pcb_lambda.yaml", "p4_globalpool_segmenter.yaml", "p4_backbones.yaml",
               "p5_mgn_lambda.yaml"]
#: the paper's AP convention (EANet / Market-1501 evaluation code): the trapezoid rule
MAP = "mAP_trapezoid"

ARTEFACTS: dict[str, str] = {
    "PAL-T1": "reproduced",        # SynthReID statistics beside the paper's
    "PAL-T2": "reproduced",        # MGN vs MGN+PS on synth-s (p2_mgn) beside the Market rows
    "PAL-T3": "reproduced",        # test-time analogue: the p2 MGN pair on the hardest robustness splits
    "PAL-T4": "reference only",    # the paper's Duke table; no third synthetic setting
    "PAL-T5": "pending gpu",       # the pair on the largest setting (synth-m) needs the GPU profile
    "PAL-T6": "reproduced",        # PCB: none / fg / 2 / 4 / 7 parts (p1, p3); the MGN rows pending
    "PAL-T7": "reproduced",        # PCB: none / (a) / (b) / (c) / (d) (p1-p3); the MGN rows pending
    "PAL-T8": "reproduced",        # analogue C9 on GP+PS: exact, degraded (p3) and segmenter-predicted labels (p4)
    "PAL-T9": "reproduced",        # train on domain A, test on domain B (pal_cross_domain hook)
    "PAL-F1": "reproduced",        # schematic
    "PAL-F2": "reproduced",        # module table with output shapes for a-d
    "PAL-F3": "reproduced",        # synthetic images with GT masks, training-resolution labels
    "PAL-F4": "reproduced",        # GP+PS module table, 512-d test feature
    "PAL-F5": "reproduced",        # PCB+PS module table, 1536-d test feature
    "PAL-F6": "reproduced",        # GP, PCB (p1) and MGN (p2) with and without PS
    "PAL-F7": "reproduced",        # GlobalPool +- PS on ResNet-50 (p1), MobileNetV2, DenseNet-121, OSNet (p4)
    "PAL-F8": "reproduced",        # MGN+PS module table, 2048-d test feature, shared head
    "PAL-F9": "reproduced",        # part_similarity hook on PCB / PCB+PS
    "PAL-F10": "reproduced",       # pal_grad_cam hook on MGN / MGN+PS (p2_mgn)
    "PAL-F11": "reproduced",       # the four granularities of one synthetic mask
    "PAL-F12": "reproduced",       # PCB+PS at every lambda (p1, p2, p4); MGN+PS at 10 (3 seeds), the rest 1 seed (p5)
    "PAL-F13": "reproduced",       # pal_single_part hook (PCB stripes, MGN's 8 features)
    "PAL-F14": "reproduced",       # pal_segmentation hook
    "PAL-F15": "reproduced",       # partreid ranklist on the seed-0 pcb / pcb_ps checkpoints
}

# --------------------------------------------------------------------------------------------------
# The paper's claims that the chapter's sweeps address (treatment/baseline = sweep variant names)
# --------------------------------------------------------------------------------------------------
#: pseudo-variant whose ``seg_pixel_accuracy`` / ``seg_miou`` are those of always predicting the majority class
#: (C11's chance levels)
CHANCE = "pcb_ps (majority-class chance)"

#: where several datasets give a number, the paper's Δ is Market-1501's (the setting closest to SynthReID's
#: single-domain train / test); Fig. 7, Tables VI-VII and Fig. 12 exist on MSMT17 only, Table VIII on CUHK03 only.
_F6 = "Fig. 6, §IV-C{} text (Market-1501; the paper also gives CUHK03, Duke, MSMT17)"
_F7 = "Fig. 7, §IV-C1 text (MSMT17, the only dataset of Fig. 7)"
_T6 = "Table VI, §IV-F (MSMT17)"
_T7 = "Table VII, §IV-G (MSMT17)"

CLAIMS: list[Claim] = [
    # PAL-F6: the headline of the abstract, PS helps every model (mAP in the paper's trapezoid AP)
    Claim("C1-gp-R1", "PAL-F6", "PS raises GlobalPool's Rank-1 (paper: +0.4 to +5.8)", "rank1",
          "globalpool_ps", "globalpool", paper_effect=1.0, paper_source=_F6.format(1)),
    Claim("C1-gp-mAP", "PAL-F6", "PS raises GlobalPool's mAP (paper: +0.9 to +4.5)", MAP, "globalpool_ps", "globalpool",
          headline=True, paper_effect=1.7, paper_source=_F6.format(1)),
    Claim("C1-pcb-R1", "PAL-F6", "PS raises PCB's Rank-1 (paper: +0.7 to +2.9)", "rank1", "pcb_ps", "pcb",
          paper_effect=0.7, paper_source=_F6.format(2)),
    Claim("C1-pcb-mAP", "PAL-F6", "PS raises PCB's mAP (paper: +1.3 to +3.7)", MAP, "pcb_ps", "pcb",
          headline=True, paper_effect=1.5, paper_source=_F6.format(2)),
    Claim("C1-mgn-R1", "PAL-F6", "PS raises MGN's Rank-1 (paper: +0.7 to +3.9)", "rank1", "mgn_ps", "mgn",
          paper_effect=0.7, paper_source=_F6.format(3) + "; 95.1 -> 95.8"),
    Claim("C1-mgn-mAP", "PAL-F6", "PS raises MGN's mAP (paper: +1.6 to +6.2)", MAP, "mgn_ps", "mgn",
          headline=True, paper_effect=1.9, paper_source=_F6.format(3) + "; 86.8 -> 88.7"),
    # PAL-F7: the gain does not depend on the backbone
    Claim("C2-mobilenet", "PAL-F7", "PS helps GlobalPool on MobileNetV2 (paper: +1.4 R1, +1.7 mAP)", MAP,
          "globalpool_ps_mobilenet_v2", "globalpool_mobilenet_v2", paper_effect=1.7, paper_source=_F7),
    Claim("C2-densenet", "PAL-F7", "PS helps GlobalPool on DenseNet-121 (paper: +2.4 R1, +3.2 mAP)", MAP,
          "globalpool_ps_densenet121", "globalpool_densenet121", paper_effect=3.2, paper_source=_F7),
    Claim("C2-osnet", "PAL-F7", "PS helps GlobalPool on OSNet (paper: +2.5 R1, +3.7 mAP)", MAP,
          "globalpool_ps_osnet", "globalpool_osnet", paper_effect=3.7, paper_source=_F7),
    # PAL-F9 / F10: the paper's explanation (less redundant part features, attention on more parts)
    Claim("C3-pcb", "PAL-F9", "PS lowers the mean off-diagonal cosine similarity of PCB's stripe features "
          "(paper: 0.862 -> 0.819)", "mean_off_diagonal", "pcb_ps", "pcb", direction=-1, kind="mechanism",
          headline=True, paper_effect=-0.043,
          paper_source="Fig. 9, §IV-E (MSMT17; mean of the off-diagonal entries of matrices (a) and (b))"),
    Claim("C4-coverage", "PAL-F10", "PS spreads MGN's Grad-CAM over more body parts (coverage, parts with "
          "mean CAM > 0.5)", "cam_coverage", "mgn_ps", "mgn", kind="mechanism"),
    Claim("C4-entropy", "PAL-F10", "PS raises the entropy of MGN's CAM mass over body parts", "cam_entropy",
          "mgn_ps", "mgn", kind="mechanism"),
    Claim("C4-body", "PAL-F10", "PS puts more of MGN's CAM mass on the body (less on background)",
          "cam_body_mass", "mgn_ps", "mgn", kind="mechanism"),
    # PAL-T6: label granularity
    Claim("C5-fg", "PAL-T6", "Foreground-only labels already help PCB (paper: +1.7 R1)", "rank1", "pcb_ps_fg", "pcb",
          paper_effect=1.7, paper_source=_T6),
    Claim("C5-7vsfg", "PAL-T6", "Seven-part labels beat foreground-only labels for PCB (paper: +1.2 R1)", "rank1",
          "pcb_ps", "pcb_ps_fg", paper_effect=1.2, paper_source=_T6),
    Claim("C5-2", "PAL-T6", "Two-part labels help PCB (paper: +1.6 R1)", "rank1", "pcb_ps_g2", "pcb",
          paper_effect=1.6, paper_source=_T6),
    Claim("C5-4", "PAL-T6", "Four-part labels help PCB (paper: +2.1 R1)", "rank1", "pcb_ps_g4", "pcb",
          paper_effect=2.1, paper_source=_T6),
    # PAL-T7: head structure
    Claim("C6-a", "PAL-T7", "Head type (a), a bare 1x1 classifier, helps PCB (paper: +3.4 R1)", "rank1",
          "pcb_ps_head_a", "pcb", paper_effect=3.4, paper_source=_T7),
    Claim("C6-a-vs-c", "PAL-T7", "Type (a) is not worse than type (c) for PCB (paper: 77.4 vs 76.9 R1)", "rank1",
          "pcb_ps_head_a", "pcb_ps", paper_effect=0.5, paper_source=_T7),
    Claim("C6-b", "PAL-T7", "Head type (b), conv3x3 + classifier, helps PCB (paper: +3.0 R1)", "rank1",
          "pcb_ps_head_b", "pcb", paper_effect=3.0, paper_source=_T7),
    Claim("C6-d", "PAL-T7", "Head type (d), two deconvs + classifier, helps PCB (paper: +2.7 R1)", "rank1",
          "pcb_ps_head_d", "pcb", paper_effect=2.7, paper_source=_T7),
    # PAL-F12: loss weight (the figure's points other than lambda 0, 1 and 10 are not given in numbers)
    Claim("C7-lambda0.1", "PAL-F12", "A small PS weight (lambda 0.1) still helps PCB", "rank1",
          "pcb_ps_lambda0.1", "pcb"),
    Claim("C7-lambda10", "PAL-F12", "PCB keeps its gain at lambda 10 (paper: +3.9 R1, +4.9 mAP)", "rank1",
          "pcb_ps_lambda10", "pcb", paper_effect=3.9, paper_source="Fig. 12(a), §IV-H text (MSMT17)"),
    Claim("C7-lambda0.5", "PAL-F12", "PCB gains at lambda 0.5, inside the paper's broad middle range (0.5-5)",
          "rank1", "pcb_ps_lambda0.5", "pcb"),
    Claim("C7-lambda2", "PAL-F12", "PCB gains at lambda 2 (middle range)", "rank1", "pcb_ps_lambda2", "pcb"),
    Claim("C7-lambda5", "PAL-F12", "PCB gains at lambda 5 (middle range; the paper's PCB peaks here)", "rank1",
          "pcb_ps_lambda5", "pcb"),
    Claim("C7-mgn-lambda10", "PAL-F12", "MGN+PS loses its gain at lambda 10 (paper MSMT17: 80.3 vs 84.0 R1 at "
          "lambda 1, back to plain MGN's 80.1)", "rank1", "mgn_ps_lambda10", "mgn_ps", direction=-1,
          paper_effect=-3.7, paper_source="Fig. 12(b), §IV-H text and Fig. 6 (MSMT17: 80.3 at lambda 10, 84.0 at 1)"),
    # PAL-F13: single-stripe retrieval (the figure's bars are not given in numbers)
    Claim("C8-pcb", "PAL-F13", "PS improves single-stripe retrieval of PCB (mean Rank-1 over the 6 stripes)",
          "part_rank1_mean", "pcb_ps", "pcb"),
    # PAL-T8 analogue: label quality. The paper's Table VIII (MGN+PS, CUHK03) says the label source barely
    # matters ("comparable ReID outcome", §IV-J): those comparisons are equivalence claims.
    Claim("C9-noise0.5", "PAL-T8", "PS still helps GlobalPool with moderately degraded labels (noise 0.5)", MAP,
          "globalpool_ps_noise0.5", "globalpool"),
    Claim("C9-noise1", "PAL-T8", "PS still helps GlobalPool with strongly degraded labels (noise 1)", MAP,
          "globalpool_ps_noise1", "globalpool"),
    Claim("C9-exact", "PAL-T8", "Exact and strongly degraded labels give about the same mAP (the paper: "
          "differences between label sources are small)", MAP, "globalpool_ps", "globalpool_ps_noise1",
          hypothesis="equivalence"),
    Claim("C9-predicted", "PAL-T8", "PS still helps GlobalPool with labels predicted by a segmenter trained on "
          "the other domain (paper: unadapted COCO labels help MGN, +3.0 mAP on CUHK03)", MAP,
          "globalpool_ps_segB", "globalpool", paper_effect=3.0,
          paper_source="Table VIII 'No Adaptation' vs Table III MGN, §IV-J (CUHK03, MGN+PS: 73.5 vs 70.5)"),
    Claim("C9-predicted-style", "PAL-T8", "... and with the labels of a segmenter trained with style jitter "
          "(the SPGAN stand-in)", MAP, "globalpool_ps_segB_style", "globalpool", paper_effect=3.9,
          paper_source="Table VIII 'SPGAN' vs Table III MGN, §IV-J (CUHK03, MGN+PS: 74.4 vs 70.5)"),
    Claim("C9-style", "PAL-T8", "Style jitter of the segmenter changes little (paper: SPGAN +0.9 mAP over no "
          "adaptation, the methods 'comparable')", MAP, "globalpool_ps_segB_style", "globalpool_ps_segB",
          hypothesis="equivalence", paper_effect=0.9, paper_source="Table VIII, §IV-J (CUHK03, MGN+PS: 74.4 vs 73.5)"),
    Claim("C9-exact-vs-predicted", "PAL-T8", "Exact and predicted labels give about the same mAP (paper: "
          "differences between label sources are small)", MAP, "globalpool_ps", "globalpool_ps_segB",
          hypothesis="equivalence"),
    # PAL-T9: cross-domain (the paper's MSMT17 -> Market1501 column)
    Claim("C10-pcb", "PAL-T9", "PS improves PCB's domain A -> B Rank-1 (paper MSMT17->Market: +3.5)", "xd_rank1",
          "pcb_ps", "pcb", paper_effect=3.5, paper_source="Table IX, §IV-K (MSMT17 -> Market1501: 58.7 -> 62.2)"),
    Claim("C10-gp", "PAL-T9", "PS improves GlobalPool's domain A -> B Rank-1", "xd_rank1", "globalpool_ps",
          "globalpool"),
    Claim("C10-mgn", "PAL-T9", "PS improves MGN's domain A -> B Rank-1 (paper MSMT17->Market: +6.7)", "xd_rank1",
          "mgn_ps", "mgn", headline=True, paper_effect=6.7,
          paper_source="Table IX, §IV-K (MSMT17 -> Market1501: 60.7 -> 67.4)"),
    # PAL-F14: benchmark checks of the PS head against a constant prediction of the same runs (a
    # pseudo-variant of the pcb_ps checkpoints, hence exactly paired)
    Claim("C11-pcb", "PAL-F14", "PCB+PS's PS head segments the 8 classes well above chance (mIoU vs always "
          "predicting the most frequent class)", "seg_miou", "pcb_ps", CHANCE, kind="sanity", design="exact-paired"),
    Claim("C11-pcb-acc", "PAL-F14", "... and its pixel accuracy beats the majority-class accuracy (a harder bar "
          "for a class-balanced loss, which trades background pixels for part recall)", "seg_pixel_accuracy",
          "pcb_ps", CHANCE, kind="sanity", design="exact-paired"),
]
#: the paper's headline claims (abstract and Fig. 6; the F9 mechanism; Table IX), run with 5 seeds
HEADLINE = [c.id for c in CLAIMS if c.headline]

#: derived columns of :func:`run_table` (besides metrics.json's)
DERIVED_COLUMNS = ["mean_off_diagonal", "mean_adjacent", "mean_non_adjacent", "cam_coverage", "cam_entropy",
                   "cam_body_mass", "xd_rank1", "xd_mAP", "xd_mAP_trapezoid", "part_rank1_mean", "part_mAP_mean",
                   "seg_pixel_accuracy", "seg_miou", "seg_chance_accuracy", "seg_chance_miou"]


#: the columns of an empty :func:`run_table` (what the notebook reads even when nothing has run)
EMPTY_COLUMNS = ["experiment", "run", "path", "model", "dataset", "profile", "recipe", "seed", "variant", "device",
                 "git_commit", "date", "wall_time_s", "epochs", "rank1", "rank5", "rank10", "mAP", MAP,
                 *DERIVED_COLUMNS]


def derived_metrics(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-run scalars from the PAL hooks' arrays (missing hooks give no keys).

    * ``part_similarity/matrix`` -> mean off-diagonal / adjacent / non-adjacent similarity (PAL-F9);
    * ``pal_grad_cam/*`` -> probe means of coverage, entropy and body mass (PAL-F10);
    * ``pal_cross_domain/*`` -> ``xd_rank1``, ``xd_mAP``, ``xd_mAP_trapezoid`` (PAL-T9);
    * ``pal_single_part/*`` -> mean over the single blocks of Rank-1 and trapezoid mAP (PAL-F13);
    * ``pal_segmentation/*`` -> pixel accuracy and mIoU in %, and the majority-class pixel frequency
      (the accuracy of a constant prediction) from the confusion matrix (PAL-F14).
    """
    import torch


    out: dict[str, float] = {}
    if "part_similarity/matrix" in arrays:
        s = similarity_summary(torch.as_tensor(arrays["part_similarity/matrix"]))
        out.update({k: s[k] for k in ("mean_off_diagonal", "mean_adjacent", "mean_non_adjacent")})
    for k in ("coverage", "entropy", "body_mass"):
        if f"pal_grad_cam/{k}" in arrays:
            out[f"cam_{k}"] = float(np.mean(arrays[f"pal_grad_cam/{k}"]))
    for k in ("rank1", "mAP", "mAP_trapezoid"):
        if f"pal_cross_domain/{k}" in arrays:
            out[f"xd_{k}"] = float(arrays[f"pal_cross_domain/{k}"])
    if "pal_single_part/rank1" in arrays:
        out["part_rank1_mean"] = float(np.mean(arrays["pal_single_part/rank1"]))
        out["part_mAP_mean"] = float(np.mean(arrays["pal_single_part/mAP_trapezoid"]))
    if "pal_segmentation/confusion" in arrays:
        cm = arrays["pal_segmentation/confusion"].astype(float)
        out["seg_pixel_accuracy"] = 100 * float(arrays["pal_segmentation/pixel_accuracy"])
        out["seg_miou"] = 100 * float(arrays["pal_segmentation/miou"])
        out["seg_chance_accuracy"] = 100 * float(cm.sum(1).max() / max(cm.sum(), 1))
        # a constant majority prediction has IoU = its class frequency on that class and 0 on the others
        out["seg_chance_miou"] = out["seg_chance_accuracy"] / max(int((cm.sum(1) > 0).sum()), 1)
    return out


def run_table(results_root: str | Path = "results", profile: str | None = None,
              dataset: str | None = None) -> pd.DataFrame:
    """One row per complete run of :data:`EXPERIMENTS`: provenance, ``seed``, metrics and :data:`DERIVED_COLUMNS`.

    The ``seed`` column (an integer) is what the claims pair the treatment and baseline runs by.

    ``profile`` / ``dataset`` keep only the runs made with that profile / dataset (None: all).
    Adds the pseudo-variant :data:`CHANCE` (one row per ``pcb_ps`` run, ``seg_pixel_accuracy`` and
    ``seg_miou`` = its chance levels). An absent or empty results folder gives an empty table with the expected columns.
    """
    df = load_records(results_root, EXPERIMENTS)
    if not df.empty and profile is not None:
        df = df[df["profile"] == profile]
    if not df.empty and dataset is not None:
        df = df[df["dataset"] == dataset]
    if df.empty:
        return pd.DataFrame(columns=EMPTY_COLUMNS)
    derived = []
    for path in df["path"]:
        arrays = load_analysis(path) if (Path(path) / "analysis.npz").is_file() else {}
        derived.append(derived_metrics(arrays))
    df = pd.concat([df.reset_index(drop=True), pd.DataFrame(derived, columns=DERIVED_COLUMNS)], axis=1)
    chance = df[df["variant"] == "pcb_ps"].copy()
    if not chance.empty:
        chance["variant"] = CHANCE
        chance["seg_pixel_accuracy"] = chance["seg_chance_accuracy"]
        chance["seg_miou"] = chance["seg_chance_miou"]
        df = pd.concat([df, chance[["experiment", "run", "variant", "seed", "seg_pixel_accuracy", "seg_miou"]]],
                       ignore_index=True)
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype("Int64")
    return df


def claims_table(results_root: str | Path = "results", profile: str | None = None,
                 dataset: str | None = None) -> pd.DataFrame:
    """Every claim of :data:`CLAIMS` judged on the records by the book's rule
    (:func:`partreid_core.reporting.claims.claims_table`: paired by seed, Holm over the chapter),
    optionally only on the runs of one profile / dataset (see :func:`run_table`).

    A claim whose treatment or baseline has no value in the records is "inconclusive" with
    "no records" in the observed column (never an exception).
    """
    return claims_mod.claims_table(CLAIMS, run_table(results_root, profile, dataset), paper=PAPER)


def segmenter_table(results_root: str | Path = "results") -> pd.DataFrame:
    """The PAL-T8 analogue's segmenters (``partreid segmenter train``), one row each, indexed by name.

    Columns: training domain, style-jitter probability, epochs, pixel accuracy and mIoU (%) on each
    scored domain (its own held-out query split; the other domain's training split, the images it
    labels), device, commit and wall time. An absent folder gives an empty table.
    """
    df = load_records(results_root, EXPERIMENT)
    if df.empty:
        return pd.DataFrame()
    scores = [c for c in df.columns if c.startswith(("pixel_accuracy_", "miou_"))]
    out = df[["run", "cfg.domain", "cfg.style.p", "cfg.epochs", *scores, "device", "git_commit", "wall_time_s"]].copy()
    out[scores] = 100 * out[scores]
    out["git_commit"] = out["git_commit"].str[:8]
    return out.rename(columns={"run": "segmenter", "cfg.domain": "trained on", "cfg.style.p": "style jitter p",
                               "cfg.epochs": "epochs"}).set_index("segmenter")


__all__ = ["PAPER", "EXPERIMENTS", "SWEEP_FILES", "MAP", "ARTEFACTS", "CLAIMS", "HEADLINE", "CHANCE", "DERIVED_COLUMNS",
           "derived_metrics", "run_table", "claims_table", "segmenter_table"]
