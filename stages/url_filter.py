"""`url_filter`: drop pages by block lists of domains, URL substrings and adult words.

Lists are data files (format and how to plug in the UT1 blocklist: configs/url_filter/README.md).
Reasons: ``blocked_domain``, ``blocked_url_substring``, ``adult_url`` (an adult word as a URL
token), ``adult_text`` (``adult_text_min_hits`` adult words in the text). The manifest counts
drops per rule under the stage's ``counts`` ({reason: {list entry: documents}}).
"""
from __future__ import annotations

from typing import List

import pyarrow as pa
from pydantic import Field, field_validator

from xcurate.engine.registry import register
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams
from xcurate.resources import check_data_path, resolve_data_path
from xcurate.web.urls import UrlBlocker, load_lists, word_list_files


class UrlFilterParams(StageParams):
    domain_lists: List[str] = Field(["configs/url_filter/domains.txt"],
                                    description="files of blocked hosts (host and sub-domains); UT1 `domains` files work as-is")
    url_substring_lists: List[str] = Field(["configs/url_filter/url_substrings.txt"],
                                           description="files of blocked URL fragments; UT1 `urls` files work as-is")
    adult_words_dir: str = Field("configs/url_filter/adult_words", description="folder of <lang>.txt adult-word lists")
    adult_word_languages: List[str] = Field(["all"], description="which lists of adult_words_dir to use (ISO 639-3 names; all = every file)")
    adult_url_min_hits: int = Field(1, ge=0, description="adult words among the URL's tokens that drop it: adult_url (0 = off)")
    adult_text_min_hits: int = Field(5, ge=0, description="adult-word hits in the text that drop it: adult_text (0 = off)")
    url_column: str = Field("url", description="column holding the URL")

    _lists = field_validator("domain_lists", "url_substring_lists")(lambda cls, v: [check_data_path(p) for p in v])
    _folder = field_validator("adult_words_dir")(lambda cls, v: check_data_path(v, folder=True))


@register
class UrlFilter(Stage):
    name = "url_filter"
    reads = ("url", "text")  # text only while adult_text_min_hits > 0 (input_columns)
    writes = ()
    Params = UrlFilterParams
    default_resources = Resources(num_cpus=1)

    def input_columns(self):
        return (self.params.url_column, "text") if self.params.adult_text_min_hits else (self.params.url_column,)

    def setup(self) -> None:
        p = self.params
        words = word_list_files(resolve_data_path(p.adult_words_dir), p.adult_word_languages).values()
        domains, substrings, adult = load_lists(map(resolve_data_path, p.domain_lists),
                                                map(resolve_data_path, p.url_substring_lists), words)
        self._blocker = UrlBlocker(domains, substrings, adult, p.adult_url_min_hits, p.adult_text_min_hits)

    def process(self, table: pa.Table) -> StageOutput:
        if not hasattr(self, "_blocker"):
            self.setup()
        urls = table[self.params.url_column].to_pylist()
        texts = table["text"].to_pylist() if self.params.adult_text_min_hits else [None] * len(urls)
        reasons, counts = [], []
        for url, text in zip(urls, texts):
            verdict = self._blocker.check(url, text)
            reasons.append(verdict.reason if verdict else None)
            counts.append({verdict.reason: {verdict.rule: 1}} if verdict else None)
        return StageOutput(table, pa.array(reasons, pa.string()), counts=counts)
