"""The training engine: device-side data pipeline, optimisers and schedules, the training loop, analysis hooks."""
from .hooks import HOOKS, AnalysisContext, register_hook
from .optim import build_optimizer, lr_factor, split_param_groups
from .trainer import NonFiniteLossError, RunResult, train

__all__ = ["HOOKS", "AnalysisContext", "register_hook", "build_optimizer", "lr_factor", "split_param_groups",
           "NonFiniteLossError", "RunResult", "train"]
