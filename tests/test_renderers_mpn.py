"""The MPN chapter's renderers (``partreid_core.reporting.papers.mpn``): on fake records, on none, on the
committed records, and the reference tables against the claims that quote them."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from pandas.io.formats.style import Styler

from partreid_core.engine import records
from partreid_core.reporting.chapter import MISSING, open_chapter
from partreid_core.reporting.papers import mpn
from partreid_core.reporting.papers.mpn import reference

matplotlib.use("Agg")

K, N, H, W, C = 6, 8, 16, 8, 32
#: renderers that read no records (they draw the synthetic data or build models)
NO_RECORDS = {"fig_f1", "fig_f5", "table_f6", "table_t8"}


def _arrays(rng: np.random.Generator, ap: float) -> dict[str, np.ndarray]:
    """Every analysis array the renderers read, at small shapes, with the trapezoid mAP curve starting at ``ap``."""
    strip = rng.dirichlet(np.ones(K + 1), size=(K, N))
    images = rng.integers(0, 255, (2, 3, H, W), dtype=np.uint8)
    out = {"mpn_misalignment/levels": np.array([0, .3, .6, .9], np.float32),
           "mpn_misalignment/mAP_trapezoid": np.array([ap, ap - 5, ap - 10, ap - 20], np.float32),
           "mpn_misalignment/rank1": np.array([ap + 10, ap + 5, ap, ap - 10], np.float32),
           "mpn_channels/part_height": np.linspace(0.2, 0.8, K), "mpn_channels/importance": rng.random((K, C)),
           "mpn_channels/channel_height": rng.random(C),
           "mpn_gradcam/maps": rng.random((2, K, H, W)).astype(np.float16), "mpn_gradcam/images": images,
           "mpn_gradcam/strip_mass": strip, "mpn_gradcam/cam_height": rng.random((K, N)),
           "mpn_gradcam/mean_correlation": rng.random(N),
           "mpn_channel_maps/channels": np.array([3, 7, -1, 1, 2]), "mpn_channel_maps/images": images,
           "mpn_channel_maps/maps": rng.random((2, 5, 8, 4)), "mpn_channel_maps/peak_mean": np.linspace(0.1, 0.9, 5),
           "mpn_channel_maps/peak_std": np.full(5, 0.2), "mpn_channel_maps/all_peak_std": rng.random(C),
           "mpn_nuisance_cams/groups": np.array(["detector error", "pose"]),
           "mpn_test_prior/levels": np.array([0, .5, 1], np.float32),
           "mpn_test_prior/at_mAP": np.array([ap - 20, ap - 30, ap - 25], np.float32),
           "mpn_test_prior/mt_mAP": np.float32(ap)}
    for g in ("detector_error", "pose"):
        out |= {f"mpn_nuisance_cams/{g}/hit_rate": rng.random(K), f"mpn_nuisance_cams/{g}/images": images,
                f"mpn_nuisance_cams/{g}/maps": rng.random((2, K, H, W)),
                f"mpn_nuisance_cams/{g}/mean_correlation": rng.random(16)}
    return out


def _run(root: Path, variant: str, seed: int, ap: float, rng: np.random.Generator) -> None:
    path = records.run_dir(root, "mpn-t1", f"{variant}-s{seed}")
    records.write_config(path, {"model": "mpn", "profile": "cpu", "data": {"dataset": "synth-s"}},
                         {"seed": seed, "variant": variant, "device": "cpu"})
    records.write_analysis(path, _arrays(rng, ap))
    records.write_metrics(path, {"mAP_trapezoid": ap + rng.normal(0, 0.5), "rank1": ap + 10.0, "mAP": ap + 2})


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """Three seeds of Baseline, MT Only and MPN (every hook), nothing of the other variants."""
    root = tmp_path_factory.mktemp("mpn-records")
    rng = np.random.default_rng(0)
    for seed in range(3):
        for variant, ap in (("baseline", 40.0), ("mt_only", 45.0), ("mpn", 50.0)):
            _run(root, variant, seed, ap, rng)
    return open_chapter("MPN", results=root)


def _cells(out: Styler) -> list[str]:
    df = out.data
    return [str(x) for x in df.to_numpy().ravel()] + [str(x) for x in df.index.to_flat_index()]


def _assert_clean(out: Styler) -> None:
    """Formatted text only: no NaN, no None, no raw float of many digits, no markdown emphasis."""
    for cell in _cells(out):
        assert cell not in ("nan", "NaN", "None", "<NA>"), cell
        assert "**" not in cell and "\\*" not in cell, cell
        for token in cell.replace("[", " ").replace("]", " ").replace(",", " ").split():
            if token.lstrip("+-").replace(".", "", 1).isdigit() and "." in token:
                assert len(token.split(".")[1]) <= 3, f"raw float {token!r} in {cell!r}"


def _assert_figure(fig: Figure) -> None:
    """Every axes draws something; every text is at least 8 pt."""
    assert isinstance(fig, Figure) and fig.axes
    fig.canvas.draw()
    assert all(ax.has_data() for ax in fig.axes)
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text) if t.get_text() and t.get_visible()
             and t.get_fontsize() < 8]
    assert not small, small


def test_table_t1_has_every_variant_and_dashes_for_missing_runs(fake):
    out = mpn.table_t1(fake)
    df = out.data
    assert list(df.index) == [mpn.LABEL[v] for v in mpn.T1_ORDER]
    assert df.loc["MPN", "Rank-1 paper"] == "96.3" and df.loc["Baseline", "mAP paper"] == "84.4"
    assert df.loc["MPN", "Rank-1 ours"] == "60.0 ± 0.0 (n=3)"
    assert df.loc["MPN", "Rank-1 ours − paper"] == "-36.3"
    assert df.loc["Naive MTL", "mAP ours"] == MISSING and df.loc["Naive MTL", "mAP ours − paper"] == MISSING
    _assert_clean(out)


def test_record_figures_on_fake_records(fake):
    for fn in (mpn.fig_t1, mpn.fig_x1, mpn.fig_x3, mpn.fig_x4, mpn.fig_f2, mpn.fig_f7, mpn.fig_f8):
        _assert_figure(fn(fake))
    grid = mpn.fig_f7(fake)
    assert len(grid.axes) == 3 * (K + 1)  # Baseline, MT Only, MPN: the image and K CAMs each
    x1 = mpn.fig_x1(fake)
    labels = x1.axes[1].get_legend_handles_labels()[1]
    assert labels == ["Baseline (n=3)", "MT Only (n=3)", "MPN (n=3)"]
    assert x1.axes[1].get_legend() is not None  # outside the data, right of the second panel


def test_record_tables_on_fake_records(fake):
    x1 = mpn.table_x1(fake).data
    assert list(x1.index) == ["Baseline", "MT Only", "MPN"]
    assert x1.loc["MPN", "misalignment 0"] == "50.0" and x1.loc["MPN", "drop 0 → 0.9"] == "20.0"
    x5 = mpn.table_x5(fake).data
    assert list(x5.index) == [("MPN", "0"), ("MPN", "0.5"), ("MPN", "1")]
    assert x5.loc[("MPN", "0.5"), "AT-at-test mAP"] == "20.0 ± 0.0"
    f2 = mpn.table_f2(fake).data
    assert len(f2) == 3 * 5 and f2.loc[(0, 3), "channel"] == MISSING
    assert list(mpn.table_f8(fake).data.index) == ["detector error", "pose"]
    assert list(mpn.table_x4(fake).data.index) == ["Baseline", "MT Only", "MPN"]
    for fn in (mpn.table_x1, mpn.table_x5, mpn.table_f2, mpn.table_f8, mpn.table_x4, mpn.table_claims):
        _assert_clean(fn(fake))


def test_missing_variants_give_a_note_with_the_command(fake):
    note = mpn.fig_x2(fake)  # MPN° and the noise variants have no run
    assert isinstance(note, mpn.Note) and "no records yet" in note
    assert "partreid sweep" in note and "p2_prior_noise.yaml" in note
    status = mpn.status_table(fake).data
    assert {"naive_mtl", "noise1", "mpn"} <= set(status["variant"])
    assert status.set_index("variant").loc["mpn", "seeds"] == "3 of 5"


def test_claims_table_has_the_rows_of_partreid_claims(fake):
    claims = fake.claims()
    table = mpn.table_claims(fake).data
    assert list(table["claim"]) == list(claims["claim"])
    assert list(table["verdict"]) == list(claims["verdict"])
    row = table.set_index("claim").loc["C2-mpn-baseline"]
    assert row["paper's Δ"] == "+5.0" and row["ours: Δ [95 % CI]"].startswith("+")
    assert table.set_index("claim").loc["C2-cf", "ours: Δ [95 % CI]"] == MISSING  # no MPN° run
    headline = set(claims.loc[claims["headline"] == True, "claim"])  # noqa: E712
    assert set(fake.glance()["claim"]) == headline
    reading = mpn.claims_reading(fake)
    assert reading.count("\n") == len(claims) - 1 and "nan" not in reading


def test_every_renderer_on_no_records(tmp_path):
    ch = open_chapter("MPN", results=tmp_path / "nothing")
    for artefact, fns in mpn.RENDERERS.items():
        for fn in fns:
            if fn.__name__ in NO_RECORDS:
                continue
            out = fn(ch)
            assert isinstance(out, Styler | mpn.Note), (artefact, fn.__name__)
            if isinstance(out, Styler):
                _assert_clean(out)


def test_reference_tables_are_complete_and_agree_with_the_claims():
    for artefact, table in reference.TABLES.items():
        df = table.frame()
        assert not df.index.duplicated().any(), artefact
        assert df.size and not df.isin(["nan", "None"]).any().any(), artefact
    assert reference.T6.frame().loc[("SPF", "HPDN [82]"), "detected Rank-1"] == MISSING
    assert set(reference.T1_ROWS) == set(mpn.T1_ORDER)
    for claim in mpn.CLAIMS:  # the Table 1 Δs the claims quote are differences of the transcribed rows
        if claim.paper_source.startswith("Table 1"):
            t, b = (reference.T1.value(reference.T1_ROWS[v], "Market mAP") for v in (claim.treatment, claim.baseline))
            assert claim.paper_effect == pytest.approx(t - b), claim.id


@pytest.fixture(scope="module")
def committed():
    ch = open_chapter("MPN", profile="cpu", dataset="synth-s")
    if ch.runs.empty:
        pytest.skip("no committed MPN records in this checkout")
    return ch


def test_every_renderer_on_the_committed_records(committed):
    """Records exist for every artefact the renderers draw: none may say "no records", none may fail."""
    for artefact, fns in mpn.RENDERERS.items():
        for fn in fns:
            if fn.__name__ == "table_t8":
                continue  # four full-width ResNet-50s: exercised by the chapter's execution
            out = fn(committed)
            assert not isinstance(out, mpn.Note), (artefact, fn.__name__, out)
            if isinstance(out, Figure):
                _assert_figure(out)
            else:
                _assert_clean(out)
                assert not pd.Series(_cells(out)).str.contains("no records").any(), fn.__name__
