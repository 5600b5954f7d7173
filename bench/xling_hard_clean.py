"""Hard clean documents for the cross-lingual evaluations: real benchmark text that is NOT in the suite.

Every document is a real host (UD, or out-of-suite FLORES filler) holding text that a careless matcher would
take for a leak, built from ``../shared/data`` at run time (nothing is copied into the repo), deterministic
for a seed. Kinds (``case["format"]``):

- ``flores_same_article``: 1-4 consecutive out-of-suite FLORES sentences next to a leaked one (FLORES keeps the
  sentences of one article together: same article, same topic, same names).
- ``flores_nearest``: the out-of-suite FLORES sentence of the language closest to a leaked sentence by character
  trigram overlap (the look-alike a fuzzy matcher meets first).
- ``xquad_same_article``: an out-of-suite XQuAD paragraph of an article that has leaked paragraphs.
- ``exam_mix``: 3-5 out-of-suite items of the suite's benchmarks (COPA premises, MC questions, prompts, FLORES
  sentences and problems) laid out as a numbered exercise sheet.
- ``paraphrase``: Tatoeba sentences whose English nearly paraphrases a leaked MC question.

A text that equals (after normalisation) any leaked text of its language is never used: it would be a leak.
"""
from __future__ import annotations

import itertools
import random
import re
import zlib
from collections import defaultdict
from typing import Dict, Iterator, List, Set

from bench.make_contamination_eval import plant
from bench.xling_eval import (FLORES, _norm, _read_jsonl, data_path, in_suite, layout,
                              paraphrase_negatives, suite_english)

KINDS = ("flores_same_article", "flores_nearest", "xquad_same_article", "exam_mix", "paraphrase")
_SPACE = re.compile(r"\s+")


def _key(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _pieces(entry) -> List[str]:
    return list(entry["text"]) if isinstance(entry["text"], (tuple, list)) else [entry["text"]]


def leaked_texts(formats, lang: str) -> Set[str]:
    """Every sentence or paragraph of ``lang`` that belongs to an in-suite item (any format)."""
    out = set()
    for fmt in ("qa", "premise", "sentence", "problem", "mc", "prompt"):
        for pid, entry in formats[fmt].get(lang, {}).items():
            if in_suite(pid) and entry.get("text"):
                out.update(_key(p) for p in _pieces(entry))
    return out


def _flores_leaked_numbers(formats, lang: str) -> Set[int]:
    leaked = {int(p) for p in formats["sentence"].get(lang, {}) if in_suite(p)}
    for pid in formats["problem"].get(lang, {}):
        if in_suite(pid):
            leaked.update(int(pid[1:]) + k for k in range(3))
    return leaked


def _all_flores(lang_code: str, cache: Dict[str, Dict[int, str]]) -> Dict[int, str]:
    if not cache:
        for r in _read_jsonl(data_path("benchmarks", "flores200_devtest.jsonl.gz")):
            cache.setdefault(r["lang"], {})[int(r["parallel_id"])] = r["text"]
    return cache.get(lang_code, {})


_FLORES_CACHE: Dict[str, Dict[int, str]] = {}


def _word_trigrams(text: str) -> Set[tuple]:
    w = re.findall(r"\w+", text.lower())
    return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}


class EnglishEcho:
    """Whether out-of-suite FLORES sentences restate a leaked one in the English source: FLORES 0232
    ends with the text of 0235 ("...presented the chhappan bhog bhajan as well. Singer, Raju
    Khandelwal was accompanying him."), so every translation of 0232 holds a translation of 0235."""

    def __init__(self, leaked_numbers: Set[int]):
        english = _all_flores("eng_Latn", _FLORES_CACHE)
        self.english = english
        self.leaked = {n: _word_trigrams(english[n]) for n in leaked_numbers if n in english}
        self.by_gram: Dict[tuple, List[int]] = defaultdict(list)
        for n, grams in self.leaked.items():
            for g in grams:
                self.by_gram[g].append(n)

    def __call__(self, numbers, share: float = 0.5) -> bool:
        grams = set().union(*(_word_trigrams(self.english.get(n, "")) for n in numbers))
        hits: Dict[int, int] = defaultdict(int)
        for g in grams:
            for n in self.by_gram.get(g, ()):
                hits[n] += 1
        return any(c >= share * len(self.leaked[n]) for n, c in hits.items())


def flores_same_article(formats, lang: str, leaked: Set[str], rng: random.Random) -> Iterator[str]:
    rows = _all_flores(FLORES.get(lang, ""), _FLORES_CACHE)
    return same_article_runs(rows, _flores_leaked_numbers(formats, lang), leaked, rng)


def same_article_runs(rows: Dict[int, str], bad: Set[int], leaked: Set[str], rng: random.Random) -> Iterator[str]:
    """1-4 consecutive sentences of ``rows`` (FLORES number → text) next to a leaked number, none leaked."""
    echo = EnglishEcho(bad)
    near = sorted({n + d for n in bad for d in (-3, -2, -1, 1, 2, 3)} - bad)
    starts = [n for n in near if n in rows]
    rng.shuffle(starts)
    for n in starts:
        run = []
        for k in range(n, n + rng.randint(1, 4)):
            if k in bad or k not in rows or _key(rows[k]) in leaked or echo([k]):
                break
            run.append(rows[k])
        if run:
            yield " ".join(run)


def flores_variety_clean(corpus_code: str, leaked_ids: Set[str], n: int, seed: int) -> List[str]:
    """``n`` same-article runs of out-of-suite FLORES sentences in ``corpus_code`` (the MT simulation's corpus side)."""
    rows = _all_flores(corpus_code, _FLORES_CACHE)
    bad = {int(p) for p in leaked_ids}
    leaked = {_key(rows[b]) for b in bad if b in rows}
    runs = same_article_runs(rows, bad, leaked, random.Random(zlib.crc32(f"{seed}.{corpus_code}".encode())))
    return list(itertools.islice(dict.fromkeys(runs), n))


def _trigrams(text: str) -> Set[str]:
    t = _key(text)
    return {t[i:i + 3] for i in range(len(t) - 2)}


def flores_nearest(formats, lang: str, leaked: Set[str], rng: random.Random) -> Iterator[str]:
    rows = _all_flores(FLORES.get(lang, ""), _FLORES_CACHE)
    bad = _flores_leaked_numbers(formats, lang)
    echo = EnglishEcho(bad)
    pool = [(rows[n], _trigrams(rows[n])) for n in sorted(rows)
            if n not in bad and _key(rows[n]) not in leaked and not echo([n])]
    targets = [rows[n] for n in sorted(bad) if n in rows]
    rng.shuffle(targets)
    for target in targets:
        tg = _trigrams(target)
        best = max(pool, key=lambda p: len(tg & p[1]) / max(len(tg | p[1]), 1), default=None)
        if best:
            yield best[0]


def xquad_same_article(formats, lang: str, leaked: Set[str], rng: random.Random) -> Iterator[str]:
    items = formats["qa"].get(lang, {})
    articles = {pid.split(".")[0] for pid in items if in_suite(pid)}
    pool = sorted(pid for pid in items if not in_suite(pid) and pid.split(".")[0] in articles
                  and _key(items[pid]["text"]) not in leaked)
    rng.shuffle(pool)
    for pid in pool:
        yield items[pid]["text"]


def _clean_item(formats, fmt: str, pid: str, entry, leaked: Set[str], echo: EnglishEcho) -> bool:
    if in_suite(pid) or not entry.get("text") or any(_key(p) in leaked for p in _pieces(entry)):
        return False
    if fmt in ("sentence", "problem"):
        first = int(pid.lstrip("p"))
        return not echo(range(first, first + (3 if fmt == "problem" else 1)))
    if fmt == "mc":  # an MC item sharing an English sentence with the suite holds a translation of it
        suite = formats["mc"]["en"][pid]["suite"]
        return not any(_norm(t) in suite_english(formats) for t in [suite["question"], *suite["choices"]])
    return True


def exam_mix(formats, lang: str, leaked: Set[str], rng: random.Random) -> Iterator[str]:
    echo = EnglishEcho(_flores_leaked_numbers(formats, lang))
    pool = [(fmt, entry) for fmt in ("premise", "mc", "prompt", "sentence", "problem")
            for pid, entry in sorted(formats[fmt].get(lang, {}).items())
            if _clean_item(formats, fmt, pid, entry, leaked, echo)]
    if len(pool) < 3:
        return
    while True:
        picks = rng.sample(pool, rng.randint(3, min(5, len(pool))))
        yield "\n\n".join(f"{n}. {layout(fmt, entry['text'], rng)}" for n, (fmt, entry) in enumerate(picks, 1))


def paraphrases(formats, lang: str, leaked: Set[str], rng: random.Random) -> Iterator[str]:
    for text, ambiguous in paraphrase_negatives(formats, lang, 10 ** 6, rng):
        if not ambiguous and _key(text) not in leaked:
            yield text


def _holds_leak(text: str, long_leaks: List[str]) -> bool:
    """A leaked text inside another one (FLORES tha 0135 repeats the whole of 0127): a leak, not a negative."""
    return any(t in text for t in long_leaks)


SOURCES = {"flores_same_article": flores_same_article, "flores_nearest": flores_nearest,
           "xquad_same_article": xquad_same_article, "exam_mix": exam_mix, "paraphrase": paraphrases}


def hard_clean_cases(formats, hosts: Dict[str, List[str]], per_lang: int, seed: int) -> List[dict]:
    """``per_lang`` hard clean documents per language of ``hosts``, taken round-robin from the kinds it has."""
    cases = []
    for lang in sorted(hosts):
        rng = random.Random(zlib.crc32(f"{seed}.{lang}".encode()))
        leaked = leaked_texts(formats, lang)
        long_leaks = [t for t in leaked if len(t) >= 20]
        sources = {kind: SOURCES[kind](formats, lang, leaked, random.Random(rng.random())) for kind in KINDS}
        seen: Set[str] = set()
        made = 0
        while sources and made < per_lang:
            for kind in list(sources):
                text = next(sources[kind], None)
                if text is None:
                    del sources[kind]
                    continue
                if _key(text) in seen or made >= per_lang or _holds_leak(_key(text), long_leaks):
                    continue
                seen.add(_key(text))
                host = rng.choice(hosts[lang])
                doc = plant(host, text, rng) if rng.randrange(2) else f"{host.rstrip()}\n\n{text}\n\n{host[:300]}"
                cases.append({"id": f"hard_clean.{kind}.{lang}.{made:04d}", "kind": "hard_clean", "lang": lang,
                              "format": kind, "truth": [], "text": doc,
                              "split": "fit" if rng.random() < 0.5 else "test"})
                made += 1
    return cases


def upper_95(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a rate seen ``k`` times in ``n`` (k = 0: 1 - 0.05^(1/n))."""
    from math import comb
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0

    def tail(p: float) -> float:  # P(X <= k) for X ~ Binomial(n, p)
        return sum(comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) > 0.05 else (lo, mid)
    return hi


def fp_summary(k: int, n: int) -> dict:
    return {"n": n, "false_positive_docs": k, "per_1000": round(1000 * k / max(n, 1), 2),
            "per_1000_upper95": round(1000 * upper_95(k, n), 2)}
