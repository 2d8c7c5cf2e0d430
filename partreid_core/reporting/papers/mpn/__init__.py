"""MPN (Ding et al., TPAMI 2020): the chapter's claims, reference tables and artefact renderers.

* :mod:`.verdicts`: the artefact checklist, the claims, the per-run metrics derived from ``analysis.npz`` and
  ``claims_table`` (the rows of ``partreid claims --paper MPN``);
* :mod:`.reference`: the paper's tables as data, each cited by table and section;
* :mod:`.render`: one function per artefact, taking the chapter of ``open_chapter("MPN")`` and returning a
  table or a figure (``table_t1(ch)``, ``fig_x1(ch)``).
"""
from __future__ import annotations

from . import reference
from .render import *  # noqa: F403 (the renderers are the chapter's public names)
from .render import RENDERERS
from .verdicts import (
                       AP,
                       ARTEFACTS,
                       CHANCE,
                       CLAIMS,
                       DERIVED,
                       EXPERIMENTS,
                       PAPER,
                       claims_table,
                       derived_metrics,
                       load,
                       own_strip_mass,
                       run_derived,
                       run_table,
                       tidy_values,
)

__all__ = ["AP", "ARTEFACTS", "CHANCE", "CLAIMS", "DERIVED", "EXPERIMENTS", "PAPER", "RENDERERS", "claims_table",
           "derived_metrics", "load", "own_strip_mass", "reference", "run_derived", "run_table", "tidy_values",
           *render.__all__]  # noqa: F405
