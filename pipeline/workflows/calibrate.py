"""``xcurate calibrate-lid``: per-language LID score thresholds from a sample (FineWeb-2's rule).

For every language predicted on at least ``--min-docs`` sampled documents, the threshold is
τ = clip(median − std of the top-1 scores of documents predicted as that language, 0.3, 0.9).
The output YAML (``default`` + ``thresholds``, plus per-language ``stats``) is what the
``langid`` stage reads as ``thresholds_file``.

The sample is read on Ray by the engine's planner and readers (``xcurate.engine.io``): the
same formats, quarantine of bad records and damaged files, and Ray bootstrap as ``run``.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from xcurate import schema
from xcurate.engine.cluster import init_ray
from xcurate.engine.config import InputConfig
from xcurate.engine.console import ray_output_to
from xcurate.engine.io import InputError, ReadOptions, plan_read_specs
from xcurate.engine.operators import read_unit_batch
from xcurate.errors import UserError

TAU_LOW, TAU_HIGH = 0.3, 0.9


def fineweb2_threshold(scores: Sequence[float]) -> float:
    """τ = clip(median − std, 0.3, 0.9) of one language's scores."""
    arr = np.asarray(scores, dtype=np.float64)
    return float(np.clip(np.median(arr) - arr.std(), TAU_LOW, TAU_HIGH))


def calibrate(languages: Sequence[str], scores: Sequence[float], min_docs: int = 20) -> Dict[str, dict]:
    """{language: {threshold, n, median, std}} for languages with at least ``min_docs`` documents."""
    by_lang: Dict[str, List[float]] = {}
    for lang, score in zip(languages, scores):
        by_lang.setdefault(lang, []).append(float(score))
    out = {}
    for lang in sorted(by_lang):
        vals = by_lang[lang]
        if len(vals) < min_docs or lang.startswith("und_"):
            continue
        arr = np.asarray(vals)
        out[lang] = {"threshold": round(fineweb2_threshold(arr), 4), "n": len(vals),
                     "median": round(float(np.median(arr)), 4), "std": round(float(arr.std()), 4)}
    return out


def _bottom_k(table: pa.Table, k: int, seed: int) -> pa.Table:
    """The ``k`` live, non-empty texts of a batch with the smallest keys (hash of unit and row)."""
    live = table.filter(pc.and_(pc.is_null(table[schema.DROP_STAGE]), pc.greater(pc.utf8_length(table["text"]), 0)))
    keys = pa.array([xxhash.xxh64_intdigest(f"{unit}:{row}", seed=seed) for unit, row in
                     zip(live[schema.UNIT].to_pylist(), live[schema.ROW].to_pylist())], pa.uint64())
    order = pc.sort_indices(keys)[:k]
    return pa.table({"key": keys.take(order), "text": pc.cast(live["text"], pa.large_string()).take(order)})


def sample_texts(paths: Sequence[str], text_field: str, k: int, seed: int = 0, address: Optional[str] = None,
                 fmt: str = "auto") -> List[str]:
    """A uniform sample of ``k`` texts of JSONL/Parquet files or directories, read on Ray by the engine.

    The inputs go through the engine's planner and readers (bad records and damaged files are
    quarantined, not fatal); every document gets a key hashed from its unit and row, and the
    ``k`` smallest keys win: the same sample on any cluster, merged from per-block samples.
    """
    opts = ReadOptions(text_field=text_field, id_field=None, keep_metadata=False)
    try:
        specs = plan_read_specs(InputConfig(paths=list(paths), format=fmt, text_field=text_field), opts)
    except InputError as e:
        raise UserError(f"calibrate-lid: {_option_names(str(e))}") from None
    ray = init_ray(address)
    rows = [{"spec": json.dumps(asdict(s))} for s in specs]
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows))) \
        .map_batches(read_unit_batch, fn_args=(opts,), batch_size=1, batch_format="pyarrow") \
        .map_batches(_bottom_k, fn_args=(k, seed), batch_size=None, batch_format="pyarrow")
    sample = _bottom_k_merge(ds.iter_batches(batch_size=None, batch_format="pyarrow"), k)
    return sample["text"].to_pylist()


def _option_names(message: str) -> str:
    """The planner names config fields; here they are command-line options."""
    return message.replace("input.format", "--format").replace("input.text_field", "--text-field")


def _bottom_k_merge(batches, k: int) -> pa.Table:
    sample = pa.table({"key": pa.array([], pa.uint64()), "text": pa.array([], pa.large_string())})
    for batch in batches:
        merged = pa.concat_tables([sample, batch.select(["key", "text"])])
        sample = merged.take(pc.sort_indices(merged["key"])[:k])
    return sample


def score_texts(texts: List[str], model: str, max_chars: int, batch_size: int = 4096):
    """(languages, scores) from the langid stage itself, so thresholds match what the stage sees."""
    from xcurate.stages.langid import LangIdParams, LangIdStage

    stage = LangIdStage(LangIdParams(model=model, mode="label_only", k=1, max_chars=max_chars))
    languages, scores = [], []
    for start in range(0, len(texts), batch_size):
        out = stage(pa.table({"text": texts[start:start + batch_size]})).table
        languages += out.column("language").to_pylist()
        scores += out.column("language_score").to_pylist()
    return languages, scores


def write_thresholds(result: Dict[str, dict], default: float, path: str, source: str) -> None:
    import yaml
    doc = {
        "rule": "clip(median - std, 0.3, 0.9) of top-1 scores per predicted language (FineWeb-2)",
        "source": source,
        "default": default,
        "thresholds": {lang: r["threshold"] for lang, r in result.items()},
        "stats": {lang: {k: r[k] for k in ("n", "median", "std")} for lang, r in result.items()},
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, sort_keys=False, allow_unicode=True)
    os.replace(tmp, path)


def print_table(result: Dict[str, dict], out=sys.stdout) -> None:
    from tabulate import tabulate
    rows = [(lang, r["n"], r["median"], r["std"], r["threshold"]) for lang, r in result.items()]
    print(tabulate(rows, headers=["language", "docs", "median", "std", "threshold"]), file=out)


def log_dir_of(output: str) -> str:
    """Ray's output of a calibration: a folder in the temp dir named after the thresholds file
    (its own folder may be the user's, where xcurate writes only the file asked for)."""
    import tempfile
    name = os.path.basename(output.rstrip("/")) or "thresholds"
    return os.path.join(tempfile.gettempdir(), "xcurate-logs", f"calibrate-lid-{name}")


def _cmd(args) -> int:
    with ray_output_to(log_dir_of(args.output)) as ray_log:
        texts = sample_texts(args.input, args.text_field, args.sample, args.seed, args.address, args.format)
    if not texts:
        raise UserError(f"calibrate-lid: no texts found in field {args.text_field!r} of {args.input}")
    languages, scores = score_texts(texts, args.model, args.max_chars)
    result = calibrate(languages, scores, args.min_docs)
    if not result:
        raise UserError(f"calibrate-lid: no language has {args.min_docs}+ documents in {len(texts)} sampled; "
                        "lower --min-docs or give more input")
    write_thresholds(result, args.default, args.output, source=", ".join(args.input))
    print_table(result)
    print(f"\n{len(result)} languages from {len(texts)} documents -> {args.output} (default {args.default})")
    if ray_log:
        logging.getLogger(__name__).info("Ray log: %s", ray_log)
    return 0


def add_reader_arguments(p) -> None:
    """The reading options every command over JSONL/Parquet text shares."""
    p.add_argument("--text-field", default="text", help="field holding the document text")
    p.add_argument("--format", default="auto", choices=("auto", "jsonl", "parquet", "hf_disk"),
                   help="input format (auto: from the file names)")


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate-lid", help="per-language LID thresholds from a sample (FineWeb-2 rule)",
        description="Compute tau = clip(median - std, 0.3, 0.9) of each predicted language's LID scores.")
    p.add_argument("input", nargs="+", help="JSONL(.gz/.zst)/Parquet files, globs or directories")
    p.add_argument("-o", "--output", required=True, help="thresholds YAML to write")
    add_reader_arguments(p)
    p.add_argument("--model", default="lid.176.ftz", help="fastText LID model (path, bundled name or hub id)")
    p.add_argument("--sample", type=int, default=200_000, help="documents sampled (reservoir)")
    p.add_argument("--min-docs", type=int, default=20, help="languages with fewer documents keep the default")
    p.add_argument("--default", type=float, default=0.5, help="threshold for languages not in the table")
    p.add_argument("--max-chars", type=int, default=4000, help="characters of a document given to the model")
    p.add_argument("--seed", type=int, default=0, help="seed of the reservoir sample")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else an embedded local Ray)")
    p.set_defaults(func=_cmd)
