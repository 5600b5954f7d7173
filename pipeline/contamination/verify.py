"""Verification of a cross-lingual match: a translation, or a passage on the same topic?

An embedding puts a topical look-alike ("drink enough water in hot weeks") close to a benchmark
sentence ("boiling water for a minute is enough"); a translation also keeps what the look-alike
lacks: the numbers and the Latin-script names of the item. ``verify`` decides with these signals
and the encoder's calibrated cosines (``configs/xling_encoders.yaml``):

- numbers of the item (two digits or more, any digit script) none of which is in the passage:
  rejected (a translation keeps them; spelled-out small numbers are not counted);
- cosine ≥ ``verified_cosine``: verified by the cosine (the caller passes the encoder's higher
  ``short_verified_cosine`` for a benchmark unit of few tokens: ``Verification.verified_cosine_for``);
- cosine ≥ ``anchored_cosine``, the passage closer to the item than any other benchmark item is
  (mutual nearest neighbour), and the same numbers, or two or more of the item's names, in the
  passage: verified by that anchor (neighbouring sentences of one article share names and
  numbers too: hence the cosine floor);
- otherwise a candidate (reported for review, never counted as found); two such candidates at
  ``anchored_cosine`` or more, mutual nearest neighbours, in windows of one document that do not
  overlap, matching the same item: verified by that agreement (signal ``windows``; an MC question
  and its options, two sentences of a paragraph; ``xling_index.select_matches``).
"""
from __future__ import annotations

import unicodedata
from typing import FrozenSet, Optional, Tuple

import regex

VERIFIED, CANDIDATE = "verified", "candidate"
WINDOWS = "windows"  # the signal of agreement between windows

NUMBER_RE = regex.compile(r"\d(?:[\d.,\u00a0\u202f ]*\d)?")
LATIN_NAME_RE = regex.compile(r"(?<![\p{L}\p{M}])\p{Lu}[\p{Latin}\p{M}'’\-]{2,}")


def numbers(text: str) -> FrozenSet[str]:
    """Numbers of two digits or more, digits of any script as ASCII, separators dropped."""
    out = set()
    for m in NUMBER_RE.findall(text):
        digits = "".join(str(unicodedata.digit(c)) for c in m if c.isdigit())
        if len(digits) >= 2:
            out.add(digits)
    return frozenset(out)


def latin_names(text: str) -> FrozenSet[str]:
    """Capitalised Latin-script words (names survive translation into other Latin-script languages)."""
    return frozenset(w.casefold() for w in LATIN_NAME_RE.findall(text))


def verify(item_text: str, passage: str, cosine: float, unit_nn: float, verified_cosine: float,
           anchored_cosine: float) -> Tuple[Optional[str], str]:
    """(confidence or None when rejected, the signal that decided)."""
    item_numbers = numbers(item_text)
    passage_numbers = numbers(passage)
    if item_numbers and not item_numbers & passage_numbers:
        return None, "numbers_disagree"
    if cosine >= verified_cosine:
        return VERIFIED, "cosine"
    if cosine >= anchored_cosine and cosine > unit_nn:
        if item_numbers and item_numbers == passage_numbers:
            return VERIFIED, "numbers"
        if len(latin_names(item_text) & latin_names(passage)) >= 2:
            return VERIFIED, "names"
    return CANDIDATE, "cosine_below_verified"


def verify_same_language(item_text: str, passage: str, containment: float, cosine: Optional[float],
                         exact_containment: float, verified_cosine: float,
                         copy: Optional[float] = None) -> Tuple[Optional[str], str]:
    """A fuzzy same-language match (``fuzzy.FuzzyIndex``) of a translated item: (confidence or None, signal).
    The item's numbers must reappear; near-exact containment verifies alone (a copy of the human
    translation) when ``copy`` (``fuzzy.copy_share``: all the item's n-grams, not only the rare
    ones) agrees; otherwise the encoder's same-language cosine of the passage and the item, when
    the encoder covers the language (``cosine`` not None); else a candidate."""
    item_numbers = numbers(item_text)
    if item_numbers and not item_numbers & numbers(passage):
        return None, "numbers_disagree"
    if containment >= exact_containment and (copy is None or copy >= exact_containment):
        return VERIFIED, "ngram"
    if cosine is not None and cosine >= verified_cosine:
        return VERIFIED, "cosine"
    return CANDIDATE, "containment_below_exact" if cosine is None else "cosine_below_verified"
