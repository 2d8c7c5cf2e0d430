"""Named analysis hooks: the name -> function registry a config's ``analysis:`` list refers to.

A hook function receives an :class:`~partreid_core.engine.hooks.AnalysisContext` and returns
``{array_name: np.ndarray}``; register one with::

    @register_hook("part_similarity")
    def part_similarity(ctx: AnalysisContext) -> dict[str, np.ndarray]: ...

:func:`build_hooks` turns names into :class:`~partreid_core.engine.hooks.HookBase` objects for the trainer
(their arrays land in ``analysis.npz`` as ``"<name>/<array>"``). Every hook of the package is registered
once ``partreid_core.analysis`` is imported (its ``__init__`` imports the generic hooks and
:mod:`.chapter_hooks`), which importing this module implies.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..engine.hooks import AnalysisContext, HookBase
from ..registry import Registry

HOOKS: Registry[Callable[[AnalysisContext], dict[str, np.ndarray]]] = Registry("analysis hook")


def register_hook(name: str):
    """Decorator: register ``fn(ctx) -> {array: np.ndarray}`` as the analysis hook ``name``."""
    return HOOKS.register(name)


class FunctionHook(HookBase):
    """A registered hook function as a trainer hook: ``after_train(ctx)`` returns ``fn(ctx)``."""

    def __init__(self, name: str, fn: Callable[[AnalysisContext], dict[str, np.ndarray]]):
        self.name = name
        self.fn = fn

    def after_train(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        return self.fn(ctx)


def build_hooks(names: Sequence[str]) -> list[HookBase]:
    """One :class:`FunctionHook` per name, in order (a config's ``analysis:`` list).

    Raises:
        KeyError: an unknown name ("unknown analysis hook ..."; the registry lists the known ones).
    """
    return [FunctionHook(name, HOOKS.get(name).builder) for name in names]


__all__ = ["HOOKS", "register_hook", "FunctionHook", "build_hooks"]
