"""The typed configuration of one training run: what the engine reads (data, optimiser, schedule, loop,
evaluation, analysis hook names), as dataclasses, and its dict form (``config.json``).

How recipes and profiles resolve into an :class:`ExperimentConfig` is
:mod:`partreid_core.experiments.config`'s business; the engine takes the resolved config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, from_dict, to_dict
from ..data.augment import ErasingConfig, RSAConfig, StyleConfig
from ..data.translate import TranslateConfig
from ..data.types import EVAL_SPLITS
from ..evaluation.distance import METRICS


def _require(ok: bool, key: str, value: Any, rule: str) -> None:
    """Range checks of the configs below: a value of the right type but outside its range is a ConfigError
    when the config is built (before any data is loaded), naming the key, the value and the rule."""
    if not ok:
        raise ConfigError(f"{key} must be {rule}, got {value!r}")


def _check_probability(key: str, value: float) -> None:
    _require(0.0 <= value <= 1.0, key, value, "a probability in [0, 1]")


@dataclass
class DataConfig:
    """Dataset, input size, sampler and the batched augmentations (partreid_core.data.augment).

    Augmentations run in this order: flip -> pad-and-crop -> RSA -> style jitter (uint8) -> normalise ->
    random erasing (float), the order of the torchvision pipelines in the specs.
    """

    dataset: str = "synth-tiny"
    #: keyword arguments of ``build_dataset`` (e.g. ``root`` for a real dataset)
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    size: tuple[int, int] = (64, 32)
    #: "pk" (P x K identities) or "random" (plain shuffling, ``batch_size``)
    sampler: str = "pk"
    p: int = 8
    k: int = 4
    batch_size: int = 32
    #: P x K epoch length: "images" (each image about once) or "ids" (each identity once)
    epoch: str = "images"
    flip_p: float = 0.5
    pad: int = 0
    rsa: RSAConfig = field(default_factory=RSAConfig)
    erasing: ErasingConfig = field(default_factory=ErasingConfig)
    #: photometric style jitter (off in every paper recipe; the PAL-T8 analogue's segmenter uses it)
    style: StyleConfig = field(default_factory=StyleConfig)
    #: offline translation copies of the training split (MPN §5.1's x5 enlarged set; off by default)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    #: load masks / keypoints when the dataset has them (models that ignore them are unaffected)
    use_masks: bool = True
    use_keypoints: bool = True

    def __post_init__(self) -> None:
        if self.sampler not in ("pk", "random"):
            raise ConfigError(f"data.sampler must be 'pk' or 'random', got {self.sampler!r}")
        if self.epoch not in ("images", "ids"):
            raise ConfigError(f"data.epoch must be 'images' or 'ids', got {self.epoch!r}")
        _require(len(self.size) == 2 and all(v >= 1 for v in self.size), "data.size", self.size,
                 "two positive sizes [height, width]")
        for key in ("p", "k", "batch_size"):
            _require(getattr(self, key) >= 1, f"data.{key}", getattr(self, key), ">= 1")
        _require(self.pad >= 0, "data.pad", self.pad, ">= 0")
        _check_probability("data.flip_p", self.flip_p)
        for name in ("rsa", "erasing", "style"):  # nested configs are dataclasses by now (or a caller's dict)
            prob = getattr(getattr(self, name), "p", None)
            if isinstance(prob, (int, float)):
                _check_probability(f"data.{name}.p", prob)

    @property
    def train_batch(self) -> int:
        return self.p * self.k if self.sampler == "pk" else self.batch_size


@dataclass
class OptimConfig:
    """Optimiser and parameter groups.

    Parameter groups: a model may define ``param_groups() -> dict[str, list[Parameter]]``;
    otherwise parameters under a top-level child named ``backbone`` or ``trunk`` form the
    ``"backbone"`` group and everything else the ``"head"`` group (see
    :func:`partreid_core.engine.optim.split_param_groups`). Each group's learning rate is
    ``lr * lr_mult.get(group, 1.0)``.
    """

    #: "sgd", "adam", "amsgrad" (Adam with amsgrad=True) or "adamw"
    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    lr_mult: dict[str, float] = field(default_factory=dict)
    #: False exempts BN parameters and biases from weight decay (all the specs decay everything)
    decay_norm_and_bias: bool = True

    def __post_init__(self) -> None:
        if self.name not in ("sgd", "adam", "amsgrad", "adamw"):
            raise ConfigError(f"optim.name must be sgd, adam, amsgrad or adamw, got {self.name!r}")
        _require(self.lr > 0, "optim.lr", self.lr, "> 0")
        _require(self.momentum >= 0, "optim.momentum", self.momentum, ">= 0")
        _require(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, ">= 0")
        for i, beta in enumerate(self.betas):
            _require(0 <= beta < 1, f"optim.betas[{i}]", beta, "in [0, 1)")
        for group, mult in self.lr_mult.items():
            _require(mult >= 0, f"optim.lr_mult.{group}", mult, ">= 0")


@dataclass
class ScheduleConfig:
    """Learning-rate factor as a function of the (fractional) epoch.

    Warm-up over ``warmup_epochs`` from ``warmup_start`` (a factor of the base lr) to 1:
    ``linear``: s + (1 - s) t, ``exponential``: s ** (1 - t) (RMGL: 1e-5 -> 1e-2, s = 1e-3),
    where t = e / warmup_epochs with e the epoch index (``warmup_per="epoch"``, the lr is fixed
    within an epoch) or the fractional epoch (``"iter"``). Then ``step`` (x ``gamma`` at each of
    ``milestones``, absolute epoch indices) or ``cosine`` (0.5 (1 + cos(pi e / epochs)), per epoch,
    torchreid's CosineAnnealingLR) or ``none``.
    """

    warmup_epochs: float = 0.0
    warmup: str = "linear"
    warmup_start: float = 0.1
    warmup_per: str = "epoch"
    decay: str = "step"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        for key, value, ok in (("warmup", self.warmup, ("linear", "exponential")),
                               ("warmup_per", self.warmup_per, ("epoch", "iter")),
                               ("decay", self.decay, ("step", "cosine", "none"))):
            if value not in ok:
                raise ConfigError(f"schedule.{key} must be one of {ok}, got {value!r}")
        _require(self.warmup_epochs >= 0, "schedule.warmup_epochs", self.warmup_epochs, ">= 0")
        _require(self.warmup_start > 0 if self.warmup == "exponential" else self.warmup_start >= 0,
                 "schedule.warmup_start", self.warmup_start, "> 0 (exponential warm-up)" if self.warmup ==
                 "exponential" else ">= 0")
        _require(self.gamma > 0, "schedule.gamma", self.gamma, "> 0")
        _require(self.min_factor >= 0, "schedule.min_factor", self.min_factor, ">= 0")
        _require(all(m >= 0 for m in self.milestones), "schedule.milestones", self.milestones, "epochs >= 0")


@dataclass
class PhaseConfig:
    """One half-step of an alternating update: these loss terms, with their own optimiser at ``lr``."""

    terms: tuple[str, ...] = ()
    lr: float = 0.01

    def __post_init__(self) -> None:
        _require(self.lr > 0, "train.phases[].lr", self.lr, "> 0")


@dataclass
class TrainConfig:
    """The training loop.

    ``update="alternating"`` implements MGN's scheme as PAL trains it (pal.md §4.4): each
    iteration runs one forward/backward/step per phase, on the same batch, each phase with its
    own optimiser over all parameters (``optim`` settings, the phase's base lr, the shared
    schedule) and the loss terms it names. A term a model returns that no phase names is an error.
    """

    epochs: int = 2
    #: "auto" (bf16 autocast on CUDA, fp32 on CPU), "bf16", "fp16" or "off"; the training forward only
    #: (evaluation: ``eval.amp``). Every gpu recipe names its value; the cpu profile sets bf16.
    amp: str = "auto"
    channels_last: bool = True
    compile: bool = False
    update: str = "joint"
    phases: list[PhaseConfig] = field(default_factory=list)
    #: train only the non-backbone groups for the first epochs (torchreid's ``fixbase_epoch``; PAL §4.2)
    freeze_backbone_epochs: int = 0
    grad_clip: float | None = None
    #: a fixed number of iterations per epoch, independent of the dataset size (batches are drawn
    #: from consecutive sampler passes, or the pass is cut short); None: one sampler pass per epoch.
    #: The cpu/smoke profiles use it so their cost does not depend on the dataset.
    iters_per_epoch: int | None = None
    checkpoint_dir: str = "checkpoints"
    progress: bool = True

    def __post_init__(self) -> None:
        self.phases = [p if isinstance(p, PhaseConfig) else from_dict(PhaseConfig, p, "train.phases")
                       for p in self.phases]
        if self.update not in ("joint", "alternating"):
            raise ConfigError(f"train.update must be 'joint' or 'alternating', got {self.update!r}")
        if self.update == "alternating" and not self.phases:
            raise ConfigError("train.update='alternating' needs train.phases (a list of {terms, lr})")
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise ConfigError(f"train.amp must be auto, bf16, fp16 or off, got {self.amp!r}")
        # an epoch count or iteration count of 0 would write a "complete" record of an untrained model
        _require(self.epochs >= 1, "train.epochs", self.epochs, ">= 1")
        _require(self.iters_per_epoch is None or self.iters_per_epoch >= 1, "train.iters_per_epoch",
                 self.iters_per_epoch, ">= 1 (or null: one sampler pass per epoch)")
        _require(self.freeze_backbone_epochs >= 0, "train.freeze_backbone_epochs", self.freeze_backbone_epochs,
                 ">= 0")
        _require(self.grad_clip is None or self.grad_clip > 0, "train.grad_clip", self.grad_clip,
                 "> 0 (or null: no clipping)")


@dataclass
class EvalConfig:
    """Evaluation with :func:`partreid_core.evaluation.evaluate_model`.

    ``every``: evaluate every n epochs during training (0: only at the end); the final
    evaluation runs with re-ranking too when ``rerank`` is set, and writes metrics.json.
    ``split``: ``"test"`` (query / gallery) or ``"val"`` (SynthReID's validation query / gallery, where
    every tuning choice is made); metrics.json records it (a record without it was evaluated on test).
    """

    every: int = 0
    metric: str = "euclidean"
    flip: bool = True
    rerank: bool = True
    batch_size: int = 256
    split: str = "test"
    #: autocast of the test forward: "off" (fp32, the papers' and the default), "bf16", "fp16", or "train"
    #: (whatever ``train.amp`` resolved to: the ``cpu`` and ``smoke`` profiles, whose records were made so)
    amp: str = "off"

    def __post_init__(self) -> None:
        if self.split not in EVAL_SPLITS:
            raise ConfigError(f"eval.split must be one of {tuple(EVAL_SPLITS)}, got {self.split!r}")
        if self.amp not in ("off", "bf16", "fp16", "train"):
            raise ConfigError(f"eval.amp must be off, bf16, fp16 or train, got {self.amp!r}")
        # the evaluation's own list of metrics, so the two never disagree
        _require(self.metric in METRICS, "eval.metric", self.metric, f"one of {METRICS}")
        _require(self.every >= 0, "eval.every", self.every, ">= 0 (0: only at the end)")
        _require(self.batch_size >= 1, "eval.batch_size", self.batch_size, ">= 1")


@dataclass
class ExperimentConfig:
    """Everything that defines one run (written resolved to the run's ``config.json``)."""

    experiment: str = "default"
    run: str = ""
    recipe: str = ""
    profile: str = ""
    seed: int = 0
    model: str = "globalpool"
    #: the model's own config fields, validated by the model registry (recipes set at most the backbone)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    #: names of analysis hooks run at the end of training (:mod:`partreid_core.analysis.hooks`); the experiments
    #: layer turns them into hook objects for :func:`partreid_core.engine.trainer.train`
    analysis: list[str] = field(default_factory=list)

    @property
    def run_name(self) -> str:
        return self.run or f"{self.model}-{self.data.dataset}-s{self.seed}"


def config_to_dict(cfg: ExperimentConfig) -> dict:
    """The config as plain dicts / lists / scalars (what ``config.json`` stores)."""
    return to_dict(cfg)


def config_from_dict(data: dict) -> ExperimentConfig:
    """The inverse of :func:`config_to_dict` (unknown keys are a ConfigError)."""
    return from_dict(ExperimentConfig, data)


__all__ = ["DataConfig", "OptimConfig", "ScheduleConfig", "PhaseConfig", "TrainConfig", "EvalConfig",
           "ExperimentConfig", "config_to_dict", "config_from_dict"]
