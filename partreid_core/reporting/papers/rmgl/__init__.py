"""The RMGL paper (Wang et al., *Receptive Multi-granularity Representation for Person Re-Identification*,
IEEE TIP 2020): claims and checklist (:mod:`.core`), the paper's tables (:mod:`.reference`) and one renderer per
artefact of the chapter (:mod:`.renderers`), all under this one name::

    from partreid_core.reporting.chapter import open_chapter
    from partreid_core.reporting.papers import rmgl

    ch = open_chapter("RMGL", profile="cpu", dataset="synth-s")
    rmgl.table_t6(ch)        # DataFrame of formatted strings
    rmgl.fig_f9(ch)          # matplotlib Figure
"""
from .core import *  # noqa: F403
from .core import __all__ as _core
from .reference import *  # noqa: F403
from .reference import __all__ as _reference
from .renderers import *  # noqa: F403
from .renderers import __all__ as _renderers

__all__ = [*_core, *_reference, *_renderers]
