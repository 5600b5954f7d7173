"""The MT backend interface and the translator that wraps every backend.

A backend translates plain, already-masked chunks for one language pair and returns, per
chunk, either a string or an :class:`MTFailure`. :class:`Translator` does the rest, the same
for every backend: structure protection, sentence splitting of long inputs, de-duplication of
identical chunks, reassembly and failure records.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from xcurate.mt.languages import Language, LanguageTable
from xcurate.mt.text import approx_tokens, plan_pieces, reassemble


@dataclass(frozen=True)
class MTFailure:
    reason: str          # short machine-readable reason: http_500, http_429, timeout, malformed_response, ...
    attempts: int = 1
    detail: str = ""     # human-readable, never contains credentials

    def __str__(self) -> str:
        return f"{self.reason} after {self.attempts} attempt(s){': ' + self.detail if self.detail else ''}"


Result = Union[str, MTFailure]


class MTBackend:
    """Translate chunks (each under ``max_input_tokens``) from one language to another."""

    name: str = ""
    model: str = ""
    max_input_tokens: int = 256

    def setup(self) -> None:
        """Load models / open sessions (called once per worker)."""

    def supported_languages(self, table: LanguageTable) -> Optional[List[str]]:
        """Canonical codes this backend can translate, or None when any language is accepted."""
        return None

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def translate(self, chunks: Sequence[str], src: Language, tgt: Language) -> List[Result]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass


@dataclass
class TranslationRequest:
    text: str
    src: str   # canonical language codes
    tgt: str


class Translator:
    """Translate whole texts through a backend (protection, splitting, caching, reassembly)."""

    def __init__(self, backend: MTBackend, table: LanguageTable, cache_size: int = 20_000):
        self.backend = backend
        self.table = table
        self._cache: "OrderedDict[Tuple[str, str, str], str]" = OrderedDict()
        self._cache_size = cache_size
        self.stats = {"texts": 0, "chunks": 0, "chunks_translated": 0, "source_tokens": 0}

    def translate(self, requests: Sequence[TranslationRequest]) -> List[Result]:
        plans = []
        todo: Dict[Tuple[str, str], "OrderedDict[str, None]"] = {}
        for req in requests:
            pieces = plan_pieces(req.text, self.backend.max_input_tokens, self.backend.count_tokens)
            plans.append(pieces)
            for p in pieces:
                if p.translate:
                    self.stats["chunks"] += 1
                    if (p.text, req.src, req.tgt) not in self._cache:
                        todo.setdefault((req.src, req.tgt), OrderedDict())[p.text] = None
        failures: Dict[Tuple[str, str, str], MTFailure] = {}
        fresh: Dict[Tuple[str, str, str], str] = {}
        for (src, tgt), chunks in todo.items():
            chunk_list = list(chunks)
            results = self.backend.translate(chunk_list, self.table.resolve(src), self.table.resolve(tgt))
            self.stats["chunks_translated"] += len(chunk_list)
            self.stats["source_tokens"] += sum(self.backend.count_tokens(c) for c in chunk_list)
            for chunk, res in zip(chunk_list, results):
                if isinstance(res, MTFailure):
                    failures[(chunk, src, tgt)] = res
                else:
                    fresh[(chunk, src, tgt)] = res
                    self._remember((chunk, src, tgt), res)
        out: List[Result] = []
        for req, pieces in zip(requests, plans):
            self.stats["texts"] += 1
            out.append(self._assemble(req, pieces, failures, fresh))
        return out

    def _assemble(self, req, pieces, failures, fresh) -> Result:
        translated: Dict[int, str] = {}
        for i, p in enumerate(pieces):
            if not p.translate:
                continue
            key = (p.text, req.src, req.tgt)
            if key in failures:
                return failures[key]
            translated[i] = fresh[key] if key in fresh else self._cache[key]
        return reassemble(pieces, translated, self.table.resolve(req.tgt).spaced)

    def _remember(self, key, value: str) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
