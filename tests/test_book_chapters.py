"""Every chapter as the book executes it renders the records that exist (heavy: needs the built book).

The notebooks checked are the ones the book build itself executed: myst-nb runs each chapter in its own folder
(``notebooks/``; see ``tests/book_exec.py``) and keeps the executed copy under ``_build/jupyter_execute/``, which is
what the page shows and what its download button serves. Whether a record exists is decided from ``results/``
(``reporting.paths.results_root``), independently of the chapter's own code: a chapter may say "not run yet" only
for a sweep that lacks records, and "no records (...)" only where the library, reading the same records from the
repository, says so too.
"""
from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

from partreid_core.engine.records import is_complete, run_dir
from partreid_core.experiments.sweep import load_sweep, plan
from partreid_core.reporting.paths import repository_root, results_root

from book_exec import TRACEBACK, output_lines

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
SWEEPS = repository_root() / "partreid_core" / "experiments" / "sweeps"
#: a sweep named on an output line: partreid_core/experiments/sweeps/<folder>/<name>.yaml (or <folder>/*.yaml)
SWEEP_REF = re.compile(r"sweeps/(\w+)/([\w*]+)\.yaml")
NO_RECORDS = re.compile(r"no records \(([^)]*)\)")


@cache
def sweep_complete(folder: str, name: str) -> bool:
    """Whether every planned run of ``sweeps/<folder>/<name>.yaml`` (``*``: of every sweep there) has a record,
    with the sweep's own profile and dataset (the chapters' defaults: cpu, synth-s)."""
    files = sorted((SWEEPS / folder).glob(f"{name}.yaml"))
    assert files, f"an output names sweeps/{folder}/{name}.yaml, which does not exist"
    for f in files:
        sw = load_sweep(f)
        sw.profile, sw.dataset = sw.profile or "cpu", sw.dataset or "synth-s"
        if not all(is_complete(run_dir(results_root(), cfg.experiment, cfg.run_name)) for _, cfg in plan(sw)):
            return False
    return True


@cache
def library_no_records(stem: str) -> frozenset[str] | None:
    """The "no records (...)" observations of the chapter's claims as the library judges them from the repository's
    records; None for a chapter without a claims module."""
    try:
        module = importlib.import_module(f"partreid_core.reporting.papers.{stem}")
    except ModuleNotFoundError:
        return None
    if not hasattr(module, "claims_table"):
        return None
    table = module.claims_table(results_root())
    return frozenset(NO_RECORDS.findall(" ".join(table["observed"].astype(str))))


def executed_chapter(html: Path, stem: str):
    path = html.parent / "jupyter_execute" / "notebooks" / f"{stem}.ipynb"
    assert path.is_file(), f"the book did not execute {stem} (no {path})"
    return nbformat.read(path, as_version=4)


def problems(stem: str, nb) -> list[str]:
    """What the chapter's outputs say that the records contradict."""
    out = []
    for line in output_lines(nb):
        text, low = line.text.strip(), line.text.lower()
        where = f"{stem} cell {line.cell}: {text[:160]}"
        if TRACEBACK.lower() in low:
            out.append(f"traceback in an output: {where}")
        if "not run yet" in low:
            refs = SWEEP_REF.findall(text)
            done = [f"{a}/{b}.yaml" for a, b in refs if sweep_complete(a, b)]
            if done:
                out.append(f"'not run yet' although every run of {done} has a record: {where}")
            elif not refs and not NO_RECORDS.search(text) and (SWEEPS / stem).is_dir() and sweep_complete(stem, "*"):
                out.append(f"'not run yet' although every sweep of the chapter has its records: {where}")
        for missing in NO_RECORDS.findall(line.text):
            known = library_no_records(stem)
            if known is not None and missing not in known:
                out.append(f"'no records ({missing})' although the records exist: {where}")
    return out


def test_the_sweep_reference_pattern_matches_the_chapters_commands():
    line = "not run yet: partreid sweep partreid_core/experiments/sweeps/cgpn/p2_occluded.yaml --out results"
    assert SWEEP_REF.findall(line) == [("cgpn", "p2_occluded")]
    assert NO_RECORDS.findall("<td>no records (occ/cgpn, occ/cgpn4_unsup)</td>") == ["occ/cgpn, occ/cgpn4_unsup"]


@pytest.mark.heavy
@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_as_the_book_executes_it_renders_the_existing_records(built_book, stem):
    html, _ = built_book
    found = problems(stem, executed_chapter(html, stem))
    assert not found, "\n".join(found[:20])


def _notebook(*lines: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stdout", text=t)])
                for t in lines]
    return nb


def test_problems_are_decided_from_the_records(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTREID_RESULTS", str(tmp_path))
    sweep_complete.cache_clear()
    library_no_records.cache_clear()
    sw = load_sweep(SWEEPS / "cgpn" / "p2_mgn.yaml")
    sw.profile, sw.dataset = sw.profile or "cpu", sw.dataset or "synth-s"
    runs = [cfg for _, cfg in plan(sw)]
    line = "p2_mgn: not run yet: partreid sweep partreid_core/experiments/sweeps/cgpn/p2_mgn.yaml --out results"

    def record(cfg):   # the two files that make a record complete (records.is_complete), with one run id
        d = run_dir(tmp_path, cfg.experiment, cfg.run_name)
        d.mkdir(parents=True)
        for name in ("config.json", "metrics.json"):
            (d / name).write_text('{"run_id": "r"}')

    for cfg in runs[:-1]:   # all but one run recorded: "not run yet" is true
        record(cfg)
    assert problems("cgpn", _notebook(line)) == []
    record(runs[-1])
    sweep_complete.cache_clear()
    assert len(problems("cgpn", _notebook(line))) == 1   # every run recorded: the chapter lost its records
    tb = problems("cgpn", _notebook(f"{TRACEBACK}:\n  File x"))
    assert len(tb) == 1 and "traceback" in tb[0]
    sweep_complete.cache_clear()
    library_no_records.cache_clear()
