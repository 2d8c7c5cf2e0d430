"""Decode image and label files into uint8 arrays, in parallel, with an optional on-disk cache.

Images are decoded with PIL and resized with PIL's bilinear filter (what torchvision's
``Resize`` does on PIL images, so decoded tensors match the torchreid pipeline); part-label
PNGs are resized with nearest neighbour so that class ids are never blended. PIL releases the
GIL while decoding and resizing, so a thread pool scales with cores.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .types import IGNORE_INDEX  # noqa: F401  (re-exported for the loaders)

#: Bumped when the decoded representation changes, so stale caches are not reused.
CACHE_VERSION = 1


class CorruptImageError(ValueError):
    """An image or label file cannot be decoded."""


class DataWarning(UserWarning):
    """Skipped files or missing side labels (always counted, with an example path)."""


def _open(path: str | os.PathLike) -> Image.Image:
    try:
        with Image.open(path) as img:
            img.load()  # PIL is lazy: force the decode here so truncated files fail now, with the name
            return img  # the pixels stay; leaving the block only closes the file
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise CorruptImageError(f"cannot decode {path}: {e}") from None


def decode_image(path: str | os.PathLike, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """One RGB image resized bilinearly to ``size`` = (H, W).

    Returns:
        uint8 (H, W, 3) and the original (h, w).
    """
    img = _open(path)
    orig = (img.height, img.width)
    img = img.convert("RGB")
    if (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8), orig


def decode_label(path: str | os.PathLike, size: tuple[int, int], num_classes: int) -> np.ndarray:
    """A single-channel label PNG resized with nearest neighbour to (H, W).

    Raises:
        CorruptImageError: undecodable, not single-channel, or a value outside ``range(num_classes)``.
    """
    img = _open(path)
    if img.mode not in ("L", "P", "I", "I;16"):
        raise CorruptImageError(f"part label {path} has mode {img.mode}; expected a single-channel PNG "
                                f"with class ids 0..{num_classes - 1}")
    if img.mode == "P":  # palette PNGs store the class id as the palette index
        img = Image.fromarray(np.asarray(img))
    if (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.NEAREST)
    arr = np.asarray(img)
    if arr.size and int(arr.max()) >= num_classes:
        raise CorruptImageError(f"part label {path} has value {int(arr.max())}; expected class ids "
                                f"0..{num_classes - 1}")
    return arr.astype(np.uint8)


def _default_workers() -> int:
    return max(1, min(16, os.cpu_count() or 1))


def parallel_map(fn: Callable, items: Sequence, num_workers: int | None = None) -> list:
    """``[fn(x) for x in items]`` on a thread pool (in order); the first exception propagates."""
    workers = num_workers or _default_workers()
    if workers <= 1 or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items, chunksize=max(1, len(items) // (workers * 8))))


def decode_images(paths: Sequence[str | os.PathLike], size: tuple[int, int],
                  num_workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``paths`` at ``size`` = (H, W).

    Returns:
        images: uint8 (N, 3, H, W); orig_hw: int32 (N, 2), each image's size on disk.
    """
    h, w = size
    out = np.empty((len(paths), 3, h, w), dtype=np.uint8)
    orig = np.empty((len(paths), 2), dtype=np.int32)

    def one(i: int) -> None:
        arr, hw = decode_image(paths[i], size)
        out[i] = arr.transpose(2, 0, 1)
        orig[i] = hw

    parallel_map(one, range(len(paths)), num_workers)
    return out, orig


def file_list_key(*parts: object, files: Sequence[str] = ()) -> str:
    """A short hash of ``parts`` and a file list (the cache key of a decoded split)."""
    h = hashlib.sha1(f"v{CACHE_VERSION}".encode())
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    for f in files:
        h.update(str(f).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


class ArrayCache:
    """Named groups of numpy arrays on disk: ``<dir>/<key>/<name>.npy``.

    A group is written into a temporary folder and renamed into place, so a crash never
    leaves a half-written entry that a later load would trust. Loads are copy-on-write memory
    maps: instant, paged in on first touch, writable in memory without changing the file.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        d = self.directory / key
        if not (d / "COMPLETE").exists():
            return None
        return {p.stem: np.load(p, mmap_mode="c") for p in d.glob("*.npy")}

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.directory, prefix=f".{key}-"))
            for name, arr in arrays.items():
                np.save(tmp / f"{name}.npy", arr)
            (tmp / "COMPLETE").touch()
            final = self.directory / key
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except OSError as e:  # a read-only or full cache disk must not break loading
            warnings.warn(f"could not write the decoded-image cache under {self.directory}: {e}", DataWarning,
                          stacklevel=2)
