"""Contamination detection speed on real documents (one process = one core).

1. n-gram detection MB/s: the ``decontaminate`` stage (batch tokenization + hashing in polars,
   prefix-sum window hashes, base-size bit filter, searchsorted on candidates) vs two baselines
   on the same documents and benchmark suite: a plain Python set lookup (same normalisation
   and word splitting, 13-gram tuples in a ``set``) and datatrove's ``NGramsDecontFilter``
   (its spaCy English word tokenizer + text simplification, 13-gram xxhash64 in a dict; index
   built from the same benchmark segments with datatrove's own n-gram hashing).
2. cross-lingual passages/s with and without the anchor prefilter, and the share of
   passages the prefilter sends to the encoder.

    python bench/contamination_speed.py [--docs 2000] [--xling-docs 300]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

# one core: polars (tokenizer/hash) would otherwise use a thread pool
os.environ.setdefault("POLARS_MAX_THREADS", "1")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))


def python_set_baseline(suite, texts, n=13, min_n=8):
    """GPT-3 style reference: benchmark n-gram tuples in a set, every document n-gram looked up."""
    from xcurate.text.words import split_words
    from xcurate.contamination.tokens import normalize_text
    grams = set()
    for it in suite.items:
        for _, seg in it.segments:
            w = split_words(normalize_text(seg))
            if len(w) >= min_n:
                k = min(n, len(w))
                grams.update(tuple(w[i:i + k]) for i in range(len(w) - k + 1))
    sizes = sorted({len(g) for g in grams})
    t0 = time.perf_counter()
    hits = 0
    for t in texts:
        w = split_words(normalize_text(t))
        for k in sizes:
            hits += any(tuple(w[i:i + k]) in grams for i in range(len(w) - k + 1))
    return time.perf_counter() - t0, hits


def datatrove_baseline(suite, texts, n=13):
    """datatrove 0.10.1 ``NGramsDecontFilter.filter`` per document (index from the same segments)."""
    import tempfile

    import numpy as np
    from datatrove.data import Document
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import ngrams, simplify_text
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    config = NGramsDecontConfig(n_grams=n)
    tokenizer = load_word_tokenizer("en")
    hash_func = create_hash_func(config.hash_config)
    hashes = set()
    for seg in {seg for it in suite.items for _, seg in it.segments}:
        toks = tokenizer.word_tokenize(simplify_text(seg, config.norm_config))
        hashes.update(map(hash_func, map(" ".join, ngrams(toks, n))))
    with tempfile.TemporaryDirectory() as d:
        np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(os.path.join(d, "suite.index.hashes"))
        filt = NGramsDecontFilter(index_folder=d, config=config)
        filt.load_index_hashes()
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        t0 = time.perf_counter()
        flagged = sum(filt.filter(doc) is not True for doc in docs)
        return time.perf_counter() - t0, flagged


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=6000)
    ap.add_argument("--xling-docs", type=int, default=300)
    ap.add_argument("--no-datatrove", action="store_true", help="skip the datatrove baseline")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "contamination_speed.json"))
    args = ap.parse_args(argv)
    import pyarrow as pa

    import make_contamination_eval as ev
    from xcurate.contamination.suites import load_suite
    from xcurate.stages.decontaminate import NgramDecontaminate, XlingDecontaminate

    with open(ev.data_path("corpus", "ud_docs.jsonl"), encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f][:args.docs]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    suite_spec = {"name": "xquad-all", "root": "${XCURATE_SHARED_DATA}/benchmarks",
                  "benchmarks": [{"name": "xquad", "path": "xquad.jsonl"}]}
    suite = load_suite(suite_spec)

    stage = NgramDecontaminate(NgramDecontaminate.Params(benchmarks=suite_spec))
    t0 = time.perf_counter()
    stage.setup()
    setup_s = time.perf_counter() - t0
    stage.process(pa.table({"text": texts[:64]}))  # warm-up (first polars call, hash power tables)
    t0 = time.perf_counter()
    flagged = 0
    for s in range(0, len(texts), 512):
        out = stage.process(pa.table({"text": texts[s:s + 512]}))
        flagged += out.table.column("contamination").null_count
    ours_s = time.perf_counter() - t0
    flagged = len(texts) - flagged
    base_s, _ = python_set_baseline(suite, texts)
    ngram = {"documents": len(texts), "mb": round(mb, 2), "suite_items": len(suite.items),
             "index_setup_s": round(setup_s, 2), "stage_flagged_docs": flagged,
             "stage_mb_per_s": round(mb / ours_s, 3), "python_set_mb_per_s": round(mb / base_s, 3),
             "speedup_vs_python_set": round(base_s / ours_s, 2)}
    if not args.no_datatrove:
        dt_s, dt_flagged = datatrove_baseline(suite, texts)
        ngram.update({"datatrove_mb_per_s": round(mb / dt_s, 3), "datatrove_flagged_docs": dt_flagged,
                      "speedup_vs_datatrove": round(dt_s / ours_s, 2)})
    print("n-gram:", json.dumps(ngram))

    clean = ev.load_clean_docs(per_lang=max(1, args.xling_docs // 20), seed=0)[:args.xling_docs]
    xl = {}
    for pre in (False, True):
        st = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=ev.ENGLISH_SUITE, prefilter=pre))
        st.setup()
        t0 = time.perf_counter()
        st.match([d["text"] for d in clean])
        sec = time.perf_counter() - t0
        xl["prefilter_on" if pre else "prefilter_off"] = {
            "passages": st.stats["passages"], "embedded": st.stats["embedded"],
            "share_embedded": round(st.stats["embedded"] / max(1, st.stats["passages"]), 4),
            "seconds": round(sec, 2), "passages_per_s": round(st.stats["passages"] / sec, 1)}
    xl["speedup_prefilter"] = round(xl["prefilter_on"]["passages_per_s"] / xl["prefilter_off"]["passages_per_s"], 2)
    eval_path = os.path.join(REPO, "bench", "results", "contamination_eval.json")
    if os.path.exists(eval_path):  # recall cost of the prefilter, measured by make_contamination_eval.py
        with open(eval_path, encoding="utf-8") as f:
            xl["prefilter_recall_from_eval"] = json.load(f).get("prefilter_recall")
    print("cross-lingual:", json.dumps(xl))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"ngram": ngram, "cross_lingual": xl, "cores": 1}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
