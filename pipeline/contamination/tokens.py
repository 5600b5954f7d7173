"""Decontamination tokens and n-gram hashes: normalisation, token hashing, rolling window hashes.

Text is NFKC-casefolded (``normalize_text``) and split with ``xcurate.text.words.TOKEN_PATTERN``
(characters for no-space scripts). Whole batches are tokenized with one compiled (Rust) regex
in polars and the tokens hashed there too: per-token Python work (regex findall per document,
one xxhash call per token) was most of the decontamination stage's time
(``bench/contamination_speed.py``). Every n-gram token (index and documents) goes through this
path, so hashes are consistent even where the two regex engines' Unicode tables differ.

Window hashes are polynomial (``multi_ngram_hashes``); ``WindowHashes`` gives the hash of any
window in O(1) from prefix sums, so a batch is probed at one base size and only candidate
positions are hashed at the other sizes (``xcurate.contamination.ngram_index``).
"""
from __future__ import annotations

import unicodedata
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import regex

from xcurate.text.words import NO_SPACE_SCRIPTS, TOKEN_PATTERN

_MASK64 = (1 << 64) - 1
_POLY = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial n-gram hash


def normalize_text(text: str) -> str:
    # casefold misses Turkish: "I".casefold() is "i" but Turkish lower "ı"; "İ" gives "i" + U+0307
    return unicodedata.normalize("NFKC", text).casefold().replace("ı", "i").replace("\u0307", "")


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


def script_kind_codes(text: str) -> np.ndarray:
    """Per character: 1 a Han/Kana character, 2 a Thai/Lao/... one, 0 any other (the kinds of ``token_kind``)."""
    codes = np.zeros(len(text), dtype=np.uint8)
    for code, pattern in ((1, _IDEO_CHAR), (2, _LETTER_CHAR)):
        codes[[m.start() for m in pattern.finditer(text)]] = code
    return codes


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


_RAW_TOKEN_RE = regex.compile(TOKEN_PATTERN)


def tokens_with_spans(text: str) -> Tuple[List[str], List[Tuple[int, int]]]:
    """Normalized tokens of ``text`` with the char span of the raw token each comes from."""
    raw = [(m.group(), m.start(), m.end()) for m in _RAW_TOKEN_RE.finditer(text)]
    sub = tokenize_normalized([normalize_text(r) for r, _, _ in raw]).to_list()
    tokens, spans = [], []
    for (_, start, end), toks in zip(raw, sub):
        tokens.extend(toks)
        spans.extend([(start, end)] * len(toks))
    return tokens, spans
