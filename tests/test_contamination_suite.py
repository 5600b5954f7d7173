"""Benchmark suites: YAML loading, built-in adapters, stable parallel ids, bad input."""
from __future__ import annotations

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from xcurate.contamination.suites import ADAPTERS, BenchmarkError, load_suite
from xcurate.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def need_shared(*parts: str) -> str:
    from conftest import require_shared
    return str(require_shared(*parts))


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return str(path)


def suite_of(tmp_path, benchmarks, name="t"):
    p = tmp_path / "suite.yaml"
    p.write_text(yaml.safe_dump({"name": name, "root": str(tmp_path), "benchmarks": benchmarks}))
    return str(p)


def test_builtin_adapters_cover_the_issue_list():
    for name in ("xquad", "mlqa", "xcopa", "mgsm", "flores", "belebele", "xnli", "pawsx", "tydiqa", "mmlu",
                 "mmmlu", "arc"):
        assert name in ADAPTERS


def test_shared_suite_loads_with_parallel_ids():
    need_shared("benchmarks", "xquad.jsonl")
    suite = load_suite(os.path.join(REPO, "configs", "benchmarks", "shared.yaml"), languages=["en", "de", "et"])
    counts = suite.counts()
    assert counts[("xquad", "en")] == counts[("xquad", "de")] == 1190
    assert counts[("xcopa", "et")] == 600
    en = {it.item_id for it in suite.items if it.benchmark == "xquad" and it.language == "en"}
    de = {it.item_id for it in suite.items if it.benchmark == "xquad" and it.language == "de"}
    assert en == de  # question ids are the parallel key
    first = next(it for it in suite.items if it.benchmark == "xquad")
    assert [f for f, _ in first.segments] == ["context", "question", "answer"]


def test_english_suite_and_root_override(tmp_path, monkeypatch):
    need_shared("benchmarks", "flores200_devtest.jsonl.gz")
    suite = load_suite(os.path.join(REPO, "configs", "benchmarks", "shared_en.yaml"))
    assert suite.counts() == {("xquad", "en"): 1190, ("flores200", "eng_Latn"): 1012, ("mmlu", "en"): 505}
    mmlu = [it for it in suite.items if it.benchmark == "mmlu"]
    assert mmlu[0].item_id == "mmlu.abstract_algebra.000"
    # the data location is configurable: a root with no such files is a clear error
    with pytest.raises(BenchmarkError, match="benchmark file not found: .*nowhere.*xquad.jsonl"):
        load_suite(os.path.join(REPO, "configs", "benchmarks", "shared_en.yaml"), root=str(tmp_path / "nowhere"))
    monkeypatch.setenv("XCURATE_SHARED_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(BenchmarkError, match="elsewhere"):
        load_suite(os.path.join(REPO, "configs", "benchmarks", "shared_en.yaml"))


def test_adapters_on_local_files(tmp_path):
    write_jsonl(tmp_path / "mlqa.jsonl", [
        {"id": "q1", "context": "Ctx de.", "question": "Frage?", "answers": {"text": ["A"], "answer_start": [0]},
         "lang": "de"}])
    (tmp_path / "mgsm_de.tsv").write_text("Wie viel ist 2+2?\t4\nUnd 3+3?\t6\n", encoding="utf-8")
    write_jsonl(tmp_path / "belebele.jsonl", [
        {"link": "https://x/1", "question_number": 2, "flores_passage": "P.", "question": "Q?",
         "mc_answer1": "a", "mc_answer2": "b", "mc_answer3": "c", "mc_answer4": "d", "correct_answer_num": "1",
         "dialect": "deu_Latn"}])
    pq.write_table(pa.table({"premise": ["Er ging."], "hypothesis": ["Er blieb."], "label": [2]}),
                   tmp_path / "xnli_de.parquet")
    write_jsonl(tmp_path / "pawsx.jsonl", [{"id": 7, "sentence1": "S1.", "sentence2": "S2.", "label": 1}])
    (tmp_path / "mmmlu.csv").write_text("Unnamed: 0,Question,A,B,C,D,Answer,Subject\n"
                                        "0,Was?,a,b,c,d,A,anatomy\n1,Wer?,a,b,c,d,B,anatomy\n", encoding="utf-8")
    (tmp_path / "arc.json").write_text(json.dumps([{"id": "Mercury_1", "question": "Which?",
                                                     "choices": {"text": ["x", "y"], "label": ["A", "B"]},
                                                     "answerKey": "A"}]))
    write_jsonl(tmp_path / "tydiqa.jsonl", [{"id": "arabic-123", "title": "t", "context": "سياق.",
                                             "question": "سؤال؟", "answers": {"text": ["ج"]}}])
    with gzip.open(tmp_path / "flores.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"id": 1, "sentence": "Ein Satz.", "lang": "deu_Latn"}) + "\n")
    path = suite_of(tmp_path, [
        {"name": "mlqa", "path": "mlqa.jsonl"},
        {"name": "mgsm", "path": "mgsm_de.tsv", "language": "de"},
        {"name": "belebele", "path": "belebele.jsonl", "language": "deu_Latn"},
        {"name": "xnli", "path": "xnli_de.parquet", "language": "de", "split": "test"},
        {"name": "pawsx", "path": "pawsx.jsonl", "language": "de"},
        {"name": "mmmlu", "path": "mmmlu.csv", "language": "de"},
        {"name": "arc", "path": "arc.json", "language": "en"},
        {"name": "tydiqa", "path": "tydiqa.jsonl"},
        {"name": "flores", "path": "flores.jsonl.gz"},
    ])
    items = {(it.benchmark, it.item_id): it for it in load_suite(path).items}
    assert items[("mlqa", "q1")].segments == [("context", "Ctx de."), ("question", "Frage?"), ("answer", "A")]
    assert ("mgsm", "00001") in items and items[("mgsm", "00000")].segments == [("question", "Wie viel ist 2+2?")]
    assert [f for f, _ in items[("belebele", "https://x/1#2")].segments] == ["context", "question"] + ["choices"] * 4
    assert items[("xnli", "test.00000")].language == "de"
    assert ("pawsx", "7") in items
    assert ("mmmlu", "anatomy.0001") in items and items[("mmmlu", "anatomy.0000")].segments[1] == ("choices", "a")
    assert items[("arc", "Mercury_1")].segments == [("question", "Which?"), ("choices", "x"), ("choices", "y")]
    assert items[("tydiqa", "arabic-123")].language == "ar"
    assert items[("flores", "1")].language == "deu_Latn"


def test_fields_where_and_id_field(tmp_path):
    write_jsonl(tmp_path / "g.jsonl", [
        {"group_id": "g1", "variant": "original", "question": "Q one?", "choices": ["a", "b"], "lang": "en"},
        {"group_id": "g1", "variant": "rephrase", "question": "Q 1?", "choices": ["a", "b"], "lang": "en"}])
    suite = load_suite(suite_of(tmp_path, [{"name": "mmlu", "path": "g.jsonl", "where": {"variant": "original"},
                                            "id_field": "group_id", "fields": ["question"]}]))
    assert [(it.item_id, it.segments) for it in suite.items] == [("g1", [("question", "Q one?")])]


@pytest.mark.parametrize("records, spec, message", [
    ([{"id": "1", "choice1": "a", "choice2": "b"}], {"name": "xcopa", "path": "b.jsonl"},
     r"b\.jsonl: record 1: missing field 'premise'"),
    ([{"id": "1", "premise": "p", "choice1": "a", "choice2": "b"}],
     {"name": "x", "adapter": "nope", "path": "b.jsonl"}, "unknown adapter 'nope'"),
    ([{"id": "1", "premise": "p", "choice1": "a", "choice2": "b"}],
     {"name": "xcopa", "path": "b.jsonl", "fields": ["premise"]}, "not canonical fields"),
    ([{"id": "1", "premise": "p", "choice1": "a", "choice2": "b"}], {"name": "xcopa"}, "give `path`"),
])
def test_bad_benchmark_specs_name_file_and_field(tmp_path, records, spec, message):
    write_jsonl(tmp_path / "b.jsonl", records)
    with pytest.raises(BenchmarkError, match=message):
        load_suite(suite_of(tmp_path, [spec]))


def test_unknown_format_empty_suite_and_missing_suite(tmp_path):
    (tmp_path / "b.xml").write_text("<x/>")
    with pytest.raises(BenchmarkError, match=r"b\.xml: unknown benchmark file format '.xml'"):
        load_suite(suite_of(tmp_path, [{"name": "flores", "path": "b.xml"}]))
    with pytest.raises(BenchmarkError, match="empty benchmark suite"):
        load_suite(suite_of(tmp_path, []))
    with pytest.raises(BenchmarkError, match="benchmark suite not found"):
        load_suite(str(tmp_path / "missing.yaml"))
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(BenchmarkError, match=r"e\.jsonl: benchmark file has no records"):
        load_suite(suite_of(tmp_path, [{"name": "flores", "path": "e.jsonl"}]))
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(BenchmarkError, match=r"bad\.jsonl: line 2: invalid JSON"):
        load_suite(suite_of(tmp_path, [{"name": "flores", "path": "bad.jsonl"}]))
    assert issubclass(BenchmarkError, UserError)  # the CLI prints these without a traceback
