"""`length_filter`: drop documents outside character / word bounds."""
from __future__ import annotations

from typing import Optional

import pyarrow as pa
from pydantic import Field
import pyarrow.compute as pc

from xcurate.engine.registry import register
from xcurate.text.words import split_words
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams


class LengthParams(StageParams):
    min_chars: int = Field(1, description="documents with fewer characters (whitespace trimmed) are dropped: too_few_chars")
    max_chars: Optional[int] = Field(None, description="documents with more characters are dropped: too_many_chars; null = no bound")
    min_words: int = Field(0, description="documents with fewer words are dropped: too_few_words (words split per script)")
    max_words: Optional[int] = Field(None, description="documents with more words are dropped: too_many_words; null = no bound")


@register
class LengthFilter(Stage):
    name = "length_filter"
    reads = ("text",)
    writes = ()
    Params = LengthParams
    default_resources = Resources(num_cpus=1)

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        chars = pc.utf8_length(pc.utf8_trim_whitespace(table["text"])).to_pylist()
        need_words = p.min_words > 0 or p.max_words is not None
        texts = table["text"].to_pylist() if need_words else None
        reasons = []
        for i, n in enumerate(chars):
            reason = None
            if n == 0:
                reason = "empty"
            elif n < p.min_chars:
                reason = "too_few_chars"
            elif p.max_chars is not None and n > p.max_chars:
                reason = "too_many_chars"
            elif need_words:
                words = len(split_words(texts[i]))
                if words < p.min_words:
                    reason = "too_few_words"
                elif p.max_words is not None and words > p.max_words:
                    reason = "too_many_words"
            reasons.append(reason)
        return StageOutput(table, pa.array(reasons, pa.string()))
