"""Text handling around MT: structure protection, sentence splitting, numbers.

* Fenced code blocks are never sent to a translator (they are kept verbatim between the
  translated pieces).
* Inline code, URLs, e-mail addresses and placeholders (``{name}``, ``{{x}}``, ``%s``,
  ``%(n)d``, ``${var}``) are masked with sentinels ``[[0]]``, ``[[1]]``... and restored
  afterwards; a translator that drops or garbles a sentinel leaves the span missing, which the
  QC structure check reports (never a silent change).
* Long texts are split at sentence boundaries (paragraph breaks kept) into chunks under a
  token budget and reassembled with the original separators.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

import regex

FENCED_CODE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_PATTERNS = [
    r"`[^`\n]+`",                                   # inline code
    r"(?:https?|ftp)://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]",  # URL (not its trailing punctuation)
    r"www\.[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]",
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",               # e-mail address
    r"\{\{[^{}\n]{1,60}\}\}",                        # {{placeholder}}
    r"\{[A-Za-z_0-9][\w.]{0,40}\}",                 # {name} / {0}
    r"\$\{[A-Za-z_][\w.]{0,40}\}",                  # ${var}
    r"%\([A-Za-z_]\w*\)[sdfr]",                     # %(name)s
    r"%[sdfr]",                                     # %s
]
PROTECTED_INLINE = re.compile("|".join(f"(?:{p})" for p in _INLINE_PATTERNS))
SENTINEL = re.compile(r"\[\[(\d{1,3})\]\]")

# Sentence ends: Latin/Cyrillic/Greek punctuation followed by space, and closing
# punctuation of scripts that do not use spaces (CJK, Devanagari danda, Arabic, Ethiopic...).
_SENT_END = regex.compile(
    r"(?<=[.!?…;][\"'”’»)\]]*)\s+(?=\S)"
    r"|(?<=[。！？；][\"'”’」』)]*)(?=\S)"
    r"|(?<=[।॥؟۔።፧։။])\s*(?=\S)")
_CLAUSE_END = regex.compile(r"(?<=[,，、:：])\s*(?=\S)")


def protected_spans(text: str) -> Counter:
    """Multiset of the spans that a translation must keep verbatim (code, URLs, e-mails, placeholders)."""
    spans = Counter(m.group(0) for m in FENCED_CODE.finditer(text))
    rest = FENCED_CODE.sub(" ", text)
    spans.update(m.group(0) for m in PROTECTED_INLINE.finditer(rest))
    return spans


_NUMBER = regex.compile(r"\p{Nd}+(?:[.,\u00a0\u202f' ]\p{Nd}{3})*(?:[.,]\p{Nd}+)?")


def numbers_in(text: str) -> Counter:
    """Numbers as digit strings: separators dropped, any script's digits read as 0-9.

    ``1,000.5`` (en), ``1.000,5`` (de) and ``١٠٠٠٫٥`` all become ``10005``, so a translator
    may reformat a number but not change it. Protected spans (URLs, code) are not counted.
    """
    text = PROTECTED_INLINE.sub(" ", FENCED_CODE.sub(" ", text))
    out = Counter()
    for m in _NUMBER.finditer(text):
        digits = "".join(str(unicodedata.digit(ch)) for ch in m.group(0) if ch.isdigit())
        out[digits.lstrip("0") or "0"] += 1
    return out


@dataclass
class Masked:
    text: str
    spans: List[str] = field(default_factory=list)


def mask(text: str) -> Masked:
    """Replace inline protected spans with ``[[i]]`` (texts that already contain such tokens are left as they are)."""
    if SENTINEL.search(text):
        return Masked(text)
    spans: List[str] = []

    def repl(m):
        spans.append(m.group(0))
        return f"[[{len(spans) - 1}]]"

    return Masked(PROTECTED_INLINE.sub(repl, text), spans)


def unmask(translated: str, spans: List[str]) -> str:
    if not spans:
        return translated
    return SENTINEL.sub(lambda m: spans[int(m.group(1))] if int(m.group(1)) < len(spans) else m.group(0),
                        translated)


def split_sentences(text: str) -> List[Tuple[str, str]]:
    """``[(sentence, separator_after)]``; ``"".join(s + sep)`` gives the text back."""
    out: List[Tuple[str, str]] = []
    for para, para_sep in _split_keep(text, re.compile(r"\n+")):
        pieces = _split_keep(para, _SENT_END)
        out.extend(pieces[:-1])
        last, last_sep = pieces[-1]
        out.append((last, last_sep + para_sep))
    return [(s, sep) for s, sep in out if s or sep]


def _split_keep(text: str, pattern) -> List[Tuple[str, str]]:
    parts, pos = [], 0
    for m in pattern.finditer(text):
        parts.append((text[pos:m.start()], m.group(0)))
        pos = m.end()
    parts.append((text[pos:], ""))
    return parts


@dataclass
class Piece:
    text: str
    translate: bool
    sep: str = ""          # separator after the piece (kept verbatim)
    spans: List[str] = field(default_factory=list)


def plan_pieces(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> List[Piece]:
    """Cut ``text`` into pieces to translate (masked, each under ``max_tokens``) and pieces kept verbatim."""
    pieces: List[Piece] = []
    pos = 0
    for m in FENCED_CODE.finditer(text):
        pieces.extend(_prose_pieces(text[pos:m.start()], max_tokens, count_tokens))
        pieces.append(Piece(m.group(0), False))
        pos = m.end()
    pieces.extend(_prose_pieces(text[pos:], max_tokens, count_tokens))
    return pieces


def _prose_pieces(text: str, max_tokens: int, count_tokens) -> List[Piece]:
    if not text:
        return []
    lead = text[:len(text) - len(text.lstrip())]
    body = text.strip()
    trail = text[len(lead) + len(body):]
    out = [Piece(lead, False)] if lead else []
    if body:
        masked = mask(body)  # before splitting, so that no URL or placeholder is cut in two
        for chunk, sep in _chunks(masked.text, max_tokens, count_tokens):
            out.append(Piece(chunk, True, sep, masked.spans))
    if trail:
        if out and out[-1].translate:
            out[-1].sep += trail
        else:
            out.append(Piece(trail, False))
    return out


def _chunks(body: str, max_tokens: int, count_tokens) -> List[Tuple[str, str]]:
    """Greedy packing of whole sentences up to ``max_tokens``; a sentence that alone is too long is cut at clauses, then words."""
    if count_tokens(body) <= max_tokens:
        return [(body, "")]
    units: List[Tuple[str, str]] = []
    for sent, sep in split_sentences(body):
        if count_tokens(sent) <= max_tokens:
            units.append((sent, sep))
        else:
            units.extend(_split_long(sent, sep, max_tokens, count_tokens))
    out: List[Tuple[str, str]] = []
    cur, cur_sep = "", ""
    for sent, sep in units:
        candidate = cur + cur_sep + sent if cur else sent
        if cur and ("\n" in cur_sep or count_tokens(candidate) > max_tokens):
            out.append((cur, cur_sep))
            cur, cur_sep = sent, sep
        else:
            cur, cur_sep = candidate, sep
    if cur:
        out.append((cur, cur_sep))
    return out


def _split_long(sent: str, sep: str, max_tokens: int, count_tokens) -> List[Tuple[str, str]]:
    parts = _split_keep(sent, _CLAUSE_END)
    if len(parts) == 1:
        words = sent.split(" ")
        parts, cur = [], []
        for w in words:
            if cur and count_tokens(" ".join(cur + [w])) > max_tokens:
                parts.append((" ".join(cur), " "))
                cur = []
            cur.append(w)
        parts.append((" ".join(cur), ""))
        if len(parts) == 1:  # one unbreakable word (e.g. no-space script): cut by characters
            step = max(1, len(sent) * max_tokens // max(1, count_tokens(sent)))
            parts = [(sent[i:i + step], "") for i in range(0, len(sent), step)]
    else:
        parts = [p for chunk, s in parts for p in _split_long(chunk, s, max_tokens, count_tokens)] \
            if any(count_tokens(c) > max_tokens for c, _ in parts) else parts
    parts[-1] = (parts[-1][0], parts[-1][1] + sep)
    return parts


def reassemble(pieces: List[Piece], translations: Dict[int, str], target_spaced: bool) -> str:
    """Join pieces; ``translations[i]`` replaces piece ``i`` (a translatable one)."""
    out = []
    for i, p in enumerate(pieces):
        text = unmask(translations[i], p.spans) if p.translate else p.text
        sep = p.sep
        if p.translate and sep == "" and i + 1 < len(pieces) and pieces[i + 1].translate and target_spaced:
            sep = " "  # sentences of a no-space source language joined for a spaced target
        out.append(text + sep)
    return "".join(out)


def approx_tokens(text: str) -> int:
    """Token estimate when no tokenizer is at hand: ~4 chars per token, 1 per CJK-like char."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    return wide + (len(text) - wide + 3) // 4
