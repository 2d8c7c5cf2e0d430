"""Loss functions shared by the five methods and the baselines."""
from .center import CenterLoss
from .classification import CrossEntropyLabelSmooth
from .segmentation import (PART_GROUPINGS, PartSegmentationLoss, class_balanced_cross_entropy, num_part_classes,
                           remap_part_labels, resize_labels)
from .triplet import TripletLoss, pairwise_euclidean

__all__ = ["CenterLoss", "CrossEntropyLabelSmooth", "PART_GROUPINGS", "PartSegmentationLoss",
           "class_balanced_cross_entropy", "num_part_classes", "remap_part_labels", "resize_labels",
           "TripletLoss", "pairwise_euclidean"]
