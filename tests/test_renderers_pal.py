"""PAL chapter renderers: on fake records in a tmp folder, on no records, and on the committed records."""
from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from pandas.io.formats.style import Styler

from partreid_core.reporting.chapter import MISSING, open_chapter
from partreid_core.reporting.papers import pal

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pal.py"
#: renderers that read run records (the others draw the paper's tables or build models)
RECORD_RENDERERS = sorted({f for fns in pal.RENDERERS.values() for f in fns
                           if "ch" in inspect.signature(f).parameters}, key=lambda f: f.__name__)


def _run(root: Path, experiment: str, variant: str, seed: int, metrics: dict, arrays: dict | None = None) -> None:
    path = root / experiment / f"{variant}-s{seed}"
    path.mkdir(parents=True)
    cfg = {"model": variant, "profile": "cpu", "data": {"dataset": "synth-s"}, "train": {}}
    (path / "config.json").write_text(json.dumps({"config": cfg, "seed": seed, "variant": variant}))
    (path / "metrics.json").write_text(json.dumps(metrics))
    if arrays:
        np.savez(path / "analysis.npz", **arrays)


def _arrays(off: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    sim = np.full((6, 6), off, dtype=np.float32)
    np.fill_diagonal(sim, 1.0)
    cm = np.array([[60, 10], [5, 25]])
    return {"part_similarity/matrix": sim, "pal_single_part/rank1": rng.uniform(20, 40, 6),
            "pal_single_part/mAP_trapezoid": rng.uniform(10, 20, 6),
            "pal_single_part/names": np.array([f"S{j}" for j in range(1, 7)]),
            "pal_segmentation/confusion": cm, "pal_segmentation/pixel_accuracy": np.float32(0.85),
            "pal_segmentation/miou": np.float32(0.6),
            "pal_segmentation/images": rng.integers(0, 255, (3, 3, 64, 32), dtype=np.uint8),
            "pal_segmentation/target": rng.integers(0, 8, (3, 64, 32)),
            "pal_segmentation/pred": rng.integers(0, 8, (3, 64, 32))}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """PCB and PCB+PS with three seeds each (metrics and analysis arrays); nothing else."""
    root = tmp_path_factory.mktemp("pal-records")
    for seed in range(3):
        _run(root, "pal-pcb", "pcb", seed, {"rank1": 50.0 + seed, "rank5": 70.0, "rank10": 80.0,
                                             "mAP_trapezoid": 30.0 + seed}, _arrays(0.86, seed))
        _run(root, "pal-pcb", "pcb_ps", seed, {"rank1": 55.0 + seed, "rank5": 72.0, "rank10": 81.0,
                                                "mAP_trapezoid": 33.5 - seed}, _arrays(0.82, seed))
    return open_chapter("PAL", results=root)


def _cells(table: Styler) -> list[str]:
    return [str(x) for x in table.data.to_numpy().ravel()]


def _check_table(table: Styler) -> None:
    """Formatted strings only: no NaN, no raw floats, no "Ours" for the paper's numbers, no markdown."""
    cells = _cells(table)
    assert all(isinstance(x, str) for x in table.data.to_numpy().ravel())
    assert not any(x.lower() in ("nan", "none") or re.fullmatch(r"-?\d+\.\d{4,}", x) for x in cells), cells
    text = " ".join(cells + [str(i) for i in table.data.index] + [str(c) for c in table.data.columns])
    assert "Ours" not in text and "\\*" not in text


def _check_figure(fig: Figure) -> None:
    assert fig.axes
    for ax in fig.axes:
        # a panel draws something, or labels a row (the rank lists' label cell under the query)
        assert ax.images or ax.lines or ax.patches or ax.collections or ax.texts or ax.get_ylabel(), "empty axes"
    small = [t.get_text() for t in fig.findobj(Text) if t.get_text() and t.get_fontsize() < 8]
    assert not small, small


def test_every_artefact_has_a_renderer_called_by_the_notebook():
    assert set(pal.RENDERERS) == set(pal.ARTEFACTS)
    text = NOTEBOOK.read_text()
    uncalled = {f.__name__ for fns in pal.RENDERERS.values() for f in fns} - set(re.findall(r"pal\.(\w+)\(", text))
    assert not uncalled, f"renderers the chapter never calls: {uncalled}"


def test_f6_table_on_fake_records(fake):
    t = pal.table_f6(fake)
    _check_table(t)
    assert list(t.data.index) == ["GP", "PCB", "MGN"]
    assert t.data.loc["PCB", "Rank-1 base"] == "51.0 ± 1.0 (n=3)"
    assert t.data.loc["PCB", "ΔRank-1 ours"].startswith("+5.0 (per seed +5.0, +5.0, +5.0; 3 of 3 positive)")
    assert t.data.loc["GP", "Rank-1 base"] == MISSING and t.data.loc["MGN", "ΔmAP ours"] == MISSING
    assert t.data.loc["GP", "ΔmAP paper (M / C / D / MSMT)"] == "+1.7 / +4.5 / +0.9 / +2.7"
    assert "3 runs" not in t.caption and "6 runs" in t.caption


def test_paper_tables_rows_are_variants_and_missing_reads_dash(fake):
    t6 = pal.table_t6(fake)
    _check_table(t6)
    assert list(t6.data.index) == list(pal.T6)
    assert t6.data.loc["MGN + Foreground", ("Rank-1", "ours synth-s")] == MISSING
    assert t6.data.loc["PCB + Seven Parts", ("mAP", "paper")] == "51.1"
    sota = pal.table_t2_t5()
    _check_table(sota)
    methods = {(r.group, r.method) for rows in pal.SOTA.values() for r in rows}
    assert sota.data.shape == (len(methods) + 2, 8)        # one row per method (and the paper's pair), never transposed
    assert sota.data.loc[("paper", "MGN+PS"), ("PAL-T2 Market1501", "mAP")] == "88.7"
    assert sota.data.loc[("G", "MLFN"), ("PAL-T2 Market1501", "Rank-1")] == MISSING   # only in Table III
    t9 = pal.table_t9(fake)
    assert t9.data.loc["GP", "paper MSMT→Market R1"] == MISSING
    assert t9.data.loc["PCB+PS", "paper MSMT→Market R1"] == "62.2"


def test_figures_on_fake_records(fake):
    for render in (pal.fig_f6, pal.fig_f9, pal.fig_f12, pal.fig_f13, pal.fig_f14, pal.fig_f7):
        fig = render(fake)
        assert isinstance(fig, Figure), render.__name__
        _check_figure(fig)
    assert len(pal.fig_f9(fake).axes) == 5          # the paper's two, ours two, our difference
    for fig in (pal.fig_f1(), pal.fig_f3("synth-tiny"), pal.fig_f11("synth-tiny")):
        _check_figure(fig)


def test_missing_records_give_a_line_with_the_command(fake):
    assert "partreid sweep" in pal.fig_f10(fake) and "no records yet" in pal.fig_f10(fake)
    assert "partreid ranklist" in pal.fig_f15(fake)
    f9 = pal.table_f9(fake)
    _check_table(f9)
    assert f9.data.loc["pcb_ps_fg", "off-diagonal per seed"] == MISSING
    assert f9.data.loc["pcb", "mean_off_diagonal"] == "0.860 ± 0.000 (n=3)"


@pytest.mark.parametrize("render", RECORD_RENDERERS, ids=lambda f: f.__name__)
def test_record_renderers_without_records(render, tmp_path):
    out = render(open_chapter("PAL", results=tmp_path / "nothing"))
    assert isinstance(out, (Styler, Figure, str))
    if isinstance(out, Styler):
        _check_table(out)
    if isinstance(out, Figure):
        _check_figure(out)


def test_claims_table_matches_the_claims(fake):
    t = pal.table_claims(fake)
    _check_table(t)
    assert list(t.data.index) == [c.id for c in pal.CLAIMS]
    assert t.data.loc["C1-pcb-R1", "ours: Δ [95 % CI]"].startswith("+5.0 [")
    assert t.data.loc["C1-gp-R1", "ours: Δ [95 % CI]"] == MISSING
    assert "**C1-pcb-R1**" in pal.claims_evidence(fake)


def test_renderers_on_the_committed_records():
    ch = open_chapter("PAL")
    if ch.runs.empty:
        pytest.skip("no committed PAL records")
    seen = set()
    for fns in pal.RENDERERS.values():
        for f in fns:
            if f.__name__ in seen:
                continue
            seen.add(f.__name__)
            if "ch" not in inspect.signature(f).parameters:
                continue
            out = f(ch)
            text = out if isinstance(out, str) else " ".join(_cells(out)) if isinstance(out, Styler) else ""
            assert "no records" not in text, f.__name__
            if isinstance(out, Styler):
                _check_table(out)
            elif isinstance(out, Figure):
                _check_figure(out)
