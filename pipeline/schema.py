"""Every reserved column name and small Arrow table helpers, in one place.

Columns starting with ``_xc_`` are the engine's bookkeeping: they travel with every row
between operators and are never written to ``data/`` or ``rejected/``.
"""
from __future__ import annotations

import pyarrow as pa

RESERVED_PREFIX = "_xc_"
UNIT = "_xc_unit"              # read unit a row came from (stable, resumable)
ROW = "_xc_row"                # row number within its unit
UNIT_ROWS = "_xc_unit_rows"    # rows in the unit (a writer checks it got the whole unit)
DROP_STAGE = "_xc_drop_stage"  # stage that dropped the row; null = alive
DROP_REASON = "_xc_drop_reason"
BOOKKEEPING = (UNIT, ROW, UNIT_ROWS, DROP_STAGE, DROP_REASON)
REASON = "reason"              # the drop reason as written in rejected/


def stage_seconds_column(stage_name: str) -> str:
    """Per-row seconds a stage spent (summed into the manifest's stage times)."""
    return f"{RESERVED_PREFIX}t_{stage_name}"


def stage_modified_column(stage_name: str) -> str:
    """Per-row flag: the stage changed the text of a row it kept (the manifest's ``modified``)."""
    return f"{RESERVED_PREFIX}m_{stage_name}"


def stage_counts_column(stage_name: str) -> str:
    """Per-row JSON counters a stage reports (e.g. PII found per kind and language; summed,
    nested dicts key by key, into the manifest's ``counts`` of the stage). Null = nothing."""
    return f"{RESERVED_PREFIX}c_{stage_name}"


def add_counts(total: dict, counts: dict) -> dict:
    """Sum nested dicts of counts into ``total`` (in place) and return it."""
    for key, value in counts.items():
        if isinstance(value, dict):
            add_counts(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def is_reserved(column: str) -> bool:
    return column.startswith(RESERVED_PREFIX)


def public_columns(table: pa.Table) -> pa.Table:
    """The table without bookkeeping columns (what users see)."""
    return table.select([n for n in table.column_names if not is_reserved(n)])


def with_columns(table: pa.Table, columns: dict) -> pa.Table:
    """Add or replace columns by name."""
    for name, values in columns.items():
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        idx = table.schema.get_field_index(name)
        table = table.set_column(idx, name, arr) if idx >= 0 else table.append_column(name, arr)
    return table


def with_columns_one(table: pa.Table, name: str, values) -> pa.Table:
    """Add or replace one column."""
    idx = table.schema.get_field_index(name)
    return table.set_column(idx, name, values) if idx >= 0 else table.append_column(name, values)
