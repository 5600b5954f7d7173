"""The runner: the only code that knows Ray Data.

Execution model
---------------
* The driver plans read specs (``xcurate.engine.io``) and never touches document data. Once
  Ray is up the input is re-cut into ≥ 4 units per CPU (``xcurate.engine.cluster.plan_unit_bytes``);
  the unit size is recorded in ``_xc_work/units.json`` so that a resume cuts the same units.
* Streaming stages run through ``ray.data`` ``map_batches`` on Arrow batches: stateless
  stages as tasks, model stages as actor pools (``setup`` once per actor). A stage sees only
  rows still alive; rows dropped earlier pass by untouched, carrying ``_xc_drop_stage`` and
  ``_xc_drop_reason``.
* Global stages (dedup) split the chain into segments: the rows of a segment are written per
  unit to ``_xc_work/``, the global stage reads those files and writes the same units with its
  decisions, and the next segment streams from there.
* The last operator writes each unit's shards (``data/<partition>=<v>/part-<unit>.parquet``,
  ``rejected/stage=<name>/part-<unit>.parquet``) on a worker, atomically, then a per-unit
  progress record (counts, seconds, shard checksums). A rerun filters units with a progress
  record out right after reading, so it runs no stage on them and gives the same shards.
* Tasks and actor pools together never ask for more CPUs than the cluster has
  (``xcurate.engine.cluster.task_cpus``/``fit_actor_cpus``): every config runs on one CPU.
* The driver reports each finished unit as progress (``xcurate.engine.progress``).
* Small shards of each partition are then merged across units (``xcurate.engine.compact``).
* The manifest is folded from the progress records; the runner checks the accounting
  invariants against the Parquet footers of what is on disk, then writes the report, the
  dataset card (``README.md``, ``xcurate.engine.card``) and the manifest last:
  ``manifest.json`` is the commit marker (``xcurate.engine.outdir``).
* OUTDIR is claimed first (ownership, input fingerprint, one-writer lock); ``_xc_work`` is
  removed after success unless ``keep_intermediates``.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, replace
from typing import Dict, List, Optional, Sequence

from ray.data import DataContext

from xcurate import fsutil
from xcurate.engine.cluster import actor_pools, data_context, init_ray, plan_unit_bytes, stop_embedded_ray, task_cpus
from xcurate.engine.console import log_dir_for, ray_output_to
from xcurate.engine.config import ConfigError, LoadedConfig, ResolvedStage, load_config, plan_input
from xcurate.engine.io import InputError, ReadOptions, ReadSpec, plan_read_specs
from xcurate.engine.live_counts import counts_text, start_counter
from xcurate.engine.live_counts import reset as reset_counts
from xcurate.engine.manifest import MANIFEST_FILE, build_manifest, check_invariants, files_below, print_summary
from xcurate.engine.operators import StageActor, StageTask, read_unit_batch, read_unit_files
from xcurate.engine.outdir import (WORK_DIR, OutdirClaim, claim_outdir, input_fingerprint, input_listing,
                                   remove_intermediates)
from xcurate.engine.progress import Progress
from xcurate.engine.report import write_report
from xcurate.engine.writer import PROGRESS_DIR, SegmentWriter, UnitWriter, drop_only_columns
from xcurate.engine.card import write_card
from xcurate.engine.compact import compact_shards
from xcurate.errors import RunError, UserError

log = logging.getLogger(__name__)
UNITS_FILE = "units.json"  # in _xc_work: the unit size a run was planned with, so a resume cuts the same units


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


def _map_stage(ds, stage: ResolvedStage, pools: Dict[str, Dict[str, float]], max_task_cpus: float):
    from ray.data import ActorPoolStrategy
    res = stage.resources
    common = dict(batch_size=None, batch_format="pyarrow", zero_copy_batch=True,
                  num_cpus=min(res.num_cpus, max_task_cpus))
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


def _source_dataset(ray, specs: List[ReadSpec], unit_files: Optional[List[str]], opts: ReadOptions,
                    num_cpus: float, skip_units: Sequence[str] = ()):
    if unit_files is None:
        rows = [{"spec": json.dumps(asdict(s))} for s in specs]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).map_batches(
            read_unit_batch, fn_args=(opts,), batch_size=1, batch_format="pyarrow", num_cpus=num_cpus)
        if skip_units:  # a resume: units written by an earlier run are read again but go through no stage
            ds = ds.map_batches(_without_units, fn_args=(sorted(skip_units),), batch_size=None,
                                batch_format="pyarrow", zero_copy_batch=True, num_cpus=num_cpus)
        return ds
    rows = [{"path": p} for p in unit_files]
    return ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).map_batches(
        read_unit_files, batch_size=1, batch_format="pyarrow", num_cpus=num_cpus)


def _without_units(table, units: List[str]):
    import pyarrow as pa
    import pyarrow.compute as pc
    from xcurate import schema
    return table.filter(pc.invert(pc.is_in(table[schema.UNIT], value_set=pa.array(units, pa.string()))))


def _drain(ds, progress: Progress, unit_mb: Dict[str, float]) -> None:
    """Run ``ds`` to the end; each output row reports a finished unit (a progress record or a unit file)."""
    import pyarrow.parquet as pq
    for row in ds.iter_rows():
        value = row["progress"]
        if value.startswith("{"):
            record = json.loads(value)
            unit, docs = record["unit"], record["rows"]
        else:
            unit = value.rsplit("/", 1)[-1][: -len(".parquet")]
            fs, p = fsutil.filesystem_for(value)
            docs = pq.ParquetFile(fs.open_input_file(p)).metadata.num_rows
        progress.update(1, docs=docs, mb=unit_mb.get(unit, 0.0))


def _unit_megabytes(specs: List[ReadSpec]) -> Dict[str, float]:
    """Input MB per unit id, for progress: a spec's bytes count at its first unit."""
    sizes: Dict[str, int] = {}
    per_path: Dict[str, List[ReadSpec]] = {}
    for s in specs:
        per_path.setdefault(s.path, []).append(s)
    out: Dict[str, float] = {}
    for path, group in per_path.items():
        size = _file_size(path, sizes)
        for s in group:
            if s.format == "jsonl" and s.end >= 0:
                nbytes = s.end - s.start
            elif s.format == "jsonl":
                nbytes = max(size - s.start, 0)
            else:
                nbytes = size / len(group)
            out[s.unit_id(0)] = nbytes / (1 << 20)
    return out


def _file_size(path: str, cache: Dict[str, int]) -> int:
    if path not in cache:
        try:
            fs, p = fsutil.filesystem_for(path)
            cache[path] = fs.get_file_info(p).size or 0
        except (OSError, ValueError):  # a hub dataset or a directory: size unknown
            cache[path] = 0
    return cache[path]


def _list_done(outdir: str) -> List[str]:
    """Units with a progress record (a ``.tmp-*`` file is a record a kill cut short)."""
    return [rel[:-5] for rel in files_below(fsutil.join(outdir, PROGRESS_DIR))
            if rel.endswith(".json") and "/" not in rel and not rel.startswith(".tmp-")]


def _list_parquet(d: str) -> List[str]:
    if not fsutil.exists(d):
        return []
    import pyarrow.fs as pafs
    fs, p = fsutil.filesystem_for(d)
    prefix = d[: len(d) - len(p)] if "://" in d else ""
    return sorted(prefix + i.path for i in fs.get_file_info(pafs.FileSelector(p))
                  if i.base_name.endswith(".parquet") and not i.base_name.startswith(".tmp-"))


def run_pipeline(config, outdir: str, address: Optional[str] = None, overrides: Sequence[str] = (),
                 overwrite: bool = False, quiet: bool = False, keep_intermediates: bool = False,
                 claim: Optional[OutdirClaim] = None, stop_ray: bool = False) -> dict:
    """Run a pipeline config (path or dict) into ``outdir``; returns the manifest.

    ``claim``: OUTDIR already claimed by the caller (a workflow such as synth); else the
    run claims it as ``xcurate run`` and releases it at the end. ``quiet``: no summary table.
    ``stop_ray``: stop the local Ray the run started before the summary (the CLI: the last line
    printed is then the last thing the command does).
    Ray's own output goes to ``OUTDIR/logs/ray.log`` (``xcurate.engine.console``); progress and
    messages go to the ``xcurate`` logger, silent unless the CLI (or the caller) sets it up.
    """
    started = time.time()
    if "://" not in outdir:  # workers write too, and their working directory need not be ours
        outdir = os.path.abspath(outdir)
    try:
        cfg = load_config(config, overrides)
        opts, specs = plan_input(cfg)
        files = _input_files(specs)
        own_claim = claim is None
        if own_claim:
            fingerprint = input_fingerprint(cfg.config_hash(), files)
            claim = claim_outdir(outdir, command="run", inputs=list(cfg.input.paths) + files,
                                 fingerprint=fingerprint, overwrite=overwrite, about={"config": cfg.raw})
        listing = fingerprint["inputs"] if own_claim else input_listing(files)
    except (ConfigError, InputError, RunError) as e:
        raise UserError(str(e)) from None
    try:
        with ray_output_to(log_dir_for(outdir)) as ray_log:
            manifest = _run_claimed(cfg, specs, opts, outdir, address, claim.resuming, started, listing)
            if stop_ray:
                stop_embedded_ray()
        if not keep_intermediates:
            remove_intermediates(outdir)
    finally:
        if own_claim:
            claim.release()
    if not quiet:
        print_summary(manifest, file=sys.stdout)
        log_outputs(outdir, ray_log)
    return manifest


def log_outputs(outdir: str, ray_log: Optional[str]) -> None:
    for what, name in (("manifest", MANIFEST_FILE), ("report", "report.html"), ("dataset card", "README.md")):
        path = fsutil.join(outdir, name)
        if fsutil.exists(path):
            log.info("%-13s %s", what, path)
    if ray_log:
        log.info("%-13s %s", "Ray log", ray_log)


def _input_files(specs: List[ReadSpec]) -> List[str]:
    return sorted({s.path for s in specs if s.format != "hf_hub"})


def _run_claimed(cfg: LoadedConfig, specs: List[ReadSpec], opts: ReadOptions, outdir: str, address: Optional[str],
                 resuming: bool, started: float, listing: List[dict]) -> dict:
    manifest_path = fsutil.join(outdir, MANIFEST_FILE)
    if resuming and fsutil.exists(manifest_path):
        manifest = fsutil.read_json(manifest_path)
        check_invariants(outdir, manifest)  # a finished run: verify it, nothing to redo
        log.info("%s already holds a finished run of this config; verified it, nothing to recompute "
                 "(--overwrite to run again)", outdir)
        return manifest
    ray = init_ray(address, cfg)
    data_context(cfg)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    gpus = int(ray.cluster_resources().get("GPU", 0))
    specs, opts = _plan_units(cfg, specs, opts, outdir, cpus)
    unit_mb = _unit_megabytes(specs)
    stage_names = [s.name for s in cfg.stages]
    done_units = _list_done(outdir) if resuming else []
    log.info("%s (%.1f MB of input, units ≤ %.1f MB) on %s%s", _units(len(specs)), sum(unit_mb.values()),
             opts.unit_bytes / (1 << 20), _plural(cpus, "CPU"), f", {_plural(gpus, 'GPU')}" if gpus else "")

    unit_files: Optional[List[str]] = None
    segments = _segments(cfg.stages)
    counter = start_counter()  # held until the run ends: the actor lives as long as this handle
    for seg_index, (streaming, global_stage) in enumerate(segments):
        pools = actor_pools(streaming, cpus, gpus)
        max_task_cpus = task_cpus(cpus, bool(pools))
        last = global_stage is None
        skip = sorted(done_units) if last and unit_files is None else []
        if last and unit_files is not None:
            done = set(done_units)
            unit_files = [f for f in unit_files if f.rsplit("/", 1)[-1][: -len(".parquet")] not in done]
        if last and done_units:
            total = len(specs) if unit_files is None else len(unit_files) + len(done_units)
            log.info("resuming: %d of %d units done", len(done_units), total)
        if last and unit_files == []:
            break  # every unit was written before the interruption; only the manifest is missing
        ds = _source_dataset(ray, specs, unit_files, opts, max_task_cpus, skip)
        # Without actor pools the whole segment fuses into one task operator; Ray Data's per-
        # operator resource reservation then only throttles it (on 2 CPUs it ran one task at a
        # time: 8 one-second tasks took 5.5 s instead of 4.1 s). With actor pools it stays on,
        # so that the pools and the tasks feeding them cannot starve each other.
        DataContext.get_current().op_resource_reservation_enabled = bool(pools)
        for st in streaming:
            ds = _map_stage(ds, st, pools, max_task_cpus)
        phase = _phase_label(seg_index, segments)
        detail = _stage_counts(counter, streaming)
        todo = len(unit_files) if unit_files is not None else len(specs) - len(set(skip) & set(unit_mb))
        if global_stage is None:
            writer = UnitWriter(outdir, stage_names, cfg.output.partition_by, cfg.output.keep_rejected,
                                cfg.output.compression, done_units, cfg.output.write_rows_with,
                                cfg.output.write_columns, drop_only_columns=drop_only_columns(cfg.stages))
            ds = ds.map_batches(writer, batch_size=None, batch_format="pyarrow", zero_copy_batch=True,
                                num_cpus=max_task_cpus)
            with Progress(phase, todo, total_mb=_todo_mb(unit_mb, skip), detail=detail) as progress:
                _drain(ds, progress, unit_mb)
            break
        if not streaming and unit_files is not None:
            # Two global stages in a row: the second reads the units the first wrote (a pass of its
            # own would only copy every unit once more).
            seg_files = unit_files
            log.info("%s: no stage in between; %s reads the %s %s wrote", phase, global_stage.name,
                     _units(len(unit_files)), segments[seg_index - 1][1].name)
        else:
            seg_files = _write_segment(ds, outdir, seg_index, max_task_cpus, phase, todo, unit_mb, detail)
        out_dir = fsutil.join(outdir, WORK_DIR, f"seg{seg_index}_{global_stage.name}")
        g_marker = fsutil.join(out_dir, "_SUCCESS")
        if not fsutil.exists(g_marker):
            t0 = time.time()
            log.info("%s: started on %s", global_stage.name, _units(len(seg_files)))
            global_stage.build().run(seg_files, out_dir, fsutil.join(outdir, WORK_DIR, f"g{seg_index}_tmp"),
                                     global_stage.name, global_stage.resources)
            fsutil.atomic_write_json({"units": len(seg_files), "seconds": time.time() - t0}, g_marker)
            log.info("%s: done in %.1f s", global_stage.name, time.time() - t0)
        unit_files = _list_parquet(out_dir)
        _check_global_output(global_stage.name, seg_files, unit_files)

    compact_shards(outdir, fsutil.join(outdir, WORK_DIR), int(cfg.output.unit_mb * (1 << 20)), cfg.output.compression)
    global_seconds = {}
    for seg_index, (_, g) in enumerate(segments):
        if g is not None:
            m = fsutil.read_json(fsutil.join(outdir, WORK_DIR, f"seg{seg_index}_{g.name}", "_SUCCESS"))
            global_seconds[g.name] = m.get("seconds", 0.0)
    manifest = build_manifest(outdir, cfg, stage_names, started, time.time(), global_seconds, listing)
    check_invariants(outdir, manifest)
    write_report(outdir, manifest)
    write_card(outdir, manifest, cfg.raw.get("stages", []), cfg.output.partition_by)
    fsutil.atomic_write_json(manifest, manifest_path)  # last: the commit marker
    return manifest


def _write_segment(ds, outdir: str, seg_index: int, max_task_cpus: float, phase: str, todo: int,
                   unit_mb: Dict[str, float], detail=None) -> List[str]:
    """Run a segment's streaming stages and write its units for the global stage after it (once)."""
    seg_dir = fsutil.join(outdir, WORK_DIR, f"seg{seg_index}")
    marker = fsutil.join(seg_dir, "_SUCCESS")
    if not fsutil.exists(marker):
        ds = ds.map_batches(SegmentWriter(seg_dir), batch_size=None, batch_format="pyarrow", num_cpus=max_task_cpus)
        with Progress(phase, todo, total_mb=sum(unit_mb.values()), detail=detail) as progress:
            _drain(ds, progress, unit_mb)
        fsutil.atomic_write_json({"units": len(_list_parquet(seg_dir))}, marker)
    return _list_parquet(seg_dir)


def _phase_label(index: int, segments) -> str:
    """``[2/3] exact_dedup → minhash_dedup``: where a pass reads from, its stages, where it writes to."""
    streaming, global_stage = segments[index]
    source = "input" if index == 0 else segments[index - 1][1].name
    sink = global_stage.name if global_stage is not None else "output"
    return f"[{index + 1}/{len(segments)}] " + " → ".join([source, *(st.name for st in streaming), sink])


def _stage_counts(counter, streaming: Sequence[ResolvedStage]):
    """The progress detail of a pass: documents through each of its stages so far (live_counts)."""
    if not streaming:
        return None
    reset_counts(counter)
    names = [st.name for st in streaming]
    return lambda: counts_text(counter, names)


def _plural(n, noun: str) -> str:
    return f"{n:g} {noun}" if n == 1 else f"{n:g} {noun}s"


def _units(n: int) -> str:
    return _plural(n, "unit")


def _todo_mb(unit_mb: Dict[str, float], skip: Sequence[str]) -> float:
    return sum(unit_mb.values()) - sum(unit_mb.get(u, 0.0) for u in skip)


def _plan_units(cfg: LoadedConfig, specs: List[ReadSpec], opts: ReadOptions, outdir: str, cpus: int):
    """Re-cut the input into enough units for ``cpus``; a resume keeps the unit size recorded by the first run."""
    record = fsutil.join(outdir, WORK_DIR, UNITS_FILE)
    if fsutil.exists(record):
        unit_bytes = fsutil.read_json(record)["unit_bytes"]
    else:
        sizes: Dict[str, int] = {}
        input_bytes = sum(_file_size(p, sizes) for p in {s.path for s in specs})
        unit_bytes = plan_unit_bytes(input_bytes, cpus, cfg.output.unit_mb)
        fsutil.atomic_write_json({"unit_bytes": unit_bytes, "cpus": cpus}, record)
    if unit_bytes == opts.unit_bytes:
        return specs, opts
    opts = replace(opts, unit_bytes=unit_bytes)
    try:
        return plan_read_specs(cfg.input, opts), opts
    except InputError as e:  # the input changed between the two plans
        raise UserError(str(e)) from None


def _check_global_output(name: str, inputs: List[str], outputs: List[str]) -> None:
    base = lambda paths: sorted(p.rsplit("/", 1)[-1] for p in paths)  # noqa: E731
    if base(inputs) != base(outputs):
        raise RunError(f"global stage {name!r} wrote {len(outputs)} unit files for {len(inputs)} inputs")
