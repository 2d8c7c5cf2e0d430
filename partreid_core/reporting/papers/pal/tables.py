"""The PAL chapter's tables: one renderer per artefact, each taking the chapter
(:class:`~partreid_core.reporting.chapter.Chapter`).

Every renderer returns a pandas ``Styler`` whose data holds formatted strings only (fixed decimals,
:data:`~partreid_core.reporting.chapter.MISSING` where the paper reports nothing or a run is missing) and whose
caption says how our numbers were made, or a one-line string where its records do not exist yet (with the command
that makes them). Rows are variants or the paper's rows, never transposed.
"""
from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from ....analysis import similarity_summary
from ....analysis.chapter_hooks.pal import CAM_PROBES, SEG_LIMIT
from ....data import PART_CLASSES, build_dataset
from ....experiments.config import resolve_config
from ....models.pal import HEAD_TYPES, PartSegmentationHead
from ....models.registry import build_model
from ...chapter import MISSING, Chapter, fmt
from ...paths import shown
from .records import CHANCE, CLAIMS, MAP, segmenter_table
from .reference import (
    DATASETS,
    F6_DELTAS,
    F7_DELTAS,
    F9_PCB,
    F9_PCB_PS,
    MGN_ABSOLUTE,
    SOTA,
    SOURCES,
    T1,
    T6,
    T7,
    T8,
    T9,
)

#: (baseline, +PS, label) of the three models of PAL-F6 / PAL-T9
PAIRS = [("globalpool", "globalpool_ps", "GP"), ("pcb", "pcb_ps", "PCB"), ("mgn", "mgn_ps", "MGN")]
#: PAL-F7: backbone -> (GP variant, GP+PS variant)
F7_VARIANTS = {"ResNet-50": ("globalpool", "globalpool_ps"),
               "MobileNetV2": ("globalpool_mobilenet_v2", "globalpool_ps_mobilenet_v2"),
               "DenseNet-121": ("globalpool_densenet121", "globalpool_ps_densenet121"),
               "OSNet": ("globalpool_osnet", "globalpool_ps_osnet")}
#: PAL-T6 / PAL-T7: the paper's PCB rows -> our variant (the MGN rows have none)
T6_T7_VARIANTS = {"PCB": "pcb", "PCB + Foreground": "pcb_ps_fg", "PCB + Two Parts": "pcb_ps_g2",
                  "PCB + Four Parts": "pcb_ps_g4", "PCB + Seven Parts": "pcb_ps", "PCB + Type (a)": "pcb_ps_head_a",
                  "PCB + Type (b)": "pcb_ps_head_b", "PCB + Type (c)": "pcb_ps", "PCB + Type (d)": "pcb_ps_head_d"}
#: the PAL-T8 analogue: label source -> GP(+PS) variant
T8_VARIANTS = {"GP (no PS)": "globalpool", "GP+PS, exact masks": "globalpool_ps",
               "GP+PS, label noise 0.5": "globalpool_ps_noise0.5", "GP+PS, label noise 1": "globalpool_ps_noise1",
               "GP+PS, segmenter B's labels": "globalpool_ps_segB",
               "GP+PS, segmenter B-style's labels": "globalpool_ps_segB_style"}
#: variants with a PS head whose similarity / segmentation the F9 and F14 tables show
PS_VARIANTS = ["globalpool_ps", "pcb_ps", "pcb_ps_fg", "pcb_ps_head_a", "pcb_ps_lambda0.1", "pcb_ps_lambda10", "mgn_ps"]
METRICS = [("rank1", "Rank-1"), ("rank5", "Rank-5"), ("rank10", "Rank-10"), (MAP, "mAP")]
AP_NOTE = "AP: trapezoid (PAL's convention)"


def styled(df: pd.DataFrame, caption: str = "") -> Styler:
    """``df`` (formatted strings; NaN / None shown as :data:`MISSING`) as a Styler with ``caption``."""
    return df.fillna(MISSING).style.set_caption(caption)


def setting(ch: Chapter, variants: list[str], *notes: str) -> str:
    """The provenance line of a table over ``variants``, with extra notes."""
    return " · ".join([ch.provenance(variants), *notes])


def missing_line(what: str, command: str) -> str:
    """The line a renderer returns where its records do not exist: what is missing and the command that makes it."""
    return f"{what}: no records yet; make them with `{command}`"


def status_table(ch: Chapter) -> Styler | str:
    """The planned runs that have no record yet (sweep, variant, seeds, command), or one line when none is missing."""
    st = ch.status()
    todo = st[st["state"] != "complete"].drop(columns="state")
    if todo.empty:
        return "Every planned run has its record."
    return styled(todo.set_index(["sweep", "variant"]),
                  "planned runs without a record, and the command that makes them")


# ------------------------------------------------------------------------------------------ data and architecture
def table_t1(dataset: str = "synth-s") -> Styler:
    """PAL-T1: #IDs / #images of train, query, gallery; rows = the paper's four data sets, then ``dataset``."""
    rows = [{"data set": d, "source": "paper", **{k: f"{s.ids:,} / {s.images:,}" for k, s in zip(
        ("train", "query", "gallery"), stats, strict=True)}} for d, stats in T1.items()]
    ds = build_dataset(dataset)
    ours = {"data set": dataset, "source": "ours"}
    for split in ("train", "query", "gallery"):
        man = ds.manifest(split)
        ours[split] = f"{len({s.pid for s in man}):,} / {len(man):,}"
    return styled(pd.DataFrame([*rows, ours]).set_index("data set"), f"#IDs / #images; paper: {SOURCES['T1']}")


def table_f2() -> Styler:
    """PAL-F2: the four PS head types, their layers, parameters and output shape, at the paper's input and ours."""
    import torch


    rows = []
    for t in HEAD_TYPES:
        for where, (c, h, w) in {"paper 384×128": (2048, 24, 8), "ours 128×64": (512, 8, 4)}.items():
            head = PartSegmentationHead(c, 8, t).eval()
            with torch.no_grad():
                out = head(torch.zeros(1, c, h, w))
            rows.append({"type": t, "setting": where, "layers": " – ".join(type(m).__name__ for m in head.body),
                         "params": f"{sum(p.numel() for p in head.parameters()):,}",
                         "output (M×H×W)": "×".join(map(str, out.shape[1:]))})
    return styled(pd.DataFrame(rows).set_index(["type", "setting"]), "type (c) is the default (Fig. 2)")


def table_f4_f5_f8(profile: str = "cpu") -> Styler:
    """PAL-F4 / F5 / F8: GP+PS, PCB+PS and MGN+PS as the ``profile`` recipes build them (test-feature width, PS
    outputs in training, the share of parameters dropped after training); one row per model."""
    import torch


    rows = []
    for artefact, recipe, model in [("PAL-F4", "pal_globalpool", "globalpool_ps"), ("PAL-F5", "pal_pcb", "pcb_ps"),
                                    ("PAL-F8", "pal_mgn", "mgn_ps")]:
        cfg = resolve_config(recipe, profile, {"model": model})
        m = build_model(model, 100, cfg.model_overrides)
        x = torch.zeros(2, 3, *cfg.data.size)
        with torch.no_grad():
            feat = m.eval()(x)
            out = m.train()(x)
        seg = ", ".join("×".join(map(str, v.shape[1:])) for k, v in out.aux.items() if k.startswith("seg_logits"))
        total, ps = sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.ps_head.parameters())
        rows.append({"artefact": artefact, "model": model, "input": "×".join(map(str, cfg.data.size)),
                     "test feature": str(feat.shape[1]), "PS outputs (train only)": seg,
                     "PS head params": f"{ps:,}", "share of params": f"{ps / total:.1%}",
                     "inference modules": ", ".join(sorted(m.inference_modules()))})
    return styled(pd.DataFrame(rows).set_index("artefact"), f"built by the {profile} recipes")


# ------------------------------------------------------------------------------------------ the PS effect
def table_f6(ch: Chapter) -> Styler:
    """PAL-F6: per model, Rank-1 and mAP without / with PS (mean ± std), our paired Δ and the paper's Δ on
    Market1501 / CUHK03 / Duke / MSMT17; rows = GP, PCB, MGN."""
    rows = []
    for base, ps, name in PAIRS:
        paper = F6_DELTAS[base]
        row = {"model": name}
        for k, (col, label) in enumerate([("rank1", "Rank-1"), (MAP, "mAP")]):
            row |= {f"{label} base": ch.mean_std(base, col), f"{label} +PS": ch.mean_std(ps, col),
                    f"Δ{label} ours": ch.delta_text(ps, base, col),
                    f"Δ{label} paper (M / C / D / MSMT)": " / ".join(fmt(v[k], signed=True) for v in paper.values())}
        rows.append(row)
    variants = [v for p in PAIRS for v in p[:2]]
    return styled(pd.DataFrame(rows).set_index("model"), setting(ch, variants, AP_NOTE, f"paper: {SOURCES['F6']}"))


def table_f7(ch: Chapter) -> Styler:
    """PAL-F7: GP and GP+PS per backbone (Rank-1 / mAP), our paired Δ beside the paper's; rows = backbones."""
    rows = []
    for bb, (base, ps) in F7_VARIANTS.items():
        rows.append({"backbone": bb, "GP Rank-1": ch.mean_std(base, "rank1"), "GP mAP": ch.mean_std(base, MAP),
                     "GP+PS Rank-1": ch.mean_std(ps, "rank1"), "GP+PS mAP": ch.mean_std(ps, MAP),
                     "ΔRank-1 paper": fmt(F7_DELTAS[bb][0], signed=True),
                     "ΔRank-1 ours": ch.delta_text(ps, base, "rank1"),
                     "ΔmAP paper": fmt(F7_DELTAS[bb][1], signed=True), "ΔmAP ours": ch.delta_text(ps, base, MAP)})
    variants = [v for pair in F7_VARIANTS.values() for v in pair]
    return styled(pd.DataFrame(rows).set_index("backbone"), setting(ch, variants, AP_NOTE, f"paper: {SOURCES['F7']}"))


# ------------------------------------------------------------------------------------------ the paper's comparisons
def table_t2_t5() -> Styler:
    """PAL-T2..T5 (reference): every state-of-the-art row of the paper's four comparison tables; rows = (group,
    method), columns = (data set, Rank-1 | mAP), :data:`MISSING` where a table has no such row; last, the
    authors' own MGN and MGN+PS."""
    titles = {"Market1501": "PAL-T2 Market1501", "CUHK03": "PAL-T3 CUHK03", "DukeMTMC-reID": "PAL-T4 Duke",
              "MSMT17": "PAL-T5 MSMT17"}
    cells: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
    for d in DATASETS:
        p = MGN_ABSOLUTE[d]
        for key, r1, m in [*(((r.group, r.method), r.rank1, r.mAP) for r in SOTA[d]),
                           (("paper", "MGN (authors' implementation)"), p.mgn_rank1, p.mgn_mAP),
                           (("paper", "MGN+PS"), p.ps_rank1, p.ps_mAP)]:
            cells.setdefault(key, {}).update({(titles[d], "Rank-1"): fmt(r1), (titles[d], "mAP"): fmt(m)})
    t = pd.DataFrame.from_dict(cells, orient="index")
    t.index = pd.MultiIndex.from_tuples(t.index, names=["group", "method"])
    t = t[[(titles[d], m) for d in DATASETS for m in ("Rank-1", "mAP")]]
    t.columns = pd.MultiIndex.from_tuples(t.columns)
    return styled(t, "Rank-1 / mAP (%); paper: " + ", ".join(SOURCES[k] for k in ("T2", "T3", "T4", "T5")))


def table_mgn_pair(ch: Chapter) -> Styler:
    """PAL-T2 / PAL-T5 rows we can make: the authors' MGN / MGN+PS pair on Market1501 and MSMT17 beside ours;
    rows = MGN, MGN+PS."""
    def pair(d: str, ps: bool) -> str:
        p = MGN_ABSOLUTE[d]
        return f"{fmt(p.ps_rank1 if ps else p.mgn_rank1)} / {fmt(p.ps_mAP if ps else p.mgn_mAP)}"

    dataset = ch.dataset or "synth-s"
    rows = [{"model": name, "paper Market1501 (T2) R1 / mAP": pair("Market1501", ps),
             "paper MSMT17 (T5) R1 / mAP": pair("MSMT17", ps), f"ours {dataset} Rank-1": ch.mean_std(v, "rank1"),
             f"ours {dataset} mAP": ch.mean_std(v, MAP)} for name, v, ps in [("MGN", "mgn", False),
                                                                             ("MGN+PS", "mgn_ps", True)]]
    return styled(pd.DataFrame(rows).set_index("model"), setting(ch, ["mgn", "mgn_ps"], AP_NOTE))


def table_t3_robustness(ch: Chapter) -> Styler | str:
    """The PAL-T3 analogue: MGN vs MGN+PS on the mildest and hardest misalignment / occlusion test splits of the
    comparison's robustness records (non-interpolated mAP); rows = test splits."""
    from ...comparison import robustness_runs  # here, not at the top: reporting.comparison imports the papers

    methods = ["MGN", "PAL (MGN+PS)"]
    rob = robustness_runs(ch.results)
    if not rob.empty:
        rob = rob[rob.method.isin(methods) & rob.knob.isin(["misalignment", "occlusion"])]
    if rob.empty:
        return missing_line("PAL-T3 analogue", "partreid robustness --knob misalignment --methods MGN 'PAL (MGN+PS)'")
    rows = []
    for knob, g in rob.groupby("knob"):
        levels = list(dict.fromkeys(g.level))
        for level in (levels[0], levels[-1]):
            sel = g[g.level == level].pivot_table(index="seed", columns="method", values=["rank1", "mAP"])
            d = (sel[("mAP", methods[1])] - sel[("mAP", methods[0])]).dropna()
            rows.append({"test split": f"{knob} {level}", "seeds": str(len(d)),
                         **{f"{m} R1 / mAP": f"{fmt(sel[('rank1', m)].mean())} / {fmt(sel[('mAP', m)].mean())}"
                            for m in methods},
                         "ΔmAP (per seed)": f"{fmt(d.mean(), signed=True)} ("
                                            + ", ".join(fmt(x, signed=True) for x in d) + ")"})
    return styled(pd.DataFrame(rows).set_index("test split"), "records: results/comparison-robustness · "
                  "AP: non-interpolated (the robustness records' metric)")


# ------------------------------------------------------------------------------------------ ablations
def _paper_vs_ours(ch: Chapter, table: dict) -> pd.DataFrame:
    """Rows = the paper's rows; columns = (metric, paper | ours), ours :data:`MISSING` where we have no variant."""
    dataset = ch.dataset or "synth-s"
    rows = {}
    for row, vals in table.items():
        v = T6_T7_VARIANTS.get(row)
        rows[row] = {k: x for (col, name), pv in zip(METRICS, vals, strict=True) for k, x in
                     (((name, "paper"), fmt(pv)), ((name, f"ours {dataset}"), ch.mean_std(v, col) if v else MISSING))}
    t = pd.DataFrame.from_dict(rows, orient="index")
    t.columns = pd.MultiIndex.from_tuples(t.columns)
    return t


def table_t6(ch: Chapter) -> Styler:
    """PAL-T6 (label granularity): the paper's rows beside ours (PCB rows; the MGN rows are not run)."""
    variants = sorted(set(T6_T7_VARIANTS.values()))
    return styled(_paper_vs_ours(ch, T6), setting(ch, variants, AP_NOTE, f"paper: {SOURCES['T6']} (MSMT17)"))


def table_t7(ch: Chapter) -> Styler:
    """PAL-T7 (PS head structure): the paper's rows beside ours (PCB rows; the MGN rows are not run)."""
    variants = sorted(set(T6_T7_VARIANTS.values()))
    return styled(_paper_vs_ours(ch, T7), setting(ch, variants, AP_NOTE, f"paper: {SOURCES['T7']} (MSMT17)"))


def table_t6_t7_deltas(ch: Chapter) -> Styler:
    """PAL-T6 / T7 as gains over PCB: the paper's Δ and our paired Δ; rows = the PCB + ... rows."""
    rows = []
    for row, v in T6_T7_VARIANTS.items():
        if v == "pcb":
            continue
        ref = T6.get(row) or T7[row]
        rows.append({"row": row, "ΔRank-1 paper": fmt(ref.rank1 - T6["PCB"].rank1, signed=True),
                     "ΔRank-1 ours": ch.delta_text(v, "pcb", "rank1"),
                     "ΔmAP paper": fmt(ref.mAP - T6["PCB"].mAP, signed=True),
                     "ΔmAP ours": ch.delta_text(v, "pcb", MAP)})
    return styled(pd.DataFrame(rows).set_index("row"), setting(ch, sorted(set(T6_T7_VARIANTS.values())), AP_NOTE))


def table_segmenters(ch: Chapter) -> Styler | str:
    """The PAL-T8 analogue's segmenters: one row each (domain, style jitter, epochs, pixel accuracy / mIoU in %
    per scored domain, provenance)."""
    seg = segmenter_table(ch.results)
    if seg.empty:
        return missing_line("segmenters", "partreid segmenter train --domain B [--style]")
    scores = [c for c in seg.columns if c.startswith(("pixel_accuracy_", "miou_"))]
    out = seg.astype(object)
    out[scores] = seg[scores].map(fmt)
    out["wall_time_s"] = seg["wall_time_s"].map(lambda s: fmt(s, 0))
    return styled(out.astype(str), "scores in % against the exact masks")


def table_t8_paper() -> Styler:
    """PAL-T8 (reference): MGN+PS on CUHK03 with labels of segmenters trained with each adaptation method."""
    t = pd.DataFrame([{"segmenter trained with": k, **{name: fmt(x) for (_, name), x in zip(METRICS, v, strict=True)}}
                      for k, v in T8.items()]).set_index("segmenter trained with")
    return styled(t, f"paper: {SOURCES['T8']}")


def table_t8(ch: Chapter) -> Styler:
    """The PAL-T8 analogue: GP+PS with exact, degraded and predicted part labels; rows = label sources."""
    rows = [{"labels": lab, "Rank-1": ch.mean_std(v, "rank1"), "mAP": ch.mean_std(v, MAP),
             "PS-head mIoU vs exact masks": ch.mean_std(v, "seg_miou") if v != "globalpool" else "no PS head",
             "ΔmAP vs GP": ch.delta_text(v, "globalpool", MAP) if v != "globalpool" else MISSING}
            for lab, v in T8_VARIANTS.items()]
    return styled(pd.DataFrame(rows).set_index("labels"), setting(ch, list(T8_VARIANTS.values()), AP_NOTE))


def table_t9(ch: Chapter) -> Styler:
    """PAL-T9: the paper's MSMT17 -> Market / CUHK03 scores beside ours (A -> A and A -> B); rows = methods."""
    rows = []
    for base, ps, name in PAIRS:
        for v, lab in [(base, name), (ps, name + "+PS")]:
            ref = T9.get(lab)
            paper = dict.fromkeys(("paper MSMT→Market R1", "paper MSMT→Market mAP", "paper MSMT→CUHK03 R1",
                                   "paper MSMT→CUHK03 mAP"), MISSING) if ref is None else dict(zip(
                ("paper MSMT→Market R1", "paper MSMT→Market mAP", "paper MSMT→CUHK03 R1", "paper MSMT→CUHK03 mAP"),
                map(fmt, ref), strict=True))
            rows.append({"method": lab, **paper, "ours A→A R1": ch.mean_std(v, "rank1"),
                         "ours A→B R1": ch.mean_std(v, "xd_rank1"), "ours A→B mAP": ch.mean_std(v, "xd_mAP_trapezoid")})
    variants = [v for p in PAIRS for v in p[:2]]
    return styled(pd.DataFrame(rows).set_index("method"),
                  setting(ch, variants, AP_NOTE, "test: domain B query / gallery", f"paper: {SOURCES['T9']}"))


def table_t9_gains(ch: Chapter) -> Styler:
    """PAL-T9: the PS gain in domain and across domains (paired by seed); rows = GP, PCB, MGN."""
    rows = [{"model": name, "PS gain in domain (R1)": ch.delta_text(ps, base, "rank1"),
             "PS gain A→B (R1)": ch.delta_text(ps, base, "xd_rank1"),
             "PS gain A→B (mAP)": ch.delta_text(ps, base, "xd_mAP_trapezoid")} for base, ps, name in PAIRS]
    return styled(pd.DataFrame(rows).set_index("model"), setting(ch, [v for p in PAIRS for v in p[:2]], AP_NOTE))


# ------------------------------------------------------------------------------------------ mechanisms
def table_f9(ch: Chapter) -> Styler:
    """PAL-F9: mean off-diagonal / adjacent / non-adjacent stripe similarity; rows = the paper's two matrices,
    then our variants (mean ± std over seeds, and the off-diagonal value of each seed)."""
    import torch


    cols = ["mean_off_diagonal", "mean_adjacent", "mean_non_adjacent"]
    rows = [{"model": k, "source": "paper", **{c: fmt(s[c], 3) for c in cols}, "off-diagonal per seed": MISSING}
            for k, m in [("PCB", F9_PCB), ("PCB+PS", F9_PCB_PS)] for s in [similarity_summary(torch.as_tensor(m))]]
    for v in ["pcb", "pcb_ps", "pcb_ps_fg", "pcb_ps_head_a", "pcb_ps_lambda0.1", "pcb_ps_lambda10"]:
        rows.append({"model": v, "source": "ours", **{c: ch.mean_std(v, c, digits=3) for c in cols},
                     "off-diagonal per seed": ", ".join(fmt(x, 3) for x in ch.values(v, cols[0])) or MISSING})
    return styled(pd.DataFrame(rows).set_index("model"),
                  setting(ch, ["pcb", "pcb_ps"], "images: query split", f"paper: {SOURCES['F9']} (MSMT17)"))


def table_f10(ch: Chapter) -> Styler:
    """PAL-F10: Grad-CAM coverage, entropy and body mass (mean ± std over seeds); rows = MGN, MGN+PS."""
    rows = [{"model": v, **{k.replace("_", " "): ch.mean_std(v, f"cam_{k}", digits=3)
                            for k in ("coverage", "entropy", "body_mass")}} for v in ("mgn", "mgn_ps")]
    return styled(pd.DataFrame(rows).set_index("model"),
                  setting(ch, ["mgn", "mgn_ps"], f"{CAM_PROBES} fixed training images"))


def table_f10_part_mass(ch: Chapter) -> Styler | str:
    """PAL-F10: the share of the Grad-CAM mass on each class (mean over probes and seeds); rows = MGN, MGN+PS,
    columns = the 8 classes."""
    rows = {}
    for v in ("mgn", "mgn_ps"):
        stack = ch.stack(v, "pal_grad_cam/part_mass")     # seeds x probes x 8
        if stack is not None:
            rows[v] = dict(zip(PART_CLASSES, (fmt(x, 3) for x in stack.mean((0, 1))), strict=True))
    if not rows:
        return missing_line("PAL-F10", f"partreid sweep partreid_core/experiments/sweeps/pal/p2_mgn.yaml --out "
                                       f"{shown(ch.results)}")
    return styled(pd.DataFrame.from_dict(rows, orient="index").rename_axis("model"),
                  "share of the CAM mass per class, mean over probes and seeds")


def table_f14(ch: Chapter) -> Styler:
    """PAL-F14: the PS head's pixel accuracy, the majority-class chance and mIoU (%); rows = PS variants with
    records."""
    rows = [{"model": v, "pixel accuracy (%)": ch.mean_std(v, "seg_pixel_accuracy"),
             "chance (%)": ch.mean_std(v, "seg_chance_accuracy"), "mIoU (%)": ch.mean_std(v, "seg_miou")}
            for v in PS_VARIANTS if ch.has(v)]
    t = pd.DataFrame(rows, columns=["model", "pixel accuracy (%)", "chance (%)", "mIoU (%)"]).set_index("model")
    return styled(t, setting(ch, PS_VARIANTS, f"first {SEG_LIMIT} query images"))


# ------------------------------------------------------------------------------------------ verdicts
#: what each claim family says, for the evidence list
WHY = {"C1": "PAL's headline (PAL-F6): the PS head helps every model.",
       "C2": "PAL-F7: the gain does not depend on the backbone.",
       "C3": "The mechanism of PAL-F9: stripe features of PCB+PS are less alike.",
       "C4": "The mechanism of PAL-F10: MGN+PS attends to more body parts.",
       "C5": "PAL-T6: even foreground labels help; finer labels help more.",
       "C6": "PAL-T7: every head type helps; the bare 1×1 head (a) suffices.",
       "C7": "PAL-F12: the gain holds over a broad range of λ.", "C8": "PAL-F13: each single stripe is better with PS.",
       "C9": "PAL-T8 analogue: the gain survives poorer part labels.",
       "C10": "PAL-T9: the gain carries over to an unseen domain.",
       "C11": "PAL-F14: the PS head segments well above chance."}


def _digits(family: object) -> int:
    """One decimal for accuracies in % points, three for the analyses' fractions, counts and similarities."""
    return 1 if str(family) in ("accuracy", "drop", "share_pct", "entropy_pct") else 3


def table_claims(ch: Chapter) -> Styler:
    """Every claim judged on the records (the rows of ``partreid claims --paper PAL``): our Δ with its 95 % CI,
    the paper's Δ, the ratio, the minimum detectable effect, Holm's p and the verdict; rows = claims."""
    c = ch.claims()
    rows = []
    for _, r in c.iterrows():
        d = _digits(r["family"])
        no = str(r["observed"]).startswith("no records")
        ci = f"{fmt(r['difference'], d, True)} [{fmt(r['ci_low'], d, True)}, {fmt(r['ci_high'], d, True)}]"
        rows.append({"claim": r["claim"], "artefact": r["artefact"], "kind": r["kind"], "statement": r["statement"],
                     "design": r["design"], "seeds": MISSING if no else str(r["seed_signs"]),
                     "ours: Δ [95 % CI]": MISSING if no else ci, "paper's Δ": fmt(r["paper_effect"], d, True),
                     "margin": fmt(r["margin"], d),
                     "ours ÷ paper's": fmt(r["ratio"], 1) + "×" if pd.notna(r["ratio"]) else MISSING,
                     "MDE": fmt(r["mde"], d), "p (Holm)": fmt(r["p_holm"], 3) if r["kind"] != "sanity" else MISSING,
                     "verdict": r["verdict"]})
    return styled(pd.DataFrame(rows).set_index("claim"), "paired by seed; Holm over the chapter's paper and "
                  "mechanism claims; MDE: the smallest effect these seeds could detect (80 % power)")


def claims_evidence(ch: Chapter) -> str:
    """Markdown: one bullet per claim with what it tests, its verdict, our Δ with its 95 % CI and the per-seed
    paired differences (fixed decimals)."""
    table = ch.claims().set_index("claim")
    lines = []
    for c in CLAIMS:
        row, why = table.loc[c.id], WHY[c.id.split("-")[0]]
        head = f"- **{c.id}** ({why})"
        if str(row["observed"]).startswith("no records"):
            lines.append(f"{head} {row['observed']}.")
            continue
        d = _digits(row["family"])
        diffs = ch.paired_delta(c.treatment, c.baseline, c.metric) if c.baseline != CHANCE else pd.Series(dtype=float)
        seeds = f" Per seed: {', '.join(fmt(x, d, True) for x in diffs)}." if len(diffs) else ""
        lines.append(f"{head} **{row['verdict']}**: {c.treatment} vs {c.baseline} on `{c.metric}`, "
                     f"Δ {fmt(row['difference'], d, True)} [{fmt(row['ci_low'], d, True)}, "
                     f"{fmt(row['ci_high'], d, True)}] ({row['seed_signs']}).{seeds}")
    return "\n".join(lines)


__all__ = ["F7_VARIANTS", "PAIRS", "PS_VARIANTS", "T6_T7_VARIANTS", "T8_VARIANTS", "WHY", "claims_evidence",
           "missing_line", "setting", "status_table", "styled", "table_claims", "table_f10", "table_f10_part_mass",
           "table_f14", "table_f2", "table_f4_f5_f8", "table_f6", "table_f7", "table_f9", "table_mgn_pair",
           "table_segmenters", "table_t1", "table_t2_t5", "table_t3_robustness", "table_t6", "table_t6_t7_deltas",
           "table_t7", "table_t8", "table_t8_paper", "table_t9", "table_t9_gains"]
