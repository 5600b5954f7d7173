"""Pipeline configuration: YAML (safe loader) validated with pydantic.

Errors name the file and the field, e.g. ``quickstart.yaml: stages[2].params.threshold:
Input should be a valid number``. :func:`plan_input` is what ``validate`` and ``run`` check of
the input before Ray starts, the stage column contract included.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import replace
from typing import Annotated, Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from xcurate import schema
from xcurate.errors import UserError
from xcurate.engine.io import DOC_COLUMNS, ReadOptions, ReadSpec, plan_read_specs, read_spec
from xcurate.engine.registry import get_stage_class
from xcurate.engine.stage import Resources, StageParams, unmet_inputs


class ConfigError(UserError, ValueError):
    """Invalid configuration; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_PATH_COMPONENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _path_component(value: str) -> str:
    """A config value that becomes a directory name under OUTDIR must stay one plain name."""
    if not _PATH_COMPONENT_RE.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} becomes a directory name in OUTDIR: use letters, digits, '_', '.', '-' "
                         "(starting with a letter or digit, no '..')")
    return value


PathComponent = Annotated[str, AfterValidator(_path_component)]


class HubSource(_Strict):
    name: str
    config: Optional[str] = None
    split: str = "train"


class InputConfig(_Strict):
    paths: List[str] = Field(default_factory=list, description="files, globs or directories")
    format: Literal["auto", "jsonl", "parquet", "hf_disk", "hf_hub", "warc"] = "auto"
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
    partition_by: PathComponent = "language"
    keep_rejected: bool = True
    max_doc_chars: int = Field(10_000_000, ge=1, description="longer documents are quarantined (reason doc_too_large)")
    # Reports over a corpus (an audit) need only the rows a stage flagged, not a copy of the
    # corpus: data/ then holds the kept rows where one of these columns is set; the manifest
    # still accounts for every row (`written_documents` beside `output_documents`).
    write_rows_with: List[str] = Field(default_factory=list, description="write only kept rows where one of "
                                       "these columns is not null (empty: every kept row)")
    write_columns: Optional[List[str]] = Field(None, description="write only these columns to data/ "
                                               "(the partition column always; null: all)")
    tokenizer: Optional[str] = Field(None, description="adds n_tokens per document (a last stage count_tokens): "
                                     "Hugging Face id/dir/tokenizer.json, tiktoken name or SentencePiece .model")


class RayConfig(_Strict):
    address: Optional[str] = None
    num_cpus: Optional[int] = Field(None, ge=1)
    progress_bars: bool = True
    connect_timeout_s: float = Field(30.0, gt=0, description="how long to try to reach ray.address")


class StageConfig(_Strict):
    type: str
    name: Optional[PathComponent] = None
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

    def read_options(self) -> ReadOptions:
        i, o = self.input, self.output
        return ReadOptions(text_field=i.text_field, id_field=i.id_field, keep_metadata=i.keep_metadata,
                           columns=dict(i.columns), unit_rows=o.unit_rows, unit_bytes=int(o.unit_mb * (1 << 20)),
                           max_doc_chars=o.max_doc_chars)


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
    try:
        value = yaml.safe_load(m.group(2)) if m.group(2) != "" else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {override!r}: the value is not valid YAML: {yaml_error_text(e)}") from None
    try:
        node[keys[-1]] = value
    except (IndexError, TypeError):
        raise ConfigError(f"--set {override!r}: no such key {m.group(1)!r}") from None


def yaml_error_text(e: yaml.YAMLError) -> str:
    """A YAML error on one line: ``line L, column C: problem``."""
    mark, problem = getattr(e, "problem_mark", None), getattr(e, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(e).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_yaml_file(path: str) -> Any:
    """Parse a YAML file; bad YAML or a file that is not UTF-8 text is a one-line ConfigError naming it."""
    with open(path, encoding="utf-8") as f:
        try:
            return yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {yaml_error_text(e)}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not a UTF-8 text file (invalid byte at offset {e.start})") from None


def read_yaml(path: str) -> dict:
    if not os.path.exists(path):
        raise ConfigError(f"{path}: config file not found")
    raw = load_yaml_file(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return raw


def load_config(source: Union[str, dict], overrides: Sequence[str] = ()) -> LoadedConfig:
    """Load, override and validate a pipeline config (path or dict). Raises ConfigError."""
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
    stage_configs = list(model.stages)
    if model.output.tokenizer:
        stage_configs.append(StageConfig(type="count_tokens", params={"tokenizer": model.output.tokenizer}))
    for i, sc in enumerate(stage_configs):
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


def plan_input(cfg: LoadedConfig) -> Tuple[ReadOptions, List[ReadSpec]]:
    """What the driver checks about the input before Ray starts (``validate`` and ``run``): the
    read specs (inputs exist, first records carry the text field), then the stage column contract
    against the columns the reader really yields."""
    opts = cfg.read_options()
    specs = plan_read_specs(cfg.input, opts)
    check_stage_columns(cfg, sampled_input_columns(specs, opts))
    return opts, specs


def sampled_input_columns(specs: Sequence[ReadSpec], opts: ReadOptions) -> List[str]:
    """The columns the first stage gets: those of a few documents read from the first input."""
    spec = next((s for s in specs if s.format != "hf_hub"), None)  # a hub stream is not opened on the driver
    if spec is None:
        return [*DOC_COLUMNS, *opts.columns.values()]
    first_unit = next(iter(read_spec(spec, replace(opts, unit_rows=8, unit_bytes=1 << 16))))
    return first_unit.column_names


def check_stage_columns(cfg: LoadedConfig, input_columns: Sequence[str]) -> None:
    """Every column a stage reads comes from the input or an earlier stage; raises ConfigError."""
    errors = []
    for position, missing, available in unmet_inputs([st.build() for st in cfg.stages], input_columns):
        st = cfg.stages[position]
        shown = ", ".join(c for c in available if not schema.is_reserved(c))
        errors.append(f"{cfg.path}: stages[{st.index}] ({st.name}): reads {', '.join(map(repr, missing))}, "
                      f"which neither the input nor an earlier stage provides (columns there: {shown}); "
                      "add a stage that writes it or promote an input field with input.columns")
    if errors:
        raise ConfigError("\n".join(errors))
