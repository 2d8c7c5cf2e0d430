"""SynthReID-P: the pretraining corpus, a stand-in for ImageNet (or RandPerson / LUPerson) pretraining.

Other pedestrians than every evaluation preset's, in another style: the trunks that the ``cpu-ft``
profile fine-tunes are first trained to classify these identities (``partreid pretrain``).

* **Identities**: pids 1..N, each drawn with the identity salt :data:`PRETRAIN_SALT`. Every other preset
  draws its people with salts far below it (0 for train and test people, 1..distractors for pid 0, and the
  validation split's ``VAL_SALT`` = 10^6 plus its distractors), so no SynthReID-P person is any other preset's
  person, for any seed (by construction of the key, not by chance). Image streams are disjoint too: the
  manifest's frame numbers start at :data:`PRETRAIN_FRAME` (10^7), above every other preset's image index.
* **Style**: domain ``"P"`` (:data:`~.scene.PRETRAIN_DOMAIN`): cool daylight, its own wall palette and
  texture bank, camera heights from below domain A's range to domain B's. The difficulty knobs keep their
  defaults (the nuisances of the target task).
* **Splits**: ``train`` and ``heldout``. Each identity has ``images_per_id`` images over 2+ cameras;
  ``heldout_per_id`` (2) of them, drawn at random, are held out. Held-out images of *training*
  identities, not held-out identities: classification top-1 is what identity pretraining optimises
  and it needs the same classes; retrieval on unseen people is the fine-tuning benchmark's job.
  ``query`` and ``gallery`` are empty.
* Masks and keypoints are not kept (pretraining uses identity labels only; it halves the cache).

Usage::

    ds = build_dataset("synth-p-cpu")                    # 1,500 ids x 16 images, 128x64
    train = ds.load_split("train", ds.size)              # SplitTensors (masks=None)
    held = ds.load_split("heldout", ds.size)
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..registry import DATASETS
from ..types import SPLITS, SplitTensors
from .dataset import _KNOB_NAMES, SynthPreset, SynthReID, _spread
from .scene import _SPLIT, PRETRAIN_DOMAIN, Knobs, rng_for

#: identity salt of every SynthReID-P person (other presets use 0 and 1..distractors, all far below)
PRETRAIN_SALT = 1 << 31
#: bump when the manifest scheme below changes (part of the cache key, with GENERATOR_VERSION)
PRETRAIN_VERSION = "synthreid-p-2"
PRETRAIN_SPLITS = ("train", "heldout")
#: first frame number of SynthReID-P images (other presets' image indices stay below 3 x 10^6)
PRETRAIN_FRAME = 10_000_000


@dataclass(frozen=True)
class PretrainPreset(SynthPreset):
    """A SynthReID-P tier: ``train_ids`` identities x ``train_images`` images (fixed count), of which
    ``heldout_per_id`` per identity are held out; ``size`` is the tier's image size (H, W)."""

    heldout_per_id: int = 2
    size: tuple[int, int] = (128, 64)


PRETRAIN_PRESETS: dict[str, PretrainPreset] = {p.name: p for p in (
    PretrainPreset("synth-p-cpu", 1500, 0, 6, (16, 16), (0, 0), 0, size=(128, 64)),
    PretrainPreset("synth-p-gpu", 5000, 0, 8, (16, 16), (0, 0), 0, size=(256, 128)),
    # a few seconds: the tests' and the smoke pretraining's slice
    PretrainPreset("synth-p-tiny", 24, 0, 3, (6, 6), (0, 0), 0, heldout_per_id=2, size=(64, 32)),
)}


class SynthReIDP(SynthReID):
    """SynthReID-P (see the module docstring); rendering and caching as :class:`SynthReID`."""

    #: no validation split (the held-out images play its part); query and gallery exist, empty
    splits = SPLITS + ("heldout",)

    def __init__(self, preset: PretrainPreset, seed: int = 0, knobs: Knobs | None = None, cache: bool = True,
                 cache_dir: str | Path | None = None, workers: int | None = None):
        super().__init__(preset, seed, knobs or Knobs(domain=PRETRAIN_DOMAIN), cache, cache_dir, workers)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.preset.size)  # type: ignore[attr-defined,return-value]

    def _build_keys(self) -> dict[str, np.ndarray]:
        """(n, 4) int64 per split: pid, camid, frame (from PRETRAIN_FRAME), salt (= PRETRAIN_SALT)."""
        p, C = self.preset, self.preset.cameras
        n = p.train_images[0]
        if not 0 < p.heldout_per_id < n:
            raise ValueError(f"{p.name}: heldout_per_id must be in 1..{n - 1}, got {p.heldout_per_id}")
        r = rng_for(self.seed, _SPLIT, PRETRAIN_SALT, p.train_ids, n, C)
        train, held = [], []
        for pid in range(1, p.train_ids + 1):
            k = int(r.integers(min(2, C), C + 1))
            cams = np.sort(r.choice(C, size=k, replace=False))
            images = [(pid, c, PRETRAIN_FRAME + f, PRETRAIN_SALT) for c, f in _spread(r, n, cams, 1)]
            out = set(r.choice(n, size=p.heldout_per_id, replace=False).tolist())
            for i, key in enumerate(images):
                (held if i in out else train).append(key)
        keys = {s: np.zeros((0, 4), dtype=np.int64) for s in self.splits}
        keys.update({"train": np.array(train, dtype=np.int64), "heldout": np.array(held, dtype=np.int64)})
        return keys

    def _check_split(self, split: str) -> None:
        if split not in self._keys:
            raise ValueError(f"unknown split {split!r} for {self.name}; expected one of {tuple(self._keys)}")

    def cache_key(self, split, size) -> str:
        # the base key covers the preset (heldout_per_id and size included), seed, knobs and GENERATOR_VERSION
        return hashlib.sha1((super().cache_key(split, size) + PRETRAIN_VERSION).encode()).hexdigest()[:16]

    def _render_parallel(self, split, size: tuple[int, int]) -> SplitTensors:
        """Render in worker processes (the base class's workers rebuild a plain SynthReID), drop the masks."""
        n = len(self.keys(split))
        # worker processes cost seconds to start: by default only for 1,000+ images
        workers = self.workers if self.workers is not None else (min(2, os.cpu_count() or 1) if n >= 1000 else 1)
        if workers <= 1:
            st = self.render(split, None, size)
        else:
            chunks = np.array_split(np.arange(n), max(1, -(-n // 512)))
            jobs = [(self.preset, self.seed, self.knobs, split, c.tolist(), size) for c in chunks]
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
                parts = list(ex.map(_render_job, jobs))
            st = SplitTensors(torch.cat([q.images for q in parts]), torch.cat([q.pids for q in parts]),
                              torch.cat([q.camids for q in parts]),
                              meta={k: torch.cat([q.meta[k] for q in parts]) for k in parts[0].meta})
        st.masks, st.keypoints = None, None
        return st


def _render_job(args) -> SplitTensors:
    torch.set_num_threads(1)
    preset, seed, knobs, split, idx, size = args
    st = SynthReIDP(preset, seed, knobs, cache=False).render(split, idx, size)
    st.masks, st.keypoints = None, None   # not sent back through the pipe
    return st


def build_synth_p(preset: str | PretrainPreset = "synth-p-cpu", seed: int = 0, cache: bool = True,
                  cache_dir: str | Path | None = None, workers: int | None = None, **knobs: Any) -> SynthReIDP:
    """A SynthReID-P tier; ``knobs`` are :class:`~.scene.Knobs` fields (``domain`` defaults to "P")."""
    p = PRETRAIN_PRESETS[preset] if isinstance(preset, str) else preset
    bad = sorted(set(knobs) - set(_KNOB_NAMES))
    if bad:
        raise TypeError(f"unknown SynthReID knob(s) {bad} for {p.name!r}; valid: {', '.join(_KNOB_NAMES)}")
    knobs.setdefault("domain", PRETRAIN_DOMAIN)
    return SynthReIDP(p, seed, Knobs(**knobs), cache=cache, cache_dir=cache_dir, workers=workers)


for _name, _p in PRETRAIN_PRESETS.items():
    def _builder(seed: int = 0, cache: bool = True, cache_dir: str | Path | None = None, workers: int | None = None,
                 _name: str = _name, **knobs: Any) -> SynthReIDP:
        return build_synth_p(_name, seed, cache, cache_dir, workers, **knobs)

    _builder.__doc__ = (f"SynthReID-P {_name}: {_p.train_ids} ids x {_p.train_images[0]} images "
                        f"({_p.heldout_per_id} held out per id), {_p.cameras} cameras, {_p.size[0]}x{_p.size[1]}.")
    DATASETS.register(_name)(_builder)

__all__ = ["PRETRAIN_PRESETS", "PRETRAIN_SALT", "PRETRAIN_SPLITS", "PretrainPreset", "SynthReIDP", "build_synth_p"]
