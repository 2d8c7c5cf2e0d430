"""Datasets in the Market-1501 folder layout: Market-1501 and DukeMTMC-reID.

``<dataset dir>/{bounding_box_train, query, bounding_box_test}/<pid>_c<cam>...jpg``. The same
scanner serves CUHK03-NP in PLR-OSNet's layout (:mod:`.cuhk03`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..paths import find_dataset_dir
from ..registry import DATASETS
from .base import IMAGE_EXTENSIONS, DatasetLayoutError, RealReidDataset, warn_counted

SPLIT_DIRS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
#: ``<pid>_c<cam>`` at the start of a name; pid -1 marks junk, 0 distractors.
NAME_PATTERN = re.compile(r"^(-1|\d+)_c(\d+)")


class MarketLayoutDataset(RealReidDataset):
    """Base of datasets stored as Market-1501's three folders.

    Args:
        keep_junk: keep pid -1 images (they are junk to the evaluation and never a match); by default
            they are dropped, as in torchreid, fast-reid and EANet, so the gallery counts match the papers.
        (others: see :class:`RealReidDataset`)
    """

    #: Folders under the data root to try, torchreid nesting first.
    candidates: tuple[str, ...] = ()
    num_cameras: int = 0
    example_name: str = ""
    extensions: tuple[str, ...] = (".jpg",)

    def __init__(self, root: str | os.PathLike | None = None, *, keep_junk: bool = False, **kwargs):
        self.keep_junk = keep_junk
        super().__init__(root, **kwargs)

    @property
    def layout(self) -> str:  # type: ignore[override]
        return (f"<dir>/{{{', '.join(SPLIT_DIRS.values())}}}/ with images named like {self.example_name} "
                f"(<pid>_c<camera 1..{self.num_cameras}>..., pid -1 = junk, 0 = distractor)")

    @property
    def expected_folders(self) -> list[str]:
        return list(self.candidates)

    def _find(self) -> Path:
        return find_dataset_dir(self.data_root, self.candidates, list(SPLIT_DIRS.values()), self.name, self.layout)

    def _scan(self) -> dict[str, list[tuple[Path, int, int]]]:
        self.image_root = self._find()
        return {split: self._scan_folder(split, self.image_root / folder) for split, folder in SPLIT_DIRS.items()}

    def _scan_folder(self, split: str, folder: Path) -> list[tuple[Path, int, int]]:
        out, skipped = [], []
        for name in sorted(os.listdir(folder)):
            path = folder / name
            if name.startswith(".") or not name.lower().endswith(IMAGE_EXTENSIONS) or not path.is_file():
                skipped.append(str(path))  # Thumbs.db, .DS_Store, stray sub-folders
                continue
            if not name.lower().endswith(self.extensions):
                raise DatasetLayoutError(f"{self.name}: unexpected file {path}; expected {self.extensions} images in "
                                         f"{self.layout}")
            m = NAME_PATTERN.match(name)
            if m is None:
                raise DatasetLayoutError(f"{self.name}: unexpected file name {path}; expected {self.layout}")
            pid, cam = int(m.group(1)), int(m.group(2))
            if not 1 <= cam <= self.num_cameras:
                raise DatasetLayoutError(f"{self.name}: camera c{cam} of {path} is out of range 1..{self.num_cameras}; "
                                         f"expected {self.layout}")
            if pid == -1 and (split == "train" or not self.keep_junk):
                self.dropped[split] += 1
                continue
            out.append((path, pid, cam - 1))
        warn_counted(f"{self.name}: skipped non-image entries in {folder}", skipped)
        if not out:
            raise DatasetLayoutError(f"{self.name}: no images in {folder}; expected {self.layout}")
        return out


class Market1501(MarketLayoutDataset):
    """Market-1501 (Zheng et al., ICCV 2015), DPM detections, 6 cameras.

    Dataset statistics (PAL-T1; junk pid -1 dropped, distractors pid 0 kept in the gallery):
        - train: 751 identities, 12,936 images.
        - query: 750 identities, 3,368 images.
        - gallery: 750 identities, 15,913 images (incl. the pid-0 distractors, 2,798 per PAL; the 3,819 junk
          images of the 19,732 in ``bounding_box_test`` are dropped).
        - cameras: 6.

    Layout under ``$PARTREID_DATA``: ``market1501/Market-1501-v15.09.15/`` (torchreid),
    ``Market-1501-v15.09.15/`` (fast-reid) or ``market1501/`` holding the three split folders.
    """

    name = "market1501"
    candidates = ("market1501/Market-1501-v15.09.15", "Market-1501-v15.09.15", "market1501")
    num_cameras = 6
    example_name = "0002_c1s1_000451_03.jpg"


class DukeMTMCreID(MarketLayoutDataset):
    """DukeMTMC-reID (Ristani et al. 2016; Zheng et al., ICCV 2017), 8 cameras.

    Dataset statistics (PAL-T1):
        - train: 702 identities, 16,522 images.
        - query: 702 identities, 2,228 images.
        - gallery: 1,110 identities, 17,661 images (408 distractor identities appear only in the gallery).
        - cameras: 8.

    Layout under ``$PARTREID_DATA``: ``dukemtmc-reid/DukeMTMC-reID/`` (torchreid), ``DukeMTMC-reID/`` (fast-reid)
    or ``duke/DukeMTMC-reID/`` (EANet).
    """

    name = "dukemtmcreid"
    candidates = ("dukemtmc-reid/DukeMTMC-reID", "DukeMTMC-reID", "dukemtmcreid/DukeMTMC-reID", "duke/DukeMTMC-reID")
    num_cameras = 8
    example_name = "0005_c2_f0046985.jpg"


@DATASETS.register("market1501")
def build_market1501(root: str | None = None, **kwargs) -> Market1501:
    """Market-1501 under ``root`` (default ``$PARTREID_DATA``)."""
    return Market1501(root, **kwargs)


@DATASETS.register("dukemtmcreid")
def build_dukemtmcreid(root: str | None = None, **kwargs) -> DukeMTMCreID:
    """DukeMTMC-reID under ``root`` (default ``$PARTREID_DATA``)."""
    return DukeMTMCreID(root, **kwargs)
