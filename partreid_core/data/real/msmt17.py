"""MSMT17 (Wei et al., CVPR 2018), V1 or V2 folders with list files, as torchreid reads them."""
from __future__ import annotations

import os
from pathlib import Path

from ..paths import find_dataset_dir
from ..registry import DATASETS
from .base import DatasetLayoutError, RealReidDataset

LISTS = {"train": ("list_train.txt", "list_val.txt"), "query": ("list_query.txt",), "gallery": ("list_gallery.txt",)}
ALL_LISTS = [f for files in LISTS.values() for f in files]
#: Image folders per version: (train, test).
VERSION_DIRS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
NUM_CAMERAS = 15


class MSMT17(RealReidDataset):
    """MSMT17, Faster R-CNN detections, 15 cameras.

    The training split is ``list_train`` + ``list_val`` (torchreid, PAL). Lines read
    ``<folder>/<pid>_<n>_<camera>_....jpg <label>``; the camera is the third field of the name.
    The list labels start at 0, which Market-style code reads as "distractor", so pids here are
    ``label + 1`` (1..1041 for train, 1..3060 for test); relabelling makes training labels 0..1040 anyway.

    Dataset statistics (PAL-T1, V1):
        - train: 1,041 identities, 32,621 images.
        - query: 3,060 identities, 11,659 images.
        - gallery: 3,060 identities, 82,161 images.
        - cameras: 15.

    Layout under ``$PARTREID_DATA``: ``msmt17/MSMT17_V1/`` (torchreid) or ``MSMT17_V1/`` (fast-reid), holding
    ``train/``, ``test/`` and ``list_{train,val,query,gallery}.txt``; or the same with ``MSMT17_V2`` and
    ``mask_train_v2/``, ``mask_test_v2/``. V1 is preferred when both exist.
    """

    name = "msmt17"
    val_note = ("MSMT17's list_val.txt is read into the training split (list_train + list_val, as torchreid and "
                "PAL train), and it has no query / gallery division of its own.")

    @property
    def layout(self) -> str:  # type: ignore[override]
        return ("<dir>/MSMT17_V1/{train,test,list_train.txt,list_val.txt,list_query.txt,list_gallery.txt} or "
                "<dir>/MSMT17_V2/{mask_train_v2,mask_test_v2,list_*.txt}; list lines '<folder>/<name>.jpg <label>'")

    @property
    def expected_folders(self) -> list[str]:
        return [c for v in VERSION_DIRS for c in (f"msmt17/{v}", v)]

    def _scan(self) -> dict[str, list[tuple[Path, int, int]]]:
        required = {c: [*dirs, *ALL_LISTS] for v, dirs in VERSION_DIRS.items() for c in (f"msmt17/{v}", v)}
        self.image_root = find_dataset_dir(self.data_root, list(required), required, self.name, self.layout)
        found = VERSION_DIRS[self.image_root.name]
        train_dir, test_dir = found
        folders = {"train": train_dir, "query": test_dir, "gallery": test_dir}
        return {split: [rec for f in LISTS[split]
                        for rec in self._read_list(self.image_root / f, self.image_root / folders[split])]
                for split in LISTS}

    def _read_list(self, list_file: Path, image_dir: Path) -> list[tuple[Path, int, int]]:
        out, missing = [], []
        with open(list_file) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                parts = line.split()
                fields = os.path.basename(parts[0]).split("_")
                if len(parts) != 2 or not parts[1].lstrip("-").isdigit() or len(fields) < 3 or not fields[2].isdigit():
                    raise DatasetLayoutError(f"{list_file}:{lineno}: unexpected line {line!r}; expected "
                                             f"'<folder>/<pid>_<n>_<camera>_....jpg <label>' "
                                             f"like '0000/0000_000_01_0303morning_0015_0.jpg 0'")
                cam = int(fields[2])
                path = image_dir / parts[0]
                if not 1 <= cam <= NUM_CAMERAS:
                    raise DatasetLayoutError(f"{self.name}: camera {cam} of {path} ({list_file}:{lineno}) is out of "
                                             f"range 1..{NUM_CAMERAS}")
                if not path.is_file():
                    missing.append(str(path))
                out.append((path, int(parts[1]) + 1, cam - 1))
        if missing:
            raise DatasetLayoutError(f"{self.name}: {len(missing)} images listed in {list_file} are missing "
                                     f"(e.g. {missing[0]}); expected {self.layout}")
        return out


@DATASETS.register("msmt17")
def build_msmt17(root: str | None = None, **kwargs) -> MSMT17:
    """MSMT17 (V1 or V2) under ``root`` (default ``$PARTREID_DATA``)."""
    return MSMT17(root, **kwargs)
