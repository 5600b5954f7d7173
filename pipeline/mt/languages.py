"""Language table: ISO 639 codes, English names and the codes MT models and LID use.

The tables are data (``configs/languages/iso639_names.tsv``, ``lid176_labels.tsv``); a language
can be named by its ISO 639-1 or 639-3 code, an alias (``cmn`` for Chinese, ``swh`` for Swahili),
a FLORES-200 / NLLB code (``deu_Latn``), the code ``xcurate run`` writes (``cmn_Hani``) or a
BCP-47 tag (``pt-BR``). ``code`` (639-1 where one exists, else 639-3) is the table's key; every
output column names a language by ``corpus_code`` (ISO 639-3 + ISO 15924 script, ``deu_Latn``),
the code the ``langid`` stage writes, so ``run``, ``synth`` and ``mix`` outputs agree.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple
from xcurate.resources import data_path

DEFAULT_TABLE = str(data_path("languages", "iso639_names.tsv"))
LID176_LABELS = str(data_path("languages", "lid176_labels.tsv"))
_CORPUS_STYLE = re.compile(r"^[a-z]{2,3}_[A-Z][a-z]{3}$")  # iso639_3 + "_" + ISO 15924 script

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

    def corpus_code(self, script: str = "") -> str:
        """The code ``xcurate run`` writes (``deu_Latn``, ``cmn_Hani``, ``srp_Latn`` for script Latn);
        the bare ISO 639-3 code when neither LID nor FLORES knows the language's script."""
        label = self.fasttext or self.iso639_3
        labels = load_label_table()
        script = script or self.script
        if not script and label not in labels:
            return self.iso639_3 or self.code
        return map_label(label, script, labels)


class LanguageTable:
    def __init__(self, languages: Iterable[Language]):
        self.languages: Dict[str, Language] = {lang.code: lang for lang in _share_model_codes(languages)}
        self._index: Dict[str, Language] = {}
        # Canonical codes win over aliases and FLORES codes when they collide.
        for lang in self.languages.values():
            for c in reversed(lang.all_codes()):
                self._index.setdefault(c.lower(), lang)
        for lang in self.languages.values():
            self._index[lang.code.lower()] = lang
        for lang in self.languages.values():  # LID's code where it is none of the above (kv → kpv_Cyrl)
            self._index.setdefault(lang.corpus_code().lower(), lang)

    @classmethod
    def load(cls, path: Optional[str] = None) -> "LanguageTable":
        return _load_table(os.path.abspath(path or DEFAULT_TABLE))

    def get(self, code: str) -> Optional[Language]:
        if not isinstance(code, str):
            return None
        key = code.strip().lower().replace("-", "_")
        lang = self._index.get(key)
        if lang is None and "_" in key:  # FLORES code with a script the table does not list, BCP-47 region
            lang = self._index.get(key.split("_")[0])
        return lang

    def corpus_code(self, code: Optional[str]) -> Optional[str]:
        """Any accepted code as the code ``xcurate run`` writes (``de``/``deu``/``deu_Latn`` →
        ``deu_Latn``); a script named in ``code`` is kept when the language is written in it.
        Codes the table does not know come back unchanged."""
        lang = self.get(code) if code else None
        if lang is None:
            return code
        parts = code.strip().replace("-", "_").split("_")
        script = parts[1].title() if len(parts) == 2 and len(parts[1]) == 4 else ""
        return lang.corpus_code(script)

    def resolve(self, code: str, supported: Optional[Iterable[str]] = None, what: str = "language table") -> Language:
        """The language for ``code``; raises UnsupportedLanguageError listing what is supported."""
        lang = self.get(code)
        allowed = set(supported) if supported is not None else None
        if lang is not None and (allowed is None or lang.code in allowed):
            return lang
        listed = sorted(allowed if allowed is not None else self.languages)
        raise UnsupportedLanguageError(
            f"unsupported language code {code!r} for the {what}; supported ({len(listed)}): {', '.join(listed)}")


def _share_model_codes(languages: Iterable[Language]) -> List[Language]:
    """Entries that LID and the output name alike (``no`` and ``nb`` are both ``nob_Latn``) are one
    language to the MT models too: each takes the model codes it lacks from the other, so a code
    written to the output translates with every model that knows one of them."""
    languages = list(languages)
    groups: Dict[str, List[Language]] = {}
    for lang in languages:
        groups.setdefault(lang.corpus_code(), []).append(lang)
    shared = {}
    for group in groups.values():
        for field in ("nllb", "m2m100"):
            code = next((getattr(lang, field) for lang in group if getattr(lang, field)), "")
            for lang in group:
                if not getattr(lang, field):
                    shared.setdefault(lang.code, {})[field] = code
    return [dataclasses.replace(lang, **shared[lang.code]) if lang.code in shared else lang for lang in languages]


@functools.lru_cache(maxsize=4)
def load_label_table(path: str = LID176_LABELS) -> Dict[str, Tuple[str, str, Tuple[str, ...]]]:
    """lid.176 label -> (iso639_3, default script, other scripts)."""
    table = {}
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        for row in rows:
            others = tuple(s for s in (row["other_scripts"] or "").split(",") if s)
            table[row["label"]] = (row["iso639_3"], row["script"], others)
    return table


def map_label(raw_label: str, text_script: str, table: Dict[str, Tuple[str, str, Tuple[str, ...]]]) -> str:
    """A LID model label (``__label__en`` / ``__label__eng_Latn``) as ``iso639_3_Script``; the text's
    script is used when the language is written in it, else the language's default script."""
    label = raw_label.removeprefix("__label__")
    if _CORPUS_STYLE.match(label):
        return label
    entry = table.get(label)
    if entry is None:
        return f"{label}_{text_script}"
    code3, default_script, others = entry
    script = text_script if text_script == default_script or text_script in others else default_script
    return f"{code3}_{script}"


@functools.lru_cache(maxsize=8)
def _load_table(path: str) -> LanguageTable:
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        langs = [Language(r["code"], r["iso639_1"], r["iso639_3"], r["name"], r["nllb"], r["m2m100"],
                          r["fasttext"], tuple(a for a in (r["aliases"] or "").split(",") if a)) for r in rows]
    return LanguageTable(langs)
