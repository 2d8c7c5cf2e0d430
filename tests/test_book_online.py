"""The book online: launch buttons that open every chapter as a notebook, and a workflow that deploys it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_launch_buttons_open_each_chapter_as_a_notebook_in_the_repository():
    repo = CONFIG["repository"]
    assert repo["url"] == "https://github.com/partreid/partreid" and repo["branch"] == "main"
    assert CONFIG["launch_buttons"]["binderhub_url"].startswith("https://")
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["html"]["use_repository_button"]
    # sphinx-book-theme links <path_to_book>/<page>.ipynb on GitHub: that file must exist there, not behind a link
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    pages = [c["file"] for part in toc["parts"] for c in part["chapters"] if c["file"].startswith("notebooks/")]
    assert pages
    for page in pages:
        target = ROOT / repo["path_to_book"] / f"{page}.ipynb"
        assert target.is_file() and not target.is_symlink(), target
    # Binder builds the repository's environment, which installs the project
    assert "-e ." in (ROOT / "environment.yml").read_text()


def test_workflow_builds_and_deploys_on_pushes_to_main():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    on = wf.get("on", wf.get(True))   # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    build = " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in wf["jobs"]["build"]["steps"])
    assert "make book" in build and "upload-pages-artifact" in build
    assert any("deploy-pages" in str(s.get("uses")) for s in wf["jobs"]["deploy"]["steps"])
    assert wf["permissions"]["pages"] == "write"


def test_publish_tooling_is_installed_by_the_book_extra():
    book = re.search(r"^book = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M)
    assert book and '"ghp-import' in book.group(1)
    assert "publish:" in (ROOT / "Makefile").read_text()


@pytest.mark.heavy
def test_every_chapter_page_offers_its_notebook(built_book):
    """Binder and Colab open notebooks/<name>.ipynb; the download menu serves the executed .ipynb and the .py."""
    html, _ = built_book
    for page in sorted((html / "notebooks").glob("*.html")):
        text, stem = page.read_text(), page.stem
        assert f"colab.research.google.com/github/partreid/partreid/blob/main/notebooks/{stem}.ipynb" in text, page
        assert f"mybinder.org/v2/gh/partreid/partreid/main?urlpath=tree/notebooks/{stem}.ipynb" in text, page
        assert "download-notebook-button" in text and "download-source-button" in text, page
        assert (html / "_sources" / "notebooks" / f"{stem}.ipynb").is_file(), page
