"""The RMGL chapter's renderers: on fake records (expected rows, formatted cells, "—" for missing runs, figures
with drawn axes), on no records (no exception), and on the committed records (no "no records" where they exist)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from partreid_core.reporting.chapter import MISSING, open_chapter  # noqa: E402
from partreid_core.reporting.papers import rmgl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "rmgl.py"
#: renderers that show the library's own code, not records (they take no chapter)
NO_CHAPTER = {rmgl.table_f2, rmgl.table_f3_derived, rmgl.fig_f6}
H, MAP_ROWS, N = 32, 8, 5


def _run(root: Path, experiment: str, variant: str, seed: int, mAP: float, abp_gain: float = 0.0) -> None:
    """A complete record with every array the chapter's hooks write (small shapes)."""
    path = root / experiment / f"{variant}-s{seed}"
    path.mkdir(parents=True)
    cfg = {"model": "rmgl", "profile": "cpu", "data": {"dataset": "synth-s"}, "seed": seed}
    (path / "config.json").write_text(json.dumps({"config": cfg, "seed": seed, "variant": variant}))
    (path / "metrics.json").write_text(json.dumps({"mAP": mAP, "rank1": mAP + 10, "rr_mAP": mAP + 5,
                                                   "rr_rank1": mAP + 12, "split": "test"}))
    rng = np.random.default_rng(seed)
    levels = np.asarray([0.0, 0.3, 0.6, 0.9], dtype=np.float32)
    uni = mAP - 10 * levels
    names = ["K2[0]/{}/s0", "K2[0]/{}/s1"]
    flat = np.full((2, H), 1 / H, dtype=np.float32)
    own = np.zeros((2, H), dtype=np.float32)
    own[0, : H // 2], own[1, H // 2:] = 2 / H, 2 / H
    shift = rng.uniform(-0.2, 0.2, (4, N)).astype(np.float32)
    cut = np.clip(np.round(MAP_ROWS / 2 + 8 * shift), 1, MAP_ROWS - 1).astype(np.int16)
    bounds2 = np.stack([np.zeros_like(cut), cut, np.full_like(cut, MAP_ROWS)], -1)
    bounds3 = np.stack([np.zeros_like(cut), np.full_like(cut, 3), np.full_like(cut, 5),
                        np.full_like(cut, MAP_ROWS)], -1)
    maps = ["O-2", "O-3", "RP-2", "RP-3"]
    arrays = {
        "rmgl_receptive_rows/orig_rows": flat, "rmgl_receptive_rows/rp_rows": own,
        "rmgl_receptive_rows/orig_names": np.asarray([n.format("orig") for n in names]),
        "rmgl_receptive_rows/rp_names": np.asarray([n.format("rp") for n in names]),
        "rmgl_receptive_rows/untrained_rp_rows": np.stack([own, own, flat]),
        "rmgl_receptive_rows/untrained_orig_rows": flat,
        "rmgl_receptive_rows/positions": np.asarray(["input", "res3", "res5"]),
        "rmgl_misalignment/levels": levels, "rmgl_misalignment/map_height": np.asarray([MAP_ROWS]),
        "rmgl_misalignment/mAP_uniform": uni, "rmgl_misalignment/mAP_abp": uni + abp_gain,
        "rmgl_misalignment/rank1_uniform": uni + 10, "rmgl_misalignment/rank1_abp": uni + 10 + abp_gain,
        "rmgl_misalignment/bounds_K2": bounds2, "rmgl_misalignment/bounds_K3": bounds3,
        "rmgl_misalignment/shift_y": shift,
        "rmgl_response_maps/names": np.asarray(maps),
        "rmgl_response_maps/images": rng.integers(0, 255, (3, 3, H, H // 2), dtype=np.uint8),
    }
    for m in maps:
        arrays[f"rmgl_response_maps/maps/{m}"] = rng.uniform(0, 1, (3, MAP_ROWS, 4)).astype(np.float16)
        arrays[f"rmgl_response_maps/row_entropy/{m}"] = np.full(4, 0.99 - 0.01 * (m == "O-3"), dtype=np.float32)
        arrays[f"rmgl_response_maps/fg_mass/{m}"] = np.full(4, 0.3, dtype=np.float32)
    np.savez(path / "analysis.npz", **arrays)


@pytest.fixture
def fake(tmp_path):
    """rmgl and op-baseline (p1) with 3 seeds, rmgl-no-rsa with 2; every other variant of the chapter missing."""
    for seed, noise in enumerate((0.0, 0.4, -0.3)):
        _run(tmp_path, "rmgl-rp", "rmgl", seed, 60 + noise, abp_gain=-1.0)
        _run(tmp_path, "rmgl-rp", "op-baseline", seed, 50 - noise, abp_gain=-2.0)
        if seed < 2:
            _run(tmp_path, "rmgl-rsa", "rmgl-no-rsa", seed, 70 + noise)
    return open_chapter("RMGL", tmp_path, profile="cpu", dataset="synth-s")


def _renderers():
    return list(dict.fromkeys(f for fs in rmgl.RENDERERS.values() for f in fs)) + [
        rmgl.status_table, rmgl.table_claims, rmgl.claims_text]


def _call(f, ch):
    return f() if f in NO_CHAPTER else f(ch)


def _cells(table: pd.DataFrame) -> list[str]:
    return [str(x) for x in table.to_numpy().ravel()] + [str(i) for i in table.index]


def _check_table(table: pd.DataFrame) -> None:
    """Formatted for a page: non-empty, no NaN or long raw floats, no markdown in cells."""
    assert isinstance(table, pd.DataFrame) and not table.empty
    for cell in _cells(table):
        assert cell.lower() not in ("nan", "none", "<na>"), cell
        assert not re.search(r"\d\.\d{4,}", cell), cell                  # raw floats like -11.605818
        assert "\\*" not in cell and "**" not in cell, cell


def _check_figure(fig: Figure) -> None:
    """Every visible axes has something drawn on it; fonts are at least 8 pt."""
    visible = [ax for ax in fig.axes if ax.axison]
    assert visible
    for ax in visible:
        assert ax.has_data() or ax.images, ax
        for text in [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]:
            if text.get_text():
                assert text.get_fontsize() >= 8, (text.get_text(), text.get_fontsize())
        legend = ax.get_legend()
        if legend is not None:
            assert all(t.get_fontsize() >= 8 for t in legend.get_texts())
    plt.close(fig)


def test_every_renderer_on_fake_records(fake):
    for f in _renderers():
        out = _call(f, fake)
        if isinstance(out, Figure):
            _check_figure(out)
        elif isinstance(out, str):
            assert out and "nan" not in out.lower(), f.__name__
        else:
            _check_table(out)


def test_t5_rows_are_the_papers_and_missing_runs_read_a_dash(fake):
    t5 = rmgl.table_t5(fake)
    assert list(t5.index) == list(rmgl.T5_ROWS)
    assert t5.loc["2+3-stripe+RP+ABP+RSA (RMGL)", "mAP: ours"] == "56.0 ± 0.4 (n=3)"  # 60.03 - 3 (at 0.3) - 1
    assert t5.loc["2+3-stripe+RP+RSA", "mAP: ours"] == "57.0 ± 0.4 (n=3)"
    assert t5.loc["2+3-stripe+RP+ABP+RSA (RMGL)", "mAP: paper (Market)"] == "90.0"
    assert t5.loc["2+3-stripe only RP", "mAP: ours"] == MISSING
    eff = rmgl.table_t5_effects(fake)
    assert eff.loc["+ABP on RP+RSA", "mAP: ours Δ"] == "-1.0 (0 of 3 seeds positive)"
    assert eff.loc["+ABP on RP+RSA", "mAP: paper Δ (Market)"] == "+0.3"
    assert eff.loc["+ABP on BL", "mAP: ours Δ"] == MISSING
    assert eff.loc["+RSA on RP", "mAP: ours Δ"].endswith("(0 of 2 seeds positive)")        # two paired seeds


def test_t6_and_x3_tables(fake):
    t6 = rmgl.table_t6(fake)
    assert len(t6) == len(rmgl.T6_OURS)
    assert t6.loc[("2+3-stripe BL", "RC"), "mAP"] == MISSING
    assert t6.loc[("2+3-stripe BL", "RC"), "Δ mAP: paper (Market)"] == "+0.2"            # 87.3 - 87.1
    assert t6.loc[("RMGL (dual path)", "RE"), "Δ mAP: paper (Market)"] == MISSING
    assert t6.loc[("RMGL (dual path)", "RSA"), "Δ mAP: ours"] == "-10.0 ± 0.0"           # 60.0, 60.4 - 70.0, 70.4
    lost = rmgl.table_x3_lost(fake)
    assert lost.loc["rmgl", "points lost"] == "9.0" and lost.loc["rmgl", "share lost (%)"] == "15.2"
    x3 = rmgl.table_x3(fake)
    assert list(x3.columns) == ["mAP @ 0", "mAP @ 0.3", "mAP @ 0.6", "mAP @ 0.9"]
    assert ("op-baseline", "uniform") in x3.index


def test_hook_tables_by_hand(fake):
    x1 = rmgl.table_x1(fake)
    assert x1.loc["rmgl", "RP (%)"] == "100.0 ± 0.0 (n=3)" and x1.loc["rmgl", "OP (%)"] == "50.0 ± 0.0 (n=3)"
    assert x1.loc["rmgl", "RP − OP (points)"] == "+50.0"
    f3 = rmgl.table_f3_measured(fake)
    assert list(f3.columns) == ["IP", "res3", "res5", "OP"]
    assert f3.loc["stripe K2[0]/s0", "IP"] == f"0–{H // 2 - 1} ({H // 2})" and f3.loc["stripe K2[0]/s0", "OP"] == \
        f"0–{H - 1} ({H})"
    x2 = rmgl.table_x2(fake)
    assert list(x2.index) == ["seed 0", "seed 1", "seed 2", "mean over seeds"]
    assert float(x2.iloc[-1, 0]) > 0.5                                                   # the fake cut follows shift_y
    pts = rmgl.boundary_points(fake)
    assert len(pts) == 3 * 4 * N and pts.cut.between(0, 1).all()


def test_claims_table_is_the_cli_s(fake):
    table = rmgl.table_claims(fake)
    judged = rmgl.claims_table(fake.results).set_index("claim")
    assert list(table.index) == [c.id for c in rmgl.CLAIMS]
    assert (table["verdict"] == judged.loc[table.index, "verdict"]).all()
    assert table.loc["S4-rsa-bl", "ours: Δ [95 % CI]"] == MISSING                      # op-baseline-no-rsa not run
    assert "no records" in rmgl.claims_text(fake)
    glance = fake.glance()
    assert list(glance["claim"]) == [c.id for c in rmgl.CLAIMS if c.headline]


def test_status_lists_missing_runs_with_their_command(fake, monkeypatch):
    st = rmgl.status_table(fake)
    assert ("p2_rsa", "rmgl-no-rsa") in st.index
    assert st.loc[("p2_rsa", "rmgl-no-rsa"), "command"].startswith("partreid sweep ")
    assert ("p3_augment", "op-baseline-rc") in st.index
    complete = fake.status().assign(state="complete", command="")
    monkeypatch.setattr(type(fake), "status", lambda self: complete)
    assert list(rmgl.status_table(fake)["state"]) == ["every planned run has its record"]


def test_no_records_never_raise(tmp_path):
    ch = open_chapter("RMGL", tmp_path / "nothing", profile="cpu")
    for f in _renderers():
        if f in NO_CHAPTER:
            continue
        out = f(ch)
        if isinstance(out, Figure):
            assert not any(ax.axison for ax in out.axes)                                # a message, not empty axes
            assert "partreid sweep" in out.axes[0].texts[0].get_text()
            plt.close(out)
        elif isinstance(out, pd.DataFrame):
            assert not out.empty


def test_paper_tables_are_typed_and_formatted():
    assert rmgl.T5.value("2+3-stripe+RP+ABP+RSA (RMGL)", "Market mAP") == 90.0
    assert rmgl.T1.value("Auto-ReID", "Duke mAP") is None
    assert rmgl.T1.frame().loc["Auto-ReID", "Duke mAP"] == MISSING
    assert rmgl.T4.frame().index.names == ["source", "method"]
    with pytest.raises(KeyError):
        rmgl.T5.value("no such row", "Market mAP")
    for t in rmgl.PAPER_TABLES.values():
        assert re.match(r"Table [IVX]+, §IV-[A-D]$", t.source) and t.artefact in rmgl.ARTEFACTS
        assert all(len(v) == len(t.columns) for _, v in t.rows)
        _check_table(t.frame())
    assert rmgl.eq6_region(*rmgl.EQ6_LAYERS["res3 (after res_conv2c; RMGL)"], 2) == 35 + 47 * 4


def test_renderers_on_the_committed_records():
    ch = open_chapter("RMGL", profile="cpu", dataset="synth-s")
    if ch.runs.empty:
        pytest.skip("no committed RMGL records")
    for f in _renderers():
        if f in NO_CHAPTER:
            continue
        out = f(ch)
        if isinstance(out, Figure):
            assert any(ax.axison for ax in out.axes), f.__name__
            _check_figure(out)
        elif isinstance(out, pd.DataFrame) and f is not rmgl.status_table:
            _check_table(out)
            assert not any("no records" in c for c in _cells(out)), f.__name__
        elif isinstance(out, str) and f is not rmgl.claims_text:
            assert "no records" not in out and "no domain-shift record" not in out, f.__name__


def _notebook():
    return jupytext.read(NOTEBOOK)


def test_every_artefact_has_a_renderer_or_a_heading_in_the_notebook():
    nb = _notebook()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    called = set(re.findall(r"rmgl\.(\w+)\(", code)) | set(re.findall(r"rmgl\.(T\d)\.frame\(\)", code))
    for artefact in rmgl.ARTEFACTS:
        renderers = {f.__name__ for f in rmgl.RENDERERS.get(artefact, ())}
        table = rmgl.PAPER_TABLES.get(artefact)
        shown = (renderers & called) | ({table.artefact.split("-")[1]} & called if table else set())
        assert shown or re.search(rf"^#+ .*{artefact}(?!\d)|\*\*{artefact}\*\*", prose, re.M), artefact
    # a renderer the module has but the page never calls is an artefact that disappeared
    assert {f.__name__ for fs in rmgl.RENDERERS.values() for f in fs} <= called


def test_the_page_opens_with_the_glance_and_hides_its_plumbing():
    nb = _notebook()
    code = [c for c in nb.cells if c.cell_type == "code"]
    lines = sum(1 for c in code for ln in c.source.splitlines() if ln.strip())
    assert lines <= 250
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    assert all(c.cell_type == "markdown" for c in nb.cells[:first_code]) and first_code <= 1
    glance = next(c for c in code if "ch.glance()" in c.source)
    assert "remove-input" in glance.metadata.get("tags", [])
    assert code.index(glance) <= 2
    for c in code:
        assert set(c.metadata.get("tags", [])) & {"remove-cell", "remove-input", "hide-input"}, c.source[:60]
    text = "\n".join(c.source for c in nb.cells)
    for stale in ("the spec", "spec §", "pal.md", "session", "Welch t-test over seeds", "not confirmed", "3/3"):
        assert stale not in text, stale
    assert "metrics.json\").is_file()" not in text                                   # records via the toolkit
