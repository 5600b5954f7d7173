"""The runner: the only code that knows Ray Data.

Execution model
---------------
* The driver plans read specs (``xcurate.engine.io``) and never touches document data.
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
import sys
import time
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence

from ray.data import DataContext

from xcurate import fsutil
from xcurate.engine.cluster import actor_pools, data_context, init_ray
from xcurate.engine.config import ConfigError, LoadedConfig, ResolvedStage, load_config
from xcurate.engine.io import InputError, ReadOptions, ReadSpec, plan_read_specs
from xcurate.engine.manifest import build_manifest, check_invariants, print_summary
from xcurate.engine.operators import StageActor, StageTask, read_unit_batch, read_unit_files
from xcurate.engine.outdir import WORK_DIR, prepare_outdir
from xcurate.engine.report import write_report
from xcurate.engine.writer import PROGRESS_DIR, SegmentWriter, UnitWriter
from xcurate.errors import RunError, UserError


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
    data_context(cfg)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    gpus = int(ray.cluster_resources().get("GPU", 0))
    stage_names = [s.name for s in cfg.stages]
    done_units = _list_done(outdir) if resuming else []

    unit_files: Optional[List[str]] = None
    segments = _segments(cfg.stages)
    for seg_index, (streaming, global_stage) in enumerate(segments):
        ds = _source_dataset(ray, specs, unit_files, opts)
        pools = actor_pools(streaming, cpus, gpus)
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
