"""Keep-rule selection (one document per group) and the final per-unit write.

Rules, each a deterministic total order (ties broken by the next key, finally by the
document's position ``doc``):
* ``smallest_id``: the smallest ``id`` string;
* ``longest``: the longest text (characters), then smallest id;
* ``highest_quality``: the highest value of the quality column (null/NaN last), then smallest id.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xcurate import schema
from xcurate import fsutil
from xcurate.dedup.store import (hash_partition, open_parquet, output_path, read_part, row_of, unit_of,
                                  write_parts)

RANK_COLUMNS = ("id", "length", "quality")


def rank_attributes(path: str, rows: np.ndarray, rule: str, id_column: str, text_column: str,
                    quality_column: str) -> Dict[str, pa.Array]:
    """``id``/``length``/``quality`` of the given rows of a unit file (only what the rule needs)."""
    columns = [id_column]
    if rule == "longest":
        columns.append(text_column)
    if rule == "highest_quality":
        columns.append(quality_column)
    table = open_parquet(path).read(columns=columns).take(pa.array(rows))
    n = table.num_rows
    ids = table[id_column].cast(pa.string())
    length = (pc.utf8_length(table[text_column].fill_null("")).cast(pa.int64()) if rule == "longest"
              else pa.array(np.zeros(n, np.int64)))
    quality = (table[quality_column].cast(pa.float64()) if rule == "highest_quality"
               else pa.nulls(n, pa.float64()))
    return {"id": ids, "length": length, "quality": quality}


def choose_keepers(table: pa.Table, group_columns: Sequence[str], rule: str) -> pa.Table:
    """For groups of size > 1: (doc, kept_id, group_size, keep) of every member."""
    import polars as pl

    df = pl.from_arrow(table)
    if not isinstance(df, pl.DataFrame) or df.height == 0:
        return _empty_decisions()
    group = list(group_columns)
    df = df.with_columns(pl.len().over(group).alias("group_size")).filter(pl.col("group_size") > 1)
    df = df.with_columns(pl.col("quality").fill_nan(None))
    by = {"smallest_id": (["id", "doc"], [False, False]),
          "longest": (["length", "id", "doc"], [True, False, False]),
          "highest_quality": (["quality", "id", "doc"], [True, False, False])}[rule]
    if "priority" in df.columns:  # a smaller priority wins before the rule (semantic_dedup's prefer_languages)
        by = (["priority"] + by[0], [False] + by[1])
    df = df.sort(group + by[0], descending=[False] * len(group) + by[1], nulls_last=True)
    df = df.with_columns(pl.col("id").first().over(group).alias("kept_id"),
                         pl.col("doc").first().over(group).alias("kept_doc"))
    out = df.select(pl.col("doc"), pl.col("kept_id"), pl.col("group_size").cast(pl.Int64),
                    (pl.col("doc") == pl.col("kept_doc")).alias("keep"))
    return out.to_arrow()


def _empty_decisions() -> pa.Table:
    return pa.table({"doc": pa.array([], pa.int64()), "kept_id": pa.array([], pa.string()),
                     "group_size": pa.array([], pa.int64()), "keep": pa.array([], pa.bool_())})


def pick_task(part: int, in_base: str, out_base: str, group_columns: Sequence[str], rule: str) -> dict:
    """One partition of candidate rows -> decisions, partitioned by unit."""
    table = read_part(in_base, part)
    if table is None:
        return {"groups": 0, "dropped": 0}
    decisions = choose_keepers(table, group_columns, rule)
    doc = decisions["doc"].to_numpy()
    write_parts(decisions, unit_of(doc), out_base, f"p{part:05d}")
    keep = decisions["keep"].to_numpy(zero_copy_only=False)
    return {"groups": int(keep.sum()), "dropped": int((~keep).sum())}


def write_unit_task(unit: int, path: str, out_dir: str, decisions_base: str, stage_name: str,
                    reason: str, id_column: str, columns: Dict[str, str], singleton_cluster: bool) -> dict:
    """Write one unit with the stage's columns and drop marks (same rows, same order).

    ``columns`` names the output columns: ``kept_id`` (optional: id of the group's kept doc),
    ``size`` (group size) and ``duplicate_of`` (kept id, dropped rows only). With
    ``singleton_cluster`` every eligible row gets a group (itself, size 1, when ungrouped);
    otherwise only grouped rows get values.
    """
    out_path = output_path(out_dir, path)
    if fsutil.exists(out_path):
        return {"rows": -1, "dropped": -1, "skipped": True}
    table = open_parquet(path).read()
    n = table.num_rows
    eligible = pc.is_null(table[schema.DROP_STAGE]).to_numpy(zero_copy_only=False)
    ids = table[id_column].cast(pa.string()).to_numpy(zero_copy_only=False)
    kept_id = np.where(eligible, ids, None).astype(object) if singleton_cluster else np.full(n, None, object)
    size = np.where(eligible, 1, 0).astype(np.int64) if singleton_cluster else np.zeros(n, np.int64)
    size_valid = eligible.copy() if singleton_cluster else np.zeros(n, bool)
    duplicate_of = np.full(n, None, dtype=object)
    drop = np.zeros(n, dtype=bool)

    decisions = read_part(decisions_base, unit)
    if decisions is not None:
        rows = row_of(decisions["doc"].to_numpy())
        if not eligible[rows].all():
            raise RuntimeError(f"unit {path}: a decision names a row dropped earlier")
        kept_id[rows] = decisions["kept_id"].to_numpy(zero_copy_only=False)
        size[rows] = decisions["group_size"].to_numpy()
        size_valid[rows] = True
        dropped = ~decisions["keep"].to_numpy(zero_copy_only=False)
        drop[rows[dropped]] = True
        duplicate_of[rows[dropped]] = kept_id[rows[dropped]]

    stage_col = table[schema.DROP_STAGE].to_numpy(zero_copy_only=False).astype(object)
    reason_col = table[schema.DROP_REASON].to_numpy(zero_copy_only=False).astype(object)
    stage_col[drop] = stage_name
    reason_col[drop] = reason
    new = {schema.DROP_STAGE: pa.array(stage_col, pa.string()),
           schema.DROP_REASON: pa.array(reason_col, pa.string()),
           columns["size"]: pa.array(size, pa.int64(), mask=~size_valid),
           columns["duplicate_of"]: pa.array(duplicate_of, pa.string())}
    if columns.get("kept_id"):
        new[columns["kept_id"]] = pa.array(kept_id, pa.string())
    from xcurate.schema import with_columns
    table = with_columns(table, new)
    fsutil.atomic_write_parquet(table, out_path)
    return {"rows": n, "dropped": int(drop.sum()), "skipped": False}


def gather_attributes_task(unit: int, path: str, labels_base: str, out_base: str, num_parts: int,
                           rule: str, id_column: str, text_column: str, quality_column: str) -> dict:
    """Clustered docs of one unit -> (group, doc, id, length, quality) by cluster partition."""
    labels = read_part(labels_base, unit)
    if labels is None:
        return {"clustered": 0}
    doc = labels["node"].to_numpy()
    attrs = rank_attributes(path, row_of(doc), rule, id_column, text_column, quality_column)
    group = labels["root"].to_numpy()
    table = pa.table({"group": group, "doc": doc, **attrs})
    write_parts(table, hash_partition(group, num_parts), out_base, f"u{unit:06d}")
    return {"clustered": int(len(doc))}
