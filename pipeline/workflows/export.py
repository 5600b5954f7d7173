"""``xcurate export OUTDIR --tokenizer T --format megatron|parquet-tokens -o EXPORT``: token ids for a trainer.

Reads a finished OUTDIR (``require_complete``: an incomplete one is refused) shard by shard
in Ray tasks, tokenizes the text (no special tokens; ``--eod-id`` appends an end-of-document
id, as Megatron-LM's ``preprocess_data.py --append-eod`` does) and writes, per language:

* ``megatron``: ``EXPORT/<language>_text_document.bin/.idx``, Megatron-LM's indexed dataset
  (``MMIDIDX`` version 1: dtype code, sequence and document counts, int32 sequence lengths,
  int64 byte pointers, int64 document indices; one sequence per document; ``uint16`` tokens
  when the vocabulary has fewer than 65,500 ids, else ``int32``, Megatron's own rule). Each
  shard's task writes a part; a task per language concatenates the parts and writes the index.
* ``parquet-tokens``: ``EXPORT/data/language=<language>/<shard>.parquet`` with ``id``,
  ``language``, ``input_ids`` (list of int32) and ``n_tokens``.

``EXPORT/export.json`` holds the tokenizer (kind, name, fingerprint), the files and the token
table (documents and tokens per language), which is also printed.
"""
from __future__ import annotations

import logging
import os
import posixpath
import struct
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xcurate import fsutil
from xcurate.engine.cluster import init_ray
from xcurate.engine.console import log_dir_for, ray_output_to
from xcurate.engine.outdir import check_plain_output, require_complete
from xcurate.errors import UserError
from xcurate.mix.tokens import ResolvedTokenizer, TokenCounter, guess_tokenizer_kind, resolve_tokenizer

FORMATS = ("megatron", "parquet-tokens")
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
_BATCH_DOCS = 1024
_PARTS_DIR = "_parts"


def megatron_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)


def write_megatron_index(path: str, lengths: np.ndarray, dtype: np.dtype) -> None:
    """A Megatron-LM ``.idx`` for one sequence per document."""
    lengths = np.asarray(lengths, dtype=np.int32)
    pointers = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    doc_index = np.arange(len(lengths) + 1, dtype=np.int64)
    header = MEGATRON_MAGIC + struct.pack("<Q", 1) + struct.pack("<B", MEGATRON_DTYPE_CODES[dtype])
    header += struct.pack("<Q", len(lengths)) + struct.pack("<Q", len(doc_index))
    fsutil.atomic_write_bytes(header + lengths.tobytes() + pointers.tobytes() + doc_index.tobytes(), path)


def _tokenize_shard(outdir: str, shard: str, export_dir: str, fmt: str, tok: ResolvedTokenizer,
                    eod_id: Optional[int]) -> dict:
    """One Ray task: a shard's token ids to a Megatron part or a tokenized Parquet file."""
    counter = TokenCounter(tok)
    fs, p = fsutil.filesystem_for(fsutil.join(outdir, shard))
    table = pq.read_table(fs.open_input_file(p), columns=["id", "text", "language"])
    ids: List[List[int]] = []
    for start in range(0, table.num_rows, _BATCH_DOCS):
        ids += counter.encode(table["text"].slice(start, _BATCH_DOCS).to_pylist())
    if eod_id is not None:
        ids = [list(x) + [eod_id] for x in ids]
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    language = table["language"][0].as_py() if table.num_rows else "und"
    stem = posixpath.basename(shard)[: -len(".parquet")]
    if fmt == "megatron":
        dtype = megatron_dtype(counter.vocab_size)
        flat = np.fromiter((t for x in ids for t in x), dtype=dtype, count=int(lengths.sum()))
        path = fsutil.join(export_dir, _PARTS_DIR, language, f"{stem}.bin")
        fsutil.atomic_write_bytes(flat.tobytes(), path)
    else:
        path = fsutil.join(export_dir, "data", f"language={language}", f"{stem}.parquet")
        out = pa.table({"id": table["id"], "language": table["language"],
                        "input_ids": pa.array(ids, pa.list_(pa.int32())), "n_tokens": pa.array(lengths)})
        fsutil.atomic_write_parquet(out, path)
    return {"shard": shard, "language": language, "path": path, "lengths": lengths.astype(np.int32)}


def _join_megatron_parts(parts: List[dict], prefix: str, dtype_name: str) -> dict:
    """One Ray task per language: concatenate its shards' parts into ``prefix.bin`` and write ``prefix.idx``."""
    dtype = np.dtype(dtype_name)
    fs, p = fsutil.filesystem_for(prefix + ".bin")
    with fs.open_output_stream(p + ".tmp") as out:
        for part in parts:
            pfs, pp = fsutil.filesystem_for(part["path"])
            with pfs.open_input_stream(pp) as f:
                while chunk := f.read(1 << 24):
                    out.write(chunk)
    fs.move(p + ".tmp", p)
    lengths = np.concatenate([part["lengths"] for part in parts]) if parts else np.zeros(0, np.int32)
    write_megatron_index(prefix + ".idx", lengths, dtype)
    for part in parts:
        pfs, pp = fsutil.filesystem_for(part["path"])
        pfs.delete_file(pp)
    return {"bin": prefix + ".bin", "idx": prefix + ".idx"}


def export(outdir: str, export_dir: str, tokenizer: str, fmt: str = "megatron", tokenizer_kind: str = "auto",
           eod_id: Optional[int] = None, address: Optional[str] = None) -> dict:
    """Tokenize a finished OUTDIR into ``export_dir``; returns what ``export.json`` holds."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    manifest = require_complete(outdir)
    kind = guess_tokenizer_kind(tokenizer) if tokenizer_kind == "auto" else tokenizer_kind
    tok = resolve_tokenizer(kind, tokenizer)
    vocab = TokenCounter(tok).vocab_size
    if eod_id is not None and not 0 <= eod_id < vocab:
        raise UserError(f"--eod-id {eod_id}: outside the tokenizer's vocabulary (0..{vocab - 1})")
    started = time.time()
    outdir, export_dir = _absolute(outdir), _absolute(export_dir)  # Ray workers need not share our cwd
    check_plain_output(export_dir, inputs=[outdir], what="export",
                       own_files=("export.json", "data", _PARTS_DIR, "*_text_document.bin", "*_text_document.idx"))
    fsutil.makedirs(export_dir)
    with ray_output_to(log_dir_for(export_dir)) as ray_log:  # Ray's own output: EXPORT/logs/ray.log
        info = _export_on_ray(outdir, export_dir, manifest, fmt, tok, vocab, eod_id, address)
    info["seconds"] = round(time.time() - started, 3)
    if ray_log:
        info["ray_log"] = ray_log
    fsutil.atomic_write_json(info, fsutil.join(export_dir, "export.json"))
    return info


def _export_on_ray(outdir: str, export_dir: str, manifest: dict, fmt: str, tok: ResolvedTokenizer, vocab: int,
                   eod_id: Optional[int], address: Optional[str]) -> dict:
    ray = init_ray(address)
    shards = sorted(s["path"] for s in manifest["shards"])
    task = ray.remote(num_cpus=1)(_tokenize_shard)
    results = ray.get([task.remote(outdir, s, export_dir, fmt, tok, eod_id) for s in shards])
    by_language: Dict[str, List[dict]] = {}
    for r in results:
        by_language.setdefault(r["language"], []).append(r)
    files = [r["path"] for r in results]
    if fmt == "megatron":
        join = ray.remote(num_cpus=1)(_join_megatron_parts)
        dtype = megatron_dtype(vocab).name
        joined = ray.get([join.remote(parts, fsutil.join(export_dir, f"{lang}_text_document"), dtype)
                          for lang, parts in sorted(by_language.items())])
        files = [f for j in joined for f in (j["bin"], j["idx"])]
        fs, p = fsutil.filesystem_for(fsutil.join(export_dir, _PARTS_DIR))
        fs.delete_dir(p)
    table = {lang: {"documents": int(sum(len(p["lengths"]) for p in parts)),
                    "tokens": int(sum(int(p["lengths"].sum()) for p in parts))}
             for lang, parts in sorted(by_language.items())}
    info = {"source": outdir, "format": fmt, "tokenizer": tok.to_dict(), "vocab_size": vocab, "eod_id": eod_id,
            "languages": table, "documents": sum(v["documents"] for v in table.values()),
            "tokens": sum(v["tokens"] for v in table.values()), "files": files}
    return info


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def token_table(info: dict) -> str:
    from tabulate import tabulate
    rows = [[lang, v["documents"], v["tokens"], f"{v['tokens'] / max(v['documents'], 1):.1f}"]
            for lang, v in info["languages"].items()]
    rows.append(["total", info["documents"], info["tokens"], f"{info['tokens'] / max(info['documents'], 1):.1f}"])
    return tabulate(rows, headers=["language", "documents", "tokens", "tokens/doc"], tablefmt="simple")


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="token ids of a finished OUTDIR for a trainer (Megatron .bin/.idx or tokenized Parquet)",
        description="Tokenize a finished xcurate OUTDIR per language on Ray: Megatron-LM indexed datasets "
                    "(<language>_text_document.bin/.idx) or Parquet with input_ids; prints the token table.")
    p.add_argument("outdir", metavar="OUTDIR", help="a finished `xcurate run` output directory")
    p.add_argument("--tokenizer", required=True,
                   help="Hugging Face tokenizer id, dir or tokenizer.json; tiktoken encoding or .tiktoken file; "
                        "SentencePiece .model")
    p.add_argument("--tokenizer-kind", default="auto", choices=["auto", "hf", "tiktoken", "sentencepiece"],
                   help="how to load --tokenizer (default: %(default)s, from its name)")
    p.add_argument("--format", default="megatron", choices=FORMATS, help="default: %(default)s")
    p.add_argument("-o", "--output", required=True, help="EXPORT directory")
    p.add_argument("--eod-id", type=int, default=None, help="append this token id to every document")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else a local Ray)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args) -> int:
    info = export(args.outdir, args.output, args.tokenizer, args.format, args.tokenizer_kind, args.eod_id,
                  args.address)
    print(token_table(info))
    print(f"wrote {len(info['files'])} files to {args.output} in {info['seconds']:.1f}s "
          f"(tokenizer {info['tokenizer']['kind']}:{info['tokenizer']['name']}); {args.output}/export.json",
          file=sys.stdout)
    if info.get("ray_log"):
        logging.getLogger(__name__).info("Ray log: %s", info["ray_log"])
    return 0
