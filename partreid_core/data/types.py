"""The data contract every dataset (real or SynthReID) fulfils.

A dataset yields three manifests (train / query / gallery) of :class:`Sample` and can
materialise a split as :class:`SplitTensors`: uint8 images at a requested size, decoded
once, plus optional side labels (8-class part masks, COCO-17 keypoints). The training
engine and the evaluation only ever see ``SplitTensors``.

SynthReID adds a validation split with its own query and gallery (``val_query`` /
``val_gallery``, :data:`VAL_SPLITS`); :data:`EVAL_SPLITS` maps the evaluation's split
name (``eval.split``: ``test`` or ``val``) to its (query, gallery) pair.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import torch

Split = Literal["train", "query", "gallery", "val_query", "val_gallery"]
#: the splits every dataset has
SPLITS: tuple[Split, ...] = ("train", "query", "gallery")
#: the validation split's query and gallery (SynthReID only): identities disjoint from train and test
VAL_SPLITS: tuple[Split, ...] = ("val_query", "val_gallery")
#: ``eval.split`` -> the (query, gallery) splits it evaluates
EVAL_SPLITS: dict[str, tuple[Split, Split]] = {"test": ("query", "gallery"), "val": ("val_query", "val_gallery")}

#: PAL's 8-class part label set (background + 7 parts), shared by SynthReID and EANet-style PNG labels.
PART_CLASSES: tuple[str, ...] = (
    "background", "head", "torso", "upper_arm", "lower_arm", "upper_leg", "lower_leg", "foot",
)

#: Label value of pixels without a part label (and of every pixel of an image that has no mask).
IGNORE_INDEX = 255

#: COCO-17 keypoint order.
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)


@dataclass(frozen=True)
class Sample:
    """One image of a manifest.

    ``path`` is the image file for real datasets and ``None`` for generated ones (then
    ``index`` addresses it). ``pid`` is the original identity label (0 = distractor,
    -1 = junk, as in Market-1501); ``camid`` is 0-based.
    """

    index: int
    pid: int
    camid: int
    path: str | None = None


@dataclass
class SplitTensors:
    """A split decoded into tensors (all on the same device).

    Attributes:
        images: uint8 (N, 3, H, W), RGB.
        pids: int64 (N,), original identity labels.
        camids: int64 (N,).
        masks: uint8 (N, H, W) with values in ``range(len(PART_CLASSES))``, or ``IGNORE_INDEX`` (255)
            where there is no label (images without a mask are all 255 and ``meta["has_mask"]`` is False); or None.
        keypoints: float32 (N, 17, 3): x, y in pixels of this (H, W) and visibility in {0, 1}; or None
            (``meta["has_keypoints"]`` marks images that have them, when some lack them).
        meta: extra per-image tensors of shape (N,) (e.g. SynthReID knob values, ``has_mask`` bool).
    """

    images: torch.Tensor
    pids: torch.Tensor
    camids: torch.Tensor
    masks: torch.Tensor | None = None
    keypoints: torch.Tensor | None = None
    meta: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N,3,H,W), got {self.images.dtype} {tuple(self.images.shape)}")
        for name in ("pids", "camids"):
            t = getattr(self, name)
            if t.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
        if self.masks is not None and self.masks.shape != (n, *self.images.shape[2:]):
            raise ValueError(f"masks must be (N,H,W)={(n, *self.images.shape[2:])}, got {tuple(self.masks.shape)}")
        if self.keypoints is not None and self.keypoints.shape != (n, 17, 3):
            raise ValueError(f"keypoints must be (N,17,3), got {tuple(self.keypoints.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> SplitTensors:
        mv = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return SplitTensors(mv(self.images), mv(self.pids), mv(self.camids), mv(self.masks),
                            mv(self.keypoints), {k: mv(v) for k, v in self.meta.items()})

    def subset(self, idx: torch.Tensor) -> SplitTensors:
        sel = lambda t: None if t is None else t[idx]  # noqa: E731
        return SplitTensors(sel(self.images), sel(self.pids), sel(self.camids), sel(self.masks),
                            sel(self.keypoints), {k: sel(v) for k, v in self.meta.items()})


def eval_splits(dataset: ReidDataset, split: str) -> tuple[Split, Split]:
    """The (query, gallery) split names that ``eval.split`` = ``split`` (``test`` or ``val``) evaluates on ``dataset``.

    Raises:
        ValueError: an unknown name, or ``val`` on a dataset without a validation split (every real one).
    """
    if split not in EVAL_SPLITS:
        raise ValueError(f"unknown evaluation split {split!r}; expected one of {tuple(EVAL_SPLITS)}")
    pair = EVAL_SPLITS[split]
    if not set(pair) <= set(dataset.splits):
        note = f" {dataset.val_note}" if dataset.val_note else ""
        raise ValueError(f"{dataset.name} has no {split!r} split: the validation split (its own query and gallery) "
                         f"exists only for SynthReID (synth-*); evaluate {dataset.name} with split 'test'.{note}")
    return pair


def relabel(pids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Map arbitrary pids to contiguous labels 0..C-1 (sorted order). Returns (labels, C)."""
    uniq, labels = torch.unique(pids, sorted=True, return_inverse=True)
    return labels, int(uniq.numel())


class ReidDataset(abc.ABC):
    """Base class of every registered dataset.

    Subclasses set ``name`` and implement :meth:`manifest` and :meth:`load_split`; one that has a
    validation split lists it in ``splits``.
    """

    name: str = ""
    #: the splits this dataset can load (SynthReID adds :data:`VAL_SPLITS`)
    splits: tuple[Split, ...] = SPLITS
    #: why a dataset without :data:`VAL_SPLITS` has none, where that needs saying (quoted by :func:`eval_splits`)
    val_note: str = ""

    @abc.abstractmethod
    def manifest(self, split: Split) -> list[Sample]:
        """The samples of ``split`` in a fixed order (the order of :meth:`load_split`)."""

    @abc.abstractmethod
    def load_split(self, split: Split, size: tuple[int, int] = (256, 128)) -> SplitTensors:
        """Decode ``split`` at ``size`` = (H, W) into CPU tensors, in manifest order."""

    @property
    def num_train_ids(self) -> int:
        return len({s.pid for s in self.manifest("train")})

    def statistics(self) -> pd.DataFrame:
        """#identities / #images / #cameras per split (the PAL-T1 style statistics table)."""
        rows = []
        for split in self.splits:
            m = self.manifest(split)
            pids = {s.pid for s in m if s.pid > 0 or split == "train"}
            rows.append({
                "split": split,
                "identities": len(pids),
                "images": len(m),
                "cameras": len({s.camid for s in m}),
                "distractors (pid 0)": sum(s.pid == 0 for s in m),
                "junk (pid -1)": sum(s.pid == -1 for s in m),
            })
        return pd.DataFrame(rows).set_index("split")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})\n{self.statistics().to_string()}"


@dataclass
class Batch:
    """A training batch as the engine hands it to a model (already augmented and normalised).

    Attributes:
        images: float (N, 3, H, W), normalised with ImageNet mean/std.
        labels: int64 (N,), training identities relabelled to 0..C-1.
        camids: int64 (N,).
        masks: int64 (N, H, W) part labels aligned with ``images`` (after augmentation), or None.
        keypoints: float (N, 17, 3) aligned with ``images``, or None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    camids: torch.Tensor
    masks: torch.Tensor | None = None
    keypoints: torch.Tensor | None = None
