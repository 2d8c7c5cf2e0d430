"""Experiments: typed run configs, recipes and profiles (YAML under ``recipes/``), sweeps and run records."""
from .config import (
                     PROFILES,
                     DataConfig,
                     EvalConfig,
                     ExperimentConfig,
                     OptimConfig,
                     PhaseConfig,
                     ScheduleConfig,
                     TrainConfig,
                     list_recipes,
                     parse_set,
                     resolve_config,
)
from .records import load_analysis, load_history, load_records
from .sweep import SweepConfig, load_sweep, plan, run_sweep

__all__ = ["DataConfig", "EvalConfig", "ExperimentConfig", "OptimConfig", "PhaseConfig", "PROFILES",
           "ScheduleConfig", "TrainConfig", "list_recipes", "parse_set", "resolve_config", "load_records",
           "load_history", "load_analysis", "SweepConfig", "load_sweep", "plan", "run_sweep"]
