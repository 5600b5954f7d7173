"""Exact duplicate removal: a 128-bit hash of the normalised text, one document kept per group.

Normalisation is configurable (case, whitespace, punctuation, digits). Documents whose
normalised text is empty are never grouped: removing empty text is a length filter's job,
and "duplicates of nothing" say nothing about each other.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from xcurate.dedup.exact import run_exact_dedup

from xcurate.engine.registry import register
from xcurate.engine.stage import GlobalStage, Resources, StageParams


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
        run_exact_dedup(self.params, list(unit_files), out_dir, work_dir, stage_name, resources)
