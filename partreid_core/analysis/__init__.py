"""Analyses behind the chapters' mechanism figures: part-feature similarity (PAL-F9), Grad-CAM and
part coverage against masks (PAL-F10, CGPN-X2, MPN-X4, PLR-F4), segmentation quality (PAL-F14) and
input-gradient receptive regions (RMGL-X1); and the named end-of-training hooks (:mod:`.hooks`).

Importing the package registers every hook: the generic ``part_similarity`` (:mod:`.part_similarity`) and
the chapters' (:mod:`.chapter_hooks`).
"""
from . import chapter_hooks  # noqa: F401  (registers the chapters' hooks)
from .cam import cam_part_statistics, grad_cam
from .hooks import HOOKS, build_hooks, register_hook
from .part_similarity import part_similarity_matrix, per_image_off_diagonal, similarity_summary
from .saliency import input_gradient_rows
from .segmentation import confusion_matrix, segmentation_scores

__all__ = ["cam_part_statistics", "grad_cam", "HOOKS", "build_hooks", "register_hook", "part_similarity_matrix",
           "per_image_off_diagonal", "similarity_summary", "input_gradient_rows", "confusion_matrix",
           "segmentation_scores"]
