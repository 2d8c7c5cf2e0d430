"""Where real datasets and decoded-image caches live.

``PARTREID_DATA`` is the data root (the ``root`` of torchreid / fast-reid); every real dataset
accepts the torchreid nesting (``<root>/market1501/Market-1501-v15.09.15``) and the fast-reid one
(``<root>/Market-1501-v15.09.15``). ``PARTREID_CACHE`` (default ``~/.cache/partreid``) holds
decoded uint8 arrays so that a split is decoded from JPEG only once per size.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

DATA_ENV = "PARTREID_DATA"
CACHE_ENV = "PARTREID_CACHE"


class DatasetNotFoundError(FileNotFoundError):
    """A real dataset (or the data root) is not where it was looked for."""


def data_root(root: str | os.PathLike | None = None, dataset: str = "dataset",
              expected: Sequence[str] = ()) -> Path:
    """The data root: ``root`` if given, else ``$PARTREID_DATA``.

    ``expected`` (folders relative to the root where the dataset would be looked for) is quoted
    in the error so the user sees exactly what to create.

    Raises:
        DatasetNotFoundError: neither is set, or the folder does not exist.
    """
    if root is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            where = "".join(f"\n  ${DATA_ENV}/{e}" for e in expected)
            raise DatasetNotFoundError(
                f"{dataset}: no data root: {DATA_ENV} is unset and no root=... was given. Set {DATA_ENV} to the "
                f"folder holding your ReID datasets" + (f"; {dataset} is looked for in:{where}" if where else ".")
            )
        root = env
    path = Path(root).expanduser()
    if not path.is_dir():
        src = f"${DATA_ENV}" if os.environ.get(DATA_ENV) == str(root) else "root"
        raise DatasetNotFoundError(f"{dataset}: data root {path} ({src}) is not a directory")
    return path


def find_dataset_dir(root: Path, candidates: Sequence[str], required: Sequence[str] | Mapping[str, Sequence[str]],
                     dataset: str, layout: str) -> Path:
    """The first ``root / candidate`` that contains every entry of ``required``.

    Args:
        root: the data root.
        candidates: relative folders to try, in order (torchreid nesting first, then fast-reid).
        required: relative paths that must exist inside the dataset folder (e.g. the split folders),
            or a mapping from candidate to its own list (when versions differ in their folders).
        dataset: the registry name, for the message.
        layout: a one-line description of the expected layout, for the message.

    Raises:
        DatasetNotFoundError: naming every folder that was looked for and what it lacked.
    """
    looked = []
    for cand in candidates:
        d = root / cand
        need = required[cand] if isinstance(required, Mapping) else required
        missing = [r for r in need if not (d / r).exists()]
        if d.is_dir() and not missing:
            return d
        looked.append(f"  {d}" + ("  (absent)" if not d.is_dir() else f"  (lacks {', '.join(missing)})"))
    raise DatasetNotFoundError(
        f"{dataset} not found under {root}. Looked for:\n" + "\n".join(looked)
        + f"\nExpected layout: {layout}"
    )


def cache_root() -> Path:
    """``$PARTREID_CACHE`` or ``~/.cache/partreid`` (created on first use by the writer)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "partreid"
