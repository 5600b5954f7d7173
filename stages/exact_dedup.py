"""Exact duplicate removal: a 128-bit hash of the normalised text, one document kept per group.

Normalisation is configurable (case, whitespace, punctuation, digits). Documents whose
normalised text is empty are never grouped: removing empty text is a length filter's job,
and "duplicates of nothing" say nothing about each other.
"""
from __future__ import annotations

import hashlib
from typing import Literal, Optional, Sequence, Tuple

import numpy as np
from pydantic import Field

from stages import register
from stages.base import GlobalStage, Resources, StageParams


class ExactDedupParams(StageParams):
    text_column: str = "text"
    id_column: str = "id"
    lowercase: bool = True
    normalize_whitespace: bool = True
    strip_punctuation: bool = False
    normalize_digits: bool = False
    scope: Literal["global", "language"] = "global"
    language_column: str = "language"
    keep: Literal["smallest_id", "longest", "highest_quality"] = "smallest_id"
    quality_column: str = "quality"
    num_partitions: Optional[int] = Field(None, ge=1, description="shuffle partitions; null = auto")
    batch_rows: int = Field(5000, ge=1)


def normalize_exact(texts, params: ExactDedupParams):
    """Normalised texts of a batch (polars Series), vectorised."""
    import polars as pl

    s = texts if isinstance(texts, pl.Series) else pl.Series("text", texts, dtype=pl.String)
    s = s.fill_null("")
    if params.lowercase:
        s = s.str.to_lowercase()
    if params.normalize_digits:
        s = s.str.replace_all(r"\p{Nd}", "0")
    if params.strip_punctuation:
        s = s.str.replace_all(r"[\p{P}\p{S}]+", " ")
    if params.normalize_whitespace:
        s = s.str.replace_all(r"\s+", " ").str.strip_chars()
    return s


def text_digests(normalized: Sequence[str], scopes: Optional[Sequence[Optional[str]]] = None
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(high 64 bits, low 64 bits, non-empty mask) of BLAKE2b-128 over scope + text.

    128 bits so that a billion-document corpus has no realistic chance of a false match.
    """
    n = len(normalized)
    hi = np.zeros(n, np.uint64)
    lo = np.zeros(n, np.uint64)
    non_empty = np.zeros(n, bool)
    for i, text in enumerate(normalized):
        if not text:
            continue
        h = hashlib.blake2b(digest_size=16)
        if scopes is not None:
            h.update((scopes[i] or "").encode() + b"\x00")
        h.update(text.encode("utf-8", "surrogatepass"))
        d = h.digest()
        hi[i] = int.from_bytes(d[:8], "little")
        lo[i] = int.from_bytes(d[8:], "little")
        non_empty[i] = True
    return hi, lo, non_empty


@register
class ExactDedup(GlobalStage):
    """Drops exact duplicates (after normalisation) with reason ``exact_duplicate``.

    Adds ``exact_duplicate_of`` (id of the kept document, dropped rows) and
    ``exact_group_size`` (rows in a group of duplicates, kept and dropped members).
    """

    name = "exact_dedup"
    reads = ("text", "id")
    writes = ("exact_duplicate_of", "exact_group_size")
    Params = ExactDedupParams
    default_resources = Resources(num_cpus=1)

    def run(self, unit_files, out_dir, work_dir, stage_name, resources) -> None:
        from pipeline.dedup.exact import run_exact_dedup
        run_exact_dedup(self.params, list(unit_files), out_dir, work_dir, stage_name, resources)
