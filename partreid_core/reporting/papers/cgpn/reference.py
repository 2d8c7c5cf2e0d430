"""The CGPN paper's own numbers, as typed data, each with the table, section and page it comes from.

Mao et al., arXiv 2010.07675 v1. The source text has no page breaks; the pages follow from the bibliography's
back-references (the datasets of §4.1 are cited on p. 5, the rows of Table 1 on p. 6); Table 2 sits in §4.4-4.5,
after Table 1's page, hence pp. 6-7.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: the six result columns of Tables 1 and 2 (Rank-1 / mAP in %, single query, no re-ranking)
COLUMNS: tuple[str, ...] = ("Market-1501 Rank-1", "Market-1501 mAP", "DukeMTMC-reID Rank-1", "DukeMTMC-reID mAP",
                            "CUHK03-labeled Rank-1", "CUHK03-labeled mAP")
DATASETS: tuple[str, ...] = ("Market-1501", "DukeMTMC-reID", "CUHK03-labeled")

T1_SOURCE = "Table 1, §4.3, p. 6 (Market-1501)"
T2_SOURCE = "Table 2, §4.4-4.5, pp. 6-7 (Market-1501)"
T2_SOURCE_OCC = "Table 2, §4.4-4.5, pp. 6-7 (CUHK03-labeled, the paper's occluded data set)"


@dataclass(frozen=True)
class PaperTable:
    """A results table as the paper prints it: one row per method, :data:`COLUMNS` in %, None where the paper
    prints "-" (not reported)."""

    artefact: str
    source: str
    rows: dict[str, tuple[float | None, ...]]

    def frame(self) -> pd.DataFrame:
        """Rows = methods, columns = :data:`COLUMNS`, NaN where not reported (format with ``fmt``/``MISSING``)."""
        return pd.DataFrame([[float("nan") if v is None else v for v in r] for r in self.rows.values()],
                            index=pd.Index(list(self.rows), name="method"), columns=list(COLUMNS))

    def value(self, method: str, dataset: str, metric: str) -> float | None:
        """One cell: ``metric`` "Rank-1" or "mAP" of ``method`` on ``dataset`` (None: not reported)."""
        return self.rows[method][COLUMNS.index(f"{dataset} {metric}")]


_ = None
#: Table 1 (§4.3, p. 6): comparison with the state of the art; MGN's row is MGN's published result
TABLE1 = PaperTable("CGPN-T1", "Table 1, §4.3, p. 6", {
    "IDE": (_, _, _, _, 22.2, 21.0), "PAN": (_, _, _, _, 36.9, 35.0), "SVDNet": (_, _, _, _, 40.9, 37.8),
    "MGCAM": (83.8, 74.3, _, _, 50.1, 50.2), "HA-CNN": (91.2, 75.7, 80.5, 63.8, 44.4, 41.0),
    "VPM": (93.0, 80.8, 83.6, 72.6, _, _), "SCP": (94.1, _, 84.8, _, _, _), "PCB+RPP": (93.8, 81.6, 83.3, 69.2, _, _),
    "SphereReID": (94.4, 83.6, 83.9, 68.5, _, _), "MGN": (95.7, 86.9, 88.7, 78.4, 68.0, 67.4),
    "DSA": (95.7, 87.6, 86.2, 74.3, 78.9, 75.2), "Pyramid": (95.7, 88.2, 89.0, 79.0, 78.9, 76.9),
    "SAN": (96.1, 88.0, 87.9, 75.5, 80.1, 76.4), "CGPN": (96.1, 89.9, 90.4, 80.9, 87.1, 83.6),
})
#: Table 2 (§4.4-4.5, pp. 6-7): the ablation
TABLE2 = PaperTable("CGPN-T2", "Table 2, §4.4-4.5, pp. 6-7", {
    "CGPN-1": (94.9, 87.9, 89.3, 78.4, 82.4, 79.9),
    "CGPN-2": (95.3, 89.4, 90.3, 80.2, 85.3, 82.5),
    "CGPN-3": (94.2, 86.2, 88.6, 76.9, 84.3, 81.0),
    "CGPN-4": (95.2, 89.3, 90.0, 79.9, 83.4, 80.7),
    "CGPN": (96.1, 89.9, 90.4, 80.9, 87.1, 83.6),
})
del _
#: what each ablation row removes (§4.4-4.5)
T2_ROWS: dict[str, str] = {"CGPN-1": "no local part", "CGPN-2": "fine stripes instead of coarse windows",
                           "CGPN-3": "no global part", "CGPN-4": "global part without the MSE supervision",
                           "CGPN": "full model"}
#: CGPN-T2b: the deltas the text states (§4.4-4.5), (Rank-1, mAP) per data set of :data:`DATASETS`, row - reference
TABLE2B_TEXT: dict[tuple[str, str], tuple[tuple[float, float], ...]] = {
    ("CGPN-1", "CGPN"): ((-1.2, -2.0), (-1.1, -2.5), (-4.7, -3.7)),
    ("CGPN-2", "CGPN"): ((-0.8, -0.5), (-0.1, -0.7), (-1.8, -1.1)),
    ("CGPN-3", "CGPN"): ((-1.9, -3.7), (-1.8, -4.0), (-2.8, -2.6)),
    ("CGPN-4", "CGPN"): ((-0.9, -0.6), (-0.4, -1.0), (-3.7, -2.9)),
    ("CGPN-4", "CGPN-3"): ((1.0, 3.1), (1.4, 3.0), (-0.9, -0.3)),
}
#: our sweep variant of each CGPN-T2 row
T2_VARIANTS: dict[str, str] = {"CGPN-1": "cgpn1_noloc", "CGPN-2": "cgpn2_fine", "CGPN-3": "cgpn3_noglob",
                               "CGPN-4": "cgpn4_unsup", "CGPN": "cgpn"}


def table2_deltas(row: str, reference: str) -> tuple[tuple[float, float], ...]:
    """(Rank-1, mAP) of ``row`` - ``reference`` per data set, from :data:`TABLE2`, rounded to the printed 0.1."""
    a, b = TABLE2.rows[row], TABLE2.rows[reference]
    d = [round(x - y, 1) for x, y in zip(a, b, strict=True)]
    return tuple((d[2 * i], d[2 * i + 1]) for i in range(len(DATASETS)))


__all__ = ["COLUMNS", "DATASETS", "PaperTable", "T1_SOURCE", "T2_ROWS", "T2_SOURCE", "T2_SOURCE_OCC", "T2_VARIANTS",
           "TABLE1", "TABLE2", "TABLE2B_TEXT", "table2_deltas"]
