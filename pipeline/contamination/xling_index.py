"""The cross-lingual index of a benchmark suite, and finding translated benchmark passages.

Documents are cut into candidate windows (``split_passages``): runs of 1–3 consecutive sentences,
so that a whole multi-sentence item fits one window; in scripts written without sentence marks
(Thai, Lao, Khmer, Burmese) the sentences are the space-separated phrases, grouped into
overlapping windows bounded in length. Benchmark items are cut the same way into units. A cheap
language-agnostic prefilter (shared numbers, Latin-script names, URLs, rare tokens:
``text_anchors``) can pick candidates; candidates and units are embedded with a multilingual
encoder (``xcurate.contamination.encoders``), the nearest unit is found by exact inner product
and scored with the Artetxe & Schwenk ratio margin (``XlingIndex.search``), and every match is
verified (``xcurate.contamination.verify``: numbers, names, calibrated cosine, mutual nearest
neighbour) into verified / candidate / rejected. The index (embeddings, margin background,
nearest other item, anchors) is built once per suite + encoder + params and cached
memory-mapped (``xcurate.contamination.cache``).
"""
from __future__ import annotations

import hashlib
import json
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import regex

from xcurate.contamination.cache import cached_artifact, load_arrays, save_arrays
from xcurate.contamination.tokens import normalize_text
from xcurate.contamination.verify import LATIN_NAME_RE, VERIFIED, WINDOWS, numbers, verify
from xcurate.text.words import split_words

_SENT_END = regex.compile(r"(?<=[.!?;:。！？；؟۔।॥።][\"'”’»)\]]*)\s+|(?<=[。！？；])|\n+")
_UNMARKED_SCRIPT = regex.compile(r"[\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")
_PHRASE_END = regex.compile(r"\s+")  # Thai & co. separate phrases and sentences by spaces
_URL_RE = regex.compile(r"(?:https?://|www\.)[^\s<>\"']+")
Span = Tuple[int, int]


def _unmarked(text: str) -> bool:
    sample = text[:2000]
    return len(_UNMARKED_SCRIPT.findall(sample)) * 3 > len(sample)


def sentence_spans(text: str, max_chars: int = 500) -> List[Span]:
    """Sentences (phrases in scripts without sentence marks); runs longer than ``max_chars`` are cut."""
    splitter = _PHRASE_END if _unmarked(text) else _SENT_END
    spans: List[Span] = []
    pos = 0
    for m in splitter.finditer(text):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        spans.append((pos, len(text)))
    out: List[Span] = []
    for a, b in spans:
        while b - a > max_chars:  # no sentence end in sight: fixed-size chunks
            out.append((a, a + max_chars))
            a += max_chars
        out.append((a, b))
    return out


def _windows(sentences: List[Span], window: int, max_chars: int, unmarked: bool,
             line_starts: Sequence[bool] = ()) -> List[Span]:
    """Runs of 1..``window`` sentences within ``max_chars``. Phrases of unmarked scripts are short
    and many: runs of up to max_chars/window, 2·max_chars/window … max_chars characters, starting
    at the first phrase after every max_chars/(2·window) characters (so every item shorter than
    about (window-1)/window·max_chars lies whole in one window), and at every line start, ending
    also at the first ``window`` line ends (an item on its own lines is then a window of its own,
    not one padded with the text around it)."""
    out: List[Span] = []
    step = max_chars // (2 * window)
    next_start = 0
    for i, (a, _) in enumerate(sentences):
        if unmarked and a < next_start and not (line_starts and line_starts[i]):
            continue
        next_start = a + step
        ends = set()
        for w in range(window):
            if unmarked:
                limit, j = a + max_chars * (w + 1) // window, i
                while j + 1 < len(sentences) and sentences[j + 1][1] <= limit:
                    j += 1
            else:
                j = i + w
                if j >= len(sentences) or (w and sentences[j][1] - a > max_chars):
                    break
            ends.add(sentences[j][1])
        if unmarked and line_starts:
            ends.update(_line_ends(sentences, line_starts, i, a + max_chars, window))
        out.extend((a, b) for b in sorted(ends))
    return out


def _line_ends(sentences: List[Span], line_starts: Sequence[bool], i: int, limit: int, count: int) -> List[int]:
    """Ends of the first ``count`` lines from sentence ``i`` on that end within ``limit``."""
    out = []
    for j in range(i, len(sentences)):
        if sentences[j][1] > limit or len(out) == count:
            break
        if j + 1 == len(sentences) or line_starts[j + 1]:
            out.append(sentences[j][1])
    return out


def split_passages(text: str, min_tokens: int = 6, max_chars: int = 500, max_passages: int = 5000,
                   window: int = 3) -> List[Span]:
    """Candidate windows (start, end): 1..``window`` consecutive sentences (see ``_windows``) with at
    least ``min_tokens`` tokens; at most ``max_passages`` (bounded cost per document)."""
    sentences = sentence_spans(text, max_chars)
    unmarked = _unmarked(text)
    line_starts = [i == 0 or "\n" in text[sentences[i - 1][1]:a] for i, (a, _) in enumerate(sentences)] \
        if unmarked else ()
    spans = _windows(sentences, max(1, window), max_chars, unmarked, line_starts)
    out = [(a, b) for a, b in spans if len(split_words(text[a:b])) >= min_tokens]
    return out[:max_passages]


def text_anchors(text: str) -> set:
    """Language-agnostic cues a translation keeps: numbers (any digit script, separators dropped),
    URLs, capitalised Latin-script words (names), and the plain words (for rarity filtering)."""
    out = {"#" + n for n in numbers(text)}
    for u in _URL_RE.findall(text):
        out.add("u:" + u.lower().rstrip(".,;)"))
    for w in LATIN_NAME_RE.findall(text):
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
    """Benchmark units (windows of 1–3 sentences of an item) with embeddings, margin background
    (``unit_bg``), cosine to the nearest unit of another item (``unit_nn``) and anchors."""

    def __init__(self, emb, unit_bg, unit_nn, offsets, postings, anchors, unit_texts, items_meta, encoder_name,
                 unit_tokens):
        self.emb, self.unit_bg, self.unit_nn, self.offsets, self.postings = emb, unit_bg, unit_nn, offsets, postings
        self.anchors, self.unit_tokens = anchors, unit_tokens
        self.unit_texts, self.items_meta, self.encoder_name = unit_texts, items_meta, encoder_name

    @classmethod
    def build(cls, suite, encoder, k: int = 4, min_tokens: int = 6, max_chars: int = 500,
              max_df: float = 0.002, window: int = 3) -> "XlingIndex":
        unit_of: Dict[str, int] = {}
        unit_items: List[set] = []
        for idx, item in enumerate(suite.items):
            for unit in _item_units(item, min_tokens, max_chars, window):
                u = unit_of.setdefault(unit, len(unit_of))
                if u == len(unit_items):
                    unit_items.append(set())
                unit_items[u].add(idx)
        if not unit_of:
            raise ValueError(f"{suite.source}: no benchmark sentence has >= {min_tokens} tokens to embed")
        texts = list(unit_of)
        emb = encoder.encode(texts)
        item_keys = [(it.benchmark, it.item_id) for it in suite.items]
        unit_bg, unit_nn = _background(emb, _text_sharing_groups(unit_items, item_keys), k)
        lens = np.array([len(s) for s in unit_items], dtype=np.int64)
        offsets = np.append(0, np.cumsum(lens)).astype(np.int64)
        postings = np.array([i for s in unit_items for i in sorted(s)], dtype=np.int32)
        anchors = _rare_anchors(texts, max_df)
        meta = [(it.benchmark, it.item_id, it.language) for it in suite.items]
        unit_tokens = np.array([len(split_words(t)) for t in texts], dtype=np.int32)
        return cls(emb, unit_bg, unit_nn, offsets, postings, anchors, texts, meta, encoder.name, unit_tokens)

    def save(self, path: str) -> None:
        blob = json.dumps({"units": self.unit_texts, "meta": self.items_meta, "encoder": self.encoder_name})
        save_arrays(path, {"emb": self.emb, "unit_bg": self.unit_bg, "unit_nn": self.unit_nn, "offsets": self.offsets,
                           "postings": self.postings, "anchors": self.anchors, "unit_tokens": self.unit_tokens,
                           "blob": np.frombuffer(blob.encode(), dtype=np.uint8)})

    @classmethod
    def load(cls, path: str) -> "XlingIndex":
        z = load_arrays(path)
        blob = json.loads(bytes(z["blob"]).decode())
        return cls(z["emb"], z["unit_bg"], z["unit_nn"], z["offsets"], z["postings"], z["anchors"], blob["units"],
                   [tuple(m) for m in blob["meta"]], blob["encoder"], z["unit_tokens"])

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


def _item_units(item, min_tokens: int, max_chars: int, window: int) -> List[str]:
    """Windows of each segment, and windows over the segments laid out one per line (an MC question
    and its options, a premise and its choices: a document shows them as lines or run-on, and its
    windows of 1–3 lines or sentences then meet an item window of the same lines)."""
    units = [seg[a:b] for _, seg in item.segments for a, b in split_passages(seg, min_tokens, max_chars, 10_000,
                                                                             window)]
    if len(item.segments) > 1:
        joined = "\n".join(seg for _, seg in item.segments)
        units += [joined[a:b] for a, b in split_passages(joined, min_tokens, max_chars, 10_000, window)]
        whole = " ".join(seg for _, seg in item.segments)
        if len(whole) <= max_chars and len(split_words(whole)) >= min_tokens:
            units.append(whole)
    return list(dict.fromkeys(units))


def _text_sharing_groups(unit_items: List[set], item_keys: Sequence[tuple]) -> np.ndarray:
    """Group id per unit: items joined when they are one item (its translations share
    ``item_keys``) or share a unit's text (the questions of one XQuAD or Belebele passage),
    transitively (union-find)."""
    parent: Dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_of_key: Dict[tuple, int] = {}
    for i, key in enumerate(item_keys):
        parent[root(i)] = root(first_of_key.setdefault(key, i))
    for items in unit_items:
        first, *rest = sorted(items)
        for other in rest:
            parent[root(other)] = root(first)
    return np.array([root(min(items)) for items in unit_items], dtype=np.int64)


def _background(emb: np.ndarray, gid: np.ndarray, k: int, chunk: int = 2048) -> Tuple[np.ndarray, np.ndarray]:
    """Mean cosine of each unit to its k nearest units of *other* groups (``_text_sharing_groups``):
    the item-side term of the ratio margin; and the cosine to the nearest one. Items that share
    text are not each other's background: else every question of a shared passage would sit next
    to a copy of itself, its margin near 1, and a verbatim translation of the passage be missed."""
    n = len(emb)
    bg = np.zeros(n, dtype=np.float32)
    nn = np.zeros(n, dtype=np.float32)
    kk = min(k, max(n - 1, 1))
    for s in range(0, n, chunk):
        sims = emb[s:s + chunk] @ emb.T
        sims[gid[s:s + chunk, None] == gid[None, :]] = -1.0
        if n <= 1:
            continue
        top = -np.partition(-sims, kk - 1, axis=1)[:, :kk]
        bg[s:s + chunk] = top.mean(axis=1)
        nn[s:s + chunk] = top.max(axis=1)
    return bg, nn


def _rare_anchors(texts: Sequence[str], max_df: float) -> np.ndarray:
    df: Dict[str, int] = {}
    for t in texts:
        for a in text_anchors(t):
            df[a] = df.get(a, 0) + 1
    limit = max(2, int(max_df * len(texts)))
    keep = [a for a, c in df.items() if c <= limit or a[0] in "#uL" and c <= 4 * limit]
    return anchor_hashes(keep) if keep else np.zeros(0, dtype=np.uint64)


def xling_index_for(suite, encoder, encoder_id: str, cache_dir: Optional[str] = None, k: int = 4,
                    min_tokens: int = 6, max_chars: int = 500, max_df: float = 0.002, window: int = 3) -> XlingIndex:
    """The suite's cross-lingual index under ``encoder`` (``encoder_id``: its cache identity), built once."""
    conf = (k, min_tokens, max_chars, max_df, window)
    key = hashlib.sha256(f"xling-v4|{suite.fingerprint}|{encoder_id}|{conf}".encode()).hexdigest()[:24]
    return cached_artifact(key, lambda: XlingIndex.build(suite, encoder, *conf), XlingIndex.load,
                           lambda idx, p: idx.save(p), cache_dir)


# --------------------------------------------------------------------------- matching

class Match(NamedTuple):
    score: float  # ratio margin
    cosine: float
    start: int
    end: int
    confidence: str  # verify.VERIFIED | verify.CANDIDATE
    signal: str  # what decided (verify.verify)


class Verification(NamedTuple):
    """Match thresholds: ratio margin and cosine floors, and the encoder's calibrated cosines
    (``short_verified_cosine`` replaces ``verified_cosine`` for units of fewer than
    ``short_unit_tokens`` tokens; None: no separate bar)."""
    threshold: float
    min_cosine: float
    verified_cosine: float
    anchored_cosine: float
    keep_candidates: bool = False
    short_verified_cosine: Optional[float] = None
    short_unit_tokens: int = 8

    def verified_cosine_for(self, unit_tokens: int) -> float:
        short = self.short_verified_cosine is not None and unit_tokens < self.short_unit_tokens
        return self.short_verified_cosine if short else self.verified_cosine


def candidate_passages(index: XlingIndex, texts: Sequence[Optional[str]], min_tokens: int, max_chars: int,
                       max_passages: int, prefilter: bool, stats: Optional[Dict[str, int]] = None,
                       window: int = 3):
    """(doc, start, end) of the windows to embed (after the anchor prefilter, when on)."""
    out = []
    passages = 0
    for d, t in enumerate(texts):
        if not t:
            continue
        for a, b in split_passages(t, min_tokens, max_chars, max_passages, window):
            passages += 1
            if not prefilter or index.has_anchor(text_anchors(t[a:b])):
                out.append((d, a, b))
    if stats is not None:
        stats["passages"] = stats.get("passages", 0) + passages
        stats["embedded"] = stats.get("embedded", 0) + len(out)
    return out


class Scored(NamedTuple):
    """A candidate window and its best benchmark unit (``XlingIndex.search``)."""
    doc: int
    start: int
    end: int
    unit: int
    margin: float
    cosine: float


def score_passages(index: XlingIndex, encoder, texts: Sequence[Optional[str]],
                   candidates: Sequence[Tuple[int, int, int]], k: int,
                   embeddings: Optional[np.ndarray] = None) -> List[Scored]:
    """Embed the candidate windows (unless ``embeddings`` of them are given) and find each one's
    best unit: the expensive step."""
    if not candidates:
        return []
    q = encoder.encode([texts[d][a:b] for d, a, b in candidates]) if embeddings is None else embeddings
    units, margins, cosines = index.search(q, k)
    return [Scored(d, a, b, u, m, c) for (d, a, b), u, m, c in zip(candidates, units.tolist(), margins.tolist(),
                                                                   cosines.tolist())]


def select_matches(index: XlingIndex, texts: Sequence[Optional[str]], scored: Sequence[Scored],
                   check: Verification, languages: Optional[Sequence[Optional[str]]] = None
                   ) -> Dict[int, Dict[int, Match]]:
    """doc → {item number: best verified (or, with ``check.keep_candidates``, candidate) match};
    with ``languages``, items in the passage's own language are skipped. Cheap: thresholds can be
    refitted on the same ``scored`` rows (``bench/xling_eval.py``)."""
    found: Dict[int, Dict[int, Match]] = {}
    anchored: Dict[Tuple[int, int], List[Match]] = {}  # candidates near an item, for window agreement
    for d, a, b, u, m, c in scored:
        if m < check.threshold or c < check.min_cosine:
            continue
        confidence, signal = verify(index.unit_texts[u], texts[d][a:b], c, float(index.unit_nn[u]),
                                    check.verified_cosine_for(int(index.unit_tokens[u])), check.anchored_cosine)
        if confidence is None:
            continue
        match = Match(m, c, a, b, confidence, signal)
        for item in index.items_of(u).tolist():
            if languages is not None and index.items_meta[item][2] == (languages[d] or ""):
                continue
            if confidence != VERIFIED and c >= check.anchored_cosine and c > float(index.unit_nn[u]):
                anchored.setdefault((d, item), []).append(match)
            if confidence == VERIFIED or check.keep_candidates:
                _keep_best(found, d, item, match)
    for (d, item), matches in anchored.items():
        if disjoint_pair(matches):
            best = max(matches, key=lambda x: x.score)
            _keep_best(found, d, item, best._replace(start=min(x.start for x in matches),
                                                      end=max(x.end for x in matches), confidence=VERIFIED,
                                                      signal=WINDOWS))
    return {d: per for d, per in found.items() if per}


def disjoint_pair(matches: Sequence[Match]) -> bool:
    """Two windows of one document that do not overlap (independent evidence for one item)."""
    return min(x.end for x in matches) <= max(x.start for x in matches)


def _keep_best(found: Dict[int, Dict[int, Match]], d: int, item: int, match: Match) -> None:
    prev = found.setdefault(d, {}).get(item)
    if prev is None or _rank(match.confidence, match.score) > _rank(prev.confidence, prev.score):
        found[d][item] = match


def match_passages(index: XlingIndex, encoder, texts: Sequence[Optional[str]],
                   candidates: Sequence[Tuple[int, int, int]], k: int, check: Verification,
                   languages: Optional[Sequence[Optional[str]]] = None) -> Dict[int, Dict[int, Match]]:
    """``score_passages`` then ``select_matches``."""
    return select_matches(index, texts, score_passages(index, encoder, texts, candidates, k), check, languages)


def _rank(confidence: str, margin: float) -> Tuple[bool, float]:
    return confidence == VERIFIED, margin
