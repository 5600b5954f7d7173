"""Worker-side operators: reading units, running a stage on the live rows of a batch.

A stage sees only rows still alive; rows dropped earlier pass by untouched, carrying their
drop stage and reason. Stateless stages run as Ray Data tasks (the stage object is built once
per worker process), model stages as actors (``setup`` once per actor).
"""
from __future__ import annotations

import json
import time
from typing import Dict

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xcurate import fsutil, schema
from xcurate.engine.config import ResolvedStage
from xcurate.engine.io import ReadOptions, ReadSpec, read_spec
from xcurate.engine.live_counts import count_rows

_STAGE_CACHE: Dict[str, object] = {}


def _apply_stage(table: pa.Table, stage, stage_name: str) -> pa.Table:
    """Run ``stage`` on the live rows of ``table``; mark its drops; time it."""
    t0 = time.perf_counter()
    alive_mask = pc.is_null(table[schema.DROP_STAGE])
    alive = table.filter(alive_mask)
    dead = table.filter(pc.invert(alive_mask))
    if alive.num_rows:
        out = stage.process_batch(alive)
        result = out.table
        if result.num_rows != alive.num_rows:
            raise RuntimeError(f"stage {stage_name!r} returned {result.num_rows} rows for {alive.num_rows}")
        if out.drop_reason is not None:
            reason = out.drop_reason if isinstance(out.drop_reason, pa.Array) else pa.array(out.drop_reason, pa.string())
            reason = reason.cast(pa.string())
            drop_stage = pc.if_else(pc.is_null(reason), pa.scalar(None, pa.string()), pa.scalar(stage_name))
            result = schema.with_columns_one(result, schema.DROP_STAGE, drop_stage)
            result = schema.with_columns_one(result, schema.DROP_REASON, reason)
        if out.counts is not None:
            counts = pa.array([orjson.dumps(c).decode() if c else None for c in out.counts], pa.string())
            result = schema.with_columns_one(result, schema.stage_counts_column(stage_name), counts)
        modified = _text_changed(alive, result)
        result = schema.with_columns_one(result, schema.stage_modified_column(stage_name), modified)
        table = pa.concat_tables([result, dead], promote_options="permissive") if dead.num_rows else result
    count_rows(stage_name, alive.num_rows)
    elapsed = time.perf_counter() - t0
    per_row = elapsed / max(table.num_rows, 1)
    return schema.with_columns_one(table, schema.stage_seconds_column(stage_name), pa.array([per_row] * table.num_rows, pa.float64()))


def _text_changed(before: pa.Table, after: pa.Table):
    """True where a stage kept a row and changed its text (e.g. decontaminate's remove_span)."""
    if "text" not in before.column_names or "text" not in after.column_names:
        return pa.array([False] * after.num_rows, pa.bool_())
    old, new = before["text"], after["text"]
    changed = pc.fill_null(pc.not_equal(old, new.cast(old.type) if new.type != old.type else new), False)
    return pc.and_(changed, pc.is_null(after[schema.DROP_STAGE]))


class StageTask:
    """Stateless stage as a Ray Data task; the stage object is built once per worker process."""

    def __init__(self, stage: ResolvedStage):
        self.cls, self.params, self.name = stage.cls, stage.params, stage.name

    def __call__(self, table: pa.Table) -> pa.Table:
        key = f"{self.name}:{id(self.cls)}:{self.params.model_dump_json()}"
        stage = _STAGE_CACHE.get(key)
        if stage is None:
            stage = self.cls(self.params)
            stage.setup()
            _STAGE_CACHE[key] = stage
        return _apply_stage(table, stage, self.name)


class StageActor:
    """Model stage as a Ray actor: ``setup`` (model loading) runs once per actor."""

    def __init__(self, cls, params, name: str):
        self.stage, self.name = cls(params), name
        self.stage.setup()

    def __call__(self, table: pa.Table) -> pa.Table:
        return _apply_stage(table, self.stage, self.name)


def read_unit_batch(batch: pa.Table, opts: ReadOptions):
    """Ray Data op: one row = one serialized ReadSpec → yields its unit tables."""
    for spec_json in batch["spec"].to_pylist():
        spec = ReadSpec(**json.loads(spec_json))
        for table in read_spec(spec, opts):
            yield table


def read_unit_files(batch: pa.Table):
    """Ray Data op: one row = one per-unit Parquet file from a previous segment."""
    for path in batch["path"].to_pylist():
        fs, p = fsutil.filesystem_for(path)
        yield pq.read_table(p, filesystem=fs)
