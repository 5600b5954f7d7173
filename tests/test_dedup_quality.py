"""Near-duplicate detection quality on the real multilingual evaluation set: ours vs datatrove."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import make_dedup_eval as ev  # noqa: E402


def test_f1_not_below_datatrove(ray_local, shared_data, tmp_path):
    records = ev.build_eval_set(ev.load_corpus(shared_data / "corpus" / "ud_docs.jsonl"), seed=0)
    assert len({r["script"] for r in records}) >= 10 and len({r["lang"] for r in records}) >= 40
    assert len({r["id"] for r in records}) == len(records)
    gold = ev.gold_clusters(records)
    ours = ev.score(ev.ours_clusters(records, tmp_path / "ours"), gold)
    theirs = ev.score(ev.datatrove_clusters(records, tmp_path / "dt"), gold)
    print("ours", ours, "datatrove", theirs)
    assert ours["gold_pairs"] == theirs["gold_pairs"] > 500
    assert ours["f1"] >= theirs["f1"] - 0.01


def test_eval_set_edits_are_controlled(shared_data):
    corpus = ev.load_corpus(shared_data / "corpus" / "ud_docs.jsonl")
    a = ev.build_eval_set(corpus, seed=1, sources=50, distractors=50)
    assert a == ev.build_eval_set(corpus, seed=1, sources=50, distractors=50)  # deterministic
    doc = next(d for d in corpus if d["lang"] == "en" and len(d["text"].split()) > 100)
    import random
    words = len(doc["text"].split(" "))
    sub = ev.edit_document(doc, "substitute", 0.05, random.Random(0), ["XXX"]).split(" ")
    assert sum(w == "XXX" for w in sub) == round(words * 0.05) and len(sub) == words
    assert len(ev.edit_document(doc, "delete", 0.05, random.Random(0), []).split(" ")) == words - round(words * 0.05)
    assert ev.BOILERPLATE in ev.edit_document(doc, "boilerplate", 0, random.Random(0), [])
    zh = next(d for d in corpus if d["lang"] == "zh")
    assert len(ev.edit_document(zh, "insert", 0.05, random.Random(0), ["字"])) == len(zh["text"]) + round(
        len(zh["text"]) * 0.05)
