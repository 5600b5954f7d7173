"""`xcurate audit` on Ray: JSON + HTML report with per benchmark x language shares and evidence."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from xcurate.cli import main
from tests.test_contamination_ngram import CONTEXT, FILLER, QUESTION
from tests.test_contamination_suite import write_jsonl
from tests.test_contamination_xling import EN, FILLER_DE

DE = "Die Photosynthese wandelt Lichtenergie in chemische Energie um, die in Glukosemolekülen gespeichert wird."


def _suite(tmp_path) -> str:
    write_jsonl(tmp_path / "qa.jsonl", [{"id": "q1", "lang": "en", "context": CONTEXT, "question": QUESTION},
                                        {"id": "q2", "lang": "en", "context": EN[2], "question": "Where?"}])
    write_jsonl(tmp_path / "fl.jsonl", [{"id": str(i), "text": t, "lang": "en"} for i, t in enumerate(EN)])
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "mini", "benchmarks": [
        {"name": "qa", "adapter": "mlqa", "path": "qa.jsonl"},
        {"name": "fl", "adapter": "flores", "path": "fl.jsonl"}]}))
    return str(path)


def test_audit_over_jsonl_and_an_output_dir(tmp_path, ray_local):
    suite = _suite(tmp_path)
    write_jsonl(tmp_path / "docs.jsonl", [
        {"id": "leak-en", "text": FILLER + CONTEXT + " " + FILLER},
        {"id": "clean-en", "text": FILLER * 2},
        {"id": "leak-de", "text": FILLER_DE + " " + DE + " " + FILLER_DE, "language": "de"},
    ])
    # an xcurate output dir: data/language=*/part-*.parquet + manifest.json
    part = tmp_path / "out" / "data" / "language=de"
    part.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["p1"], "text": [FILLER_DE + " " + DE], "language": ["de"]}),
                   part / "part-00000.parquet")
    (tmp_path / "out" / "manifest.json").write_text("{}")
    out = tmp_path / "audit"
    rc = main(["audit", "--benchmarks", suite, "-o", str(out), "--cache-dir", str(tmp_path / "cache"),
               str(tmp_path / "docs.jsonl"), str(tmp_path / "out")])
    assert rc == 0
    report = json.loads((out / "audit.json").read_text())
    assert report["totals"]["documents"] == 4
    rows = {(r["benchmark"], r["language"]): r for r in report["benchmarks"]}
    qa, fl = rows[("qa", "en")], rows[("fl", "en")]
    assert qa["items"] == 2 and qa["found_same_language"] == 1 and qa["share_same_language"] == 0.5
    assert fl["found_cross_lingual"] == 1 and fl["found_same_language"] == 0
    ev = fl["evidence"]["cross_lingual"]
    assert {e["doc_id"] for e in ev} == {"leak-de", "p1"} and all(e["item_id"] == "1" for e in ev)
    assert any(e["shard"].endswith("part-00000.parquet") and e["doc_language"] == "de" for e in ev)
    assert "Die Photosynthese" in ev[0]["passage"] and ev[0]["item"] == EN[1]
    assert qa["evidence"]["same_language"][0]["doc_id"] == "leak-en"
    page = (out / "audit.html").read_text()
    assert "data:image/png;base64," in page and "leak-de" in page and "Die Photosynthese" in page


def test_audit_bad_input_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty.yaml").write_text("name: e\nbenchmarks: []\n")
    write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": "x"}])
    rc = main(["audit", "--benchmarks", str(tmp_path / "empty.yaml"), "-o", str(tmp_path / "o"),
               str(tmp_path / "docs.jsonl")])
    assert rc == 2 and "empty benchmark suite" in capsys.readouterr().err
    rc = main(["audit", "--benchmarks", _suite(tmp_path), "-o", str(tmp_path / "o"), str(tmp_path / "nope.jsonl")])
    assert rc == 2 and "nope.jsonl" in capsys.readouterr().err
