"""The model registry: ``build_model("mgn", num_classes=751, overrides={...})``."""
from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from ..config import deep_update, from_dict, merge
from ..registry import Registry

MODELS: Registry[nn.Module] = Registry("model")


def register_model(name: str, config: type):
    """Register ``builder(cfg, num_classes) -> nn.Module`` under ``name`` with its config dataclass."""
    return MODELS.register(name, config=config)


def _route_to_base(cls: type, overrides: dict[str, Any]) -> dict[str, Any]:
    """Wrapper models (PAL's ``pcb_ps`` = PCB + a PS head) keep their base model's config under ``base``;
    a key the wrapper lacks but its base has (e.g. ``backbone`` from a profile) is routed there, so one
    override works for a model and its wrapped variants alike."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if "base" not in fields:
        return overrides
    base_cls = type(cls().base)
    base_fields = {f.name for f in dataclasses.fields(base_cls)}
    routed: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in fields and key in base_fields:
            routed["base"] = deep_update(routed.get("base", {}), {key: value})
        elif key == "base" and isinstance(value, dict):
            routed["base"] = deep_update(routed.get("base", {}), value)
        else:
            routed[key] = value
    return routed


def model_config(name: str, overrides: dict[str, Any] | None = None):
    """The typed config of model ``name`` with ``overrides`` applied (unknown keys raise ConfigError)."""
    cls = MODELS.get(name).config_cls
    assert cls is not None and dataclasses.is_dataclass(cls)
    return merge(cls(), _route_to_base(cls, overrides)) if overrides else cls()


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
