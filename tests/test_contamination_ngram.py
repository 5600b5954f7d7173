"""Same-language n-gram decontamination: matching, policies, bad input, and the real-data goals."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
import yaml

from xcurate.engine.registry import get_stage_class
from xcurate.contamination.ngram_index import NgramIndex, match_documents
from xcurate.contamination.tokens import WindowHashes, multi_ngram_hashes, ngram_hashes, token_hashes, words
from xcurate.stages.decontaminate import NgramDecontaminate
from tests.test_contamination_suite import REPO, need_shared, write_jsonl

QUESTION = ("Which NFL team represented the AFC at Super Bowl 50 after beating the New England Patriots "
            "in the conference championship game")
CONTEXT = ("Super Bowl 50 was an American football game to determine the champion of the National Football "
           "League for the 2015 season. The American Football Conference champion Denver Broncos defeated the "
           "National Football Conference champion Carolina Panthers 24 to 10 to earn their third Super Bowl title.")
ZH = "第五十届超级碗是一场美式橄榄球比赛，旨在决定国家橄榄球联盟二零一五赛季的冠军，丹佛野马队击败了卡罗来纳黑豹队。"
FILLER = ("The village lies in a quiet valley with a small church, a bakery and two schools. Farmers bring their "
          "produce to the weekly market on Saturdays, and visitors come for the hiking trails in the hills. ")


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("suite")
    write_jsonl(d / "qa.jsonl", [
        {"id": "q1", "lang": "en", "context": CONTEXT, "question": QUESTION},
        {"id": "q2", "lang": "en", "context": "Short context.", "question": "Too short to index?"},
        {"id": "q1", "lang": "zh", "context": ZH, "question": "哪支球队赢了？"},
    ])
    path = d / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "benchmarks": [{"name": "qa", "adapter": "mlqa",
                                                                  "path": "qa.jsonl"}]}))
    return str(path)


def stage(suite_path, tmp_path, **kw) -> NgramDecontaminate:
    return NgramDecontaminate(NgramDecontaminate.Params(benchmarks=suite_path, cache_dir=str(tmp_path), **kw))


def run(st, texts):
    out = st(pa.table({"text": texts, "id": [str(i) for i in range(len(texts))]}))
    reasons = out.drop_reason.to_pylist() if out.drop_reason is not None else [None] * len(texts)
    return out.table, reasons


def test_registered_and_vectorised_hashes_agree():
    assert get_stage_class("decontaminate") is NgramDecontaminate
    rng = np.random.default_rng(0)
    tok = rng.integers(0, 2**63, size=50, dtype=np.uint64)
    multi = multi_ngram_hashes(tok, [3, 8, 13])
    for n in (3, 8, 13):
        assert np.array_equal(multi[n], ngram_hashes(tok, n))
        # shifting the token sequence shifts the window hashes
        assert np.array_equal(ngram_hashes(tok[1:], n), multi[n][1:])
    assert not set(multi[8].tolist()) & set(multi[13].tolist())  # sizes never collide


def test_prefix_sum_window_hashes_equal_rolling_hashes():
    rng = np.random.default_rng(1)
    tok = rng.integers(0, 2**63, size=300, dtype=np.uint64)
    wh = WindowHashes(tok)
    for n in (1, 8, 13, 40):
        assert np.array_equal(wh.all(n), ngram_hashes(tok, n))
        starts = np.array([0, 7, len(tok) - n])
        assert np.array_equal(wh.at(starts, n), ngram_hashes(tok, n)[starts])


def test_batch_tokenizer_matches_split_words_and_hashes_are_stable():
    from xcurate.text.words import split_words
    from xcurate.contamination.tokens import normalize_text
    text = "Ｓｕｐｅｒ Bowl 50, «l'été» — 中文字符 ภาษาไทย naïve İstanbul x2.5 don't"
    assert words(text) == split_words(normalize_text(text))
    code = "from xcurate.contamination.tokens import token_hashes; print(token_hashes(['bowl', '中']).tolist())"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(token_hashes(["bowl", "中"]).tolist())  # same hash in another process


def test_verbatim_edited_and_clean(suite_path, tmp_path):
    st = stage(suite_path, tmp_path)
    texts = [
        FILLER + CONTEXT + " " + FILLER,                                    # verbatim paragraph
        FILLER + QUESTION.upper().replace(" ", "  \n") + "?! " + FILLER,    # re-cased, re-spaced question
        FILLER * 3,                                                         # clean
        "Super Bowl 50 was an American football game. " + FILLER,          # 8-token overlap < 13: clean
        "前言。" + ZH.replace("，", " ") + "后记。",                            # Han: character n-grams
        "",
    ]
    table, reasons = run(st, texts)
    col = table.column("contamination").to_pylist()
    assert reasons == [None] * len(texts)  # flag policy drops nothing
    assert {(m["item_id"], m["item_language"]) for m in col[0]} == {("q1", "en")}
    assert col[0][0]["matched_ngrams"] > 10 and texts[0][col[0][0]["start"]:col[0][0]["end"]].startswith("Super")
    assert {(m["item_id"], m["item_language"]) for m in col[1]} == {("q1", "en")}
    assert col[2] is None and col[3] is None and col[5] is None
    assert {(m["item_id"], m["item_language"]) for m in col[4]} == {("q1", "zh")}
    assert table.column("id").to_pylist() == [str(i) for i in range(len(texts))]  # rows kept in order


def test_drop_document_policy(suite_path, tmp_path):
    table, reasons = run(stage(suite_path, tmp_path, policy="drop_document"), [FILLER + CONTEXT, FILLER])
    assert reasons == ["decontaminate:benchmark_ngram_match", None]


def test_remove_span_policy_cuts_200_chars_around_the_match(suite_path, tmp_path):
    long_doc = FILLER * 4 + CONTEXT + " " + FILLER * 4
    table, reasons = run(stage(suite_path, tmp_path, policy="remove_span"), [long_doc])
    assert reasons == [None]
    cleaned = table.column("text")[0].as_py()
    assert "Denver Broncos" not in cleaned and "Super Bowl" not in cleaned
    start = long_doc.index(CONTEXT)
    end = start + len(CONTEXT)
    assert cleaned.startswith(long_doc[:start - 200].strip()) and cleaned.endswith(long_doc[end + 200:].strip())
    assert len(cleaned) < len(long_doc) - len(CONTEXT) - 350


def test_remove_span_drops_short_or_fragmented_documents(suite_path, tmp_path):
    st = stage(suite_path, tmp_path, policy="remove_span")
    short = "Intro. " + CONTEXT + " Outro."
    fragmented = (FILLER * 4 + QUESTION + ". ") * 12 + FILLER * 4
    _, reasons = run(st, [short, fragmented])
    assert reasons == ["decontaminate:too_short_after_removal", "decontaminate:too_many_pieces"]
    _, reasons = run(stage(suite_path, tmp_path, policy="remove_span", max_pieces=20), [fragmented])
    assert reasons == [None]


def test_declared_columns_follow_the_params(suite_path, tmp_path):
    st = stage(suite_path, tmp_path, output_column="bench_hits")
    table, _ = run(st, [FILLER + CONTEXT])
    assert st.output_columns() == ("bench_hits",) and table.column("bench_hits")[0].as_py()[0]["item_id"] == "q1"
    assert "contamination" not in table.column_names
    assert stage(suite_path, tmp_path, policy="remove_span").output_columns() == ("contamination", "text")


def test_min_matches_and_short_items(suite_path, tmp_path):
    st = stage(suite_path, tmp_path, min_matches=5)
    table, _ = run(st, ["Prefix words here " + " ".join(QUESTION.split()[:14]) + " and more words after it."])
    assert table.column("contamination")[0].as_py() is None  # only 2 13-grams match, 5 required
    idx = st.index
    assert idx.item_ngrams.tolist()[1] == 0  # item q2 has no segment of >= 8 tokens: not indexable


def test_index_is_cached_and_shared(suite_path, tmp_path):
    a = stage(suite_path, tmp_path)
    a.setup()
    files = [f for f in os.listdir(os.path.join(tmp_path, "decontam")) if not f.endswith(".lock")]
    assert len(files) == 1
    loaded = NgramIndex.load(os.path.join(tmp_path, "decontam", files[0]))
    assert isinstance(loaded.keys, np.memmap)  # workers map the same file, no copy per process
    assert np.array_equal(np.asarray(loaded.keys), np.asarray(a.index.keys))
    res = match_documents(loaded, [CONTEXT])
    assert 0 in res


def test_long_documents_have_linear_cost(suite_path, tmp_path):
    st = stage(suite_path, tmp_path)
    huge = FILLER * 3000 + CONTEXT  # ~700k chars
    table, _ = run(st, [huge])
    assert table.column("contamination")[0].as_py()[0]["item_id"] == "q1"


def test_bad_params_and_suite(tmp_path):
    with pytest.raises(ValueError, match="min_ngram must be <= ngram"):
        NgramDecontaminate.Params(benchmarks="x.yaml", ngram=5, min_ngram=8)
    with pytest.raises(ValueError, match="benchmark suite not found"):
        NgramDecontaminate(NgramDecontaminate.Params(benchmarks=str(tmp_path / "none.yaml"))).setup()


def _eval_module(name: str = "make_contamination_eval"):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "bench", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_real_data_same_language_goals(tmp_path):
    """Goal: verbatim and lightly edited recall 1.0, zero false positives on the clean documents."""
    need_shared("corpus", "ud_docs.jsonl")
    ev = _eval_module()
    clean = ev.load_clean_docs(per_lang=12, seed=1)
    cases = ev.build_cases(clean, per_lang=4, seed=1)
    res = ev.evaluate_ngram(clean, cases, cache_dir=str(tmp_path))
    assert res["clean_docs"] >= 200 and res["false_positive_docs"] == 0, res["false_positive_examples"]
    for mode in ("verbatim", "edited"):
        assert res["recall"][mode]["all"]["n"] >= 130
        assert res["recall"][mode]["all"]["recall"] == 1.0, res["recall"][mode]
