"""Loss functions shared by the five methods and the baselines."""
from .alignment import FeatureAlignmentLoss, batch_wise_alignment, class_wise_alignment, sample_wise_alignment
from .center import CenterLoss
from .classification import CrossEntropyLabelSmooth
from .segmentation import (
                        PART_GROUPINGS,
                        PartSegmentationLoss,
                        class_balanced_cross_entropy,
                        num_part_classes,
                        remap_part_labels,
                        resize_labels,
)
from .triplet import TripletLoss, pairwise_euclidean

__all__ = ["FeatureAlignmentLoss", "batch_wise_alignment", "class_wise_alignment", "sample_wise_alignment",
           "CenterLoss", "CrossEntropyLabelSmooth", "PART_GROUPINGS", "PartSegmentationLoss",
           "class_balanced_cross_entropy", "num_part_classes", "remap_part_labels", "resize_labels",
           "TripletLoss", "pairwise_euclidean"]
