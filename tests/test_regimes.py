"""The two regimes of the study: ``partreid sweep --profile cpu-ft`` writes under ``results/fine-tuned``, and the
claims, the at-a-glance table and the chapters judge each regime on its own records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from partreid_core.cli import main
from partreid_core.config import ConfigError
from partreid_core.experiments.config import resolve_config
from partreid_core.experiments.sweep import load_sweep, plan, profile_regime, sweep_regime, with_profile

SWEEPS = Path(__file__).resolve().parents[1] / "partreid_core" / "experiments" / "sweeps"


# --------------------------------------------------------------------------------------------------- sweeps
def test_profiles_and_their_regimes():
    assert {p: profile_regime(p) for p in ("smoke", "cpu", "cpu-ft", "gpu")} == {
        "smoke": "scratch", "cpu": "scratch", "cpu-ft": "fine-tuned", "gpu": "scratch"}
    sw = load_sweep(SWEEPS / "pal" / "p1_globalpool.yaml")
    assert sweep_regime([sw]) == "scratch" and sweep_regime(with_profile([sw], "cpu-ft")) == "fine-tuned"
    with pytest.raises(ConfigError, match="mix regimes"):
        sweep_regime([sw, *with_profile([sw], "cpu-ft")])
    with pytest.raises(ConfigError, match="unknown profile"):
        with_profile([sw], "cpu-fast")


def test_sweep_profile_cpu_ft_plans_the_papers_recipe_into_fine_tuned(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)   # the default records root is ./results
    file = SWEEPS / "pal" / "p1_globalpool.yaml"
    assert main(["sweep", str(file), "--profile", "cpu-ft", "--dry-run", "--only", "globalpool_ps"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert [line.split()[1] for line in lines if line] == [f"results/fine-tuned/pal-globalpool/globalpool_ps-s{s}"
                                                             for s in range(5)]
    assert all(line.startswith("planned") for line in lines if line)
    # the scratch grid of the same file keeps the records root
    assert main(["sweep", str(file), "--dry-run", "--only", "globalpool", "--seeds", "0"]) == 0
    assert capsys.readouterr().out.split() == ["planned", "results/pal-globalpool/globalpool-s0"]
    # what those runs would train: the cpu-ft profile and the paper's optimiser, not the scratch recalibration
    (sw,) = with_profile([load_sweep(file)], "cpu-ft")
    (_, cfg), = plan(sw, only=["globalpool_ps"], seeds=[0])
    paper, scratch = resolve_config("pal_globalpool", "cpu-ft"), resolve_config("pal_globalpool", "cpu")
    assert cfg.profile == "cpu-ft" and cfg.model_overrides["backbone"]["pretrained"] == "synth"
    assert (cfg.optim, cfg.schedule, cfg.train.epochs) == (paper.optim, paper.schedule, paper.train.epochs)
    assert cfg.optim.lr != scratch.optim.lr
    assert cfg.experiment == "pal-globalpool" and cfg.model == "globalpool_ps"


def test_a_cpu_ft_sweep_records_regime_and_trunk(tmp_path, monkeypatch, capsys):
    from partreid_core.models.backbones import resnet50, trunk_path
    from partreid_core.models.backbones.synth_trunks import file_sha256

    for var in ("PARTREID_WEIGHTS", "PARTREID_CHECKPOINTS", "PARTREID_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    trunk = trunk_path("resnet50", 0.25)
    trunk.parent.mkdir(parents=True)
    torch.save({"state_dict": resnet50(width=0.25).state_dict(), "meta": {"profile": "cpu"}}, trunk)
    sweep = {"experiment": "tiny", "recipe": "pal_globalpool", "profile": "cpu", "seeds": [0],
             "set": {"data": {"dataset": "synth-tiny", "size": [64, 32], "batch_size": 16},
                     "train": {"epochs": 1, "iters_per_epoch": 2, "progress": False}, "eval": {"rerank": False},
                     "analysis": []}}
    file = tmp_path / "tiny.yaml"
    file.write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(file), "--profile", "cpu-ft"]) == 0
    assert capsys.readouterr().out.split() == ["trained", "results/fine-tuned/tiny/default-s0"]
    meta = json.loads((tmp_path / "results/fine-tuned/tiny/default-s0/config.json").read_text())
    assert meta["regime"] == "fine-tuned" and meta["config"]["profile"] == "cpu-ft"
    assert meta["pretrained_trunk"] == {"name": trunk.name, "sha256": file_sha256(trunk), "source": "synth"}
    assert not (tmp_path / "results/tiny").exists()


# --------------------------------------------------------------------------------------------------- claims
MAP = "mAP_trapezoid"   # PAL's mAP column (reporting.papers.pal.MAP)
# PAL's headline pairs C1-gp-mAP (globalpool_ps vs globalpool) and C1-pcb-mAP (pcb_ps vs pcb), five seeds each:
# the GlobalPool gain holds in both regimes, the PCB one only from scratch (fine-tuned, PS costs 5 points)
GAINS = {"scratch": {"pal-globalpool": 5.0, "pal-pcb": 5.0}, "fine-tuned": {"pal-globalpool": 5.0, "pal-pcb": -5.0}}
PAIRS = {"pal-globalpool": ("globalpool_ps", "globalpool"), "pal-pcb": ("pcb_ps", "pcb")}


def _record(path: Path, variant: str, seed: int, value: float, regime: str) -> None:
    path.mkdir(parents=True)
    cfg = {"model": variant, "profile": "cpu" if regime == "scratch" else "cpu-ft", "data": {"dataset": "synth-s"}}
    (path / "config.json").write_text(json.dumps({"config": cfg, "seed": seed, "variant": variant, "regime": regime}))
    (path / "metrics.json").write_text(json.dumps({"rank1": value, MAP: value, "split": "test"}))


@pytest.fixture()
def two_regimes(tmp_path) -> Path:
    """Records of PAL's two headline pairs in both regimes: scratch under the root, fine-tuned under root/fine-tuned."""
    for regime, gains in GAINS.items():
        root = tmp_path / ("fine-tuned" if regime == "fine-tuned" else "")
        for exp, gain in gains.items():
            treatment, baseline = PAIRS[exp]
            for seed in range(5):
                base = 40.0 + seed + (0.1 * seed * seed)     # a seed effect shared by both arms
                _record(root / exp / f"{baseline}-s{seed}", baseline, seed, base, regime)
                _record(root / exp / f"{treatment}-s{seed}", treatment, seed, base + gain + 0.2 * (seed % 2), regime)
    return tmp_path


def test_claims_per_regime_and_the_wide_table(two_regimes):
    from partreid_core.reporting.cli import DEPENDENT, ROBUST, gather_claims, regime_table

    rows = gather_claims(two_regimes, ["PAL"])
    assert list(rows["regime"].unique()) == ["scratch", "fine-tuned"]
    by = rows.set_index(["regime", "id"])
    assert by.loc[("scratch", "C1-gp-mAP"), "verdict"] == by.loc[("fine-tuned", "C1-gp-mAP"), "verdict"] == "confirmed"
    assert by.loc[("scratch", "C1-pcb-mAP"), "verdict"] == "confirmed"
    assert by.loc[("fine-tuned", "C1-pcb-mAP"), "verdict"] == "contradicted"
    assert by.loc[("fine-tuned", "C1-pcb-mAP"), "difference"] == pytest.approx(-5.0 + 0.2 * 2 / 5)
    # Holm runs per regime: each regime's family holds only its own p-values
    for regime in ("scratch", "fine-tuned"):
        mine = rows[rows.regime == regime]
        assert mine["p_holm"].notna().sum() == mine.loc[mine.kind != "sanity", "p"].notna().sum()
    wide = regime_table(rows).set_index("id")
    assert wide.loc["C1-gp-mAP", "regime"] == ROBUST and wide.loc["C1-pcb-mAP", "regime"] == DEPENDENT
    assert wide.loc["C1-mgn-mAP", "regime"] == "—"   # no MGN records in either regime
    assert wide.loc["C1-pcb-mAP", "fine-tuned: verdict"] == "contradicted"
    assert wide.loc["C1-pcb-mAP", "fine-tuned: Δ [95 % CI]"].startswith("-4.9 [")
    assert len(wide) == len(rows) // 2


def test_a_regime_without_records_still_has_its_rows(two_regimes, tmp_path_factory):
    from partreid_core.reporting.cli import gather_claims, regime_table

    only_scratch = tmp_path_factory.mktemp("scratch-only")
    for exp in PAIRS:
        (only_scratch / exp).symlink_to(two_regimes / exp)
    rows = gather_claims(only_scratch, ["PAL"])
    fine = rows[rows.regime == "fine-tuned"]
    assert len(fine) == len(rows) // 2 and (fine["verdict"] == "inconclusive").all()
    assert fine["observed"].str.startswith("no records").all()
    assert (regime_table(rows)["regime"] == "—").all()


def test_partreid_claims_regime_option_and_json_field(two_regimes, capsys):
    assert main(["claims", "--json", "--paper", "PAL", "--regime", "fine-tuned", "--results", str(two_regimes)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["regime"] for r in rows} == {"fine-tuned"}
    pcb = next(r for r in rows if r["id"] == "C1-pcb-mAP")
    assert pcb["verdict"] == "contradicted" and pcb["seeds"] == [0, 1, 2, 3, 4]
    assert main(["claims", "--json", "--paper", "PAL", "--results", str(two_regimes)]) == 0
    both = json.loads(capsys.readouterr().out)
    assert [r["regime"] for r in both].count("scratch") == len(rows) == [r["regime"] for r in both].count("fine-tuned")
    assert main(["claims", "--paper", "PAL", "--wide", "--results", str(two_regimes)]) == 0
    text = capsys.readouterr().out
    assert "regime-dependent" in text and "regime-robust" in text


def test_chapter_opens_one_regime_and_glances_at_both(two_regimes):
    from partreid_core.reporting.chapter import open_chapter

    scratch, fine = open_chapter("PAL", two_regimes), open_chapter("PAL", two_regimes, regime="fine-tuned")
    assert fine.results == two_regimes / "fine-tuned" and scratch.results == two_regimes
    # (PAL adds chance-level pseudo-runs without provenance: dropna)
    assert set(fine.runs["regime"].dropna()) == {"fine-tuned"} and set(scratch.runs["regime"].dropna()) == {"scratch"}
    assert fine.paired_delta("pcb_ps", "pcb", MAP).lt(0).all()
    assert scratch.paired_delta("pcb_ps", "pcb", MAP).gt(0).all()
    assert fine.claims().set_index("id").loc["C1-pcb-mAP", "verdict"] == "contradicted"
    glance = fine.glance().set_index("claim")
    assert glance.loc["C1-pcb-mAP", "regime"] == "regime-dependent"
    assert glance.equals(scratch.glance().set_index("claim"))   # both regimes, whichever the chapter opened
    single = scratch.glance(regimes=("scratch",)).set_index("claim")
    assert single.loc["C1-pcb-mAP", "verdict"] == "confirmed"
    # the command of a missing fine-tuned run names the profile and the regime's folder
    cmd = fine.status().set_index("variant").loc["mgn_ps", "command"]
    assert "--profile cpu-ft" in cmd and cmd.endswith(f"--out {two_regimes / 'fine-tuned'}")


# --------------------------------------------------------------------------------------------------- the intro
def _html_rows(html: str) -> list[list[str]]:
    """The body rows of a rendered table, each cell's text (links stripped)."""
    import re

    body = html[html.index("<tbody>"):]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.mark.heavy   # a kernel, and every chapter's claims judged twice: about a minute on a busy machine
def test_the_intro_opens_with_both_regimes_rows_of_partreid_claims(capsys):
    """book/intro.md executed as the book does (myst-nb's cache executor, in book/): its table's rows are the
    headline rows of ``partreid claims``, claim for claim and regime for regime."""
    import jupytext
    from jupyter_cache.executors.utils import single_nb_execution

    from partreid_core.reporting import glance

    book = Path(__file__).resolve().parents[1] / "book"
    nb = jupytext.read(book / "intro.md")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and "remove-input" in code[0].metadata.get("tags", [])
    assert nb.cells.index(code[0]) <= 2   # the page opens with it
    result = single_nb_execution(nb, cwd=str(book), timeout=600, allow_errors=False, meta_override=True)
    assert result.err is None, result.exc_string
    html = code[0].outputs[0]["data"]["text/html"]
    assert 'href="notebooks/pal.html#claims"' in html
    rows = _html_rows(html)
    assert main(["claims", "--json", *[a for paper in glance.CHAPTERS for a in ("--paper", paper)]]) == 0
    claims = [r for r in json.loads(capsys.readouterr().out) if r["headline"]]
    verdict = {(r["paper"], r["id"], r["regime"]): r["verdict"] for r in claims}
    ids = list(dict.fromkeys((r["paper"], r["id"]) for r in claims))
    assert [(r[0], r[1]) for r in rows] == ids
    assert [(r[6], r[8]) for r in rows] == [(verdict[(p, i, "scratch")], verdict[(p, i, "fine-tuned")])
                                            for p, i in ids]
    assert all(r[9] in ("regime-robust", "regime-dependent", "—") for r in rows)
