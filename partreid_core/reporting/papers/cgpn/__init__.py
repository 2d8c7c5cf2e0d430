"""The CGPN chapter (Mao et al., arXiv 2010.07675): records and claims (:mod:`.core`), the paper's own tables
(:mod:`.reference`) and one renderer per artefact (:mod:`.renderers`), all under one name::

    from partreid_core.reporting.chapter import open_chapter
    from partreid_core.reporting.papers import cgpn

    ch = open_chapter("CGPN")
    cgpn.fig_x1(ch)           # a matplotlib Figure
    cgpn.table_t2b(ch)        # a Styler of formatted strings
"""
from __future__ import annotations

from .core import *  # noqa: F403
from .core import __all__ as _core
from .reference import *  # noqa: F403
from .reference import __all__ as _reference
from .renderers import *  # noqa: F403
from .renderers import __all__ as _renderers

__all__ = [*_core, *_reference, *_renderers]
