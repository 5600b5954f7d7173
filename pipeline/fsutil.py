"""Filesystem helpers: local paths and object-store URLs (s3://, gs://) through pyarrow/fsspec.

``s3://`` takes its endpoint and credentials from the standard AWS environment variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), which every Ray node must have; a run with
input, OUTDIR and intermediates on S3 is tested against moto's server (tests/test_storage_s3.py).

Every output file is written to a temporary name in the same directory and renamed into
place, so a killed run never leaves half a file and a rerun can trust what exists.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


@dataclass
class ShardInfo:
    path: str  # relative to the output root
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


def filesystem_for(path: str) -> Tuple[pafs.FileSystem, str]:
    """(filesystem, path-inside-it) for a local path or a URL understood by pyarrow."""
    if "://" in path and not path.startswith("file://"):
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), os.path.abspath(path.removeprefix("file://"))


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/")] + [p.strip("/") for p in parts if p])


def relative_to(path: str, root: Optional[str]) -> str:
    """``path`` relative to ``root`` (a local directory or a URL prefix); unchanged without a root."""
    if not root:
        return path
    if "://" in path:
        prefix = root.rstrip("/") + "/"
        return path[len(prefix):] if path.startswith(prefix) else path
    return os.path.relpath(path, root)


def makedirs(path: str) -> None:
    fs, p = filesystem_for(path)
    fs.create_dir(p, recursive=True)


def exists(path: str) -> bool:
    fs, p = filesystem_for(path)
    return fs.get_file_info(p).type != pafs.FileType.NotFound


def _atomic_put(path: str, payload: bytes) -> None:
    fs, p = filesystem_for(path)
    parent = p.rsplit("/", 1)[0]
    fs.create_dir(parent, recursive=True)
    tmp = f"{parent}/.tmp-{uuid.uuid4().hex}-{p.rsplit('/', 1)[1]}"
    with fs.open_output_stream(tmp) as out:
        out.write(payload)
    fs.move(tmp, p)  # atomic rename on POSIX; object stores publish on close anyway


def parquet_bytes(table: pa.Table, compression: str = "zstd") -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression)
    return sink.getvalue()


def atomic_write_parquet(table: pa.Table, path: str, root: Optional[str] = None,
                         compression: str = "zstd") -> ShardInfo:
    """Write ``table`` to ``path`` atomically; return its shard record (path relative to root)."""
    payload = parquet_bytes(table, compression)
    _atomic_put(path, payload)
    return ShardInfo(relative_to(path, root), table.num_rows, len(payload), hashlib.sha256(payload).hexdigest())


def atomic_write_json(obj, path: str) -> None:
    _atomic_put(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False).encode())


def atomic_write_bytes(payload: bytes, path: str) -> None:
    _atomic_put(path, payload)


def read_json(path: str):
    fs, p = filesystem_for(path)
    with fs.open_input_stream(p) as f:
        return json.loads(f.read())


def sha256_file(path: str) -> str:
    fs, p = filesystem_for(path)
    h = hashlib.sha256()
    with fs.open_input_stream(p) as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
