"""SynthReID datasets: presets, Market-1501-like splits, rendering, on-disk cache and registration.

Protocol (as Market-1501): train and test identities are disjoint; pids start at 1 (0 = distractor).
Every test identity is seen by >= 3 cameras (>= 2 when the preset has 2) with >= 2 images each; the query holds the
first image of each (test pid, camera), the gallery the rest plus pid-0 distractors (each a one-off random person).
The junk rule of the evaluation (same pid and camera as the query) applies unchanged.

Validation split: ``val_query`` / ``val_gallery`` follow the test protocol above with a quarter of the test
identities (:attr:`SynthPreset.val_ids`) and a quarter of its distractors, on the same cameras. Their pids follow
the test pids; their manifest, identities and images come from streams of their own (``_VAL``, :data:`VAL_SALT`),
so adding them left every byte of train, query and gallery as it was. They are built only when asked for.

Usage::

    ds = build_dataset("synth-s", seed=0, misalignment=0.5, occlusion=0.3, domain="B")
    query = ds.load_split("query", (128, 64))   # SplitTensors with masks, keypoints and meta knobs
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..registry import DATASETS
from ..types import SPLITS, VAL_SPLITS, ReidDataset, Sample, Split, SplitTensors
from .raster import N_CLUTTER, N_PLAIN, render_batch
from .scene import _SPLIT, _VAL, GENERATOR_VERSION, Camera, Knobs, rng_for, sample_camera, sample_identity, sample_image

#: per-image ``SplitTensors.meta`` entries (the knob values actually applied)
META_KEYS = ("viewpoint", "shift_y", "shift_x", "scale", "aspect", "truncated", "cut_frac", "n_occluders",
             "occluder_kind", "occluded_frac", "fg_frac", "blur", "resolution", "camera_height")
_INT_META = {"viewpoint", "truncated", "n_occluders", "occluder_kind", "blur"}


@dataclass(frozen=True)
class SynthPreset:
    """Sizes of a SynthReID preset (images per identity are drawn uniformly from the ranges)."""

    name: str
    train_ids: int
    test_ids: int
    cameras: int
    train_images: tuple[int, int]   # images per train identity
    test_images: tuple[int, int]    # images per test identity (query + gallery)
    distractors: int                # pid-0 gallery images
    batch: int = 48                 # render batch (memory vs speed only; never changes pixels)

    # The validation sizes are derived, not fields: fields are part of every split's cache key, and a new one
    # would have invalidated the caches of the existing splits.
    @property
    def val_ids(self) -> int:
        """Identities of the validation split: a quarter of the test identities (at least 2)."""
        return max(2, self.test_ids // 4)

    @property
    def val_distractors(self) -> int:
        """pid-0 images of the validation gallery: a quarter of the test gallery's."""
        return self.distractors // 4


PRESETS: dict[str, SynthPreset] = {p.name: p for p in (
    SynthPreset("synth-tiny", 16, 16, 3, (4, 8), (6, 9), 8),
    SynthPreset("synth-s", 200, 200, 4, (10, 15), (8, 14), 200),
    SynthPreset("synth-m", 751, 750, 6, (12, 23), (16, 28), 3000),
)}


#: Identity salt of the validation people (pid > 0), and base of the validation distractors' salts (pid 0).
#: Train and test people use salt 0 and the test distractors 1..distractors, so no identity is drawn twice.
VAL_SALT = 1_000_000


def cache_root() -> Path:
    """``$PARTREID_CACHE/synth`` or ``~/.cache/partreid/synth``."""
    base = os.environ.get("PARTREID_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "partreid") / "synth"


def _spread(r: np.random.Generator, n: int, cams: np.ndarray, at_least: int) -> list[tuple[int, int]]:
    """Distribute ``n`` images over ``cams`` (>= ``at_least`` each); returns (camid, frame) pairs."""
    counts = np.full(len(cams), at_least)
    extra = n - counts.sum()
    if extra > 0:
        counts += np.bincount(r.integers(len(cams), size=extra), minlength=len(cams))
    return [(int(c), f) for c, k in zip(cams, counts, strict=True) for f in range(int(k))]


def _query_gallery(r, pids: range, images: tuple[int, int], C: int, distractors: int, id_salt: int,
                   distractor_salt: int) -> tuple[list, list]:
    """Query and gallery keys (pid, camid, frame, salt) of the evaluation identities ``pids`` plus pid-0 distractors.

    The test split calls it with salts 0 and 1, in the draw order it always had; the validation split with its
    own generator ``r`` and :data:`VAL_SALT`.
    """
    query, gallery = [], []
    for pid in pids:
        n = int(r.integers(images[0], images[1] + 1))
        k = int(r.integers(min(3, C), C + 1))   # 3+ cameras per test id: ~4.5 queries per id at 6 cameras
        k = min(k, max(2, n // 2))
        cams = np.sort(r.choice(C, size=k, replace=False))
        for c, f in _spread(r, max(n, 2 * k), cams, 2):
            (query if f == 0 else gallery).append((pid, c, f, id_salt))
    cam_frames = np.zeros(C, dtype=np.int64)
    for j in range(distractors):
        c = int(r.integers(C))
        gallery.append((0, c, int(cam_frames[c]), distractor_salt + j))
        cam_frames[c] += 1
    return query, gallery


def _frame_key(frame: int, salt: int) -> int:
    """The image index handed to ``sample_image``: distinct between identities, test distractors and validation."""
    if salt == 0:
        return frame
    return (1_000_000 if salt < VAL_SALT else 2_000_000) + frame   # distractor frames never collide


def _as_keys(rows: list) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


class SynthReID(ReidDataset):
    """A SynthReID dataset: a preset, a seed and the difficulty knobs (:class:`~.scene.Knobs`).

    An image depends only on (seed, pid, camid, frame) and the knobs: rendering it alone or in any batch
    gives the same bytes. Split tensors are cached under :func:`cache_root`, keyed by preset, knobs, seed,
    split, size and ``GENERATOR_VERSION``. Splits: ``train``, ``query``, ``gallery`` and the validation
    split's ``val_query`` and ``val_gallery``.
    """

    splits = SPLITS + VAL_SPLITS

    def __init__(self, preset: SynthPreset, seed: int = 0, knobs: Knobs | None = None, cache: bool = True,
                 cache_dir: str | Path | None = None, workers: int | None = None):
        self.preset, self.seed, self.knobs = preset, int(seed), knobs or Knobs()
        self.name = preset.name
        self.cache = cache
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.workers = workers
        self.cameras: list[Camera] = [sample_camera(self.seed, c, self.knobs.domain, N_PLAIN)
                                      for c in range(preset.cameras)]
        self._keys = self._build_keys()

    # ---------------------------------------------------------------- manifests
    def _build_keys(self) -> dict[str, np.ndarray]:
        """(n, 4) int64 per split: pid, camid, frame, identity salt (0 for train and test people)."""
        p, C = self.preset, self.preset.cameras
        r = rng_for(self.seed, _SPLIT, p.train_ids, p.test_ids, C)
        train = []
        for pid in range(1, p.train_ids + 1):
            n = int(r.integers(p.train_images[0], p.train_images[1] + 1))
            k = int(r.integers(min(2, C), C + 1))
            cams = np.sort(r.choice(C, size=k, replace=False))
            train += [(pid, c, f, 0) for c, f in _spread(r, n, cams, 1)]
        query, gallery = _query_gallery(r, range(p.train_ids + 1, p.train_ids + p.test_ids + 1), p.test_images, C,
                                        p.distractors, 0, 1)
        return {"train": _as_keys(train), "query": _as_keys(query), "gallery": _as_keys(gallery)}

    def _build_val_keys(self) -> dict[str, np.ndarray]:
        """The validation split's query and gallery keys, from the ``_VAL`` stream (pids after the test pids)."""
        p, C = self.preset, self.preset.cameras
        r = rng_for(self.seed, _VAL, p.train_ids, p.test_ids, p.val_ids, C)
        first = p.train_ids + p.test_ids + 1
        query, gallery = _query_gallery(r, range(first, first + p.val_ids), p.test_images, C, p.val_distractors,
                                        VAL_SALT, VAL_SALT + 1)
        return {"val_query": _as_keys(query), "val_gallery": _as_keys(gallery)}

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r} for {self.name}; expected one of {self.splits}")

    def keys(self, split: Split) -> np.ndarray:
        """(n, 4) int64: pid, camid, frame, identity salt of each image of ``split`` (manifest order)."""
        self._check_split(split)
        if split not in self._keys:   # the validation manifest is built on first use only
            self._keys.update(self._build_val_keys())
        return self._keys[split]

    def manifest(self, split: Split) -> list[Sample]:
        return [Sample(index=i, pid=int(k[0]), camid=int(k[1])) for i, k in enumerate(self.keys(split))]

    # ---------------------------------------------------------------- rendering
    def scenes(self, split: Split, indices=None) -> list:
        keys = self.keys(split) if indices is None else self.keys(split)[np.asarray(indices)]
        out, idents = [], {}
        for pid, cam, frame, salt in keys.tolist():
            if (pid, salt) not in idents:
                idents[(pid, salt)] = sample_identity(self.seed, pid, salt)
            out.append(sample_image(self.seed, pid, cam, _frame_key(frame, salt), idents[(pid, salt)],
                                    self.cameras[cam], self.knobs, N_CLUTTER))
        return out

    def render(self, split: Split, indices=None, size: tuple[int, int] = (256, 128)) -> SplitTensors:
        """Render images ``indices`` of ``split`` (all by default) at ``size`` in this process, uncached."""
        size = _check_size(size)
        keys = self.keys(split) if indices is None else self.keys(split)[np.asarray(indices)]
        scenes = self.scenes(split, indices)
        # one intra-op thread: the tensors of a batch are small, and with two threads on two busy cores the
        # rendering ran 3x slower (measured); parallelism comes from worker processes (_render_parallel)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            parts = [render_batch(scenes[i:i + self.preset.batch], size, self.knobs.domain)
                     for i in range(0, len(scenes), self.preset.batch)]
        finally:
            torch.set_num_threads(threads)
        if not parts:
            H, W = size
            parts = [{"images": torch.zeros(0, 3, H, W, dtype=torch.uint8),
                      "masks": torch.zeros(0, H, W, dtype=torch.uint8),
                      "keypoints": torch.zeros(0, 17, 3), "occluded_frac": torch.zeros(0), "fg_frac": torch.zeros(0)}]
        cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        meta = {}
        for k in META_KEYS:
            if k in cat:
                meta[k] = cat[k]
            else:
                vals = [s.meta[k] for s in scenes]
                meta[k] = torch.tensor(vals, dtype=torch.int64 if k in _INT_META else torch.float32)
        return SplitTensors(cat["images"], torch.from_numpy(keys[:, 0].copy()), torch.from_numpy(keys[:, 1].copy()),
                            cat["masks"], cat["keypoints"], meta)

    def load_split(self, split: Split, size: tuple[int, int] = (256, 128)) -> SplitTensors:
        """Render ``split`` at ``size`` = (H, W) (masks are exact at that size), from the cache if present."""
        self._check_split(split)
        size = _check_size(size)
        path = self.cache_path(split, size)
        if self.cache and path.exists():
            d = torch.load(path, weights_only=True)
            return SplitTensors(d["images"], d["pids"], d["camids"], d["masks"], d["keypoints"], d["meta"])
        st = self._render_parallel(split, size)
        if self.cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            os.close(fd)
            try:
                torch.save({"images": st.images, "pids": st.pids, "camids": st.camids, "masks": st.masks,
                            "keypoints": st.keypoints, "meta": st.meta}, tmp)
                os.replace(tmp, path)   # atomic: readers never see a half-written file
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
        return st

    def _render_parallel(self, split: Split, size: tuple[int, int]) -> SplitTensors:
        n = len(self.keys(split))
        # worker processes cost seconds to start: only worth it beyond ~5 s of rendering (~1,200 images at 256x128)
        big = n * size[0] * size[1] >= 40_000_000
        workers = self.workers if self.workers is not None else (min(2, os.cpu_count() or 1) if big else 1)
        if workers <= 1:
            return self.render(split, None, size)
        chunk = min(512, max(64, -(-n // (4 * workers))))
        jobs = [(self.preset, self.seed, self.knobs, split, list(range(i, min(n, i + chunk))), size)
                for i in range(0, n, chunk)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
            parts = list(ex.map(_render_job, jobs))
        return SplitTensors(torch.cat([p.images for p in parts]), torch.cat([p.pids for p in parts]),
                            torch.cat([p.camids for p in parts]), torch.cat([p.masks for p in parts]),
                            torch.cat([p.keypoints for p in parts]),
                            {k: torch.cat([p.meta[k] for p in parts]) for k in parts[0].meta})

    # ---------------------------------------------------------------- cache
    def cache_key(self, split: Split, size: tuple[int, int]) -> str:
        spec = {"version": GENERATOR_VERSION, "preset": dataclasses.asdict(self.preset), "seed": self.seed,
                "knobs": dataclasses.asdict(self.knobs), "split": split, "size": list(size)}
        if split in VAL_SPLITS:   # only there: the existing splits keep the keys of their cached files
            spec["val"] = {"ids": self.preset.val_ids, "distractors": self.preset.val_distractors, "salt": VAL_SALT}
        return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def cache_path(self, split: Split, size: tuple[int, int]) -> Path:
        root = self.cache_dir or cache_root()
        return root / f"{self.name}-{split}-{size[0]}x{size[1]}-{self.cache_key(split, size)}.pt"

    def __repr__(self) -> str:
        return f"SynthReID({self.name!r}, seed={self.seed}, {self.knobs})\n{self.statistics().to_string()}"


def _render_job(args) -> SplitTensors:
    torch.set_num_threads(1)
    preset, seed, knobs, split, idx, size = args
    return SynthReID(preset, seed, knobs, cache=False).render(split, idx, size)


def _check_size(size) -> tuple[int, int]:
    try:
        H, W = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (H, W) integers, got {size!r}") from None
    if H < 16 or W < 8:
        raise ValueError(f"size must be at least (16, 8), got {(H, W)}")
    return H, W


_KNOB_NAMES = tuple(f.name for f in dataclasses.fields(Knobs))


def build_synth(preset: str | SynthPreset, seed: int = 0, cache: bool = True, cache_dir: str | Path | None = None,
                workers: int | None = None, **knobs: Any) -> SynthReID:
    """Build a SynthReID dataset; ``knobs`` are :class:`~.scene.Knobs` fields (misalignment, occlusion, ...)."""
    p = PRESETS[preset] if isinstance(preset, str) else preset
    bad = sorted(set(knobs) - set(_KNOB_NAMES))
    if bad:
        raise TypeError(f"unknown SynthReID knob(s) {bad} for {p.name!r}; valid: {', '.join(_KNOB_NAMES)}, "
                        "plus seed, cache, cache_dir, workers")
    return SynthReID(p, seed, Knobs(**knobs), cache=cache, cache_dir=cache_dir, workers=workers)


def _register(name: str) -> None:
    p = PRESETS[name]

    def builder(seed: int = 0, cache: bool = True, cache_dir: str | Path | None = None, workers: int | None = None,
                **knobs: Any) -> SynthReID:
        return build_synth(name, seed, cache, cache_dir, workers, **knobs)

    builder.__doc__ = (f"SynthReID {name}: {p.train_ids} train / {p.test_ids} test / {p.val_ids} val ids, "
                       f"{p.cameras} cameras, {p.distractors} distractors (+ {p.val_distractors} in val).")
    DATASETS.register(name)(builder)


for _name in PRESETS:
    _register(_name)
