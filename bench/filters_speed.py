"""Speed of the langid and quality stages vs raw fastText and datatrove, on >=100 MB of real text.

Input: real UD documents resampled to >=100 MB (documents drawn with replacement; every doc
keeps its gold language, which the quality stage uses as its `language`). Both sides use 2
processes (one per core), each working on half of the input.
(a) langid stage (batch of 4096 rows) vs raw fastText predict on the same preprocessed lines.
(b) quality stage (4 filters) vs datatrove's four filter objects in a loop, side by side on the same
    documents: the distinct UD documents of the 23 languages datatrove has spaCy tokenizers for, split
    in two halves (seeded). Each side runs in new processes (2, one half of the measured documents each),
    its tokenizers loaded before the timing, and is timed on the measured half:
    - cold: first thing after start-up (every word new to the memo / to spaCy's vocabulary);
    - warm: after the same chain ran on the other half (the steady state of a long run: common words
      known, each new document's rare words not);
    - memoised (ours only): the measured half a second time, every chunk known to the tokenizer memo. It bounds
      the warm ratio: datatrove's warm time over this is the most a faster learning of new words could give;
      beyond it the per-token work itself must shrink;
    median of ``REPEATS`` runs per side; agreement of keep/drop decisions on the measured half.
    Context only: our steady rate on all 100 MB (resampled, so documents repeat; no ratio is taken of it).
The quality chain runs with ``profile: datatrove_defaults`` (the settings datatrove's objects get).
Writes bench/results/filters_speed.json.  Run: .venv/bin/python bench/filters_speed.py

``--dictionary``: load time and speed of the dictionary word splitters (Kiwi for Korean, pythainlp for
Thai) on FLORES-200 devtest text, cold and memoised; writes bench/results/dictionary_splitters.json.
"""
from __future__ import annotations

import json
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_MB = 100
WORKERS = 2
BATCH = 4096
REPEATS = 5
LANGS_DT = ["eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "por_Latn", "ita_Latn", "nld_Latn", "ces_Latn",
            "tur_Latn", "ind_Latn", "est_Latn", "lit_Latn", "eus_Latn", "ukr_Cyrl", "ell_Grek", "rus_Cyrl",
            "bul_Cyrl", "heb_Hebr", "arb_Arab", "hye_Armn", "pol_Latn", "fin_Latn", "hun_Latn"]


def build_input(seed=0):
    from bench._common import load_ud_docs
    docs = [(d["text"], d["lang_script"].replace("Hans", "Hani")) for d in load_ud_docs()]
    rng = random.Random(seed)
    out, size = [], 0
    while size < TARGET_MB * 1_000_000:
        t, lang = docs[rng.randrange(len(docs))]
        out.append((t, lang))
        size += len(t.encode())
    return out, size


def _langid_ours(texts):
    import pyarrow as pa
    from xcurate.stages.langid import LangIdStage
    stage = LangIdStage()
    stage(pa.table({"text": texts[:10]}))
    t0 = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        stage(pa.table({"text": texts[i:i + BATCH]}))
    return time.perf_counter() - t0


def _langid_raw(texts):
    from xcurate.stages.langid import LangIdParams, bundled_model_path, load_fasttext_model, preprocess_batch
    model = load_fasttext_model(bundled_model_path())
    lines = [line + "\n" for line in preprocess_batch(texts, LangIdParams())]  # same text the stage sees
    t0 = time.perf_counter()
    for i in range(0, len(lines), BATCH):
        model.f.multilinePredict(lines[i:i + BATCH], 1, 0.0, "strict")
    return time.perf_counter() - t0


def _quality_ours(items):
    import pyarrow as pa
    from xcurate.stages.quality import QualityParams, QualityStage
    stage = QualityStage(QualityParams(profile="datatrove_defaults"))
    languages = sorted({lang for _, lang in items})  # load the per-language tokenizers outside the timing,
    stage(pa.table({"text": ["Warm up the tokenizer. Second sentence here."] * len(languages),  # as for datatrove
                    "language": languages}))
    t0 = time.perf_counter()
    reasons = []
    for i in range(0, len(items), BATCH):
        chunk = items[i:i + BATCH]
        out = stage(pa.table({"text": [t for t, _ in chunk], "language": [lang for _, lang in chunk]}))
        reasons += out.drop_reason.to_pylist()
    return time.perf_counter() - t0, reasons


def _quality_datatrove(items):
    from datatrove.data import Document
    from xcurate.stages.quality import LanguageSettings
    from tests.test_quality import datatrove_filters
    settings = LanguageSettings(profile="datatrove_defaults")
    filters = {lang: datatrove_filters(settings.get(lang, lang.split("_")[1]), lang) for lang in {l for _, l in items}}
    for fs in filters.values():  # warm the tokenizers outside the timing
        for f in fs.values():
            f.filter(Document(text="Warm up the tokenizer. Second sentence here.", id="w"))
    t0 = time.perf_counter()
    decisions = []
    for text, lang in items:
        doc = Document(text=text, id="x")
        reason = None
        for name in ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"):
            verdict = filters[lang][name].filter(doc)  # C4 shortens doc.text like in a datatrove pipeline
            if verdict is not True:
                reason = f"{name}:{verdict[1]}"
                break
        decisions.append(reason)
    return time.perf_counter() - t0, decisions


def dictionary_speed() -> dict:
    """Seconds to load, and MB/s cold (every chunk new) and memoised (second pass), per dictionary splitter."""
    import gzip
    from bench._common import shared_data
    from xcurate.text.words import DictionaryChunkTokenizer, DICTIONARY_SPLITTERS
    texts = {"kor": [], "tha": []}
    with gzip.open(shared_data() / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["iso639_3"] in texts:
                texts[r["iso639_3"]].append(r["text"])
    res = {}
    for code3, sentences in texts.items():
        tokenizer = DictionaryChunkTokenizer(DICTIONARY_SPLITTERS[code3][1])
        t0 = time.perf_counter()
        tokenizer("warm")
        load = time.perf_counter() - t0
        mb = sum(len(t.encode()) for t in sentences) / 1e6
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            for text in sentences:
                tokenizer(text)
            timings.append(time.perf_counter() - t0)
        res[code3] = {"load_s": round(load, 2), "mb": round(mb, 3), "cold_mb_s": round(mb / timings[0], 3),
                      "memoised_mb_s": round(mb / timings[1], 2), "sentences": len(sentences)}
    return res


def distinct_halves(seed=1):
    """The distinct UD documents of LANGS_DT, shuffled: (measured, warm-up), no document in both."""
    from bench._common import load_ud_docs
    wanted = set(LANGS_DT)
    docs = sorted({(d["text"], d["lang_script"]) for d in load_ud_docs() if d["lang_script"] in wanted})
    random.Random(seed).shuffle(docs)
    return docs[:len(docs) // 2], docs[len(docs) // 2:]


def _timed_after_warm_up(args):
    chain, warm_up, measured = args
    for earlier in warm_up:
        chain(earlier)
    return chain(measured)


QUALITY_STATES = {  # state -> (sides timed, what each process runs before the timed pass over its measured half)
    "cold": (("ours", "datatrove"), lambda warm_up, measured: []),
    "warm": (("ours", "datatrove"), lambda warm_up, measured: [warm_up]),
    "memoised": (("ours",), lambda warm_up, measured: [warm_up, measured]),
}


def halves(seq):
    mid = len(seq) // 2
    return [seq[:mid], seq[mid:]]


def main() -> int:
    if "--dictionary" in sys.argv:
        res = dictionary_speed()
        print(res)
        (REPO / "bench" / "results" / "dictionary_splitters.json").write_text(json.dumps(res, indent=2))
        return 0
    items, size = build_input()
    texts = [t for t, _ in items]
    mb = size / 1e6
    print(f"input: {len(items)} docs, {mb:.1f} MB (UD documents resampled)")
    res = {"input": {"docs": len(items), "mb": round(mb, 1), "source": "../shared/data/corpus/ud_docs.jsonl resampled"},
           "workers": WORKERS}
    with Pool(WORKERS) as pool:
        ours_t = max(pool.map(_langid_ours, halves(texts)))
        raw_t = max(pool.map(_langid_raw, halves(texts)))
    res["langid"] = {"ours_docs_s": round(len(texts) / ours_t), "ours_mb_s": round(mb / ours_t, 2),
                     "raw_fasttext_docs_s": round(len(texts) / raw_t), "raw_mb_s": round(mb / raw_t, 2),
                     "ratio_vs_raw": round(raw_t / ours_t, 3), "goal": ">=0.8"}
    print("langid:", res["langid"])

    with Pool(WORKERS) as pool:
        parts = pool.map(_quality_ours, halves(items))
    steady_t = max(t for t, _ in parts)
    reasons = parts[0][1] + parts[1][1]
    measured, warm_up = distinct_halves()
    measured_mb = sum(len(t.encode()) for t, _ in measured) / 1e6
    res["quality"] = {
        "documents": f"{len(measured)} distinct UD documents ({measured_mb:.2f} MB) timed, after {len(warm_up)} "
                     f"others for 'warm'; languages {LANGS_DT} (datatrove's spaCy tokenizers)",
        "protocol": f"median of {REPEATS} runs per side, each in {WORKERS} new processes, tokenizers loaded "
                    "before the timing; warm = after the chain ran on the other documents",
        "goal": "cold >= 10x, warm >= 20x, decisions >= 99% equal"}
    decisions = {}
    chains = {"ours": _quality_ours, "datatrove": _quality_datatrove}
    for state, (sides, before) in QUALITY_STATES.items():
        for side in sides:
            runs = []
            for _ in range(REPEATS):
                with Pool(WORKERS) as pool:
                    out = pool.map(_timed_after_warm_up, [(chains[side], before(w, m), m)
                                                          for w, m in zip(halves(warm_up), halves(measured))])
                runs.append(max(t for t, _ in out))
                decisions[side] = out[0][1] + out[1][1]
            median = sorted(runs)[len(runs) // 2]
            res["quality"][f"{side}_{state}"] = {"s_runs": [round(t, 3) for t in runs], "median_s": round(median, 3),
                                                 "mb_s": round(measured_mb / median, 3)}
        if "datatrove" in sides:
            res["quality"][f"ratio_{state}"] = round(res["quality"][f"datatrove_{state}"]["median_s"]
                                                     / res["quality"][f"ours_{state}"]["median_s"], 2)
    res["quality"]["ratio_warm_ceiling"] = round(res["quality"]["datatrove_warm"]["median_s"]
                                                 / res["quality"]["ours_memoised"]["median_s"], 2)
    res["quality"]["decisions_equal"] = round(
        sum((a is None) == (b is None) for a, b in zip(decisions["ours"], decisions["datatrove"])) / len(measured), 4)
    res["quality"]["ours_steady_100mb"] = {
        "docs_s": round(len(items) / steady_t), "mb_s": round(mb / steady_t, 2),
        "kept_fraction": round(sum(r is None for r in reasons) / len(reasons), 4),
        "note": "all of the resampled input (each UD document about 17 times): context, no ratio"}
    print("quality:", res["quality"])
    out = REPO / "bench" / "results" / "filters_speed.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
