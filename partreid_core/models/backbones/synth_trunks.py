"""Where a backbone's weights come from: none, ImageNet, a SynthReID-P trunk (``pretrained: synth``) or a file.

``BackboneConfig.pretrained`` takes

* ``False``: from scratch (the ``scratch`` regime);
* ``True``: ImageNet weights from ``PARTREID_WEIGHTS`` / the torch cache (width 1.0 only: they exist only there);
* ``"synth"``: the trunk ``partreid pretrain`` trained on SynthReID-P for this backbone name and width, from
  the weights cache :func:`weights_dir` (file :func:`trunk_name`); absent, the error prints the command that
  makes it;
* a path: that state dict (an ImageNet file or a trunk file), at any width (shapes must match).

Any of the last three is the ``fine-tuned`` regime. :func:`trunk_provenance` is what a run record keeps.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from .weights import candidate_paths, file_sha256, load_imagenet_weights, mark_provenance

SYNTH = "synth"


def weights_dir() -> Path:
    """``$PARTREID_WEIGHTS`` or ``~/.cache/partreid/weights`` (the folder pretrained trunks are written to)."""
    env = os.environ.get("PARTREID_WEIGHTS")
    return Path(env) if env else Path.home() / ".cache" / "partreid" / "weights"


def trunk_name(arch: str, width: float) -> str:
    """File name of the SynthReID-P trunk of backbone ``arch`` (registry name) at ``width``."""
    return f"synthp-{arch}-w{float(width):g}.pt"


def trunk_path(arch: str, width: float) -> Path:
    return weights_dir() / trunk_name(arch, width)


def pretrain_command(arch: str, width: float, profile: str = "cpu") -> str:
    """The command that writes :func:`trunk_path` (``arch`` as the CLI spells it)."""
    cli = {"mobilenet_v2": "mobilenetv2"}.get(arch, arch)
    return f"partreid pretrain --backbone {cli} --width {float(width):g} --profile {profile}"


def source_path(arch: str, width: float, pretrained: bool | str) -> Path | None:
    """The file ``pretrained`` resolves to (None for ``False``, or ImageNet weights not found)."""
    if not pretrained:
        return None
    if pretrained is True:
        return next((p for p in candidate_paths(arch) if p.is_file()), None)
    if pretrained == SYNTH:
        return trunk_path(arch, width)
    return Path(str(pretrained))


def load_pretrained(model: nn.Module, arch: str, width: float, pretrained: bool | str,
                    key_map: Callable[[dict], dict] | None = None) -> nn.Module:
    """Load ``pretrained`` (see the module docstring) into ``model`` in place; returns it.

    Raises:
        ValueError: ImageNet weights (``True``) asked for at a width other than 1.0.
        FileNotFoundError: the file is absent; for ``"synth"`` the message gives the ``partreid pretrain``
            command that makes it.
    """
    if not pretrained:
        return model
    if pretrained is True:
        if float(width) != 1.0:
            raise ValueError(f"ImageNet weights exist only for width=1.0 of {arch}, not width={width} "
                             f"(a SynthReID-P trunk exists at any width: pretrained: synth)")
        return load_imagenet_weights(model, arch, None, key_map)
    path = source_path(arch, width, pretrained)
    if pretrained == SYNTH and not path.is_file():
        raise FileNotFoundError(
            f"pretrained: synth asks for the SynthReID-P trunk of {arch} at width {float(width):g}, expected at\n"
            f"  {path}\nMake it with the pretraining tier of the profile that asks for it:\n"
            f"  {pretrain_command(arch, width, 'cpu')}    (cpu-ft: SynthReID-P at 128x64)\n"
            f"  {pretrain_command(arch, width, 'gpu')}    (gpu-synth: SynthReID-P at 256x128)\n"
            f"(or set PARTREID_WEIGHTS to the folder that holds {trunk_name(arch, width)})")
    model = load_imagenet_weights(model, arch, str(path), key_map)
    source = "synth" if pretrained == SYNTH else "file"
    mark_provenance(model, f"{source}:{path.name} sha256:{file_sha256(path)}")  # not ImageNet: say what it is
    return model


def _backbones(cfg: Any) -> list:
    """Every BackboneConfig inside a (nested) model config dataclass."""
    from . import BackboneConfig  # here, not at the top: the backbones package imports this module

    if isinstance(cfg, BackboneConfig):
        return [cfg]
    if not dataclasses.is_dataclass(cfg):
        return []
    return [b for f in dataclasses.fields(cfg) for b in _backbones(getattr(cfg, f.name))]


def trunk_provenance(model_cfg: Any, loaded: str = "none") -> dict[str, Any]:
    """``{"regime": "scratch" | "fine-tuned", "pretrained_trunk": {"name", "sha256", "source"} | None}`` of a
    model config (the first backbone that loads weights; a run record keeps this beside its config).

    ``loaded`` is what the built model says it was initialised from
    (:func:`~partreid_core.models.backbones.weights.pretrained_provenance`, e.g. ``"ide:<path> sha256:<hex>"``):
    it names the trunk when the weights come from a model-level option rather than ``backbone.pretrained``
    (MPN's IDE stage)."""
    for bb in _backbones(model_cfg):
        path = source_path(bb.name, bb.width, bb.pretrained)
        if bb.pretrained:
            source = "synth" if bb.pretrained == SYNTH else "imagenet" if bb.pretrained is True else "file"
            name = path.name if path is not None else f"{bb.name} (ImageNet, not found)"
            sha = file_sha256(path) if path is not None and path.is_file() else None
            return {"regime": "fine-tuned", "pretrained_trunk": {"name": name, "sha256": sha, "source": source}}
    if loaded and loaded != "none":
        source, _, rest = loaded.split("; ")[0].partition(":")
        name, _, sha = rest.partition(" sha256:")
        return {"regime": "fine-tuned", "pretrained_trunk": {"name": Path(name).name, "sha256": sha or None,
                                                             "source": source}}
    return {"regime": "scratch", "pretrained_trunk": None}


__all__ = ["SYNTH", "file_sha256", "load_pretrained", "pretrain_command", "source_path", "trunk_name", "trunk_path",
           "trunk_provenance", "weights_dir"]
