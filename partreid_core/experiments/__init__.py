"""Experiments: recipes and profiles (YAML under ``recipes/``) resolved into run configs, sweeps, launchers,
and the studies built on the engine (pretraining, robustness, rank lists, post-hoc analysis)."""
from .config import PROFILES, list_recipes, parse_set, resolve_config
from .sweep import SweepConfig, load_sweep, plan, run_sweep

__all__ = ["PROFILES", "list_recipes", "parse_set", "resolve_config", "SweepConfig", "load_sweep", "plan",
           "run_sweep"]
