"""`make publish-html` (the second half of `make publish`) pushes a built book to a gh-pages branch.

Nothing is built: a two-page fake ``_build/html`` is pushed into a local bare repository that stands in for GitHub.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def environment(home: Path) -> dict[str, str]:
    """This process's environment with a throw-away git identity (no user or system git configuration)."""
    return {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=environment(cwd)).stdout


@pytest.fixture
def checkout(tmp_path):
    """A clone of an empty 'GitHub' (bare) repository with one commit on main, and a fake built book."""
    remote = tmp_path / "remote.git"
    git("init", "--bare", "-b", "main", str(remote), cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-b", "main", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    (work / "README.md").write_text("partreid\n")
    git("add", "README.md", cwd=work)
    git("commit", "-m", "first", cwd=work)
    git("push", "origin", "main", cwd=work)
    html = tmp_path / "_build" / "html"
    (html / "notebooks").mkdir(parents=True)
    (html / "index.html").write_text("<html><body>intro</body></html>")
    (html / "notebooks" / "pal.html").write_text("<html><body>PAL</body></html>")
    (html / "_static").mkdir()
    (html / "_static" / "style.css").write_text("body {}")
    return work, remote, html


def publish(work: Path, html: Path, remote: str = "origin") -> subprocess.CompletedProcess:
    ghp = shutil.which("ghp-import", path=str(Path(sys.executable).parent))
    cmd = ghp or f"{sys.executable} -m ghp_import"
    return subprocess.run(["make", "-f", str(ROOT / "Makefile"), "publish-html", f"HTML={html}",
                           f"GHP_REMOTE={remote}", f"GHP_IMPORT={cmd}"],
                          cwd=work, capture_output=True, text=True, env=environment(work), timeout=60)


def test_publish_pushes_the_html_to_gh_pages(checkout):
    pytest.importorskip("ghp_import", reason="ghp-import comes with the book extra (pip install -e '.[book]')")
    work, remote, html = checkout
    out = publish(work, html)
    assert out.returncode == 0, out.stdout + out.stderr
    files = set(git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).split())
    assert files == {".nojekyll", "index.html", "notebooks/pal.html", "_static/style.css"}
    assert git("show", "gh-pages:notebooks/pal.html", cwd=remote) == "<html><body>PAL</body></html>"
    head = git("rev-parse", "--short", "HEAD", cwd=work).strip()
    assert head in git("log", "-1", "--format=%s", "gh-pages", cwd=remote)
    # main is untouched
    assert set(git("ls-tree", "-r", "--name-only", "main", cwd=remote).split()) == {"README.md"}

    # a second build replaces the first: deleted pages go, and gh-pages keeps a single commit
    (html / "notebooks" / "pal.html").unlink()
    (html / "index.html").write_text("<html><body>intro v2</body></html>")
    assert publish(work, html).returncode == 0
    assert "notebooks/pal.html" not in git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote)
    assert "v2" in git("show", "gh-pages:index.html", cwd=remote)
    assert git("rev-list", "--count", "gh-pages", cwd=remote).strip() == "1"


def test_publish_refuses_without_a_built_book(checkout, tmp_path):
    work, _, _ = checkout
    out = publish(work, tmp_path / "nothing")
    assert out.returncode != 0 and "make book" in out.stdout + out.stderr
