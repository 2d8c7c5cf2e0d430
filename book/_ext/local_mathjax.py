"""Serve MathJax 3 from the built book instead of a CDN, so math renders offline.

MathJax comes from the ``django-static-mathjax`` wheel (plain static files, no Django needed;
it is in the project's ``book`` extra). At config time ``mathjax_path`` is pointed at a local
copy; when the HTML build finishes, the combined ``tex-mml-chtml.js`` component and the files
it loads lazily (fonts, ui, a11y, input/output extensions) are copied into ``_static/mathjax``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

LOCAL_PATH = "mathjax/tex-mml-chtml.js"
#: Large parts that tex-mml-chtml.js never loads by default (speech rule engine, SVG output, other combos).
SKIP = ("sre", "tex-svg", "tex-chtml", "mml-", "tex-mml-svg", "node-main", "output/svg")


def mathjax_source() -> Path:
    try:
        import mathjax  # the django-static-mathjax distribution
    except ImportError as e:  # pragma: no cover - the book extra installs it
        raise RuntimeError(
            "Offline MathJax needs the 'django-static-mathjax' package (pip install -e '.[book]')."
        ) from e
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _config_inited(app, config) -> None:
    config.mathjax_path = LOCAL_PATH


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = mathjax_source()
    dst = Path(app.outdir) / "_static" / "mathjax"
    for f in src.rglob("*"):
        rel = f.relative_to(src).as_posix()
        if f.is_dir() or rel.startswith(SKIP):
            continue
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if not out.exists() or out.stat().st_size != f.stat().st_size:
            shutil.copy2(f, out)


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
