"""Where the book's chapters find the run records, whatever directory they execute in.

The book executes every chapter inside ``notebooks/`` and the tests from the repository root, so a relative
``"results"`` names two different folders. These functions locate the records from the imported package
instead: ``partreid_core`` sits at the top of the repository, beside ``results/``.
"""
from __future__ import annotations

import os
from pathlib import Path

import partreid_core

#: the environment variable that points the chapters at other records (e.g. smoke runs in a temporary folder)
ENV = "PARTREID_RESULTS"
#: the two training regimes of the study and where each keeps its records under the records root: ``scratch``
#: (the cpu profile, trunks trained from scratch) at the root itself, ``fine-tuned`` (the cpu-ft profile, trunks
#: pretrained on SynthReID-P) in its own sub-folder, so every paper module reads either regime unchanged
REGIMES = {"scratch": "", "fine-tuned": "fine-tuned"}


def repository_root() -> Path:
    """The folder that holds the imported ``partreid_core`` package (the checkout, for an editable install)."""
    return Path(partreid_core.__file__).resolve().parents[1]


def results_root(regime: str = "scratch") -> Path:
    """The absolute path of the run records: ``$PARTREID_RESULTS`` if set, else ``<repository>/results``, and
    below it the regime's folder (:data:`REGIMES`: ``fine-tuned`` records live in ``<root>/fine-tuned``).

    A relative ``$PARTREID_RESULTS`` is taken relative to the repository, never to the working directory,
    so a chapter renders the same records from ``notebooks/``, from the repository root or from a test.
    """
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; the study has {sorted(REGIMES)}")
    env = os.environ.get(ENV, "").strip()
    path = Path(env).expanduser() if env else Path("results")
    root = path if path.is_absolute() else repository_root() / path
    return root / REGIMES[regime] if REGIMES[regime] else root


def regime_root(root: str | Path, regime: str) -> Path:
    """The records of ``regime`` under an explicit records root (``results`` → ``results/fine-tuned``)."""
    if regime not in REGIMES:
        raise ValueError(f"unknown regime {regime!r}; the study has {sorted(REGIMES)}")
    return Path(root) / REGIMES[regime] if REGIMES[regime] else Path(root)


def shown(path: str | Path) -> str:
    """``path`` as a reader types it in a shell at the repository root: relative when it lies inside the
    repository (``results``, ``partreid_core/experiments/sweeps/pal/p1.yaml``), else absolute."""
    path = Path(path).resolve()
    try:
        return path.relative_to(repository_root()).as_posix() or "."
    except ValueError:
        return str(path)
