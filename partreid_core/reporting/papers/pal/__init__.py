"""PAL (Huang et al., IEEE TIP 2020): the chapter's records, claims, reference tables and artefact renderers.

* :mod:`.records`: the experiments, the artefact checklist, the claims and the run table they are judged on;
* :mod:`.reference`: the paper's own numbers, each table cited by table / figure and page;
* :mod:`.tables` and :mod:`.figures`: one renderer per artefact, taking the chapter
  (:func:`partreid_core.reporting.chapter.open_chapter` ``("PAL")``) and returning a styled table or a figure;
  :data:`RENDERERS` says which renderer shows each artefact.
"""
from __future__ import annotations

from .figures import (
                      fig_f1,
                      fig_f3,
                      fig_f3_segmenters,
                      fig_f6,
                      fig_f7,
                      fig_f9,
                      fig_f10,
                      fig_f11,
                      fig_f12,
                      fig_f13,
                      fig_f14,
                      fig_f15,
)
from .records import (
                      ARTEFACTS,
                      CHANCE,
                      CLAIMS,
                      DERIVED_COLUMNS,
                      EMPTY_COLUMNS,
                      EXPERIMENTS,
                      HEADLINE,
                      MAP,
                      PAPER,
                      SWEEP_FILES,
                      claims_table,
                      derived_metrics,
                      run_table,
                      segmenter_table,
)
from .reference import (
                      F6_DELTAS,
                      F7_DELTAS,
                      F9_PCB,
                      F9_PCB_PS,
                      F12_KNOWN,
                      MGN_ABSOLUTE,
                      SOTA,
                      SOURCES,
                      T1,
                      T6,
                      T7,
                      T8,
                      T9,
)
from .tables import (
                      claims_evidence,
                      status_table,
                      table_claims,
                      table_f2,
                      table_f4_f5_f8,
                      table_f6,
                      table_f7,
                      table_f9,
                      table_f10,
                      table_f10_part_mass,
                      table_f14,
                      table_mgn_pair,
                      table_segmenters,
                      table_t1,
                      table_t2_t5,
                      table_t3_robustness,
                      table_t6,
                      table_t6_t7_deltas,
                      table_t7,
                      table_t8,
                      table_t8_paper,
                      table_t9,
                      table_t9_gains,
)

#: artefact -> the renderers that show it (a renderer may show several artefacts, as the paper's tables do)
RENDERERS = {
    "PAL-T1": [table_t1], "PAL-T2": [table_t2_t5, table_mgn_pair], "PAL-T3": [table_t2_t5, table_t3_robustness],
    "PAL-T4": [table_t2_t5], "PAL-T5": [table_t2_t5, table_mgn_pair], "PAL-T6": [table_t6, table_t6_t7_deltas],
    "PAL-T7": [table_t7, table_t6_t7_deltas], "PAL-T8": [table_t8_paper, table_segmenters, table_t8],
    "PAL-T9": [table_t9, table_t9_gains], "PAL-F1": [fig_f1], "PAL-F2": [table_f2],
    "PAL-F3": [fig_f3, fig_f3_segmenters],
    "PAL-F4": [table_f4_f5_f8], "PAL-F5": [table_f4_f5_f8], "PAL-F6": [table_f6, fig_f6], "PAL-F7": [table_f7, fig_f7],
    "PAL-F8": [table_f4_f5_f8], "PAL-F9": [fig_f9, table_f9], "PAL-F10": [fig_f10, table_f10, table_f10_part_mass],
    "PAL-F11": [fig_f11], "PAL-F12": [fig_f12], "PAL-F13": [fig_f13], "PAL-F14": [fig_f14, table_f14],
    "PAL-F15": [fig_f15],
}

__all__ = ["RENDERERS", "claims_evidence", "fig_f1", "fig_f10", "fig_f11", "fig_f12", "fig_f13", "fig_f14", "fig_f15",
           "fig_f3", "fig_f3_segmenters", "fig_f6", "fig_f7", "fig_f9", "status_table", "table_claims", "table_f10",
           "table_f10_part_mass", "table_f14", "table_f2", "table_f4_f5_f8", "table_f6", "table_f7", "table_f9",
           "table_mgn_pair", "table_segmenters", "table_t1", "table_t2_t5", "table_t3_robustness", "table_t6",
           "table_t6_t7_deltas", "table_t7", "table_t8", "table_t8_paper", "table_t9", "table_t9_gains",
           "ARTEFACTS", "CHANCE", "CLAIMS", "DERIVED_COLUMNS", "EMPTY_COLUMNS", "EXPERIMENTS", "F12_KNOWN",
           "F6_DELTAS", "F7_DELTAS", "F9_PCB", "F9_PCB_PS", "HEADLINE", "MAP", "MGN_ABSOLUTE", "PAPER", "SOTA",
           "SOURCES", "SWEEP_FILES", "T1", "T6", "T7", "T8", "T9", "claims_table", "derived_metrics", "run_table",
           "segmenter_table"]
