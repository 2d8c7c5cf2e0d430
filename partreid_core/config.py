"""Typed dataclass configs: strict construction from dicts and YAML.

Unknown keys are errors (they are almost always typos that would otherwise silently
train the wrong model); the message names the dataclass, the bad key and the valid keys.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

C = TypeVar("C")


class ConfigError(ValueError):
    """A config dict does not fit its dataclass."""


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        if len(args) == 1:
            return _coerce(args[0], value, where)
        return value
    if origin in (tuple,) and isinstance(value, list):
        return tuple(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is tuple and isinstance(value, list):
        return tuple(value)
    return value


def from_dict(cls: type[C], data: dict[str, Any], where: str = "") -> C:
    """Build dataclass ``cls`` from ``data``; nested dataclass fields accept dicts.

    Raises:
        ConfigError: a key is not a field of ``cls`` (with a close-match suggestion).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = _field_types(cls)
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"unknown config key {path!r} for {cls.__name__}{hint}; valid keys: {', '.join(fields)}"
            )
        kwargs[key] = _coerce(fields[key], value, path)
    try:
        return cls(**kwargs)
    except TypeError as e:  # missing required fields
        raise ConfigError(f"{where or cls.__name__}: {e}") from None


def deep_update(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``a`` with ``b`` applied recursively (nested dicts merge, other values replace)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_update(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


def merge(base: C, overrides: dict[str, Any]) -> C:
    """Return a copy of dataclass ``base`` with ``overrides`` applied (nested dicts merge)."""
    return from_dict(type(base), deep_update(to_dict(base), overrides))


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-JSON dict of a (nested) dataclass; tuples become lists."""
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return conv(cfg)


def load_yaml(cls: type[C], path: str | Path) -> C:
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    return from_dict(cls, data, where=Path(path).name)
