"""`count_tokens`: ``n_tokens`` per document with a trainer's tokenizer (what ``output.tokenizer`` adds).

A model stage: the tokenizer loads once per actor. It is resolved (and so checked) when the
config is validated, before Ray starts; the work is ``xcurate.mix.tokens.TokenCounter``.
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field, model_validator

from xcurate.engine.registry import register
from xcurate.engine.stage import Stage, StageOutput, StageParams, with_columns
from xcurate.mix.tokens import TokenCounter, guess_tokenizer_kind, resolve_tokenizer


class CountTokensParams(StageParams):
    tokenizer: str = Field(..., description="Hugging Face tokenizer id, dir or tokenizer.json; tiktoken encoding "
                                            "or .tiktoken file; SentencePiece .model")
    kind: Literal["auto", "hf", "tiktoken", "sentencepiece"] = Field(
        "auto", description="how to load the tokenizer (auto: from its name)")

    @model_validator(mode="after")
    def _loads(self):
        resolve_tokenizer(self.resolved_kind(), self.tokenizer)  # UserError before the run when it does not load
        return self

    def resolved_kind(self) -> str:
        return guess_tokenizer_kind(self.tokenizer) if self.kind == "auto" else self.kind


@register
class CountTokens(Stage):
    """Adds ``n_tokens`` (int32, no special tokens); drops nothing."""

    name = "count_tokens"
    reads = ("text",)
    writes = ("n_tokens",)
    uses_model = True
    Params = CountTokensParams

    def setup(self) -> None:
        p = self.params
        self.counter = TokenCounter(resolve_tokenizer(p.resolved_kind(), p.tokenizer))

    def process(self, table: pa.Table) -> StageOutput:
        counts = self.counter.count(table["text"].to_pylist())
        return StageOutput.keep_all(with_columns(table, {"n_tokens": pa.array(counts, pa.int32())}))
