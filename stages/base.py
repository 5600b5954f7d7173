"""The stage contract.

A stage is a small class over a plain Arrow batch. It declares the columns it reads and
writes and the resources it needs, loads models once in ``setup()`` and knows nothing of
the runner (and nothing of Ray). The runner decides how to execute it: stateless stages
run as Ray Data tasks, stages with ``uses_model = True`` as actor pools (``setup`` runs
once per actor).

``process`` returns a :class:`StageOutput`: the same rows, in the same order, with the
stage's columns added, plus one drop reason per row (``None`` = keep). A reason is a short
machine-readable string, ``"<filter>:<why>"`` where a stage has several filters.

Global stages (dedup) need the whole corpus; they subclass :class:`GlobalStage` and are
run by the runner between streaming segments (see ``pipeline/runner.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field


class StageParams(BaseModel):
    """Base class of every stage's parameters (validated from the YAML config)."""

    model_config = ConfigDict(extra="forbid")


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(1.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    # Actor-pool size for model stages; None = one actor per CPU the stage can get.
    concurrency: Optional[int] = Field(None, ge=1)


@dataclass
class StageOutput:
    table: pa.Table
    drop_reason: Optional[pa.Array] = None  # string array, one per row; null = kept

    @classmethod
    def keep_all(cls, table: pa.Table) -> "StageOutput":
        return cls(table, None)


class Stage:
    """Base class of streaming stages."""

    name: ClassVar[str] = ""
    reads: ClassVar[Sequence[str]] = ("text",)
    writes: ClassVar[Sequence[str]] = ()
    uses_model: ClassVar[bool] = False
    # A model stage that runs faster on a GPU: when the config gives no `resources` and the
    # cluster has GPUs, the runner gives each actor one GPU.
    gpu_capable: ClassVar[bool] = False
    Params: ClassVar[type[StageParams]] = StageParams
    default_resources: ClassVar[Resources] = Resources()

    def __init__(self, params: Optional[StageParams] = None):
        self.params = params if params is not None else self.Params()

    def setup(self) -> None:
        """Load models or tables; called once per worker/actor before the first batch."""

    def process(self, table: pa.Table) -> StageOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    # Convenience for tests and notebooks: run setup lazily and process one table.
    def __call__(self, table: pa.Table) -> StageOutput:
        if not getattr(self, "_xc_ready", False):
            self.setup()
            self._xc_ready = True
        return self.process(table)


class GlobalStage:
    """A stage that needs the whole corpus (exact / near-duplicate removal).

    ``run`` gets the per-unit Parquet files of the previous segment (all rows, with the
    runner's bookkeeping columns ``_xc_unit``, ``_xc_row``, ``_xc_drop_stage``,
    ``_xc_drop_reason``) and must write, for every input file, a file of the same name in
    ``out_dir`` holding the same rows in the same order, with ``_xc_drop_stage`` /
    ``_xc_drop_reason`` set for the rows it drops (only rows not dropped earlier are
    eligible) and its ``writes`` columns added. Writes are atomic; files already present in
    ``out_dir`` are complete (resume). It may use Ray (it runs on the driver and launches
    distributed work) but must never collect the corpus on the driver.
    """

    name: ClassVar[str] = ""
    reads: ClassVar[Sequence[str]] = ("text",)
    writes: ClassVar[Sequence[str]] = ()
    Params: ClassVar[type[StageParams]] = StageParams
    default_resources: ClassVar[Resources] = Resources()
    is_global: ClassVar[bool] = True

    def __init__(self, params: Optional[StageParams] = None):
        self.params = params if params is not None else self.Params()

    def run(self, unit_files: Sequence[str], out_dir: str, work_dir: str, stage_name: str,
            resources: Resources) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def reasons_array(reasons: Sequence[Optional[str]]) -> pa.Array:
    return pa.array(reasons, type=pa.string())


def with_columns(table: pa.Table, columns: dict) -> pa.Table:
    """Add or replace columns by name."""
    for name, values in columns.items():
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        idx = table.schema.get_field_index(name)
        table = table.set_column(idx, name, arr) if idx >= 0 else table.append_column(name, arr)
    return table
