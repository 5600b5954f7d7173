"""Main text of an HTML page: charset decoding, then trafilatura (default) or resiliparse.

Charset: servers and ``<meta>`` tags lie (a windows-1251 page served as UTF-8 is common in
Common Crawl). Bytes that are valid UTF-8 are UTF-8 (non-ASCII bytes that happen to be valid
UTF-8 are vanishingly rare in other encodings); otherwise the declared charset (HTTP header,
then ``<meta>``) is used if it decodes the bytes without error, and when it does not (or none is
declared) the charset is detected from the bytes (charset-normalizer). The charset used is
returned, so a caller can count the pages whose declaration was wrong.

Paragraphs: one paragraph, heading or list item per line, as trafilatura's text output (and
datatrove's Trafilatura step, so the two agree); ``paragraph_separator`` can widen that.
Speed and agreement of the two extractors: bench/extract_speed.py.
"""
from __future__ import annotations

import codecs
import re
from typing import Optional, Tuple

EXTRACTORS = ("trafilatura", "resiliparse")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _codec(name: Optional[str]) -> Optional[str]:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def decode_html(html: bytes, declared: Optional[str] = None) -> Tuple[str, str]:
    """(text, charset used) of an HTML page's bytes; see the module docstring for the order."""
    try:
        return html.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(html[:4096])
    for name in (declared, meta.group(1).decode("ascii", "ignore") if meta else None):
        codec = _codec(name)
        if codec and codec != "utf-8":
            try:
                return html.decode(codec), codec
            except UnicodeDecodeError:
                pass
    from charset_normalizer import from_bytes
    best = from_bytes(html[:65536]).best()
    codec = _codec(best.encoding) if best is not None else None
    codec = codec or "utf-8"
    return html.decode(codec, "replace"), codec


class Extractor:
    """``extract(html) -> text`` with one of :data:`EXTRACTORS`; libraries import on construction."""

    def __init__(self, name: str = "trafilatura", favor_precision: bool = True, include_tables: bool = True,
                 paragraph_separator: str = "\n"):
        self.name, self.separator = name, paragraph_separator
        if name == "trafilatura":
            import trafilatura
            self._trafilatura = trafilatura
            self._options = dict(output_format="txt", include_comments=False, include_tables=include_tables,
                                 favor_precision=favor_precision, deduplicate=False, with_metadata=False,
                                 include_images=False, include_links=False)
        elif name == "resiliparse":
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree
            self._tree, self._plain = HTMLTree, extract_plain_text
        else:
            raise ValueError(f"unknown extractor {name!r}; one of {', '.join(EXTRACTORS)}")

    def extract(self, html: str) -> str:
        if self.name == "trafilatura":
            text = self._trafilatura.extract(html, **self._options) or ""
        else:
            tree = self._tree.parse(html)
            text = self._plain(tree, main_content=True, preserve_formatting=True, list_bullets=False,
                               alt_texts=False, links=False, form_fields=False, noscript=False)
        text = _BLANK_LINES.sub("\n", text.strip())  # one paragraph per line, as trafilatura writes it
        return text.replace("\n", self.separator) if self.separator != "\n" else text
