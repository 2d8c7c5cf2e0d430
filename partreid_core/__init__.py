"""partreid: a reproduction study of five part-based person re-identification papers.

Subpackages, lowest layer first (a module imports only its own layer and lower ones, tests/test_layers.py):
``config`` and ``registry``; ``data`` (registry, real datasets, SynthReID) and ``losses``; ``models``;
``evaluation`` (CMC/mAP/mINP, re-ranking); ``engine`` (run configs, training, the hook interface, run records);
``analysis`` (the named analysis hooks); ``experiments`` (recipes, profiles, sweeps, studies); ``reporting``
(the chapters' tables, figures and claims); ``commands`` and ``cli`` (the ``partreid`` command line).
"""
__version__ = "0.1.0"
