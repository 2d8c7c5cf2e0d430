"""Tiny on-disk trees in the layouts of the real datasets (generated JPEG/PNG files with real naming).

Every image gets a distinct flat colour derived from its name, so tests can check that the
pixels of the decoded split come from the right file.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

#: Fixture images are this size on disk (H, W), like a 1/4-scale Market crop.
DISK_HW = (32, 16)


def colour_of(name: str) -> tuple[int, int, int]:
    d = hashlib.md5(Path(name).name.encode()).digest()
    return d[0], d[1], d[2]


def write_image(path: Path, hw: tuple[int, int] = DISK_HW, pattern: bool = False) -> np.ndarray:
    """A flat-colour image (or a horizontal gradient when ``pattern``); returns the pixels written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.empty((*hw, 3), dtype=np.uint8)
    arr[:] = colour_of(path.name)
    if pattern:
        arr[..., 0] = np.linspace(0, 255, hw[1], dtype=np.uint8)[None, :]
    Image.fromarray(arr).save(path, quality=100) if path.suffix == ".jpg" else Image.fromarray(arr).save(path)
    return arr


MARKET = {
    "bounding_box_train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg", "0007_c3s1_000101_01.jpg",
                           "0007_c6s2_000201_02.jpg", "0009_c5s1_000301_01.jpg"],
    "query": ["0010_c1s1_001051_00.jpg", "0011_c2s1_000301_00.jpg"],
    "bounding_box_test": ["0010_c4s1_001101_01.jpg", "0011_c5s1_000401_02.jpg", "0000_c1s1_000151_01.jpg",
                          "-1_c3s1_000401_03.jpg"],
}

DUKE = {
    "bounding_box_train": ["0005_c2_f0046985.jpg", "0005_c5_f0051291.jpg", "0008_c8_f0047563.jpg"],
    "query": ["0012_c1_f0057703.jpg"],
    "bounding_box_test": ["0012_c7_f0061287.jpg", "0013_c8_f0058123.jpg"],
}

CUHK03_NP = {
    "bounding_box_train": ["0001_c1_1.png", "0001_c2_2.png", "0003_c1_1.png"],
    "query": ["0701_c1_1.png"],
    "bounding_box_test": ["0701_c2_2.png", "0702_c2_1.png"],
}


def make_market_like(dataset_dir: Path, files: dict[str, list[str]], extra: dict[str, list[str]] | None = None
                     ) -> Path:
    """Write ``files`` (split folder -> names) under ``dataset_dir``; ``extra`` files are written as junk bytes."""
    for folder, names in files.items():
        for n in names:
            write_image(dataset_dir / folder / n)
    for folder, names in (extra or {}).items():
        for n in names:
            (dataset_dir / folder / n).write_bytes(b"not an image")
    return dataset_dir


def make_cuhk03_release(cuhk_dir: Path, subset: str = "detected") -> dict[str, list[str]]:
    """A 2-pair cuhk-03.mat (v5, scipy) and a new-protocol config; returns the split file names.

    Pair 1 has 2 identities, pair 2 has 1; each identity has 2 images per view in slots 0, 1 (view 1)
    and 5, 6 (view 2); the other slots are empty cells, as in the real release.
    """
    from scipy.io import savemat

    pairs = np.empty((1, 2), dtype=object)
    names, images = [], {}
    for pair, npids in ((1, 2), (2, 1)):
        cells = np.empty((npids, 10), dtype=object)
        for pid in range(1, npids + 1):
            for slot in range(10):
                if slot in (0, 1, 5, 6):
                    view = 1 if slot < 5 else 2
                    name = f"{pair}_{pid:03d}_{view}_{slot + 1:02d}.png"
                    img = np.empty((*DISK_HW, 3), dtype=np.uint8)
                    img[:] = colour_of(name)
                    cells[pid - 1, slot] = img
                    names.append(name)
                    images[name] = img
                else:
                    cells[pid - 1, slot] = np.zeros((0, 0), dtype=np.uint8)
        pairs[0, pair - 1] = cells
    (cuhk_dir / "cuhk03_release").mkdir(parents=True, exist_ok=True)
    savemat(str(cuhk_dir / "cuhk03_release" / "cuhk-03.mat"), {subset: pairs})
    # global labels (1-based, as in the release): pair 1 pids 1, 2 -> 1, 2 (train); pair 2 pid 1 -> 3 (test)
    label_of = {(1, 1): 1, (1, 2): 2, (2, 1): 3}
    labels = np.array([[label_of[(int(n[0]), int(n[2:5]))]] for n in names], dtype=np.float64)
    train = [i + 1 for i in range(len(names)) if labels[i, 0] <= 2]
    test = [i + 1 for i in range(len(names)) if labels[i, 0] == 3]
    query, gallery = test[:2], test[2:]
    filelist = np.empty((len(names), 1), dtype=object)
    for i, n in enumerate(names):
        filelist[i, 0] = n
    savemat(str(cuhk_dir / f"cuhk03_new_protocol_config_{subset}.mat"), {
        "filelist": filelist, "labels": labels, "train_idx": np.array(train, dtype=np.float64)[:, None],
        "query_idx": np.array(query, dtype=np.float64)[:, None],
        "gallery_idx": np.array(gallery, dtype=np.float64)[:, None],
    })
    return {"train": [names[i - 1] for i in train], "query": [names[i - 1] for i in query],
            "gallery": [names[i - 1] for i in gallery], "images": images}  # type: ignore[dict-item]


MSMT_LISTS = {
    "list_train.txt": ["0000/0000_000_01_0303morning_0015_0.jpg 0", "0000/0000_001_05_0303morning_0020_1.jpg 0"],
    "list_val.txt": ["0001/0001_000_15_0303noon_0007_0.jpg 1"],
    "list_query.txt": ["0000/0000_000_03_0303afternoon_0001_0.jpg 0"],
    "list_gallery.txt": ["0000/0000_001_07_0303afternoon_0201_0.jpg 0", "0001/0001_000_02_0304morning_0301_1.jpg 1"],
}


def make_msmt17(dataset_dir: Path, version: str = "V1") -> Path:
    train_dir, test_dir = ("train", "test") if version == "V1" else ("mask_train_v2", "mask_test_v2")
    for list_name, lines in MSMT_LISTS.items():
        folder = train_dir if list_name in ("list_train.txt", "list_val.txt") else test_dir
        for line in lines:
            write_image(dataset_dir / folder / line.split()[0])
        dataset_dir.mkdir(parents=True, exist_ok=True)
        (dataset_dir / list_name).write_text("\n".join(lines) + "\n")
    return dataset_dir
