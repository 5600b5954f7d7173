"""Write samples/demo.warc.gz: a small, deterministic Common-Crawl-like WARC with planted cases.

Usage: python samples/make_warc.py [--out PATH] [--pages-per-lang N] [--no-damage]

Pages are HTML built from the project's own sentence bank (samples/demo_sentences.py, via make_demo's
document sampler) wrapped in site boilerplate (menu, cookie banner, footer). Like a Common Crawl WARC the file
is one gzip member per record, with a warcinfo record and a request record before each response. Planted
cases (the `X-Demo-Case` HTTP header of each response names its case):

| case | what it is | expected end |
|---|---|---|
| clean | a page in one of 14 languages and 10 scripts | kept |
| duplicate | a clean page's article at a second URL (different boilerplate) | exact_dedup / minhash_dedup |
| pii | a clean page with e-mail, phone, IBAN, card, IP in its text | kept, PII redacted |
| blocked_domain / blocked_url / adult_words | URL or text on the block lists of configs/url_filter/ | url_filter |
| lying_charset | Russian page in windows-1251 served as `charset=utf-8` | kept (charset detected) |
| empty_page | only an image and scripts | html_extract: empty_extraction |
| not_html | an image/png response | read: not_html |
| broken_http | a response whose HTTP header block never ends | read: bad_http_header |
| (end of file) | the last gzip member cut short | read: corrupt_file |

Nothing is fetched; warcio writes the records.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import html
import io
import random
import sys
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_demo import make_clean_doc  # noqa: E402

SEED = 20261203
DEFAULT_OUT = Path(__file__).resolve().parent / "demo.warc.gz"
HOSTS = {"eng_Latn": "millbrook-gazette.example.com", "deu_Latn": "nachrichten.example.de",
         "fra_Latn": "journal.example.fr", "spa_Latn": "diario.example.es", "rus_Cyrl": "novosti.example.ru",
         "arb_Arab": "akhbar.example.sa", "hin_Deva": "samachar.example.in", "por_Latn": "jornal.example.pt",
         "vie_Latn": "tintuc.example.vn", "tur_Latn": "haber.example.com.tr", "kor_Hang": "news.example.kr",
         "zho_Hans": "xinwen.example.cn", "jpn_Jpan": "nyusu.example.jp", "tha_Thai": "khao.example.co.th"}
PII_SNIPPETS = [  # (language of the page, planted text)
    ("eng_Latn", "Contact the editor at maria.keller@millbrook-mail.example.org or call +44 20 7946 0958."),
    ("deu_Latn", "Spenden bitte an IBAN DE89 3704 0044 0532 0130 00, Rückfragen unter 030 12345678."),
    ("fra_Latn", "Réservations : 01 42 68 53 00 ou reservations@hotel-exemple.fr."),
    ("eng_Latn", "Payment test card 4111 1111 1111 1111 was declined; server 192.168.10.24 logged it."),
]


def _page(title: str, body: str, lang: str, rng: random.Random) -> str:
    menu = " | ".join(f'<a href="/{w.lower()}">{w}</a>' for w in ("Home", "World", "Sport", "Culture", "Contact"))
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
    return (f'<!DOCTYPE html><html lang="{lang[:2]}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<script>var analytics = {{id: {rng.randint(1000, 9999)}}};</script></head><body>"
            f'<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>'
            f"<nav>{menu}</nav><main><article><h1>{html.escape(title)}</h1>\n{paragraphs}\n</article></main>"
            f'<aside class="related"><h3>Related</h3><ul><li><a href="/a">Weather this week</a></li>'
            f'<li><a href="/b">Letters to the editor</a></li></ul></aside>'
            f"<footer>© {rng.randint(2015, 2024)} {html.escape(title.split()[0])} Media · Privacy · Terms</footer>"
            "</body></html>")


def _title(text: str) -> str:
    """The first words (characters, for scripts without spaces): a heading, not a copy of the lead."""
    words = text.split()
    return " ".join(words[:4]) if len(words) > 8 else text[:12]


def planted_pages(rng: random.Random, pages_per_lang: int) -> Iterator[Tuple[str, str, bytes, str, str]]:
    """(case, url, body, content_type, charset) of every response, in file order."""
    clean: List[Tuple[str, str, str]] = []
    for lang, host in HOSTS.items():
        for k in range(pages_per_lang):
            text = make_clean_doc(lang, rng)
            url = f"https://{host}/{k:04d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}.html"
            clean.append((lang, url, text))
            yield "clean", url, _page(_title(text), text, lang, rng).encode(), "text/html", "utf-8"
    for i, (lang, url, text) in enumerate(rng.sample(clean, k=min(6, len(clean)))):
        yield "duplicate", f"https://mirror{i}.example.net/copy.html", _page(_title(text), text, lang, rng).encode(), \
            "text/html", "utf-8"
    for i, (lang, snippet) in enumerate(PII_SNIPPETS):
        with_pii = make_clean_doc(lang, rng) + "\n\n" + snippet
        yield "pii", f"https://forum.example.org/thread/{i}", _page(_title(with_pii), with_pii, lang, rng).encode(), \
            "text/html", "utf-8"
    text = make_clean_doc("eng_Latn", rng)
    yield "blocked_domain", "https://www.pornhub.com/view/123", _page("Video", text, "en", rng).encode(), "text/html", "utf-8"
    yield "blocked_url", "https://promo.example.com/casino-bonus/slots", \
        _page("Bonus", make_clean_doc("eng_Latn", rng), "en", rng).encode(), "text/html", "utf-8"
    adult = make_clean_doc("eng_Latn", rng) + "\n\nxxx porn hardcore nude camgirl escort xxx porn nsfw"
    yield "adult_words", "https://blog.example.com/late-night-talk", _page("Late", adult, "en", rng).encode(), "text/html", "utf-8"
    ru = make_clean_doc("rus_Cyrl", rng)
    yield "lying_charset", "https://novosti.example.ru/cp1251.html", \
        _page(_title(ru), ru, "ru", rng).replace('charset="utf-8"', "").encode("cp1251"), "text/html", "utf-8"
    empty = ("<html><head><script>window.location='/home'</script></head>"
             "<body><img src='/splash.jpg'><script>track()</script></body></html>")
    yield "empty_page", "https://redirect.example.com/", empty.encode(), "text/html", "utf-8"
    yield "not_html", "https://cdn.example.com/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(64)), \
        "image/png", ""


def _http_headers(content_type: str, charset: str, case: str) -> StatusAndHeaders:
    value = f"{content_type}; charset={charset}" if charset else content_type
    return StatusAndHeaders("200 OK", [("Content-Type", value), ("X-Demo-Case", case)], protocol="HTTP/1.1")


def write_warc(out: Path, pages_per_lang: int = 3, seed: int = SEED, damage: bool = True) -> dict:
    """Write the WARC; returns counts per case (and the number of WARC records)."""
    rng = random.Random(seed)
    date = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    ids = (f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}>" for _ in iter(int, 1))
    common = {"WARC-Date": date.strftime("%Y-%m-%dT%H:%M:%SZ")}
    info = writer.create_warcinfo_record("demo.warc.gz", {"software": "xcurate samples/make_warc.py"})
    info.rec_headers.replace_header("WARC-Date", common["WARC-Date"])  # fixed, for a byte-identical file
    info.rec_headers.replace_header("WARC-Record-ID", next(ids))
    writer.write_record(info)
    counts = {"warc_records": 1}
    for case, url, body, content_type, charset in planted_pages(rng, pages_per_lang):
        request = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), warc_headers_dict={
            **common, "WARC-Record-ID": next(ids)},
            http_headers=StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True))
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), warc_headers_dict={
            **common, "WARC-Record-ID": next(ids), "WARC-Identified-Payload-Type": content_type},
            http_headers=_http_headers(content_type, charset, case))
        writer.write_record(request)
        writer.write_record(response)
        counts[case] = counts.get(case, 0) + 1
        counts["warc_records"] += 2
    if damage:
        buf.write(_broken_http_member(next(ids), common))
        counts["broken_http"] = 1
        counts["warc_records"] += 1
    data = buf.getvalue()
    if damage:  # one more response, its gzip member cut in the middle
        tail = io.BytesIO()
        tail_writer = WARCWriter(tail, gzip=True)
        body = _page("Cut short", make_clean_doc("eng_Latn", rng), "en", rng).encode()
        tail_writer.write_record(tail_writer.create_warc_record(
            "https://cut.example.com/", "response", payload=io.BytesIO(body),
            warc_headers_dict={**common, "WARC-Record-ID": next(ids)}, http_headers=_http_headers("text/html", "utf-8", "truncated")))
        data += tail.getvalue()[: len(tail.getvalue()) // 2]
        counts["truncated"] = 1
        counts["warc_records"] += 1
    out.write_bytes(data)
    return counts


def _broken_http_member(record_id: str, common: dict) -> bytes:
    """A response whose block is no HTTP message (the header block never ends), gzipped by hand:
    warcio replaces such a block with a well-formed one."""
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Demo-Case broken_http\x00\x01<html>never"
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: {common['WARC-Date']}\r\nWARC-Record-ID: {record_id}\r\n"
            f"WARC-Target-URI: https://broken.example.com/\r\nContent-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(block)}\r\n\r\n").encode()
    return gzip.compress(head + block + b"\r\n\r\n", mtime=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--pages-per-lang", type=int, default=3)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-damage", action="store_true", help="leave out the broken record and the cut member")
    args = ap.parse_args()
    counts = write_warc(args.out, args.pages_per_lang, args.seed, damage=not args.no_damage)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
