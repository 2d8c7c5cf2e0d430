"""Decorator registries (timm / fast-reid style) for datasets, models and recipes.

A registry maps a name to a builder and, optionally, the typed dataclass config that
builder takes, so ``build(name, overrides)`` can validate keys before anything is built.
"""
from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    builder: Callable[..., T]
    config_cls: type | None = None
    doc: str = ""


class Registry(Generic[T]):
    """A named collection of builders.

    Example::

        MODELS = Registry("model")

        @MODELS.register("pcb", config=PCBConfig)
        def build_pcb(cfg: PCBConfig, num_classes: int) -> PCB: ...
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, config: type | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(fn: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise KeyError(f"{self.kind} {name!r} is registered twice")
            doc = (fn.__doc__ or "").strip().splitlines()
            self._entries[name] = Entry(name, fn, config, doc[0] if doc else "")
            return fn

        return deco

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def build(self, name: str, *args: Any, **kwargs: Any) -> T:
        return self.get(name).builder(*args, **kwargs)
