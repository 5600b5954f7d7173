"""``mix_tokens``: token counts, language and source of every document of a mixture's sources.

A model stage (the tokenizer loads once per actor); the work is ``xcurate.mix.phases.count_tokens``.
``xcurate mix`` builds its params; the tokenizer arrives resolved and fingerprinted by the driver.
"""
from __future__ import annotations

from typing import Dict

from pydantic import Field

from xcurate.engine.registry import register
from xcurate.engine.stage import Stage, StageOutput, StageParams, with_columns
from xcurate.mix.phases import SourceFields, TokenCountJob, count_tokens


class MixTokensParams(StageParams):
    tokenizer: dict = Field(..., description="the resolved tokenizer (kind, name, fingerprint, pattern)")
    sources: Dict[str, SourceFields] = Field(..., description="mix source name → its group, language fields and files")
    dup_field: str = Field("dup_cluster_size", description="column with the near-duplicate cluster size (rehydration)")


@register
class MixTokens(Stage):
    """Adds ``tokens``, ``language``, ``mix_source``, ``mix_group``, ``dup_cluster_size``; drops documents
    whose language cannot be told (``no_language``)."""

    name = "mix_tokens"
    reads = ("text", "source")
    writes = ("tokens", "language", "mix_source", "mix_group", "dup_cluster_size")
    uses_model = True
    Params = MixTokensParams

    def setup(self) -> None:
        p = self.params
        self.job = TokenCountJob(p.tokenizer, p.sources, p.dup_field)

    def process(self, table):
        columns, reasons = count_tokens(table, self.job)
        return StageOutput(with_columns(table, columns), reasons)
