"""The PAL paper's own numbers, transcribed as typed data (all in %, unless said otherwise).

Huang et al., *Improve Person Re-Identification With Part Awareness Learning*, IEEE TIP 29 (2020),
pp. 7468–7481. :data:`SOURCES` cites each table by the paper's table / figure and journal page (the page located
from the table's position in the paper's text, which carries no page marks).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Scores(NamedTuple):
    """One row of a CMC / mAP table (%)."""

    rank1: float
    rank5: float
    rank10: float
    mAP: float


class Split(NamedTuple):
    ids: int
    images: int


class DatasetStats(NamedTuple):
    """One row of Table I: (#IDs, #images) of train, query and gallery."""

    train: Split
    query: Split
    gallery: Split


class MGNPair(NamedTuple):
    """The authors' "MGN (Our Imp.)" and "MGN+PS" rows of Tables II-V (Rank-1, mAP)."""

    mgn_rank1: float
    mgn_mAP: float
    ps_rank1: float
    ps_mAP: float


class SotaRow(NamedTuple):
    """A state-of-the-art row of Tables II-V: group (G, LMR, PG, MG, RDMR, A), method, Rank-1, mAP."""

    group: str
    method: str
    rank1: float
    mAP: float


#: where each reference table is in the paper
SOURCES: dict[str, str] = {
    "T1": "Table I, p. 7472", "F6": "Fig. 6 and §IV-C text, p. 7473", "F7": "Fig. 7 and §IV-C1 text, p. 7473",
    "T2": "Table II, p. 7475", "T3": "Table III, p. 7475", "T4": "Table IV, p. 7475", "T5": "Table V, p. 7475",
    "F9": "Fig. 9, p. 7475", "T6": "Table VI, p. 7476", "T7": "Table VII, p. 7476",
    "F12": "Fig. 12 and §IV-H text, p. 7477", "T8": "Table VIII, p. 7477", "T9": "Table IX, p. 7477",
}
DATASETS = ["Market1501", "CUHK03", "DukeMTMC-reID", "MSMT17"]

#: PAL-T1: dataset -> (train, query, gallery) as (#IDs, #images)
T1: dict[str, DatasetStats] = {
    "Market1501": DatasetStats(Split(751, 12936), Split(750, 3368), Split(750, 15913)),
    "CUHK03": DatasetStats(Split(767, 7365), Split(700, 1400), Split(700, 5332)),
    "DukeMTMC-reID": DatasetStats(Split(702, 16522), Split(702, 2228), Split(1110, 17661)),
    "MSMT17": DatasetStats(Split(1041, 32621), Split(3060, 11659), Split(3060, 82161)),
}
#: PAL-F6: model -> dataset -> (ΔRank-1, ΔmAP) of +PS
F6_DELTAS: dict[str, dict[str, tuple[float, float]]] = {
    "globalpool": {"Market1501": (1.0, 1.7), "CUHK03": (5.8, 4.5), "DukeMTMC-reID": (0.4, 0.9), "MSMT17": (2.3, 2.7)},
    "pcb": {"Market1501": (0.7, 1.5), "CUHK03": (2.1, 2.9), "DukeMTMC-reID": (1.0, 1.3), "MSMT17": (2.9, 3.7)},
    "mgn": {"Market1501": (0.7, 1.9), "CUHK03": (3.8, 3.9), "DukeMTMC-reID": (0.7, 1.6), "MSMT17": (3.9, 6.2)},
}
#: PAL-F7 (GlobalPool on MSMT17): backbone -> (ΔRank-1, ΔmAP) of +PS
F7_DELTAS: dict[str, tuple[float, float]] = {"ResNet-50": (2.3, 2.7), "MobileNetV2": (1.4, 1.7),
                                            "DenseNet-121": (2.4, 3.2), "OSNet": (2.5, 3.7)}
#: PAL-T2..T5: dataset -> the authors' MGN / MGN+PS pair
MGN_ABSOLUTE: dict[str, MGNPair] = {
    "Market1501": MGNPair(95.1, 86.8, 95.8, 88.7), "CUHK03": MGNPair(75.0, 70.5, 78.8, 74.4),
    "DukeMTMC-reID": MGNPair(89.3, 78.3, 90.0, 79.9), "MSMT17": MGNPair(80.1, 56.2, 84.0, 62.4),
}


def _sota(text: str) -> list[SotaRow]:
    """``"G DaRe 86.4 69.3; LMR MSCAN 80.3 57.5; ..."`` -> rows (a compact transcription of the paper's table)."""
    rows = []
    for item in text.split(";"):
        group, *method, r1, m = item.split()
        rows.append(SotaRow(group, " ".join(method), float(r1), float(m)))
    return rows


#: PAL-T2..T5 (Market1501, CUHK03 detected 767/700, DukeMTMC-reID, MSMT17): the state-of-the-art rows
SOTA: dict[str, list[SotaRow]] = {
    "Market1501": _sota(
        "G DaRe 86.4 69.3; G AOS 86.5 70.4; G Cam-GAN 89.5 71.6; G OSNet 94.8 84.9; G DG-Net 94.8 86.0;"
        "LMR MSCAN 80.3 57.5; LMR AANet 93.9 82.5; LMR CAMA 94.7 84.5; PG PDC 84.4 63.4; PG AACN 85.9 66.9;"
        "PG PSE 87.7 69.0; PG PN-GAN 89.4 72.6; PG PABR 91.7 79.6; MG MGCAM 83.8 74.3; MG SPReID 92.5 81.3;"
        "MG DSA-reID 95.7 87.6; RDMR PCB 92.3 77.4; RDMR PCB+RPP 93.8 81.6; RDMR HPM 94.2 82.7; RDMR MGN 95.7 86.9;"
        "RDMR Pyramid 95.7 88.2; A HA-CNN 91.2 75.7; A Mancs 93.1 82.3; A CASN 94.4 82.8; A IANet 94.4 83.1"),
    "CUHK03": _sota(
        "G AOS 47.1 43.3; G MLFN 52.8 47.8; G DaRe 55.1 51.3; G DG-Net 65.6 61.1; G OSNet 72.3 67.8;"
        "LMR CAMA 66.6 64.2; RDMR PCB 61.3 54.2; RDMR PCB+RPP 63.7 57.5; RDMR HPM 63.9 57.5; RDMR MGN 66.8 66.0;"
        "RDMR Pyramid 78.9 74.8; MG DSA-reID 78.2 73.1; A HA-CNN 41.7 38.6; A Mancs 65.5 60.5; A CASN 71.5 64.4"),
    "DukeMTMC-reID": _sota(
        "G Cam-GAN 78.3 57.6; G AOS 79.2 62.1; G DaRe 80.2 64.5; G DG-Net 86.6 74.8; G OSNet 88.6 73.5;"
        "LMR CAMA 85.8 72.9; LMR AANet 87.7 74.3; PG PN-GAN 73.6 53.2; PG AACN 76.8 59.3; PG PSE 79.8 62.0;"
        "PG PABR 84.4 69.3; MG SPReID 84.4 71.0; MG DSA-reID 86.2 74.3; RDMR PCB 81.8 66.1; RDMR PCB+RPP 83.3 69.2;"
        "RDMR HPM 86.6 74.3; RDMR MGN 88.7 78.4; RDMR Pyramid 89.0 79.0; A HA-CNN 80.5 63.8; A Mancs 84.9 71.8;"
        "A IANet 87.1 73.4; A CASN 87.7 73.7"),
    "MSMT17": _sota(
        "G GoogleNet 47.6 23.0; PG PDC 58.0 29.7; G Verif-Identif 60.5 31.6; PG GLAD 61.4 34.0; RDMR PCB 68.2 40.4;"
        "A IANet 75.5 46.8; G DG-Net 77.2 52.3; G OSNet 78.7 52.9"),
}
#: PAL-T6 (MSMT17): row -> scores
T6: dict[str, Scores] = {
    "PCB": Scores(74.0, 84.9, 88.2, 47.4), "PCB + Foreground": Scores(75.7, 86.0, 89.2, 49.3),
    "PCB + Two Parts": Scores(75.6, 86.2, 89.3, 49.4), "PCB + Four Parts": Scores(76.1, 86.4, 89.3, 50.0),
    "PCB + Seven Parts": Scores(76.9, 86.9, 89.8, 51.1), "MGN": Scores(80.1, 89.0, 91.5, 56.2),
    "MGN + Foreground": Scores(82.6, 90.7, 92.9, 60.0), "MGN + Two Parts": Scores(83.0, 90.9, 93.1, 60.4),
    "MGN + Four Parts": Scores(83.6, 91.2, 93.4, 61.7), "MGN + Seven Parts": Scores(84.0, 91.5, 93.5, 62.4),
}
#: PAL-T7 (MSMT17): row -> scores
T7: dict[str, Scores] = {
    "PCB": Scores(74.0, 84.9, 88.2, 47.4), "PCB + Type (a)": Scores(77.4, 87.3, 90.0, 51.5),
    "PCB + Type (b)": Scores(77.0, 86.9, 89.8, 51.0), "PCB + Type (c)": Scores(76.9, 86.9, 89.8, 51.1),
    "PCB + Type (d)": Scores(76.7, 87.1, 89.8, 51.0), "MGN": Scores(80.1, 89.0, 91.5, 56.2),
    "MGN + Type (a)": Scores(84.4, 91.5, 93.6, 62.3), "MGN + Type (b)": Scores(84.2, 91.7, 93.7, 62.7),
    "MGN + Type (c)": Scores(84.0, 91.5, 93.5, 62.4), "MGN + Type (d)": Scores(83.8, 91.4, 93.4, 61.8),
}
#: PAL-T8 (MGN+PS on CUHK03): how the part segmenter was trained -> scores
T8: dict[str, Scores] = {
    "No Adaptation": Scores(78.9, 90.6, 93.9, 73.5), "CSPL": Scores(77.8, 91.4, 94.4, 74.1),
    "RoL": Scores(78.7, 90.9, 94.4, 74.5), "SPGAN (final)": Scores(78.8, 90.9, 94.6, 74.4),
}


class CrossDomain(NamedTuple):
    """One row of Table IX: trained on MSMT17, tested on Market1501 and on CUHK03."""

    market_rank1: float
    market_mAP: float
    cuhk_rank1: float
    cuhk_mAP: float


#: PAL-T9: method -> scores
T9: dict[str, CrossDomain] = {
    "PCB": CrossDomain(58.7, 30.5, 14.3, 13.1), "PCB+PS": CrossDomain(62.2, 33.4, 15.5, 14.2),
    "MGN": CrossDomain(60.7, 31.8, 20.1, 17.4), "MGN+PS": CrossDomain(67.4, 39.1, 23.5, 21.0),
}
#: PAL-F12 points given in numbers (MSMT17): model -> {lambda: (Rank-1, mAP)}; the other points are only drawn
F12_KNOWN: dict[str, dict[float, tuple[float, float]]] = {
    "pcb": {0.0: (74.0, 47.4), 1.0: (76.9, 51.1), 10.0: (77.9, 52.3)},
    "mgn": {0.0: (80.1, 56.2), 1.0: (84.0, 62.4), 10.0: (80.3, 56.2)},
}
#: PAL-F9: mean 6x6 cosine similarity of PCB's max-pooled Conv5 stripes (MSMT17 test), (a) PCB and (b) PCB+PS
F9_PCB = np.array([[1.00, 0.90, 0.83, 0.83, 0.84, 0.84], [0.90, 1.00, 0.88, 0.84, 0.85, 0.85],
                   [0.83, 0.88, 1.00, 0.89, 0.86, 0.85], [0.83, 0.84, 0.89, 1.00, 0.90, 0.86],
                   [0.84, 0.85, 0.86, 0.90, 1.00, 0.91], [0.84, 0.85, 0.85, 0.86, 0.91, 1.00]])
F9_PCB_PS = np.array([[1.00, 0.88, 0.80, 0.78, 0.79, 0.80], [0.88, 1.00, 0.84, 0.79, 0.79, 0.80],
                      [0.80, 0.84, 1.00, 0.85, 0.80, 0.80], [0.78, 0.79, 0.85, 1.00, 0.86, 0.82],
                      [0.79, 0.79, 0.80, 0.86, 1.00, 0.89], [0.80, 0.80, 0.80, 0.82, 0.89, 1.00]])

__all__ = ["CrossDomain", "DATASETS", "DatasetStats", "F12_KNOWN", "F6_DELTAS", "F7_DELTAS", "F9_PCB", "F9_PCB_PS",
           "MGNPair", "MGN_ABSOLUTE", "SOTA", "SOURCES", "Scores", "SotaRow", "Split", "T1", "T6", "T7", "T8", "T9"]
