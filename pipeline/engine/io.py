"""Input planning and reading: the project's one reader of JSONL and Parquet.

The driver only *plans*: it expands globs, checks that inputs exist and carry the text
field, and cuts the input into read specs (byte ranges of plain JSONL, row-group ranges of
Parquet, row ranges of a ``datasets`` directory, whole compressed files). Workers read a
spec and yield *units*: tables of at most ``unit_rows`` rows / ``unit_mb`` of text, each
with a stable id. A unit is the grain of output shards and of resume.

Every table a reader yields has the document schema (``id``, ``text``, ``source``,
``metadata``, ``utf8_repaired``) plus the runner's bookkeeping columns (``_xc_*``).
Records that cannot become documents (malformed JSON, missing or non-string text, too
large) are kept as rows already dropped by the pseudo-stage ``read`` with a reason.

A compressed or Parquet file that cannot be read past some point (truncated, garbage)
keeps the records read before the damage; the rest of the file becomes one row dropped
with reason ``corrupt_file`` whose metadata names the path, the offset and the error, and
the run goes on (``quarantined_files`` lifts these into the unit's progress record).

One JSON semantics on both parse paths: one line is one record (two objects on a line are
``malformed_json``), a UTF-8 byte-order mark at the start of a line is ignored, and a line
that is blank once the mark is removed is skipped. The vectorised pyarrow path only
accepts a chunk when its result is exactly what the per-line path would give.

``iter_file_records`` gives the same records one by one, for workflows that read small
side inputs (synth's instruction and bitext files).
"""
from __future__ import annotations

import glob
import hashlib
import io
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
import zstandard

from xcurate import schema
from xcurate.errors import UserError
from xcurate.fsutil import filesystem_for
from xcurate.engine import warc

READ_STAGE = "read"
CORRUPT_FILE = "corrupt_file"
DOC_COLUMNS = ("id", "text", "source", "metadata", "utf8_repaired")
_COMPRESSED_SUFFIXES = (".gz", ".zst", ".zstd")
_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz",
                   ".jsonl.zst", ".json.zst", ".ndjson.zst", ".jsonl.zstd")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_GLOB_CHARS = "*?["
_BOM = b"\xef\xbb\xbf"
# What a damaged compressed stream or Parquet file raises while being read.
_DAMAGE_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError, pa.ArrowException)


class InputError(UserError, ValueError):
    """The input cannot be read as configured (raised on the driver, before Ray starts work)."""


class CorruptInput(Exception):
    """A file cannot be read past ``where`` (offsets of the damage); ``error`` says why."""

    def __init__(self, where: Dict[str, int], error: BaseException):
        super().__init__(f"{where}: {error}")
        self.where, self.error = where, f"{type(error).__name__}: {error}"


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


@dataclass
class BadRecord:
    """A line or row that is no record (``reason``: malformed_json, corrupt_file), with details."""
    reason: str
    detail: Dict[str, Any]


# ---------------------------------------------------------------------------------------
# opening files

class _CheckedDecompressor(io.RawIOBase):
    """A gzip or zstd stream that keeps every byte before damage and raises on truncation
    (GzipFile loses the last buffer it was decompressing; zstandard's stream_reader stops
    silently). Several members/frames one after the other are read as one stream."""

    def __init__(self, raw, new_decompressor):
        self._raw, self._new = raw, new_decompressor
        self._dobj, self._pending, self._ended = new_decompressor(), b"", True

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not self._pending:
            compressed = self._raw.read(1 << 20)
            if not compressed:
                if not self._ended:
                    raise EOFError("compressed stream ends inside a frame (truncated file)")
                return 0
            self._pending = self._decompress(compressed)
        n = min(len(buf), len(self._pending))
        buf[:n], self._pending = self._pending[:n], self._pending[n:]
        return n

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._dobj.eof:
                self._dobj = self._new()
            out.append(self._dobj.decompress(data))
            self._ended = self._dobj.eof
            data = self._dobj.unused_data if self._dobj.eof else b""
        return b"".join(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_binary(path: str):
    fs, p = filesystem_for(path)
    raw = fs.open_input_stream(p, compression=None)
    low = path.lower()
    if low.endswith(".gz"):
        return io.BufferedReader(_CheckedDecompressor(raw, lambda: zlib.decompressobj(wbits=31)), 1 << 20)
    if low.endswith((".zst", ".zstd")):
        return io.BufferedReader(_CheckedDecompressor(raw, lambda: zstandard.ZstdDecompressor().decompressobj()), 1 << 20)
    return raw


def _open_parquet(path: str) -> pq.ParquetFile:
    fs, p = filesystem_for(path)
    return pq.ParquetFile(fs.open_input_file(p))


# ---------------------------------------------------------------------------------------
# planning (driver)

def _detect_format(path: str) -> str:
    low = path.lower()
    if low.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if low.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if low.endswith(warc.WARC_SUFFIXES):
        return "warc"
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "dataset_info.json")):
        return "hf_disk"
    raise InputError(f"{path}: cannot tell the format from the name; set input.format")


def expand_paths(patterns: List[str]) -> List[str]:
    """Expand globs and directories; a pattern that matches nothing is an error.

    An existing path is taken literally, so file names holding glob characters work as given.
    """
    out: List[str] = []
    for pat in patterns:
        if "://" in pat:
            out.extend(_expand_remote(pat))
            continue
        is_glob = not os.path.exists(pat) and any(c in pat for c in _GLOB_CHARS)
        matches = sorted(glob.glob(pat, recursive=True)) if is_glob else ([pat] if os.path.exists(pat) else [])
        if not matches:
            raise InputError(f"input path {pat!r}: {'glob matches no file' if is_glob else 'no such file or directory'}")
        for m in matches:
            if os.path.isdir(m) and not os.path.exists(os.path.join(m, "dataset_info.json")):
                out.extend(_files_in_directory(m))
            else:
                out.append(m)
    return [p if "://" in p else os.path.abspath(p) for p in out]  # `source` names the file wherever it is read


def _files_in_directory(directory: str) -> List[str]:
    files = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden like glob: .tmp-*, .cache
        files += [os.path.join(root, n) for n in names
                  if not n.startswith(".") and n.lower().endswith(_JSONL_SUFFIXES + _PARQUET_SUFFIXES + warc.WARC_SUFFIXES)]
    files.sort()
    if not files:
        raise InputError(f"input directory {directory!r} holds no .jsonl/.parquet/.warc files")
    return files


def _expand_remote(pattern: str) -> List[str]:
    import fnmatch

    import pyarrow.fs as pafs
    fs, p = filesystem_for(pattern)
    scheme = pattern.split("://", 1)[0]
    exists = fs.get_file_info(p).type != pafs.FileType.NotFound
    if exists or not any(c in p for c in _GLOB_CHARS):
        if not exists:
            raise InputError(f"input path {pattern!r}: not found")
        return [pattern]
    base = p.split("*", 1)[0].rsplit("/", 1)[0]
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    hits = sorted(f"{scheme}://{i.path}" for i in infos if i.is_file and fnmatch.fnmatch(i.path, p))
    if not hits:
        raise InputError(f"input path {pattern!r}: glob matches no file")
    return hits


def _spec_id(path: str, start: int, end: int) -> str:
    return "u" + hashlib.sha1(f"{os.path.abspath(path) if '://' not in path else path}:{start}:{end}".encode()).hexdigest()[:12]


def _plan_jsonl(path: str, opts: ReadOptions) -> List[ReadSpec]:
    if path.lower().endswith(_COMPRESSED_SUFFIXES):
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
    try:
        md = _open_parquet(path).metadata
    except pa.ArrowInvalid:
        # No readable footer: one spec for the whole file; its reader quarantines the file.
        return [ReadSpec(_spec_id(path, 0, -1), "parquet", path)]
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


def _plan_warc(path: str, opts: ReadOptions) -> List[ReadSpec]:
    """Byte ranges of a gzipped WARC (each worker reads the members starting in its range:
    ``xcurate.engine.warc``); a plain WARC is read whole."""
    fs, p = filesystem_for(path)
    size = fs.get_file_info(p).size or 0
    if not warc.is_gzip(path) or size <= opts.unit_bytes:
        return [ReadSpec(_spec_id(path, 0, -1), "warc", path)]
    step = -(-size // -(-size // opts.unit_bytes))  # equal ranges balance the workers
    bounds = list(range(0, size, step)) + [-1]
    return [ReadSpec(_spec_id(path, a, b), "warc", path, a, b) for a, b in zip(bounds, bounds[1:])]


_PLANNERS = {"jsonl": _plan_jsonl, "parquet": _plan_parquet, "hf_disk": _plan_hf_disk, "warc": _plan_warc}


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
        try:
            specs.extend(_PLANNERS[fmt](path, opts))
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
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
    """Whole lines of the first ``limit`` bytes (of what is readable: damage is the reader's business)."""
    parts, size, complete = [], 0, False
    with _open_binary(path) as f:
        try:
            while size < limit:
                part = f.read(min(1 << 16, limit - size))
                if not part:
                    complete = True
                    break
                parts.append(part)
                size += len(part)
        except _DAMAGE_ERRORS:
            pass
    lines = b"".join(parts).split(b"\n")
    return [ln for ln in (lines if complete else lines[:-1]) if ln.strip()]


def _first_record_fields(spec: ReadSpec) -> Optional[List[str]]:
    if spec.format == "jsonl":
        for raw in _head_lines(spec.path):
            obj, _ = parse_json_line(raw)
            if isinstance(obj, BadRecord):
                continue
            return list(obj) if isinstance(obj, dict) else []
        return None  # empty file, or no parseable line in its head
    if spec.format == "parquet":
        try:
            return _open_parquet(spec.path).schema_arrow.names
        except pa.ArrowInvalid:
            return None  # unreadable: quarantined when read
    if spec.format == "hf_disk":
        import datasets
        return list(datasets.load_from_disk(spec.path).column_names)
    return None


# ---------------------------------------------------------------------------------------
# one JSON line, one record

def _without_bom(raw: bytes) -> bytes:
    return raw[3:] if raw.startswith(_BOM) else raw


def _is_blank(raw: bytes) -> bool:
    return not _without_bom(raw).strip()


def _split_lines(chunk: bytes) -> List[bytes]:
    return chunk.splitlines(keepends=True) if b"\r" in chunk else chunk.split(b"\n")


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def parse_json_line(raw: bytes) -> Tuple[Any, bool]:
    """(value, utf8_repaired) of one JSONL line; the value is a ``BadRecord`` when the line is no JSON.

    A leading byte-order mark is ignored; invalid UTF-8 is replaced by U+FFFD and flagged.
    """
    body = _without_bom(raw)
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError:
        pass
    repaired = not _valid_utf8(body)
    if repaired:
        try:
            return orjson.loads(body.decode("utf-8", "replace")), True
        except orjson.JSONDecodeError:
            pass
    return BadRecord("malformed_json", {"error": "malformed JSON"}), repaired


def _json_type(value: Any) -> str:
    for kind, name in ((type(None), "null"), (bool, "boolean"), ((int, float), "number"), (str, "string"),
                       (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


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

    def add_corrupt(self, damage: CorruptInput) -> None:
        """The unreadable rest of the file, as one quarantined row naming path, offset and error."""
        meta = orjson.dumps({"path": self.spec.path, **damage.where, "error": damage.error}).decode()
        self.add(xxhash.xxh3_128_hexdigest(meta), "", meta, drop_reason=CORRUPT_FILE)

    def full(self) -> bool:
        return len(self.ids) >= self.opts.unit_rows or self.nbytes >= self.opts.unit_bytes

    def finish(self) -> Iterator[pa.Table]:
        """The last unit; a spec without any record still yields one (empty) unit."""
        if self.ids or self.k == 0:
            yield self.flush()

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
    return orjson.dumps(extra, default=str, option=orjson.OPT_SORT_KEYS).decode() if extra else None


def _record_to_doc(obj: Any, opts: ReadOptions, b: _UnitBuilder, raw_line: str, line_no: Optional[int],
                   repaired: bool) -> None:
    where = {"line": line_no} if line_no is not None else {}
    if not isinstance(obj, dict):
        b.add(None, raw_line, orjson.dumps({**where, "error": f"record is {_json_type(obj)}, not an object"}).decode(),
              repaired, "malformed_record")
        return
    doc_id = obj.get(opts.id_field) if opts.id_field else None
    doc_id = None if doc_id is None else str(doc_id)
    if opts.text_field not in obj:
        b.add(doc_id, raw_line, orjson.dumps({**where, "fields": sorted(obj)}).decode(), repaired,
              "missing_text_field")
        return
    text = obj[opts.text_field]
    if not isinstance(text, str):
        b.add(doc_id, raw_line, orjson.dumps({**where, "error": f"text is {_json_type(text)}"}).decode(),
              repaired, "invalid_text")
        return
    meta = _meta_json(obj, (opts.text_field, opts.id_field, *opts.columns), opts.keep_metadata)
    b.add(doc_id, text, meta, repaired, record=obj)


def _iter_jsonl_chunks(spec: ReadSpec, opts: ReadOptions) -> Iterator[Tuple[bytes, int]]:
    """(chunk of whole lines ≤ ~unit_bytes, number of its first line); raises CorruptInput
    after the last whole line read before the damage of a compressed file."""
    if spec.path.lower().endswith(_COMPRESSED_SUFFIXES):
        yield from _iter_compressed_chunks(spec.path, opts.unit_bytes)
        return
    fs, p = filesystem_for(spec.path)
    with fs.open_input_file(p) as f:
        f.seek(spec.start)
        length = (spec.end if spec.end >= 0 else f.size()) - spec.start
        yield f.read(length), spec.first_line


def _iter_compressed_chunks(path: str, unit_bytes: int) -> Iterator[Tuple[bytes, int]]:
    buf, size, first, line_no, offset, damage = [], 0, 1, 0, 0, None
    with _open_binary(path) as f:
        try:
            for raw in f:
                line_no += 1
                buf.append(raw)
                size += len(raw)
                if size >= unit_bytes:
                    yield b"".join(buf), first
                    buf, offset, size, first = [], offset + size, 0, line_no + 1
        except _DAMAGE_ERRORS as e:
            damage = CorruptInput({"byte_offset": offset + size, "line": line_no + 1}, e)
    if buf:
        yield b"".join(buf), first
    if damage is not None:
        raise damage


# Lines that are blank (the per-line path skips them): after a newline, or the first one.
_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=[ \t\r\x0b\x0c]*(?:\n|\Z))")
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r\x0b\x0c]*(?:\n|\Z)")
_STARTS_WITH_OBJECT = re.compile(rb"[ \t\r\n]*\{")


def _record_lines(chunk: bytes) -> int:
    """Non-blank lines of a chunk: the number of records the per-line path sees."""
    blank = len(_BLANK_AFTER_NEWLINE.findall(chunk)) + (1 if _BLANK_FIRST_LINE.match(chunk) else 0)
    return chunk.count(b"\n") + 1 - blank


def _is_text_type(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _str_exact(t: pa.DataType) -> bool:
    """Types whose values turn into the same str() / JSON from pyarrow as from orjson's parse
    (a float column may hold JSON ints, a struct column gains nulls for absent keys, ISO
    strings become timestamps)."""
    return _is_text_type(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)


def _columns_as_per_line(table: pa.Table, opts: ReadOptions) -> bool:
    """Text, id and promoted columns read back as the per-line path reads them."""
    for name in table.column_names:
        col = table[name]
        if name == opts.text_field:
            ok = _is_text_type(col.type) and not col.null_count
        elif name == opts.id_field or name in opts.columns:
            ok = _str_exact(col.type) or pa.types.is_null(col.type)  # null and absent read alike
        else:
            continue
        if not ok:
            return False
    return True


def _metadata_as_per_line(table: pa.Table, opts: ReadOptions) -> bool:
    """The other fields give the per-line metadata when taken from the table (a null may stand
    for an absent key, which the per-line path leaves out)."""
    skip = {opts.text_field, opts.id_field, *opts.columns}
    return all(_str_exact(table[n].type) and not table[n].null_count for n in table.column_names if n not in skip)


def _line_metadata(chunk: bytes, opts: ReadOptions) -> Optional[List[Optional[str]]]:
    """Per-line metadata of a chunk pyarrow parsed (orjson on each line: exact for any type), or
    None when orjson refuses a line pyarrow took."""
    skip = (opts.text_field, opts.id_field, *opts.columns)
    try:
        return [_meta_json(orjson.loads(_without_bom(raw)), skip, True) for raw in _split_lines(chunk)
                if not _is_blank(raw)]
    except orjson.JSONDecodeError:
        return None


def _fast_parse(chunk: bytes, opts: ReadOptions) -> Optional[Tuple[pa.Table, Optional[List[Optional[str]]]]]:
    """Parse a clean chunk with pyarrow's C++ JSON reader: (table, per-line metadata or None
    when the table's own columns give it), or None if anything is irregular.

    The per-line Python path below is 4-5x slower on clean data (measured in
    bench/io_throughput.py), so clean chunks take this path. A chunk is only taken when the
    result is what the per-line path gives: one object per non-blank line, the text a string
    everywhere, ids of types that read back identically; anything else (a malformed line,
    invalid UTF-8, a missing or non-string text, mixed types) takes the exact per-line path,
    which quarantines bad records with their line numbers. Metadata of nested, float, date-like
    or sometimes-absent fields comes from orjson per line (pyarrow unifies their types).
    """
    import pyarrow.json as pj
    # A mark at the start of a later line makes pyarrow fail: the per-line path then reads the chunk.
    chunk = _without_bom(chunk)
    if chunk.startswith(_BOM):
        return None  # pyarrow would skip a second mark too; the per-line path calls the line malformed
    if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
        return None  # a lone CR ends a line for the per-line path, not for pyarrow
    if not _STARTS_WITH_OBJECT.match(chunk):
        return None  # pyarrow 26 crashes (segfault) on a chunk whose first value is null
    try:
        table = pj.read_json(io.BytesIO(chunk), read_options=pj.ReadOptions(block_size=max(1 << 20, len(chunk) + 1)))
        table.validate(full=True)  # pyarrow's JSON reader lets some invalid UTF-8 through into strings
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    if table.num_rows == 0 or opts.text_field not in table.column_names or table.num_rows != _record_lines(chunk):
        return None
    if not _columns_as_per_line(table, opts):
        return None
    if not opts.keep_metadata or _metadata_as_per_line(table, opts):
        return table, None
    metas = _line_metadata(chunk, opts)
    return (table, metas) if metas is not None else None


def _str_values(col) -> list:
    """str() of each value, None kept, as the per-record path does (pyarrow spells booleans differently)."""
    if _is_text_type(col.type) or pa.types.is_integer(col.type):
        return pc.cast(col, pa.string()).to_pylist()
    return [None if v is None else str(v) for v in col.to_pylist()]


def _docs_from_table(table: pa.Table, opts: ReadOptions, b: "_UnitBuilder",
                     metadata: Optional[List[Optional[str]]] = None) -> Iterator[pa.Table]:
    """Vectorised document tables from a cleanly parsed chunk (one unit per unit_rows rows);
    ``metadata`` per row when given, else built from the table's other columns."""
    if b.ids:
        yield b.flush()
    n = table.num_rows
    text = pc.cast(table[opts.text_field], pa.large_string()).combine_chunks()
    if opts.id_field and opts.id_field in table.column_names:
        ids = pa.array(_str_values(table[opts.id_field]), pa.string())
    else:
        ids = pa.array([None] * n, pa.string())
    if ids.null_count:
        ids = pa.array([i if i is not None else xxhash.xxh3_128_hexdigest(t.encode("utf-8", "surrogatepass"))
                        for i, t in zip(ids.to_pylist(), text.to_pylist())], pa.string())
    skip = {opts.text_field, opts.id_field, *opts.columns}
    extra_names = [c for c in table.column_names if c not in skip]
    if metadata is None:
        metadata = ([orjson.dumps(r, default=str, option=orjson.OPT_SORT_KEYS).decode()
                     for r in table.select(extra_names).to_pylist()] if extra_names and opts.keep_metadata else [None] * n)
    metas = pa.array(metadata, pa.string())
    too_large = pc.greater(pc.utf8_length(text), opts.max_doc_chars)
    reason = pc.if_else(too_large, pa.scalar("doc_too_large"), pa.scalar(None, pa.string()))
    columns = {"id": ids, "text": text, "source": pa.array([b.source] * n, pa.string()), "metadata": metas,
               "utf8_repaired": pa.array([False] * n, pa.bool_())}
    for fld, col in opts.columns.items():
        columns[col] = (pa.array(_str_values(table[fld]), pa.string()) if fld in table.column_names
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


def _slow_parse(chunk: bytes, first_line: int, opts: ReadOptions, b: "_UnitBuilder") -> Iterator[pa.Table]:
    for line_no, raw in enumerate(_split_lines(chunk), start=first_line):
        if _is_blank(raw):
            continue
        obj, repaired = parse_json_line(raw)
        raw_line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if isinstance(obj, BadRecord):
            b.add(None, raw_line, orjson.dumps({"line": line_no, **obj.detail}).decode(), repaired, obj.reason)
        else:
            _record_to_doc(obj, opts, b, raw_line, line_no, repaired)
        if b.full():
            yield b.flush()


def read_jsonl(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    b = _UnitBuilder(spec, opts, spec.path)
    try:
        for chunk, first_line in _iter_jsonl_chunks(spec, opts):
            parsed = _fast_parse(chunk, opts)
            if parsed is not None:
                table, metadata = parsed
                yield from _docs_from_table(table, opts, b, metadata)
            else:
                yield from _slow_parse(chunk, first_line, opts, b)
    except CorruptInput as damage:
        b.add_corrupt(damage)
    yield from b.finish()


def _read_table_records(table: pa.Table, opts: ReadOptions, b: _UnitBuilder) -> Iterator[pa.Table]:
    col = table[opts.text_field] if opts.text_field in table.column_names else None
    if col is not None and _is_text_type(col.type) and not col.null_count:
        yield from _docs_from_table(table, opts, b)
        return
    for batch in table.to_batches(max_chunksize=10_000):
        for obj in batch.to_pylist():
            _record_to_doc(obj, opts, b, "", None, False)
            if b.full():
                yield b.flush()


def _iter_row_groups(spec: ReadSpec) -> Iterator[pa.Table]:
    """The spec's row groups; raises CorruptInput (with the file row offset) at the first unreadable one."""
    where = {"row_offset": 0}
    try:
        pf = _open_parquet(spec.path)
        md = pf.metadata
        where["row_offset"] = sum(md.row_group(i).num_rows for i in range(spec.start))
        for rg in range(spec.start, spec.end if spec.end >= 0 else md.num_row_groups):
            where["row_group"] = rg
            table = pf.read_row_group(rg)
            yield table
            where["row_offset"] += table.num_rows
    except _DAMAGE_ERRORS as e:
        raise CorruptInput(dict(where), e) from None


def read_parquet(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    b = _UnitBuilder(spec, opts, spec.path)
    try:
        for table in _iter_row_groups(spec):
            yield from _read_table_records(table, opts, b)
    except CorruptInput as damage:
        b.add_corrupt(damage)
    yield from b.finish()


def read_hf_disk(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    import datasets
    ds = datasets.load_from_disk(spec.path)
    table = ds.with_format("arrow")[spec.start:spec.end] if spec.end > spec.start else pa.table({})
    b = _UnitBuilder(spec, opts, spec.path)
    yield from _read_table_records(table, opts, b)
    yield from b.finish()


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
    yield from b.finish()


WARC_COLUMNS = ("url", "warc_record_id", "date", "content_type", "charset")


class _WarcUnitBuilder(_UnitBuilder):
    """Units of WARC rows: the document columns plus the record's fields and its HTML (bytes)."""

    def _reset(self):
        super()._reset()
        self.web = {name: [] for name in WARC_COLUMNS}
        self.html: List[Optional[bytes]] = []

    def add_row(self, row: "warc.WarcRow", offset: int) -> None:
        meta = {"warc_type": row.warc_type, "offset": offset, "http_status": row.http_status, "detail": row.detail}
        meta_json = orjson.dumps({k: v for k, v in meta.items() if v is not None}).decode()
        too_large = row.html is not None and len(row.html) > self.opts.max_doc_chars
        self.add(row.record_id, row.text, meta_json, drop_reason="doc_too_large" if too_large else row.drop_reason)
        for name, value in zip(WARC_COLUMNS, (row.url, row.record_id, row.date, row.content_type, row.charset)):
            self.web[name].append(value)
        self.html.append(row.html if row.drop_reason is None else None)  # no bytes of what is not a page
        self.nbytes += len(row.html or b"")

    def add_corrupt(self, damage: CorruptInput) -> None:
        super().add_corrupt(damage)
        for values in self.web.values():
            values.append(None)
        self.html.append(None)

    def flush(self) -> pa.Table:
        web, html = self.web, self.html
        table = super().flush()
        for name, values in web.items():
            table = table.append_column(name, pa.array(values, pa.string()))
        return table.append_column("html", pa.array(html, pa.large_binary()))


def read_warc(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    """WARC/WET records (fastwarc) as rows; what is no page is dropped by ``read`` with a reason
    (warc_request, not_html, bad_http_header, http_status, ...), a cut member as corrupt_file."""
    b = _WarcUnitBuilder(spec, opts, spec.path)
    fs, p = filesystem_for(spec.path)
    with fs.open_input_file(p) as f:
        rows = (warc.range_records(f, spec.start, spec.end) if warc.is_gzip(spec.path)
                else ((0, row) for row in warc.records_of(f)))
        try:
            for offset, row in rows:
                b.add_row(row, offset)
                if b.full():
                    yield b.flush()
        except warc.MemberDamage as damage:
            b.add_corrupt(CorruptInput({"byte_offset": damage.offset}, OSError(damage.error)))
    yield from b.finish()


READERS = {"jsonl": read_jsonl, "parquet": read_parquet, "hf_disk": read_hf_disk, "hf_hub": read_hf_hub,
           "warc": read_warc}


def read_spec(spec: ReadSpec, opts: ReadOptions) -> Iterator[pa.Table]:
    return READERS[spec.format](spec, opts)


def quarantined_files(unit: pa.Table) -> List[dict]:
    """The corrupt-file entries of a unit ({path, offsets, error}), for its progress record."""
    if schema.DROP_REASON not in unit.column_names or unit.num_rows == 0:
        return []
    damaged = unit.filter(pc.and_(pc.equal(unit[schema.DROP_STAGE], READ_STAGE),
                                  pc.equal(unit[schema.DROP_REASON], CORRUPT_FILE)))
    if damaged.num_rows == 0:
        return []
    return [orjson.loads(meta) for meta in damaged["metadata"].to_pylist()]


def iter_file_records(path: str, fmt: Optional[str] = None) -> Iterator[Tuple[int, Any]]:
    """``(line or row number, record)`` of one JSONL(.gz/.zst) or Parquet file, by the reader's rules.

    A line that is no JSON comes as a ``BadRecord`` (malformed_json); a file damaged part-way
    ends with a ``BadRecord`` (corrupt_file) after the records read before the damage.
    """
    fmt = fmt or _detect_format(path)
    if fmt not in ("jsonl", "parquet"):
        raise InputError(f"{path}: format {fmt!r} is not a record file (jsonl or parquet)")
    n = 0
    try:
        if fmt == "parquet":
            for table in _iter_row_groups(ReadSpec("", fmt, path)):
                for n, record in enumerate(table.to_pylist(), n + 1):
                    yield n, record
            return
        opts = ReadOptions()
        for spec in _plan_jsonl(path, opts):
            for chunk, first_line in _iter_jsonl_chunks(spec, opts):
                for n, raw in enumerate(_split_lines(chunk), first_line):
                    if not _is_blank(raw):
                        obj, _ = parse_json_line(raw)
                        yield n, (BadRecord(obj.reason, {"line": n, **obj.detail}) if isinstance(obj, BadRecord) else obj)
    except CorruptInput as damage:
        yield damage.where.get("line", n + 1), BadRecord(CORRUPT_FILE, {"path": path, **damage.where, "error": damage.error})
