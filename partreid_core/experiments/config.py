"""How recipes and profiles resolve into the typed run config (:class:`partreid_core.engine.config.ExperimentConfig`).

A run's config is built in layers, each a dict merged into the previous one (unknown keys
are errors at every layer, naming the file):

1. the dataclass defaults (:mod:`partreid_core.engine.config`);
2. ``recipes/profiles/<profile>.yaml`` -> ``base`` (dataset, image size, backbone width, eval cadence);
3. ``recipes/<folder>/<recipe>.yaml`` (a paper's optimiser / schedule / sampler / augmentation), the folder
   being the profile's name or the one it reuses (:data:`RECIPE_FOLDERS`: ``smoke`` the ``cpu`` recipes,
   ``gpu-synth`` the ``gpu`` ones);
4. ``recipes/profiles/<profile>.yaml`` -> ``force`` (what a profile must impose whatever the
   recipe says, e.g. smoke's 2 epochs on synth-tiny);
5. command-line choices (``--dataset``, ``--model``, ``--seed``) and ``--set key.sub=value`` overrides.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, deep_update, from_dict
from ..engine.config import DataConfig, ExperimentConfig

PROFILES = ("smoke", "cpu", "cpu-ft", "gpu", "gpu-synth")
#: profiles that reuse another profile's recipes rather than keep copies (the others: ``recipes/<profile>/``)
RECIPE_FOLDERS = {"smoke": "cpu", "gpu-synth": "gpu"}


# ---------------------------------------------------------------------------------------------
# resolution


def recipes_root() -> Path:
    return Path(str(resources.files("partreid_core.experiments") / "recipes"))


def _read_yaml(path: Path) -> dict:
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def recipe_folder(profile: str) -> str:
    """The ``recipes/`` folder whose recipes ``profile`` resolves (:data:`RECIPE_FOLDERS`, else its own)."""
    return RECIPE_FOLDERS.get(profile, profile)


def list_recipes(profile: str = "cpu") -> list[str]:
    folder = recipes_root() / recipe_folder(profile)
    return sorted(p.stem for p in folder.glob("*.yaml"))


def recipe_path(recipe: str, profile: str) -> Path:
    """The YAML file of ``recipe`` at ``profile`` (a path to a file is used as is)."""
    if recipe.endswith((".yaml", ".yml")) or "/" in recipe:
        return Path(recipe)
    path = recipes_root() / recipe_folder(profile) / f"{recipe}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no recipe {recipe!r} for profile {profile!r}: expected {path}; "
                                f"known: {', '.join(list_recipes(profile))}")
    return path


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_set(assignments: list[str] | None) -> dict:
    """``["train.epochs=3", "optim.lr=0.1"]`` -> nested dict; values are parsed as YAML scalars/lists."""
    out: dict = {}
    for item in assignments or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key.sub=value, got {item!r}")
        key, value = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        # YAML 1.1 reads on/off/yes/no as booleans; only true/false mean that on a command line
        is_word = value.strip().lower() in ("on", "off", "yes", "no", "y", "n")
        parsed = value.strip() if is_word else yaml.safe_load(value)
        # YAML 1.1 reads 1e-3 (no dot) as text; on a command line it is a number, as in YAML 1.2
        if isinstance(parsed, str) and _NUMBER.fullmatch(parsed.strip()):
            parsed = float(parsed)
        node[parts[-1]] = parsed
    return out


def _check(data: dict, where: str) -> dict:
    """Validate a layer on its own so a typo is reported against the file it is in."""
    try:
        from_dict(ExperimentConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return data


def resolve_config(recipe: str | None = None, profile: str = "cpu", overrides: dict | None = None,
                   **choices: Any) -> ExperimentConfig:
    """Build the run config from the layers described in the module docstring.

    ``choices`` are top-level fields set from the command line (``model``, ``seed``,
    ``experiment``, ``run``) plus ``dataset`` (a ``data.dataset`` shortcut); ``None`` values are ignored.
    """
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
    prof_path = recipes_root() / "profiles" / f"{profile}.yaml"
    prof = _read_yaml(prof_path)
    unknown = set(prof) - {"base", "force"}
    if unknown:
        raise ConfigError(f"{prof_path}: unknown top-level keys {sorted(unknown)}; expected 'base' and 'force'")
    data: dict = {"profile": profile}
    data = deep_update(data, _check(prof.get("base") or {}, f"{prof_path.name}:base"))
    if recipe:
        path = recipe_path(recipe, profile)
        data = deep_update(data, _check(_read_yaml(path), str(path)))
        data["recipe"] = path.stem
        data.setdefault("experiment", path.stem)
    data = deep_update(data, _check(prof.get("force") or {}, f"{prof_path.name}:force"))
    cli: dict = {k: v for k, v in choices.items() if v is not None and k != "dataset"}
    if choices.get("dataset") is not None:
        cli["data"] = {"dataset": choices["dataset"]}
    data = deep_update(data, cli)
    data = deep_update(data, overrides or {})
    return from_dict(ExperimentConfig, _expand_init_from(data))


def _expand_init_from(data: dict) -> dict:
    """Fill ``{dataset}``, ``{seed}`` and ``{profile}`` in ``model_overrides.init_from`` (MPN's IDE checkpoint
    is per data set and seed), so the resolved config names the file it was initialised from."""
    init = (data.get("model_overrides") or {}).get("init_from")
    if not isinstance(init, str) or "{" not in init:
        return data
    fields = {"dataset": (data.get("data") or {}).get("dataset", DataConfig.dataset),
              "seed": data.get("seed", 0), "profile": data.get("profile", "")}
    try:
        path = init.format(**fields)
    except (KeyError, IndexError) as e:
        raise ConfigError(f"model_overrides.init_from={init!r}: unknown placeholder {e}; "
                          f"known: {', '.join('{' + k + '}' for k in fields)}") from None
    return deep_update(data, {"model_overrides": {"init_from": path}})


__all__ = ["PROFILES", "RECIPE_FOLDERS", "resolve_config", "parse_set", "recipe_folder", "recipe_path",
           "list_recipes", "recipes_root"]
