"""End-to-end runs on a real local Ray: formats, bad input, outputs readable by any trainer."""
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from xcurate.errors import UserError
from xcurate.engine.runner import run_pipeline

STAGES = [{"type": "normalize"}, {"type": "length_filter", "params": {"min_chars": 10}}]


def docs(prefix, n):
    return [{"id": f"{prefix}{i}", "text": f"Document {prefix} {i}:   some   text here " + "word " * (i % 7),
             "lang": "en", "extra": {"k": i}} for i in range(n)]


def build_inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    plain = docs("p", 120)
    with open(d / "plain.jsonl", "wb") as f:
        for i, rec in enumerate(plain):
            f.write((json.dumps(rec) + "\n").encode())
            if i == 10:
                f.write(b'{"id": "broken", "text": "unterminated\n')          # line 12: malformed
            if i == 20:
                f.write('{"id": "bad-utf8", "text": "caf\u00e9 au lait, tr\u00e8s bien '.encode() + b"\xff\xfe" + b' fin"}\n')
            if i == 30:
                f.write(json.dumps({"id": "notext", "body": "x"}).encode() + b"\n")
            if i == 40:
                f.write(b"\n")                                             # blank line: ignored
    with gzip.open(d / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        for rec in docs("g", 30):
            f.write(json.dumps(rec) + "\n")
    with open(d / "c.jsonl.zst", "wb") as f:
        f.write(zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in docs("z", 25)).encode()))
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in r.items() if k != "extra"} for r in docs("q", 40)]),
                   d / "d.parquet", row_group_size=10)
    (d / "empty.jsonl").write_text("")
    return d, 120 + 3 + 30 + 25 + 40


@pytest.fixture(scope="module")
def e2e_run(tmp_path_factory, ray_local):
    tmp = tmp_path_factory.mktemp("e2e")
    d, n_input = build_inputs(tmp)
    cfg = {"input": {"paths": [str(d / "*")]}, "output": {"unit_mb": 0.002}, "stages": STAGES}
    out = tmp / "out"
    manifest = run_pipeline(cfg, str(out), quiet=True)
    return out, manifest, n_input


def test_manifest_accounts_for_every_document(e2e_run):
    out, m, n_input = e2e_run
    assert m["input_documents"] == n_input
    read = m["stages"][0]
    assert read["name"] == "read" and read["dropped"] == {"malformed_json": 1, "missing_text_field": 1}
    assert [s["name"] for s in m["stages"]] == ["read", "normalize", "length_filter"]
    for prev, nxt in zip(m["stages"], m["stages"][1:]):
        assert nxt["input"] == prev["kept"]
    for s in m["stages"]:
        assert s["input"] == s["kept"] + sum(s["dropped"].values())
    assert m["units"] > 5  # small unit_mb: the plain file was cut into several units
    assert m["languages"] == {"und": {"documents": m["output_documents"],
                                      "chars": m["languages"]["und"]["chars"]}}
    assert json.loads((out / "manifest.json").read_text())["shards"] == m["shards"]
    report = (out / "report.html").read_text()
    assert report.count("<img src=\"data:image/png;base64,") == 3 and "length_filter" in report  # stages, languages, lengths


def test_stats_prints_the_summary(e2e_run, capsys):
    from xcurate.cli import main
    out, m, _ = e2e_run
    assert main(["stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert "length_filter" in text and f"input {m['input_documents']} documents" in text
    assert main(["stats", str(out / "nothing")]) == 2


def test_quarantine_records_line_and_utf8_is_repaired_and_flagged(e2e_run):
    out, m, _ = e2e_run
    rej = pq.read_table(out / "rejected" / "stage=read").to_pylist()
    malformed = [r for r in rej if r["reason"] == "malformed_json"]
    assert len(malformed) == 1 and json.loads(malformed[0]["metadata"])["line"] == 12
    assert malformed[0]["source"].endswith("plain.jsonl")
    missing = [r for r in rej if r["reason"] == "missing_text_field"]
    assert json.loads(missing[0]["metadata"])["fields"] == ["body", "id"]
    kept = pq.read_table(out / "data").to_pylist()
    bad = [r for r in kept if r["id"] == "bad-utf8"]
    assert len(bad) == 1 and bad[0]["utf8_repaired"] and "\ufffd" in bad[0]["text"]
    assert json.loads(next(r for r in kept if r["id"] == "p5")["metadata"]) == {"lang": "en", "extra": {"k": 5}}
    assert next(r for r in kept if r["id"] == "p5")["text"] == "Document p 5: some text here word word word word word"


def test_output_loads_in_datasets_polars_and_ray(e2e_run):
    import datasets
    import polars as pl
    import ray
    out, m, _ = e2e_run
    n = m["output_documents"]
    assert len(datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train")) == n
    assert pl.scan_parquet(str(out / "data" / "**" / "*.parquet"), hive_partitioning=True).select(pl.len()).collect().item() == n
    assert ray.data.read_parquet(str(out / "data")).count() == n
    assert sum(s["rows"] for s in m["shards"]) == n


def test_rerun_same_config_resumes_and_other_config_is_refused(e2e_run):
    out, m, _ = e2e_run
    cfg = json.loads((out / "_xc_run.json").read_text())["config"]
    again = run_pipeline(cfg, str(out), quiet=True)
    assert again["shards"] == m["shards"]
    other = dict(cfg, stages=STAGES[:1])
    with pytest.raises(UserError, match="another config"):
        run_pipeline(other, str(out), quiet=True)


def test_zero_documents_gives_valid_empty_manifest(tmp_path, ray_local):
    (tmp_path / "empty.jsonl").write_text("")
    m = run_pipeline({"input": {"paths": [str(tmp_path / "empty.jsonl")]}, "stages": STAGES}, str(tmp_path / "o"),
                     quiet=True)
    assert m["input_documents"] == 0 and m["shards"] == [] and all(s["input"] == 0 for s in m["stages"])


def test_hf_disk_input_and_oversized_document(tmp_path, ray_local):
    import datasets
    ds = datasets.Dataset.from_list([{"text": "a reasonably long text " * 3, "n": i} for i in range(30)]
                                    + [{"text": "x" * 5000, "n": 99}])
    ds.save_to_disk(str(tmp_path / "ds"))
    m = run_pipeline({"input": {"paths": [str(tmp_path / "ds")], "id_field": None},
                      "output": {"max_doc_chars": 4000}, "stages": STAGES}, str(tmp_path / "o"), quiet=True)
    assert m["input_documents"] == 31 and m["stages"][0]["dropped"] == {"doc_too_large": 1}
    rows = pq.read_table(tmp_path / "o" / "data").to_pylist()
    assert len({r["id"] for r in rows}) == 1  # no id field: identical texts get the same content hash
