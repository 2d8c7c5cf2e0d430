"""The book: notebooks paired and listed, and (heavy) a warnings-as-errors build that renders offline."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = {toc["root"]}
    stack = list(toc.get("parts", [])) + list(toc.get("chapters", []))
    while stack:
        entry = stack.pop()
        if "file" in entry:
            files.add(entry["file"])
        stack += entry.get("chapters", []) + entry.get("sections", [])
    return files


def test_every_notebook_is_in_the_toc_and_paired():
    import jupytext

    assert NOTEBOOKS, "no chapter notebooks found"
    listed = toc_files()
    for py in NOTEBOOKS:
        assert f"notebooks/{py.stem}" in listed, f"{py.name} is not in book/_toc.yml"
        ipynb = py.with_suffix(".ipynb")
        assert ipynb.exists(), f"{py.name} has no paired {ipynb.name}: run `jupytext --sync {py}`"
        a, b = jupytext.read(py), jupytext.read(ipynb)
        assert [c.source for c in a.cells] == [c.source for c in b.cells], \
            f"{py.name} and {ipynb.name} differ: run `jupytext --sync {py}`"
        assert "py:percent" in str(a.metadata.get("jupytext", {}).get("formats", "")), py


def test_book_config_is_the_top_level_config():
    link = ROOT / "book" / "_config.yml"
    assert link.resolve() == (ROOT / "_config.yml").resolve()
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "cache"
    assert "jupytext.reads" in str(cfg["sphinx"]["config"]["nb_custom_formats"])


@pytest.mark.heavy
def test_book_builds_with_warnings_as_errors_and_offline_math(built_book):
    html, _ = built_book
    assert (html / "index.html").exists()
    for py in NOTEBOOKS:
        page = html / "notebooks" / f"{py.stem}.html"
        assert page.exists(), f"{page} was not built"
        text = page.read_text()
        assert "Traceback" not in text, f"{page} shows a traceback"
    # MathJax is served from the book itself, never from a CDN
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    for page in html.rglob("*.html"):
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', page.read_text())
        remote = [s for s in scripts if s.startswith(("http://", "https://", "//"))]
        assert not remote, f"{page.relative_to(html)} loads remote scripts: {remote}"
