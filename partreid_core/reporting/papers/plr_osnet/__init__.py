"""The PLR-OSNet chapter (Xie et al., *Learning Diverse Features with Part-Level Resolution for Person
Re-Identification*, arXiv 2001.07442): its study, the paper's numbers and one renderer per artefact.

* :mod:`.study`: the experiments, the artefact checklist, the claims and how the run records answer them;
* :mod:`.reference`: the paper's tables as typed data, each cited by table and section;
* :mod:`.renderers`: ``table_t4(ch)``, ``fig_f4_maps(ch)``, ... taking ``open_chapter("PLR")``.
"""
from __future__ import annotations

from . import reference, renderers
from .reference import TABLES, PaperTable
from .renderers import *  # noqa: F403  (the renderers are the chapter's public names)
from .renderers import __all__ as _renderers
from .study import (
                    ARTEFACTS,
                    CLAIMS,
                    DETECTED,
                    EXPERIMENTS,
                    PAPER,
                    cam_centroid,
                    cam_runs,
                    claims_table,
                    load_runs,
                    run_table,
                    tidy_values,
)

__all__ = ["PAPER", "EXPERIMENTS", "ARTEFACTS", "CLAIMS", "DETECTED", "claims_table", "tidy_values", "load_runs",
           "run_table", "cam_runs", "cam_centroid", "TABLES", "PaperTable", "reference", "renderers", *_renderers]
