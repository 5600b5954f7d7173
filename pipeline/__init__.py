"""xcurate: multilingual data curation for LLM training data, on Ray.

The Python API mirrors the CLI (each call runs on the same engine as its command)::

    import xcurate
    manifest = xcurate.run("configs/quickstart.yaml", "out/quickstart")
    xcurate.audit(["out/quickstart"], "out/audit", benchmarks="configs/benchmarks/demo_en.yaml")
    xcurate.mix("configs/mix.yaml", "out/mix")
    xcurate.synth("configs/synth_tatoeba.yaml", "out/synth")

Custom stages subclass :class:`xcurate.Stage` and register with :func:`xcurate.register`.
Attributes load lazily so that ``import xcurate`` (also on every Ray worker) stays cheap.
"""
from __future__ import annotations

import importlib
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("xcurate")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled checkout
    __version__ = "0+unknown"

_API = {
    "run": ("xcurate.engine.runner", "run_pipeline"),
    "audit": ("xcurate.workflows.audit", "audit"),
    "mix": ("xcurate.workflows.mix", "run_mix"),
    "synth": ("xcurate.workflows.synth", "run_synth"),
    "Stage": ("xcurate.engine.stage", "Stage"),
    "GlobalStage": ("xcurate.engine.stage", "GlobalStage"),
    "StageOutput": ("xcurate.engine.stage", "StageOutput"),
    "StageParams": ("xcurate.engine.stage", "StageParams"),
    "Resources": ("xcurate.engine.stage", "Resources"),
    "register": ("xcurate.engine.registry", "register"),
    "available_stages": ("xcurate.engine.registry", "available_stages"),
    "UserError": ("xcurate.errors", "UserError"),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'xcurate' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
