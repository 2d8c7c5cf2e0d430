"""The built book as a reader sees it, in headless Chromium (issue 11's browser check)."""
from __future__ import annotations

import base64
import os
import posixpath
from pathlib import Path

import pytest
import yaml

from browser import TRACEBACK, find_chromium, image_stats, load_pages, looks_empty, page_outputs, parse_links

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = find_chromium()


@pytest.mark.heavy
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian chromium is not installed")
def test_every_page_loads_offline_with_its_images_and_links(built_book, tmp_path):
    assert CHROMIUM, "CI must install Debian chromium (.ci/run does)"
    html, _ = built_book
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                   if not p.relative_to(html).as_posix().startswith(("_static", "_sources", "genindex", "search")))
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    reproductions = next(part for part in toc["parts"] if part["caption"] == "Reproductions")
    first_chapter = reproductions["chapters"][0]["file"] + ".html"  # the first paper's chapter
    assert first_chapter in pages
    shot = ROOT / "artifacts" / "book" / "first_chapter.png"
    # every page as a reader sees its first screen (artifacts/book/pages/<page>.png), the first chapter also as before
    shots = {page: ROOT / "artifacts" / "book" / "pages" / (page.replace("/", "__")[:-5] + ".png") for page in pages}
    report = load_pages(html, pages, CHROMIUM, tmp_path / "profile", screenshot=(first_chapter, shot),
                        screenshots=shots)

    assert not report.escaped, f"pages tried to reach the network: {report.escaped[:10]}"
    served: dict[str, set[int]] = {}
    for path, status in report.requests:
        served.setdefault(path, set()).add(status)
    for page in pages:
        dom = report.doms[page]
        assert "<body" in dom, f"{page}: Chromium returned no DOM"
        images, links = parse_links(dom)
        for src in images:
            if src.startswith("data:"):
                continue
            assert not src.startswith(("http:", "https:", "//")), f"{page}: remote image {src}"
            path = "/" + posixpath.normpath(posixpath.join(posixpath.dirname(page), src.split("#")[0]))
            # 304: Chromium revalidated the copy it cached on an earlier page (the image loaded)
            got = served.get(path, set())
            assert got and got <= {200, 304}, f"{page}: image {src} did not load (HTTP {sorted(got)})"
        for href in links:
            if href.startswith(("http:", "https:", "mailto:", "#", "javascript:")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), href.split("#")[0].split("?")[0]))
            assert (html / target).exists(), f"{page}: broken internal link {href}"
    assert shot.exists() and shot.stat().st_size > 10_000, "no screenshot of the first chapter"
    missing = [p for p, png in shots.items() if not png.exists() or png.stat().st_size < 5_000]
    assert not missing, f"no screenshot of {missing}"


def _output_image(html: Path, page: str, src: str, tmp: Path) -> Path:
    if src.startswith("data:"):
        head, _, data = src.partition(",")
        path = tmp / f"inline{abs(hash(src))}.{head.split('/')[1].split(';')[0]}"
        path.write_bytes(base64.b64decode(data))
        return path
    return html / posixpath.normpath(posixpath.join(posixpath.dirname(page), src.split("#")[0]))


@pytest.mark.heavy
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian chromium is not installed")
def test_no_page_shows_a_traceback_or_an_empty_figure(built_book, tmp_path):
    """In the DOM Chromium renders: no cell output is an error or holds a traceback, and no output figure is blank
    or a set of empty axes (``browser.looks_empty``: the sign of a chapter that found none of its records)."""
    assert CHROMIUM, "CI must install Debian chromium (.ci/run does)"
    html, _ = built_book
    pages = sorted(p.relative_to(html).as_posix() for p in (html / "notebooks").glob("*.html"))
    report = load_pages(html, pages, CHROMIUM, tmp_path / "profile")
    found, figures = [], 0
    for page in pages:
        outputs = page_outputs(report.doms[page])
        if outputs.tracebacks or TRACEBACK in "".join(outputs.text):
            found.append(f"{page}: a cell output shows a traceback")
        for src in outputs.images:
            if src.endswith(".svg"):
                continue
            path = _output_image(html, page, src, tmp_path)
            figures += 1
            stats = image_stats(path)
            if looks_empty(stats):
                found.append(f"{page}: figure {src} is empty ({stats})")
    assert figures, "no output figure found on any chapter page"
    assert not found, "\n".join(found)
