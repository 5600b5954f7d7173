"""Text normalisation shared by dedup (and any matching on normalised text): diacritics off, vowels kept.

datatrove's normalisation drops every combining mark after NFD. In alphabets the marks are
diacritics (é, ё, Hebrew points, Arabic harakat), optional for matching; in abugidas (Devanagari,
Bengali, Tamil, Thai, Myanmar, Khmer, ...) and in Ethiopic the marks are the vowels and dropping them
turns one word into another (Hindi "कि" and "का" both become "क"). So marks are dropped only after
letters of the alphabets below; the same rule in both regex dialects (Python ``regex``, polars/Rust).
"""
from __future__ import annotations

import unicodedata

import regex

# Scripts whose combining marks are diacritics (Latin also covers Vietnamese and decomposed Latin).
DIACRITIC_SCRIPTS = ("Latin", "Greek", "Cyrillic", "Armenian", "Georgian", "Hebrew", "Arabic", "Syriac", "Thaana")
_BASES = "".join(f"\\p{{{s}}}" for s in DIACRITIC_SCRIPTS)
# A letter of those scripts followed by its (NFD) non-spacing marks: the replacement keeps the letter.
DIACRITICS_PATTERN = rf"([{_BASES}])\p{{Mn}}+"
_DIACRITICS_RE = regex.compile(DIACRITICS_PATTERN)


def strip_diacritics(text: str) -> str:
    """NFD ``text`` without the diacritics of alphabetic scripts (abugida vowel signs kept)."""
    return _DIACRITICS_RE.sub(r"\1", unicodedata.normalize("NFD", text))


def strip_diacritics_series(series):
    """The same for a polars String Series, in Rust."""
    return series.str.normalize("NFD").str.replace_all(DIACRITICS_PATTERN, "${1}")
