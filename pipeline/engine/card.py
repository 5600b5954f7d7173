"""The dataset card: ``OUTDIR/README.md`` in the Hugging Face dataset-card format.

The YAML header is what the Hub reads: ``language`` (the ISO 639 part of each language code;
FineWeb-2 does the same), ``configs`` (one per language, pointing at its
``data/language=<code>/*.parquet``, plus ``default`` over all of them), ``size_categories``
and ``license`` (the licenses the documents carry, from a ``license`` column or
``metadata.license``; ``unknown`` when none does). The body says what ran (the stage
chain and its counts from the manifest), which benchmark suites the data was
decontaminated against, and how to load it. Everything comes from the manifest, the
stage configs and the per-unit progress records (licenses); no data file is read.
"""
from __future__ import annotations

import os
import re
from typing import List, Sequence

import yaml

from xcurate import fsutil, resources
from xcurate.engine.manifest import load_progress

CARD_FILE = "README.md"
_SIZE_BOUNDS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
                (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"), (1_000_000_000_000, "100B<n<1T")]
_ISO639 = re.compile(r"^[a-z]{2,3}$")


def size_category(n: int) -> str:
    return next((label for bound, label in _SIZE_BOUNDS if n < bound), "n>1T")


def card_header(manifest: dict, partition_by: str, licenses: Sequence[str]) -> dict:
    codes = [c for c in manifest["languages"] if c != "und"]
    iso = sorted({c.split("_", 1)[0] for c in codes if _ISO639.match(c.split("_", 1)[0])})
    configs = [{"config_name": "default", "default": True,
                "data_files": [{"split": "train", "path": f"data/{partition_by}=*/*.parquet"}]}]
    configs += [{"config_name": code,
                 "data_files": [{"split": "train", "path": f"data/{partition_by}={code}/*.parquet"}]}
                for code in sorted(manifest["languages"])]
    return {"language": iso, "license": sorted(licenses) or "unknown", "multilinguality":
            "multilingual" if len(codes) > 1 else "monolingual",
            "size_categories": [size_category(manifest["output_documents"])],
            "task_categories": ["text-generation"], "pretty_name": "xcurate output", "configs": configs}


def licenses_seen(outdir: str) -> List[str]:
    return sorted({lic for r in load_progress(outdir) for lic in r.get("licenses", {})})


def benchmark_suites(stage_configs: Sequence[dict]) -> List[str]:
    """One line per suite a decontamination stage used: its file (or 'inline') and benchmarks."""
    lines = []
    for st in stage_configs:
        suite = (st.get("params") or {}).get("benchmarks")
        if suite is None:
            continue
        spec = suite if isinstance(suite, dict) else _read_suite(suite)
        names = [b.get("name", "?") for b in (spec or {}).get("benchmarks", []) if isinstance(b, dict)]
        where = "inline suite" if isinstance(suite, dict) else f"`{suite}`"
        label = (spec or {}).get("name", "")
        lines.append(f"- stage `{st.get('name') or st['type']}` ({st['type']}, policy "
                     f"`{(st.get('params') or {}).get('policy', 'default')}`): {where}"
                     f"{f' ({label})' if label else ''}: {', '.join(names) or 'benchmarks not listed'}")
    return lines


def _read_suite(path: str):
    found = path if os.path.isfile(path) else resources.shipped_config(path)
    if not found:
        return None
    with open(found, encoding="utf-8") as f:
        return yaml.safe_load(f)


def card_body(manifest: dict, stage_configs: Sequence[dict], partition_by: str) -> str:
    stages = "\n".join(f"| {s['name']} | {s['input']:,} | {s['kept']:,} | {sum(s['dropped'].values()):,} | "
                       f"{s.get('modified', 0):,} |" for s in manifest["stages"])
    langs = "\n".join(f"| {code} | {v['documents']:,} | {v['chars']:,} |" for code, v in manifest["languages"].items())
    chain = " → ".join(f"`{s.get('name') or s['type']}`" for s in stage_configs) or "(no stages)"
    suites = "\n".join(benchmark_suites(stage_configs)) or "Not decontaminated (no decontamination stage ran)."
    first = next(iter(sorted(manifest["languages"])), "und")
    return f"""# xcurate output

Curated with xcurate from {manifest['input_documents']:,} input documents:
{manifest['output_documents']:,} kept in {len(manifest['shards'])} Parquet shards (zstd), partitioned by
`{partition_by}` (hive layout: `data/{partition_by}=<code>/part-*.parquet`; the column is also in each file).
Run {manifest['started_at']} – {manifest['ended_at']}, config hash `{manifest['config_hash']}`; the full
accounting is in `manifest.json`, plots in `report.html`, dropped documents with their reason in `rejected/`.

## Pipeline

{chain}

| stage | in | kept | dropped | modified |
|---|---:|---:|---:|---:|
{stages}

## Languages

| {partition_by} | documents | characters |
|---|---:|---:|
{langs}

## Decontamination

{suites}

## Columns

`id` (stable: the input's id, else xxh3-128 of the text), `text`, `source` (absolute path or URI of the input
file), `metadata` (JSON of the other input fields), `n_chars`, `{partition_by}`, and the columns the stages add.

## Load it

Paths are relative to this directory (OUTDIR).

```python
import datasets, pyarrow.dataset as ds
datasets.load_dataset("parquet", data_dir="data", split="train")            # everything
datasets.load_dataset("OUTDIR", "{first}", split="train")                    # one language (a config above)
ds.dataset("data", format="parquet", partitioning="hive").to_table()
```

```sql
SELECT {partition_by}, count(*) FROM read_parquet('data/**/*.parquet', hive_partitioning=true) GROUP BY 1;  -- DuckDB
```

Token ids for a trainer: `xcurate export OUTDIR --tokenizer NAME --format megatron|parquet-tokens -o EXPORT`.
"""


def write_card(outdir: str, manifest: dict, stage_configs: Sequence[dict], partition_by: str = "language") -> str:
    """Write ``OUTDIR/README.md``; returns its path."""
    header = yaml.safe_dump(card_header(manifest, partition_by, licenses_seen(outdir)), sort_keys=False,
                            allow_unicode=True)
    path = fsutil.join(outdir, CARD_FILE)
    fsutil.atomic_write_bytes(f"---\n{header}---\n\n{card_body(manifest, stage_configs, partition_by)}".encode(), path)
    return path
