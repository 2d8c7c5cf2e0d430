"""The RMGL paper's own numbers (Wang et al., IEEE TIP 2020), transcribed as typed data.

Each :class:`PaperTable` names the table of the paper and the section it sits in. The source text the
transcription was made from has no page breaks, so the section stands in for the page. ``None`` is a cell the
paper leaves empty ("-"); a table renders it as :data:`partreid_core.reporting.chapter.MISSING`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...chapter import fmt

Row = tuple[str | tuple[str, str], tuple[float | None, ...]]


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper.

    Attributes:
        artefact: the chapter's artefact id (``"RMGL-T5"``).
        source: where it is in the paper (``"Table V, §IV-D"``).
        columns: the value columns, as the paper heads them.
        rows: (row label, one value per column); a label is a string, or (group, label) for grouped tables.
        index: the name(s) of the row label(s).
    """

    artefact: str
    source: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    index: tuple[str, ...] = ("method",)

    def value(self, row: str | tuple[str, str], column: str) -> float | None:
        """The paper's number in ``row`` / ``column``; None when the paper reports none."""
        for label, values in self.rows:
            if label == row:
                return values[self.columns.index(column)]
        raise KeyError(f"{self.artefact} has no row {row!r}")

    def frame(self) -> pd.DataFrame:
        """The table as the page shows it: one row per method, one decimal, "—" where the paper has no value."""
        labels = [label for label, _ in self.rows]
        index = (pd.MultiIndex.from_tuples(labels, names=list(self.index)) if len(self.index) > 1
                 else pd.Index(labels, name=self.index[0]))
        return pd.DataFrame([[fmt(v) for v in values] for _, values in self.rows], index=index,
                            columns=list(self.columns))


_MD = ("Market mAP", "Market R1", "Duke mAP", "Duke R1")

T1 = PaperTable("RMGL-T1", "Table I, §IV-B", _MD, (
    ("HA-CNN", (75.7, 91.2, 63.8, 80.5)), ("DNN-CRF", (81.6, 93.5, 69.5, 84.9)),
    ("PCB+RPP", (81.6, 93.8, 69.2, 83.3)), ("Mancs", (82.3, 92.3, 71.8, 84.9)),
    ("GSRW", (82.5, 92.7, 66.4, 80.7)), ("AANet-50", (82.5, 93.9, 72.6, 86.4)),
    ("SFT", (82.7, 93.4, 73.2, 86.9)), ("SGGNN", (82.8, 92.3, 68.2, 81.1)),
    ("CASN", (82.8, 94.4, 73.7, 87.7)), ("IANet", (83.1, 94.4, 73.4, 87.1)),
    ("HPM+HRE", (83.1, 93.9, 74.5, 86.3)), ("CAMA", (84.5, 94.7, 72.9, 85.8)),
    ("Auto-ReID", (85.1, 94.5, None, None)), ("PAP+PS", (85.6, 94.6, 74.6, 87.5)),
    ("DG-Net", (86.0, 94.8, 74.8, 86.6)), ("MGN", (86.9, 95.7, 78.4, 88.7)),
    ("DSA-reID", (87.6, 95.7, 74.3, 86.2)), ("Pyramid", (88.2, 95.7, 79.0, 89.0)),
    ("RMGL (paper)", (90.0, 96.2, 81.0, 90.5)), ("RMGL+RK (paper)", (95.6, 96.7, 91.0, 92.6)),
))

T2 = PaperTable("RMGL-T2", "Table II, §IV-B", ("labeled mAP", "labeled R1", "detected mAP", "detected R1"), (
    ("HA-CNN", (41.0, 44.4, 38.6, 41.7)), ("MLFN", (49.2, 54.7, 47.8, 52.8)),
    ("PCB+RPP", (None, None, 57.5, 63.7)), ("SFT", (62.4, 68.2, None, None)),
    ("Mancs", (63.9, 69.0, 60.5, 65.5)), ("PAP+PS", (None, None, 66.8, 72.5)),
    ("CAMA", (66.5, 70.1, 64.2, 66.6)), ("CASN", (68.0, 73.7, 64.4, 71.5)),
    ("Auto-ReID", (73.0, 77.9, 69.3, 73.3)), ("DSA-reID", (75.2, 78.9, 73.1, 78.2)),
    ("Pyramid", (76.9, 78.9, 74.8, 78.9)), ("RMGL (paper)", (77.9, 79.9, 76.2, 79.6)),
    ("RMGL+RK (paper)", (89.1, 87.8, 88.3, 86.8)),
))

T3 = PaperTable("RMGL-T3", "Table III, §IV-B", ("mAP", "R1"), (
    ("GoogLeNet", (23.0, 47.6)), ("PDC", (29.7, 58.0)), ("GLAD", (34.0, 61.4)), ("SFT", (47.6, 73.6)),
    ("IANet", (46.8, 75.5)), ("Auto-ReID", (52.5, 78.2)), ("PAP+PS", (55.3, 80.8)), ("DG-Net", (52.3, 77.2)),
    ("RMGL (paper)", (60.4, 83.6)),
))

#: RMGL's rows and its direct-transfer competitor's only (the other rows adapt on target data)
T4 = PaperTable("RMGL-T4", "Table IV, §IV-C",
                ("→Market mAP", "→Market R1", "→Duke mAP", "→Duke R1", "→CUHK03 mAP", "→CUHK03 R1"), (
    (("Market", "RMGL† (paper)"), (None, None, 33.8, 52.4, 13.6, 14.8)),
    (("Market", "PAP+PS†"), (None, None, 31.7, 51.4, 12.8, 14.2)),
    (("Duke", "RMGL† (paper)"), (33.4, 63.7, None, None, 9.9, 11.0)),
    (("Duke", "PAP+PS†"), (32.9, 61.7, None, None, 9.6, 11.4)),
    (("CUHK03", "RMGL† (paper)"), (36.5, 62.9, 25.5, 41.8, None, None)),
    (("CUHK03", "PAP+PS†"), (33.3, 59.4, 22.0, 39.3, None, None)),
    (("MSMT17", "RMGL† (paper)"), (38.1, 66.8, 47.8, 68.2, 18.7, 20.8)),
    (("MSMT17", "PAP+PS†"), (37.9, 66.4, 46.4, 67.4, 17.4, 19.4)),
), index=("source", "method"))

T5 = PaperTable("RMGL-T5", "Table V, §IV-D", _MD, (
    ("2-stripe (BL)", (85.6, 95.0, 76.5, 88.1)), ("3-stripe (BL)", (85.5, 94.9, 77.1, 88.2)),
    ("2+3-stripe (BL)", (87.1, 95.5, 79.0, 89.3)), ("2-stripe+RP", (86.8, 95.0, 77.5, 88.1)),
    ("3-stripe+RP", (86.6, 95.3, 78.3, 88.9)), ("2+3-stripe+RP", (88.3, 95.7, 79.9, 89.5)),
    ("2-stripe only RP", (86.3, 95.0, 77.2, 88.0)), ("3-stripe only RP", (86.5, 95.3, 78.1, 88.7)),
    ("2+3-stripe only RP", (88.0, 95.7, 79.6, 89.3)), ("2-stripe+RSA", (86.8, 95.2, 77.4, 88.9)),
    ("3-stripe+RSA", (86.6, 95.2, 78.1, 88.6)), ("2+3-stripe+RSA", (88.3, 95.9, 79.9, 89.5)),
    ("2-stripe+RP+RSA", (88.1, 95.5, 78.7, 89.1)), ("2+3-stripe+RP+RSA", (89.7, 96.1, 80.8, 90.3)),
    ("2-stripe+ABP", (86.0, 95.2, 76.7, 88.5)), ("3-stripe+ABP", (86.5, 95.2, 77.4, 88.6)),
    ("2+3-stripe+ABP", (87.8, 95.5, 79.3, 89.7)), ("2-stripe+RP+ABP+RSA", (88.5, 95.6, 79.0, 89.1)),
    ("2+3-stripe+RP+ABP+RSA (RMGL)", (90.0, 96.2, 81.0, 90.5)), ("RMGL (1+2+3)", (89.8, 96.0, 81.2, 90.5)),
    ("RMGL (2+3+4)", (90.1, 96.2, 81.5, 90.7)),
))

#: the values only; the paper prints each one's difference to Table V's BL row of the same stripes beside it
T6 = PaperTable("RMGL-T6", "Table VI, §IV-D", _MD, (
    ("2-stripe+RCJ", (85.8, 94.9, 76.4, 88.1)), ("2-stripe+RC", (85.6, 94.8, 76.6, 88.0)),
    ("2-stripe+RE", (86.4, 95.0, 77.1, 88.5)), ("2-stripe+RCRS", (86.0, 95.1, 76.8, 88.0)),
    ("2-stripe+RSA", (86.8, 95.2, 77.4, 88.9)), ("2-stripe+RSA+RE", (87.3, 95.4, 77.8, 89.3)),
    ("2+3-stripe+RCJ", (87.2, 95.3, 79.2, 89.3)), ("2+3-stripe+RC", (87.3, 95.3, 79.3, 89.2)),
    ("2+3-stripe+RE", (88.0, 95.7, 79.5, 89.5)), ("2+3-stripe+RCRS", (87.7, 95.6, 79.4, 89.3)),
    ("2+3-stripe+RSA", (88.3, 95.9, 79.9, 89.5)), ("2+3-stripe+RSA+RE", (89.0, 96.1, 80.2, 89.5)),
))

PAPER_TABLES: dict[str, PaperTable] = {t.artefact: t for t in (T1, T2, T3, T4, T5, T6)}

#: Eq. 6 (§III-B): (receptive field r_0, cumulative stride, map height h_j) at each cut of a 384×128 input
EQ6_LAYERS: dict[str, tuple[int, int, int]] = {
    "IP (image)": (1, 1, 384), "res2 (stem out)": (11, 4, 96), "res3 (after res_conv2c; RMGL)": (35, 4, 96),
    "res4 (layer2 out)": (91, 8, 48), "res5 (layer3 out)": (267, 16, 24), "OP (final map)": (363, 16, 24),
}


def eq6_region(r0: int, stride: int, height: int, shards: int) -> float:
    """Eq. 6: the largest input region (px) one receptive-partition stripe sees, R = r_0 + (h / n_s − 1) · Π s."""
    return r0 + (height / shards - 1) * stride


__all__ = ["EQ6_LAYERS", "PAPER_TABLES", "PaperTable", "T1", "T2", "T3", "T4", "T5", "T6", "eq6_region"]
