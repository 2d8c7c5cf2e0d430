"""Typed dataclass configs: strict construction from dicts and YAML.

Unknown keys are errors (they are almost always typos that would otherwise silently
train the wrong model); the message names the dataclass, the bad key and the valid keys.
Every value is coerced to its field's type hint or rejected (:func:`_coerce`), so a run fails on a
bad value when its config is built, before any data is loaded or model built.
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


def _type_name(tp: Any) -> str:
    """A readable name of a type hint: ``float``, ``tuple[int, int]``, ``one of ('a', 'b')``."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return f"one of {typing.get_args(tp)}"
    if isinstance(tp, type) and origin is None:
        return tp.__name__
    return str(tp).replace("typing.", "")


def _reject(tp: Any, value: Any, where: str) -> ConfigError:
    return ConfigError(f"{where or 'value'}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def _to_number(value: Any) -> float | int | None:
    """A number from an int/float or a numeric string (YAML 1.1 reads ``1e-3`` as text); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (int, float):
            try:
                return parse(text)
            except ValueError:
                pass
    return None


def _coerce_scalar(tp: type, value: Any, where: str) -> Any:
    """bool / int / float / str: exact types pass, numeric strings and integral floats convert, else reject."""
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _reject(tp, value, where)
    if tp is int:
        num = _to_number(value)
        if isinstance(num, int):
            return num
        if isinstance(num, float) and num.is_integer():
            return int(num)
        raise _reject(tp, value, where)
    if tp is float:
        num = _to_number(value)
        if num is None:
            raise _reject(tp, value, where)
        return float(num)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _reject(tp, value, where)
    if isinstance(value, tp):
        return value
    raise _reject(tp, value, where)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` as type hint ``tp`` (the field's), or :class:`ConfigError` naming ``where``, the value and the type.

    Handled: nested dataclasses (from dicts), ``X | None``, unions (an exact member first, then the first
    member that converts), ``Literal`` choices, ``bool``/``int``/``float``/``str`` (numeric strings such as
    ``"1e-3"`` become numbers; ``2.0`` is an int, ``2.5`` is not), ``tuple[X, ...]`` / ``tuple[X, Y]`` and
    ``list[X]`` (from lists or tuples), ``dict[K, V]``. ``Any`` and unparameterised containers pass through.
    """
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, dict):
            return from_dict(tp, value, where)
        if isinstance(value, tp):
            return value
        raise _reject(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        for a in members:  # an exact match wins: "1e-3" stays text for a ``str | float`` field
            if isinstance(a, type) and typing.get_origin(a) is None and type(value) is a:
                return value
        for a in members:
            try:
                return _coerce(a, value, where)
            except ConfigError:
                continue
        raise _reject(tp, value, where)
    if origin is typing.Literal:
        for choice in args:
            if value == choice and type(value) is type(choice):
                return choice
        raise _reject(tp, value, where)
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise _reject(tp, value, where)
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {_type_name(tp)} ({len(args)} values), got {value!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is list or tp is list:
        if not isinstance(value, (list, tuple)):
            raise _reject(tp, value, where)
        return [_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)] if args else list(value)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise _reject(tp, value, where)
        if not args:
            return dict(value)
        return {_coerce(args[0], k, f"{where}.{k}"): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type):
        return _coerce_scalar(tp, value, where)
    return value  # an exotic hint (a TypeVar, a callable): left as it is


def from_dict(cls: type[C], data: dict[str, Any], where: str = "") -> C:
    """Build dataclass ``cls`` from ``data``; nested dataclass fields accept dicts.

    Raises:
        ConfigError: a key is not a field of ``cls`` (with a close-match suggestion), or a value does not
            fit its field's type (naming the key, the value and the expected type).
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
