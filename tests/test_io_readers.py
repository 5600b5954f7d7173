"""The engine's reader: one JSON semantics on both parse paths, damaged files quarantined as
files (on the reader and in a real run's manifest), paths taken as given, the text reasons."""
import gzip
import json

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from xcurate import schema
from xcurate.engine.config import InputConfig
from xcurate.engine.io import (CORRUPT_FILE, BadRecord, ReadOptions, ReadSpec, _fast_parse, _slow_parse, _UnitBuilder,
                               expand_paths, iter_file_records, plan_read_specs, quarantined_files, read_jsonl,
                               read_spec)
from xcurate.engine.runner import run_pipeline

COMPARED = ["id", "text", "source", "metadata", "utf8_repaired", "language", schema.DROP_REASON]


def rows(tables):
    table = pa.concat_tables(list(tables)) if tables else None
    return [{k: r.get(k) for k in COMPARED} for r in table.to_pylist()] if table is not None else []


def both_paths(tmp_path, chunk: bytes, opts: ReadOptions):
    """(what read_jsonl gives, what the per-line path alone gives) for one chunk."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(chunk)
    spec = ReadSpec("s", "jsonl", str(path))
    b = _UnitBuilder(spec, opts, str(path))
    return rows(read_jsonl(spec, opts)), rows(list(_slow_parse(chunk, 1, opts, b)) + list(b.finish()))


CLEAN = b'{"id": 1, "text": "first doc", "lang": "en"}\n{"id": 2, "text": "second doc", "lang": "de"}\n'
CASES = {
    "two objects on one line": b'{"id": 3, "text": "a", "lang": "x"}{"id": 4, "text": "b", "lang": "y"}\n',
    "two objects and a blank line": b'{"id": 3, "text": "a", "lang": "x"} {"id": 4, "text": "b", "lang": "y"}\n\n',
    "BOM at the start of a line": b'\xef\xbb\xbf{"id": 3, "text": "bom", "lang": "x"}\n',
    "BOM-only line": b"\xef\xbb\xbf\n",
    "two BOMs": b'\xef\xbb\xbf\xef\xbb\xbf{"id": 3, "text": "bom", "lang": "x"}\n',
    "array": b"[1, 2]\n", "string": b'"just a string"\n', "number": b"42\n", "null": b"null\n",
    "nested text": b'{"id": 3, "text": {"a": 1}, "lang": "x"}\n',
    "number text": b'{"id": 3, "text": 5, "lang": "x"}\n',
    "null text": b'{"id": 3, "text": null, "lang": "x"}\n',
    "missing text": b'{"id": 3, "body": "x", "lang": "x"}\n',
    "invalid UTF-8": b'{"id": 3, "text": "caf\xc3 \xff", "lang": "x"}\n',
    "lone surrogate escape": b'{"id": 3, "text": "\\ud800", "lang": "x"}\n',
    "duplicate key": b'{"id": 3, "text": "a", "text": "b", "lang": "x"}\n',
    "float metadata after int": b'{"id": 3, "text": "a", "lang": 1.5}\n',
    "absent metadata key": b'{"id": 3, "text": "a"}\n',
    "extra metadata key": b'{"id": 3, "text": "a", "lang": "x", "more": [1, {"b": null}]}\n',
    "date-like metadata": b'{"id": 3, "text": "a", "lang": "2020-01-01"}\n',
    "boolean id": b'{"id": true, "text": "a", "lang": "x"}\n',
    "float id": b'{"id": 1.0, "text": "a", "lang": "x"}\n',
    "keys in another order": b'{"lang": "x", "text": "a", "id": 3}\n',
    "whitespace-only line": b" \t \n",
    "CRLF line ends": b'{"id": 3, "text": "a", "lang": "x"}\r\n',
    "lone CR between records": b'{"id": 3, "text": "a", "lang": "x"}\r{"id": 4, "text": "b", "lang": "y"}\n',
    "malformed": b'{"id": 3, "text": "unterminated\n',
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("keep_metadata", [True, False])
def test_fast_and_per_line_paths_agree(tmp_path, case, keep_metadata):
    opts = ReadOptions(keep_metadata=keep_metadata, columns={"lang": "language"})
    for chunk in (CLEAN + CASES[case], CASES[case] + CLEAN, CLEAN + CASES[case] + CLEAN):
        natural, per_line = both_paths(tmp_path, chunk, opts)
        assert natural == per_line, case


def test_clean_chunks_take_the_fast_path_with_the_per_line_result(tmp_path):
    opts = ReadOptions(columns={"lang": "language"})
    boolean_ids = b'{"id": true, "text": "a", "lang": "x"}\n{"id": false, "text": "b", "lang": "y"}\n'
    for chunk in (CLEAN, CASES["BOM at the start of a line"] + CLEAN, CLEAN + CASES["CRLF line ends"],
                  CLEAN + CASES["keys in another order"], boolean_ids, CLEAN + b'{"id": 3, "text": "a", "more": {"b": [1]}}\n',
                  CLEAN + CASES["absent metadata key"], CLEAN + b'{"id": 3, "text": "a", "score": 1.0}\n'):
        assert _fast_parse(chunk, opts) is not None
        natural, per_line = both_paths(tmp_path, chunk, opts)
        assert natural == per_line


def test_one_json_semantics_decisions(tmp_path):
    chunk = b"".join(CASES[c] for c in ("two objects on one line", "BOM at the start of a line", "array",
                                        "null text", "missing text", "invalid UTF-8", "BOM-only line"))
    got, _ = both_paths(tmp_path, chunk, ReadOptions())
    assert [r[schema.DROP_REASON] for r in got] == ["malformed_json", None, "malformed_record", "invalid_text",
                                                    "missing_text_field", None]
    assert got[1]["text"] == "bom" and got[5]["utf8_repaired"] and "\ufffd" in got[5]["text"]
    assert json.loads(got[3]["metadata"])["error"] == "text is null"
    records = [rec for _, rec in iter_file_records(str(tmp_path / "x.jsonl"))]
    assert isinstance(records[0], BadRecord) and records[0].reason == "malformed_json"
    assert [r["text"] for r in records[1:] if isinstance(r, dict) and isinstance(r.get("text"), str)][0] == "bom"


DOCS = b"".join(orjson.dumps({"id": i, "text": f"document number {i} " * 20}) + b"\n" for i in range(3000))


def _read_all(path: str, fmt: str, opts=ReadOptions(unit_bytes=1 << 16)):
    specs = plan_read_specs(InputConfig(paths=[path], format=fmt), opts)
    tables = [t for s in specs for t in read_spec(s, opts)]
    return rows(tables), [q for t in tables for q in quarantined_files(t)]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_truncated_compressed_file_keeps_the_records_before_the_damage(tmp_path, suffix):
    whole = gzip.compress(DOCS) if suffix.endswith("gz") else zstandard.ZstdCompressor().compress(DOCS)
    path = tmp_path / f"t{suffix}"
    path.write_bytes(whole[: len(whole) // 2])
    got, quarantine = _read_all(str(path), "jsonl")
    kept = [r for r in got if r[schema.DROP_REASON] is None]
    assert 500 < len(kept) < 3000
    assert [json.loads(DOCS.split(b"\n")[i])["text"] for i in range(len(kept))] == [r["text"] for r in kept]
    assert len(got) == len(kept) + 1 and got[-1][schema.DROP_REASON] == CORRUPT_FILE
    assert quarantine == [{"path": str(path), "byte_offset": sum(len(line) + 1 for line in DOCS.split(b"\n")[:len(kept)]),
                           "line": len(kept) + 1, "error": quarantine[0]["error"]}]
    assert "truncated" in quarantine[0]["error"]


@pytest.mark.parametrize("name,content", [("g.jsonl.zst", b"garbage" * 50), ("g.jsonl.gz", b"garbage" * 50),
                                          ("g.parquet", b"garbage" * 50)])
def test_garbage_file_is_one_quarantined_row(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    got, quarantine = _read_all(str(path), "parquet" if name.endswith("parquet") else "jsonl")
    assert [r[schema.DROP_REASON] for r in got] == [CORRUPT_FILE]
    assert len(quarantine) == 1 and quarantine[0]["path"] == str(path)
    assert list(iter_file_records(str(path)))[-1][1].reason == CORRUPT_FILE


def test_parquet_damaged_in_a_row_group_keeps_the_groups_before(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": [f"row {i} " + "x" * (i % 50) for i in range(1000)]}), path,
                   row_group_size=100, compression="zstd")
    column = pq.ParquetFile(path).metadata.row_group(5).column(0)
    data = bytearray(path.read_bytes())
    start = (column.dictionary_page_offset or column.data_page_offset) + 40
    data[start:start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    got, quarantine = _read_all(str(path), "parquet", ReadOptions(unit_rows=250))
    # units of 250 rows: row groups 3-5 are one spec, so the damage in 5 costs that group only
    assert [r["text"] for r in got if r[schema.DROP_REASON] is None] == [f"row {i} " + "x" * (i % 50)
                                                                         for i in range(1000) if i // 100 != 5]
    assert [{k: q[k] for k in ("path", "row_group", "row_offset")} for q in quarantine] == [
        {"path": str(path), "row_group": 5, "row_offset": 500}]


def test_pq_in_directories_and_literal_glob_characters(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a"]}), d / "sub" / "one.pq")
    (d / "two[1].jsonl").write_text('{"text": "b"}\n')
    (d / ".hidden.jsonl").write_text('{"text": "c"}\n')
    assert expand_paths([str(d)]) == [str(d / "sub" / "one.pq"), str(d / "two[1].jsonl")]
    assert expand_paths([str(d / "two[1].jsonl")]) == [str(d / "two[1].jsonl")]
    assert expand_paths([str(d / "t*.jsonl")]) == [str(d / "two[1].jsonl")]


def test_run_quarantines_a_truncated_gz_among_good_files(tmp_path, ray_local, capsys):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_bytes(b"\n".join(DOCS.split(b"\n")[:100]) + b"\n")
    whole = gzip.compress(DOCS)
    (d / "b.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (d / "c.parquet").write_bytes(b"not a parquet file at all")
    pq.write_table(pa.table({"text": ["a fine parquet document"] * 30}), d / "d.parquet")
    cfg = {"input": {"paths": [str(d)]}, "ray": {"num_cpus": 2}, "stages": [{"type": "normalize"}]}
    m = run_pipeline(cfg, str(tmp_path / "out"), quiet=True)
    assert sorted(q["path"] for q in m["quarantine"]) == [str(d / "b.jsonl.gz"), str(d / "c.parquet")]
    read = m["stages"][0]
    assert read["dropped"] == {CORRUPT_FILE: 2}
    gz_kept = next(q for q in m["quarantine"] if q["path"].endswith(".gz"))["line"] - 1
    assert read["kept"] == 100 + gz_kept + 30 and gz_kept > 1000
    rejected = pq.read_table(tmp_path / "out" / "rejected" / "stage=read").to_pylist()
    assert sorted(json.loads(r["metadata"])["path"] for r in rejected) == sorted(q["path"] for q in m["quarantine"])
    # `xcurate stats` lists the quarantine: damaged files with where the damage starts, records per reason
    from xcurate.cli import main
    assert main(["stats", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split("quarantine:", 1)[1]
    assert printed.startswith(" 2 records in rejected/stage=read, 2 damaged files") and "corrupt_file: 2" in printed
    assert f"{d / 'b.jsonl.gz'} (byte " in printed and f"{d / 'c.parquet'} (row 0): ArrowInvalid" in printed
