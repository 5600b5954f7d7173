"""Exact-duplicate removal as phases of Ray tasks.

1. ``hash`` (per unit): digest of each eligible row's normalised text, with the keep-rule
   attributes -> ``groups_in/`` partitioned by digest;
2. ``pick`` (per partition): keep rule per digest group -> ``decisions/`` by unit;
3. ``write`` (per unit): output unit files.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from xcurate import fsutil
from xcurate.dedup.digests import normalize_exact, text_digests
from xcurate.dedup.select import pick_task, rank_attributes, write_unit_task
from xcurate.dedup.store import (eligible_batches, texts_of, auto_partitions, make_doc, start_run, total_rows,
                                  unit_task_names, write_parts)

ROWS_PER_PARTITION = 2_000_000


def hash_task(unit: int, path: str, params, out_base: str, num_parts: int) -> dict:

    columns = [params.text_column] + ([params.language_column] if params.scope == "language" else [])
    his, los, rows_all = [], [], []
    eligible_total = 0
    for offset, batch, idx in eligible_batches(path, columns, params.batch_rows):
        eligible_total += len(idx)
        if not len(idx):
            continue
        normalized = normalize_exact(texts_of(batch, params.text_column, idx), params).to_list()
        scopes = (batch.column(params.language_column).take(pa.array(idx)).to_pylist()
                  if params.scope == "language" else None)
        hi, lo, non_empty = text_digests(normalized, scopes)
        his.append(hi[non_empty])
        los.append(lo[non_empty])
        rows_all.append(offset + idx[non_empty])
    rows = np.concatenate(rows_all) if rows_all else np.empty(0, np.int64)
    if len(rows):
        attrs = rank_attributes(path, rows, params.keep, params.id_column, params.text_column,
                                params.quality_column)
        hi, lo = np.concatenate(his), np.concatenate(los)
        table = pa.table({"k1": hi, "k2": lo, "doc": make_doc(unit, rows), **attrs})
        write_parts(table, (hi % np.uint64(num_parts)).astype(np.int64), out_base, f"u{unit:06d}")
    return {"eligible": eligible_total, "hashed": int(len(rows))}


def run_exact_dedup(params, unit_files, out_dir, work_dir, stage_name, resources) -> dict:
    unit_files, root, phases = start_run(params, unit_files, work_dir, stage_name, resources)
    num_parts = params.num_partitions or auto_partitions(total_rows(unit_files), ROWS_PER_PARTITION)
    names = unit_task_names(unit_files)
    units = list(enumerate(unit_files))
    p = phases.path

    phases.run("hash", hash_task, {n: (u, path, params, p("groups_in"), num_parts)
                                   for n, (u, path) in zip(names, units)})
    picked = phases.run("pick", pick_task, {f"p{i:05d}": (i, p("groups_in"), p("decisions"), ["k1", "k2"],
                                                          params.keep) for i in range(num_parts)})
    columns = {"kept_id": None, "size": "exact_group_size", "duplicate_of": "exact_duplicate_of"}
    written = phases.run("write", write_unit_task,
                         {n: (u, path, out_dir, p("decisions"), stage_name, "exact_duplicate", params.id_column,
                              columns, False) for n, (u, path) in zip(names, units)})
    summary = {"partitions": num_parts, "groups": sum(r["groups"] for r in picked.values()),
               "dropped": sum(r["dropped"] for r in picked.values()),
               "units_written": sum(not r.get("skipped") for r in written.values()), "phases": phases.log}
    fsutil.atomic_write_json(summary, p("summary.json"))
    return summary
