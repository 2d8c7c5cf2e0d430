"""The dataset registry: ``build_dataset("market1501", root=...)`` or ``build_dataset("synth-s")``."""
from __future__ import annotations

from typing import Any

from ..registry import Registry
from .types import ReidDataset

DATASETS: Registry[ReidDataset] = Registry("dataset")


def build_dataset(name: str, **kwargs: Any) -> ReidDataset:
    """Build a registered dataset by name; keyword arguments go to its builder."""
    return DATASETS.build(name, **kwargs)


def list_datasets(pattern: str = "*") -> list[str]:
    return DATASETS.names(pattern)
