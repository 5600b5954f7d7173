"""LID evaluation of the langid stage on gold-labelled text in ../shared/data.

UD documents, Tatoeba sentences and FLORES-200 devtest sentences: per-language precision,
recall and F1 at the ISO 639-3 level (macro-language variants folded: zho/cmn, ara/arb, ...),
the most frequent confusion pairs (ind/zsm, hrv/srp/bos, ...), and the share of gold
languages lid.176 cannot output. Writes bench/results/lid_eval.json.

Run: .venv/bin/python bench/lid_eval.py [--model lid.176.ftz]
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402

from bench._common import shared_data  # noqa: E402
from xcurate.stages.langid import LangIdParams, LangIdStage, load_label_table  # noqa: E402

# Gold codes -> the code the stage emits for the same language (macro-language members folded).
FOLD = {"zho": "cmn", "ara": "arb", "fas": "pes", "prs": "pes", "msa": "zsm", "swa": "swh", "lav": "lvs",
        "est": "est", "ekk": "est", "nor": "nob", "uzb": "uzn", "aze": "azj", "kur": "kmr", "sqi": "als",
        "mon": "khk", "pus": "pbt", "ori": "ory", "que": "quy", "yid": "ydd", "mlg": "plt", "nep": "npi",
        "grn": "grn", "gug": "grn", "hbs": "hbs", "zsm": "zsm", "ind": "ind"}


def fold(code3: str) -> str:
    return FOLD.get(code3, code3)


def load_gold():
    data = shared_data()
    sets = {"ud_docs": [], "tatoeba": [], "flores200": []}
    for line in open(data / "corpus" / "ud_docs.jsonl", encoding="utf-8"):
        r = json.loads(line)
        sets["ud_docs"].append((r["text"], fold(r["iso639_3"])))
    with gzip.open(data / "corpus" / "tatoeba_laser_v1.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            sets["tatoeba"].append((r["text"], fold(r["lang"])))
    with gzip.open(data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            sets["flores200"].append((r["text"], fold(r["iso639_3"])))
    return sets


def evaluate(pairs, stage, supported):
    texts = [t for t, _ in pairs]
    preds = []
    for i in range(0, len(texts), 8192):
        out = stage(pa.table({"text": texts[i:i + 8192]})).table
        preds += [fold(lang.split("_")[0]) for lang in out.column("language").to_pylist()]
    gold = [g for _, g in pairs]
    tp, fp, fn = Counter(), Counter(), Counter()
    confusion = Counter()
    for g, p in zip(gold, preds):
        if g == p:
            tp[g] += 1
        else:
            fn[g] += 1
            fp[p] += 1
            confusion[(g, p)] += 1
    per_lang = {}
    for lang in sorted(set(gold)):
        prec = tp[lang] / (tp[lang] + fp[lang]) if tp[lang] + fp[lang] else 0.0
        rec = tp[lang] / (tp[lang] + fn[lang]) if tp[lang] + fn[lang] else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_lang[lang] = {"n": tp[lang] + fn[lang], "precision": round(prec, 4), "recall": round(rec, 4),
                          "f1": round(f1, 4), "supported_by_model": lang in supported}
    sup = [v for v in per_lang.values() if v["supported_by_model"]]
    return {
        "documents": len(pairs),
        "accuracy": round(sum(tp.values()) / len(pairs), 4),
        "accuracy_on_supported_languages": round(
            sum(tp[lang] for lang, v in per_lang.items() if v["supported_by_model"])
            / max(1, sum(v["n"] for v in sup)), 4),
        "languages": len(per_lang),
        "languages_supported_by_model": len(sup),
        "macro_f1_supported": round(sum(v["f1"] for v in sup) / max(1, len(sup)), 4),
        "top_confusions": [{"gold": g, "predicted": p, "count": c} for (g, p), c in confusion.most_common(25)],
        "per_language": per_lang,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lid.176.ftz")
    ap.add_argument("--max-chars", type=int, default=4000)
    args = ap.parse_args()
    stage = LangIdStage(LangIdParams(model=args.model, mode="label_only", k=1, max_chars=args.max_chars))
    supported = {fold(code3) for code3, _, _ in load_label_table().values()}
    results = {"model": args.model, "level": "ISO 639-3 (macro-language members folded, see FOLD)", "sets": {}}
    t0 = time.perf_counter()
    for name, pairs in load_gold().items():
        res = evaluate(pairs, stage, supported)
        results["sets"][name] = res
        print(f"{name:10s} docs={res['documents']:7d} langs={res['languages']:4d} "
              f"(model knows {res['languages_supported_by_model']}) acc={res['accuracy']:.4f} "
              f"acc_supported={res['accuracy_on_supported_languages']:.4f} "
              f"macroF1_supported={res['macro_f1_supported']:.4f}")
        print("   top confusions:", ", ".join(f"{c['gold']}->{c['predicted']}:{c['count']}"
                                             for c in res["top_confusions"][:8]))
    pairs_of_interest = {}
    for name, res in results["sets"].items():
        for c in res["top_confusions"]:
            key = "/".join(sorted((c["gold"], c["predicted"])))
            if key in ("ind/zsm", "bos/hrv", "hrv/srp", "bos/srp", "hbs/hrv", "hbs/srp", "bos/hbs"):
                pairs_of_interest.setdefault(name, []).append(c)
    results["confusion_pairs_of_interest"] = pairs_of_interest
    results["seconds"] = round(time.perf_counter() - t0, 1)
    out = REPO / "bench" / "results" / "lid_eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"-> {out} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
