"""MinHash batch kernels: normalisation, shingles, signatures, band keys (used by ``minhash_dedup``).

Kernels (whole batches, no Python loop per shingle in fast mode):

* normalisation as datatrove's MinHash: lowercase, numbers -> ``0``, diacritics removed
  (NFD, combining marks dropped after letters of alphabets only: abugida vowel signs are kept,
  ``xcurate.text.normalize``); punctuation and whitespace vanish in tokenisation;
* tokens: the same tokens as ``xcurate.text.words.split_words`` (character tokens for scripts
  written without spaces), produced by polars with that regex so the whole batch is split
  in Rust (``split_words`` per document was measured at ~6 MB/s with normalisation,
  polars at ~24 MB/s); ``tests/test_dedup_kernels.py`` checks both give the same tokens;
* shingles: word n-grams (default 5); a document with fewer tokens than ``n`` gets one
  shingle of all its tokens, an empty one none (it never near-duplicates anything);
* signatures: datasketch's ``affine32`` scheme (datasketch >= 2.0 default): 32-bit shingle
  hash, MurmurHash3 ``fmix32``, then ``a*h + b mod 2**32`` with ``a, b`` drawn exactly as
  ``datasketch.MinHash(num_perm, seed)`` draws them.
  - ``hash_mode="datasketch"``: the shingle hash is datasketch's ``sha1_hash32`` of the
    UTF-8 shingle (tokens joined by one space), so signatures equal
    ``datasketch.MinHash(num_perm, seed).update_batch(shingles)`` bit for bit (verification mode;
    one SHA-1 per shingle in Python, ~1-2 MB/s).
  - ``hash_mode="fast"``: each token is hashed once by polars (64-bit, seeded), an n-gram hash
    is combined from its token hashes with numpy (order-sensitive multiply/add, ``fmix64``) and
    folded to 32 bits. Same permutations and estimator as datasketch, different shingle hash:
    signatures differ from datasketch's but estimate the same Jaccard similarity. Polars'
    string hash is stable within a polars version only, so the version is part of the
    intermediate fingerprint.
* band keys: ``bands`` x ``rows`` of the signature, each band hashed to 64 bits (salted with
  the band index and, with ``scope="language"``, the language).
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np

from xcurate.text.normalize import strip_diacritics_series
from xcurate.text.words import TOKEN_PATTERN

# datatrove's NUMBERS_PATTERN (digits of any script, optional decimal part).
NUMBER_PATTERN = r"\p{Nd}+([.,،٫⎖⎗⎘]\p{Nd}+)?"

_U32 = np.uint32
_U64 = np.uint64
_NGRAM_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x27D4EB2F165667C5, 0x94D049BB133111EB],
    dtype=_U64)


# ---------------------------------------------------------------------------- hashing


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finaliser (as datasketch's affine32 pre-mix)."""
    h = h.astype(_U32, copy=True)
    h ^= h >> _U32(16)
    h *= _U32(0x85EBCA6B)
    h ^= h >> _U32(13)
    h *= _U32(0xC2B2AE35)
    h ^= h >> _U32(16)
    return h


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser: an avalanching bijection on uint64."""
    h = h.astype(_U64, copy=True)
    h ^= h >> _U64(33)
    h *= _U64(0xFF51AFD7ED558CCD)
    h ^= h >> _U64(33)
    h *= _U64(0xC4CEB9FE1A85EC53)
    h ^= h >> _U64(33)
    return h


def datasketch_permutations(num_perm: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of ``datasketch.MinHash(num_perm, seed, scheme="affine32")``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=_U32)
    return a, b


def sha1_hash32(data: bytes) -> int:
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


# ---------------------------------------------------------------------- text -> tokens


@dataclass(frozen=True)
class NormConfig:
    lowercase: bool = True
    numbers: bool = True
    diacritics: bool = True


def normalize_series(texts, norm: NormConfig):
    """Vectorised datatrove-style normalisation of a batch of texts (a polars Series)."""
    import polars as pl

    s = texts if isinstance(texts, pl.Series) else pl.Series("text", texts, dtype=pl.String)
    s = s.fill_null("")
    if norm.lowercase:
        s = s.str.to_lowercase()
    if norm.numbers:
        s = s.str.replace_all(NUMBER_PATTERN, "0")
    if norm.diacritics:
        s = strip_diacritics_series(s)
    return s


def tokenize_series(texts, norm: NormConfig):
    """Normalised tokens per document (polars ``list[str]`` Series)."""
    return normalize_series(texts, norm).str.extract_all(TOKEN_PATTERN)


# ---------------------------------------------------------------------- shingles


def _shingle_starts(lens: np.ndarray, n: int) -> Tuple[np.ndarray, np.ndarray]:
    """Flat token positions where shingles start, and the document of each shingle.

    A document with ``L >= n`` tokens has shingles at its tokens ``0..L-n``; one with
    ``0 < L < n`` a single shingle at its first token; an empty one none.
    """
    num_docs = len(lens)
    doc_start = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    per_doc = np.where(lens >= n, lens - n + 1, np.minimum(lens, 1)).astype(np.int64)
    shingle_doc = np.repeat(np.arange(num_docs, dtype=np.int64), per_doc)
    first_of_doc = np.concatenate([[0], np.cumsum(per_doc)[:-1]]).astype(np.int64)
    offset_in_doc = np.arange(len(shingle_doc), dtype=np.int64) - np.repeat(first_of_doc, per_doc)
    return np.repeat(doc_start, per_doc) + offset_in_doc, shingle_doc


def fast_shingle_hashes(tokens, n: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """32-bit shingle hashes of a batch and the document index of each (sorted by document).

    The n-gram hash at every token position is ``fmix64(sum_k token_hash[j+k] * M_k)`` with
    distinct odd multipliers (order-sensitive), built from shifted slices of the flat
    token-hash array: no per-shingle Python work and no gathers. Shingles of documents with
    at least ``n`` tokens never cross a document boundary; the single shingle of a shorter
    document is recomputed with the tokens past its end masked out.
    """
    lens = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    starts, shingle_doc = _shingle_starts(lens, n)
    if len(starts) == 0:
        return np.empty(0, _U32), shingle_doc
    flat = tokens.explode().drop_nulls()
    if len(flat) != int(lens.sum()):  # pragma: no cover - polars semantics guard
        raise RuntimeError("token explode lost or added rows")
    token_hash = flat.hash(seed=seed).to_numpy().astype(_U64, copy=False)
    total = len(token_hash)
    multipliers = [_NGRAM_MULTIPLIERS[k % len(_NGRAM_MULTIPLIERS)] for k in range(n)]
    combined = token_hash * multipliers[0]
    for k in range(1, min(n, total)):
        combined[:total - k] += token_hash[k:] * multipliers[k]
    shingle = combined[starts]
    short = lens[shingle_doc] < n
    if short.any():
        s_start, s_len = starts[short], lens[shingle_doc[short]]
        acc = np.zeros(len(s_start), dtype=_U64)
        for k in range(n):
            inside = k < s_len
            acc += np.where(inside, token_hash[np.where(inside, s_start + k, 0)] * multipliers[k], _U64(0))
        shingle[short] = acc
    mixed = fmix64(shingle)
    return ((mixed >> _U64(32)) ^ mixed).astype(_U32), shingle_doc


def shingle_strings(token_lists: Sequence[Sequence[str]], n: int) -> List[List[bytes]]:
    """UTF-8 shingles (tokens joined by a space) per document, the datasketch-mode input."""
    out = []
    for toks in token_lists:
        if len(toks) >= n:
            out.append([" ".join(toks[i:i + n]).encode("utf-8") for i in range(len(toks) - n + 1)])
        elif toks:
            out.append([" ".join(toks).encode("utf-8")])
        else:
            out.append([])
    return out


def datasketch_shingle_hashes(tokens, n: int) -> Tuple[np.ndarray, np.ndarray]:
    per_doc = shingle_strings(tokens.to_list(), n)
    hashes = np.fromiter((sha1_hash32(s) for doc in per_doc for s in doc), dtype=_U32)
    doc = np.repeat(np.arange(len(per_doc), dtype=np.int64), [len(d) for d in per_doc])
    return hashes, doc


# ---------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class MinHashSpec:
    ngram_size: int = 5
    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    seed: int = 1
    hash_mode: Literal["fast", "datasketch"] = "fast"
    norm: NormConfig = NormConfig()


def shingle_hashes(texts, spec: MinHashSpec) -> Tuple[np.ndarray, np.ndarray, int]:
    """(32-bit shingle hashes, their document index, number of documents) of a batch."""
    tokens = tokenize_series(texts, spec.norm)
    if spec.hash_mode == "datasketch":
        h, doc = datasketch_shingle_hashes(tokens, spec.ngram_size)
    else:
        h, doc = fast_shingle_hashes(tokens, spec.ngram_size, spec.seed)
    return h, doc, len(tokens)


def minhash_from_hashes(hashes: np.ndarray, doc: np.ndarray, num_docs: int,
                        spec: MinHashSpec, chunk: int = 1 << 21) -> Tuple[np.ndarray, np.ndarray]:
    """Signatures (num_docs x num_perm uint32) and a mask of documents that have one.

    Permutations run one at a time over all shingles of the batch (a (shingles x perms)
    matrix was 12x slower: it does not fit in cache). Very long documents are processed in
    chunks of shingles so memory stays bounded.
    """
    a, b = datasketch_permutations(spec.num_perm, spec.seed)
    sig = np.full((num_docs, spec.num_perm), np.iinfo(_U32).max, dtype=_U32)
    has_sig = np.zeros(num_docs, dtype=bool)
    if len(hashes) == 0:
        return sig, has_sig
    mixed_all = fmix32(hashes)
    for lo in range(0, len(mixed_all), chunk):
        mixed, docs = mixed_all[lo:lo + chunk], doc[lo:lo + chunk]
        seg_start = np.flatnonzero(np.concatenate([[True], docs[1:] != docs[:-1]]))
        seg_doc = docs[seg_start]
        tmp = np.empty(len(mixed), dtype=_U32)
        for k in range(spec.num_perm):
            np.multiply(mixed, a[k], out=tmp)
            tmp += b[k]
            # seg_doc is unique within a chunk; a document cut by a chunk edge is merged by min.
            sig[seg_doc, k] = np.minimum(sig[seg_doc, k], np.minimum.reduceat(tmp, seg_start))
        has_sig[seg_doc] = True
    return sig, has_sig


def signatures(texts, spec: MinHashSpec) -> Tuple[np.ndarray, np.ndarray]:
    h, doc, n = shingle_hashes(texts, spec)
    return minhash_from_hashes(h, doc, n, spec)


def band_keys(sig: np.ndarray, bands: int, rows: int, salt: Optional[np.ndarray] = None) -> np.ndarray:
    """64-bit key per (document, band): equal bands give equal keys (num_docs x bands)."""
    keys = np.empty((sig.shape[0], bands), dtype=_U64)
    base = np.zeros(sig.shape[0], dtype=_U64) if salt is None else salt.astype(_U64)
    for band in range(bands):
        k = fmix64(base + _U64(((band + 1) * 0x9E3779B97F4A7C15) % (1 << 64)))
        for col in range(band * rows, (band + 1) * rows):
            k = fmix64((k * _U64(0x100000001B3)) ^ sig[:, col].astype(_U64))
        keys[:, band] = k
    return keys


def string_salt(values: Sequence[Optional[str]]) -> np.ndarray:
    """A 64-bit salt per value (e.g. per language) stable across processes and versions."""
    cache: Dict[Optional[str], int] = {}
    out = np.empty(len(values), dtype=_U64)
    for i, v in enumerate(values):
        if v not in cache:
            cache[v] = int.from_bytes(hashlib.blake2b((v or "").encode(), digest_size=8).digest(), "little")
        out[i] = cache[v]
    return out


def optimal_bands_rows(threshold: float, num_perm: int) -> Tuple[int, int]:
    """Bands and rows minimising FP+FN area around ``threshold`` (datasketch's routine)."""
    from datasketch.lsh import _optimal_param
    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def unique_shingle_sets(texts, spec: MinHashSpec) -> List[np.ndarray]:
    """Sorted unique 32-bit shingle hashes per document (for exact Jaccard checks)."""
    h, doc, n = shingle_hashes(texts, spec)
    bounds = np.searchsorted(doc, np.arange(n + 1))
    return [np.unique(h[bounds[i]:bounds[i + 1]]) for i in range(n)]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 and len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
