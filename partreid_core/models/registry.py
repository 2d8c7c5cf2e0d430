"""The model registry: ``build_model("mgn", num_classes=751, overrides={...})``."""
from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from ..config import from_dict, merge
from ..registry import Registry

MODELS: Registry[nn.Module] = Registry("model")


def register_model(name: str, config: type):
    """Register ``builder(cfg, num_classes) -> nn.Module`` under ``name`` with its config dataclass."""
    return MODELS.register(name, config=config)


def model_config(name: str, overrides: dict[str, Any] | None = None):
    """The typed config of model ``name`` with ``overrides`` applied (unknown keys raise ConfigError)."""
    cls = MODELS.get(name).config_cls
    assert cls is not None and dataclasses.is_dataclass(cls)
    return merge(cls(), overrides) if overrides else cls()


def build_model(name: str, num_classes: int, overrides: dict[str, Any] | Any | None = None) -> nn.Module:
    """Build model ``name`` for ``num_classes`` training identities.

    ``overrides`` is a dict of config fields or an instance of the model's config dataclass.
    """
    entry = MODELS.get(name)
    if overrides is not None and dataclasses.is_dataclass(overrides):
        cfg = overrides
    else:
        cfg = model_config(name, overrides)
    return entry.builder(cfg, num_classes)


def list_models(pattern: str = "*") -> list[str]:
    return MODELS.names(pattern)


__all__ = ["MODELS", "register_model", "model_config", "build_model", "list_models", "from_dict"]
