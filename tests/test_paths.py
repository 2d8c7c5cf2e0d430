"""reporting.paths: the chapters find the same records from any working directory."""
from __future__ import annotations

from pathlib import Path

import partreid_core
from partreid_core.reporting import paths

REPO = Path(partreid_core.__file__).resolve().parents[1]


def test_results_root_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV, raising=False)
    seen = set()
    for cwd in (REPO, REPO / "notebooks", tmp_path):
        monkeypatch.chdir(cwd)
        seen.add(paths.results_root())
    assert seen == {REPO / "results"}


def test_environment_overrides_and_relative_values_are_repository_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(paths.ENV, str(tmp_path / "smoke"))
    assert paths.results_root() == tmp_path / "smoke"
    monkeypatch.setenv(paths.ENV, "other-results")
    assert paths.results_root() == REPO / "other-results"  # not tmp_path / "other-results"


def test_shown_is_relative_inside_the_repository_only(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV, raising=False)
    assert paths.shown(paths.results_root()) == "results"
    assert paths.shown(REPO / "partreid_core" / "experiments") == "partreid_core/experiments"
    assert paths.shown(tmp_path) == str(tmp_path.resolve())


def test_regime_roots(monkeypatch, tmp_path):
    from partreid_core.reporting.paths import regime_root, results_root

    monkeypatch.setenv("PARTREID_RESULTS", str(tmp_path))
    assert results_root() == tmp_path and results_root("fine-tuned") == tmp_path / "fine-tuned"
    assert regime_root("results", "fine-tuned").as_posix() == "results/fine-tuned"
    assert regime_root("results", "scratch").as_posix() == "results"
    import pytest

    with pytest.raises(ValueError, match="unknown regime"):
        results_root("imagenet")
