"""Language table: ISO 639 codes, English names and the codes MT models and LID use.

The table is data (``configs/languages/iso639_names.tsv``); a language can be named by its
ISO 639-1 or 639-3 code, an alias (``cmn`` for Chinese, ``swh`` for Swahili) or a FLORES-200
code (``deu_Latn``). The canonical ``code`` (639-1 where one exists, else 639-3) is what the
output is partitioned by.
"""
from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional
from xcurate.resources import data_path

DEFAULT_TABLE = str(data_path("languages", "iso639_names.tsv"))

NO_SPACE_SCRIPTS = {"Hans", "Hant", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"}


class UnsupportedLanguageError(ValueError):
    """A language code the table (or a model) does not know; the message lists the supported ones."""


@dataclass(frozen=True)
class Language:
    code: str
    iso639_1: str
    iso639_3: str
    name: str
    nllb: str
    m2m100: str
    fasttext: str
    aliases: tuple

    @property
    def script(self) -> str:
        return self.nllb.split("_")[1] if "_" in self.nllb else ""

    @property
    def spaced(self) -> bool:
        """False for scripts written without spaces between words (sentences join with '')."""
        return self.script not in NO_SPACE_SCRIPTS

    def all_codes(self) -> List[str]:
        codes = [self.code, self.iso639_1, self.iso639_3, self.nllb, *self.aliases]
        return [c for c in dict.fromkeys(codes) if c]


class LanguageTable:
    def __init__(self, languages: Iterable[Language]):
        self.languages: Dict[str, Language] = {}
        self._index: Dict[str, Language] = {}
        for lang in languages:
            self.languages[lang.code] = lang
        # Canonical codes win over aliases and FLORES codes when they collide.
        for lang in self.languages.values():
            for c in reversed(lang.all_codes()):
                self._index.setdefault(c.lower(), lang)
        for lang in self.languages.values():
            self._index[lang.code.lower()] = lang

    @classmethod
    def load(cls, path: Optional[str] = None) -> "LanguageTable":
        return _load_table(os.path.abspath(path or DEFAULT_TABLE))

    def get(self, code: str) -> Optional[Language]:
        if not isinstance(code, str):
            return None
        key = code.strip().lower()
        lang = self._index.get(key)
        if lang is None and "_" in key:  # FLORES code with a script the table does not list
            lang = self._index.get(key.split("_")[0])
        return lang

    def resolve(self, code: str, supported: Optional[Iterable[str]] = None, what: str = "language table") -> Language:
        """The language for ``code``; raises UnsupportedLanguageError listing what is supported."""
        lang = self.get(code)
        allowed = set(supported) if supported is not None else None
        if lang is not None and (allowed is None or lang.code in allowed):
            return lang
        listed = sorted(allowed if allowed is not None else self.languages)
        raise UnsupportedLanguageError(
            f"unsupported language code {code!r} for the {what}; supported ({len(listed)}): {', '.join(listed)}")


@functools.lru_cache(maxsize=8)
def _load_table(path: str) -> LanguageTable:
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        langs = [Language(r["code"], r["iso639_1"], r["iso639_3"], r["name"], r["nllb"], r["m2m100"],
                          r["fasttext"], tuple(a for a in (r["aliases"] or "").split(",") if a)) for r in rows]
    return LanguageTable(langs)
