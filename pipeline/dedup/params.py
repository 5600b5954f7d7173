"""Parameters every dedup stage shares: which columns, which scope, which document of a group is kept."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from xcurate.engine.stage import StageParams

KeepRule = Literal["smallest_id", "longest", "highest_quality"]


class DedupParams(StageParams):
    text_column: str = Field("text", description="column compared")
    id_column: str = Field("id", description="document id column (smallest_id keep rule, the *duplicate_of column)")
    scope: Literal["global", "language"] = Field(
        "global", description="global: duplicates across the whole corpus; language: only within one language_column value")
    language_column: str = Field("language", description="column that defines the groups when scope is language")
    keep: KeepRule = Field("smallest_id", description="which document of a group of duplicates is kept")
    quality_column: str = Field("quality", description="numeric column ranked by keep: highest_quality")
    num_partitions: Optional[int] = Field(None, ge=1, description="shuffle partitions; null = auto")
