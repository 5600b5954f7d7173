"""URL block lists: domains, URL substrings and adult words per language (format: configs/url_filter/README.md).

Domains are a set of host names; a URL is blocked when its host or any parent domain is in the
set (one lookup per label). Substrings are one regex alternation (re's alternation of literal
strings is a trie walk, fast enough for thousands of entries). Adult words match whole URL
tokens; words of scripts without spaces match as substrings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import urlsplit

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_NO_SPACE_SCRIPT = re.compile(r"[\u0E00-\u0E7F\u3040-\u30FF\u3400-\u9FFF]")


def read_list(path: Path) -> List[str]:
    """Entries of a list file: one per line, `#` comments and blank lines skipped, lower-cased."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = line.split("#", 1)[0].strip().lower()
            if entry:
                out.append(entry)
    return out


def host_of(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


@dataclass
class Verdict:
    reason: str   # blocked_domain, blocked_url_substring, adult_url, adult_text
    rule: str     # the list entry that matched


class UrlBlocker:
    def __init__(self, domains: Iterable[str], substrings: Iterable[str], adult_words: Iterable[str],
                 adult_url_min_hits: int = 1, adult_text_min_hits: int = 0):
        self.domains = {d.lstrip(".").removeprefix("www.") for d in domains}
        subs = sorted(set(substrings), key=len, reverse=True)
        self.substrings = re.compile("|".join(map(re.escape, subs))) if subs else None
        words = set(adult_words)
        self.words = {w for w in words if not _NO_SPACE_SCRIPT.search(w)}
        unspaced = sorted((w for w in words if _NO_SPACE_SCRIPT.search(w)), key=len, reverse=True)
        self.unspaced = re.compile("|".join(map(re.escape, unspaced))) if unspaced else None
        self.url_min, self.text_min = adult_url_min_hits, adult_text_min_hits

    def blocked_domain(self, host: str) -> Optional[str]:
        labels = host.split(".")
        for i in range(len(labels) - 1):
            suffix = ".".join(labels[i:])
            if suffix in self.domains:
                return suffix
        return None

    def adult_hits(self, text: str) -> List[str]:
        low = text.lower()
        hits = [t for t in _TOKEN.findall(low) if t in self.words]
        if self.unspaced is not None:
            hits += self.unspaced.findall(low)
        return hits

    def check(self, url: Optional[str], text: Optional[str] = None) -> Optional[Verdict]:
        """The first rule that blocks this URL (or its text), in the order of the README's table."""
        if url:
            low = url.lower()
            domain = self.blocked_domain(host_of(low))
            if domain:
                return Verdict("blocked_domain", domain)
            hit = self.substrings.search(low) if self.substrings is not None else None
            if hit:
                return Verdict("blocked_url_substring", hit.group(0))
            if self.url_min:
                words = self.adult_hits(low)
                if len(words) >= self.url_min:
                    return Verdict("adult_url", words[0])
        if self.text_min and text:
            words = self.adult_hits(text)
            if len(words) >= self.text_min:
                return Verdict("adult_text", max(set(words), key=words.count))
        return None


def load_lists(domain_files: Iterable[Path], substring_files: Iterable[Path],
               word_files: Iterable[Path]) -> Tuple[List[str], List[str], List[str]]:
    read = lambda files: [e for f in files for e in read_list(f)]  # noqa: E731
    return read(domain_files), read(substring_files), read(word_files)


def word_list_files(folder: Path, languages: Iterable[str]) -> Dict[str, Path]:
    """{language: file} of the adult-word lists in ``folder`` (``all``: every file)."""
    files = {p.stem: p for p in sorted(folder.glob("*.txt"))}
    wanted = list(languages)
    return files if "all" in wanted else {lang: files[lang] for lang in wanted if lang in files}
