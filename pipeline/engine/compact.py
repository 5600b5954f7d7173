"""Fewer, larger shards: merge each partition's small per-unit shards once all units are written.

Every unit writes one shard per language it holds, so a run with many units and many
languages leaves many tiny files (137 shards for 3,242 documents at ``unit_mb=2``: most
languages hold a few documents per unit). Merging happens across units, after the last
unit is written, because a unit's writer cannot know what the other units hold.

Per ``data/<partition>=<value>/`` directory, shards are taken in path order and grouped
greedily until a group reaches ``target_bytes`` of Parquet (``output.unit_mb``); each group of
two or more becomes ``part-<first unit>_<n>.parquet`` (n shards merged). The plan is written first
(``_xc_work/compaction.json``) and every step is idempotent (merge unless the target exists,
move the shard records from the units to the merged file, delete the sources), so a run
killed half way finishes the same plan when resumed. The merges run as Ray tasks.
"""
from __future__ import annotations

import posixpath
from typing import Dict, List

import pyarrow as pa
import pyarrow.parquet as pq

from xcurate import fsutil
from xcurate.engine.manifest import PROGRESS_DIR, load_progress

PLAN_FILE = "compaction.json"


def plan_compaction(records: List[dict], target_bytes: int) -> List[dict]:
    """[{target, sources}] for each run of small shards of one partition worth merging."""
    by_dir: Dict[str, List[dict]] = {}
    for record in records:
        for shard in record["shards"]:
            by_dir.setdefault(posixpath.dirname(shard["path"]), []).append(shard)
    groups: List[dict] = []
    for directory, shards in sorted(by_dir.items()):
        run: List[dict] = []
        for shard in sorted(shards, key=lambda s: s["path"]):
            run.append(shard)
            if sum(s["bytes"] for s in run) >= target_bytes:
                _close_group(directory, run, groups)
                run = []
        _close_group(directory, run, groups)
    return groups


def _close_group(directory: str, run: List[dict], groups: List[dict]) -> None:
    if len(run) > 1:
        first = _unit_of(run[0]["path"])
        groups.append({"target": posixpath.join(directory, f"part-{first}_{len(run)}.parquet"),
                       "sources": [s["path"] for s in run]})


def _unit_of(shard_path: str) -> str:
    return posixpath.basename(shard_path)[len("part-"):-len(".parquet")]


def compact_shards(outdir: str, work_dir: str, target_bytes: int, compression: str) -> int:
    """Merge small shards (plan once, then idempotent steps); returns the number of merged files."""
    plan_path = fsutil.join(work_dir, PLAN_FILE)
    if fsutil.exists(plan_path):
        groups = fsutil.read_json(plan_path)["groups"]
    else:
        groups = plan_compaction(load_progress(outdir), target_bytes)
        fsutil.atomic_write_json({"target_bytes": target_bytes, "groups": groups}, plan_path)
    if not groups:
        return 0
    import ray
    merge = ray.remote(num_cpus=1)(_merge_group)
    merged = ray.get([merge.remote(outdir, g, compression) for g in groups])
    _move_shard_records(outdir, groups, merged)
    for group in groups:
        for source in group["sources"]:
            fs, p = fsutil.filesystem_for(_absolute(outdir, source))
            if fsutil.exists(_absolute(outdir, source)):
                fs.delete_file(p)
    return len(groups)


def _absolute(outdir: str, path: str) -> str:
    return path if "://" in path else fsutil.join(outdir, path)


def _merge_group(outdir: str, group: dict, compression: str) -> dict:
    target = _absolute(outdir, group["target"])
    if fsutil.exists(target):  # merged by an earlier, interrupted run; its sources may be gone
        fs, p = fsutil.filesystem_for(target)
        info = fs.get_file_info(p)
        rows = pq.ParquetFile(fs.open_input_file(p)).metadata.num_rows
        return {"path": group["target"], "rows": rows, "bytes": info.size, "sha256": fsutil.sha256_file(target)}
    tables = []
    for source in group["sources"]:
        fs, p = fsutil.filesystem_for(_absolute(outdir, source))
        tables.append(pq.read_table(fs.open_input_file(p)))
    # Units can differ in a column's inferred type (all-null in one unit): unify, don't fail.
    table = pa.concat_tables(tables, promote_options="permissive")
    return fsutil.atomic_write_parquet(table, target, outdir, compression).to_dict()


def _move_shard_records(outdir: str, groups: List[dict], merged: List[dict]) -> None:
    """The merged shard goes to the progress record of the unit of its first source."""
    owner = {g["sources"][0]: m for g, m in zip(groups, merged)}
    replaced = {s for g in groups for s in g["sources"]}
    for record in load_progress(outdir):
        shards = [s for s in record["shards"] if s["path"] not in replaced]
        shards += [owner[s["path"]] for s in record["shards"] if s["path"] in owner]
        if shards != record["shards"]:
            record["shards"] = sorted(shards, key=lambda s: s["path"])
            fsutil.atomic_write_json(record, fsutil.join(outdir, PROGRESS_DIR, f"{record['unit']}.json"))
