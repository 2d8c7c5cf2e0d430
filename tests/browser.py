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
               screenshot: tuple[str, Path] | None = None, timeout: float = 60) -> BrowserReport:
    """Load each page (path relative to ``html_root``) in headless Chromium; return what was requested."""
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
        if screenshot:
            page, png = screenshot
            png.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([*common, "--window-size=1280,1600", f"--screenshot={png}", base + page],
                           capture_output=True, text=True, timeout=timeout)
    finally:
        local.shutdown()
        trap.shutdown()
    return report
