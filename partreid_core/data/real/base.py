"""The shared machinery of real datasets: manifests, decoding, on-disk cache and side labels.

A subclass only says where its images are and how a file name maps to (pid, camid)
(:meth:`RealReidDataset._scan`); everything else — the statistics table, ``load_split`` with the
decoded-image cache, EANet-style part labels and COCO-17 keypoints — lives here.

Side labels (PAL's PS labels, EANet layout):

* part masks: ``<image root>_ps_label/<same relative path>.png`` (or, for a nested image root such as
  ``cuhk03-np/detected``, ``cuhk03-np_ps_label/detected/...``), one uint8 PNG per image with
  the 8 classes of :data:`partreid_core.data.types.PART_CLASSES` (0 background .. 7 foot);
* keypoints: ``im_path_to_kpt.pkl`` next to the image root (or inside it, or one level further up for
  nested roots, never outside the data root), a dict from the image
  path relative to the folder holding the pickle (``Market-1501-v15.09.15/query/0001_c1s1_001051_00.jpg``)
  to either a (17, 3) array ``[x, y, score]`` in pixels of the original image, or EANet's
  ``{"kpt": (17, 3), "im_h_w": (h, w)}``. A keypoint is visible when its score is > 0.1 (EANet's
  threshold); COCO visibility flags (0/1/2) therefore map 0 -> invisible, 1 and 2 -> visible.
"""
from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..images import IGNORE_INDEX, ArrayCache, DataWarning, decode_images, decode_label, file_list_key, parallel_map
from ..paths import cache_root, data_root
from ..types import PART_CLASSES, SPLITS, ReidDataset, Sample, Split, SplitTensors

#: File names that layouts in the wild contain and that are skipped with a counted warning.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
KEYPOINT_FILE = "im_path_to_kpt.pkl"
#: EANet's keypoint-score threshold for "visible".
KEYPOINT_SCORE_THRESHOLD = 0.1


class DatasetLayoutError(ValueError):
    """A file or folder of a real dataset does not follow the expected layout."""


def warn_counted(what: str, items: Sequence[Any], hint: str = "") -> None:
    """One warning for ``len(items)`` skipped/missing things, naming the first as an example."""
    if items:
        warnings.warn(f"{what}: {len(items)} (e.g. {items[0]}){'; ' + hint if hint else ''}", DataWarning,
                      stacklevel=3)


class RealReidDataset(ReidDataset):
    """A dataset of image files on disk (subclasses implement :meth:`_scan`).

    Args:
        root: the data root; ``None`` reads ``$PARTREID_DATA``.
        part_labels: ``"auto"`` uses ``<image root>_ps_label/`` when it exists; a path uses that folder
            (which must exist); ``None`` disables part masks.
        keypoints: ``"auto"`` uses ``im_path_to_kpt.pkl`` next to or inside the image root when it
            exists; a path uses that pickle; ``None`` disables keypoints.
        verbose: print the statistics table (torchreid style) once the manifests are built.
    """

    #: One line describing the expected layout, quoted by every layout error.
    layout: str = ""

    def __init__(self, root: str | os.PathLike | None = None, *, part_labels: str | os.PathLike | None = "auto",
                 keypoints: str | os.PathLike | None = "auto", verbose: bool = True):
        self.data_root = data_root(root, self.name, self.expected_folders)
        #: The folder image paths are relative to (e.g. ``.../Market-1501-v15.09.15``); set by ``_scan``.
        self.image_root: Path = self.data_root
        #: Images left out of each split (pid -1 junk unless kept), for the summary.
        self.dropped: dict[str, int] = {s: 0 for s in SPLITS}
        records = self._scan()
        self._manifests: dict[str, list[Sample]] = {
            split: [Sample(index=i, pid=pid, camid=camid, path=str(p)) for i, (p, pid, camid) in
                    enumerate(records[split])]
            for split in SPLITS
        }
        # EANet mirrors the image folder next to it; for nested roots (cuhk03-np/detected) it mirrors the parent
        ps_auto = [Path(str(self.image_root) + "_ps_label"),
                   Path(str(self.image_root.parent) + "_ps_label") / self.image_root.name]
        self.ps_label_dir = self._resolve_side(part_labels, ps_auto, "part-label folder")
        # EANet keeps the pickle in its per-dataset folder: the image root's parent, or its grandparent for
        # nested roots (cuhk03_np_detected_jpg/cuhk03-np-jpg/detected); never look outside the data root
        kpt_auto = [d / KEYPOINT_FILE for d in (self.image_root.parent, self.image_root, self.image_root.parent.parent)
                    if d.is_relative_to(self.data_root)]
        self.keypoint_file = self._resolve_side(keypoints, kpt_auto, "keypoint file")
        self._kpt_table: dict[str, Any] | None = None
        if verbose:
            print(self.summary())

    # ------------------------------------------------------------------ subclass hooks
    @property
    def expected_folders(self) -> list[str]:
        """Folders (relative to the data root) where this dataset is looked for, for error messages."""
        return []

    def _scan(self) -> dict[str, list[tuple[Path, int, int]]]:
        """Find the dataset under ``self.data_root``, set ``self.image_root`` and return, per split,
        ``(image path, pid, 0-based camid)`` in a fixed order."""
        raise NotImplementedError

    # ------------------------------------------------------------------ manifests
    def manifest(self, split: Split) -> list[Sample]:
        if split not in self._manifests:
            raise KeyError(f"{self.name}: unknown split {split!r}; expected one of {SPLITS}")
        return self._manifests[split]

    def relative_path(self, sample: Sample) -> str:
        """The sample's path relative to :attr:`image_root`, with forward slashes."""
        return Path(os.path.relpath(sample.path, self.image_root)).as_posix()

    def summary(self) -> str:
        extra = [f"  dropped from {s}: {n} junk images (pid -1)" for s, n in self.dropped.items() if n]
        side = [f"  part labels: {self.ps_label_dir or 'none'}", f"  keypoints:   {self.keypoint_file or 'none'}"]
        return "\n".join([f"=> {self.name} at {self.image_root}", self.statistics().to_string(), *extra, *side])

    # ------------------------------------------------------------------ side labels
    def _resolve_side(self, arg: str | os.PathLike | None, auto: list[Path], what: str) -> Path | None:
        if arg is None or arg is False:
            return None
        if isinstance(arg, str) and arg == "auto":
            return next((p for p in auto if p.exists()), None)
        path = Path(arg).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{self.name}: {what} {path} does not exist (auto-discovery looks for "
                                    f"{' or '.join(map(str, auto))})")
        return path

    def _keypoint_table(self) -> dict[str, Any]:
        if self._kpt_table is None:
            assert self.keypoint_file is not None
            with open(self.keypoint_file, "rb") as f:
                try:
                    table = pickle.load(f)
                except UnicodeDecodeError:  # EANet's pickles may come from Python 2
                    f.seek(0)
                    table = pickle.load(f, encoding="latin1")
            if not isinstance(table, dict):
                raise DatasetLayoutError(f"{self.keypoint_file}: expected a dict from relative image path to a "
                                         f"(17, 3) keypoint array, got {type(table).__name__}")
            self._kpt_table = {str(k).replace("\\", "/"): v for k, v in table.items()}
        return self._kpt_table

    def _keypoint_keys(self, rel: str) -> list[str]:
        """Keys under which an image's keypoints may be stored (relative to the pickle's folder first)."""
        assert self.keypoint_file is not None
        base = self.keypoint_file.parent
        try:
            own = Path(os.path.relpath(self.image_root / rel, base)).as_posix()
        except ValueError:  # different drives on Windows
            own = rel
        return [own, rel, f"{self.image_root.name}/{rel}"]

    def _load_keypoints(self, rels: list[str], orig_hw: np.ndarray, size: tuple[int, int]
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 17, 3) keypoints scaled to ``size`` and (N,) bool "has keypoints"."""
        table = self._keypoint_table()
        n = len(rels)
        kpts = np.zeros((n, 17, 3), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        missing = []
        for i, rel in enumerate(rels):
            entry = next((table[k] for k in self._keypoint_keys(rel) if k in table), None)
            if entry is None:
                missing.append(rel)
                continue
            hw = orig_hw[i]
            if isinstance(entry, dict):
                hw = np.asarray(entry.get("im_h_w", hw), dtype=np.float64)
                entry = entry["kpt"]
            arr = np.asarray(entry, dtype=np.float64)
            if arr.shape != (17, 3):
                raise DatasetLayoutError(f"{self.keypoint_file}: entry {rel!r} has shape {arr.shape}; expected "
                                         f"(17, 3) COCO-17 [x, y, score]")
            kpts[i, :, 0] = arr[:, 0] * size[1] / float(hw[1])
            kpts[i, :, 1] = arr[:, 1] * size[0] / float(hw[0])
            kpts[i, :, 2] = arr[:, 2] > KEYPOINT_SCORE_THRESHOLD
            has[i] = True
        warn_counted(f"{self.name}: images without keypoints in {self.keypoint_file}", missing,
                     "their keypoints are zero with visibility 0 (meta['has_keypoints'] is False)")
        return torch.from_numpy(kpts), torch.from_numpy(has)

    def _load_masks(self, split: str, rels: list[str], size: tuple[int, int], cache: ArrayCache | None,
                    num_workers: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, H, W) uint8 part masks (255 where an image has no label file) and (N,) bool "has mask"."""
        assert self.ps_label_dir is not None
        label_paths = [self.ps_label_dir / Path(rel).with_suffix(".png") for rel in rels]
        has = np.array([p.is_file() for p in label_paths], dtype=bool)
        missing = [str(p) for p, h in zip(label_paths, has, strict=True) if not h]
        warn_counted(f"{self.name}/{split}: images without a part-label PNG under {self.ps_label_dir}", missing,
                     f"their masks are {IGNORE_INDEX} (ignored; meta['has_mask'] is False)")
        present = [p for p, h in zip(label_paths, has, strict=True) if h]
        key = file_list_key(self.name, split, size, "masks", files=_stamped(present))
        got = cache.load(key) if cache else None
        if got is None:
            masks = np.full((len(rels), *size), IGNORE_INDEX, dtype=np.uint8)
            idx = np.flatnonzero(has)

            def one(j: int) -> None:
                masks[idx[j]] = decode_label(present[j], size, len(PART_CLASSES))

            parallel_map(one, range(len(idx)), num_workers)
            if cache:
                cache.save(key, {"masks": masks})
        else:
            masks = got["masks"]
        return torch.from_numpy(masks), torch.from_numpy(has)

    # ------------------------------------------------------------------ decoding
    def load_split(self, split: Split, size: tuple[int, int] = (256, 128), *, cache: bool = True,
                   num_workers: int | None = None) -> SplitTensors:
        """Decode ``split`` at ``size`` = (H, W) (bilinear), in manifest order.

        Args:
            cache: keep/reuse the decoded arrays under ``$PARTREID_CACHE/decoded/<name>/`` (keyed by dataset,
                split, size and the file list with sizes and modification times).
            num_workers: decoding threads (default: the number of cores, at most 16).

        Returns:
            SplitTensors with images uint8 (N, 3, H, W), original pids, 0-based camids; ``masks`` (N, H, W)
            uint8 and ``meta["has_mask"]`` when part labels are available; ``keypoints`` (N, 17, 3) and
            ``meta["has_keypoints"]`` when keypoints are.

        Raises:
            CorruptImageError: an image or label cannot be decoded (the message names the file).
        """
        size = (int(size[0]), int(size[1]))
        samples = self.manifest(split)
        paths = [s.path for s in samples]
        rels = [self.relative_path(s) for s in samples]
        store = ArrayCache(cache_root() / "decoded" / self.name) if cache else None
        key = file_list_key(self.name, split, size, "images", files=_stamped(paths, rels))
        got = store.load(key) if store else None
        if got is None:
            images, orig_hw = decode_images(paths, size, num_workers)
            if store:
                store.save(key, {"images": images, "orig_hw": orig_hw})
        else:
            images, orig_hw = got["images"], got["orig_hw"]
        masks = keypoints = None
        meta: dict[str, torch.Tensor] = {}
        if self.ps_label_dir is not None:
            masks, meta["has_mask"] = self._load_masks(split, rels, size, store, num_workers)
        if self.keypoint_file is not None:
            keypoints, meta["has_keypoints"] = self._load_keypoints(rels, orig_hw, size)
        return SplitTensors(
            images=torch.from_numpy(images),
            pids=torch.tensor([s.pid for s in samples], dtype=torch.int64),
            camids=torch.tensor([s.camid for s in samples], dtype=torch.int64),
            masks=masks, keypoints=keypoints, meta=meta,
        )


def _stamped(paths: Sequence[str | os.PathLike], names: Sequence[str] | None = None) -> list[str]:
    """``name:size:mtime`` per file, so a replaced file invalidates the cache entry."""
    out = []
    for i, p in enumerate(paths):
        st = os.stat(p)
        out.append(f"{names[i] if names is not None else p}:{st.st_size}:{st.st_mtime_ns}")
    return out
