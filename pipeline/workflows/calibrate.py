"""``xcurate calibrate-lid``: per-language LID score thresholds from a sample (FineWeb-2's rule).

For every language predicted on at least ``--min-docs`` sampled documents, the threshold is
τ = clip(median − std of the top-1 scores of documents predicted as that language, 0.3, 0.9).
The output YAML (``default`` + ``thresholds``, plus per-language ``stats``) is what the
``langid`` stage reads as ``thresholds_file``.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

import numpy as np

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


def _input_files(paths: Sequence[str]) -> List[Path]:
    files: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in (".jsonl", ".gz", ".parquet", ".json"))
        elif p.exists():
            files.append(p)
        else:
            from xcurate.errors import UserError
            raise UserError(f"calibrate-lid: input {p} does not exist")
    return files


def iter_texts(paths: Sequence[str], text_field: str = "text") -> Iterator[str]:
    """Texts of JSONL(.gz) / Parquet files or directories of them."""
    for f in _input_files(paths):
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq
            for batch in pq.ParquetFile(f).iter_batches(columns=[text_field]):
                yield from (t for t in batch.column(0).to_pylist() if t)
            continue
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    text = json.loads(line).get(text_field)
                    if text:
                        yield text


def reservoir_sample(items: Iterator[str], k: int, seed: int = 0) -> List[str]:
    rng = random.Random(seed)
    sample: List[str] = []
    for i, item in enumerate(items):
        if i < k:
            sample.append(item)
        else:
            j = rng.randint(0, i)
            if j < k:
                sample[j] = item
    return sample


def score_texts(texts: List[str], model: str, max_chars: int, batch_size: int = 4096):
    """(languages, scores) from the langid stage itself, so thresholds match what the stage sees."""
    import pyarrow as pa
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


def _cmd(args) -> int:
    from xcurate.errors import UserError
    texts = reservoir_sample(iter_texts(args.input, args.text_field), args.sample, args.seed)
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
    return 0


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate-lid", help="per-language LID thresholds from a sample (FineWeb-2 rule)",
        description="Compute tau = clip(median - std, 0.3, 0.9) of each predicted language's LID scores.")
    p.add_argument("input", nargs="+", help="JSONL(.gz)/Parquet files or directories")
    p.add_argument("-o", "--output", required=True, help="thresholds YAML to write")
    p.add_argument("--text-field", default="text")
    p.add_argument("--model", default="lid.176.ftz", help="fastText LID model (path, bundled name or hub id)")
    p.add_argument("--sample", type=int, default=200_000, help="documents sampled (reservoir)")
    p.add_argument("--min-docs", type=int, default=20, help="languages with fewer documents keep the default")
    p.add_argument("--default", type=float, default=0.5, help="threshold for languages not in the table")
    p.add_argument("--max-chars", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd)
