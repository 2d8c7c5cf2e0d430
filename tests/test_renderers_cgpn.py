"""CGPN renderers: on fake records in a tmp folder (figures with drawn axes, tables with the expected rows and
formatted cells, "—" where a run is missing) and on the committed records (no exception, no "no records" where
the records exist); the Grad-CAM shares by hand."""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from partreid_core.analysis.chapter_hooks import cgpn as hooks  # noqa: E402
from partreid_core.engine import records  # noqa: E402
from partreid_core.reporting.chapter import MISSING, open_chapter  # noqa: E402
from partreid_core.reporting.papers import cgpn  # noqa: E402

FIGURES = ("fig_x1", "fig_x2", "fig_x2_cams", "fig_x3", "fig_x5")
NUMBER_LIKE_DEFECTS = ("nan", "None", "0.000000")


def _fake_run(root, variant: str, seed: int, m_ap: float, cam: float = 0.1) -> None:
    """A complete cgpn run record with every array the renderers read (shapes as the hooks store them)."""
    path = records.run_dir(root, "cgpn", f"{variant}-s{seed}")
    records.write_config(path, {"model": "cgpn", "data": {"dataset": "synth-s"}, "profile": "cpu", "seed": seed},
                         {"seed": seed, "variant": variant, "device": "cpu"})
    lv = np.array(hooks.KNOB_LEVELS, np.float32)
    k, j = len(hooks.CONDITIONS), len(hooks.HEAD_NAMES)
    peak = np.zeros((k, j, 3), np.float32)
    peak[..., 1], peak[..., 2] = 0.6, 0.4
    e = k * hooks.N_EXAMPLES_PER_CONDITION
    rng = np.random.default_rng(seed)
    records.write_analysis(path, {
        "cgpn_knobs/levels": lv, "cgpn_knobs/occlusion_mAP": np.float32(m_ap) - 10 * lv,
        "cgpn_knobs/truncation_mAP": np.float32(m_ap) - 20 * lv,
        "cgpn_parts/peak_composition": peak, "cgpn_parts/area_share": np.tile([0.5, 0.3, 0.2], (k, 1)),
        "cgpn_parts/cam_part_mass": np.full((k, j, 8), cam, np.float32),
        "cgpn_parts/head_target_cos": np.full((k, 6), 0.9, np.float32),
        "cgpn_parts/example_images": rng.random((e, 3, 16, 8), dtype=np.float32),
        "cgpn_parts/example_cams": rng.random((e, j, 16, 8), dtype=np.float32),
        "cgpn_single_window/names": np.array(["N2[0]/global", "N2[0]/stripes1-1of2", "N4[2]/stripes1-3of4"]),
        "cgpn_single_window/height_frac": np.array([1.0, 0.5, 0.75], np.float32),
        "cgpn_single_window/holistic_mAP": np.array([60.0, 50.0, 40.0], np.float32),
        "cgpn_single_window/occluded_mAP": np.array([30.0, 25.0, 30.0], np.float32)})
    records.write_history(path, [{"epoch": ep, "loss/id": 5.0 / ep, "loss/triplet": 1.0 / ep, "loss/mse": 0.1 / ep,
                                  "lr": 0.01} for ep in (1, 2, 3)])
    records.write_metrics(path, {"rank1": m_ap + 10, "mAP": m_ap, "mAP_trapezoid": m_ap - 1})


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """CGPN and CGPN-4 with three seeds (CGPN-4's Grad-CAM all zero), CGPN-2 with two; nothing else."""
    root = tmp_path_factory.mktemp("cgpn-records")
    for s in range(3):
        _fake_run(root, "cgpn", s, 60.0 + s)
        _fake_run(root, "cgpn4_unsup", s, 58.0 + 2 * s, cam=0.0)
    for s in range(2):
        _fake_run(root, "cgpn2_fine", s, 55.0)
    return open_chapter("CGPN", results=root)


def _drawn(ax) -> bool:
    return bool(ax.lines or ax.images or ax.collections or ax.containers or ax.patches)


def _check_figure(fig, every_axes: bool = True) -> None:
    """A Figure whose axes are drawn (every one, or for a rank list with its blank cells, most), fonts >= 8 pt."""
    assert isinstance(fig, Figure) and fig.axes
    drawn = [_drawn(ax) for ax in fig.axes]
    assert all(drawn) if every_axes else np.mean(drawn) > 0.5, [ax.get_title() for ax in fig.axes]
    small = [t.get_text() for t in fig.findobj(Text) if t.get_text() and t.get_fontsize() < cgpn.MIN_FONT]
    assert not small


def _cells(table) -> pd.DataFrame:
    return table.data if hasattr(table, "data") else table


def _no_raw_numbers(frame: pd.DataFrame) -> None:
    for v in frame.to_numpy().ravel():
        assert isinstance(v, str), v                                   # formatted, never a raw float
        assert not any(d in v for d in NUMBER_LIKE_DEFECTS), v


@pytest.mark.parametrize("name", FIGURES)
def test_figures_on_fake_records(fake, name):
    fig = getattr(cgpn, name)(fake)
    _check_figure(fig)
    plt.close(fig)


def test_t2_tables_on_fake_records(fake):
    t = _cells(cgpn.table_t2_ours(fake, "synth-s"))
    assert list(t.index) == list(cgpn.T2_VARIANTS)
    _no_raw_numbers(t)
    assert t.loc["CGPN", "mAP ours"] == "61.0 ± 1.0 (n=3)"
    assert t.loc["CGPN", "mAP paper (Market-1501)"] == "89.9"
    assert t.loc["CGPN", "mAP ours − paper"] == "-28.9"
    assert t.loc["CGPN-1", "mAP ours"] == MISSING and t.loc["CGPN-1", "mAP ours − paper"] == MISSING
    occ = _cells(cgpn.table_t2_ours(fake, "S-occluded"))
    assert (occ["mAP ours"] == MISSING).all() and occ.loc["CGPN", "mAP paper (CUHK03-labeled)"] == "83.6"
    d = _cells(cgpn.table_t2b(fake))
    assert list(d.index) == [f"{a} − {b}" for a, b in cgpn.TABLE2B_TEXT]
    _no_raw_numbers(d)
    # CGPN-4 - CGPN per seed: mAP (58 - 60, 60 - 61, 62 - 62) -> mean -1.0; Rank-1 the same
    assert d.loc["CGPN-4 − CGPN", "ours synth-s"] == "-1.0 / -1.0 (n=3)"
    assert d.loc["CGPN-4 − CGPN", "paper CUHK03-labeled"] == "-3.7 / -2.9"
    assert d.loc["CGPN-1 − CGPN", "ours synth-s"] == MISSING and (d["ours S-occluded"] == MISSING).all()
    p = _cells(cgpn.table_t1(fake))
    assert p.loc["IDE", "Market-1501 mAP"] == MISSING and p.loc["CGPN", "CUHK03-labeled Rank-1"] == "87.1"
    o = _cells(cgpn.table_t1_ours(fake))
    assert o.loc["MGN (ours, CGPN's recipe)", "synth-s mAP"] == MISSING


def test_analysis_tables_on_fake_records(fake):
    x1 = _cells(cgpn.table_x1(fake))
    assert list(x1.index) == list(cgpn.X1_VARIANTS)
    _no_raw_numbers(x1)
    assert x1.loc["cgpn", "mAP at occlusion 0.9"] == "52.0 ± 1.0 (n=3)" and x1.loc["mgn", "clean mAP"] == MISSING
    x2 = _cells(cgpn.table_x2(fake))
    assert set(x2.index.get_level_values(0)) == {"cgpn", "cgpn4_unsup", "cgpn2_fine"}
    _no_raw_numbers(x2)
    assert x2.loc[("cgpn", "holistic"), "Grad-CAM upper share, conv_1 heads"] == "0.57"     # 4 of 7 body classes
    assert x2.loc[("cgpn4_unsup", "holistic"), "Grad-CAM upper share, conv_1 heads"] == MISSING  # all-zero CAMs
    x3 = _cells(cgpn.table_x3(fake))
    assert ("cgpn", "local", "0.75") in x3.index and x3.loc[("cgpn", "local", "0.50"), "relative loss %"] == "50.0"
    assert x3.loc[("cgpn2_fine", "global", "1.00"), "seeds"] == "2"
    tri = _cells(cgpn.table_triplet(fake))
    assert (tri.iloc[1] == MISSING).all()


def test_claims_status_and_missing_records(fake):
    t = _cells(cgpn.table_claims(fake))
    judged = cgpn.claims_table(fake.results)
    assert list(t.index) == [c.id for c in cgpn.CLAIMS] and list(t["verdict"]) == list(judged["verdict"])
    assert t.loc["C7", "observed"].startswith("no records") and t.loc["C7", "MDE"] == MISSING
    text = cgpn.claims_text(fake)
    assert text.count("\n* ") == len(cgpn.CLAIMS) - 1 and "**C3**" in text
    st = cgpn.status_table(fake)
    assert {"mgn", "cgpn1_noloc"} <= set(st["variant"]) and st["command"].str.startswith("partreid sweep").all()
    fig = cgpn.fig_f5(fake)                                     # no rank-list record: a message, not empty axes
    assert any("no rank-list record" in t.get_text() for t in fig.findobj(Text))
    plt.close(fig)


def test_shares_by_hand():
    mass = np.zeros((2, 8))
    mass[0, [1, 2, 5]] = [1.0, 1.0, 2.0]       # upper 2, lower 2, background ignored
    mass[0, 0] = 9.0
    np.testing.assert_allclose(cgpn.cam_upper_share(mass), [0.5, np.nan])
    np.testing.assert_allclose(cgpn.peak_upper_share(np.array([[0.2, 0.6, 0.2], [1.0, 0.0, 0.0]])), [0.75, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(cgpn.mean_share(np.array([np.nan, np.nan])))
    assert cgpn.mean_share(np.array([0.2, np.nan, 0.4])) == pytest.approx(0.3)
    names = np.array(hooks.HEAD_NAMES)
    assert all("conv1" in n for n in names[list(cgpn.CONV1_HEADS)])
    assert all("conv2" in n for n in names[list(cgpn.CONV2_HEADS)])
    assert all("stripe" in n for n in names[list(cgpn.STRIPE_HEADS)])


@pytest.fixture(scope="module")
def committed():
    return open_chapter("CGPN", profile="cpu")


def test_renderers_on_committed_records(committed):
    """Every renderer runs on the repository's records; where a variant has records its cells are filled."""
    if committed.runs.empty:
        pytest.skip("no committed CGPN records")
    for fns in cgpn.RENDERERS.values():
        for fn in fns:
            out = fn(committed)
            if isinstance(out, Figure):
                _check_figure(out, every_axes=fn is not cgpn.fig_f5)
                plt.close(out)
            else:
                cells = _cells(out).astype(str)
                assert not cells.apply(lambda c: c.str.contains("no records|nan")).any().any(), fn.__name__
    t2 = _cells(cgpn.table_t2_ours(committed))
    for row, variant in cgpn.T2_VARIANTS.items():
        assert (t2.loc[row, "mAP ours"] == MISSING) == (not committed.has(variant)), row


def test_glance_is_partreid_claims(committed):
    """The chapter's at-a-glance rows are the headline claims of ``partreid claims --paper CGPN``."""
    g = committed.glance(link_prefix=None)
    judged = cgpn.claims_table(committed.results)
    head = judged[judged["headline"] == True]  # noqa: E712
    assert list(g["claim"]) == list(head["claim"]) and list(g["scratch: verdict"]) == list(head["verdict"])
