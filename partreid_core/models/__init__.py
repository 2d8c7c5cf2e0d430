"""Models: backbones, shared parts, baselines and the five methods, behind one registry.

Importing this package registers every model (each model file registers itself).
"""
from . import cgpn, globalpool, mgn, mpn, osnet_reid, pal, pcb, plr_osnet, rmgl  # noqa: F401  (registration)
from .backbones import BackboneConfig, build_backbone
from .base import LossConfig, ReidModel
from .output import ModelOutput
from .registry import MODELS, build_model, list_models, model_config, register_model

__all__ = ["BackboneConfig", "build_backbone", "LossConfig", "ReidModel", "ModelOutput", "MODELS",
           "build_model", "list_models", "model_config", "register_model"]
