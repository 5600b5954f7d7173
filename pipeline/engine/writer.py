"""The last operator: each unit's shards to ``data/`` and ``rejected/``, then its progress record.

Kept rows go to ``data/<partition>=<value>/part-<unit>.parquet`` (only those flagged in one of
``output.write_rows_with``, with only ``output.write_columns``, when set), dropped rows to
``rejected/stage=<name>/part-<unit>.parquet`` with their reason; each file is written
atomically on the worker, and the unit's progress record (counts, seconds, shard checksums)
last, so a rerun skips finished units and gives the same shards.

Every row gets ``n_chars``; the partition column stays in the files as a plain string (see
``_string_partition_column`` for the readers measured); columns a stage fills only on the rows
it drops (``Stage.drop_only_columns``) go to ``rejected/`` only. Small shards are merged
across units afterwards (``xcurate.engine.compact``).
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from xcurate import fsutil, schema
from xcurate.engine.io import READ_STAGE, quarantined_files

PROGRESS_DIR = "_xc_progress"


class UnitWriter:
    """Final op: writes every unit in the batch to data/ and rejected/, then its progress record."""

    def __init__(self, outdir: str, stage_names: List[str], partition_by: str, keep_rejected: bool,
                 compression: str, done: Sequence[str] = (), rows_with: Sequence[str] = (),
                 columns: Optional[Sequence[str]] = None, drop_only_columns: Sequence[str] = ()):
        self.outdir, self.stage_names, self.partition_by = outdir, stage_names, partition_by
        self.keep_rejected, self.compression = keep_rejected, compression
        self.done = set(done)
        self.rows_with, self.columns = tuple(rows_with), columns  # output.write_rows_with / write_columns
        self.drop_only_columns = tuple(drop_only_columns)  # null on every kept row: rejected/ only

    def __call__(self, table: pa.Table) -> pa.Table:
        records = []
        for unit_table in _split_units(table):
            unit = unit_table[schema.UNIT][0].as_py()
            if unit in self.done:
                continue  # written by an earlier run; its shards are final
            records.append(json.dumps(self._write_unit(unit, unit_table)))
        return pa.table({"progress": pa.array(records, pa.string())})

    def _write_unit(self, unit: str, table: pa.Table) -> dict:
        table = with_n_chars(table.sort_by(schema.ROW))
        alive_mask = pc.is_null(table[schema.DROP_STAGE])
        kept, dropped = table.filter(alive_mask), table.filter(pc.invert(alive_mask))
        record = unit_progress(unit, table, kept, self.stage_names, self.partition_by)
        written = kept
        if self.rows_with:
            written = _rows_with(kept, self.rows_with)
            record["written"] = written.num_rows
        record["licenses"] = license_counts(written)
        shards = []
        for value, part in _partitions(written, self.partition_by):
            path = fsutil.join(self.outdir, "data", f"{self.partition_by}={value}", f"part-{unit}.parquet")
            part = schema.public_columns(part.drop_columns(
                [c for c in self.drop_only_columns if c in part.column_names]))
            part = _select_columns(part, self.columns, self.partition_by)
            part = _string_partition_column(part, self.partition_by)
            shards.append(fsutil.atomic_write_parquet(part, path, self.outdir, self.compression).to_dict())
        rejected = []
        if self.keep_rejected and dropped.num_rows:
            for stage in sorted(set(dropped[schema.DROP_STAGE].to_pylist())):
                part = dropped.filter(pc.equal(dropped[schema.DROP_STAGE], stage))
                part = schema.public_columns(part.append_column("reason", part[schema.DROP_REASON]))
                path = fsutil.join(self.outdir, "rejected", f"stage={stage}", f"part-{unit}.parquet")
                rejected.append(fsutil.atomic_write_parquet(part, path, self.outdir, self.compression).to_dict())
        record.update(shards=shards, rejected_shards=rejected)
        fsutil.atomic_write_json(record, fsutil.join(self.outdir, PROGRESS_DIR, f"{unit}.json"))
        return record


class SegmentWriter:
    """Writes whole units (all rows, bookkeeping included) for a global stage to read."""

    def __init__(self, seg_dir: str):
        self.seg_dir = seg_dir

    def __call__(self, table: pa.Table) -> pa.Table:
        paths = []
        for unit_table in _split_units(table):
            unit = unit_table[schema.UNIT][0].as_py()
            path = fsutil.join(self.seg_dir, f"{unit}.parquet")
            fsutil.atomic_write_parquet(unit_table.sort_by(schema.ROW), path, compression="zstd")
            paths.append(path)
        return pa.table({"progress": pa.array(paths, pa.string())})


def drop_only_columns(stages) -> List[str]:
    """Columns that a stage fills only on the rows it drops (``Stage.drop_only_columns``):
    always null in data/, so written to rejected/ only."""
    return sorted({c for st in stages for c in getattr(st.build(), "drop_only_columns", ())})


def _rows_with(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """The rows where at least one of ``columns`` is not null (a column absent from the table flags none)."""
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for name in columns:
        if name in table.column_names:
            mask = pc.or_(mask, pc.is_valid(table[name]))
    return table.filter(mask)


def _select_columns(table: pa.Table, columns: Optional[Sequence[str]], partition_by: str) -> pa.Table:
    if columns is None:
        return table
    wanted = list(dict.fromkeys([*columns, partition_by]))
    return table.select([c for c in wanted if c in table.column_names])


def _split_units(table: pa.Table) -> List[pa.Table]:
    if table.num_rows == 0:
        return []
    units = pc.unique(table[schema.UNIT]).to_pylist()
    parts = [table] if len(units) == 1 else [table.filter(pc.equal(table[schema.UNIT], u)) for u in units]
    for part in parts:
        expected = part[schema.UNIT_ROWS][0].as_py()
        if part.num_rows != expected:
            # Units are never split across batches (blocks are kept whole); if one is, writing
            # it would lose rows, so stop loudly instead.
            raise RuntimeError(f"unit {part[schema.UNIT][0]} arrived with {part.num_rows} of {expected} rows")
    return parts


def _string_partition_column(table: pa.Table, column: str) -> pa.Table:
    """Keep the partition column in the file as plain ``string``, the type
    ``pyarrow.dataset(partitioning="hive")``, DuckDB, polars and Ray give the directory key.

    Measured (pyarrow 26, DuckDB 2.0, polars 2.1, datasets 5.2, Ray 2.60), three languages:
    string in file and path: all of those read it, only ``pq.read_table(dir)`` (which
    infers a dictionary key) needs ``partitioning=None``; dictionary in the file (the old
    layout): ``pyarrow.dataset`` hive fails to merge; path only: ``datasets`` (which reads
    only the files) has no language column, nor has a file read on its own."""
    idx = table.schema.get_field_index(column)
    if idx < 0:
        return table
    return table.set_column(idx, column, pc.cast(table[column], pa.string()))


def with_n_chars(table: pa.Table) -> pa.Table:
    """``n_chars``: Unicode code points of the text as written (what trainers budget by)."""
    return schema.with_columns(table, {"n_chars": pc.cast(pc.utf8_length(table["text"]), pa.int64())})


def license_counts(table: pa.Table) -> Dict[str, int]:
    """Documents per license, from a ``license`` column or the ``license`` field of ``metadata``
    (a regex over the JSON text: no per-row parse), for the dataset card."""
    if "license" in table.column_names:
        values = pc.cast(table["license"], pa.string())
    elif "metadata" in table.column_names:
        found = pc.extract_regex(table["metadata"], r'"license":\s*"(?P<license>[^"]+)"')
        values = pc.struct_field(found, "license")
    else:
        return {}
    counts = pc.value_counts(pc.drop_null(values)).to_pylist()
    return {c["values"]: c["counts"] for c in counts}


def _partition_value(v) -> str:
    s = "und" if v is None or v == "" else str(v)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)


def _partition_keys(table: pa.Table, column: str) -> pa.Array:
    if column not in table.column_names:
        return pa.array(["und"] * table.num_rows, pa.string())
    raw = pc.cast(table[column], pa.string())
    uniques = pc.unique(raw).to_pylist()
    clean = {v: _partition_value(v) for v in uniques}
    if all(k == v for k, v in clean.items() if k is not None) and None not in clean:
        return raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
    return pa.array([clean[v] for v in raw.to_pylist()], pa.string())


def _partitions(table: pa.Table, column: str):
    """(key, rows) per partition, rows in input order: one sort, then contiguous slices."""
    if table.num_rows == 0:
        return []
    keys = _partition_keys(table, column)
    order = pc.sort_indices(pa.table({"k": keys, "i": pa.array(range(table.num_rows), pa.int64())}),
                            sort_keys=[("k", "ascending"), ("i", "ascending")])
    table, keys = table.take(order), keys.take(order)
    out, start = [], 0
    for run in pc.run_end_encode(keys).run_ends.to_pylist():
        out.append((keys[start].as_py(), table.slice(start, run - start)))
        start = run
    return out


def unit_progress(unit: str, table: pa.Table, kept: pa.Table, stage_names: List[str], partition_by: str) -> dict:
    """Per-unit counts by stage and reason, stage seconds and per-language totals."""
    dropped: Dict[str, Dict[str, int]] = {name: {} for name in [READ_STAGE] + stage_names}
    stages = table[schema.DROP_STAGE].to_pylist()
    reasons = table[schema.DROP_REASON].to_pylist()
    for s, r in zip(stages, reasons):
        if s is not None:
            dropped.setdefault(s, {})
            dropped[s][r or "unspecified"] = dropped[s].get(r or "unspecified", 0) + 1
    seconds = {name: float(pc.sum(table[schema.stage_seconds_column(name)]).as_py() or 0.0)
               for name in stage_names if schema.stage_seconds_column(name) in table.column_names}
    modified = {name: int(pc.sum(pc.cast(table[schema.stage_modified_column(name)], pa.int64())).as_py() or 0)
                for name in stage_names if schema.stage_modified_column(name) in table.column_names}
    counts: Dict[str, dict] = {}
    for name in stage_names:
        if schema.stage_counts_column(name) in table.column_names:
            for value in table[schema.stage_counts_column(name)].drop_null().to_pylist():
                schema.add_counts(counts.setdefault(name, {}), orjson.loads(value))
    languages: Dict[str, Dict[str, int]] = {}
    if kept.num_rows:
        per_key = pa.table({"key": _partition_keys(kept, partition_by), "chars": pc.utf8_length(kept["text"])})
        for row in per_key.group_by("key").aggregate([("chars", "sum"), ("chars", "count")]).to_pylist():
            languages[row["key"]] = {"documents": row["chars_count"], "chars": row["chars_sum"] or 0}
    return {"unit": unit, "rows": table.num_rows, "kept": kept.num_rows, "dropped": dropped,
            "seconds": seconds, "modified": modified, "languages": languages, "quarantine": quarantined_files(table),
            "counts": counts}
