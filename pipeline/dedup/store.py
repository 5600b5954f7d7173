"""Hash-partitioned Parquet intermediates and resumable phases of Ray tasks."""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xcurate import schema
from xcurate.dedup.signatures import fmix64
from xcurate import fsutil
from xcurate.engine.cluster import NodeDealer
from xcurate.engine.progress import Progress

# Test hook: the driver stops with InjectedCrash right after this phase completes, the way a
# killed driver would (used to test that a rerun continues and gives the same result).
CRASH_ENV = "XCURATE_DEDUP_CRASH_AFTER"
ROW_BITS = 32
ROW_MASK = (1 << ROW_BITS) - 1


class InjectedCrash(RuntimeError):
    pass


# ---------------------------------------------------------------------------- doc ids


def make_doc(unit: int, rows: np.ndarray) -> np.ndarray:
    return (np.int64(unit) << np.int64(ROW_BITS)) | rows.astype(np.int64)


def unit_of(doc: np.ndarray) -> np.ndarray:
    return (doc >> np.int64(ROW_BITS)).astype(np.int64)


def row_of(doc: np.ndarray) -> np.ndarray:
    return (doc & np.int64(ROW_MASK)).astype(np.int64)


def hash_partition(values: np.ndarray, num_parts: int) -> np.ndarray:
    """Partition of int64/uint64 keys (mixed first, so structured ids spread evenly)."""
    return (fmix64(values.view(np.uint64) if values.dtype == np.int64 else values) % np.uint64(num_parts)).astype(
        np.int64)


# ---------------------------------------------------------------------------- files


def part_dir(base: str, part: int) -> str:
    return fsutil.join(base, f"p={part:05d}")


def write_parts(table: pa.Table, parts: np.ndarray, base: str, writer: str) -> int:
    """Write the rows of ``table`` to ``base/p=<part>/<writer>.parquet``, one file per part."""
    if table.num_rows == 0:
        return 0
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    table = table.take(pa.array(order))
    bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(sorted_parts)]])
    for lo, hi in zip(starts, ends):
        path = fsutil.join(part_dir(base, int(sorted_parts[lo])), f"{writer}.parquet")
        fsutil.atomic_write_parquet(table.slice(lo, hi - lo), path, compression="lz4")
    return len(starts)


def list_files(directory: str) -> List[str]:
    fs, p = fsutil.filesystem_for(directory)
    infos = fs.get_file_info(pafs.FileSelector(p, allow_not_found=True))
    prefix = directory[: len(directory) - len(p)] if "://" in directory else ""
    return sorted(prefix + i.path for i in infos
                  if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
                  and not i.base_name.startswith("."))


def read_table(path: str, columns: Optional[Sequence[str]] = None) -> pa.Table:
    fs, p = fsutil.filesystem_for(path)
    return pq.read_table(p, columns=list(columns) if columns else None, filesystem=fs)


def read_part(base: str, part: int, columns: Optional[Sequence[str]] = None) -> Optional[pa.Table]:
    """All rows written to one partition, or None when nothing was written there."""
    files = list_files(part_dir(base, part))
    if not files:
        return None
    return pa.concat_tables([read_table(f, columns) for f in files])


def open_parquet(path: str) -> pq.ParquetFile:
    fs, p = fsutil.filesystem_for(path)
    return pq.ParquetFile(fs.open_input_file(p))


# ---------------------------------------------------------------------------- phases


def fingerprint(params: dict, stage_name: str, unit_files: Sequence[str]) -> str:
    """Names the intermediates of one configuration over one input."""
    import polars
    fs_infos = []
    for path in unit_files:
        fs, p = fsutil.filesystem_for(path)
        fs_infos.append((os.path.basename(p), fs.get_file_info(p).size))
    payload = json.dumps({"params": params, "stage": stage_name, "units": fs_infos,
                          "polars": polars.__version__, "format": 1}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def total_rows(unit_files: Sequence[str]) -> int:
    return sum(open_parquet(p).metadata.num_rows for p in unit_files)


def auto_partitions(rows_to_shuffle: int, rows_per_partition: int) -> int:
    import ray
    cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1
    return int(min(4096, max(2 * cpus, math.ceil(rows_to_shuffle / rows_per_partition))))


def check_columns(unit_files: Sequence[str], required: Sequence[str], stage_name: str) -> None:
    if not unit_files:
        return
    names = set(open_parquet(unit_files[0]).schema_arrow.names)
    missing = [c for c in required if c not in names]
    if missing:
        raise ValueError(f"stage {stage_name!r} needs columns {missing}; the input has {sorted(names)}")


def _on_node(fn: Callable, *args) -> Tuple[dict, str]:
    """``fn(*args)`` and the Ray node it ran on (the phase log counts tasks per node)."""
    import ray
    return fn(*args), ray.get_runtime_context().get_node_id()


class Phases:
    """Runs named phases of Ray tasks with per-task completion markers under ``root``; each phase
    reports its finished tasks as progress (``xcurate.engine.progress``), named ``label: phase``."""

    def __init__(self, root: str, num_cpus: float, label: str = "dedup"):
        self.root = root
        self.num_cpus = num_cpus
        self.label = label  # names the phases in progress lines
        self.log: Dict[str, Dict[str, float]] = {}

    def path(self, *parts: str) -> str:
        return fsutil.join(self.root, *parts)

    def run(self, phase: str, fn: Callable, tasks: Dict[str, Tuple], num_gpus: float = 0.0) -> Dict[str, dict]:
        import ray

        started = time.time()
        marker_dir = self.path("_phases", phase)
        results: Dict[str, dict] = {}
        remote = ray.remote(_on_node)
        options = {"num_cpus": self.num_cpus, "num_gpus": num_gpus, "max_retries": 2}
        refs, nodes, dealer = {}, {}, NodeDealer()
        for name, args in tasks.items():
            marker = fsutil.join(marker_dir, f"{name}.json")
            if fsutil.exists(marker):
                results[name] = fsutil.read_json(marker)
            else:
                refs[remote.options(**options, **dealer.next_options()).remote(fn, *args)] = name
        self.log[phase] = {"tasks": len(tasks), "ran": len(refs)}
        pending = list(refs)
        with Progress(f"{self.label}: {phase}", len(refs), what="tasks", brief_s=2.0) as progress:
            while pending:
                # collect whatever finished in the last moment (O(pending) per wait, not per task)
                ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0.2)
                for ref in ready:
                    name = refs[ref]
                    results[name], node = ray.get(ref)
                    nodes[node] = nodes.get(node, 0) + 1
                    fsutil.atomic_write_json(results[name], fsutil.join(marker_dir, f"{name}.json"))
                progress.update(len(ready))
        self.log[phase]["seconds"] = round(time.time() - started, 3)
        self.log[phase]["tasks_by_node"] = nodes
        fsutil.atomic_write_json(self.log, self.path("_phases", "log.json"))
        if os.environ.get(CRASH_ENV) == phase:
            raise InjectedCrash(f"injected crash after phase {phase!r}")
        return results


def input_columns(params) -> List[str]:
    """The document columns a dedup stage reads with these parameters (its stage contract)."""
    return ([params.text_column, params.id_column] + ([params.language_column] if params.scope == "language" else [])
            + ([params.quality_column] if params.keep == "highest_quality" else []))


def start_run(params, unit_files: Sequence[str], work_dir: str, stage_name: str, resources) -> Tuple[List[str], str, "Phases"]:
    """Check the columns a dedup stage needs and open its resumable phase directory."""
    unit_files = list(unit_files)
    check_columns(unit_files, [*input_columns(params), schema.DROP_STAGE, schema.DROP_REASON], stage_name)
    root = fsutil.join(work_dir, f"{stage_name}-{fingerprint(params.model_dump(), stage_name, unit_files)}")
    return unit_files, root, Phases(root, resources.num_cpus, stage_name)


def unit_task_names(unit_files: Sequence[str]) -> List[str]:
    return [f"u{i:06d}" for i in range(len(unit_files))]


def output_path(out_dir: str, unit_file: str) -> str:
    return fsutil.join(out_dir, unit_file.rstrip("/").rsplit("/", 1)[-1])


# ---------------------------------------------------------------------------- unit batches


def eligible_batches(path: str, columns, batch_rows: int):
    """(row offset, batch, indices of eligible rows) over a unit file, batch by batch."""
    pf = open_parquet(path)
    offset = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=list(columns) + [schema.DROP_STAGE]):
        eligible = np.flatnonzero(pc.is_null(batch.column(schema.DROP_STAGE)).to_numpy(zero_copy_only=False))
        yield offset, batch, eligible
        offset += batch.num_rows


def texts_of(batch: pa.RecordBatch, column: str, idx: np.ndarray):
    import polars as pl
    arr = batch.column(column).take(pa.array(idx))
    return pl.from_arrow(arr.cast(pa.large_string()))
