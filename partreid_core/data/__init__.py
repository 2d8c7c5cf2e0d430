"""Datasets: the registry, real ReID datasets under ``PARTREID_DATA`` and SynthReID.

Importing this package registers every dataset.
"""
from . import real, synth  # noqa: F401  (registration)
from .registry import DATASETS, build_dataset, list_datasets
from .types import COCO_KEYPOINTS, IGNORE_INDEX, PART_CLASSES, SPLITS, Batch, ReidDataset, Sample, SplitTensors, relabel

__all__ = ["IGNORE_INDEX", "Batch", "DATASETS", "build_dataset", "list_datasets", "COCO_KEYPOINTS", "PART_CLASSES",
           "SPLITS",
           "ReidDataset", "Sample", "SplitTensors", "relabel"]
