"""Input planning and reading.

The driver only *plans*: it expands globs, checks that inputs exist and carry the text
field, and cuts the input into read specs (byte ranges of plain JSONL, row-group ranges of
Parquet, row ranges of a ``datasets`` directory, whole compressed files). Workers read a
spec and yield *units*: tables of at most ``unit_rows`` rows / ``unit_mb`` of text, each
with a stable id. A unit is the grain of output shards and of resume.

Every table a reader yields has the document schema (``id``, ``text``, ``source``,
``metadata``, ``utf8_repaired``) plus the runner's bookkeeping columns (``_xc_*``).
Records that cannot become documents (malformed JSON, missing or non-string text, too
large) are kept as rows already dropped by the pseudo-stage ``read`` with a reason.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from xcurate import schema
from xcurate.errors import UserError
from xcurate.fsutil import filesystem_for

READ_STAGE = "read"
DOC_COLUMNS = ("id", "text", "source", "metadata", "utf8_repaired")
_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz",
                   ".jsonl.zst", ".json.zst", ".ndjson.zst", ".jsonl.zstd")


class InputError(UserError, ValueError):
    """The input cannot be read as configured (raised on the driver, before Ray starts work)."""


@dataclass
class ReadSpec:
    spec_id: str
    format: str
    path: str
    start: int = 0          # byte offset (jsonl), first row group (parquet), first row (hf_disk)
    end: int = -1           # exclusive; -1 = to the end
    first_line: int = 1     # line number of the first line (jsonl), for quarantine records
    options: Dict[str, Any] = field(default_factory=dict)

    def unit_id(self, k: int) -> str:
        return f"{self.spec_id}-{k:04d}"


@dataclass
class ReadOptions:
    text_field: str = "text"
    id_field: Optional[str] = "id"
    keep_metadata: bool = True
    columns: Dict[str, str] = field(default_factory=dict)
    unit_rows: int = 200_000
    unit_bytes: int = 32 << 20
    max_doc_chars: int = 10_000_000


# ---------------------------------------------------------------------------------------
# planning (driver)

def _detect_format(path: str) -> str:
    low = path.lower()
    if low.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if low.endswith(".parquet") or low.endswith(".pq"):
        return "parquet"
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "dataset_info.json")):
        return "hf_disk"
    raise InputError(f"{path}: cannot tell the format from the name; set input.format")


def expand_paths(patterns: List[str]) -> List[str]:
    """Expand globs and directories; a pattern that matches nothing is an error."""
    out: List[str] = []
    for pat in patterns:
        if "://" in pat:
            out.extend(_expand_remote(pat))
            continue
        matches = sorted(glob.glob(pat, recursive=True)) if any(c in pat for c in "*?[") else (
            [pat] if os.path.exists(pat) else [])
        if not matches:
            what = "glob matches no file" if any(c in pat for c in "*?[") else "no such file or directory"
            raise InputError(f"input path {pat!r}: {what}")
        for m in matches:
            if os.path.isdir(m) and not os.path.exists(os.path.join(m, "dataset_info.json")):
                files = sorted(p for p in glob.glob(os.path.join(m, "**", "*"), recursive=True)
                               if os.path.isfile(p) and p.lower().endswith(_JSONL_SUFFIXES + (".parquet",)))
                if not files:
                    raise InputError(f"input directory {m!r} holds no .jsonl/.parquet files")
                out.extend(files)
            else:
                out.append(m)
    return out


def _expand_remote(pattern: str) -> List[str]:
    import pyarrow.fs as pafs
    fs, p = filesystem_for(pattern)
    scheme = pattern.split("://", 1)[0]
    if not any(c in p for c in "*?["):
        if fs.get_file_info(p).type == pafs.FileType.NotFound:
            raise InputError(f"input path {pattern!r}: not found")
        return [pattern]
    import fnmatch
    base = p.split("*", 1)[0].rsplit("/", 1)[0]
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    hits = sorted(f"{scheme}://{i.path}" for i in infos if i.is_file and fnmatch.fnmatch(i.path, p))
    if not hits:
        raise InputError(f"input path {pattern!r}: glob matches no file")
    return hits


def _spec_id(path: str, start: int, end: int) -> str:
    return "u" + hashlib.sha1(f"{os.path.abspath(path) if '://' not in path else path}:{start}:{end}".encode()).hexdigest()[:12]


def _open_binary(path: str):
    fs, p = filesystem_for(path)
    raw = fs.open_input_stream(p, compression=None)
    low = path.lower()
    if low.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if low.endswith((".zst", ".zstd")):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(raw)
    return raw


def _plan_jsonl(path: str, opts: ReadOptions) -> List[ReadSpec]:
    if path.lower().endswith((".gz", ".zst", ".zstd")):
        return [ReadSpec(_spec_id(path, 0, -1), "jsonl", path)]
    # Cut plain files into newline-aligned byte ranges, counting lines so that quarantine
    # records can name the line (a newline count runs at memory speed).
    fs, p = filesystem_for(path)
    size = fs.get_file_info(p).size or 0
    # Equal-sized ranges balance the workers better than full units plus a small remainder.
    unit_bytes = -(-size // max(1, -(-size // opts.unit_bytes))) if size else opts.unit_bytes
    specs, start, line, pos = [], 0, 1, 0
    lines_in_range = 0
    with fs.open_input_stream(p) as f:
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                break
            offset = 0
            while True:
                cut = start + unit_bytes
                if cut >= pos + len(chunk):
                    lines_in_range += chunk.count(b"\n", offset)
                    break
                nl = chunk.find(b"\n", max(cut - pos, offset))
                if nl < 0:
                    lines_in_range += chunk.count(b"\n", offset)
                    break
                lines_in_range += chunk.count(b"\n", offset, nl + 1)
                end = pos + nl + 1
                specs.append(ReadSpec(_spec_id(path, start, end), "jsonl", path, start, end, line))
                line += lines_in_range
                lines_in_range, start, offset = 0, end, nl + 1
            pos += len(chunk)
    if start < pos or not specs:
        specs.append(ReadSpec(_spec_id(path, start, -1), "jsonl", path, start, -1, line))
    return specs


def _plan_parquet(path: str, opts: ReadOptions) -> List[ReadSpec]:
    fs, p = filesystem_for(path)
    md = pq.ParquetFile(fs.open_input_file(p)).metadata
    specs, first, rows, size = [], 0, 0, 0
    for rg in range(md.num_row_groups):
        meta = md.row_group(rg)
        rows, size = rows + meta.num_rows, size + meta.total_byte_size
        if rows >= opts.unit_rows or size >= opts.unit_bytes:
            specs.append(ReadSpec(_spec_id(path, first, rg + 1), "parquet", path, first, rg + 1))
            first, rows, size = rg + 1, 0, 0
    if first < md.num_row_groups or not specs:
        specs.append(ReadSpec(_spec_id(path, first, md.num_row_groups), "parquet", path, first, md.num_row_groups))
    return specs


def _plan_hf_disk(path: str, opts: ReadOptions) -> List[ReadSpec]:
    import datasets
    ds = datasets.load_from_disk(path)
    if isinstance(ds, datasets.DatasetDict):
        raise InputError(f"{path}: is a DatasetDict ({list(ds)}); point input.paths at one split's directory")
    n = len(ds)
    return [ReadSpec(_spec_id(path, s, min(s + opts.unit_rows, n)), "hf_disk", path, s, min(s + opts.unit_rows, n))
            for s in range(0, max(n, 1), opts.unit_rows)]


_PLANNERS = {"jsonl": _plan_jsonl, "parquet": _plan_parquet, "hf_disk": _plan_hf_disk}


def plan_read_specs(input_cfg, opts: ReadOptions) -> List[ReadSpec]:
    """Cut the configured input into read specs; raise InputError on anything unreadable."""
    if input_cfg.format == "hf_hub" or (input_cfg.hub is not None and not input_cfg.paths):
        hub = input_cfg.hub
        if hub is None:
            raise InputError("input.format is hf_hub: give input.hub.name")
        return [ReadSpec(_spec_id(f"hf://{hub.name}/{hub.config}/{hub.split}", 0, -1), "hf_hub", hub.name,
                         options={"config": hub.config, "split": hub.split})]
    specs: List[ReadSpec] = []
    for path in expand_paths(input_cfg.paths):
        fmt = input_cfg.format if input_cfg.format != "auto" else _detect_format(path)
        specs.extend(_PLANNERS[fmt](path, opts))
    check_text_field(specs, opts)
    return specs


def check_text_field(specs: List[ReadSpec], opts: ReadOptions) -> None:
    """Fail before Ray starts if the first record of an input lacks the text field."""
    seen = set()
    for spec in specs:
        if spec.path in seen:
            continue
        seen.add(spec.path)
        fields = _first_record_fields(spec)
        if fields is not None and opts.text_field not in fields:
            raise InputError(f"{spec.path}: no text field {opts.text_field!r} in the first record; "
                             f"fields found: {', '.join(sorted(fields)) or '(none)'}; set input.text_field")


def _head_lines(path: str, limit: int = 1 << 22) -> List[bytes]:
    with _open_binary(path) as f:
        head = f.read(limit)
    lines = head.split(b"\n")
    return [ln for ln in (lines[:-1] if len(head) == limit else lines) if ln.strip()]


def _first_record_fields(spec: ReadSpec) -> Optional[List[str]]:
    if spec.format == "jsonl":
        for raw in _head_lines(spec.path):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            return list(obj) if isinstance(obj, dict) else []
        return None  # empty file, or no parseable line in its head
    if spec.format == "parquet":
        fs, p = filesystem_for(spec.path)
        return pq.ParquetFile(fs.open_input_file(p)).schema_arrow.names
    if spec.format == "hf_disk":
        import datasets
        return list(datasets.load_from_disk(spec.path).column_names)
    return None


# ---------------------------------------------------------------------------------------
# reading (workers)

class _UnitBuilder:
    """Accumulates records into unit tables of bounded rows/bytes."""

    def __init__(self, spec: ReadSpec, opts: ReadOptions, source: str):
        self.spec, self.opts, self.source = spec, opts, source
        self.k = 0
        self._reset()

    def _reset(self):
        self.ids, self.texts, self.metas, self.repaired = [], [], [], []
        self.drop_reasons, self.nbytes = [], 0
        self.extra = {col: [] for col in self.opts.columns.values()}

    def add(self, doc_id, text, meta, repaired=False, drop_reason=None, record=None):
        if drop_reason is None and len(text) > self.opts.max_doc_chars:
            drop_reason = "doc_too_large"
        if doc_id is None:
            doc_id = xxhash.xxh3_128_hexdigest(text.encode("utf-8", "surrogatepass"))
        self.ids.append(doc_id)
        self.texts.append(text)
        self.metas.append(meta)
        self.repaired.append(repaired)
        self.drop_reasons.append(drop_reason)
        for fld, col in self.opts.columns.items():
            value = record.get(fld) if isinstance(record, dict) else None
            self.extra[col].append(None if value is None else str(value))
        self.nbytes += len(text)

    def full(self) -> bool:
        return len(self.ids) >= self.opts.unit_rows or self.nbytes >= self.opts.unit_bytes

    def flush(self) -> pa.Table:
        n = len(self.ids)
        unit = self.spec.unit_id(self.k)
        drop_stage = [READ_STAGE if r else None for r in self.drop_reasons]
        table = pa.table({
            "id": pa.array(self.ids, pa.string()),
            "text": pa.array(self.texts, pa.large_string()),
            "source": pa.array([self.source] * n, pa.string()),
            "metadata": pa.array(self.metas, pa.string()),
            "utf8_repaired": pa.array(self.repaired, pa.bool_()),
            **{col: pa.array(values, pa.string()) for col, values in self.extra.items()},
            schema.UNIT: pa.array([unit] * n, pa.string()),
            schema.ROW: pa.array(range(n), pa.int64()),
            schema.UNIT_ROWS: pa.array([n] * n, pa.int64()),
            schema.DROP_STAGE: pa.array(drop_stage, pa.string()),
            schema.DROP_REASON: pa.array(self.drop_reasons, pa.string()),
        })
        self.k += 1
        self._reset()
        return table


def _meta_json(obj: dict, skip: Tuple[str, ...], keep: bool) -> Optional[str]:
    if not keep:
        return None
    extra = {k: v for k, v in obj.items() if k not in skip}
    return orjson.dumps(extra, default=str).decode() if extra else None


def _record_to_doc(obj: Any, opts: ReadOptions, b: _UnitBuilder, raw_line: str, line_no: Optional[int],
                   repaired: bool) -> None:
    where = {"line": line_no} if line_no is not None else {}
    if not isinstance(obj, dict):
        b.add(None, raw_line, orjson.dumps({**where, "error": "record is not an object"}).decode(),
              repaired, "malformed_record")
        return
    text = obj.get(opts.text_field)
    doc_id = obj.get(opts.id_field) if opts.id_field else None
    doc_id = None if doc_id is None else str(doc_id)
    if text is None:
        b.add(doc_id, raw_line, orjson.dumps({**where, "fields": sorted(obj)}).decode(), repaired,
              "missing_text_field")
    elif not isinstance(text, str):
        b.add(doc_id, raw_line, orjson.dumps({**where, "error": f"text is {type(text).__name__}"}).decode(),
              repaired, "invalid_text")
    else:
        meta = _meta_json(obj, (opts.text_field, opts.id_field, *opts.columns), opts.keep_metadata)
        b.add(doc_id, text, meta, repaired, record=obj)


def _iter_jsonl_chunks(spec: ReadSpec, opts: ReadOptions) -> Iterator[Tuple[bytes, int]]:
    """(chunk of whole lines ≤ ~unit_bytes, number of its first line)."""
    if spec.path.lower().endswith((".gz", ".zst", ".zstd")):
        with _open_binary(spec.path) as f:
            buf, size, first, line_no = [], 0, 1, 0
            for raw in io.BufferedReader(f, 1 << 20):
                line_no += 1
                buf.append(raw)
                size += len(raw)
                if size >= opts.unit_bytes:
                    yield b"".join(buf), first
                    buf, size, first = [], 0, line_no + 1
            if buf:
                yield b"".join(buf), first
        return
    fs, p = filesystem_for(spec.path)
    with fs.open_input_file(p) as f:
        f.seek(spec.start)
        length = (spec.end if spec.end >= 0 else f.size()) - spec.start
        yield f.read(length), spec.first_line


def _fast_parse(chunk: bytes, opts: ReadOptions) -> Optional[pa.Table]:
    """Parse a clean chunk with pyarrow's C++ JSON reader, or None if anything is irregular.

    The per-line Python path below is 4-5x slower on clean data (measured in
    bench/io_throughput.py), so clean chunks take this path; a chunk with a malformed line,
    invalid UTF-8, a missing or non-string text field falls back to the exact per-line path,
    which quarantines the bad records with their line numbers.
    """
    import pyarrow.json as pj
    try:
        table = pj.read_json(io.BytesIO(chunk), read_options=pj.ReadOptions(block_size=max(1 << 20, len(chunk) + 1)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if opts.text_field not in table.column_names or table.num_rows == 0:
        return None
    text = table[opts.text_field]
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type) or text.null_count:
        return None
    return table


def _docs_from_table(table: pa.Table, opts: ReadOptions, b: "_UnitBuilder") -> Iterator[pa.Table]:
    """Vectorised document tables from a cleanly parsed chunk (one unit per unit_rows rows)."""
    import pyarrow.compute as pc
    if b.ids:
        yield b.flush()
    n = table.num_rows
    text = pc.cast(table[opts.text_field], pa.large_string()).combine_chunks()
    if opts.id_field and opts.id_field in table.column_names:
        ids = pa.array(pc_cast_str(table[opts.id_field]), pa.string())
    else:
        ids = pa.array([None] * n, pa.string())
    if ids.null_count:
        ids = pa.array([i if i is not None else xxhash.xxh3_128_hexdigest(t.encode("utf-8", "surrogatepass"))
                        for i, t in zip(ids.to_pylist(), text.to_pylist())], pa.string())
    skip = {opts.text_field, opts.id_field, *opts.columns}
    extra_names = [c for c in table.column_names if c not in skip]
    metas = pa.array([orjson.dumps(r, default=str).decode() for r in table.select(extra_names).to_pylist()]
                     if extra_names and opts.keep_metadata else [None] * n, pa.string())
    too_large = pc.greater(pc.utf8_length(text), opts.max_doc_chars)
    reason = pc.if_else(too_large, pa.scalar("doc_too_large"), pa.scalar(None, pa.string()))
    columns = {"id": ids, "text": text, "source": pa.array([b.source] * n, pa.string()), "metadata": metas,
               "utf8_repaired": pa.array([False] * n, pa.bool_())}
    for fld, col in opts.columns.items():
        columns[col] = (pa.array(pc_cast_str(table[fld]), pa.string()) if fld in table.column_names
                        else pa.array([None] * n, pa.string()))
    docs = pa.table(columns)
    for start in range(0, n, opts.unit_rows):
        part = docs.slice(start, opts.unit_rows)
        m = part.num_rows
        unit = b.spec.unit_id(b.k)
        b.k += 1
        r = reason.slice(start, m)
        yield part.append_column(schema.UNIT, pa.array([unit] * m, pa.string())) \
            .append_column(schema.ROW, pa.array(range(m), pa.int64())) \
            .append_column(schema.UNIT_ROWS, pa.array([m] * m, pa.int64())) \
            .append_column(schema.DROP_STAGE, pc.if_else(pc.is_null(r), pa.scalar(None, pa.string()), pa.scalar(READ_STAGE))) \
            .append_column(schema.DROP_REASON, r)


def pc_cast_str(col) -> list:
    import pyarrow.compute as pc
    try:
        return pc.cast(col, pa.string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [None if v is None else str(v) for v in col.to_pylist()]


def _slow_parse(chunk: bytes, first_line: int, opts: ReadOptions, b: "_UnitBuilder") -> Iterator[pa.Table]:
    lines = chunk.splitlines(keepends=True) if b"\r" in chunk else chunk.split(b"\n")
    for line_no, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
            repaired = False
        except orjson.JSONDecodeError:
            # Invalid UTF-8 inside an otherwise valid line: replace and flag (documented).
            text_line = raw.decode("utf-8", "replace")
            repaired = not _valid_utf8(raw)
            try:
                obj = orjson.loads(text_line) if repaired else None
            except orjson.JSONDecodeError:
                obj = None
            if obj is None:
                b.add(None, text_line.rstrip("\n"),
                      orjson.dumps({"line": line_no, "error": "malformed JSON"}).decode(),
                      repaired, "malformed_json")
                if b.full():
                    yield b.flush()
                continue
        _record_to_doc(obj, opts, b, raw.decode("utf-8", "replace").rstrip("\n"), line_no, repaired)
        if b.full():
            yield b.flush()


def read_jsonl(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    b = _UnitBuilder(spec, opts, spec.path)
    for chunk, first_line in _iter_jsonl_chunks(spec, opts):
        table = _fast_parse(chunk, opts)
        if table is not None:
            yield from _docs_from_table(table, opts, b)
        else:
            yield from _slow_parse(chunk, first_line, opts, b)
    if b.ids or b.k == 0:
        yield b.flush()


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _read_table_records(table: pa.Table, spec: ReadSpec, opts: ReadOptions, b: _UnitBuilder) -> Iterator[pa.Table]:
    col = table[opts.text_field] if opts.text_field in table.column_names else None
    if col is not None and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and not col.null_count:
        yield from _docs_from_table(table, opts, b)
        return
    for batch in table.to_batches(max_chunksize=10_000):
        for obj in batch.to_pylist():
            _record_to_doc(obj, opts, b, "", None, False)
            if b.full():
                yield b.flush()


def read_parquet(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    fs, p = filesystem_for(spec.path)
    pf = pq.ParquetFile(fs.open_input_file(p))
    b = _UnitBuilder(spec, opts, spec.path)
    for rg in range(spec.start, spec.end):
        yield from _read_table_records(pf.read_row_group(rg), spec, opts, b)
    if b.ids or b.k == 0:
        yield b.flush()


def read_hf_disk(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    import datasets
    ds = datasets.load_from_disk(spec.path)
    table = ds.with_format("arrow")[spec.start:spec.end] if spec.end > spec.start else pa.table({})
    b = _UnitBuilder(spec, opts, spec.path)
    yield from _read_table_records(table, spec, opts, b)
    if b.ids or b.k == 0:
        yield b.flush()


def read_hf_hub(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    import datasets
    try:
        stream = datasets.load_dataset(spec.path, spec.options.get("config"), split=spec.options.get("split"),
                                       streaming=True)
    except Exception as e:  # offline machines end here
        raise InputError(f"cannot stream Hugging Face dataset {spec.path!r}: {e}") from e
    b = _UnitBuilder(spec, opts, f"hf://{spec.path}")
    for obj in stream:
        _record_to_doc(obj, opts, b, "", None, False)
        if b.full():
            yield b.flush()
    if b.ids or b.k == 0:
        yield b.flush()


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "hf_disk": read_hf_disk, "hf_hub": read_hf_hub}


def read_spec(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    return READERS[spec.format](spec, opts)
