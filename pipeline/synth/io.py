"""Readers for synthetic-data inputs: bitext and instruction data.

Bitext: TSV (two columns), JSONL / Parquet / a ``datasets`` directory with two text columns
(optionally a per-row language column, as in Tatoeba), and Moses-style parallel files (one
sentence per line, two files). Instructions: Alpaca-style (``instruction``/``input``/``output``)
or chat (``messages``) records from JSONL, JSON arrays, Parquet or ``datasets`` directories.

Readers yield plain dicts. A record that cannot be used (empty side, empty instruction,
unknown per-row language) is yielded with a ``drop_reason`` so that it is counted and
quarantined; structural problems of a whole file (Moses files with different line counts,
a TSV line without two columns) raise :class:`InputFormatError` naming the file and line.
"""
from __future__ import annotations

import io
import json
import os
from typing import Any, Dict, Iterator, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xcurate.engine.io import BadRecord, iter_file_records
from xcurate.fsutil import filesystem_for


class InputFormatError(ValueError):
    """The input file does not have the declared structure (message names file and line)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BitextInput(_Strict):
    paths: List[str] = Field(..., description="files or globs; for format moses: [source_file, target_file]")
    format: Literal["auto", "tsv", "jsonl", "moses", "parquet", "hf_disk"] = "auto"
    src_lang: Optional[str] = Field(None, description="language of the source side (if not per row)")
    tgt_lang: Optional[str] = Field(None, description="language of the target side (if not per row)")
    src_field: str = "src"
    tgt_field: str = "tgt"
    src_lang_field: Optional[str] = None
    tgt_lang_field: Optional[str] = None
    id_field: Optional[str] = "id"
    split: str = "train"   # hf_disk DatasetDict split

    @model_validator(mode="after")
    def _langs_given(self):
        if not (self.src_lang or self.src_lang_field) or not (self.tgt_lang or self.tgt_lang_field):
            raise ValueError("give src_lang (or src_lang_field) and tgt_lang (or tgt_lang_field)")
        if self.format == "moses" and len(self.paths) != 2:
            raise ValueError("format moses needs paths: [source_file, target_file]")
        return self


class InstructionInput(_Strict):
    paths: List[str]
    format: Literal["auto", "jsonl", "json", "parquet", "hf_disk"] = "auto"
    schema_: Literal["auto", "alpaca", "chat"] = Field("auto", alias="schema")
    lang: str = "en"
    instruction_field: str = "instruction"
    input_field: str = "input"
    output_field: str = "output"
    messages_field: str = "messages"
    id_field: Optional[str] = "id"
    split: str = "train"


# ---------------------------------------------------------------------------------------
# file access

def open_text(path: str):
    fs, p = filesystem_for(path)
    if path.endswith(".zstd"):
        import zstandard
        raw = zstandard.ZstdDecompressor().stream_reader(fs.open_input_stream(p, compression=None))
    else:  # pyarrow decompresses .gz / .zst / .bz2 by extension
        raw = fs.open_input_stream(p, compression="detect")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n")


def detect_format(path: str, choices=("tsv", "jsonl", "json", "parquet", "hf_disk")) -> str:
    low = path.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        low = low.removesuffix(suffix)
    if os.path.isdir(path):
        return "hf_disk"
    for ext, fmt in ((".tsv", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"),
                     (".parquet", "parquet"), (".pq", "parquet")):
        if low.endswith(ext) and fmt in choices:
            return fmt
    raise InputFormatError(f"{path}: cannot tell the format from the name; set format: {' | '.join(choices)}")


def iter_records(path: str, fmt: str, split: str = "train") -> Iterator[tuple]:
    """``(line_or_row_number, record)`` for JSONL, JSON arrays, Parquet and ``datasets`` directories.

    JSONL and Parquet go through the engine's reader (``iter_file_records``): a malformed line
    or the damaged rest of a file comes as a ``BadRecord`` whose reason is the drop reason.
    """
    if fmt in ("jsonl", "parquet"):
        yield from iter_file_records(path, fmt)
    elif fmt == "json":
        with open_text(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise InputFormatError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if not isinstance(data, list):
            raise InputFormatError(f"{path}: expected a JSON array of records")
        yield from enumerate(data, 1)
    elif fmt == "hf_disk":
        import datasets
        ds = datasets.load_from_disk(path)
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise InputFormatError(f"{path}: no split {split!r} (has {', '.join(ds)})")
            ds = ds[split]
        n = 0
        for batch in ds.iter(batch_size=4096):
            keys = list(batch)
            for i in range(len(batch[keys[0]]) if keys else 0):
                n += 1
                yield n, {k: batch[k][i] for k in keys}
    else:
        raise InputFormatError(f"{path}: unsupported format {fmt!r}")


# ---------------------------------------------------------------------------------------
# bitext

def iter_bitext(spec: BitextInput, path: str, path2: Optional[str] = None) -> Iterator[Dict[str, Any]]:
    """Pairs ``{id, src_text, tgt_text, src_lang, tgt_lang, source, line, drop_reason}`` (langs as written)."""
    fmt = spec.format if spec.format != "auto" else detect_format(path)
    if fmt == "moses":
        yield from _iter_moses(spec, path, path2)
        return
    if fmt == "tsv":
        yield from _iter_tsv(spec, path)
        return
    base = os.path.basename(path)
    for n, rec in iter_records(path, fmt, spec.split):
        if isinstance(rec, BadRecord):
            yield _pair(f"{base}:{n}", None, None, None, None, path, n, rec.reason)
            continue
        if not isinstance(rec, dict):
            yield _pair(f"{base}:{n}", None, None, None, None, path, n, "not_a_record")
            continue
        rid = rec.get(spec.id_field) if spec.id_field else None
        yield _pair(str(rid) if rid is not None else f"{base}:{n}", rec.get(spec.src_field), rec.get(spec.tgt_field),
                    rec.get(spec.src_lang_field) if spec.src_lang_field else spec.src_lang,
                    rec.get(spec.tgt_lang_field) if spec.tgt_lang_field else spec.tgt_lang, path, n)


def _pair(pid, src, tgt, src_lang, tgt_lang, path, line, reason=None) -> Dict[str, Any]:
    if reason is None:
        if not isinstance(src, str) or not src.strip():
            reason = "empty_source"
        elif not isinstance(tgt, str) or not tgt.strip():
            reason = "empty_target"
        elif not src_lang or not tgt_lang:
            reason = "missing_language"
    return {"id": pid, "src_text": src.strip() if isinstance(src, str) else None,
            "tgt_text": tgt.strip() if isinstance(tgt, str) else None, "src_lang": src_lang, "tgt_lang": tgt_lang,
            "source": path, "line": line, "drop_reason": reason}


def _iter_tsv(spec: BitextInput, path: str) -> Iterator[Dict[str, Any]]:
    base = os.path.basename(path)
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 2:
                raise InputFormatError(f"{path}: line {n}: expected 2 tab-separated columns (source, target), "
                                       f"found {len(cols)}")
            yield _pair(f"{base}:{n}", cols[0], cols[1], spec.src_lang, spec.tgt_lang, path, n)


def _iter_moses(spec: BitextInput, src_path: str, tgt_path: Optional[str]) -> Iterator[Dict[str, Any]]:
    base = os.path.basename(src_path)
    with open_text(src_path) as fs_, open_text(tgt_path) as ft:
        n = 0
        while True:
            s, t = fs_.readline(), ft.readline()
            if not s and not t:
                return
            n += 1
            if not s or not t:
                short, long_ = (src_path, tgt_path) if not s else (tgt_path, src_path)
                raise InputFormatError(f"parallel files differ in length: {short} ends after line {n - 1}, "
                                       f"{long_} continues at line {n}")
            yield _pair(f"{base}:{n}", s.rstrip("\n"), t.rstrip("\n"), spec.src_lang, spec.tgt_lang, src_path, n)


# ---------------------------------------------------------------------------------------
# instructions

def iter_instructions(spec: InstructionInput, path: str) -> Iterator[Dict[str, Any]]:
    """Records ``{id, instruction, input, output, messages, source, line, drop_reason}``.

    Chat records keep their ``messages`` (list of ``{role, content}``); ``instruction`` is the
    first user turn and ``output`` the last assistant turn.
    """
    fmt = spec.format if spec.format != "auto" else detect_format(path, ("jsonl", "json", "parquet", "hf_disk"))
    base = os.path.basename(path)
    for n, rec in iter_records(path, fmt, spec.split):
        rid = f"{base}:{n}"
        if isinstance(rec, BadRecord) or not isinstance(rec, dict):
            yield _instruction(rid, "", "", "", None, path, n, getattr(rec, "reason", "not_a_record"))
            continue
        if spec.id_field and rec.get(spec.id_field) is not None:
            rid = str(rec[spec.id_field])
        schema = spec.schema_
        if schema == "auto":
            schema = "chat" if isinstance(rec.get(spec.messages_field), list) else "alpaca"
        if schema == "chat":
            yield _chat_record(rid, rec.get(spec.messages_field), path, n)
        else:
            fields = [rec.get(spec.instruction_field), rec.get(spec.input_field) or "", rec.get(spec.output_field)]
            if not all(isinstance(x, str) for x in fields):
                yield _instruction(rid, "", "", "", None, path, n, "non_string_field")
                continue
            yield _instruction(rid, *fields, None, path, n)


def _instruction(rid, instruction, input_, output, messages, path, line, reason=None) -> Dict[str, Any]:
    if reason is None:
        if not instruction.strip():
            reason = "empty_instruction"
        elif not output.strip():
            reason = "empty_output"
    return {"id": rid, "instruction": instruction.strip(), "input": input_.strip(), "output": output.strip(),
            "messages": messages, "source": path, "line": line, "drop_reason": reason}


def _chat_record(rid, messages, path, line) -> Dict[str, Any]:
    if not isinstance(messages, list) or not messages:
        return _instruction(rid, "", "", "", None, path, line, "no_messages")
    clean = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in (
                "system", "user", "assistant"):
            return _instruction(rid, "", "", "", None, path, line, "malformed_message")
        clean.append({"role": m["role"], "content": m["content"].strip()})
    users = [m["content"] for m in clean if m["role"] == "user"]
    answers = [m["content"] for m in clean if m["role"] == "assistant"]
    if not users or not users[0]:
        return _instruction(rid, "", "", "", None, path, line, "empty_instruction")
    if not answers:
        return _instruction(rid, users[0], "", "", None, path, line, "empty_output")
    return _instruction(rid, users[0], "", answers[-1], clean, path, line)
