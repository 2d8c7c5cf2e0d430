"""Local-only ImageNet weights: from an explicit path, ``PARTREID_WEIGHTS`` or the torch hub cache.

Nothing is ever downloaded. When weights are asked for and absent, the error names every
file that was looked for.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

#: File names under which torchvision / torchreid publish each architecture's ImageNet weights.
KNOWN_FILES: dict[str, tuple[str, ...]] = {
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth", "resnet50-19c8e357.pth"),
    "osnet_x1_0": ("osnet_x1_0_imagenet.pth",),
    "osnet_x0_75": ("osnet_x0_75_imagenet.pth",),
    "osnet_x0_5": ("osnet_x0_5_imagenet.pth",),
    "osnet_x0_25": ("osnet_x0_25_imagenet.pth",),
    "mobilenet_v2": ("mobilenet_v2-b0353104.pth", "mobilenet_v2-7ebf99e0.pth"),
    "densenet121": ("densenet121-a639ec97.pth",),
}


#: Attribute set on every parameter whose value came from a file (see :func:`mark_provenance`).
PROVENANCE_TAG = "_partreid_pretrained"


_SHA: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (memoised by path, size and mtime: the records of many runs
    hash one trunk once)."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _SHA[key] = h.hexdigest()
    return _SHA[key]


def mark_provenance(model: nn.Module, source: str) -> None:
    """Tag every parameter of ``model`` with ``source`` (e.g. ``"imagenet:resnet50-0676ba61.pth sha256:..."``),
    so a run can record which file its trunk was initialised from (:func:`pretrained_provenance`)."""
    for p in model.parameters():
        setattr(p, PROVENANCE_TAG, source)


def pretrained_provenance(model: nn.Module) -> str:
    """The sources of ``model``'s initial weights (``"; "``-joined, in parameter order), or ``"none"``.

    Parameters created by ``clone`` are new objects without the tag, so a model reports the source of
    the parameters it kept from its backbone (every model keeps at least its shared trunk).
    """
    seen: dict[str, None] = {}
    for p in model.parameters():
        src = getattr(p, PROVENANCE_TAG, None)
        if src:
            seen.setdefault(src, None)
    return "; ".join(seen) or "none"


def candidate_paths(arch: str) -> list[Path]:
    """Where weights for ``arch`` are looked for, in order."""
    dirs = []
    if os.environ.get("PARTREID_WEIGHTS"):
        dirs.append(Path(os.environ["PARTREID_WEIGHTS"]))
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return [d / f for d in dirs for f in KNOWN_FILES.get(arch, (f"{arch}.pth",))]


def load_imagenet_weights(model: nn.Module, arch: str, path: str | None = None,
                          key_map: Callable[[dict], dict] | None = None) -> nn.Module:
    """Load ImageNet weights into ``model`` (classifier keys ``fc.*``/``classifier.*`` dropped);
    ``key_map`` renames the file's keys first (e.g. old DenseNet files' ``norm.1`` -> ``norm1``).

    Raises:
        FileNotFoundError: no file found; the message lists the expected paths.
    """
    if path is not None:
        candidates = [Path(path)]
    else:
        candidates = candidate_paths(arch)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        listing = "\n  ".join(str(p) for p in candidates)
        raise FileNotFoundError(
            f"ImageNet weights for {arch} were requested but not found. Looked for:\n  {listing}\n"
            f"Nothing is downloaded: copy the file to one of these paths, set PARTREID_WEIGHTS to "
            f"its folder, or pass its path explicitly (or train from scratch with pretrained=False)."
        )
    state = torch.load(found, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    # strip DataParallel's prefix first, so a checkpoint that still carries its head drops it too
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if key_map is not None:
        state = key_map(state)
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "classifier."))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith(("fc.", "classifier."))]:
        raise RuntimeError(f"{found} does not match {arch}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    mark_provenance(model, f"imagenet:{found.name} sha256:{file_sha256(found)}")
    return model
