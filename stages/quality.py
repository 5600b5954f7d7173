"""``quality``: datatrove's Gopher / Gopher-repetition / C4 / FineWeb heuristics, per language.

Decisions follow datatrove 0.10's ``GopherRepetitionFilter``, ``GopherQualityFilter``,
``C4QualityFilter`` (split on lines) and ``FineWebQualityFilter`` check by check (same order,
same reasons), computed once per document with C-level string operations and one word list
shared by the filters: regex profiles that follow spaCy's rule tokenizers (datatrove's), memoised per
whitespace chunk (``xcurate.text.words.word_tokenizer``; ``tokenizer.engine: spacy`` for spaCy's own);
``tests/test_quality.py`` holds the decisions to >=99% agreement with datatrove's own objects
on real documents of 26 languages.

Settings are data, in profiles. ``profile: fineweb2`` (default): FineWeb-2's filters (Gopher
repetition, FineWeb, Gopher quality; no C4) with its thresholds fitted per language, converted from
FineWeb-2's configs by ``bench/build_fineweb2_settings.py``: ``configs/languages/quality/
_default.yaml`` <- ``_scripts/<Script>.yaml`` <- ``<lang_Script>.yaml`` <- the stage's ``overrides``.
``profile: datatrove_defaults``: datatrove's constructor defaults (tuned on English) for every
language (``quality/datatrove_defaults/``), the settings ``tests/test_quality.py`` compares with
datatrove's own filters. The language comes from the ``language`` column (``langid``), else
``default_language``; ``xcurate calibrate-quality`` fits a settings folder (``settings_dir``) from
a reference corpus for languages or domains the shipped settings do not cover.

Six rules of the ``fineweb2`` profile are ours, each measured in ``bench/quality_eval.py`` and off in
``datatrove_defaults``: stop words count as distinct words (``stop_words_count``), a Guiraud word-diversity
floor catches keyword lists (``min_word_diversity``), the line-share checks measure documents of one
or two lines per sentence (``sentence_units_below_lines``), a top n-gram's characters include only
the spaces the text has (``top_n_gram_spaces: text``: none between Han/kana/Thai character tokens), n-gram
shares of a short document are taken of at least ``ngram_share_min_chars`` characters, and a language
without a stop-word check drops documents not in its script (``script_check_without_stop_words``).
The settings files also carry data rules of ``bench/build_fineweb2_settings.py``: ``min_stop_words`` is
2, 1 or 0 (off) as the language's stop-word list lets >= 99% of its reference documents pass, and noise
thresholds FineWeb-2 fitted on < 10,000 documents are no looser than the script's median; each file's
header records the measurement.

Like datatrove, C4 removes the lines it rejects and later filters see the shortened text;
``c4_rewrite_text`` (default on) also writes it to the ``text`` column of kept documents.
"""
from __future__ import annotations

import re
from array import array
from functools import cached_property, lru_cache
from itertools import accumulate, count, repeat
from pathlib import Path
from typing import Any, Collection, Dict, Iterator, List, Literal, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import regex
import yaml
from pydantic import Field

from xcurate.engine.registry import register
from xcurate.text.words import NO_SPACE_CLASS, dominant_scripts, quality_words, word_tokenizer
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns
from xcurate.resources import data_path

QUALITY_CONFIG_DIR = data_path("languages", "quality")
FILTER_NAMES = ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")
PROFILE_DIRS = {"fineweb2": QUALITY_CONFIG_DIR, "datatrove_defaults": QUALITY_CONFIG_DIR / "datatrove_defaults"}
# The filters each profile runs, in order: FineWeb-2's pipeline runs no C4 filter.
PROFILE_FILTERS = {"fineweb2": ("gopher_repetition", "fineweb_quality", "gopher_quality"),
                   "datatrove_defaults": FILTER_NAMES}
SETTING_SECTIONS = FILTER_NAMES + ("tokenizer",)

# datatrove.utils.text.PUNCTUATION / TERMINAL_PUNCTUATION, imported lazily (datatrove is heavy).
_PUNCT: Dict[str, Any] = {}


def _punctuation() -> Tuple[str, tuple]:
    if not _PUNCT:
        from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION
        _PUNCT["chars"] = "".join(sorted(PUNCTUATION_SET))
        _PUNCT["terminal"] = tuple(TERMINAL_PUNCTUATION)
        marks = "".join(sorted(TERMINAL_PUNCTUATION | {"…"}))
        _PUNCT["sentence_end"] = regex.compile(f"(?<=[{regex.escape(marks)}])\\s+(?=\\S)")
    return _PUNCT["chars"], _PUNCT["terminal"]


def line_units(lines: List[str], min_lines: int) -> List[str]:
    """The units of the line-share checks: the lines, or, for a document of fewer than ``min_lines``
    lines (0: never), its sentences. A share of lines is meaningless without line structure: a
    one-line paragraph of prose "fails" FineWeb's line punctuation check when its last sentence ends
    in ":" or a name, and Gopher's ellipsis check when it ends in "...". Navigation, lists and tables
    have many lines and are measured as before."""
    if not min_lines or len(lines) >= min_lines:
        return lines
    return [unit for line in lines for unit in _sentences(line)]


@lru_cache(maxsize=64)  # gopher_quality and fineweb_quality both split the lines of the same document
def _sentences(line: str) -> Tuple[str, ...]:
    _punctuation()
    return tuple(_PUNCT["sentence_end"].split(line))


class QualityParams(StageParams):
    profile: Literal["fineweb2", "datatrove_defaults"] = Field(
        "fineweb2", description="fineweb2: FineWeb-2's per-language settings; datatrove_defaults: datatrove's")
    filters: Optional[List[Literal["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"]]] = Field(
        None, description="enabled filters, in order (default: the profile's)")
    annotate_only: bool = Field(False, description="keep every document; only write quality_reason/signals")
    settings_dir: Optional[str] = Field(
        None, description="a settings folder (e.g. from calibrate-quality) instead of the profile's")
    default_language: Optional[str] = Field(None, description="used when the table has no language column")
    overrides: Dict[str, Dict[str, Any]] = Field(
        default_factory=dict, description="{filter: {param: value}} applied on top of every language's settings")
    c4_rewrite_text: bool = Field(True, description="write the text without the lines C4 removed to the text column of kept documents")
    max_doc_chars: int = Field(2_000_000, ge=1000, description="longer documents are dropped unread")


# ------------------------------------------------------------------ settings


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in (extra or {}).items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else value
    return out


def _read_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    unknown = set(data) - set(SETTING_SECTIONS)
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}; known: {SETTING_SECTIONS}")
    return data


class LanguageSettings:
    """Resolves the merged filter settings of a language (cached per language)."""

    def __init__(self, settings_dir: Optional[str] = None, overrides: Optional[dict] = None,
                 profile: str = "fineweb2"):
        self.dir = Path(settings_dir) if settings_dir else PROFILE_DIRS[profile]
        self.default = _read_yaml(self.dir / "_default.yaml")
        self.overrides = overrides or {}
        self.by_code3: Dict[str, str] = {}
        for f in sorted(self.dir.glob("*.yaml")):
            if not f.name.startswith("_"):
                self.by_code3.setdefault(f.stem.split("_")[0], f.stem)
        self._cache: Dict[Tuple[str, str], dict] = {}

    def language_file(self, language: Optional[str]) -> Optional[Path]:
        if not language:
            return None
        exact = self.dir / f"{language}.yaml"
        if exact.exists():
            return exact
        other_script = self.by_code3.get(language.split("_")[0])  # e.g. cmn_Hans -> cmn_Hani
        return self.dir / f"{other_script}.yaml" if other_script else None

    def get(self, language: Optional[str], script: str) -> dict:
        key = (language or "", script)
        if key not in self._cache:
            merged = self.default
            script_file = self.dir / "_scripts" / f"{script}.yaml"
            if script_file.exists():
                merged = _deep_merge(merged, _read_yaml(script_file))
            lang_file = self.language_file(language)
            if lang_file is not None:
                merged = _deep_merge(merged, _read_yaml(lang_file))
            self._cache[key] = _deep_merge(merged, self.overrides)
        return self._cache[key]


def tokenizer_for(language: Optional[str], settings: dict):
    """The word tokenizer of a language's settings (``tokenizer.engine``/``profile``, see ``word_tokenizer``)."""
    tok = settings["tokenizer"]
    return word_tokenizer(language, tok.get("engine", "auto"), tok["profile"])


# ------------------------------------------------------------------ the four filters
# Each returns (reason or None, signals). Signals are the measured values, for tuning.

_PARAGRAPH_RE = re.compile(r"\n{2,}")
_LINES_RE = re.compile("\n+")
_HAS_ALPHA_RE = regex.compile(r"\p{L}")  # str.isalpha() letters
_PUNCT_ONLY_RE = regex.compile(r"\p{P}+")
SYMBOLS_ONLY, PUNCTUATION_ONLY, HAS_LETTER = 1, 2, 4  # word classes, as bits
_WORD_CLASSES: Dict[str, int] = {}
_MAX_WORD_CLASSES = 1_000_000

_NO_SPACE_START = regex.compile(f"[{NO_SPACE_CLASS}]")
_NO_SPACE_END = regex.compile(f"[{NO_SPACE_CLASS}]\\p{{M}}*$")
CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")


def word_classes(words: Collection[str]) -> List[int]:
    """Bits per word: only datatrove's punctuation characters (a "symbol" word), only Unicode
    punctuation, has a letter. Memoised per process: words repeat (Zipf), and three regex/strip calls
    per word token were a third of the quality stage's steady time."""
    memo = _WORD_CLASSES
    try:
        return list(map(memo.__getitem__, words))
    except KeyError:
        if len(memo) > _MAX_WORD_CLASSES:
            memo.clear()
        punct_chars, _ = _punctuation()
        for w in set(words).difference(memo):
            if w.isalpha():  # most new words; Python's letters are \p{L} and never punctuation (tests/test_text.py)
                memo[w] = HAS_LETTER
                continue
            memo[w] = ((0 if w.strip(punct_chars) else SYMBOLS_ONLY)
                       | (PUNCTUATION_ONLY if _PUNCT_ONLY_RE.fullmatch(w) else 0)
                       | (HAS_LETTER if _HAS_ALPHA_RE.search(w) else 0))
        return list(map(memo.__getitem__, words))


def find_duplicates(items: Sequence[str]) -> Tuple[int, int]:
    """(duplicate elements, their characters), counting every repeat after the first."""
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


def gopher_quality(text: str, words: List[str], s: dict, doc: Optional[DocWords] = None) -> Tuple[Optional[str], dict]:
    n_words = len(words)
    doc = DocWords.of(words, doc)
    n_non_symbol = doc.stat("non_symbol")
    sig = {"n_words": n_non_symbol}
    if s["min_doc_words"] and n_non_symbol < s["min_doc_words"]:
        return "gopher_short_doc", sig
    if s["max_doc_words"] and n_non_symbol > s["max_doc_words"]:
        return "gopher_long_doc", sig
    avg = doc.stat("non_symbol_chars") / n_non_symbol if n_non_symbol else float("nan")
    sig["avg_word_length"] = avg
    if s["min_avg_word_length"] and avg < s["min_avg_word_length"]:
        return "gopher_below_avg_threshold", sig
    if s["max_avg_word_length"] and avg > s["max_avg_word_length"]:
        return "gopher_above_avg_threshold", sig
    if not n_words:
        return "gopher_short_doc", sig
    sig["hash_ratio"] = text.count("#") / n_words
    sig["ellipsis_ratio"] = (text.count("...") + text.count("…")) / n_words
    if s["max_symbol_word_ratio"] and sig["hash_ratio"] > s["max_symbol_word_ratio"]:
        return "gopher_too_many_hashes", sig
    if s["max_symbol_word_ratio"] and sig["ellipsis_ratio"] > s["max_symbol_word_ratio"]:
        return "gopher_too_many_ellipsis", sig
    lines = line_units(text.splitlines(), s.get("sentence_units_below_lines", 0)) or [""]
    sig["bullet_lines_ratio"] = sum(ln.lstrip().startswith(("•", "-")) for ln in lines) / len(lines)
    if s["max_bullet_lines_ratio"] and sig["bullet_lines_ratio"] > s["max_bullet_lines_ratio"]:
        return "gopher_too_many_bullets", sig
    sig["end_ellipsis_ratio"] = sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines)
    if s["max_ellipsis_lines_ratio"] and sig["end_ellipsis_ratio"] > s["max_ellipsis_lines_ratio"]:
        return "gopher_too_many_end_ellipsis", sig
    # datatrove counts every punctuation token as a non-alphabetic "word", so its ratio falls with
    # sentence length (a danda or comma per short clause); Gopher's rule is about words. Symbols
    # (= < > + | © ±) and numbers still count as non-alphabetic: they are what code, tables and noise add.
    counted, letters = (doc.stat("non_punct"), doc.stat("letter_non_punct")) \
        if s.get("alpha_ratio_skips_punctuation") else (n_words, doc.stat("letter"))
    sig["alpha_words_ratio"] = letters / max(counted, 1)
    if s["max_non_alpha_words_ratio"] and sig["alpha_words_ratio"] < s["max_non_alpha_words_ratio"]:
        return "gopher_below_alpha_threshold", sig
    stop_words = s["stop_words"] or ()
    how = s.get("stop_words_count", "distinct")
    sig["stop_words"] = count_stop_words(doc.distinct_words if how == "distinct" else words, stop_words, how,
                                         s.get("stop_words_ignore_marks", False))
    if s["min_stop_words"] and stop_words and sig["stop_words"] < s["min_stop_words"]:  # no list: no check
        return "gopher_enough_stop_words", sig
    return None, sig


# Scripts one writing system mixes: Japanese text is Han + kana ("Jpan", or "Hani" when kanji dominate), Korean
# Hangul + Han; "Zyyy": no letters at all (the other checks judge such text).
MIXED_WRITING_SYSTEM_SCRIPTS = frozenset({"Hani", "Hira", "Kana", "Jpan", "Hang", "Kore", "Zyyy"})


def in_language_script(language: Optional[str], script: Optional[str], s: dict) -> bool:
    """False for a document whose dominant script is not its language's (``lfn_Cyrl`` text in Arabic letters),
    where the language has no stop-word check (``script_check_without_stop_words``): the stop words are
    FineWeb-2's test that a document is in its language, and without them nothing else tests it. ``langid``
    labels a text in its own script, so this matters for labels that come from elsewhere (a language column,
    ``default_language``)."""
    if not (s.get("script_check_without_stop_words") and language and script and "_" in language):
        return True
    if s["min_stop_words"] and s["stop_words"]:
        return True
    expected = language.split("_", 1)[1]
    return script == expected or {script, expected} <= MIXED_WRITING_SYSTEM_SCRIPTS or script == "Zyyy"


def count_stop_words(words: List[str], stop_words: Sequence[str], how: str, ignore_marks: bool = False) -> int:
    """Stop words in ``words``: ``occurrences`` (datatrove <= 0.4, the version FineWeb-2 ran: its fitted
    lists assume "two hits", e.g. one function word twice) or ``distinct`` (datatrove >= 0.5).
    ``ignore_marks``: compare without nonspacing marks, for scripts whose vowel marks are optional (Arabic
    harakat, Hebrew niqqud): a list fitted on vocalised text otherwise misses the same words written without."""
    listed = _stop_word_set(stop_words, ignore_marks)
    if how == "occurrences":
        return sum(map(listed.__contains__, map(without_marks, words) if ignore_marks else words))
    if how == "distinct":
        return len(listed.intersection(map(without_marks, set(words)) if ignore_marks else words))
    raise ValueError(f"gopher_quality.stop_words_count: {how!r}; expected occurrences or distinct")


_NONSPACING_MARKS_RE = regex.compile(r"\p{Mn}+")


@lru_cache(maxsize=1 << 16)
def without_marks(word: str) -> str:
    return _NONSPACING_MARKS_RE.sub("", word)


_STOP_WORD_SETS: Dict[Tuple[int, bool], Tuple[Sequence[str], frozenset]] = {}


def _stop_word_set(stop_words: Sequence[str], ignore_marks: bool) -> frozenset:
    """The set of a settings' stop-word list, built once per list object (not once per document)."""
    key = (id(stop_words), ignore_marks)
    cached = _STOP_WORD_SETS.get(key)
    if cached is None or cached[0] is not stop_words:  # the id of a list that no longer exists
        if len(_STOP_WORD_SETS) > 4096:
            _STOP_WORD_SETS.clear()
        cached = _STOP_WORD_SETS[key] = (stop_words,
                                         frozenset(map(without_marks, stop_words) if ignore_marks else stop_words))
    return cached[1]


class BatchWords:
    """The words of a batch of documents, measured together: per-document counts of word classes and the
    repeated word n-grams, as numpy arrays over all the batch's tokens (``doc(i)``: one document's view).

    Why: per document these were Python loops over words and small numpy calls (a ``np.unique`` per n-gram
    size), about half of the quality stage's steady time on the e2e benchmark's text; now a document
    costs one dictionary pass over its words (``add``), and the rest is a few vectorised passes over the
    batch. N-gram ids are exact (no hashing): the position of the n-gram's first
    occurrence in its document, from the (n-1)-gram ids and the next word. Only repeated n-grams are
    kept, and an n-gram can repeat only where the (n-1)-grams at its position and the next both repeat,
    so each n sorts only those candidates."""

    def __init__(self, word_lists: Sequence[List[str]] = ()):
        self.word_lists: List[List[str]] = []
        self.starts = [0]  # document i: tokens starts[i] .. starts[i + 1] - 1
        self._first_positions = array("q")  # arrays, not lists of ints: 8 bytes a word, not 36
        self._distinct_classes = array("B")  # of each document's distinct words, by first occurrence
        self._distinct_lengths = array("q")
        self.distinct_words: List[Collection[str]] = []  # per document
        self._repeated: Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray, List[int]]] = {}
        self._top: Dict[int, Tuple[List[int], List[int]]] = {}
        for words in word_lists:
            self.add(words)

    def add(self, words: List[str]) -> None:
        """Appends the next document (before any is measured). Its words are looked up here, right after they
        were tokenized: once a whole batch is tokenized, each lookup finds the word in main memory, not in
        the CPU cache, and a pass over the batch's words was slower than these per-document ones."""
        start = self.starts[-1]
        seen: Dict[str, int] = {}
        self._first_positions.extend(map(seen.setdefault, words, count(start)))
        self._distinct_classes.extend(word_classes(seen))
        self._distinct_lengths.extend(map(len, seen))
        self.distinct_words.append(seen.keys())
        self.word_lists.append(words)
        self.starts.append(start + len(words))

    def doc(self, index: int) -> DocWords:
        return DocWords(self, index)

    @cached_property
    def word_ids(self) -> np.ndarray:
        return np.frombuffer(self._first_positions, np.int64)

    @cached_property
    def stats(self) -> Dict[str, List[int]]:
        """Per document: words by class, characters of the non-symbol words, distinct non-punctuation words."""
        total = len(self.word_ids)
        first_seen = self.word_ids == np.arange(total)
        # a word's class and length, known at its first position in the document, spread to its repeats
        classes, lengths = np.zeros(total, np.uint8), np.zeros(total, np.int64)
        classes[first_seen] = np.frombuffer(self._distinct_classes, np.uint8)
        lengths[first_seen] = np.frombuffer(self._distinct_lengths, np.int64)
        classes, lengths = classes[self.word_ids], lengths[self.word_ids]
        non_symbol, non_punct = classes & SYMBOLS_ONLY == 0, classes & PUNCTUATION_ONLY == 0
        letter = classes & HAS_LETTER != 0
        per_token = {"non_symbol": non_symbol, "non_symbol_chars": np.where(non_symbol, lengths, 0),
                     "letter": letter, "non_punct": non_punct, "letter_non_punct": letter & non_punct,
                     "distinct_non_punct": non_punct & first_seen}
        starts = np.array(self.starts)
        return {name: np.diff(np.concatenate(([0], np.cumsum(values, dtype=np.int64)))[starts]).tolist()
                for name, values in per_token.items()}

    def repeated(self, n: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, List[int]]:
        """(positions, ids, occurrences) of the n-grams that occur more than once in their document, by
        position, and bounds: document i's are ``[bounds[i]:bounds[i + 1]]`` of them."""
        if n not in self._repeated:
            total = len(self.word_ids)
            if n == 1:
                occurrences = np.bincount(self.word_ids, minlength=total)[self.word_ids]
                positions = np.flatnonzero(occurrences > 1)
                ids, occurrences = self.word_ids[positions], occurrences[positions]
            else:
                shorter, shorter_ids, _, _ = self.repeated(n - 1)
                shorter_repeats = np.zeros(total + 1, bool)
                shorter_repeats[shorter] = True
                # an n-gram across two documents occurs once (word ids are per document): no bound check
                fits = shorter_repeats[shorter + 1]
                candidates = shorter[fits]
                keys = shorter_ids[fits] * total + self.word_ids[candidates + n - 1]  # < total**2: no overflow
                _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True,
                                                      return_counts=True)
                occurrences = counts[inverse]
                kept = occurrences > 1
                positions, ids, occurrences = candidates[kept], candidates[first][inverse][kept], occurrences[kept]
            self._repeated[n] = positions, ids, occurrences, np.searchsorted(positions, self.starts).tolist()
        return self._repeated[n]

    def top(self, n: int) -> Tuple[List[int], List[int]]:
        """Per document: the occurrences of its most frequent n-gram and the first position of one, in the
        document (like Counter.most_common(1): the first seen wins ties; 1 and 0 where no n-gram repeats)."""
        if n not in self._top:
            positions, _, occurrences, bounds = self.repeated(n)
            best, first = np.ones(len(bounds) - 1, np.int64), np.zeros(len(bounds) - 1, np.int64)
            bounds = np.array(bounds)
            with_repeats = np.flatnonzero(bounds[1:] > bounds[:-1])
            if len(with_repeats):  # their slices of the repeated n-grams follow one another
                slices = bounds[with_repeats]
                most = np.maximum.reduceat(occurrences, slices)
                at_most = np.flatnonzero(occurrences == np.repeat(most, np.diff(bounds)[with_repeats]))
                best[with_repeats] = most
                first[with_repeats] = (positions[at_most[np.searchsorted(at_most, slices)]]
                                       - np.array(self.starts)[with_repeats])
            self._top[n] = best.tolist(), first.tolist()
        return self._top[n]


class DocWords:
    """One document's words in a ``BatchWords`` (``DocWords.of(words)``: a batch of one)."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: BatchWords, index: int):
        self.batch, self.index = batch, index

    @classmethod
    def of(cls, words: List[str], measured: Optional[DocWords] = None) -> DocWords:
        """``measured`` when the caller has it (a document of the stage's batch), else ``words`` as a batch of one."""
        return BatchWords([words]).doc(0) if measured is None else measured

    @property
    def words(self) -> List[str]:
        return self.batch.word_lists[self.index]

    @property
    def distinct_words(self) -> Collection[str]:
        return self.batch.distinct_words[self.index]

    def stat(self, name: str) -> int:
        return self.batch.stats[name][self.index]

    def repeated_ngrams(self, n: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions in the document, ids, occurrences) of its n-grams that occur more than once in it."""
        positions, ids, occurrences, bounds = self.batch.repeated(n)
        lo, hi = bounds[self.index], bounds[self.index + 1]
        return positions[lo:hi] - self.batch.starts[self.index], ids[lo:hi], occurrences[lo:hi]

    def top_ngram(self, n: int) -> Tuple[int, int]:
        """(occurrences, first position) of its most frequent n-gram (``BatchWords.top``)."""
        best, first = self.batch.top(n)
        return best[self.index], first[self.index]

    def repeats(self, n: int) -> bool:
        bounds = self.batch.repeated(n)[3]
        return bounds[self.index + 1] > bounds[self.index]


def top_ngram_chars(words: List[str], n: int, spaces: str = "always", grams: Optional[DocWords] = None) -> int:
    """Characters of the most frequent word n-gram times its count; first wins ties. ``spaces``:
    ``always`` joins the words with a space (datatrove); ``text`` counts only the spaces the text has:
    none between two characters of a script written without spaces (Han, kana, Thai, ...), whose
    character tokens would otherwise count almost twice their length (a Chinese 6-gram: 11 characters)."""
    best_count, first = DocWords.of(words, grams).top_ngram(n)
    best = words[first:first + n]
    if spaces == "always":
        separators = n - 1
    elif spaces == "text":
        separators = sum(1 for a, b in zip(best, best[1:])
                         if not (_NO_SPACE_END.search(a) and _NO_SPACE_START.match(b)))
    else:
        raise ValueError(f"gopher_repetition.top_n_gram_spaces: {spaces!r}; expected always or text")
    return (sum(map(len, best)) + separators) * best_count


def duplicated_ngram_chars(words: List[str], n: int, prefix: List[int], grams: Optional[DocWords] = None) -> int:
    """datatrove's find_all_duplicate: greedy scan, a repeated n-gram's characters count once per repeat.
    Positions whose n-gram occurs once can neither be a repeat nor make one, so only the others are visited."""
    positions, ids, _ = DocWords.of(words, grams).repeated_ngrams(n)
    seen = set()
    repeated, idx = 0, 0
    for position, gram in zip(positions.tolist(), ids.tolist()):
        if position < idx:
            continue  # inside the last repeat: skipped by the scan, never added to what it has seen
        if gram in seen:
            repeated += prefix[position + n] - prefix[position]
            idx = position + n
        else:
            seen.add(gram)
    return repeated


# datatrove's paragraphs (re.split(r"\n{2,}", text.strip())) and lines (re.split("\n+", text)). Where no run of
# newlines exists, str.split gives the same list at a tenth of the regex's cost (a few % of a warm quality batch).
def split_paragraphs(text: str) -> List[str]:
    stripped = text.strip()
    return _PARAGRAPH_RE.split(stripped) if "\n\n" in stripped else [stripped]


def split_lines(text: str) -> List[str]:
    return _LINES_RE.split(text) if "\n\n" in text else text.split("\n")


def gopher_repetition(text: str, words: List[str], s: dict, grams: Optional[DocWords] = None
                      ) -> Tuple[Optional[str], dict]:
    sig: dict = {}
    paragraphs = split_paragraphs(text)
    para_dups, para_chars = find_duplicates(paragraphs)
    if s["dup_para_frac"] and para_dups / len(paragraphs) > s["dup_para_frac"]:
        return "dup_para_frac", sig
    if s["dup_para_char_frac"] and para_chars / len(text) > s["dup_para_char_frac"]:
        return "dup_para_char_frac", sig
    lines = split_lines(text)
    line_dups, line_chars = find_duplicates(lines)
    sig["dup_line_frac"] = line_dups / len(lines)
    if s["dup_line_frac"] and sig["dup_line_frac"] > s["dup_line_frac"]:
        return "dup_line_frac", sig
    if s["dup_line_char_frac"] and line_chars / len(text) > s["dup_line_char_frac"]:
        return "dup_line_char_frac", sig
    spaces = s.get("top_n_gram_spaces", "always")
    # ours (ngram_share_min_chars): n-gram shares of a short document are taken of at least this many characters;
    # three mentions of a long legal term in a paragraph are not a repetitive page
    ngram_chars_of = max(len(text), s.get("ngram_share_min_chars") or 0)
    grams = DocWords.of(words, grams)
    for n, frac in s["top_n_grams"] or ():
        if len(words) >= n and top_ngram_chars(words, n, spaces, grams) / ngram_chars_of > frac:
            return f"top_{n}_gram", sig
    min_diversity = s.get("min_word_diversity")
    if min_diversity:
        sig["word_diversity"] = word_diversity(words, grams)
        if sig["word_diversity"] < min_diversity:
            return "low_word_diversity", sig
    dup_grams = s["dup_n_grams"] or ()
    if dup_grams and grams.repeats(min(n for n, _ in dup_grams)):  # no repeated n-gram: none longer repeats
        prefix = [0, *accumulate(map(len, words))]
        for n, frac in dup_grams:
            if duplicated_ngram_chars(words, n, prefix, grams) / ngram_chars_of > frac:
                return f"duplicated_{n}_n_grams", sig
    return None, sig


def word_diversity(words: List[str], doc: Optional[DocWords] = None) -> float:
    """Guiraud's index: distinct words / sqrt(words), punctuation tokens left out. Unlike the share of
    distinct words it does not fall with document length on ordinary text (about 3-30 from a 50-word
    note to a book); a keyword list that recombines a handful of words scores below 1. The n-gram
    checks miss such lists: random recombinations of six words rarely repeat a 5-gram."""
    doc = DocWords.of(words, doc)
    counted = doc.stat("non_punct")
    return doc.stat("distinct_non_punct") / counted ** 0.5 if counted else 0.0


def c4_quality(text: str, s: dict, count_sentences, profile: str = "default") -> Tuple[Optional[str], dict, str]:
    """(reason, signals, text with the rejected lines removed)."""
    num_sentences = 0
    kept: List[str] = []
    max_word = s["max_word_length"]
    end_punct = tuple(s.get("end_punctuation") or END_PUNCTUATION)
    for line in text.splitlines():
        line = line.strip()
        words = line.split()
        if max_word != -1 and len(line) > max_word and any(len(w) > max_word for w in words):
            continue
        if s["remove_citations"] and "[" in line:
            line = CITATION_RE.sub("", line)
        if s["filter_no_terminal_punct"] and (not line.endswith(end_punct) or line.endswith("...")):
            continue
        if len(words) < s["min_words_per_line"]:
            continue
        lower = line.lower()
        if s["filter_lorem_ipsum"] and "lorem ipsum" in lower:
            return "lorem_ipsum", {}, text
        if s["filter_javascript"] and "javascript" in lower:
            continue
        if s["filter_curly_bracket"] and "{" in line:
            return "curly_bracket", {}, text
        if s["filter_policy"] and any(p in lower for p in POLICY_SUBSTRINGS):
            continue
        if s["min_num_sentences"] != -1 and num_sentences < s["min_num_sentences"]:
            num_sentences += count_sentences(line, profile)  # stop counting once enough: only the threshold matters
        kept.append(line)
    sig = {"c4_sentences": num_sentences, "c4_kept_lines": len(kept)}
    if num_sentences < s["min_num_sentences"]:
        return "too_few_sentences", sig, text
    return None, sig, "\n".join(kept).strip()


def fineweb_quality(text: str, words: List[str], s: dict) -> Tuple[Optional[str], dict]:
    _, terminal = _punctuation()
    stop_chars = (tuple(s["stop_chars"]) if s["stop_chars"] else terminal) + tuple(s.get("extra_stop_chars") or ())
    lines = [ln for ln in text.split("\n") if ln.strip() != ""]
    if not lines:
        return "empty", {}
    units = line_units(lines, s.get("sentence_units_below_lines", 0))
    sig = {"line_punct_ratio": sum(1 for ln in units if ln.endswith(stop_chars)) / len(units)}
    ratio = sig["line_punct_ratio"]
    if ratio < s["line_punct_thr"] and not (ratio == 0 and s["line_punct_exclude_zero"]):
        return "line_punct_ratio", sig
    sig["short_line_ratio"] = sum(1 for ln in lines if len(ln) <= s["short_line_length"]) / len(lines)
    if sig["short_line_ratio"] > s["short_line_thr"]:
        return "short_line_ratio", sig
    sig["char_dup_ratio"] = find_duplicates(lines)[1] / max(len(text) - text.count("\n"), 1)
    if sig["char_dup_ratio"] > s["char_duplicates_ratio"]:
        return "char_dup_ratio", sig
    if not words:
        return "list_ratio", sig
    sig["list_ratio"] = text.count("\n") / len(words)
    if sig["list_ratio"] > s["new_line_ratio"]:
        return "list_ratio", sig
    return None, sig


# ------------------------------------------------------------------ the stage

SIGNAL_FIELDS = ("n_words", "avg_word_length", "alpha_words_ratio", "stop_words", "dup_line_frac",
                 "c4_sentences", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio")
SIGNALS_TYPE = pa.struct([(f, pa.float32()) for f in SIGNAL_FIELDS])
WORDS_SPAN_CHARS = 4_000_000  # a BatchWords holds ~100 bytes a word: < 0.1 GB for this many characters


@register
class QualityStage(Stage):
    name = "quality"
    reads = ("text",)  # `language` and `script` pick per-language settings when an earlier stage wrote them
    writes = ("text", "quality_reason", "quality_signals")
    Params = QualityParams
    default_resources = Resources(num_cpus=1)

    @property
    def drop_only_columns(self):
        """quality_reason is null on every kept row unless annotate_only keeps the failing ones."""
        return () if self.params.annotate_only else ("quality_reason",)

    def setup(self) -> None:
        from xcurate.text.words import count_sentences
        p = self.params
        self.settings = LanguageSettings(p.settings_dir, p.overrides, p.profile)
        self.filters = p.filters or PROFILE_FILTERS[p.profile]
        self.count_sentences = count_sentences
        _punctuation()

    def process(self, table: pa.Table) -> StageOutput:
        texts = table.column("text").to_pylist()
        languages = self._languages(table, len(texts))
        scripts = table.column("script").to_pylist() if "script" in table.column_names \
            else dominant_scripts(texts)
        settings = [self.settings.get(lang, script) for lang, script in zip(languages, scripts)]
        reasons, signals, new_texts = [], [], []
        for text, lang, script, s, words in zip(texts, languages, scripts, settings,
                                                self._doc_words(texts, languages, settings)):
            reason, sig, new_text = self.evaluate(text, s, lang, script, words)
            reasons.append(reason)
            signals.append({k: sig.get(k) for k in SIGNAL_FIELDS})
            new_texts.append(new_text if reason is None and self.params.c4_rewrite_text
                             and not self.params.annotate_only else text)
        columns = {"quality_reason": pa.array(reasons, pa.string()),
                   "quality_signals": pa.array(signals, SIGNALS_TYPE)}
        if new_texts != texts:
            columns["text"] = pa.array(new_texts, table.column("text").type)  # keep string vs large_string
        out = with_columns(table, columns)
        return StageOutput(out, None if self.params.annotate_only else reasons_array(reasons))

    def _languages(self, table: pa.Table, n: int) -> List[Optional[str]]:
        if "language" in table.column_names:
            return table.column("language").to_pylist()
        return [self.params.default_language] * n

    def _doc_words(self, texts: List[Optional[str]], languages: List[Optional[str]],
                   settings: List[dict]) -> Iterator[Optional[DocWords]]:
        """Each document's words, tokenized and measured together (``BatchWords``) per span of documents of
        about ``WORDS_SPAN_CHARS`` characters, which bounds the memory a batch of long documents takes.
        None for every document where C4 runs first: it changes the text the other filters read."""
        if self.filters[0] == "c4_quality":
            yield from repeat(None, len(texts))
            return
        start = span_chars = 0
        for end, text in enumerate(texts, 1):
            span_chars += len(text or "")
            if span_chars >= WORDS_SPAN_CHARS or end == len(texts):
                yield from self._span_words(texts[start:end], languages[start:end], settings[start:end])
                start, span_chars = end, 0

    def _span_words(self, texts: List[Optional[str]], languages: List[Optional[str]],
                    settings: List[dict]) -> Iterator[DocWords]:
        batch = BatchWords()
        for text, language, s in zip(texts, languages, settings):
            batch.add(quality_words(text, tokenizer_for(language, s)) if self._unreadable(text) is None else [])
        return map(batch.doc, range(len(texts)))

    def _unreadable(self, text: Optional[str]) -> Optional[str]:
        if not text or not text.strip():
            return "quality:empty_text"
        if len(text) > self.params.max_doc_chars:
            return "quality:doc_too_long"
        return None

    def evaluate(self, text: Optional[str], settings: dict, language: Optional[str] = None,
                 script: Optional[str] = None, words: Optional[DocWords] = None
                 ) -> Tuple[Optional[str], dict, Optional[str]]:
        """(first failing "filter:reason" or None, signals, text after C4's line removal). ``words``: the
        text's words if measured already (``BatchWords.doc``)."""
        unreadable = self._unreadable(text)
        if unreadable:
            return unreadable, {}, text
        signals: dict = {}
        first_reason = None
        profile = tokenizer_for(language, settings)
        for name in self.filters:
            s = settings[name]
            if name == "c4_quality":
                reason, sig, text = c4_quality(text, s, self.count_sentences, profile)
                words = None  # the text changed
            else:
                if words is None:
                    words = DocWords.of(quality_words(text, profile))
                if name == "fineweb_quality":
                    reason, sig = fineweb_quality(text, words.words, s)
                else:
                    check = {"gopher_quality": gopher_quality, "gopher_repetition": gopher_repetition}[name]
                    reason, sig = check(text, words.words, s, words)
            signals.update(sig)
            if reason is not None and first_reason is None:
                first_reason = f"{name}:{reason}"
                if not self.params.annotate_only:  # annotate_only measures every filter for tuning
                    break
        if first_reason is None and "gopher_quality" in self.filters \
                and not in_language_script(language, script, settings["gopher_quality"]):
            first_reason = "gopher_quality:not_in_language_script"
        return first_reason, signals, text
