"""Evaluation: distances, CMC / mAP (both AP conventions) / mINP, k-reciprocal re-ranking, feature extraction.

See :mod:`partreid_core.evaluation.metrics` for every convention (junk, ties, skipped queries, AP variants).
"""
from .cuhk03 import evaluate_cuhk03_classic
from .distance import METRICS, compute_distance
from .features import evaluate_model, extract_features
from .metrics import EvalResult, evaluate
from .rerank import re_ranking

__all__ = ["METRICS", "EvalResult", "compute_distance", "evaluate", "evaluate_cuhk03_classic", "evaluate_model",
           "extract_features", "re_ranking"]
