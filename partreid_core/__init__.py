"""partreid: a reproduction study of five part-based person re-identification papers.

Subpackages: ``data`` (registry, real datasets, SynthReID), ``models``, ``losses``,
``engine`` (training), ``evaluation`` (CMC/mAP/mINP, re-ranking), ``analysis``,
``experiments`` (recipes, sweeps, run records).
"""
__version__ = "0.1.0"
