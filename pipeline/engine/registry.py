"""Stage registry: stages register by name; the engine finds them by that name.

The engine knows only this contract, never a concrete stage: the shipped stages live in the
``xcurate.stages`` package (loaded by name, so the engine does not import the layer above it),
and a user's own stages register the same way (``@register`` in a module imported before the run).
Stage modules must stay cheap to import (models and heavy libraries load in ``setup``), because
listing the stages imports them all.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, Type

from xcurate.engine.stage import Stage

STAGE_PACKAGES = ("xcurate.stages",)

_REGISTRY: Dict[str, Type[Stage]] = {}
_LOADED = False


def register(cls):
    """Class decorator: ``@register`` on a Stage subclass with a ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"stage name {cls.name!r} registered twice ({existing} and {cls})")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for package_name in STAGE_PACKAGES:
        package = importlib.import_module(package_name)
        for mod in pkgutil.iter_modules(package.__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{package_name}.{mod.name}")
    _LOADED = True


def get_stage_class(name: str) -> Type[Stage]:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known stages: {', '.join(sorted(_REGISTRY))}") from None


def available_stages() -> Dict[str, Type[Stage]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))
