"""The PLR-OSNet chapter's renderers: on fake records in a temporary folder, and on the committed records."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from partreid_core.engine import records
from partreid_core.reporting.chapter import MISSING, open_chapter
from partreid_core.reporting.papers import plr_osnet as plr

matplotlib.use("Agg")

TARGETS = ["global", "part1", "part2", "part3", "part4"]


def _fake_run(root: Path, experiment: str, variant: str, seed: int, m_ap: float, cams: bool = False) -> None:
    """One complete run record; with ``cams`` the ``plr_cam`` arrays of 5 targets on 6 images of 16×8."""
    path = records.run_dir(root, experiment, f"{variant}-s{seed}")
    records.write_config(path, {"model": "plr_osnet", "profile": "cpu", "data": {"dataset": "synth-s"}},
                         {"seed": seed, "variant": variant})
    if cams:
        rng = np.random.default_rng(seed)
        profile = np.zeros((5, 16), np.float32)
        for t, row in enumerate([5, 1, 6, 10, 14]):         # part p's mass in its own stripe
            profile[t, row] = 1.0
        records.write_analysis(path, {
            "plr_cam/target_names": np.array(TARGETS), "plr_cam/row_profile": profile,
            "plr_cam/part_mass": np.full((5, 6, 8), 1 / 8, np.float32),
            "plr_cam/body_mass": np.ones((5, 6), np.float32),
            "plr_cam/overlap": np.eye(5, dtype=np.float32) * 0.7 + 0.3,
            "plr_cam/maps": rng.random((5, 6, 16, 8)).astype(np.float16),
            "plr_cam/images": rng.integers(0, 255, (6, 3, 16, 8), dtype=np.uint8),
            "plr_cam/masks": rng.integers(0, 8, (6, 16, 8), dtype=np.uint8)})
    records.write_metrics(path, {"mAP": m_ap, "rank1": m_ap + 10})


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """3 seeds of plr_osnet (with Grad-CAM arrays), osnet, multiple_id and detected plr_osnet; no local_only,
    global_only, no_attention, hard_margin, detected osnet / multiple_id, no rank list."""
    root = tmp_path_factory.mktemp("plr-records")
    for s in range(3):
        _fake_run(root, "plr_osnet-core", "plr_osnet", s, 40.0 + s, cams=True)
        _fake_run(root, "plr_osnet-core", "osnet", s, 20.0 + s)
        _fake_run(root, "plr_osnet-core", "multiple_id", s, 30.0 + 2 * s, cams=True)
        _fake_run(root, "plr_osnet-detected", "plr_osnet", s, 25.0 + s)
    return open_chapter("PLR", root)


def _no_raw_cells(df: pd.DataFrame) -> None:
    """Every cell a formatted string: no NaN, no raw floats, no markdown."""
    for v in df.to_numpy().ravel():
        assert isinstance(v, str), v
        assert "nan" not in v.lower() and "*" not in v, v


def _readable(fig: Figure) -> None:
    """Non-empty axes and every text at least the renderers' minimum font size."""
    axes = [ax for ax in fig.axes if ax.has_data() or ax.images or ax.patches or ax.texts]
    assert axes, "figure without drawn axes"
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text()) >= plr.MIN_FONT


def test_chapter_keys_separate_the_detected_regime(fake):
    assert list(fake.values("plr_osnet", "mAP")) == [40.0, 41.0, 42.0]
    assert list(fake.values("detected/plr_osnet", "mAP")) == [25.0, 26.0, 27.0]
    assert set(fake.of("detected/plr_osnet")["sweep_variant"]) == {"plr_osnet"}


def test_ablation_tables_on_fake_records(fake):
    t3 = plr.table_t3_ours(fake)
    assert list(t3.index) == ["PLR-OSNet, default boxes", "OSNet, default boxes", "PLR-OSNet, detected boxes",
                              "OSNet, detected boxes"]
    _no_raw_cells(t3)
    assert t3.loc["PLR-OSNet, default boxes", ("mAP", "ours")] == "41.0 ± 1.0 (n=3)"
    assert t3.loc["OSNet, default boxes", ("mAP", "ours Δ")] == "-20.0"           # paired by seed
    assert t3.loc["OSNet, default boxes", ("mAP", "paper")] == MISSING            # not reported in Table III
    assert t3.loc["OSNet, detected boxes", ("mAP", "paper Δ")] == "-9.4"
    assert t3.loc["OSNet, detected boxes", ("mAP", "ours")] == MISSING            # no record
    assert t3.loc["PLR-OSNet, detected boxes", ("mAP", "ours Δ")] == "(ref.)"
    t4 = plr.table_t4_ours(fake)
    assert (t4.loc["no global branch (local_only)", ("mAP", "ours")], t4.loc["no global branch (local_only)",
            ("mAP", "paper")]) == (MISSING, "86.9")
    t5 = plr.table_t5_ours(fake)
    assert t5.loc["multiple ID loss, default boxes", ("Rank-1", "ours Δ")] == "-9.0"   # (30, 32, 34) - (40, 41, 42)
    for fn in (plr.table_t6_ours, plr.table_t7_ours):
        assert (fn(fake).xs("ours", axis=1, level=1).iloc[1] == MISSING).all()


def test_claims_and_status_on_fake_records(fake):
    claims = plr.table_claims(fake)
    assert list(claims.index) == [c.id for c in plr.CLAIMS]
    _no_raw_cells(claims)
    assert claims.loc["T5-single-id", "ours: Δ [95 % CI]"].startswith("+9.0 [")
    assert claims.loc["T4-global", "ours: Δ [95 % CI]"].startswith("no records")
    assert claims.loc["T7-soft-margin", "paper's Δ"] == MISSING
    summary = plr.claims_summary(fake)
    assert isinstance(summary, plr.Note) and summary.count("\n- ") == len(plr.CLAIMS) - 1
    status = plr.status_table(fake)
    assert isinstance(status, pd.DataFrame) and "local_only" in set(status["variant"])
    assert status["command"].str.startswith("partreid sweep ").all()
    assert list(fake.glance()["claim"]) == [c.id for c in plr.CLAIMS if c.headline]


def test_f4_renderers_on_fake_records(fake):
    _readable(plr.fig_f4_maps(fake))
    _readable(plr.fig_f4_profiles(fake))
    mass = plr.table_f4_mass(fake)
    assert set(mass.index) == {(k, t) for k in ("plr_osnet", "multiple_id") for t in TARGETS}
    _no_raw_cells(mass)
    assert mass.loc[("plr_osnet", "part4"), "centre of mass"] == "0.906 ± 0.000"     # row 14.5 / 16
    missing = plr.fig_f4_maps(fake, key="osnet")
    assert isinstance(missing, plr.Note) and "no `osnet` record" in missing
    assert isinstance(plr.fig_f5(fake), plr.Note)                                    # no rank-list record


def test_notes_on_empty_records(tmp_path):
    ch = open_chapter("PLR", tmp_path / "nothing")
    for fn in (plr.table_f4_mass, plr.fig_f4_maps, plr.fig_f4_profiles, plr.fig_f5):
        assert isinstance(fn(ch), plr.Note)
    assert (plr.table_t6_ours(ch).xs("ours", axis=1, level=1) == MISSING).all().all()


def test_paper_tables_are_typed_and_cited():
    assert set(plr.TABLES) == {"PLR-T1", "PLR-T2", "PLR-T3", "PLR-T4", "PLR-T5", "PLR-T6", "PLR-T7"}
    for aid, table in plr.TABLES.items():
        assert table.source.startswith("Table ") and "§IV-" in table.source, aid
        df = table.frame()
        assert len(df) == len(table.rows) and df.shape[1] == len(table.columns)
        _no_raw_cells(df)
    t3 = plr.TABLES["PLR-T3"]
    assert t3.value("PCB (ECCV'18)", "CUHK03-L", "mAP") is None and t3.frame().iloc[3, 0] == MISSING
    assert plr.TABLES["PLR-T4"].value("Yes", "Market-1501", "mAP") == 88.9
    with pytest.raises(ValueError):
        plr.PaperTable("X", "Table X", "x", "m", (("a", "mAP"),), (("row", (1.0, 2.0)),))


@pytest.fixture(scope="module")
def committed():
    return open_chapter("PLR")


def test_every_renderer_on_the_committed_records(committed):
    """No exception, no "no records" for a run that exists, readable figures; the model-size and schedule
    checks match their references."""
    if committed.runs.empty:
        pytest.skip("no committed PLR records")
    for aid, renderers in plr.RENDERERS.items():
        for fn in renderers:
            out = fn(committed)
            assert not isinstance(out, plr.Note), (aid, fn.__name__, out)
            if isinstance(out, Figure):
                _readable(out)
            else:
                _no_raw_cells(out)
                assert not out.apply(lambda c: c.str.contains("no records")).any().any(), fn.__name__
    assert (plr.table_m1_variants(committed)["match"] == "yes").all()
    assert (plr.table_s1(committed)["match (4 digits)"] == "yes").all()
    m1 = plr.table_m1(committed)
    assert m1.loc["plr_osnet", "ours, torchreid counter"] == m1.loc["plr_osnet", "torchreid reference"]
    claims = plr.table_claims(committed)
    assert list(claims["verdict"]) == list(plr.claims_table(committed.results)["verdict"])
