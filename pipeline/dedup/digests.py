"""Exact-duplicate kernels: vectorised text normalisation and 128-bit digests (used by ``exact_dedup``)."""
from __future__ import annotations

import hashlib
from typing import Optional, Sequence, Tuple

import numpy as np


def normalize_exact(texts, params):
    """Normalised texts of a batch (polars Series), vectorised."""
    import polars as pl

    s = texts if isinstance(texts, pl.Series) else pl.Series("text", texts, dtype=pl.String)
    s = s.fill_null("")
    if params.lowercase:
        s = s.str.to_lowercase()
    if params.normalize_digits:
        s = s.str.replace_all(r"\p{Nd}", "0")
    if params.strip_punctuation:
        s = s.str.replace_all(r"[\p{P}\p{S}]+", " ")
    if params.normalize_whitespace:
        s = s.str.replace_all(r"\s+", " ").str.strip_chars()
    return s


def text_digests(normalized: Sequence[str], scopes: Optional[Sequence[Optional[str]]] = None
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high 64 bits, low 64 bits, non-empty mask) of BLAKE2b-128 over scope + text.

    128 bits so that a billion-document corpus has no realistic chance of a false match.
    """
    n = len(normalized)
    hi = np.zeros(n, np.uint64)
    lo = np.zeros(n, np.uint64)
    non_empty = np.zeros(n, bool)
    for i, text in enumerate(normalized):
        if not text:
            continue
        h = hashlib.blake2b(digest_size=16)
        if scopes is not None:
            h.update((scopes[i] or "").encode() + b"\x00")
        h.update(text.encode("utf-8", "surrogatepass"))
        d = h.digest()
        hi[i] = int.from_bytes(d[:8], "little")
        lo[i] = int.from_bytes(d[8:], "little")
        non_empty[i] = True
    return hi, lo, non_empty
