"""The training engine: run configs (:mod:`.config`), device-side data pipeline, optimisers and schedules,
the training loop, the hook interface (:class:`HookBase`) and run records (:mod:`.records`)."""
from .hooks import AnalysisContext, HookBase
from .optim import build_optimizer, lr_factor, split_param_groups
from .trainer import NonFiniteLossError, RunResult, train

__all__ = ["AnalysisContext", "HookBase", "build_optimizer", "lr_factor", "split_param_groups",
           "NonFiniteLossError", "RunResult", "train"]
