"""Pipeline configuration: YAML (safe loader) validated with pydantic.

Errors name the file and the field, e.g. ``quickstart.yaml: stages[2].params.threshold:
Input should be a valid number``.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from typing import Any, Dict, List, Literal, Optional, Sequence, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xcurate.errors import UserError
from xcurate.engine.stage import Resources, StageParams


class ConfigError(UserError, ValueError):
    """Invalid configuration; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HubSource(_Strict):
    name: str
    config: Optional[str] = None
    split: str = "train"


class InputConfig(_Strict):
    paths: List[str] = Field(default_factory=list, description="files, globs or directories")
    format: Literal["auto", "jsonl", "parquet", "hf_disk", "hf_hub"] = "auto"
    hub: Optional[HubSource] = None
    text_field: str = "text"
    id_field: Optional[str] = "id"
    # Where extra input fields go: one JSON string column `metadata` (robust to schemas that
    # differ between files).
    keep_metadata: bool = True
    # Input fields promoted to top-level string columns, {input_field: column}; e.g.
    # {lang_script: language} when the input already carries trusted language labels.
    columns: Dict[str, str] = Field(default_factory=dict)
    options: Dict[str, Any] = Field(default_factory=dict, description="format-specific reader options")

    @model_validator(mode="after")
    def _has_source(self):
        if not self.paths and self.hub is None:
            raise ValueError("give input.paths or input.hub")
        return self


class OutputConfig(_Strict):
    # A work unit is a slice of the input (~unit_mb of text); each unit becomes one shard per
    # language, so this is the target shard size knob.
    unit_mb: float = Field(32.0, gt=0)
    unit_rows: int = Field(200_000, ge=1)
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    partition_by: str = "language"
    keep_rejected: bool = True
    max_doc_chars: int = Field(10_000_000, ge=1, description="longer documents are quarantined (reason doc_too_large)")


class RayConfig(_Strict):
    address: Optional[str] = None
    num_cpus: Optional[int] = Field(None, ge=1)
    progress_bars: bool = True


class StageConfig(_Strict):
    type: str
    name: Optional[str] = None
    params: Dict[str, Any] = Field(default_factory=dict)
    resources: Optional[Resources] = None


class PipelineConfig(_Strict):
    input: InputConfig
    output: OutputConfig = OutputConfig()
    ray: RayConfig = RayConfig()
    stages: List[StageConfig] = Field(default_factory=list)


class ResolvedStage:
    """A stage entry with its registered class and validated params."""

    def __init__(self, index: int, cfg: StageConfig, cls, params: StageParams, resources: Resources):
        self.index, self.cfg, self.cls, self.params, self.resources = index, cfg, cls, params, resources
        self.name = cfg.name or cfg.type

    @property
    def is_global(self) -> bool:
        return self.cls.is_global

    def build(self):
        return self.cls(self.params)


class LoadedConfig:
    def __init__(self, path: str, raw: dict, model: PipelineConfig, stages: List[ResolvedStage]):
        self.path, self.raw, self.model, self.stages = path, raw, model, stages

    @property
    def input(self) -> InputConfig:
        return self.model.input

    @property
    def output(self) -> OutputConfig:
        return self.model.output

    def config_hash(self) -> str:
        """Hash of what determines the output (not of where Ray runs)."""
        relevant = {k: v for k, v in self.raw.items() if k != "ray"}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _loc(loc: Sequence[Union[str, int]]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def format_validation_error(err: ValidationError, source: str, prefix: Sequence[Union[str, int]] = ()) -> str:
    lines = []
    for e in err.errors():
        loc = _loc(list(prefix) + [p for p in e["loc"] if p not in ("function-after",)])
        lines.append(f"{source}: {loc}: {e['msg']}")
    return "\n".join(lines)


_OVERRIDE_RE = re.compile(r"^([A-Za-z_][\w]*(?:\[\d+\])?(?:\.[A-Za-z_][\w]*(?:\[\d+\])?)*)=(.*)$", re.S)


def apply_override(raw: dict, override: str) -> None:
    """``stages[1].params.min_chars=50`` → sets that value (parsed as YAML)."""
    m = _OVERRIDE_RE.match(override)
    if not m:
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE, e.g. stages[0].params.min_chars=20")
    keys: List[Union[str, int]] = []
    for part in m.group(1).split("."):
        name, _, idx = part.partition("[")
        keys.append(name)
        if idx:
            keys.append(int(idx.rstrip("]")))
    node: Any = raw
    for k in keys[:-1]:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            if isinstance(k, str) and isinstance(node, dict):
                node = node.setdefault(k, {})
            else:
                raise ConfigError(f"--set {override!r}: no such key {m.group(1)!r}") from None
    value = yaml.safe_load(m.group(2)) if m.group(2) != "" else ""
    try:
        node[keys[-1]] = value
    except (IndexError, TypeError):
        raise ConfigError(f"--set {override!r}: no such key {m.group(1)!r}") from None


def read_yaml(path: str) -> dict:
    if not os.path.exists(path):
        raise ConfigError(f"{path}: config file not found")
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def load_config(source: Union[str, dict], overrides: Sequence[str] = ()) -> LoadedConfig:
    """Load, override and validate a pipeline config (path or dict). Raises ConfigError."""
    from xcurate.engine.registry import get_stage_class

    if isinstance(source, dict):
        raw, name, base_dir = copy.deepcopy(source), "<config>", os.getcwd()
    else:
        raw, name, base_dir = read_yaml(source), source, os.path.dirname(os.path.abspath(source))
    for ov in overrides or ():
        apply_override(raw, ov)
    try:
        model = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, name)) from None

    resolved, errors, seen = [], [], set()
    for i, sc in enumerate(model.stages):
        try:
            cls = get_stage_class(sc.type)
        except KeyError as e:
            errors.append(f"{name}: stages[{i}].type: {e.args[0]}")
            continue
        try:
            params = cls.Params.model_validate(sc.params)
        except ValidationError as e:
            errors.append(format_validation_error(e, name, ["stages", i, "params"]))
            continue
        stage = ResolvedStage(i, sc, cls, params, sc.resources or cls.default_resources)
        if stage.name in seen or stage.name == "read":
            errors.append(f"{name}: stages[{i}].name: duplicate stage name {stage.name!r}; set a unique `name`")
        seen.add(stage.name)
        resolved.append(stage)
    if errors:
        raise ConfigError("\n".join(errors))
    _ = base_dir
    return LoadedConfig(name, raw, model, resolved)
