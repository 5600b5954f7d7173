"""The runner: the only code that knows Ray Data.

Execution model
---------------
* The driver plans read specs (``pipeline.io``) and never touches document data.
* Streaming stages run through ``ray.data`` ``map_batches`` on Arrow batches: stateless
  stages as tasks, model stages as actor pools (``setup`` once per actor). A stage sees only
  rows still alive; rows dropped earlier pass by untouched, carrying ``_xc_drop_stage`` and
  ``_xc_drop_reason``.
* Global stages (dedup) split the chain into segments: the rows of a segment are written per
  unit to ``_xc_work/``, the global stage reads those files and writes the same units with its
  decisions, and the next segment streams from there.
* The last operator writes each unit's shards (``data/<partition>=<v>/part-<unit>.parquet``,
  ``rejected/stage=<name>/part-<unit>.parquet``) on a worker, atomically, then a per-unit
  progress record (counts, seconds, shard checksums). A rerun skips units with a progress
  record, so it resumes and gives the same shards.
* The manifest is folded from the progress records; the runner checks the accounting
  invariants against the Parquet footers of what is on disk.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import fsutil
from pipeline.errors import UserError
from pipeline.config import ConfigError, LoadedConfig, ResolvedStage, load_config
from pipeline.io import READ_STAGE, InputError, ReadOptions, ReadSpec, plan_read_specs, read_spec
from ray.data import DataContext

from pipeline.report import write_report
from pipeline.manifest import build_manifest, check_invariants, print_summary

RUN_FILE = "_xc_run.json"
PROGRESS_DIR = "_xc_progress"
WORK_DIR = "_xc_work"


class RunError(UserError, RuntimeError):
    """The run cannot start or finish (bad output dir, broken invariant)."""


# ---------------------------------------------------------------------------------------
# worker-side callables

_STAGE_CACHE: Dict[str, object] = {}


def _apply_stage(table: pa.Table, stage, stage_name: str) -> pa.Table:
    """Run ``stage`` on the live rows of ``table``; mark its drops; time it."""
    t0 = time.perf_counter()
    alive_mask = pc.is_null(table["_xc_drop_stage"])
    alive = table.filter(alive_mask)
    dead = table.filter(pc.invert(alive_mask))
    if alive.num_rows:
        out = stage.process(alive)
        result = out.table
        if result.num_rows != alive.num_rows:
            raise RuntimeError(f"stage {stage_name!r} returned {result.num_rows} rows for {alive.num_rows}")
        if out.drop_reason is not None:
            reason = out.drop_reason if isinstance(out.drop_reason, pa.Array) else pa.array(out.drop_reason, pa.string())
            reason = reason.cast(pa.string())
            drop_stage = pc.if_else(pc.is_null(reason), pa.scalar(None, pa.string()), pa.scalar(stage_name))
            result = _set(result, "_xc_drop_stage", drop_stage)
            result = _set(result, "_xc_drop_reason", reason)
        table = pa.concat_tables([result, dead], promote_options="permissive") if dead.num_rows else result
    elapsed = time.perf_counter() - t0
    per_row = elapsed / max(table.num_rows, 1)
    return _set(table, f"_xc_t_{stage_name}", pa.array([per_row] * table.num_rows, pa.float64()))


def _set(table: pa.Table, name: str, values) -> pa.Table:
    idx = table.schema.get_field_index(name)
    return table.set_column(idx, name, values) if idx >= 0 else table.append_column(name, values)


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


class UnitWriter:
    """Final op: writes every unit in the batch to data/ and rejected/, then its progress record."""

    def __init__(self, outdir: str, stage_names: List[str], partition_by: str, keep_rejected: bool,
                 compression: str, done: Sequence[str] = ()):
        self.outdir, self.stage_names, self.partition_by = outdir, stage_names, partition_by
        self.keep_rejected, self.compression = keep_rejected, compression
        self.done = set(done)

    def __call__(self, table: pa.Table) -> pa.Table:
        records = []
        for unit_table in _split_units(table):
            unit = unit_table["_xc_unit"][0].as_py()
            if unit in self.done:
                continue  # written by an earlier run; its shards are final
            records.append(json.dumps(self._write_unit(unit, unit_table)))
        return pa.table({"progress": pa.array(records, pa.string())})

    def _write_unit(self, unit: str, table: pa.Table) -> dict:
        table = table.sort_by("_xc_row")
        alive_mask = pc.is_null(table["_xc_drop_stage"])
        kept, dropped = table.filter(alive_mask), table.filter(pc.invert(alive_mask))
        record = unit_progress(unit, table, kept, self.stage_names, self.partition_by)
        shards = []
        for value, part in _partitions(kept, self.partition_by):
            path = fsutil.join(self.outdir, "data", f"{self.partition_by}={value}", f"part-{unit}.parquet")
            part = _dictionary_partition_column(_public(part), self.partition_by)
            shards.append(fsutil.atomic_write_parquet(part, path, self.outdir, self.compression).to_dict())
        rejected = []
        if self.keep_rejected and dropped.num_rows:
            for stage in sorted(set(dropped["_xc_drop_stage"].to_pylist())):
                part = dropped.filter(pc.equal(dropped["_xc_drop_stage"], stage))
                part = _public(part.append_column("reason", part["_xc_drop_reason"]))
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
            unit = unit_table["_xc_unit"][0].as_py()
            path = fsutil.join(self.seg_dir, f"{unit}.parquet")
            fsutil.atomic_write_parquet(unit_table.sort_by("_xc_row"), path, compression="zstd")
            paths.append(path)
        return pa.table({"progress": pa.array(paths, pa.string())})


def _split_units(table: pa.Table) -> List[pa.Table]:
    if table.num_rows == 0:
        return []
    units = pc.unique(table["_xc_unit"]).to_pylist()
    parts = [table] if len(units) == 1 else [table.filter(pc.equal(table["_xc_unit"], u)) for u in units]
    for part in parts:
        expected = part["_xc_unit_rows"][0].as_py()
        if part.num_rows != expected:
            # Units are never split across batches (blocks are kept whole); if one is, writing
            # it would lose rows, so stop loudly instead.
            raise RuntimeError(f"unit {part['_xc_unit'][0]} arrived with {part.num_rows} of {expected} rows")
    return parts


def _public(table: pa.Table) -> pa.Table:
    return table.select([n for n in table.column_names if not n.startswith("_xc_")])


def _dictionary_partition_column(table: pa.Table, column: str) -> pa.Table:
    """Store the partition column dictionary-encoded, the type hive discovery infers for the
    directory key: then pyarrow/Ray (which merge both), polars and `datasets` (which reads
    only the files) all see one consistent `language` column."""
    idx = table.schema.get_field_index(column)
    if idx < 0:
        return table
    values = pc.cast(table[column], pa.string())
    return table.set_column(idx, column, pc.dictionary_encode(values).cast(pa.dictionary(pa.int32(), pa.string())))


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
    stages = table["_xc_drop_stage"].to_pylist()
    reasons = table["_xc_drop_reason"].to_pylist()
    for s, r in zip(stages, reasons):
        if s is not None:
            dropped.setdefault(s, {})
            dropped[s][r or "unspecified"] = dropped[s].get(r or "unspecified", 0) + 1
    seconds = {name: float(pc.sum(table[f"_xc_t_{name}"]).as_py() or 0.0)
               for name in stage_names if f"_xc_t_{name}" in table.column_names}
    languages: Dict[str, Dict[str, int]] = {}
    if kept.num_rows:
        per_key = pa.table({"key": _partition_keys(kept, partition_by), "chars": pc.utf8_length(kept["text"])})
        for row in per_key.group_by("key").aggregate([("chars", "sum"), ("chars", "count")]).to_pylist():
            languages[row["key"]] = {"documents": row["chars_count"], "chars": row["chars_sum"] or 0}
    return {"unit": unit, "rows": table.num_rows, "kept": kept.num_rows, "dropped": dropped,
            "seconds": seconds, "languages": languages}


# ---------------------------------------------------------------------------------------
# driver

def init_ray(address: Optional[str] = None, cfg: Optional[LoadedConfig] = None):
    """Connect to ``address`` / ``ray.address`` / $RAY_ADDRESS, else start an embedded local Ray."""
    import ray
    if ray.is_initialized():
        return ray
    address = address or (cfg.model.ray.address if cfg else None) or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=True)
    else:
        # address="local": always an embedded Ray of our own, never one found on the machine.
        ray.init(address="local", num_cpus=cfg.model.ray.num_cpus if cfg else None, include_dashboard=False,
                 ignore_reinit_error=True, log_to_driver=True,
                 runtime_env={"env_vars": {"PYTHONPATH": _repo_root()}})
    return ray


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data_context(cfg: LoadedConfig):
    from ray.data import DataContext
    ctx = DataContext.get_current()
    # Units (≤ unit_mb of text) must stay whole blocks; raise the split threshold well above them.
    ctx.target_max_block_size = max(ctx.target_max_block_size or 0, int(cfg.output.unit_mb * 4) << 20)
    ctx.enable_progress_bars = cfg.model.ray.progress_bars
    return ctx


def prepare_outdir(outdir: str, cfg: LoadedConfig, overwrite: bool) -> bool:
    """Create/verify OUTDIR. Returns True when resuming a run of the same config."""
    run_file = fsutil.join(outdir, RUN_FILE)
    info = {"config_hash": cfg.config_hash(), "config": cfg.raw}
    if fsutil.exists(run_file):
        previous = fsutil.read_json(run_file)
        if previous.get("config_hash") == info["config_hash"] and not overwrite:
            return True
        if not overwrite:
            raise RunError(f"{outdir} holds output of another config (hash {previous.get('config_hash')}, "
                           f"this one is {info['config_hash']}); use --overwrite to replace it")
        _remove_tree(outdir)
    elif fsutil.exists(outdir) and _non_empty(outdir):
        if not overwrite:
            raise RunError(f"{outdir} is not empty and was not written by xcurate; use --overwrite")
        _remove_tree(outdir)
    fsutil.makedirs(outdir)
    fsutil.atomic_write_json(info, run_file)
    return False


def _non_empty(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path)) if "://" not in path else True


def _remove_tree(path: str) -> None:
    fs, p = fsutil.filesystem_for(path)
    fs.delete_dir_contents(p, missing_dir_ok=True)


def _segments(stages: List[ResolvedStage]):
    """Split the stage list at global stages: [(streaming stages, global stage or None)]."""
    segs, current = [], []
    for st in stages:
        if st.is_global:
            segs.append((current, st))
            current = []
        else:
            current.append(st)
    segs.append((current, None))
    return segs


def fit_actor_cpus(pools: List[Dict[str, float]], cpus: float) -> None:
    """Scale the CPU reservations of actor pools (dicts with num_cpus, size) so one CPU stays free.

    Actor pools hold their CPUs for the whole run; when they hold them all, Ray Data cannot
    schedule the read/write tasks that feed and drain them and the run stalls (seen on 2-CPU
    machines). The reservation is only a scheduling share: an actor still uses what it needs.
    """
    budget = max(cpus - 1.0, 0.5)
    held = sum(p["num_cpus"] * p["size"] for p in pools)
    if held > budget:
        for p in pools:
            p["num_cpus"] = round(max(0.05, p["num_cpus"] * budget / held), 3)


def _actor_pools(streaming: List[ResolvedStage], cpus: int, gpus: int = 0) -> Dict[str, Dict[str, float]]:
    pools = {}
    for st in streaming:
        if st.cls.uses_model:
            res = st.resources
            size = res.concurrency or max(1, min(cpus, int(cpus // max(res.num_cpus, 1e-9))))
            num_gpus = res.num_gpus
            if st.cfg.resources is None and getattr(st.cls, "gpu_capable", False) and gpus >= 1:
                num_gpus, size = 1.0, min(size, gpus)
            pools[st.name] = {"num_cpus": res.num_cpus, "size": size, "num_gpus": num_gpus}
    fit_actor_cpus(list(pools.values()), cpus)
    return pools


def _map_stage(ds, stage: ResolvedStage, pools: Dict[str, Dict[str, float]]):
    from ray.data import ActorPoolStrategy
    res = stage.resources
    common = dict(batch_size=None, batch_format="pyarrow", zero_copy_batch=True, num_cpus=res.num_cpus)
    if res.num_gpus:
        common["num_gpus"] = res.num_gpus
    if stage.cls.uses_model:
        pool = pools[stage.name]
        common["num_cpus"] = pool["num_cpus"]
        if pool["num_gpus"]:
            common["num_gpus"] = pool["num_gpus"]
        return ds.map_batches(StageActor, fn_constructor_args=(stage.cls, stage.params, stage.name),
                              compute=ActorPoolStrategy(min_size=1, max_size=int(pool["size"])), **common)
    if res.concurrency:
        common["concurrency"] = res.concurrency
    return ds.map_batches(StageTask(stage), **common)


def _source_dataset(ray, specs: List[ReadSpec], unit_files: Optional[List[str]], opts: ReadOptions):
    if unit_files is None:
        rows = [{"spec": json.dumps(asdict(s))} for s in specs]
        return ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).map_batches(
            read_unit_batch, fn_args=(opts,), batch_size=1, batch_format="pyarrow")
    rows = [{"path": p} for p in unit_files]
    return ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).map_batches(
        read_unit_files, batch_size=1, batch_format="pyarrow")


def _drain(ds) -> List[str]:
    return [row["progress"] for row in ds.iter_rows()]


def _read_options(cfg: LoadedConfig) -> ReadOptions:
    i, o = cfg.input, cfg.output
    return ReadOptions(text_field=i.text_field, id_field=i.id_field, keep_metadata=i.keep_metadata, columns=dict(i.columns),
                       unit_rows=o.unit_rows, unit_bytes=int(o.unit_mb * (1 << 20)), max_doc_chars=o.max_doc_chars)


def _list_done(outdir: str) -> List[str]:
    d = fsutil.join(outdir, PROGRESS_DIR)
    if not fsutil.exists(d):
        return []
    fs, p = fsutil.filesystem_for(d)
    import pyarrow.fs as pafs
    return sorted(i.base_name[:-5] for i in fs.get_file_info(pafs.FileSelector(p)) if i.base_name.endswith(".json"))


def _list_parquet(d: str) -> List[str]:
    if not fsutil.exists(d):
        return []
    import pyarrow.fs as pafs
    fs, p = fsutil.filesystem_for(d)
    prefix = d[: len(d) - len(p)] if "://" in d else ""
    return sorted(prefix + i.path for i in fs.get_file_info(pafs.FileSelector(p))
                  if i.base_name.endswith(".parquet") and not i.base_name.startswith(".tmp-"))


def run_pipeline(config, outdir: str, address: Optional[str] = None, overrides: Sequence[str] = (),
                 overwrite: bool = False, quiet: bool = False) -> dict:
    """Run a pipeline config (path or dict) into ``outdir``; returns the manifest."""
    started = time.time()
    try:
        cfg = load_config(config, overrides)
        opts = _read_options(cfg)
        specs = plan_read_specs(cfg.input, opts)
        resuming = prepare_outdir(outdir, cfg, overwrite)
    except (ConfigError, InputError, RunError) as e:
        raise UserError(str(e)) from None

    ray = init_ray(address, cfg)
    _data_context(cfg)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    gpus = int(ray.cluster_resources().get("GPU", 0))
    stage_names = [s.name for s in cfg.stages]
    done_units = _list_done(outdir) if resuming else []

    unit_files: Optional[List[str]] = None
    segments = _segments(cfg.stages)
    for seg_index, (streaming, global_stage) in enumerate(segments):
        ds = _source_dataset(ray, specs, unit_files, opts)
        pools = _actor_pools(streaming, cpus, gpus)
        # Without actor pools the whole segment fuses into one task operator; Ray Data's per-
        # operator resource reservation then only throttles it (on 2 CPUs it ran one task at a
        # time: 8 one-second tasks took 5.5 s instead of 4.1 s). With actor pools it stays on,
        # so that the pools and the tasks feeding them cannot starve each other.
        DataContext.get_current().op_resource_reservation_enabled = bool(pools)
        for st in streaming:
            ds = _map_stage(ds, st, pools)
        if global_stage is None:
            writer = UnitWriter(outdir, stage_names, cfg.output.partition_by, cfg.output.keep_rejected,
                                cfg.output.compression, done_units)
            ds = ds.map_batches(writer, batch_size=None, batch_format="pyarrow", zero_copy_batch=True)
            _drain(ds)
            break
        seg_dir = fsutil.join(outdir, WORK_DIR, f"seg{seg_index}")
        marker = fsutil.join(seg_dir, "_SUCCESS")
        if not fsutil.exists(marker):
            _drain(ds.map_batches(SegmentWriter(seg_dir), batch_size=None, batch_format="pyarrow"))
            fsutil.atomic_write_json({"units": len(_list_parquet(seg_dir))}, marker)
        out_dir = fsutil.join(outdir, WORK_DIR, f"seg{seg_index}_{global_stage.name}")
        g_marker = fsutil.join(out_dir, "_SUCCESS")
        if not fsutil.exists(g_marker):
            t0 = time.time()
            seg_files = _list_parquet(seg_dir)
            global_stage.build().run(seg_files, out_dir, fsutil.join(outdir, WORK_DIR, f"g{seg_index}_tmp"),
                                     global_stage.name, global_stage.resources)
            fsutil.atomic_write_json({"units": len(seg_files), "seconds": time.time() - t0}, g_marker)
        unit_files = _list_parquet(out_dir)
        _check_global_output(global_stage.name, _list_parquet(seg_dir), unit_files)

    global_seconds = {}
    for seg_index, (_, g) in enumerate(segments):
        if g is not None:
            m = fsutil.read_json(fsutil.join(outdir, WORK_DIR, f"seg{seg_index}_{g.name}", "_SUCCESS"))
            global_seconds[g.name] = m.get("seconds", 0.0)
    manifest = build_manifest(outdir, cfg, stage_names, started, time.time(), global_seconds)
    check_invariants(outdir, manifest)
    fsutil.atomic_write_json(manifest, fsutil.join(outdir, "manifest.json"))
    write_report(outdir, manifest)
    if not quiet:
        print_summary(manifest, file=sys.stdout)
    return manifest


def _check_global_output(name: str, inputs: List[str], outputs: List[str]) -> None:
    base = lambda paths: sorted(p.rsplit("/", 1)[-1] for p in paths)  # noqa: E731
    if base(inputs) != base(outputs):
        raise RunError(f"global stage {name!r} wrote {len(outputs)} unit files for {len(inputs)} inputs")
