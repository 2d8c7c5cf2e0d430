"""Execute a chapter exactly as the book does, and read what its outputs say.

The book (``_config.yml``: ``execute_notebooks: cache``) hands each chapter to myst-nb's cache executor, which
reads the ``py:percent`` source with ``jupytext.reads`` (``nb_custom_formats``) and runs it with
``jupyter_cache.executors.utils.single_nb_execution(nb, cwd=<the notebook's folder>, timeout=..., allow_errors=...)``
(``myst_nb/core/execute/cache.py``). :func:`execute_as_book` calls that same function with the same reader,
folder, timeout and error policy, without the Sphinx build around it, so a chapter that renders here renders in
the book, and a chapter that loses its records in the book loses them here.

Run as a script to count the phrases in each chapter's outputs::

    PYTHONPATH=$PWD python tests/book_exec.py pal cgpn
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
#: phrases a chapter prints where a run record is missing
MISSING = ("not run yet", "no records")
TRACEBACK = "Traceback (most recent call last)"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def book_execution_config() -> dict:
    """The ``execute:`` section of the book's configuration (timeout, allow_errors)."""
    return yaml.safe_load((BOOK / "_config.yml").read_text())["execute"]


def execute_as_book(stem: str, notebooks: Path | None = None):
    """Execute ``notebooks/<stem>.py`` as myst-nb does; returns the executed notebook (raises on a cell error)."""
    import jupytext
    from jupyter_cache.executors.utils import single_nb_execution

    # the book's path to the chapter: book/notebooks is a link to ../notebooks, and myst-nb runs in its folder
    folder = notebooks or BOOK / "notebooks"
    source = folder / f"{stem}.py"
    nb = jupytext.reads(source.read_text(), fmt="py:percent")
    cfg = book_execution_config()
    result = single_nb_execution(nb, cwd=str(folder), timeout=cfg.get("timeout", 30),
                                 allow_errors=bool(cfg.get("allow_errors", False)), meta_override=True)
    if result.err is not None:
        raise RuntimeError(f"{stem} failed as the book executes it:\n{result.exc_string}") from result.err
    return nb


@dataclass
class OutputLine:
    cell: int      # index of the code cell
    text: str      # one line of a text/plain, text/html, text/markdown or stream output (ANSI colours removed)


def output_lines(nb) -> list[OutputLine]:
    """Every line of every text output of the executed notebook, as the page shows it (figures are skipped)."""
    lines = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            texts = []
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            elif out.get("output_type") == "error":
                texts.append(TRACEBACK + "\n" + "\n".join(out.get("traceback", [])))
            else:
                # the one representation a page shows (myst-nb's HTML priority: html before markdown before plain)
                data = out.get("data", {})
                texts += [data[k] for k in ("text/html", "text/markdown", "text/plain") if k in data][:1]
            for t in texts:
                t = "".join(t) if isinstance(t, list) else t
                lines += [OutputLine(i, _ANSI.sub("", s)) for s in t.splitlines()]
    return lines


def count_missing(nb) -> dict[str, int]:
    """How often each :data:`MISSING` phrase and a traceback occur in the outputs."""
    lines = [ln.text.lower() for ln in output_lines(nb)]
    counts = {p: sum(ln.count(p) for ln in lines) for p in MISSING}
    counts["traceback"] = sum(ln.count(TRACEBACK.lower()) for ln in lines)
    return counts


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 and Path(sys.argv[1]).is_dir() else None
    for stem in [a for a in sys.argv[1:] if not Path(a).is_dir()]:
        print(stem, count_missing(execute_as_book(stem, folder)), flush=True)
