"""The download menu of a chapter page offers the executed notebook (.ipynb), not only the py:percent source.

sphinx-book-theme adds the ``.ipynb`` entry only for MyST-markdown notebooks; the chapters here are ``.py`` files
(``nb_custom_formats``). myst-nb keeps each executed chapter as ``_build/jupyter_execute/<page>.ipynb``; this
copies it beside the page's sources and tells the theme, before its header buttons are made (priority 501).
"""
from __future__ import annotations

from pathlib import Path
from shutil import copy2


def add_ipynb_download(app, pagename, templatename, context, doctree):
    if context.get("ipynb_source") or not str(context.get("sourcename", "")).startswith(pagename + ".py"):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    app.connect("html-page-context", add_ipynb_download, priority=500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
