"""`html_extract`: the main text of each page's HTML (from the WARC reader's ``html`` column).

trafilatura by default, resiliparse as the fast option (speed and agreement:
bench/extract_speed.py). Charset detection for pages that lie about their encoding:
``xcurate.web.extract.decode_html``. Pages whose extraction is empty are dropped with reason
``empty_extraction``; the charset used goes into ``encoding``. The HTML bytes of kept rows are
cleared (``keep_html: false``) so data/ holds text, not pages; dropped rows keep theirs for
inspection in rejected/.
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from xcurate.engine.registry import register
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, with_columns
from xcurate.web.extract import Extractor, decode_html


class HtmlExtractParams(StageParams):
    extractor: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura", description="trafilatura (precise, the FineWeb choice) or resiliparse (several times faster)")
    favor_precision: bool = Field(True, description="trafilatura: leave out doubtful parts (FineWeb's setting)")
    include_tables: bool = Field(True, description="trafilatura: keep the text of tables")
    paragraph_separator: str = Field("\n", description="between paragraphs, headings and list items")
    min_chars: int = Field(1, ge=1, description="extractions shorter than this are dropped: empty_extraction")
    keep_html: bool = Field(False, description="keep the html column of kept rows (false: cleared to null)")


@register
class HtmlExtract(Stage):
    name = "html_extract"
    reads = ("html",)
    writes = ("text", "encoding", "html")
    Params = HtmlExtractParams
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        p = self.params
        self._extractor = Extractor(p.extractor, p.favor_precision, p.include_tables, p.paragraph_separator)

    def process(self, table: pa.Table) -> StageOutput:
        if not hasattr(self, "_extractor"):
            self.setup()
        pages = table["html"].to_pylist()
        declared = table["charset"].to_pylist() if "charset" in table.column_names else [None] * len(pages)
        old_texts = table["text"].to_pylist() if "text" in table.column_names else [""] * len(pages)
        texts, encodings, reasons, kept_html = [], [], [], []
        for html, charset, old in zip(pages, declared, old_texts):
            if html is None:  # a WET record: the text is already there
                texts.append(old or "")
                encodings.append(None)
                reasons.append(None if (old or "").strip() else "empty_extraction")
                kept_html.append(None)
                continue
            page, encoding = decode_html(html, charset)
            text = self._extractor.extract(page)
            empty = len(text) < self.params.min_chars
            texts.append(text)
            encodings.append(encoding)
            reasons.append("empty_extraction" if empty else None)
            kept_html.append(html if empty or self.params.keep_html else None)
        out = with_columns(table, {"text": pa.array(texts, pa.large_string()), "encoding": pa.array(encodings, pa.string()),
                                   "html": pa.array(kept_html, pa.large_binary())})
        return StageOutput(out, pa.array(reasons, pa.string()))
