"""SynthReID: procedural pedestrians with exact part masks, keypoints and difficulty knobs (issue 3).

Importing this package registers the presets ``synth-tiny``, ``synth-s`` and ``synth-m`` in
``partreid_core.data.registry.DATASETS``::

    from partreid_core.data import build_dataset
    ds = build_dataset("synth-s", seed=0, misalignment=0.5, occlusion=0.3, domain="B")
    train = ds.load_split("train", (128, 64))
"""
from . import pretrain  # noqa: F401,E402  (registers SynthReID-P: synth-p-cpu, synth-p-gpu, synth-p-tiny)
from .dataset import META_KEYS, PRESETS, SynthPreset, SynthReID, build_synth, cache_root
from .export import export_market
from .raster import render_batch
from .scene import GENERATOR_VERSION, KEYPOINT_PARTS, VIEWPOINTS, Knobs

__all__ = ["GENERATOR_VERSION", "KEYPOINT_PARTS", "Knobs", "META_KEYS", "PRESETS", "SynthPreset", "SynthReID",
           "VIEWPOINTS", "build_synth", "cache_root", "export_market", "render_batch"]
