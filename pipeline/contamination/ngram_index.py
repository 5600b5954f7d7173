"""The same-language n-gram index of a benchmark suite, and matching documents against it.

Word n-grams (default 13; an item segment shorter than that but with at least ``min_ngram``
tokens counts as one n-gram of its own length, as in GPT-3 / NeMo Curator's task
decontamination) over the tokens of ``xcurate.contamination.tokens`` (characters for no-space
scripts: 32 Han/Kana, 64 Thai/Lao/... characters). The index (sorted unique n-gram hashes →
posting lists of item numbers) is built once per suite + params and cached memory-mapped
(``xcurate.contamination.cache``). A batch is tokenized and hashed in one polars pass, window
hashes come from prefix sums (``WindowHashes``), every position is probed once per base size
against a bit filter of n-gram prefixes, and only the candidates are hashed at every size and
``searchsorted``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xcurate.contamination.cache import cached_artifact, load_arrays, save_arrays
from xcurate.contamination.tokens import (WindowHashes, hash_version, normalize_text, token_hashes, token_kind,
                                          tokenize_normalized, tokens_with_spans)

_FILTER_BITS = 27  # 16 MiB bit filter


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


def ngram_index_for(suite, cache_dir: Optional[str] = None, **sizes) -> NgramIndex:
    """The suite's index for these sizes (``NgramIndex.build`` keywords), built once and cached."""
    sizes = {k: int(v) for k, v in sizes.items()}
    key = hashlib.sha256(f"ngram-v5|{hash_version()}|{suite.fingerprint}|{sorted(sizes.items())}".encode())
    return cached_artifact(key.hexdigest()[:24], lambda: NgramIndex.build(suite, **sizes),
                           NgramIndex.load, lambda idx, p: idx.save(p), cache_dir)


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


# A kept piece of an edited text: (start, end) in the original text, start in the edited text.
Piece = Tuple[int, int, int]
PIECE_SEPARATOR = "\n\n"


def remove_spans(text: str, windows: Sequence[Tuple[int, int]], spans: Sequence[Tuple[int, int]], margin: int,
                 max_pieces: int, min_remaining_chars: int) -> Tuple[str, Optional[str], List[Piece]]:
    """``text`` without the matched n-gram windows ((first token, n), widened by ``margin`` chars),
    the pieces joined by blank lines: (new text, None, kept pieces), or (text, why not, []) when too
    much would be cut. The pieces map offsets of the original text into the new one
    (:func:`edited_position`)."""
    cuts = merge_ranges([(max(0, spans[s][0] - margin), min(len(text), spans[s + n - 1][1] + margin))
                         for s, n in windows])
    bounds, pos = [], 0
    for a, b in cuts + [(len(text), len(text))]:
        piece = text[pos:a]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            bounds.append((pos + lead, pos + lead + len(piece.strip())))
        pos = max(pos, b)
    if len(bounds) > max_pieces:
        return text, "too_many_pieces", []
    remaining = PIECE_SEPARATOR.join(text[a:b] for a, b in bounds)
    if len(remaining) < min_remaining_chars:
        return text, "too_short_after_removal", []
    pieces, new_start = [], 0
    for a, b in bounds:
        pieces.append((a, b, new_start))
        new_start += b - a + len(PIECE_SEPARATOR)
    return remaining, None, pieces


def edited_position(pieces: Sequence[Piece], pos: int, end: bool = False) -> int:
    """Where offset ``pos`` of the original text lies in the edited one. Inside a kept piece: its
    place there; inside a cut: the end of the piece before it, or with ``end`` the start of the
    piece after it, so a match that was cut spans the separator that replaced it."""
    edited = 0
    for a, b, start in pieces:
        if pos < a:
            return start if end else edited
        if pos <= b:
            return start + pos - a
        edited = start + b - a
    return edited
