"""Exact duplicate removal: a 128-bit hash of the normalised text, one document kept per group.

Normalisation is configurable (case, whitespace, punctuation, digits). Documents whose
normalised text is empty are never grouped: removing empty text is a length filter's job,
and "duplicates of nothing" say nothing about each other.
"""
from __future__ import annotations

from pydantic import Field

from xcurate.dedup.exact import run_exact_dedup
from xcurate.dedup.params import DedupParams
from xcurate.dedup.store import input_columns

from xcurate.engine.registry import register
from xcurate.engine.stage import GlobalStage, Resources


class ExactDedupParams(DedupParams):
    lowercase: bool = Field(True, description="compare texts case-insensitively")
    normalize_whitespace: bool = Field(True, description="collapse whitespace runs and trim before hashing")
    strip_punctuation: bool = Field(False, description="remove punctuation before hashing")
    normalize_digits: bool = Field(False, description="map every digit to 0 before hashing")
    batch_rows: int = Field(5000, ge=1, description="rows per batch when hashing a unit (memory bound)")


@register
class ExactDedup(GlobalStage):
    """Drops exact duplicates (after normalisation) with reason ``exact_duplicate``.

    Adds ``exact_duplicate_of`` (id of the kept document, dropped rows) and
    ``exact_group_size`` (rows in a group of duplicates, kept and dropped members).
    """

    name = "exact_dedup"
    reads = ("text", "id")
    writes = ("exact_duplicate_of", "exact_group_size")
    drop_only_columns = ("exact_duplicate_of",)  # set on dropped rows only: kept out of data/
    Params = ExactDedupParams
    default_resources = Resources(num_cpus=1)

    def input_columns(self):
        return tuple(input_columns(self.params))

    def run(self, unit_files, out_dir, work_dir, stage_name, resources) -> None:
        run_exact_dedup(self.params, list(unit_files), out_dir, work_dir, stage_name, resources)
