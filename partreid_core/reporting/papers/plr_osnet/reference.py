"""The PLR-OSNet paper's own numbers, transcribed as typed data (Xie et al., arXiv 2001.07442).

Each :class:`PaperTable` cites its table and section. The source text the tables were transcribed from carries
no page breaks, so the section of the paper stands in for the page. ``None`` is a value the paper does not
report (a "-" in its table). Accuracies are in %, mAP non-interpolated (torchreid, the paper's code base).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...chapter import fmt

#: the (dataset, metric) columns of the ablation tables IV–VI, in the paper's order
_ALL4 = (("Market-1501", "mAP"), ("Market-1501", "Rank-1"), ("DukeMTMC-reID", "mAP"), ("DukeMTMC-reID", "Rank-1"),
         ("CUHK03-L", "mAP"), ("CUHK03-L", "Rank-1"), ("CUHK03-D", "mAP"), ("CUHK03-D", "Rank-1"))


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper.

    Attributes:
        artefact: the chapter's artefact id (``"PLR-T4"``).
        source: where it is in the paper (``"Table IV, §IV-E"``).
        title: the paper's caption, shortened.
        index_name: what a row is (``"method"``, ``"global features"``).
        columns: (dataset, metric) per value column.
        rows: (row label, values) with one value per column, ``None`` where the paper reports none.
        digits: decimals shown (the largest the paper prints in the table).
    """

    artefact: str
    source: str
    title: str
    index_name: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[str, tuple[float | None, ...]], ...]
    digits: int = 1

    def __post_init__(self) -> None:
        for label, values in self.rows:
            if len(values) != len(self.columns):
                raise ValueError(f"{self.artefact} row {label!r}: {len(values)} values for {len(self.columns)} columns")

    def value(self, row: str, dataset: str, metric: str) -> float | None:
        """One cell, e.g. ``T4.value("Yes", "Market-1501", "mAP")`` -> 88.9; ``None`` if not reported."""
        values = dict(self.rows)[row]
        return values[self.columns.index((dataset, metric))]

    def frame(self) -> pd.DataFrame:
        """The table as the paper prints it: rows = the paper's rows, columns (dataset, metric), values formatted
        with :attr:`digits` decimals, "—" where not reported."""
        df = pd.DataFrame([[fmt(v, self.digits) for v in values] for _, values in self.rows],
                          index=pd.Index([label for label, _ in self.rows], name=self.index_name),
                          columns=pd.MultiIndex.from_tuples(self.columns, names=["dataset", "metric"]))
        return df

    def numbers(self) -> pd.DataFrame:
        """The values as floats (NaN where not reported), for figures; same shape as :meth:`frame`."""
        return pd.DataFrame([[float("nan") if v is None else v for v in values] for _, values in self.rows],
                            index=[label for label, _ in self.rows], columns=pd.MultiIndex.from_tuples(self.columns))


def _sota(artefact: str, table: str, dataset: str, rows: list[tuple[str, float, float]]) -> PaperTable:
    return PaperTable(artefact, f"Table {table}, §IV-C", f"comparison with the state of the art on {dataset}",
                      "method", ((dataset, "mAP"), (dataset, "Rank-1")),
                      tuple((m, (a, r)) for m, a, r in rows), digits=2)


T1 = _sota("PLR-T1", "I", "Market-1501", [
    ("KPM (CVPR'18)", 75.3, 90.1), ("MLFN (CVPR'18)", 74.4, 90.0), ("CRF (CVPR'18)", 81.6, 93.5),
    ("HA-CNN (CVPR'18)", 75.7, 91.2), ("PCB (ECCV'18)", 81.6, 93.8), ("Manacs (ECCV'18)", 82.3, 93.1),
    ("SNL (ACM'18)", 73.43, 88.27), ("HDLF (ACM MM'18)", 79.10, 93.30), ("MGN (ACM MM'18)", 86.9, 95.7),
    ("Local CNN (ACM MM'18)", 87.4, 95.9), ("IAN (CVPR'19)", 83.1, 94.4), ("CAMA (CVPR'19)", 84.5, 94.7),
    ("MHN (CVPR'19)", 85.0, 95.1), ("Pyramid (CVPR'19)", 88.2, 95.7), ("BagOfTricks (CVPRW'19)", 85.9, 94.5),
    ("ABD (ICCV'19)", 88.28, 95.6), ("BDB (ICCV'19)", 86.7, 95.3), ("SONA (ICCV'19)", 88.67, 95.68),
    ("Auto-ReID (ICCV'19)", 85.1, 94.5), ("OSNet (ICCV'19)", 84.9, 94.8), ("PLR-OSNet", 88.9, 95.6)])

T2 = _sota("PLR-T2", "II", "DukeMTMC-reID", [
    ("MLFN (CVPR'18)", 62.8, 81.2), ("GP-Re-ID (CVPR'18)", 72.8, 85.2), ("HA-CNN (CVPR'18)", 63.8, 80.5),
    ("PCB (ECCV'18)", 69.2, 83.3), ("Manacs (ECCV'18)", 71.8, 84.9), ("MGN (ACM MM'18)", 78.40, 88.7),
    ("Local CNN (ACM MM'18)", 66.04, 82.23), ("IAN (CVPR'19)", 73.4, 87.1), ("CAMA (CVPR'19)", 72.9, 85.8),
    ("MHN (CVPR'19)", 77.2, 89.1), ("Pyramid (CVPR'19)", 79.0, 89.0), ("BagOfTricks (CVPRW'19)", 76.4, 86.4),
    ("ABD (ICCV'19)", 78.59, 89.0), ("BDB (ICCV'19)", 76.0, 89.0), ("SONA (ICCV'19)", 78.05, 89.25),
    ("Auto-ReID (ICCV'19)", 75.1, 88.5), ("OSNet (ICCV'19)", 73.5, 88.6), ("PLR-OSNet", 81.2, 91.6)])

T3 = PaperTable("PLR-T3", "Table III, §IV-C", "comparison with the state of the art on CUHK03 (767/700)", "method",
                (("CUHK03-L", "mAP"), ("CUHK03-L", "Rank-1"), ("CUHK03-D", "mAP"), ("CUHK03-D", "Rank-1")), (
    ("DaRe+RE (CVPR'18)", (61.6, 66.1, 59.0, 63.3)), ("MLFN (CVPR'18)", (49.2, 54.7, 47.8, 52.8)),
    ("HA-CNN (CVPR'18)", (41.0, 44.4, 38.6, 41.7)), ("PCB (ECCV'18)", (None, None, 57.5, 63.7)),
    ("Manacs (ECCV'18)", (63.9, 69.0, 60.5, 65.5)), ("MGN (ACM MM'18)", (67.4, 68.0, 66.0, 68.0)),
    ("MHN (CVPR'19)", (72.4, 77.2, 65.4, 71.7)), ("Pyramid (CVPR'19)", (76.9, 78.9, 74.8, 78.9)),
    ("BDB (ICCV'19)", (76.7, 79.4, 73.5, 76.4)), ("SONA (ICCV'19)", (79.23, 81.85, 76.35, 79.10)),
    ("Auto-ReID (ICCV'19)", (73.0, 77.9, 69.3, 73.3)), ("OSNet (ICCV'19)", (None, None, 67.8, 72.3)),
    ("PLR-OSNet", (80.5, 84.6, 77.2, 80.4))), digits=2)

T4 = PaperTable("PLR-T4", "Table IV, §IV-E 1", "the use of global features", "global features", _ALL4, (
    ("No", (86.9, 94.6, 79.8, 90.2, 77.5, 81.2, 73.4, 77.6)),
    ("Yes", (88.9, 95.6, 81.2, 91.6, 80.5, 84.6, 77.2, 80.4))))

T5 = PaperTable("PLR-T5", "Table V, §IV-E 2", "single ID loss vs multiple ID loss", "method", _ALL4, (
    ("Multiple ID loss", (85.6, 94.4, 77.0, 89.4, 79.4, 83.1, 74.7, 78.4)),
    ("Single ID loss", (88.9, 95.6, 81.2, 91.6, 80.5, 84.6, 77.2, 80.4))))

T6 = PaperTable("PLR-T6", "Table VI, §IV-E 3", "the use of attention modules", "attention modules", _ALL4, (
    ("No", (88.4, 95.0, 81.0, 90.8, 79.5, 82.4, 76.8, 79.4)),
    ("Yes", (88.9, 95.6, 81.2, 91.6, 80.5, 84.6, 77.2, 80.4))))

T7 = PaperTable("PLR-T7", "Table VII, §IV-E 4", "soft margin vs hard margin triplet loss", "triplet loss",
                (("CUHK03-L", "mAP"), ("CUHK03-L", "Rank-1"), ("CUHK03-D", "mAP"), ("CUHK03-D", "Rank-1")), (
    ("Hard margin", (75.9, 78.6, 72.8, 76.0)), ("Soft margin", (80.5, 84.6, 77.2, 80.4))))

TABLES: dict[str, PaperTable] = {t.artefact: t for t in (T1, T2, T3, T4, T5, T6, T7)}


@dataclass(frozen=True)
class ModelSize:
    """A parameter / multiply-add count to check ours against: torchreid's ``compute_model_complexity`` on the
    same module (``reference``), and the paper's rounded figure where it gives one."""

    label: str
    overrides: dict
    input_size: tuple[int, int]
    params: int
    macs: int


#: torchreid's counter on the paper's model and the OSNet paper's (§IV-C: "only 3.4M parameters"; the OSNet paper
#: gives 2.2M and 978.9M Mult-Adds for OSNet x1.0), at 256×128 with the classifiers excluded
TORCHREID_COUNTS = {"osnet": (2_193_616, 978_878_352), "plr_osnet": (3_362_136, 1_133_862_864)}

#: the ablation variants at the paper's size, and the x0.25 model the cpu sweeps train at 128×64
VARIANT_SIZES = (
    ModelSize("no attention (PLR-T6)", {"attention": False}, (256, 128), 3_280_144, 1_113_965_520),
    ModelSize("no global branch (PLR-T4)", {"global_branch": False}, (256, 128), 2_016_024, 998_513_040),
    ModelSize("PLR-OSNet x0.25, 128×64 (cpu sweeps)", {"backbone": {"name": "osnet_x0_25", "width": 1.0}},
              (128, 64), 233_810, 23_152_688),
)


@dataclass(frozen=True)
class ScheduleCheck:
    """One learning rate of §IV-B's schedule: warm-up from 3.5e-5 to 3.5e-4 over the first 20 (CUHK03: 40)
    epochs, then ×0.1 twice (the values follow from the paper's numbers; 0-based epochs)."""

    label: str
    curve: str
    epoch: int
    lr: float


SCHEDULE_CHECKS = (
    ScheduleCheck("Market e=1", "market", 1, 5.1579e-5), ScheduleCheck("Market e=10", "market", 10, 2.0079e-4),
    ScheduleCheck("Market e=19", "market", 19, 3.5e-4), ScheduleCheck("Market e=60", "market", 60, 3.5e-5),
    ScheduleCheck("Market e=90", "market", 90, 3.5e-6), ScheduleCheck("CUHK03 e=1", "cuhk03", 1, 4.3077e-5),
    ScheduleCheck("CUHK03 e=39", "cuhk03", 39, 3.5e-4), ScheduleCheck("CUHK03 e=130", "cuhk03", 130, 3.5e-6),
)

__all__ = ["PaperTable", "ModelSize", "ScheduleCheck", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "TABLES",
           "TORCHREID_COUNTS", "VARIANT_SIZES", "SCHEDULE_CHECKS"]
