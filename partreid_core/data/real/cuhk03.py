"""CUHK03 under the new 767/700 protocol (Zhong et al., CVPR 2017), labeled and detected boxes.

Two layouts are read, tried in this order:

1. Market layout (PLR-OSNet; Zhong's CUHK03-NP release; EANet/PAL's JPEG copy):
   ``cuhk03/CUHK03_{labeled,detected}/{bounding_box_train,query,bounding_box_test}/``,
   ``cuhk03-np/{labeled,detected}/...`` or ``cuhk03_np_detected_jpg/cuhk03-np-jpg/detected/...``,
   with names ``<pid>_c<1|2>_<n>.{png,jpg}``.
2. The original release as torchreid reads it: ``cuhk03/cuhk03_release/cuhk-03.mat`` (MATLAB v7.3,
   read with h5py; a v5 file is read with scipy) plus ``cuhk03/cuhk03_new_protocol_config_{labeled,detected}.mat``
   (``filelist``, ``labels``, ``train_idx``, ``query_idx``, ``gallery_idx``; 1-based indices). Images are
   extracted once to torchreid's ``cuhk03/images_{labeled,detected}/`` as ``<pair>_<pid:03d>_<view>_<n:02d>.png``
   (reused when torchreid already did it); where that folder is not writable they go to
   ``$PARTREID_CACHE/cuhk03/``. The camera id is the view (1 or 2) in the name, as in torchreid.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from ..paths import DatasetNotFoundError, cache_root, find_dataset_dir
from ..registry import DATASETS
from .base import DatasetLayoutError
from .market import SPLIT_DIRS, MarketLayoutDataset

RELEASE_MAT = "cuhk03_release/cuhk-03.mat"
RELEASE_NAME = re.compile(r"^([1-5])_(\d{3})_([12])_(\d{2})\.png$")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class CUHK03(MarketLayoutDataset):
    """CUHK03-NP (new protocol), ``subset`` = "labeled" or "detected"; 2 cameras per identity.

    Dataset statistics (new protocol; PAL-T1 for detected):
        - labeled:  train 767 ids / 7,368 images; query 700 / 1,400; gallery 700 / 5,328.
        - detected: train 767 ids / 7,365 images; query 700 / 1,400; gallery 700 / 5,332.
        - cameras: 2 (the two views of each camera pair; 1,467 identities from 5 pairs in all).
    """

    num_cameras = 2
    example_name = "0001_c1_1.png"
    extensions = (".png", ".jpg")

    def __init__(self, root: str | os.PathLike | None = None, *, subset: Literal["labeled", "detected"] = "detected",
                 **kwargs):
        if subset not in ("labeled", "detected"):
            raise ValueError(f"CUHK03 subset must be 'labeled' or 'detected', got {subset!r}")
        self.subset = subset
        self.name = f"cuhk03-{subset}"
        super().__init__(root, **kwargs)

    @property
    def candidates(self) -> tuple[str, ...]:  # type: ignore[override]
        s = self.subset
        return (f"cuhk03/CUHK03_{s}", f"CUHK03_{s}", f"cuhk03-np/{s}", f"cuhk03/cuhk03-np/{s}",
                f"cuhk03_np_{s}_jpg/cuhk03-np-jpg/{s}", f"cuhk03-np-jpg/{s}")

    @property
    def expected_folders(self) -> list[str]:
        release = f"{{{RELEASE_MAT}, {self.config_name}}}"
        return [*self.candidates, f"cuhk03/{release}", release]

    @property
    def config_name(self) -> str:
        return f"cuhk03_new_protocol_config_{self.subset}.mat"

    def _scan(self) -> dict[str, list[tuple[Path, int, int]]]:
        try:
            return super()._scan()
        except DatasetNotFoundError as market_err:
            try:
                release_dir = find_dataset_dir(
                    self.data_root, ("cuhk03", "."), [RELEASE_MAT, self.config_name], self.name,
                    f"<dir>/{RELEASE_MAT} and <dir>/{self.config_name} (torchreid's CUHK03 layout)")
            except DatasetNotFoundError as release_err:
                raise DatasetNotFoundError(f"{market_err}\n-- or the original release --\n{release_err}") from None
        return self._scan_release(release_dir)

    # ------------------------------------------------------------------ the .mat release
    def _scan_release(self, release_dir: Path) -> dict[str, list[tuple[Path, int, int]]]:
        from scipy.io import loadmat

        cfg_path = release_dir / self.config_name
        cfg = loadmat(str(cfg_path))
        need = ["filelist", "labels", "train_idx", "query_idx", "gallery_idx"]
        lacking = [k for k in need if k not in cfg]
        if lacking:
            raise DatasetLayoutError(f"{cfg_path} lacks {', '.join(lacking)}; expected the new-protocol config "
                                     f"with {', '.join(need)}")
        names = [_mat_string(x) for x in np.asarray(cfg["filelist"]).ravel()]
        labels = np.asarray(cfg["labels"]).ravel().astype(np.int64)
        if len(labels) != len(names):
            raise DatasetLayoutError(f"{cfg_path}: {len(labels)} labels for {len(names)} files in filelist")
        for n in names:
            if not RELEASE_NAME.match(n):
                raise DatasetLayoutError(f"{cfg_path}: unexpected file name {n!r} in filelist; expected "
                                         f"<pair 1-5>_<pid:03d>_<view 1|2>_<n:02d>.png like 1_001_1_01.png")
        self.image_root = self._release_images(release_dir, names)
        out = {}
        for split, key in (("train", "train_idx"), ("query", "query_idx"), ("gallery", "gallery_idx")):
            idx = np.asarray(cfg[key]).ravel().astype(np.int64) - 1  # MATLAB indices are 1-based
            if idx.size and (idx.min() < 0 or idx.max() >= len(names)):
                raise DatasetLayoutError(f"{cfg_path}: {key} has indices outside 1..{len(names)}")
            out[split] = [(self.image_root / names[i], int(labels[i]), int(names[i].split("_")[2]) - 1) for i in idx]
        return out

    def _release_images(self, release_dir: Path, names: list[str]) -> Path:
        """The folder holding every image of ``names``, extracting from cuhk-03.mat what is missing."""
        folders = [release_dir / f"images_{self.subset}", cache_root() / "cuhk03" / f"images_{self.subset}"]
        for d in folders:
            if d.is_dir() and all((d / n).is_file() for n in names):
                return d
        mat = ReleaseMat(release_dir / RELEASE_MAT)
        try:
            for d in folders:
                if _writable(d):
                    self._extract(mat, d, names)
                    return d
        finally:
            mat.close()
        raise OSError(f"{self.name}: cannot write extracted images to any of {', '.join(map(str, folders))}")

    def _extract(self, mat: ReleaseMat, out_dir: Path, names: list[str]) -> None:
        print(f"=> {self.name}: extracting {len(names)} images from {mat.path} to {out_dir}")
        for n in names:
            if (out_dir / n).is_file():
                continue
            pair, pid, _view, num = (int(v) for v in RELEASE_NAME.match(n).groups())  # type: ignore[union-attr]
            img = mat.image(self.subset, pair - 1, pid - 1, num - 1)
            if img is None:
                raise DatasetLayoutError(f"{mat.path}: {self.subset} image {n} (pair {pair}, pid {pid}, slot {num}) "
                                         f"is listed in {self.config_name} but empty in the .mat")
            tmp = out_dir / f".{n}.tmp.png"
            Image.fromarray(img).save(tmp)
            os.replace(tmp, out_dir / n)  # a crash never leaves a truncated PNG under the final name


def _writable(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / ".write-test"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


class ReleaseMat:
    """Random access to the images of ``cuhk-03.mat``: ``image(subset, pair, pid, slot)`` -> (H, W, 3) uint8.

    The release is MATLAB v7.3 (HDF5) and needs h5py; a v5 file (e.g. re-saved with scipy) is read with scipy.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(520)
        self.is_hdf5 = head[512:520] == _HDF5_SIGNATURE or b"MATLAB 7.3" in head[:128]
        if self.is_hdf5:
            try:
                import h5py
            except ImportError:
                raise ImportError(f"{self.path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py: "
                                  f"`pip install h5py` (or use the Market layout cuhk03/CUHK03_<subset>/)") from None
            self._h5 = h5py.File(self.path, "r")
        else:
            from scipy.io import loadmat
            self._mat = loadmat(str(self.path))

    def close(self) -> None:
        if self.is_hdf5:
            self._h5.close()

    def image(self, subset: str, pair: int, pid: int, slot: int) -> np.ndarray | None:
        """0-based pair, pid and slot (slots 0-4 are view 1, 5-9 view 2); ``None`` for an empty cell."""
        if self.is_hdf5:
            f = self._h5
            cam = f[f[subset][0][pair]]  # HDF5 stores MATLAB cells transposed: (slot, pid)
            arr = np.asarray(f[cam[slot, pid]][()]).T
        else:
            arr = np.asarray(self._mat[subset][0, pair][pid, slot])
        if arr.size == 0 or arr.ndim != 3:
            return None
        return np.ascontiguousarray(arr.astype(np.uint8))


def _mat_string(x) -> str:
    """Unwrap scipy's nested object arrays around a MATLAB string."""
    while isinstance(x, np.ndarray):
        x = x.ravel()[0] if x.size else ""
    return str(x)


@DATASETS.register("cuhk03-labeled")
def build_cuhk03_labeled(root: str | None = None, **kwargs) -> CUHK03:
    """CUHK03-NP labeled boxes under ``root`` (default ``$PARTREID_DATA``)."""
    return CUHK03(root, subset="labeled", **kwargs)


@DATASETS.register("cuhk03-detected")
def build_cuhk03_detected(root: str | None = None, **kwargs) -> CUHK03:
    """CUHK03-NP detected boxes under ``root`` (default ``$PARTREID_DATA``)."""
    return CUHK03(root, subset="detected", **kwargs)


__all__ = ["CUHK03", "ReleaseMat", "SPLIT_DIRS"]
