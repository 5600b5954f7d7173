"""Text utilities shared by stages: Unicode scripts and word splitting for every script.

Word splitting for the quality filters (``word_tokenizer(language, engine)``): by default (``auto``) the
regex profiles below, memoised per whitespace chunk (``RegexChunkTokenizer``), which mimic the spaCy
rule tokenizers datatrove uses (>= 99% equal filter decisions, without spaCy's start-up per language);
``engine: spacy`` uses spaCy's own rule-based tokenizer where datatrove's is a plain spaCy one
(``SpacyChunkTokenizer``: identical tokens to datatrove's, memoised the same way). Regex splitting, per
script (``quality_words``):

* Spaced scripts (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari and the other Indic
  scripts, Ethiopic, Georgian, Armenian, Hangul, ...): a one-pass regex that mimics spaCy's
  rule-based tokenizer (the tokenizer datatrove uses for these languages): split on
  whitespace, every punctuation character is its own token (a run of dots is one), hyphens
  and slashes between letters split, digits keep their decimal separators, apostrophes stay
  inside words (an approximation of spaCy's default rules for languages datatrove has no
  installed tokenizer for).
* Korean and Thai: FineWeb-2's dictionary splitters (Kiwi morphemes, pythainlp ``newmm-safe``,
  ``DictionaryChunkTokenizer``), loaded on the first document of the language, memoised per chunk.
* Other scripts written without spaces (Han, Hiragana, Katakana, Lao, Khmer, Myanmar, Tibetan):
  each character, with the combining marks that follow it, is one token (a dictionary-free
  "character unigram" segmentation); runs of other scripts inside such text are split as
  above. Thresholds that depend on word length or word counts are adapted per script in
  ``configs/languages/quality/_scripts/`` (e.g. no word-length bounds, more words per document).

Combining marks never leave their word in any splitter here (vowel signs of abugidas, Thai tone
marks, Hebrew/Arabic points, decomposed Latin); ``tests/test_text.py`` checks it per script.

``split_words(text)`` is the simple language-agnostic splitter other stages use for n-gram
shingles (characters for no-space scripts, no punctuation tokens).
"""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from itertools import accumulate, chain
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import regex

NO_SPACE_SCRIPTS = ("Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar", "Tibetan")
NO_SPACE_SCRIPT_CODES = ("Hani", "Hira", "Kana", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt")
_NO_SPACE_CLASS = "".join(f"\\p{{{s}}}" for s in NO_SPACE_SCRIPTS)
NO_SPACE_CLASS = _NO_SPACE_CLASS  # regex class body: the letters of scripts written without spaces
# The one token regex (split_words, MinHash shingles, decontamination n-grams), in the syntax
# shared by Python's `regex` module and Rust's `regex` crate (polars `str.extract_all`).
# Apostrophe-like marks between letters are part of the word: Uzbek o‘zbek / o'zbek, Hawaiian, Hebrew
# transliteration, English don't (the modifier letters ʻ ʼ are letters, \p{Lm}, and never split).
APOSTROPHES = "'’‘`´"
_WORD_PART = rf"[^\s{_NO_SPACE_CLASS}\p{{P}}\p{{S}}]+"
TOKEN_PATTERN = rf"[{_NO_SPACE_CLASS}]\p{{M}}*|{_WORD_PART}(?:[{APOSTROPHES}]{_WORD_PART})*"  # marks stay on their letter
_TOKEN_RE = regex.compile(TOKEN_PATTERN)
_NO_SPACE_SEARCH = regex.compile(f"[{_NO_SPACE_CLASS}]").search
# Characters that are a token of their own before or after a word in every tokenizer profile (none joins, none
# forms a run except "..", which the fast path that uses them leaves to the regex): brackets, quotes, and the
# commas and sentence ends of Latin, Devanagari/Bengali (danda), Arabic and Ethiopic text.
_PLAIN_LEADING, _PLAIN_TRAILING = '("«“„¿¡', ',;:!?)".»”।॥،؛؟፡።፣፤'


def split_words(text: str) -> List[str]:
    """Language-agnostic word tokens (characters for no-space scripts)."""
    return _TOKEN_RE.findall(text)


# --------------------------------------------------------------------------------------
# Unicode scripts
# --------------------------------------------------------------------------------------

# ISO 15924 codes of the Unicode scripts (those unknown to the installed `regex` are skipped).
SCRIPT_CODES = (
    "Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Bhks Bopo Brah Brai Bugi Buhd "
    "Cakm Cans Cari Cham Cher Chrs Copt Cpmn Cprt Cyrl Deva Diak Dogr Dsrt Dupl Egyp Elba Elym "
    "Ethi Geor Glag Gong Gonm Goth Gran Grek Gujr Guru Hang Hani Hano Hatr Hebr Hira Hluw Hmng "
    "Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Kthi Lana Laoo Latn Lepc Limb "
    "Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani Marc Medf Mend Merc Mero Mlym Modi Mong Mroo "
    "Mtei Mult Mymr Nagm Nand Narb Nbat Newa Nkoo Nshu Ogam Olck Orkh Orya Osge Osma Ougr Palm "
    "Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr Sarb Saur Sgnw Shaw Shrd Sidd "
    "Sind Sinh Sogd Sogo Sora Soyo Sund Sylo Syrc Tagb Takr Tale Talu Taml Tang Tavt Telu Tfng "
    "Tglg Thaa Thai Tibt Tirh Tnsa Toto Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb"
).split()
UNKNOWN_SCRIPT = "Zyyy"  # ISO 15924 "Common": no letters of any script (empty, digits, symbols)
_MAX_CODEPOINT = 0x40000  # planes 0-3; everything above counts as Common


@lru_cache(maxsize=1)
def script_table() -> Tuple[np.ndarray, Tuple[str, ...]]:
    """(uint8 table code point -> script index, script names); index 0 = Common/Inherited/unknown."""
    chars = "".join(chr(i) for i in range(_MAX_CODEPOINT) if not 0xD800 <= i < 0xE000)
    offsets = np.array([i for i in range(_MAX_CODEPOINT) if not 0xD800 <= i < 0xE000], dtype=np.int64)
    table = np.zeros(_MAX_CODEPOINT, dtype=np.uint8)
    names: List[str] = [UNKNOWN_SCRIPT]
    for code in SCRIPT_CODES:
        try:
            pattern = regex.compile(rf"\p{{sc={code}}}+")
        except regex.error:
            continue
        names.append(code)
        idx = len(names) - 1
        for m in pattern.finditer(chars):
            table[offsets[m.start()]:offsets[m.end() - 1] + 1] = idx
    return table, tuple(names)


def _codepoints(text: str) -> np.ndarray:
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return np.minimum(cps, _MAX_CODEPOINT - 1)


def script_counts_batch(texts: Sequence[str], max_chars: int = 4000) -> Tuple[np.ndarray, Tuple[str, ...]]:
    """Letter counts per (document, script) over each text's first ``max_chars`` characters.

    The prefixes are concatenated and mapped through the code point table in one pass; each
    document's slice of script ids is then counted with ``bincount`` (10x faster than one bincount
    over document-offset ids, which built two int64 arrays the size of the batch).
    """
    table, names = script_table()
    prefixes = [t[:max_chars] if t else "" for t in texts]
    lengths = np.fromiter((len(p) for p in prefixes), dtype=np.int64, count=len(prefixes))
    cps = _codepoints("".join(prefixes))
    if len(cps) != int(lengths.sum()):  # lone surrogates expand differently; count per doc
        return np.stack([script_counts_batch([p], max_chars)[0][0] for p in prefixes]) if prefixes \
            else np.zeros((0, len(names)), dtype=np.int64), names
    scripts = table[cps]
    counts = np.zeros((len(prefixes), len(names)), dtype=np.int64)
    start = 0
    for i, end in enumerate(np.cumsum(lengths).tolist()):
        counts[i] = np.bincount(scripts[start:end], minlength=len(names))
        start = end
    counts[:, 0] = 0  # Common/Inherited never decide the script
    return counts, names


def dominant_scripts(texts: Sequence[str], max_chars: int = 4000) -> List[str]:
    """Dominant ISO 15924 script per text (``Jpan`` for Japanese kana+kanji, ``Zyyy`` if no letters)."""
    counts, names = script_counts_batch(texts, max_chars)
    if not len(texts):
        return []
    jp = _japanese_mask(counts, names)
    best = counts.argmax(axis=1)
    out = []
    for i, b in enumerate(best):
        if counts[i, b] == 0:
            out.append(UNKNOWN_SCRIPT)
        elif jp[i]:
            out.append("Jpan")
        else:
            out.append(names[b])
    return out


def _japanese_mask(counts: np.ndarray, names: Tuple[str, ...]) -> np.ndarray:
    """Text whose letters are mostly Han+kana with at least 10% kana is written in Japanese script."""
    col = {n: i for i, n in enumerate(names)}
    kana = counts[:, col["Hira"]] + counts[:, col["Kana"]]
    cjk = kana + counts[:, col["Hani"]]
    total = counts.sum(axis=1)
    return (cjk * 2 > total) & (kana * 10 >= cjk) & (kana > 0)


def dominant_script(text: str, max_chars: int = 4000) -> str:
    """Dominant Unicode script of ``text`` (ISO 15924 code), computed from its letters."""
    return dominant_scripts([text], max_chars)[0]


def script_fractions(text: str, max_chars: int = 4000) -> Dict[str, float]:
    """Share of each script among the letters of ``text`` (mixed-script diagnostics)."""
    counts, names = script_counts_batch([text], max_chars)
    total = counts[0].sum()
    return {names[i]: float(c) / total for i, c in enumerate(counts[0]) if c} if total else {}


def is_no_space_script(script: str) -> bool:
    return script in NO_SPACE_SCRIPT_CODES


# --------------------------------------------------------------------------------------
# Word splitting for the quality filters (spaCy-like, see module docstring)
# --------------------------------------------------------------------------------------

# Letters, marks, digits and connector punctuation form words (no-space-script chars excluded).
_NS = _NO_SPACE_CLASS
_W = rf"(?:(?![{_NS}])[\p{{L}}\p{{M}}\p{{Nd}}\p{{No}}\p{{Nl}}_\u200c\u200d])"
# Word-internal joiners, as spaCy's infix rules leave them: apostrophes, "@", "&"; "." and ","
# between digits; "." unless it sits between a lowercase and an uppercase letter ("e.g",
# "U.S", but "end" "." "The"); ":" "/" "=" before a digit ("10:53", "06/02/2001"); "-" before
# a digit unless after one ("COVID-19" but "3" "-" "4"); "+" "*" "^" unless between digits.
_JOIN = (
    rf"[@&~](?={_W})|(?<=\p{{N}})[.,](?=\p{{N}})|(?<!\p{{Ll}})\.(?={_W})|(?<=\p{{Ll}})\.(?=(?!\p{{Lu}}){_W})"
    rf"|,(?=\p{{N}})|(?<=\p{{N}}),(?={_W})|[:/=<>](?=\p{{N}})|(?<![\p{{N}}])-(?=\p{{N}})"
    rf"|(?<!\p{{N}})[+*^](?={_W})|[+*^](?=\p{{L}})"
    rf"|[\u055B-\u055E](?={_W})"  # Armenian emphasis/exclamation/question/abbreviation marks sit inside words (պատմե՞լ)
)
# A chunk of word characters only (letters, marks, digits; none of a no-space script) is one token in every
# profile: nothing in it joins, splits off or starts a URL. In the regex module's Unicode tables, like the profiles.
_ONE_WORD = regex.compile(rf"(?V1)[[\p{{L}}\p{{M}}\p{{Nd}}\p{{No}}\p{{Nl}}_\u200c\u200d]--[{_NS}]]+").fullmatch
_ENDS_UPPER = regex.compile(r"\p{Lu}\Z").search
# A trailing "." stays attached after a single uppercase letter ("A.", "U.S.").
_WORD = rf"{_W}+(?:(?:{_JOIN}){_W}+)*(?:(?<=(?<![\p{{Lu}}])\p{{Lu}})\.)?"
_URL = r"(?:https?://|www\.)[^\s]*[^\s.,;:!?)\]'\"]"
_CLITIC = r"(?:(?<={_W})['’][sS](?!{_W}))"


# spaCy keeps runs of these symbols as one token ("...", "--", "``", "''").
_SYMBOL_RUN = r"\.{2,}|-{2,}|`{2,}|'{2,}|_{2,}|={2,}|\*{2,}|~{2,}"
_APOSTROPHE = rf"[{APOSTROPHES}](?={_W})(?![sS](?!{_W}))"


def _token_re(extra_join: str = "", clitics: str = "", apostrophe: str = _APOSTROPHE, wchar: str = _W,
              word_end: str = ""):
    join = rf"{_JOIN}|{apostrophe}{extra_join}"
    # spaCy has no "-" prefix rule: a hyphen starting a chunk stays on the word ("-Hei").
    word = rf"(?:(?<!\S)-(?={wchar}))?{wchar}+(?:(?:{join}){wchar}+)*(?:(?<=(?<![\p{{Lu}}])\p{{Lu}})\.)?{word_end}"
    clitic = _CLITIC.format(_W=_W) + (f"|{clitics}" if clitics else "")
    # URL | clitic | no-space-script char with its marks | word | symbol run | one symbol. A zero-width
    # space separates words (Khmer, Lao, Thai, Myanmar line-break hints), it is no token.
    return regex.compile(rf"{_URL}|{clitic}|[{_NS}]\p{{M}}*|{word}|{_SYMBOL_RUN}|[^\s\u200b{_NS}]")


# Per-language tokenizer profiles (chosen by the `tokenizer.profile` setting of a language):
# spaCy's English exceptions split contractions ("ca" "n't", "I" "'ll"); "de" (German,
# Finnish, Hungarian) keeps hyphenated compounds and suspended hyphens whole ("CDU-Obmann", "talous-").
_EN_CLITICS = rf"(?i:n['’]t(?!{_W})|(?<=\p{{L}})['’](?:ll|re|ve|d|m)(?!{_W}))"
TOKENIZER_PROFILES = {
    "default": _token_re(),
    "en": _token_re(clitics=_EN_CLITICS,
                    apostrophe=rf"['’](?={_W})(?!(?i:s|ll|re|ve|d|m|t)(?!{_W}))",
                    wchar=rf"(?:(?!(?i:n['’]t)(?!{_W})){_W})"),
    "de": _token_re(extra_join=r"|(?<=[\p{L}\p{N}])-(?=\p{L})", word_end=r"(?:-(?!\S))?"),
}
_QUALITY_TOKEN_RE = TOKENIZER_PROFILES["default"]


def quality_words(text: str, profile="default") -> List[str]:
    """Word tokens for the quality filters: a regex profile name, or a tokenizer from ``word_tokenizer``."""
    if callable(profile):
        return profile(text)
    return TOKENIZER_PROFILES[profile].findall(text)


class ChunkMemoTokenizer:
    """Tokenizer applied per whitespace-free chunk, memoised: ``text.split()`` + one dict lookup per chunk.

    Valid for tokenizers whose tokens never cross whitespace and whose rules only look inside a
    chunk: spaCy (it splits on whitespace first, then applies its prefix/suffix/infix/exception
    rules to each chunk) and our regex profiles (every lookaround treats a neighbouring space like
    the start/end of the text). Chunks repeat (Zipf), so after warm-up almost every chunk is a hit.
    """

    MAX_MEMO = 1_000_000

    def __init__(self) -> None:
        self._memo: Dict[str, Tuple[str, ...]] = {}

    def __call__(self, text: str) -> List[str]:
        chunks = text.split()
        try:
            return list(chain.from_iterable(map(self._memo.__getitem__, chunks)))
        except KeyError:
            self._learn(set(chunks))
            return list(chain.from_iterable(map(self._memo.__getitem__, chunks)))

    def _learn(self, distinct_chunks: Set[str]) -> None:
        memo = self._memo
        missing = list(distinct_chunks.difference(memo))  # in any order: a chunk's tokens do not depend on others
        if len(memo) + len(missing) > self.MAX_MEMO:
            memo.clear()
            missing = list(distinct_chunks)
        memo.update(zip(missing, self.tokenize_chunks(missing)))

    def tokenize_chunks(self, chunks: List[str]) -> List[Tuple[str, ...]]:
        raise NotImplementedError


class RegexChunkTokenizer(ChunkMemoTokenizer):
    """A ``TOKENIZER_PROFILES`` regex, memoised per chunk (same tokens as ``quality_words(text, profile)``)."""

    def __init__(self, profile: str):
        super().__init__()
        self._findall = TOKENIZER_PROFILES[profile].findall

    def tokenize_chunks(self, chunks: List[str]) -> List[Tuple[str, ...]]:
        # Fast paths, equal to the regex in every profile (tests/test_text.py compares them on FLORES-200's 204
        # languages): the regex costs 3-10 us a chunk. Most unseen chunks are a word of letters outside the
        # no-space scripts (one token: no joiner, symbol or clitic to split at); most others are a word in
        # brackets, quotes or before a comma or full stop, or a word with marks or digits (``_ONE_WORD``: every
        # Indic, Ethiopic or pointed Arabic word, which all went to the regex before, 2x slower per chunk).
        return [(c,) if c.isalpha() and (c.isascii() or not _NO_SPACE_SEARCH(c)) else self._split(c) for c in chunks]

    def _split(self, chunk: str) -> Tuple[str, ...]:
        body = chunk.lstrip(_PLAIN_LEADING)
        word = body.rstrip(_PLAIN_TRAILING)
        tail = body[len(word):]
        if (word.isalpha() and (word.isascii() or not _NO_SPACE_SEARCH(word)) or _ONE_WORD(word)) \
                and ".." not in tail and not (tail[:1] == "." and _ENDS_UPPER(word)):  # "U.", "A.": the dot stays
            return (*chunk[:len(chunk) - len(body)], word, *tail)
        return tuple(self._findall(chunk))


class SpacyChunkTokenizer(ChunkMemoTokenizer):
    """spaCy's rule-based tokenizer for one language (the one datatrove uses), memoised per chunk.

    Exact parity with spaCy's per-language punctuation rules (Armenian ``։``, Russian ``г.``,
    Hebrew ``צה"ל``, Finnish ``N:o``...) that a single regex cannot follow; whitespace tokens are
    never produced (datatrove strips them). A document's unseen chunks go to spaCy in one call.
    """

    def __init__(self, spacy_language: str):
        super().__init__()
        self.spacy_language = spacy_language
        self._nlp = _blank_spacy_tokenizer(spacy_language)
        self._special_cases = set(self._nlp.tokenizer.rules or {})

    def tokenize_chunks(self, chunks: List[str]) -> List[Tuple[str, ...]]:
        # A purely alphabetic chunk that is not one of spaCy's special cases is one token: its
        # prefix/suffix/infix rules only match punctuation, symbols and digits (checked on every
        # alphabetic chunk of the UD corpus in 34 spaCy languages: 238k chunks, 0 differences;
        # tests/test_text.py keeps comparing with datatrove's tokenizer). Only the rest goes to
        # spaCy, which is most of the cost of a cold (unmemoised) document.
        special = self._special_cases
        hard = [c for c in chunks if not c.isalpha() or c in special]
        if not hard:
            return [(c,) for c in chunks]
        ends = list(accumulate(len(c) + 1 for c in hard))  # chunk i ends (exclusive) at ends[i] - 1
        per_chunk: List[List[str]] = [[] for _ in hard]
        i = 0
        with self._nlp.memory_zone():  # new words' lexemes are freed afterwards (bounded memory, like datatrove)
            for token in self._nlp.tokenizer(" ".join(hard)):
                while token.idx >= ends[i]:
                    i += 1
                per_chunk[i].append(token.text)
        spacy_tokens = dict(zip(hard, map(tuple, per_chunk)))
        return [spacy_tokens[c] if c in spacy_tokens else (c,) for c in chunks]


@lru_cache(maxsize=None)
def spacy_language_for(language: Optional[str]) -> Optional[str]:
    """spaCy language code datatrove's word tokenizer uses for ``language`` (None: not a plain spaCy one)."""
    if not language:
        return None
    try:
        from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer
        tokenizer = load_word_tokenizer(language)
    except (ImportError, ValueError):  # unknown language, or a non-spaCy tokenizer that is not installed
        return None
    if not isinstance(tokenizer, SpaCyTokenizer) or tokenizer.config is not None:
        return None  # ja/zh need dictionaries: our character tokens + adapted thresholds instead
    return tokenizer.language if _blank_spacy_tokenizer(tokenizer.language) is not None else None


class _RuleTokenizer:
    """spaCy's rule-based tokenizer of one language and its vocabulary, without a ``Language`` object."""

    def __init__(self, tokenizer, vocab):
        self.tokenizer, self.vocab = tokenizer, vocab

    def memory_zone(self):
        return self.vocab.memory_zone()


@lru_cache(maxsize=None)
def _blank_spacy_tokenizer(code: str):
    """The tokenizer ``spacy.blank(code)`` would build (loaded once per process), or None.

    Built directly from the language's ``Defaults``, as spaCy's ``spacy.Tokenizer.v1`` factory
    does: ``spacy.blank`` resolves its config through registries that load every installed spaCy
    plugin's entry points (here presidio, ~5 s) and costs ~0.4 s per language; this costs
    ~0.05 s, so an actor's start-up no longer grows with the languages it meets. Languages whose
    config names another tokenizer (Vietnamese, Korean, Thai, ...) still go through ``spacy.blank``.
    """
    try:
        from spacy import util
        from spacy.tokenizer import Tokenizer
        from spacy.vocab import Vocab
        module = importlib.import_module(f"spacy.lang.{code}")
        lang_cls = getattr(module, module.__all__[0])
        if lang_cls.default_config["nlp"]["tokenizer"].get("@tokenizers") != "spacy.Tokenizer.v1":
            return _spacy_blank(code)
    except (ImportError, AttributeError, IndexError, KeyError):
        return None
    d = lang_cls.Defaults
    # Only token strings are used: no lexical attributes (shape, like_url, ...) for new words,
    # which were most of spaCy's cost on unseen words (measured: ~55% of a cold run).
    vocab = Vocab(lex_attr_getters={})
    tokenizer = Tokenizer(vocab, rules=d.tokenizer_exceptions,
                          prefix_search=util.compile_prefix_regex(d.prefixes).search if d.prefixes else None,
                          suffix_search=util.compile_suffix_regex(d.suffixes).search if d.suffixes else None,
                          infix_finditer=util.compile_infix_regex(d.infixes).finditer if d.infixes else None,
                          token_match=d.token_match, url_match=d.url_match)
    return _RuleTokenizer(tokenizer, vocab)


def _spacy_blank(code: str):
    try:
        import spacy
        nlp = spacy.blank(code)
    except (ImportError, OSError, ValueError):
        return None
    nlp.vocab.lex_attr_getters = {}
    return nlp


class DictionaryChunkTokenizer(ChunkMemoTokenizer):
    """A dictionary word splitter (the one datatrove/FineWeb-2 uses for the language), memoised per
    whitespace chunk and loaded on first use (Kiwi's model takes seconds to load)."""

    def __init__(self, load_split):
        super().__init__()
        self._load_split = load_split
        self._split = None

    def tokenize_chunks(self, chunks: List[str]) -> List[Tuple[str, ...]]:
        if self._split is None:
            self._split = self._load_split()
        return self._split(chunks)


def _kiwi_split():
    """Korean morphemes (Kiwi), as datatrove's KiwiTokenizer: the text span of each morpheme."""
    from kiwipiepy import Kiwi
    # Chunks are split one at a time, so the multi-word dictionary cannot apply; without it and the typo
    # dictionary Kiwi loads in under 1 s instead of ~3 s, with identical morphemes on 25,257 Korean chunks of UD
    # and FLORES (tests/test_text.py checks a sample against the default Kiwi()).
    kiwi = Kiwi(load_typo_dict=False, load_multi_dict=False)
    return lambda chunks: [tuple(c[t.start:t.end] for t in toks) for c, toks in zip(chunks, kiwi.tokenize(chunks))]


def _thai_split():
    """Thai words (pythainlp ``newmm-safe``), as datatrove's ThaiTokenizer."""
    from pythainlp.tokenize import word_tokenize
    return lambda chunks: [tuple(word_tokenize(c, keep_whitespace=False, engine="newmm-safe")) for c in chunks]


# ISO 639-3 code -> (module that must be installed, loader): FineWeb-2's dictionary splitters that install
# from PyPI (measured in bench/filters_speed.py --dictionary).
DICTIONARY_SPLITTERS = {"kor": ("kiwipiepy", _kiwi_split), "tha": ("pythainlp", _thai_split)}


@lru_cache(maxsize=None)
def dictionary_splitter_for(language: Optional[str]) -> Optional[str]:
    """The ISO 639-3 code whose dictionary splitter serves ``language``, if its package is installed."""
    code3 = (language or "").split("_")[0]
    if code3 not in DICTIONARY_SPLITTERS:
        return None
    return code3 if importlib.util.find_spec(DICTIONARY_SPLITTERS[code3][0]) else None


_CHUNK_TOKENIZERS: Dict[Tuple[str, str], ChunkMemoTokenizer] = {}


TOKENIZER_ENGINES = ("auto", "spacy", "regex")


def word_tokenizer(language: Optional[str], engine: str = "auto", profile: str = "default"):
    """Tokenizer for the quality filters, memoised per whitespace chunk and shared per process (loaded
    lazily). ``auto``: the dictionary splitter FineWeb-2 uses for the language where its package is
    installed (Korean, Thai), else the regex ``profile``; ``spacy``: as ``auto``, but datatrove's own spaCy
    tokenizer where datatrove uses a plain spaCy one (exact tokens); ``regex``: always the regex profile.

    Why ``auto`` does not load spaCy: building spaCy's rule tokenizers cost an actor ~0.1-3 s per language
    (seconds for French and Indonesian, 2 s to import spaCy), about 15 s of a 2-core quality run over 35
    languages, and grows with the languages an actor meets; the regex profiles mimic spaCy's rules and agree
    with datatrove's filters on >= 99% of decisions per filter (``tests/test_quality.py``)."""
    if engine not in TOKENIZER_ENGINES:
        raise ValueError(f"tokenizer.engine: {engine!r}; expected one of {', '.join(TOKENIZER_ENGINES)}")
    dictionary = dictionary_splitter_for(language) if engine != "regex" else None
    code = spacy_language_for(language) if engine == "spacy" and not dictionary else None
    key = ("dictionary", dictionary) if dictionary else ("spacy", code) if code else ("regex", profile)
    if key not in _CHUNK_TOKENIZERS:
        _CHUNK_TOKENIZERS[key] = (DictionaryChunkTokenizer(DICTIONARY_SPLITTERS[dictionary][1]) if dictionary
                                  else SpacyChunkTokenizer(code) if code else RegexChunkTokenizer(profile))
    return _CHUNK_TOKENIZERS[key]


def split_words_for_script(text: str, script: str) -> List[str]:
    """Word tokens of ``text`` written in ``script`` (one splitter; per-script behaviour documented above)."""
    return quality_words(text)


# spaCy's sentencizer: a sentence ends after a run of punctuation tokens that contains one of
# these characters as a token of its own, once a non-punctuation token follows.
SENTENCE_END_CHARS = frozenset(
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？"
    "𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。"
)
_ALL_PUNCT_RE = regex.compile(r"\p{P}+")
_BOUNDARY_RE = re.compile(r"E[EP]*W")


@lru_cache(maxsize=1 << 16)  # tokens repeat; the classification is a pure function of the token
def _token_class(token: str) -> str:
    if token in SENTENCE_END_CHARS:
        return "E"
    return "P" if _ALL_PUNCT_RE.fullmatch(token) else "W"


def count_sentences(line: str, profile="default") -> int:
    """Sentences in one line, the way spaCy's sentencizer splits it (used by the C4 filter)."""
    tokens = quality_words(line, profile)
    if not tokens:
        return 0
    classes = "".join(map(_token_class, tokens))
    return 1 + len(_BOUNDARY_RE.findall(classes))
