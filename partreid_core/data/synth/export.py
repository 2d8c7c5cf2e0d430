"""Export a SynthReID dataset to the Market-1501 folder layout (plus EANet-style part labels and keypoints).

Layout written for ``out_dir = /x/SynthReID-s``::

    /x/SynthReID-s/bounding_box_train/0001_c1s1_000001_00.jpg   (train)
    /x/SynthReID-s/query/...                                      (query)
    /x/SynthReID-s/bounding_box_test/...                          (gallery; pid 0 = distractors, "0000_...")
    /x/SynthReID-s/keypoints.pkl     {"bounding_box_train/0001_c1s1_000001_00.jpg": float32 (17, 3), ...}
    /x/SynthReID-s_ps_label/bounding_box_train/0001_c1s1_000001_00.png   (8-class part label, mode "L")

The ``_ps_label`` sibling folder follows EANet (``Market-1501-v15.09.15_ps_label``). File names follow
Market-1501: 4-digit pid, 1-based camera, sequence 1, 1-based frame, detection 00.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}


def market_name(pid: int, camid: int, frame: int) -> str:
    """Market-1501 file stem, e.g. ``market_name(1, 0, 0) == "0001_c1s1_000001_00"``."""
    return f"{pid:04d}_c{camid + 1}s1_{frame + 1:06d}_00"


def export_market(dataset, out_dir: str | Path, size: tuple[int, int] = (256, 128), quality: int = 95) -> dict:
    """Write ``dataset`` (a :class:`SynthReID`) to ``out_dir``; returns {split: number of images}."""
    out = Path(out_dir)
    label_root = out.parent / (out.name + "_ps_label")
    keypoints, counts = {}, {}
    for split, folder in FOLDERS.items():
        st = dataset.load_split(split, size)
        keys = dataset.keys(split)
        (out / folder).mkdir(parents=True, exist_ok=True)
        (label_root / folder).mkdir(parents=True, exist_ok=True)
        imgs = st.images.permute(0, 2, 3, 1).numpy()
        masks = st.masks.numpy()
        for i, (pid, cam, frame, _salt) in enumerate(keys.tolist()):
            # distractor frames are unique per camera, identity frames per (pid, camera)
            stem = market_name(pid, cam, frame)
            Image.fromarray(imgs[i]).save(out / folder / f"{stem}.jpg", quality=quality)
            Image.fromarray(np.ascontiguousarray(masks[i], dtype=np.uint8)).save(label_root / folder / f"{stem}.png")
            keypoints[f"{folder}/{stem}.jpg"] = st.keypoints[i].numpy()
        counts[split] = len(keys)
    with open(out / "keypoints.pkl", "wb") as f:
        pickle.dump({"keypoints": keypoints, "format": "COCO-17, x y in pixels, visibility in {0,1}",
                     "size": tuple(size)}, f)
    return counts
