"""Same-language fuzzy matching of documents against benchmark items (the translated-suite route).

A suite's items in language L (the originals, human translations named in the suite, or machine
translations made once on the suite side: ``xcurate.contamination.translations``) are matched
against documents of any language by character n-gram containment: a translation of an item made
by another translator or an MT model shares most of the item's rare character n-grams, a text on
the same topic shares few. Text is lowercased, everything but letters, digits and combining
marks is removed (so positions map back to the raw text), and cut into character n-grams
(5 for spaced scripts, 3 for Han/Kana, 4 for Thai/Lao/Khmer/Myanmar/Tibetan).

The units of an item are its segments, or all of them joined when none is long enough to stand
alone (an MC question and its options, a premise and its choices). N-grams found in more than
``max_fanout`` units of one language (or ``max_total_fanout`` in all) are dropped: common letter
sequences, boilerplate; the rare ones are the evidence, and the cost of a document position is the
number of units its n-gram names. A batch is scored in one vectorised pass: window hashes from
prefix sums (``tokens.WindowHashes``), a bit filter, a bucketed key lookup; (document, unit) pairs
whose document holds at least ``min_containment`` of the unit's n-grams are candidates, and only
those are scored exactly: the share of the unit's distinct n-grams inside the best document span
of about the unit's length (``containment``). Cost is linear in the corpus and memory flat in it;
the verification (``verify.verify_same_language``, the encoder's cosine) runs on candidates only.
"""
from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from xcurate.contamination.cache import cached_artifact, load_arrays, save_arrays
from xcurate.contamination.tokens import WindowHashes, hash_version, script_kind_codes, token_kind, words

_FILTER_BITS = 26
GRAM_SIZES = {"word": 5, "ideographic": 3, "letter": 4}
MIN_UNIT_GRAMS = 40  # a segment with fewer n-grams counts only as part of its whole item (measured:
# single XCOPA choices such as "He took a deep breath." recur across items and documents)


# Texts are matched in runs of about this many characters: the sorts and lookups of a run stay in
# the CPU caches. Measured on 18 MB of UD documents, one process: 8.5 MB/s per core at 110k characters per run,
# 5.5 at 2.2M, 2.9 at a whole 18 MB unit (the engine's batch).
MATCH_CHUNK_CHARS = 100_000

_TABLE_SIZE = 0x30000  # BMP and SMP; code points above are kept as they are


@functools.lru_cache(maxsize=1)
def _fold_table() -> np.ndarray:
    """code point → its lowercase (when one code point), or 0 when not a letter, digit or mark."""
    table = np.zeros(_TABLE_SIZE, dtype=np.uint32)
    for cp in range(_TABLE_SIZE):
        ch = chr(cp)
        if unicodedata.category(ch)[0] in "LNM":
            low = ch.lower()
            table[cp] = ord(low) if len(low) == 1 else cp
    return table


@functools.lru_cache(maxsize=1)
def _script_table() -> np.ndarray:
    """code point → 1 Han/Kana, 2 Thai/Lao/Khmer/Myanmar/Tibetan, 0 other (``tokens.script_kind_codes``)."""
    return script_kind_codes("".join(map(chr, range(_TABLE_SIZE))))


# n-gram size → the script code a document must contain for units of that size to be looked up in it
_SIZE_SCRIPT = {GRAM_SIZES["ideographic"]: 1, GRAM_SIZES["letter"]: 2}


class Compact(NamedTuple):
    """A batch as folded code points (letters, digits, marks; lowercase), concatenated."""
    cps: np.ndarray      # uint64 code points
    offset: np.ndarray   # raw char offset of each in its own text
    doc_of: np.ndarray   # text number of each
    lengths: np.ndarray  # code points kept per text


def compact_texts(texts: Sequence[Optional[str]]) -> Compact:
    """Lowercased letters/digits/marks of every text with their raw offsets: one numpy pass over
    the batch's UTF-32 (a polars regex replace plus lowercase measured 3x slower)."""
    texts = [t or "" for t in texts]
    raw_len = np.array([len(t) for t in texts], dtype=np.int64)
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    table = _fold_table()
    folded = np.where(cps < _TABLE_SIZE, table[np.minimum(cps, _TABLE_SIZE - 1)], cps)
    keep = np.nonzero(folded)[0]
    raw_doc = np.repeat(np.arange(len(texts)), raw_len)
    raw_start = np.concatenate(([0], np.cumsum(raw_len)[:-1]))
    doc_of = raw_doc[keep]
    return Compact(folded[keep].astype(np.uint64), keep - raw_start[doc_of], doc_of,
                   np.bincount(doc_of, minlength=len(texts)).astype(np.int64))


def _bit_filter(keys: np.ndarray) -> np.ndarray:
    bits = np.zeros(1 << (_FILTER_BITS - 3), dtype=np.uint8)
    low = np.asarray(keys) & np.uint64((1 << _FILTER_BITS) - 1)
    np.bitwise_or.at(bits, (low >> np.uint64(3)).astype(np.int64), np.uint8(1) << (low & np.uint64(7)).astype(np.uint8))
    return bits


def _maybe(bits: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    low = hashes & np.uint64((1 << _FILTER_BITS) - 1)
    return ((bits[(low >> np.uint64(3)).astype(np.int64)] >> (low & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)


def unit_gram_size(text: str) -> int:
    return GRAM_SIZES[token_kind(words(text))]


def copy_share(unit_text: str, passage: str) -> float:
    """Share of ALL the unit's distinct character n-grams (common ones too) found in ``passage``.
    The index scores rare n-grams only; a short unit may keep a dozen, and a sentence that shares
    its opening words ("До сих пор не могу поверить, что ...") then holds 0.9 of them. A copy
    holds nearly all n-grams, common or rare."""
    n = unit_gram_size(unit_text)
    batch = compact_texts([unit_text, passage])
    unit, text = np.split(batch.cps, [int(batch.lengths[0])])
    grams = np.unique(WindowHashes(unit).all(n))
    if not len(grams):
        return 0.0
    return float(np.isin(grams, WindowHashes(text).all(n)).mean())


JOIN_BELOW_CHARS = MIN_UNIT_GRAMS + 4  # items whose segments are all shorter are matched joined


def item_units(item) -> List[Tuple[str, bool]]:
    """The texts an item is matched by, each with whether it stands for the whole item: each segment,
    and all of them joined when every segment is too short to stand alone (an MC question and its
    options, a premise and its choices). Otherwise the longest segment (a QA context) stands for the
    item: joining it with each question would copy it into one unit per question, and its
    n-grams would then look common (``max_fanout``)."""
    segments = list(dict.fromkeys(seg for _, seg in item.segments))
    if len(segments) == 1:
        return [(segments[0], True)]
    longest = max(len(seg) for seg in segments)
    if longest >= JOIN_BELOW_CHARS:
        return [(seg, len(seg) == longest) for seg in segments]
    return [(seg, False) for seg in segments] + [("\n".join(segments), True)]


class Hit(NamedTuple):
    doc: int
    unit: int
    containment: float  # share of the unit's n-grams in the best span
    start: int          # raw char span of that span
    end: int


class FuzzyIndex:
    """Character n-gram keys → posting lists of units; units → items (their languages and texts)."""

    def __init__(self, keys, offsets, postings, unit_grams, unit_size, unit_chars, unit_offsets, unit_postings,
                 unit_texts, items_meta):
        self.keys, self.offsets, self.postings = np.asarray(keys), np.asarray(offsets), np.asarray(postings)
        unit_grams, unit_size, unit_chars = np.asarray(unit_grams), np.asarray(unit_size), np.asarray(unit_chars)
        self.unit_grams = unit_grams      # distinct kept n-grams per unit (0: not matched alone)
        self.unit_size = unit_size        # n-gram size per unit
        self.unit_chars = unit_chars      # compact length per unit (the scoring span)
        self.unit_offsets, self.unit_postings = unit_offsets, unit_postings
        self.unit_texts = unit_texts
        self.items_meta = items_meta      # [(benchmark, item_id, language, origin)]
        self.sizes = sorted({int(s) for s in np.unique(unit_size)}) if len(unit_size) else []
        self._bits = _bit_filter(self.keys)
        # key lookup by the hash's top bits: a bucket holds ~1 key, so a probe is a few gathers
        # (searchsorted over all keys was a third of the matching time)
        self._shift = np.uint64(64 - min(max(int(len(self.keys)).bit_length() + 1, 8), 28))
        self._bucket = np.searchsorted(self.keys >> self._shift,
                                       np.arange((1 << (64 - int(self._shift))) + 1, dtype=np.uint64))

    def items_of(self, unit: int) -> np.ndarray:
        return self.unit_postings[self.unit_offsets[unit]:self.unit_offsets[unit + 1]]

    @classmethod
    def build(cls, items: Sequence, max_fanout: int = 4, max_total_fanout: int = 24) -> "FuzzyIndex":
        unit_of: Dict[Tuple[str, str], int] = {}
        unit_items: List[List[int]] = []
        whole: List[bool] = []
        for idx, item in enumerate(items):
            for text, is_whole in item_units(item):
                u = unit_of.setdefault((item.language, text), len(unit_of))
                if u == len(unit_items):
                    unit_items.append([])
                    whole.append(False)
                unit_items[u].append(idx)
                whole[u] = whole[u] or is_whole
        texts = [t for _, t in unit_of]
        if not texts:  # a suite without translations: nothing to match
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty.astype(np.uint64), np.zeros(1, np.int64), empty.astype(np.int32), empty.astype(np.int32),
                       empty, empty.astype(np.int32), np.zeros(1, np.int64), empty.astype(np.int32), [], [])
        sizes = np.array([unit_gram_size(t) for t in texts], dtype=np.int64)
        batch = compact_texts(texts)
        compact = np.split(batch.cps, np.cumsum(batch.lengths)[:-1]) if len(texts) else []
        hashes, owners = [], []
        for u, (cps, n) in enumerate(zip(compact, sizes.tolist())):
            alone = whole[u] or len(cps) - n + 1 >= MIN_UNIT_GRAMS  # else never matched: not indexed
            h = np.unique(WindowHashes(cps).all(n)) if alone and len(cps) >= n \
                else np.empty(0, np.uint64)
            hashes.append(h)
            owners.append(np.full(len(h), u, dtype=np.int32))
        h = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
        o = np.concatenate(owners) if owners else np.empty(0, np.int32)
        order = np.lexsort((o, h))
        h, o = h[order], o[order]
        keys, starts, fan = np.unique(h, return_index=True, return_counts=True)
        # common n-grams: in more than max_fanout units of one language, or more than max_total_fanout
        # units (a name shared by the translations of one item is rare in each language: it stays)
        lang_code = {lang: i for i, lang in enumerate(sorted({lang for lang, _ in unit_of}))}
        unit_lang = np.array([lang_code[lang] for lang, _ in unit_of], dtype=np.int64)
        key_no = np.repeat(np.arange(len(keys)), fan)
        per_lang, n_per_lang = _sorted_unique(key_no * len(lang_code) + unit_lang[o], counts=True)
        worst = np.zeros(len(keys), dtype=np.int64)
        np.maximum.at(worst, per_lang // len(lang_code), n_per_lang)
        good = (worst <= max_fanout) & (fan <= max_total_fanout)
        keys = keys[good]
        o = o[np.repeat(good, fan)]
        offsets = np.append(0, np.cumsum(fan[good])).astype(np.int64)
        unit_grams = np.bincount(o, minlength=len(texts)).astype(np.int32)
        # the n-grams a unit needs to be matched: 0 = never alone (a short part of a longer item)
        unit_need = np.where(np.array(whole) | (unit_grams >= MIN_UNIT_GRAMS), unit_grams, 0).astype(np.int32)
        unit_chars = batch.lengths.astype(np.int32)
        lens = np.array([len(x) for x in unit_items], dtype=np.int64)
        unit_offsets = np.append(0, np.cumsum(lens)).astype(np.int64)
        unit_postings = np.array([i for x in unit_items for i in x], dtype=np.int32)
        meta = [(it.benchmark, it.item_id, it.language, getattr(it, "origin", "original")) for it in items]
        return cls(keys, offsets, o.astype(np.int32), unit_need, sizes, unit_chars, unit_offsets, unit_postings,
                   texts, meta)

    def save(self, path: str) -> None:
        blob = json.dumps({"units": self.unit_texts, "meta": self.items_meta})
        save_arrays(path, {"keys": self.keys, "offsets": self.offsets, "postings": self.postings,
                           "unit_grams": self.unit_grams, "unit_size": self.unit_size, "unit_chars": self.unit_chars,
                           "unit_offsets": self.unit_offsets, "unit_postings": self.unit_postings,
                           "blob": np.frombuffer(blob.encode(), dtype=np.uint8)})

    @classmethod
    def load(cls, path: str) -> "FuzzyIndex":
        z = load_arrays(path)
        blob = json.loads(bytes(z["blob"]).decode())
        return cls(z["keys"], z["offsets"], z["postings"], z["unit_grams"], z["unit_size"], z["unit_chars"],
                   z["unit_offsets"], z["unit_postings"], blob["units"], [tuple(m) for m in blob["meta"]])

    # ----------------------------------------------------------------------- matching

    def _hits(self, cps: np.ndarray, doc_of: np.ndarray):
        """(doc, unit, position, key) of every indexed n-gram in the concatenated batch. Units of
        Han/Kana or Thai/Lao/... items are looked up only in documents holding a character of that
        script: elsewhere their n-grams could only be digits or Latin fragments of the unit (and the
        two extra hash passes over every document were a third of the matching time)."""
        wh = WindowHashes(cps)
        scripts = None
        out = []
        for n in self.sizes:
            if n in _SIZE_SCRIPT:
                if scripts is None:
                    scripts = _script_table()[np.minimum(cps, _TABLE_SIZE - 1).astype(np.int64)]
                has = np.bincount(doc_of[scripts == _SIZE_SCRIPT[n]], minlength=int(doc_of[-1]) + 1) > 0
                pos = np.nonzero(has[doc_of[:len(cps) - n + 1]])[0] if len(cps) >= n else np.empty(0, np.int64)
                h = np.zeros(len(cps), dtype=np.uint64)
                h[pos] = wh.at(pos, n)
                pos = pos[_maybe(self._bits, h[pos])]
            else:
                h = wh.all(n)
                pos = np.nonzero(_maybe(self._bits, h))[0]
            pos = pos[doc_of[pos] == doc_of[pos + n - 1]]
            pos, key = self._lookup(h, pos)
            fan = self.offsets[key + 1] - self.offsets[key]
            first = np.repeat(self.offsets[key], fan)
            within = np.arange(int(fan.sum())) - np.repeat(np.cumsum(fan) - fan, fan)
            units = self.postings[first + within]
            pos, key = np.repeat(pos, fan), np.repeat(key, fan)
            right = np.asarray(self.unit_size)[units] == n  # a unit is scored at its own size only
            out.append((doc_of[pos[right]], units[right], pos[right], key[right]))
        if not out:
            return (np.empty(0, np.int64),) * 4
        return tuple(np.concatenate([o[i] for o in out]) for i in range(4))

    def _lookup(self, h: np.ndarray, pos: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(positions whose hash is a key, that key's number)."""
        hp = h[pos]
        b = (hp >> self._shift).astype(np.int64)
        at, end = self._bucket[b], self._bucket[b + 1]
        key = np.full(len(hp), -1, dtype=np.int64)
        live = np.nonzero(at < end)[0]
        while len(live):
            same = self.keys[at[live]] == hp[live]
            key[live[same]] = at[live[same]]
            live = live[~same]
            at[live] += 1
            live = live[at[live] < end[live]]
        ok = key >= 0
        return pos[ok], key[ok]

    def match(self, texts: Sequence[Optional[str]], min_containment: float = 0.3) -> List[Hit]:
        """Every (document, unit) whose best span holds at least ``min_containment`` of the unit's n-grams."""
        if not len(self.keys):
            return []
        hits = []
        for lo, hi in _chunks([len(t or "") for t in texts], MATCH_CHUNK_CHARS):
            hits += [h._replace(doc=h.doc + lo) for h in self._match_chunk(texts[lo:hi], min_containment)]
        return hits

    def _match_chunk(self, texts: Sequence[Optional[str]], min_containment: float) -> List[Hit]:
        batch = compact_texts(texts)
        if not len(batch.cps):
            return []
        doc, unit, pos, key = self._hits(batch.cps, batch.doc_of)
        if not len(doc):
            return []
        n_units = len(self.unit_grams)
        pair = doc.astype(np.int64) * n_units + unit
        # distinct keys per (document, unit): an upper bound of the containment of any span
        distinct = _sorted_unique(pair * len(self.keys) + key)
        pairs, counts = _sorted_unique(distinct // len(self.keys), counts=True)
        grams = np.asarray(self.unit_grams)[pairs % n_units]
        cand = pairs[(counts >= np.maximum(min_containment * grams, 3)) & (grams > 0)]
        if not len(cand):
            return []
        sel = np.isin(pair, cand)
        rank = np.searchsorted(cand, pair[sel])  # small numbers: the composite below cannot overflow
        order = np.argsort(rank * (len(batch.cps) + 1) + pos[sel])
        pair_s, pos_s, key_s = pair[sel][order], pos[sel][order], key[sel][order]
        bounds = np.append(np.nonzero(np.diff(pair_s))[0] + 1, len(pair_s))
        hits, lo = [], 0
        for hi in bounds.tolist():
            d, u = divmod(int(pair_s[lo]), n_units)
            width = int(self.unit_chars[u] * 1.5) + 20
            share, a, b = _best_span(pos_s[lo:hi], key_s[lo:hi], width, int(self.unit_size[u]))
            share /= int(self.unit_grams[u])
            if share >= min_containment:
                hits.append(Hit(d, u, float(share), int(batch.offset[a]), int(batch.offset[b]) + 1))
            lo = hi
        return hits


def _chunks(lengths: Sequence[int], budget: int) -> List[Tuple[int, int]]:
    """Consecutive [lo, hi) runs of texts of about ``budget`` characters (a long text is a run alone)."""
    runs, lo, size = [], 0, 0
    for i, n in enumerate(lengths):
        if size and size + n > budget:
            runs.append((lo, i))
            lo, size = i, 0
        size += n
    if lo < len(lengths):
        runs.append((lo, len(lengths)))
    return runs


def _sorted_unique(a: np.ndarray, counts: bool = False):
    """``np.unique`` by sorting (numpy 2's hash-based unique measured 10x slower on these int64 keys)."""
    a = np.sort(a, kind="stable")
    first = np.ones(len(a), dtype=bool)
    first[1:] = a[1:] != a[:-1]
    if not counts:
        return a[first]
    starts = np.nonzero(first)[0]
    return a[starts], np.diff(np.append(starts, len(a)))


def _best_span(pos: np.ndarray, key: np.ndarray, width: int, n: int) -> Tuple[int, int, int]:
    """Most distinct keys among hits within ``width`` characters: (count, first position, last char)."""
    counts: Dict[int, int] = {}
    best, best_a, best_b, lo = 0, 0, 0, 0
    p, k = pos.tolist(), key.tolist()
    for hi in range(len(p)):
        counts[k[hi]] = counts.get(k[hi], 0) + 1
        while p[hi] - p[lo] > width:
            c = counts[k[lo]] - 1
            if c:
                counts[k[lo]] = c
            else:
                del counts[k[lo]]
            lo += 1
        if len(counts) > best:
            best, best_a, best_b = len(counts), p[lo], p[hi] + n - 1
    return best, best_a, best_b


def fuzzy_index_for(items: Sequence, fingerprint: str, cache_dir: Optional[str] = None,
                    max_fanout: int = 4) -> FuzzyIndex:
    """The fuzzy index of ``items`` (a suite with its translations; ``fingerprint`` names them), cached."""
    key = hashlib.sha256(f"fuzzy-v7|{hash_version()}|{fingerprint}|{max_fanout}|{sorted(GRAM_SIZES.items())}"
                         .encode()).hexdigest()[:24]
    return cached_artifact(key, lambda: FuzzyIndex.build(items, max_fanout), FuzzyIndex.load,
                           lambda idx, p: idx.save(p), cache_dir)
