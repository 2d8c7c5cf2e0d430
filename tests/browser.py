"""Load a built HTML book in headless Chromium, as a reader would, and record what happened.

Pages are served from 127.0.0.1; Chromium is pointed at a "trap" proxy that refuses and logs
every request it receives. Loopback requests bypass a proxy by default, so only requests that
would leave the machine reach the trap: an empty trap log means no page reached the network.
"""
from __future__ import annotations

import html.parser
import shutil
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--no-pings", "--bwsi",
    "--disable-client-side-phishing-detection", "--disable-domain-reliability", "--metrics-recording-only",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
)


#: Chromium's own services (component updater, sign-in) that no flag fully silences; requests to them
#: come from the browser, not from a page, so they are recorded apart from the page's requests.
BROWSER_SERVICE_HOSTS = ("update.googleapis.com", "accounts.google.com", "clients2.google.com")


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


def parse_links(text: str) -> tuple[list[str], list[str]]:
    """(image sources, anchor hrefs) of an HTML document."""
    p = _Links()
    p.feed(text)
    return p.images, p.links


@dataclass
class BrowserReport:
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status) served locally
    escaped: list[str] = field(default_factory=list)               # page requests that tried to leave
    browser_services: list[str] = field(default_factory=list)      # Chromium's own background requests
    doms: dict[str, str] = field(default_factory=dict)             # page -> DOM after scripts ran


def _serve(handler_cls, **kw) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler_cls, **kw) if kw else handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def load_pages(html_root: Path, pages: list[str], chromium: str, profile_dir: Path,
               screenshot: tuple[str, Path] | None = None, timeout: float = 60,
               screenshots: dict[str, Path] | None = None) -> BrowserReport:
    """Load each page (path relative to ``html_root``) in headless Chromium; return what was requested.

    ``screenshot`` (one page, one PNG) and ``screenshots`` (page -> PNG) save what a reader sees of those pages."""
    shots = list((screenshots or {}).items()) + ([screenshot] if screenshot else [])
    report = BrowserReport()

    class Local(SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            report.requests.append((urllib.parse.unquote(self.path.split("?")[0]), int(code)))

        def log_message(self, *args):
            pass

    class Trap(BaseHTTPRequestHandler):
        def _refuse(self):
            line = f"{self.command} {self.path}"
            host = urllib.parse.urlsplit(self.path if "://" in self.path else "//" + self.path).hostname or ""
            (report.browser_services if host in BROWSER_SERVICE_HOSTS else report.escaped).append(line)
            self.send_error(403)

        do_GET = do_POST = do_HEAD = do_CONNECT = _refuse

        def log_message(self, *args):
            pass

    local = _serve(Local, directory=str(html_root))
    trap = _serve(Trap)
    base = f"http://127.0.0.1:{local.server_address[1]}/"
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}",
              f"--proxy-server=http://127.0.0.1:{trap.server_address[1]}", "--virtual-time-budget=4000"]
    try:
        for page in pages:
            out = subprocess.run([*common, "--dump-dom", base + page], capture_output=True, text=True, timeout=timeout)
            report.doms[page] = out.stdout
        for page, png in shots:
            png.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([*common, "--window-size=1280,1600", f"--screenshot={png}", base + page],
                           capture_output=True, text=True, timeout=timeout)
    finally:
        local.shutdown()
        trap.shutdown()
    return report


class _Outputs(html.parser.HTMLParser):
    """The text and the image sources inside a page's cell outputs (``div.cell_output``), as myst-nb renders them."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0               # > 0 while inside a cell output
        self.text: list[str] = []
        self.images: list[str] = []
        self.tracebacks = 0          # outputs rendered as an error (myst-nb: class "output traceback")

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self.depth:
            self.depth += tag not in VOID_TAGS
        elif tag == "div" and "cell_output" in classes:
            self.depth = 1
        if self.depth and "traceback" in classes:
            self.tracebacks += 1
        if self.depth and tag == "img" and a.get("src"):
            self.images.append(a["src"])

    def handle_endtag(self, tag):
        if self.depth and tag not in VOID_TAGS:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


VOID_TAGS = {"img", "br", "hr", "input", "meta", "link", "source", "wbr", "col", "area", "base", "embed"}
TRACEBACK = "Traceback (most recent call last)"


def page_outputs(dom: str) -> _Outputs:
    """What a page's cell outputs hold: their text, their images, and how many are rendered errors."""
    p = _Outputs()
    p.feed(dom)
    return p


@dataclass
class ImageStats:
    width: int
    height: int
    ink: float        # share of pixels that differ from the image's background colour
    colour: float     # share of pixels with a visible hue (max - min channel > 40 of 255)
    frames: int       # axes frames: large, sparse ink outlines (with the ticks and grid lines joined to them)
    empty: int        # of those, the frames with nothing larger than a glyph of text inside


def image_stats(path: Path) -> ImageStats:
    """How much an output image draws, and whether its axes hold anything."""
    import numpy as np
    from PIL import Image
    from scipy import ndimage

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    flat = rgb.reshape(-1, 3)
    values, counts = np.unique(flat, axis=0, return_counts=True)
    background = values[counts.argmax()]
    inked = np.abs(rgb - background).max(axis=2) > 16           # (H, W) bool
    colour = float(((flat.max(axis=1) - flat.min(axis=1)) > 40).mean())
    labels, _ = ndimage.label(inked, structure=np.ones((3, 3)))
    frames = empty = 0
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        mine = labels[box] == k
        if h * w < 0.02 * inked.size or min(h, w) < 40 or mine.mean() > 0.15:
            continue                  # not an axes outline: small, thin, or dense (an image, bars joined to it)
        frames += 1
        inner = (slice(box[0].start + 3, box[0].stop - 3), slice(box[1].start + 3, box[1].stop - 3))
        content, n = ndimage.label(inked[inner] & (labels[inner] != k), structure=np.ones((3, 3)))
        big = [b for b in ndimage.find_objects(content) if b is not None and
               (b[0].stop - b[0].start > 0.15 * h or b[1].stop - b[1].start > 0.15 * w)]
        empty += not big              # only glyphs inside (a "not run yet" note, tick-free), no line, bar or image
    return ImageStats(rgb.shape[1], rgb.shape[0], float(inked.mean()), colour, frames, empty)


def looks_empty(stats: ImageStats) -> bool:
    """A blank image, or a figure whose every axes is empty: nothing inside any frame is larger than a glyph of
    text (grid lines join the frame), and nothing in the image has a colour (matplotlib draws data in colour)."""
    if stats.ink < 0.002:
        return True
    return stats.frames > 0 and stats.empty == stats.frames and stats.colour < 0.0005
