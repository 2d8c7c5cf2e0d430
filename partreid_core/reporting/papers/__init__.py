"""One module per paper: its artefact checklist, its testable claims and how records answer them.

Each module defines ``PAPER`` (the id, e.g. "PAL"), ``ARTEFACTS`` ({artefact id: status}, status one
of :data:`STATUSES`), ``CLAIMS`` (a list of :class:`partreid_core.reporting.Claim`) and
``claims_table(results_root="results") -> DataFrame`` (one row per claim with its kind and verdict, by
:func:`partreid_core.reporting.claims.claims_table`). The comparison chapter's scorecard (paper and
mechanism claims only) and ``partreid claims`` are computed from these, with :func:`artefact_statuses`.
"""
from __future__ import annotations

import pandas as pd

from . import cgpn, mpn, pal, plr_osnet, rmgl

PAPERS = {"PAL": pal, "RMGL": rmgl, "CGPN": cgpn, "MPN": mpn, "PLR": plr_osnet}

#: "reproduced": made here (computed, or from run records); "reference only": the paper's numbers shown as
#: the reference (real data or weights needed); "pending runs": doable at the cpu profile but not made yet (its
#: sweep, a larger budget or an analysis hook is missing); "pending gpu": needs the gpu profile; "not
#: reproducible": cannot be made from what the paper gives.
STATUSES = ("reproduced", "reference only", "pending runs", "pending gpu", "not reproducible")


def artefact_statuses(module, claims: pd.DataFrame) -> dict[str, str]:
    """The module's ``ARTEFACTS`` with the record check applied: an artefact marked "reproduced" whose
    claims all say "no records" (its runs have not been made) counts as "pending runs"."""
    no_records = claims.observed.astype(str).str.startswith("no records")
    by_artefact = no_records.groupby(claims.artefact).all()
    return {a: ("pending runs" if s == "reproduced" and bool(by_artefact.get(a, False)) else s)
            for a, s in module.ARTEFACTS.items()}


__all__ = ["PAPERS", "STATUSES", "artefact_statuses"]
