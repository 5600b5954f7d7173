"""Stage registry: every module in this package may register stages by name.

Modules must stay cheap to import (models and heavy libraries are imported in
``Stage.setup``), because the registry imports them all to list what exists.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, Type, Union

from stages.base import GlobalStage, Stage

_REGISTRY: Dict[str, Union[Type[Stage], Type[GlobalStage]]] = {}
_LOADED = False


def register(cls):
    """Class decorator: ``@register`` on a Stage/GlobalStage subclass with a ``name``."""
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
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "base" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    _LOADED = True


def get_stage_class(name: str):
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known stages: {', '.join(sorted(_REGISTRY))}") from None


def available_stages() -> Dict[str, type]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))
