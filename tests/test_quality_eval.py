"""The quality goals of issue #15 on a small sample of bench/quality_eval.py's evaluation.

Clean documents: FLORES-200 devtest articles (10 consecutive sentences in paragraphs of 2, from the
sentences the shipped stop words were not fitted on) in languages of eight scripts; junk: every kind of ``xcurate.text.junk`` generated from the same
language's sentences. Per language: >= 95% of clean documents kept, >= 90% of junk dropped.
"""
import gzip
import json
from collections import defaultdict

import pyarrow as pa

from bench.build_fineweb2_settings import FLORES_FIT_SENTENCES
from xcurate.stages.quality import QualityParams, QualityStage
from xcurate.text.junk import JUNK_KINDS, junk_documents

LANGUAGES = ["rus_Cyrl", "hin_Deva", "arb_Arab", "fra_Latn", "ell_Grek", "heb_Hebr", "amh_Ethi", "kor_Hang",
             "vie_Latn", "tam_Taml"]


def flores_documents(shared_data, per_language=20):
    sentences = defaultdict(list)
    with gzip.open(shared_data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in LANGUAGES and int(r["parallel_id"]) >= FLORES_FIT_SENTENCES:
                sentences[r["lang"]].append(r["text"].strip())
    return {lang: ["\n".join(" ".join(s[i + j:i + j + 2]) for j in range(0, 10, 2))
                   for i in range(0, 10 * per_language, 10)] for lang, s in sentences.items()}, sentences


def test_clean_kept_and_junk_dropped_per_language(shared_data):
    docs, sentences = flores_documents(shared_data)
    stage = QualityStage(QualityParams())
    failures = {}
    for i, lang in enumerate(LANGUAGES):
        other = sentences[LANGUAGES[(i + 3) % len(LANGUAGES)]]
        junk = [t for _, t in junk_documents(sentences[lang][200:], other, per_kind=2, seed=i)]
        reasons = stage(pa.table({"text": docs[lang] + junk, "language": [lang] * (len(docs[lang]) + len(junk))})) \
            .drop_reason.to_pylist()
        kept = sum(r is None for r in reasons[:len(docs[lang])]) / len(docs[lang])
        dropped = sum(r is not None for r in reasons[len(docs[lang]):]) / len(junk)
        if kept < 0.95 or dropped < 0.90:
            failures[lang] = (kept, dropped, [r for r in reasons[:len(docs[lang])] if r])
    assert len(junk) == 2 * len(JUNK_KINDS)
    assert not failures, failures
