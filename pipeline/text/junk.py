"""Junk documents generated in any language, to measure what the quality filters drop.

Each kind mimics a family of web junk from the language's own sentences and words, so a filter
is tested in the script and vocabulary it will meet: navigation boilerplate, repeated lines,
keyword stuffing, character noise, text of another language, code and tables. Used by
``xcurate calibrate-quality`` (junk-drop rate of the fitted settings) and ``bench/quality_eval.py``.
"""
from __future__ import annotations

import random
import string
from typing import Callable, Dict, List, Sequence

from xcurate.text.words import split_words

_NAV_MARKS = ("|", "»", "›", "·", "•", ">", "/", "-")
_SYMBOLS = string.punctuation + string.digits + "©®™€£¥§¶°±×÷"
_CODE_LINES = (
    "def {w}(x, y=None):", "    return x + {n}", "for (let i = 0; i < {n}; i++) {{", "  {w}[i] = null;", "}}",
    "<div class=\"{w}\"><a href=\"/{w}\">{w}</a></div>", "SELECT * FROM {w} WHERE id = {n};",
    "import {w} from './{w}.js';", "if ({w} != {n}) {{ return; }}", "    {w} = {w}.strip().split(',')",
)


def _words(sentences: Sequence[str]) -> List[str]:
    words = [w for s in sentences for w in split_words(s)]
    return words or ["x"]


def navigation(rng: random.Random, sentences: Sequence[str], _other: Sequence[str]) -> str:
    words = _words(sentences)
    mark = rng.choice(_NAV_MARKS)
    lines = [f" {mark} ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(15, 40))]
    lines.insert(rng.randrange(len(lines)), rng.choice(sentences))
    lines.append(f"© {rng.randint(1998, 2026)} {rng.choice(words)}")
    return "\n".join(lines)


def repeated_lines(rng: random.Random, sentences: Sequence[str], _other: Sequence[str]) -> str:
    repeated = rng.sample(list(sentences), min(2, len(sentences)))
    lines = [rng.choice(repeated) for _ in range(rng.randint(10, 30))]
    lines[rng.randrange(len(lines))] = rng.choice(sentences)
    return "\n".join(lines)


def keyword_stuffing(rng: random.Random, sentences: Sequence[str], _other: Sequence[str]) -> str:
    words = _words(sentences)
    keywords = rng.sample(words, min(6, len(words)))
    phrases = [" ".join(rng.sample(keywords, rng.randint(1, min(3, len(keywords))))) for _ in range(rng.randint(40, 90))]
    sep = rng.choice((", ", " ", "\n", " | "))
    return sep.join(phrases)


def character_noise(rng: random.Random, sentences: Sequence[str], _other: Sequence[str]) -> str:
    letters = [c for s in sentences for c in s if not c.isspace()] or list(string.ascii_letters)
    pool = letters + list(_SYMBOLS) * (len(letters) // len(_SYMBOLS) + 1)
    tokens = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(80, 200))]
    return "\n".join(" ".join(tokens[i:i + 12]) for i in range(0, len(tokens), 12))


def other_language(rng: random.Random, _sentences: Sequence[str], other: Sequence[str]) -> str:
    start = rng.randrange(max(1, len(other) - 8))
    return " ".join(other[start:start + 8])


def code_or_table(rng: random.Random, sentences: Sequence[str], _other: Sequence[str]) -> str:
    words = _words(sentences)
    if rng.random() < 0.5:
        lines = [rng.choice(_CODE_LINES).format(w=rng.choice(words), n=rng.randint(0, 999))
                 for _ in range(rng.randint(15, 40))]
    else:
        columns = rng.randint(3, 6)
        lines = [" | ".join(rng.choice(words) for _ in range(columns))]
        lines += [" | ".join(f"{rng.uniform(0, 1000):.{rng.randint(0, 2)}f}" if rng.random() < 0.7 else rng.choice(words)
                             for _ in range(columns)) for _ in range(rng.randint(10, 30))]
    return "\n".join(lines)


JUNK_KINDS: Dict[str, Callable[[random.Random, Sequence[str], Sequence[str]], str]] = {
    "navigation": navigation, "repeated_lines": repeated_lines, "keyword_stuffing": keyword_stuffing,
    "character_noise": character_noise, "other_language": other_language, "code_or_table": code_or_table,
}


def junk_documents(sentences: Sequence[str], other_language_sentences: Sequence[str], per_kind: int,
                   seed: int = 0) -> List[tuple]:
    """``per_kind`` documents of each junk kind, as (kind, text), built from a language's sentences
    (and, for ``other_language``, another language's)."""
    rng = random.Random(seed)
    return [(kind, make(rng, sentences, other_language_sentences))
            for kind, make in JUNK_KINDS.items() for _ in range(per_kind)]
