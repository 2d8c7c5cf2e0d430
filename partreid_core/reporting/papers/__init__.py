"""One module per paper: its artefact checklist, its testable claims and how records answer them.

Each module defines ``PAPER`` (the id, e.g. "PAL"), ``ARTEFACTS`` ({artefact id: status}, status one
of "reproduced", "reference only", "pending gpu", "not reproducible"), ``CLAIMS`` (a list of
:class:`partreid_core.reporting.Claim`) and ``claims_table(results_root="results") -> DataFrame``
(one row per claim with a verdict). The comparison chapter's scorecard is computed from these.
"""
from . import cgpn, mpn, pal, plr_osnet, rmgl

PAPERS = {"PAL": pal, "RMGL": rmgl, "CGPN": cgpn, "MPN": mpn, "PLR": plr_osnet}
