"""Loss functions shared by the five methods and the baselines."""
from .classification import CrossEntropyLabelSmooth
from .triplet import TripletLoss, pairwise_euclidean

__all__ = ["CrossEntropyLabelSmooth", "TripletLoss", "pairwise_euclidean"]
