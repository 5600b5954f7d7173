"""``xcurate synth CONFIG -o OUTDIR``: translation-based synthetic instruction data.

Two kinds of tasks (x-LLaMA style):

* ``translation``: instruction examples built from parallel text, both directions, with
  templates from ``configs/templates`` (choice deterministic from ``seed``, recorded);
* ``instructions``: English instruction data (Alpaca or chat) translated into each target
  language with an MT backend, in the configured variants.

How it runs: the inputs are expanded into example rows on Ray (one task per input file) and
written under ``OUTDIR/_xc_work/synth-<hash>/examples``; then the ordinary pipeline runner
(``xcurate.engine.runner.run_pipeline``) processes them with the stages ``synth_unpack`` →
``mt_translate`` (actor pool, GPUs when present) → ``synth_qc`` → ``exact_dedup`` →
``minhash_dedup`` → any ``post_stages`` (e.g. ``decontaminate``). Output, rejected files,
resume and the manifest are the runner's; the manifest gets a ``synth`` section with the
per-task input counts.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from typing import Any, Dict, List, Literal, Optional, Union

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xcurate import fsutil
from xcurate.synth.io import BitextInput, InputFormatError, InstructionInput, detect_format, iter_bitext, \
    iter_instructions
from xcurate.synth.tasks import VARIANTS

EXAMPLE_ROWS_PER_FILE = 50_000
_STRING_FIELDS = ("id", "text", "source_id", "source", "src_lang", "tgt_lang", "task_type", "variant",
                  "instruction", "input", "output", "template_id", "backend", "model", "_src_instruction",
                  "_src_input", "_src_output", "_src_messages", "_qc_source", "_qc_target", "reject")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TranslationTask(_Strict):
    type: Literal["translation"] = "translation"
    name: Optional[str] = None
    input: BitextInput
    directions: Literal["both", "forward", "reverse"] = "both"
    languages: Optional[List[str]] = Field(None, description="keep pairs with a side in these languages")
    max_pairs_per_file: Optional[int] = Field(None, ge=1)
    max_chars: int = Field(4000, ge=1, description="longer pairs are quarantined (too_long)")


class InstructionTask(_Strict):
    type: Literal["instructions"] = "instructions"
    name: Optional[str] = None
    input: InstructionInput
    target_languages: List[str] = Field(..., min_length=1)
    variants: List[Literal[VARIANTS]] = Field(default_factory=lambda: ["all_target"], min_length=1)
    max_records_per_file: Optional[int] = Field(None, ge=1)
    max_chars: int = Field(20_000, ge=1, description="longer records are quarantined (too_long)")


Task = Union[TranslationTask, InstructionTask]


class SynthOutput(_Strict):
    unit_rows: int = Field(2000, ge=1, description="examples per work unit (the grain of parallel MT)")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    keep_rejected: bool = True


class DedupConfig(_Strict):
    exact: bool = True
    near: bool = True
    scope: Literal["global", "language"] = "language"
    near_params: Dict[str, Any] = Field(default_factory=dict, description="minhash_dedup params")


class SynthConfig(_Strict):
    seed: int = 0
    tasks: List[Task] = Field(..., min_length=1)
    mt: Optional[Dict[str, Any]] = Field(None, description="MT backend (type: transformers | openai)")
    templates_dir: Optional[str] = None
    languages_table: Optional[str] = None
    target_language_template_rate: float = Field(0.0, ge=0, le=1)
    qc: Dict[str, Any] = Field(default_factory=dict, description="synth_qc params")
    qc_resources: Dict[str, Any] = Field(default_factory=lambda: {"num_cpus": 0.5, "concurrency": 1})
    dedup: DedupConfig = DedupConfig()
    post_stages: List[Dict[str, Any]] = Field(default_factory=list, description="more runner stages")
    output: SynthOutput = SynthOutput()
    ray: Dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _mt_when_needed(self):
        if any(t.type == "instructions" for t in self.tasks) and self.mt is None:
            raise ValueError("instruction tasks need an `mt` backend (type: transformers | openai)")
        return self


# ---------------------------------------------------------------------------------------
# config

def load_synth_config(source: Union[str, dict], overrides=()) -> tuple:
    """(SynthConfig, raw dict, base dir); relative paths in the file are resolved against its folder."""
    from xcurate.errors import UserError
    from xcurate.engine.config import ConfigError, apply_override, format_validation_error, read_yaml

    try:
        raw = copy.deepcopy(source) if isinstance(source, dict) else read_yaml(source)
        for ov in overrides or ():
            apply_override(raw, ov)
    except ConfigError as e:
        raise UserError(str(e)) from None
    name = source if isinstance(source, str) else "<config>"
    try:
        cfg = SynthConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(format_validation_error(e, name)) from None
    return cfg, raw, name


def _resolve(cfg: SynthConfig):
    """Language table, templates and backend config, checked on the driver (clear errors, before Ray)."""
    from xcurate.errors import UserError
    from xcurate.mt.languages import LanguageTable, UnsupportedLanguageError
    from xcurate.synth.tasks import TemplateError, TemplateLibrary

    try:
        table = LanguageTable.load(cfg.languages_table)
        library = TemplateLibrary.load(cfg.templates_dir, table)
        backend_cfg = _backend_config(cfg.mt) if cfg.mt is not None else None
        supported = _backend_languages(backend_cfg, table) if backend_cfg is not None else None
        for i, task in enumerate(cfg.tasks):
            where = f"tasks[{i}]"
            for code in [task.input.src_lang, task.input.tgt_lang] if task.type == "translation" else []:
                if code:
                    table.resolve(code, what=f"{where}.input")
            if task.type == "translation" and task.languages:
                for code in task.languages:
                    table.resolve(code, what=f"{where}.languages")
            if task.type == "instructions":
                table.resolve(task.input.lang, supported, what=f"MT model of {where} (source)")
                for code in task.target_languages:
                    table.resolve(code, supported, what=f"MT model of {where}.target_languages")
    except (UnsupportedLanguageError, TemplateError, ValidationError, ValueError, OSError) as e:
        raise UserError(str(e)) from None
    return table, library, backend_cfg


def _backend_config(raw: Dict[str, Any]):
    from xcurate.mt.hf_backend import HFBackendConfig
    from xcurate.mt.http_backend import HttpBackendConfig
    kind = raw.get("type")
    if kind == "transformers":
        return HFBackendConfig.model_validate(raw)
    if kind == "openai":
        return HttpBackendConfig.model_validate(raw)
    raise ValueError(f"mt.type must be 'transformers' or 'openai', not {kind!r}")


def _backend_languages(backend_cfg, table) -> Optional[List[str]]:
    if backend_cfg.type != "transformers":
        return None
    from xcurate.mt.hf_backend import HFSeq2SeqBackend
    return HFSeq2SeqBackend(backend_cfg).supported_languages(table)


def synth_hash(raw: dict) -> str:
    relevant = {k: v for k, v in raw.items() if k != "ray"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pipeline_config(cfg: SynthConfig, backend_cfg, examples_dir: str, has_gpus: bool, cpus: float = 2) -> dict:
    """The runner config that processes the generated examples."""
    stages: List[dict] = [{"type": "synth_unpack", "params": {"languages_table": cfg.languages_table}}]
    mt_res = _mt_resources(backend_cfg, has_gpus) if backend_cfg is not None else None
    qc_res = dict(cfg.qc_resources)
    post = _post_stages(cfg.post_stages)
    actor_res = [r for r in (mt_res, qc_res) if r is not None] + [
        st["resources"] for st in post if "resources" in st]
    _fit_actor_cpus(actor_res, cpus)
    if backend_cfg is not None:
        stages.append({"type": "mt_translate",
                       "params": {"backend": backend_cfg.model_dump(mode="json"),
                                  "languages_table": cfg.languages_table},
                       "resources": mt_res})
    stages.append({"type": "synth_qc", "params": {"languages_table": cfg.languages_table, **cfg.qc},
                   "resources": qc_res})
    if cfg.dedup.exact:
        stages.append({"type": "exact_dedup", "params": {"scope": cfg.dedup.scope}})
    if cfg.dedup.near:
        stages.append({"type": "minhash_dedup", "params": {"scope": cfg.dedup.scope, **cfg.dedup.near_params}})
    stages.extend(post)
    return {
        "input": {"paths": [examples_dir], "format": "parquet", "text_field": "text", "id_field": "id"},
        "output": {"unit_rows": cfg.output.unit_rows, "compression": cfg.output.compression,
                   "keep_rejected": cfg.output.keep_rejected, "partition_by": "language"},
        "ray": {k: v for k, v in cfg.ray.items() if k in ("num_cpus", "progress_bars", "address")},
        "stages": stages,
    }


def _post_stages(post_stages: List[Dict[str, Any]]) -> List[dict]:
    """Copies of the extra stages; actor stages get an explicit pool size so that CPUs can be budgeted."""
    from xcurate.engine.registry import get_stage_class
    out = []
    for st in copy.deepcopy(post_stages):
        try:
            cls = get_stage_class(st.get("type", ""))
        except KeyError:
            out.append(st)  # the runner's config check reports it
            continue
        if cls.kind() == "actor":
            res = dict(cls.default_resources.model_dump(), **(st.get("resources") or {}))
            res["concurrency"] = res.get("concurrency") or 1
            st["resources"] = res
        out.append(st)
    return out


def _mt_resources(backend_cfg, has_gpus: bool) -> dict:
    if backend_cfg.type == "openai":  # I/O bound: threads inside the actor do the waiting
        return {"num_cpus": 0.25, "concurrency": backend_cfg.concurrency}
    gpus = backend_cfg.num_gpus if backend_cfg.num_gpus is not None else (1.0 if has_gpus else 0.0)
    return {"num_cpus": backend_cfg.num_cpus, "num_gpus": gpus, "concurrency": backend_cfg.concurrency}


def _fit_actor_cpus(resources: List[dict], cpus: float) -> None:
    """Budget the actor pools' CPU reservations (see xcurate.engine.cluster.fit_actor_cpus)."""
    from xcurate.engine.cluster import fit_actor_cpus
    pools = [{"num_cpus": r.get("num_cpus", 1.0), "size": r.get("concurrency") or 1} for r in resources]
    fit_actor_cpus(pools, cpus)
    for r, p in zip(resources, pools):
        r["num_cpus"] = p["num_cpus"]


# ---------------------------------------------------------------------------------------
# generation (Ray tasks, one per input file)

def generate_file(task_json: str, task_index: int, path: str, path2: Optional[str], out_prefix: str,
                  common: dict) -> dict:
    """Expand one input file into example rows; write them as Parquet; return counts."""
    from xcurate.mt.languages import LanguageTable
    from xcurate.synth.tasks import TemplateLibrary

    table = LanguageTable.load(common["languages_table"])
    library = TemplateLibrary.load(common["templates_dir"], table)
    raw_task = json.loads(task_json)
    task = TranslationTask.model_validate(raw_task) if raw_task["type"] == "translation" else \
        InstructionTask.model_validate(raw_task)
    rows_iter = _translation_rows(task, path, path2, table, library, common) if task.type == "translation" \
        else _instruction_rows(task, path, table, library, common)
    counts = {"task": task_index, "file": path, "records": 0, "examples": 0, "rejected_records": 0, "files": []}
    buf: List[dict] = []
    for n_records, rows in rows_iter:
        counts["records"] += n_records
        for r in rows:
            if r.get("reject"):
                counts["rejected_records"] += 1
            else:
                counts["examples"] += 1
        buf.extend(rows)
        if len(buf) >= EXAMPLE_ROWS_PER_FILE:
            counts["files"].append(_write_rows(buf, f"{out_prefix}-{len(counts['files']):04d}.parquet"))
            buf = []
    if buf or not counts["files"]:
        counts["files"].append(_write_rows(buf, f"{out_prefix}-{len(counts['files']):04d}.parquet"))
    return counts


def _write_rows(rows: List[dict], path: str) -> str:
    cols = {f: pa.array([r.get(f) for r in rows], pa.string()) for f in _STRING_FIELDS}
    cols["line"] = pa.array([r.get("line") for r in rows], pa.int64())
    fsutil.atomic_write_parquet(pa.table(cols), path)
    return path


def _reject(rec: dict, reason: str, task_type: str) -> dict:
    return {"id": f"rejected:{task_type}:{rec['id']}", "text": "", "source_id": rec["id"], "source": rec["source"],
            "line": rec.get("line"), "task_type": task_type, "reject": reason}


def _translation_rows(task: TranslationTask, path, path2, table, library, common):
    from xcurate.synth.tasks import translation_examples

    wanted = {table.resolve(c).corpus_code() for c in task.languages} if task.languages else None
    kept = 0
    for pair in iter_bitext(task.input, path, path2):
        if task.max_pairs_per_file is not None and kept >= task.max_pairs_per_file:
            return
        if pair["drop_reason"]:
            yield 1, [_reject(pair, pair["drop_reason"], "translation")]
            continue
        src, tgt = table.get(pair["src_lang"]), table.get(pair["tgt_lang"])
        if wanted is not None and (src is None or src.corpus_code() not in wanted) and \
                (tgt is None or tgt.corpus_code() not in wanted):
            continue  # not selected (filtered by configuration, not a rejection)
        if src is None or tgt is None:
            bad = pair["src_lang"] if src is None else pair["tgt_lang"]
            yield 1, [_reject(pair, f"unsupported_language:{bad}", "translation")]
            continue
        if len(pair["src_text"]) + len(pair["tgt_text"]) > task.max_chars:
            yield 1, [_reject(pair, "too_long", "translation")]
            continue
        kept += 1
        pair = dict(pair, src_lang=src, tgt_lang=tgt, src_code=table.corpus_code(pair["src_lang"]),
                    tgt_code=table.corpus_code(pair["tgt_lang"]))
        rows = translation_examples(pair, task.directions, library, common["seed"],
                                    common["target_language_template_rate"])
        for r in rows:
            r["text"] = r["_qc_target"]
            r["line"] = pair["line"]
        yield 1, rows


def _instruction_rows(task: InstructionTask, path, table, library, common):
    from xcurate.synth.tasks import instruction_examples

    src = table.resolve(task.input.lang)
    targets = [table.resolve(c) for c in task.target_languages]
    targets = [t for t in targets if t.corpus_code() != src.corpus_code()]
    kept = 0
    for rec in iter_instructions(task.input, path):
        if task.max_records_per_file is not None and kept >= task.max_records_per_file:
            return
        if rec["drop_reason"]:
            yield 1, [_reject(rec, rec["drop_reason"], "translated_instruction")]
            continue
        size = sum(len(rec[f]) for f in ("instruction", "input", "output")) + sum(
            len(m["content"]) for m in rec["messages"] or [])
        if size > task.max_chars:
            yield 1, [_reject(rec, "too_long", "translated_instruction")]
            continue
        kept += 1
        rows = instruction_examples(rec, src, targets, task.variants, library, common["seed"])
        for r in rows:
            r["text"] = rec["instruction"]
            r["line"] = rec["line"]
        yield 1, rows


def _task_files(task) -> List[tuple]:
    from xcurate.engine.io import InputError, expand_paths
    from xcurate.errors import UserError
    try:
        if task.type == "translation" and task.input.format == "moses":
            src, tgt = expand_paths(task.input.paths[:1]), expand_paths(task.input.paths[1:])
            return [(src[0], tgt[0])]
        files = expand_paths(task.input.paths)
        for f in files:  # fail early on names whose format cannot be told
            if task.input.format == "auto":
                detect_format(f)
        return [(f, None) for f in files]
    except (InputError, InputFormatError) as e:
        raise UserError(str(e)) from None


def generate_examples(cfg: SynthConfig, examples_dir: str) -> List[dict]:
    """Run the generation tasks on Ray; returns per-file counts (small dicts, never the data)."""
    import ray
    from xcurate.errors import UserError

    marker = fsutil.join(examples_dir, "_SUCCESS")
    if fsutil.exists(marker):
        return fsutil.read_json(marker)["files"]
    common = {"seed": cfg.seed, "templates_dir": cfg.templates_dir, "languages_table": cfg.languages_table,
              "target_language_template_rate": cfg.target_language_template_rate}
    remote = ray.remote(num_cpus=1)(generate_file)
    refs = []
    for ti, task in enumerate(cfg.tasks):
        task_json = task.model_dump_json(by_alias=True)
        for fi, (path, path2) in enumerate(_task_files(task)):
            prefix = fsutil.join(examples_dir, f"t{ti:03d}-f{fi:05d}")
            refs.append(remote.remote(task_json, ti, path, path2, prefix, common))
    try:
        counts = ray.get(refs)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, (InputFormatError, ValueError, OSError)):
            raise UserError(str(cause)) from None
        raise
    fsutil.atomic_write_json({"files": counts}, marker)
    return counts


# ---------------------------------------------------------------------------------------
# entry point

def run_synth(config: Union[str, dict], outdir: str, address: Optional[str] = None, overrides=(),
              overwrite: bool = False, quiet: bool = False) -> dict:
    """Generate, translate, check and deduplicate; returns the manifest (also in OUTDIR/manifest.json)."""
    from xcurate.errors import UserError
    from xcurate.engine.config import ConfigError, load_config
    from xcurate.engine.cluster import init_ray
    from xcurate.engine.console import log_dir_for, ray_output_to
    from xcurate.engine.outdir import MANIFEST_FILE, claim_outdir, input_fingerprint
    from xcurate.engine.runner import log_outputs, run_pipeline
    from xcurate.errors import RunError

    cfg, raw, _ = load_synth_config(config, overrides)
    _, _, backend_cfg = _resolve(cfg)
    examples_dir = fsutil.join(outdir if "://" in outdir else os.path.abspath(outdir), "_xc_work",
                               f"synth-{synth_hash(raw)}", "examples")
    sources = sorted({p for task in cfg.tasks for pair in _task_files(task) for p in pair if p})
    fingerprint = input_fingerprint(synth_hash(raw), sources)
    try:
        pipe_cfg = load_config(pipeline_config(cfg, backend_cfg, examples_dir, has_gpus=False))
        claim = claim_outdir(outdir, command="synth", inputs=sources, fingerprint=fingerprint, overwrite=overwrite)
    except (ConfigError, RunError) as e:
        raise UserError(str(e)) from None
    manifest_path = fsutil.join(outdir, MANIFEST_FILE)
    ray_log = None
    with claim:
        if claim.resuming and fsutil.exists(manifest_path):
            manifest = fsutil.read_json(manifest_path)  # finished before: nothing to redo
        else:
            with ray_output_to(log_dir_for(outdir)) as ray_log:  # Ray's output from start-up on: OUTDIR/logs
                ray = init_ray(address, pipe_cfg)
                resources = ray.cluster_resources()
                pipe_raw = pipeline_config(cfg, backend_cfg, examples_dir, resources.get("GPU", 0) > 0,
                                           resources.get("CPU", 1))
                t_gen = time.time()
                counts = generate_examples(cfg, examples_dir)
                gen_seconds = time.time() - t_gen
                manifest = run_pipeline(pipe_raw, outdir, address=address, quiet=True, claim=claim)
            manifest.update(inputs=fingerprint["inputs"], synth=_synth_summary(cfg, counts, gen_seconds))
            fsutil.atomic_write_json(manifest, manifest_path)
    if not quiet:
        from xcurate.engine.manifest import print_summary
        print_summary(manifest)
        log_outputs(outdir, ray_log)
    return manifest


def _synth_summary(cfg: SynthConfig, counts: List[dict], seconds: float) -> dict:
    tasks = []
    for ti, task in enumerate(cfg.tasks):
        mine = [c for c in counts if c["task"] == ti]
        tasks.append({"name": task.name or f"{task.type}-{ti}", "type": task.type,
                      "input_files": len(mine),
                      "input_records": sum(c["records"] for c in mine),
                      "examples_generated": sum(c["examples"] for c in mine),
                      "rejected_records": sum(c["rejected_records"] for c in mine)})
    backend = None
    if cfg.mt is not None:
        backend = {"type": cfg.mt.get("type"), "model": cfg.mt.get("model")}
    return {"seed": cfg.seed, "tasks": tasks, "mt": backend, "generation_seconds": round(seconds, 3)}


def _cmd_synth(args) -> int:
    run_synth(args.config, args.output, address=args.address, overrides=args.set, overwrite=args.overwrite)
    return 0


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "synth", help="generate translation-based instruction data",
        description="Build translation tasks from bitext and translate instruction data with an MT backend; "
                    "QC, dedup and accounting as in `xcurate run`.")
    p.add_argument("config", help="synth config (YAML), e.g. configs/synth_tatoeba.yaml")
    p.add_argument("-o", "--output", required=True, help="output directory (local path or s3://, gs://)")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else an embedded local Ray)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set tasks[0].max_pairs_per_file=100")
    p.add_argument("--overwrite", action="store_true", help="replace an output dir written by another config")
    p.set_defaults(func=_cmd_synth)
