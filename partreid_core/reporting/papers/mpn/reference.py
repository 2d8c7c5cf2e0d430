"""The paper's reference tables as data (Ding et al., TPAMI 2020, arXiv 2003.08069).

Each :class:`PaperTable` cites the table and section it is transcribed from. The source text the study
works from (an OCR dump of the arXiv version) carries no page breaks, so the section stands in for the page.
``None`` is a value the paper does not report; :meth:`PaperTable.frame` shows it as "—".
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...chapter import MISSING, fmt

Row = tuple[str | float | None, ...]


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper.

    Attributes:
        artefact: the chapter's artefact id (``"MPN-T4"``).
        source: where it is in the paper (``"Table 4, §5.4.1"``).
        title: what it compares.
        labels: the label columns (row names: method, group, switches), in row order.
        metrics: the numeric columns (% unless the name says otherwise).
        rows: one tuple per row, ``len(labels) + len(metrics)`` long; ``None`` = not reported.
    """

    artefact: str
    source: str
    title: str
    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]

    def __post_init__(self) -> None:
        width = len(self.labels) + len(self.metrics)
        bad = [r for r in self.rows if len(r) != width]
        if bad:
            raise ValueError(f"{self.artefact}: rows of the wrong width {bad[:1]}")

    def frame(self, digits: int = 1) -> pd.DataFrame:
        """The table as the page shows it: one row per paper row, indexed by the label columns, every value
        with ``digits`` decimals and :data:`MISSING` where the paper reports none."""
        n = len(self.labels)
        df = pd.DataFrame([[*r[:n], *(fmt(v, digits) for v in r[n:])] for r in self.rows],
                          columns=[*self.labels, *self.metrics])
        return df.set_index(list(self.labels))

    def value(self, row: str, metric: str) -> float | None:
        """The paper's ``metric`` for the row one of whose labels is ``row`` (None when not reported)."""
        n = len(self.labels)
        for r in self.rows:
            if row in r[:n]:
                v = r[n + self.metrics.index(metric)]
                return None if v is None else float(v)
        raise KeyError(f"{self.artefact} has no row {row!r}")


Y, N = "✓", ""  # a component a Table 1 row has / lacks
_SWITCHES = ("MTL", "C1-S", "C2-S", "CF", "CA")
_FOUR = ("Market Rank-1", "Market mAP", "Duke Rank-1", "Duke mAP")

T1 = PaperTable(
    "MPN-T1", "Table 1, §5.2", "ablation of each component (ResNet-50, 384×128, IDE initialisation)",
    ("model", *_SWITCHES),
    (*_FOUR, "CUHK03-det Rank-1", "CUHK03-det mAP", "CUHK03-lab Rank-1", "CUHK03-lab mAP"),
    (
        ("Baseline", N, N, N, N, N, 94.2, 84.4, 88.2, 77.4, 70.9, 66.7, 75.6, 71.3),
        ("MT Only", N, N, N, N, N, 94.4, 85.6, 88.6, 78.0, 74.1, 69.3, 78.7, 73.9),
        ("Naive MTL", Y, N, N, N, N, 94.6, 87.2, 88.7, 78.8, 75.5, 70.7, 78.9, 75.1),
        ("sharing: C1-S", Y, Y, N, N, N, 95.5, 88.5, 90.4, 80.7, 81.1, 76.9, 83.0, 79.1),
        ("sharing: C2-S", Y, N, Y, N, N, 95.1, 88.2, 90.1, 80.1, 80.6, 76.2, 82.5, 78.5),
        ("sharing: C1-S + C2-S", Y, Y, Y, N, N, 95.8, 88.7, 90.8, 80.9, 81.6, 77.1, 83.4, 79.5),
        ("feature alignment: CF", Y, N, N, Y, N, 95.5, 88.3, 90.5, 80.7, 81.0, 76.9, 82.6, 79.1),
        ("MPN°", Y, Y, Y, Y, N, 96.1, 89.2, 91.2, 81.6, 82.6, 78.4, 84.1, 80.3),
        ("MPN", Y, Y, Y, Y, Y, 96.3, 89.4, 91.5, 82.0, 83.4, 79.1, 85.0, 81.1),
    ),
)
#: our variant -> its Table 1 row
T1_ROWS = {"baseline": "Baseline", "mt_only": "MT Only", "naive_mtl": "Naive MTL",
           "c1s_c2s": "sharing: C1-S + C2-S", "mpn_noca": "MPN°", "mpn": "MPN"}

T2 = PaperTable(
    "MPN-T2", "Table 2, §5.3.1", "type of body-part prior in training (all rows MPN°, no CA)", ("prior",), _FOUR,
    (
        ("Baseline", 94.2, 84.4, 88.2, 77.4),
        ("MT Only (no prior)", 94.4, 85.6, 88.6, 78.0),
        ("Uniform Division", 95.6, 88.8, 90.8, 81.2),
        ("ROI Resize", 95.8, 89.0, 91.0, 81.3),
        ("mask × ROI resize (the paper's)", 96.1, 89.2, 91.2, 81.6),
    ),
)

T3 = PaperTable(
    "MPN-T3", "Table 3, §5.3.3", "variants of feature-space alignment (no sharing, no CA)", ("constraint",), _FOUR,
    (
        ("Baseline", 94.2, 84.4, 88.2, 77.4),
        ("Naive MTL (no constraint)", 94.6, 87.2, 88.7, 78.8),
        ("batch-wise", 94.7, 87.8, 89.7, 80.2),
        ("sample-wise [10] (triplet on h + g)", 95.1, 87.8, 90.1, 80.6),
        ("sample-wise (Eq. 9)", 95.0, 87.9, 90.1, 80.5),
        ("class-wise (the paper's, Eq. 8)", 95.5, 88.3, 90.5, 80.7),
    ),
)

_SOTA = ("group", "method")
T4 = PaperTable(
    "MPN-T4", "Table 4, §5.4.1", "state of the art on Market-1501", _SOTA,
    ("single-query Rank-1", "single-query mAP", "multi-query Rank-1", "multi-query mAP"),
    (
        ('HF', 'HGD [61]', 87.0, 70.9, None, None),
        ('HF', 'PSE [62]', 87.7, 69.0, None, None),
        ('HF', 'SNL [63]', 88.3, 73.4, 92.1, 80.3),
        ('HF', 'DaRe [64]', 89.0, 76.0, None, None),
        ('HF', 'MLFN [65]', 90.0, 74.3, 92.3, 82.4),
        ('HF', 'Mancs [32]', 93.1, 82.3, 95.4, 87.5),
        ('HF', 'SFT [66]', 93.4, 82.7, None, None),
        ('HF', 'DNN+CRF [67]', 93.5, 81.6, None, None),
        ('HF', 'PGR [68]', 93.9, 77.2, None, None),
        ('HF', 'IANet [59]', 94.4, 83.1, None, None),
        ('HF', 'OSNet [58]', 94.8, 84.9, None, None),
        ('HF', 'DCDS [69]', 94.8, 85.8, None, None),
        ('HF', 'BDB+Cut [60]', 95.3, 86.7, None, None),
        ('SPF', 'PAR [16]', 81.0, 63.4, None, None),
        ('SPF', 'AACN [11]', 85.9, 66.9, 89.8, 75.1),
        ('SPF', 'Part-Aligned [9]', 91.7, 79.6, 94.0, 85.2),
        ('SPF', 'PCB [19]', 92.3, 77.4, None, None),
        ('SPF', 'PCB+RPP [70]', 93.8, 81.6, None, None),
        ('SPF', 'DSA-Local(Single) [10]', 94.0, 83.2, None, None),
        ('SPF', 'FANN [71]', 94.4, 82.5, None, None),
        ('SPF', 'Auto-ReID [72]', 94.5, 85.1, None, None),
        ('SPF', 'MHN-6 (PCB) [73]', 95.1, 85.0, None, None),
        ('SPF', 'MPN', 96.3, 89.4, 97.0, 92.7),
        ('SPF', 'MPN* (+ RGA-SC [57])', 96.4, 90.1, 97.3, 93.1),
        ('MSF', 'PL-NET [18]', 88.2, 69.3, None, None),
        ('MSF', 'HA-CNN [20]', 91.2, 75.7, 93.8, 82.8),
        ('MSF', 'HPM [17]', 94.2, 82.7, None, None),
        ('MSF', 'MuDeep [74]', 95.3, 84.7, None, None),
        ('MSF', 'FPR [75]', 95.4, 86.6, None, None),
        ('MSF', 'MGN [7]', 95.7, 86.9, 96.9, 90.7),
        ('MSF', 'DSA-reID [10]', 95.7, 87.6, None, None),
        ('MSF', 'Pyramid [27]', 95.7, 88.2, None, None),
    ),
)

T5 = PaperTable(
    "MPN-T5", "Table 5, §5.4.2", "state of the art on DukeMTMC-reID", _SOTA, ("Rank-1", "mAP"),
    (
        ('HF', 'BraidNet [76]', 76.4, 59.5),
        ('HF', 'SVDNet [77]', 76.7, 56.8),
        ('HF', 'PSE [62]', 79.8, 62.0),
        ('HF', 'GSRW [78]', 80.7, 66.4),
        ('HF', 'DuATM [79]', 81.8, 64.6),
        ('HF', 'PGR [68]', 83.6, 66.0),
        ('HF', 'DNN+CRF [67]', 84.9, 69.5),
        ('HF', 'Mancs [32]', 84.9, 71.8),
        ('HF', 'SFT [66]', 86.9, 73.2),
        ('HF', 'IANet [59]', 87.1, 73.4),
        ('HF', 'OSNet [58]', 88.6, 73.5),
        ('HF', 'BDB+Cut [60]', 89.0, 76.0),
        ('SPF', 'AACN [11]', 76.8, 59.3),
        ('SPF', 'PCB [19]', 81.8, 66.1),
        ('SPF', 'Part-aligned [9]', 84.4, 69.3),
        ('SPF', 'PCB+RPP [70]', 84.5, 71.5),
        ('SPF', 'FANN [71]', 85.2, 70.2),
        ('SPF', 'MHN-6 (PCB) [73]', 89.1, 77.2),
        ('SPF', 'MPN', 91.5, 82.0),
        ('MSF', 'HA-CNN [20]', 80.5, 63.8),
        ('MSF', 'DSA-reID [10]', 86.2, 74.3),
        ('MSF', 'HPM [17]', 86.6, 74.3),
        ('MSF', 'MuDeep [74]', 88.2, 75.6),
        ('MSF', 'FPR [75]', 88.6, 78.4),
        ('MSF', 'MGN [7]', 88.7, 78.4),
        ('MSF', 'Pyramid [27]', 89.0, 79.0),
    ),
)

T6 = PaperTable(
    "MPN-T6", "Table 6, §5.4.3", "state of the art on CUHK03 (new protocol)", _SOTA,
    ("detected Rank-1", "detected mAP", "labeled Rank-1", "labeled mAP"),
    (
        ('HF', 'PAN [80]', 36.3, 34.0, 36.9, 35.0),
        ('HF', 'SVDNet [77]', 41.5, 37.3, None, None),
        ('HF', 'MGCAM [42]', 46.7, 46.9, 50.1, 50.2),
        ('HF', 'Rolling-back [81]', 55.6, 50.5, 59.8, 55.7),
        ('HF', 'SFT [66] ‡', 68.2, 62.4, None, None),
        ('HF', 'Mancs [32]', 65.5, 60.5, 69.0, 63.9),
        ('HF', 'OSNet [58]', 72.3, 67.8, None, None),
        ('HF', 'BDB+Cut [60]', 76.4, 73.5, 79.4, 76.7),
        ('SPF', 'PCB [19]', 61.3, 54.2, None, None),
        ('SPF', 'PCB+RPP [70]', 63.7, 57.5, None, None),
        ('SPF', 'HPDN [82]', None, None, 64.3, 58.2),
        ('SPF', 'MHN-6 (PCB) [73]', 71.7, 65.4, 77.2, 72.4),
        ('SPF', 'Auto-ReID [72]', 73.3, 69.3, 77.9, 73.0),
        ('SPF', 'MPN', 83.4, 79.1, 85.0, 81.1),
        ('MSF', 'HA-CNN [20]', 41.7, 38.6, 44.4, 41.0),
        ('MSF', 'HPM [17]', 63.9, 57.5, None, None),
        ('MSF', 'MGN [7]', 66.8, 66.0, 68.0, 67.4),
        ('MSF', 'MuDeep [74]', 71.9, 67.2, 75.6, 70.5),
        ('MSF', 'DSA-reID [10]', 78.2, 73.1, 78.9, 75.2),
        ('MSF', 'Pyramid [27]', 78.9, 74.8, 78.9, 76.9),
    ),
)

T7 = PaperTable(
    "MPN-T7", "Table 7, §5.4.4", "state of the art on MSMT17", _SOTA, ("Rank-1", "mAP"),
    (
        ('HF', 'Verif-Identif [83],[84]', 60.5, 31.6),
        ('HF', 'PGR [68]', 66.0, 37.9),
        ('HF', 'SFT [66]', 73.6, 47.6),
        ('HF', 'IANet [59]', 75.5, 46.8),
        ('HF', 'DG-Net [84]', 77.2, 52.3),
        ('HF', 'OSNet [58]', 78.7, 52.9),
        ('Part-based', 'PDC [25],[28]', 58.0, 29.7),
        ('Part-based', 'GLAD [25],[85]', 61.4, 34.0),
        ('Part-based', 'PCB+RPP [70]', 69.8, 43.6),
        ('Part-based', 'Auto-ReID [72]', 78.2, 52.5),
        ('Part-based', 'MPN', 83.5, 62.7),
    ),
)

T8 = PaperTable(
    "MPN-T8", "Table 8, §5.4.5", "model complexity (Titan V, 384×128)", ("method",),
    ("train #params (M)", "train time (ms)", "test #params (M)", "test time (ms)"),
    (
        ("PCB [19]", 26.8, 8.3, 26.8, 4.9),
        ("MGN [7]", 68.8, 16.2, 68.8, 11.9),
        ("Pyramid [27]", 29.1, 14.5, 29.1, 6.4),
        ("DSA-reID [10]", 187.8, 34.7, 38.5, 5.4),
        ("MPN°", 31.5, 10.9, 31.5, 5.1),
    ),
)

#: Fig. 9 (§5.3.2) is a plot; its text gives only how far hard sharing of conv1 beats the best soft weight
F9 = PaperTable(
    "MPN-F9", "Fig. 9, §5.3.2", "hard minus the best soft sharing of the first 1×1 conv (% points)",
    ("dataset",), ("Rank-1", "mAP"),
    (("Market-1501", 0.4, 0.3), ("DukeMTMC-reID", 0.3, 0.4)),
)

TABLES: dict[str, PaperTable] = {t.artefact: t for t in (T1, T2, T3, T4, T5, T6, T7, T8, F9)}

__all__ = ["F9", "MISSING", "PaperTable", "T1", "T1_ROWS", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "TABLES"]
