"""Which files a mixture reads, and where it may write.

A source is either a complete xcurate OUTDIR or a plain dataset the user names (a Parquet or
JSONL file, or a directory of them). Rules (issue #10):

* an xcurate OUTDIR is read only when complete: its ``manifest.json`` is written last, so a
  directory with xcurate's run record (``_xc_run.json`` / ``_xc_progress/``) but no manifest is a
  killed or running run and is refused;
* of an OUTDIR only the ``data/`` shards are read (those its manifest lists, else the files under
  ``data/``), never ``rejected/`` or work files;
* in a plain directory, entries whose name starts with ``.`` or ``_`` are skipped (the Hive/Spark
  convention for metadata, caches and temporary files);
* the mix OUTDIR may not overlap any source, with or without ``--overwrite`` (the OUTDIR claim,
  ``xcurate.engine.outdir.claim_outdir``, checks it with the sources as inputs).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from xcurate import fsutil
from xcurate.engine.outdir import MANIFEST_FILE, RUN_FILE, require_complete
from xcurate.errors import UserError
from xcurate.mix.config import SourceConfig

DATA_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson")
RUN_MARKERS = (RUN_FILE, "_xc_progress")
_LANG_PART = re.compile(r"(?:^|/)language=([^/]+)/")


@dataclass
class SourceFiles:
    config: SourceConfig
    files: List[str] = field(default_factory=list)


def language_hint(path: str) -> Optional[str]:
    """The language of a hive partition directory ``language=<code>/`` in ``path``, if any."""
    m = _LANG_PART.search(path.replace(os.sep, "/"))
    return m.group(1) if m else None


def _local(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path)) if "://" not in path else path.rstrip("/")


def _is_xcurate_outdir(path: str) -> bool:
    """Its run record or manifest, or the data/ + rejected/ layout (an OUTDIR copied without them)."""
    return any(fsutil.exists(fsutil.join(path, m)) for m in (MANIFEST_FILE, *RUN_MARKERS)) or \
        all(os.path.isdir(os.path.join(path, d)) for d in ("data", "rejected"))


def _outdir_files(path: str) -> List[str]:
    listed = require_complete(path).get("shards")
    if listed:
        return [fsutil.join(path, s["path"]) for s in listed]
    return _dataset_files(fsutil.join(path, "data"))


def _dataset_files(path: str) -> List[str]:
    if os.path.isfile(path):
        return [path]
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        out += [os.path.join(root, f) for f in sorted(files)
                if f.lower().endswith(DATA_SUFFIXES) and not f.startswith((".", "_"))]
    return out


def resolve_sources(sources: Sequence[SourceConfig]) -> List[SourceFiles]:
    """The files of every source (absolute paths); a missing, empty or incomplete source is a UserError."""
    resolved = []
    for src in sources:
        path = _local(src.path)
        if "://" in path:
            raise UserError(f"mix source {src.name!r}: object-store sources are not supported yet ({src.path})")
        if not os.path.exists(path):
            raise UserError(f"mix source {src.name!r} not found: {src.path}")
        files = _outdir_files(path) if os.path.isdir(path) and _is_xcurate_outdir(path) else _dataset_files(path)
        if not files:
            raise UserError(f"mix source {src.name!r}: no Parquet or JSONL files under {src.path}")
        for f in files:
            _check_language_known(src, f)
        resolved.append(SourceFiles(src, files))
    return resolved


def _check_language_known(src: SourceConfig, path: str) -> None:
    if src.language or language_hint(path) or not path.lower().endswith(".parquet"):
        return
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowInvalid) as e:
        raise UserError(f"{path}: not a readable Parquet file (mix source {src.name!r}): {e}") from None
    if src.language_field not in names:
        raise UserError(f"{path}: no {src.language_field!r} column, no language=<code> partition and no "
                        f"language: set on source {src.name!r}; cannot tell the language of its documents")


def file_sources(resolved: Sequence[SourceFiles]) -> Dict[str, str]:
    """{file: source name}; a file named by two sources is an error (it would be counted twice)."""
    out: Dict[str, str] = {}
    for s in resolved:
        for f in s.files:
            if f in out:
                raise UserError(f"{f} belongs to two mix sources ({out[f]!r} and {s.config.name!r})")
            out[f] = s.config.name
    return out
