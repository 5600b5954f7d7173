"""Translated-suite route of the cross-lingual check (stage ``decontaminate_translated``): recall and false positives.

Same evaluation as ``bench/xling_eval.py`` (six formats, human translations planted in real UD
documents, hard negatives = other items of the same formats and Tatoeba paraphrases, clean
documents, random fit/test split), three routes:

- ``human``: the suite lists the human translations of its items (the suite YAML's
  ``original_language: en`` + records in every language); the corpus holds the same human
  translations. 17 languages, including el, lo, km that USE-m3 does not cover.
- ``mt_sim``: there is no real MT model offline, so machine-translation variance is simulated
  with an INDEPENDENT translation of the same item: the suite holds one rendering, the corpus
  another. (a) ``xcopa_gmt``: XCOPA's Google-MT English from Italian in the suite, Google-MT English
  from one of 9 other source languages in the corpus (two MT outputs via two different human
  translations: more variance than one MT model vs a human translation of one English source;
  items re-written for a culture, XCOPA's ``changed``, left out);
  (b) ``flores_variety``: FLORES-200 in one written variety in the suite, the independent
  human FLORES translation into a close variety in the corpus (nob→nno, pes→prs, arb→ars,
  zsm→ind): a different translator AND a different written standard, harder than MT variance
  within one language (arb→ars is nearly a copy in FLORES: it measures little). This measures how
  well the matcher tolerates a different translator, not any particular MT model.

The human route's clean side also holds ``--hard-clean-per-lang`` hard clean documents per language
(``bench/xling_hard_clean.py``: out-of-suite items of the same benchmarks, same-article FLORES and XQuAD
passages, nearest look-alike sentences, Tatoeba paraphrases); false positives are reported per language
with the one-sided 95% Clopper-Pearson upper bound, and per ``min_containment`` at the shipped settings.
The documents carry their language, as after ``langid`` (no cosine across languages, as in the stage).

Each route: candidates by character n-gram containment, verification by the shipped settings
(near-exact containment, or same-language USE-m3 cosine where USE-m3 covers the language) and by
settings fitted on ``fit`` (reported on ``test``).

    python bench/xling_translated_eval.py [--per-lang 3] [--hard-clean-per-lang 400] [--out ...json]
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench._common import write_json  # noqa: E402

from bench.make_contamination_eval import data_path, plant  # noqa: E402
from bench.xling_hard_clean import flores_variety_clean, fp_summary, hard_clean_cases  # noqa: E402
from bench.xling_eval import (COVERED, SUITE_FORMATS, UNCOVERED, _brief, build_cases, in_suite,  # noqa: E402
                              load_formats, load_hosts, limit_items)

FLORES_VARIETIES = (("nob_Latn", "nno_Latn", "no", None), ("pes_Arab", "prs_Arab", "fa", "fa"),
                    ("arb_Arab", "ars_Arab", "ar", "ar"), ("zsm_Latn", "ind_Latn", "ms", "id"))
GMT_SUITE_SOURCE = "it"
EXACT_GRID = (0.6, 0.7, 0.8, 0.9)  # exact_containment settings tried by ``fit``


def _suite_record(fmt: str, lang: str, pid: str, entry: dict, en: dict) -> dict:
    """The suite-side record of item ``pid`` in ``lang`` for the adapter of ``fmt``."""
    if fmt in ("qa", "premise") or lang == "en":
        return {**entry["suite"], "lang": lang, "parallel_id": pid}
    text = entry["text"]
    if fmt == "mc":
        return {**en["suite"], "question": text[0], "choices": list(text[1:]), "lang": lang, "parallel_id": pid}
    if fmt == "problem":
        return {"id": pid, "context": text, "lang": lang, "parallel_id": pid}
    return {"id": pid, "text": text, "lang": lang, "parallel_id": pid}


def write_human_suite(formats, directory: str) -> str:
    """The English half-suite with the human translations of its items in every language."""
    import yaml
    specs = []
    for fmt, adapter, _ in SUITE_FORMATS:
        path = os.path.join(directory, f"{fmt}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for lang, items in sorted(formats[fmt].items()):
                for pid, entry in sorted(items.items()):
                    if in_suite(pid) and pid in formats[fmt]["en"] and (lang == "en" or entry.get("text")):
                        rec = _suite_record(fmt, lang, pid, entry, formats[fmt]["en"][pid])
                        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        specs.append({"name": fmt, "adapter": adapter, "path": path, "original_language": "en",
                      **({"id_field": "parallel_id"} if fmt in ("sentence", "prompt", "problem") else {})})
    suite = os.path.join(directory, "suite.yaml")
    with open(suite, "w") as f:
        yaml.safe_dump({"name": "xling-eval-human", "benchmarks": specs}, f)
    return suite


# ----------------------------------------------------------------------------- scoring

def score_hits(stage, texts, languages=None):
    """Every candidate (containment ≥ the stage's min) with its same-language cosine where the encoder covers it;
    with ``languages`` (the documents' language column, as the stage reads it) no cosine across languages."""
    hits = stage.index.match(texts, stage.params.least_containment)
    cos = stage._cosines(texts, [h for h in hits if stage._has_cosine(h.unit) and stage._same_language(h, languages)])
    copies = stage.copy_shares(texts, hits, least=min(EXACT_GRID))
    return [(h, cos.get((h.doc, h.unit, h.start)), copies.get(h)) for h in hits]


def select(stage, texts, scored, exact: float, verified_cos: float, min_containment: float = 0.0
           ) -> Dict[int, Dict[int, dict]]:
    """doc → {verified item number: the evidence (signal, containment, cosine, span)} under these settings."""
    from xcurate.contamination.verify import VERIFIED, verify_same_language
    found: Dict[int, Dict[int, dict]] = defaultdict(dict)
    for h, c, copy in scored:
        if h.containment < min_containment:
            continue
        span = texts[h.doc][h.start:h.end]
        conf, signal = verify_same_language(stage.index.unit_texts[h.unit], span, h.containment, c, exact,
                                            verified_cos, copy)
        if conf == VERIFIED:
            evidence = {"signal": signal, "containment": round(h.containment, 3),
                        "cosine": None if c is None else round(c, 3), "span": span[:160]}
            found[h.doc].update(dict.fromkeys(stage.index.items_of(h.unit).tolist(), evidence))
    return found


def _short(m: dict) -> dict:
    return {k: v for k, v in _brief(m).items() if k != "false_positives_by_language"}


def metrics(cases, found, meta, split: str, covered=lambda c: True) -> dict:
    groups: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples = []
    for n, c in enumerate(cases):
        if (split != "all" and c["split"] != split) or c.get("ambiguous"):
            continue
        items = found.get(n, set())
        if c["kind"] == "positive":
            hit = any(meta[i][0] == c["format"] and meta[i][1] in c["truth"] for i in items)
            for key in ("positive", f"positive.{c['format']}", f"positive.{c['lang']}"):
                groups[key]["n"] += 1
                groups[key]["found"] += hit
        else:
            for key in (c["kind"], "negatives_and_clean", f"negatives_and_clean.{c['lang']}",
                        *([f"hard_clean.{c['format']}"] if c["kind"] == "hard_clean" else [])):
                groups[key]["n"] += 1
                groups[key]["false_positive_docs"] += bool(items)
            if items:
                first = min(items)
                examples.append({"doc": c["id"], "items": sorted({"/".join(meta[i][:3]) for i in items})[:3],
                                 **items[first]})
    pos, neg = groups["positive"], groups["negatives_and_clean"]
    return {"positives": pos["n"], "recall": round(pos["found"] / max(pos["n"], 1), 4),
            "negative_and_clean_docs": neg["n"], "false_positive_docs": neg["false_positive_docs"],
            "false_positives_per_1000": round(1000 * neg["false_positive_docs"] / max(neg["n"], 1), 2),
            "false_positives_per_1000_upper95": fp_summary(neg["false_positive_docs"], neg["n"])["per_1000_upper95"],
            "false_positives_by_language": {k.split(".", 1)[1]: fp_summary(v["false_positive_docs"], v["n"])
                                            for k, v in sorted(groups.items())
                                            if k.startswith("negatives_and_clean.")},
            "groups": {k: dict(v) for k, v in sorted(groups.items())}, "false_positive_examples": examples[:20]}


def fit(stage, texts, scored, cases) -> tuple:
    """Fewest false positives on ``fit``, then the highest recall, then the stricter setting."""
    best = None
    for exact, cos, least in itertools.product(EXACT_GRID, [x / 100 for x in range(50, 91, 4)],
                                               (0.2, 0.25, 0.3, 0.35)):
        m = metrics(cases, select(stage, texts, scored, exact, cos, least), stage.index.items_meta, "fit")
        key = (-m["false_positive_docs"], m["recall"], exact, cos, least)
        if best is None or key > best[0]:
            best = (key, (exact, cos, least))
    return best[1]


def evaluate_route(cases: List[dict], suite: str, cache_dir: str, language_column: bool = True,
                   machine_translated: bool = False) -> dict:
    """``language_column``: the documents carry their language (as after ``langid``); the MT simulation
    stands one close variety in for another (nno for no), so it runs without. ``machine_translated``: the
    suite's translations stand for machine translations, so the shipped settings are the stage's
    ``machine_translations``, else ``human_translations``."""
    from xcurate.stages.decontaminate import TranslatedDecontaminate
    stage = TranslatedDecontaminate(TranslatedDecontaminate.Params(benchmarks=suite, cache_dir=cache_dir))
    t0 = time.time()
    stage.setup()
    setup_s = time.time() - t0
    texts = [c["text"] for c in cases]
    t0 = time.time()
    scored = score_hits(stage, texts, [c["lang"] for c in cases] if language_column else None)
    match_s = time.time() - t0
    p = stage.params.settings_for("mt" if machine_translated else "human")
    shipped = select(stage, texts, scored, p.exact_containment, p.verified_cosine, p.min_containment)
    exact, cos, least = fit(stage, texts, scored, cases)
    meta = stage.index.items_meta
    return {"suite_items": len(stage.items), "units": len(stage.index.unit_texts), "setup_s": round(setup_s, 1),
            "candidates": len(scored), "match_and_verify_s": round(match_s, 1),
            "corpus_mb": round(sum(len(t.encode()) for t in texts) / 1e6, 3),
            "shipped": {"exact_containment": p.exact_containment, "verified_cosine": p.verified_cosine,
                        "min_containment": p.min_containment,
                        **{s: metrics(cases, shipped, meta, s) for s in ("fit", "test", "all")}},
            "candidates_by_containment": {m: sum(h.containment >= m for h, _, _ in scored)
                                          for m in (0.2, 0.25, 0.3, 0.35)},
            "shipped_by_min_containment": {m: _short(metrics(cases, select(stage, texts, scored, p.exact_containment,
                                                                           p.verified_cosine, m), meta, "all"))
                                           for m in (0.2, 0.25, 0.3, 0.35)},
            "fitted_on_fit": {"exact_containment": exact, "verified_cosine": cos, "min_containment": least,
                              "test": metrics(cases, select(stage, texts, scored, exact, cos, least), meta, "test")}}


# ----------------------------------------------------------------------------- MT simulation cases

def _jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _ud_hosts(lang: str, n: int, rng) -> List[str]:
    hosts = [r["text"][:1500] for r in _jsonl(data_path("corpus", "ud_docs.jsonl"))
             if r["lang"] == lang and len(r["text"]) >= 300]
    rng.shuffle(hosts)
    return hosts[:n]


def _case(cases, rng, kind, lang, fmt, host, text, truth):
    doc = plant(host, text, rng) if rng.randrange(2) else f"{host.rstrip()}\n\n{text}\n\n{host[:300]}"
    cases.append({"id": f"{kind}.{fmt}.{lang}.{len(cases):05d}", "kind": kind, "lang": lang, "format": fmt,
                  "truth": truth, "text": doc, "split": "fit" if rng.random() < 0.5 else "test"})


def mt_sim_cases(directory: str, per_source: int, clean: int, seed: int, hard_clean: int = 0):
    """(cases, suite path) of the two MT-variance simulations (module docstring)."""
    import yaml
    rng = random.Random(seed)
    hard_rng = random.Random(seed + 1)  # the hard clean side leaves the positives and negatives as they were
    gmt: Dict[str, Dict[str, dict]] = defaultdict(dict)
    for r in _jsonl(data_path("benchmarks", "xcopa_translate_test_en.jsonl")):
        gmt[r["source_lang"]][r["parallel_id"]] = r
    cases: List[dict] = []
    en_hosts = _ud_hosts("en", 400, rng)
    triple = lambda r: (r["premise"], r["choice1"], r["choice2"])  # noqa: E731
    from bench.xling_eval import layout
    for src in sorted(s for s in gmt if s not in (GMT_SUITE_SOURCE, "et")) + ["et"]:
        for positive in (True, False):
            # items that XCOPA's translators re-wrote for their culture (`changed`) are not translations
            ids = sorted(p for p in gmt[src] if in_suite(p) == positive and not gmt[src][p].get("changed")
                         and not gmt[GMT_SUITE_SOURCE].get(p, {}).get("changed"))
            for pid in rng.sample(ids, per_source):
                _case(cases, rng, "positive" if positive else "negative", "en", "xcopa_gmt", rng.choice(en_hosts),
                      layout("premise", triple(gmt[src][pid]), rng), [pid])
    with open(os.path.join(directory, "gmt.jsonl"), "w", encoding="utf-8") as f:
        for pid, r in sorted(gmt[GMT_SUITE_SOURCE].items()):
            if in_suite(pid):
                f.write(json.dumps({**r, "lang": "en"}, ensure_ascii=False) + "\n")
    flores = defaultdict(dict)
    wanted = {c for pair in FLORES_VARIETIES for c in pair[:2]}
    for r in _jsonl(data_path("benchmarks", "flores200_devtest.jsonl.gz")):
        if r["lang"] in wanted:
            flores[r["lang"]][r["parallel_id"]] = r["text"]
    with open(os.path.join(directory, "varieties.jsonl"), "w", encoding="utf-8") as f:
        for suite_code, corpus_code, suite_lang, host_lang in FLORES_VARIETIES:
            for pid, text in sorted(flores[suite_code].items()):
                if in_suite(pid):
                    f.write(json.dumps({"id": f"{suite_code}.{pid}", "parallel_id": pid, "lang": suite_lang,
                                        "text": text}, ensure_ascii=False) + "\n")
            hosts = _ud_hosts(host_lang, clean, rng) if host_lang else []
            if not hosts:  # filler: out-of-suite sentences of the corpus variety
                filler = [t for p, t in sorted(flores[corpus_code].items()) if not in_suite(p)]
                hosts = [" ".join(filler[i:i + 8]) for i in range(0, len(filler) - 8, 8)][:clean]
            for positive in (True, False):
                ids = sorted(p for p in flores[corpus_code] if in_suite(p) == positive)
                for pid in rng.sample(ids, per_source * 2):
                    _case(cases, rng, "positive" if positive else "negative", corpus_code, "flores_variety",
                          rng.choice(hosts), flores[corpus_code][pid], [pid])
            for i, host in enumerate(hosts[:clean]):
                cases.append({"id": f"clean.{corpus_code}.{i}", "kind": "clean", "lang": corpus_code, "format": "",
                              "truth": [], "text": host, "split": "fit" if rng.random() < 0.5 else "test"})
            leaked = {p for p in flores[corpus_code] if in_suite(p)}
            for text in flores_variety_clean(corpus_code, leaked, hard_clean, seed):
                _case(cases, hard_rng, "hard_clean", corpus_code, "flores_same_article", hard_rng.choice(hosts), text,
                      [])
    # other XCOPA items, Google-MT from the other source languages, as exercise sheets of 3-5 items
    pool = [gmt[src][p] for src in sorted(gmt) if src != GMT_SUITE_SOURCE for p in sorted(gmt[src])
            if not in_suite(p) and not gmt[src][p].get("changed")]
    for _ in range(hard_clean):
        sheet = "\n\n".join(f"{n}. {layout('premise', triple(r), hard_rng)}"
                             for n, r in enumerate(hard_rng.sample(pool, hard_rng.randint(3, 5)), 1))
        _case(cases, hard_rng, "hard_clean", "en", "exam_mix", hard_rng.choice(en_hosts), sheet, [])
    for i, host in enumerate(en_hosts[:clean * 2]):
        cases.append({"id": f"clean.en.{i}", "kind": "clean", "lang": "en", "format": "", "truth": [], "text": host,
                      "split": "fit" if rng.random() < 0.5 else "test"})
    suite = os.path.join(directory, "mt_sim.yaml")
    with open(suite, "w") as f:
        yaml.safe_dump({"name": "xling-eval-mt-sim", "benchmarks": [
            # no original in these suites: every item is a translation (matched by decontaminate_translated)
            {"name": "xcopa_gmt", "adapter": "xcopa", "path": os.path.join(directory, "gmt.jsonl"),
             "original_language": "none"},
            {"name": "flores_variety", "adapter": "flores", "path": os.path.join(directory, "varieties.jsonl"),
             "id_field": "parallel_id", "original_language": "none"}]}, f)
    return cases, suite


def run(per_lang: int, seed: int, cache_dir: str, clean_per_lang: int = 25, max_items: int = 0,
        langs=COVERED + UNCOVERED, mt_per_source: int = 12, hard_clean_per_lang: int = 400) -> dict:
    from bench import xling_eval
    xling_eval._CLEAN_PER_LANG["covered"] = clean_per_lang
    formats = load_formats(langs)
    if max_items:
        limit_items(formats, max_items)
    hosts = load_hosts(langs, per_lang, seed, formats)
    cases = build_cases(formats, hosts, per_lang, seed)
    cases += hard_clean_cases(formats, hosts, hard_clean_per_lang, seed)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        out["human"] = evaluate_route(cases, write_human_suite(formats, tmp), cache_dir)
        mt_cases, mt_suite = mt_sim_cases(tmp, mt_per_source, clean_per_lang, seed, hard_clean_per_lang)
        out["mt_sim"] = evaluate_route(mt_cases, mt_suite, cache_dir, language_column=False, machine_translated=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-lang", type=int, default=3, help="positives and hard negatives per format x language")
    ap.add_argument("--clean-per-lang", type=int, default=25)
    ap.add_argument("--mt-per-source", type=int, default=12, help="MT-sim positives/negatives per source or pair")
    ap.add_argument("--hard-clean-per-lang", type=int, default=400,
                    help="hard clean documents per language (bench/xling_hard_clean.py), human route")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=os.path.join(REPO, "bench", "work", "xling_cache"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "xling_translated_eval.json"))
    args = ap.parse_args(argv)
    t0 = time.time()
    result = run(args.per_lang, args.seed, args.cache_dir, args.clean_per_lang, mt_per_source=args.mt_per_source,
                 hard_clean_per_lang=args.hard_clean_per_lang)
    args_used = " ".join(argv if argv is not None else sys.argv[1:])
    result.update(command=f"python bench/xling_translated_eval.py {args_used}".strip(),
                  seconds=round(time.time() - t0, 1), note="machine shared with other jobs: seconds are pessimistic")
    print(json.dumps({route: {"shipped_test": _short(r["shipped"]["test"]), "shipped_all": _short(r["shipped"]["all"]),
                              "fitted": [r["fitted_on_fit"][k] for k in ("exact_containment", "verified_cosine",
                                                                         "min_containment")],
                              "fitted_test": _short(r["fitted_on_fit"]["test"])}
                      for route, r in result.items() if isinstance(r, dict) and "shipped" in r}, indent=1))
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
