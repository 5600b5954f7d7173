"""Fuzzing the readers (JSONL plain and .gz, Parquet) with random bytes, Unicode, nesting and
types: they never crash, both JSON parse paths agree, and every line or row is accounted for
(kept + quarantined == non-blank lines / rows; a truncated file keeps a prefix of them)."""
import gzip
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xcurate import schema
from xcurate.engine.io import (CORRUPT_FILE, ReadOptions, ReadSpec, _slow_parse, _UnitBuilder, iter_file_records,
                               read_jsonl, read_parquet)

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
READ_REASONS = {None, "malformed_json", "malformed_record", "missing_text_field", "invalid_text", "doc_too_large"}

json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) |
                           st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
records = st.dictionaries(st.sampled_from(["text", "id", "lang", "meta", "x"]), json_values, max_size=5)
good_records = st.fixed_dictionaries({"text": st.text(max_size=40)}, optional={"id": st.integers() | st.text(max_size=8),
                                                                              "lang": st.text(max_size=4)})


def dumps(value) -> bytes:
    """JSON as a writer might produce it (big integers, lone surrogates escaped or raw)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


lines = st.one_of(
    good_records.map(dumps),
    records.map(dumps),
    json_values.map(dumps),
    json_values.map(json.dumps).map(str.encode),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=30).map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b"  ", b"\xef\xbb\xbf", b"\r", b"{", b"null", b'{"text": "a"}{"text": "b"}']),
    good_records.map(lambda r: b"\xef\xbb\xbf" + dumps(r)),
)


def _rows(tables):
    return [{k: r[k] for k in ("id", "text", "metadata", "utf8_repaired", schema.DROP_REASON)}
            for t in tables for r in t.to_pylist()]


def _non_blank(chunk: bytes) -> int:
    parts = chunk.splitlines() if b"\r" in chunk else chunk.split(b"\n")
    return sum(1 for p in parts if (p[3:] if p.startswith(b"\xef\xbb\xbf") else p).strip())


@FUZZ
@given(st.lists(lines, max_size=25), st.booleans())
def test_jsonl_both_paths_agree_and_every_line_is_accounted_for(body, keep_metadata):
    chunk = b"\n".join(body) + b"\n"
    opts = ReadOptions(keep_metadata=keep_metadata, unit_rows=7)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.jsonl"
        path.write_bytes(chunk)
        spec = ReadSpec("s", "jsonl", str(path))
        got = _rows(read_jsonl(spec, opts))
        b = _UnitBuilder(spec, opts, str(path))
        assert got == _rows(list(_slow_parse(chunk, 1, opts, b)) + list(b.finish()))
        assert len(got) == _non_blank(chunk) == len(list(iter_file_records(str(path))))
        assert {r[schema.DROP_REASON] for r in got} <= READ_REASONS


@FUZZ
@given(st.lists(lines, min_size=1, max_size=25), st.floats(0, 1))
def test_truncated_gz_keeps_a_prefix_and_quarantines_the_file(body, cut):
    chunk = b"\n".join(body) + b"\n"
    whole = gzip.compress(chunk)
    data = whole[: int(len(whole) * cut)]
    opts = ReadOptions()
    with tempfile.TemporaryDirectory() as d:
        plain, gz = Path(d) / "f.jsonl", Path(d) / "f.jsonl.gz"
        plain.write_bytes(chunk)
        gz.write_bytes(data)
        expected = _rows(read_jsonl(ReadSpec("p", "jsonl", str(plain)), opts))
        got = _rows(read_jsonl(ReadSpec("g", "jsonl", str(gz)), opts))
    if len(data) == len(whole):
        assert got == expected
        return
    if not data:
        assert got == []  # an empty file is an empty input, as for gzip itself
        return
    assert got[-1][schema.DROP_REASON] == CORRUPT_FILE
    kept = got[:-1]
    assert [r["text"] for r in kept] == [r["text"] for r in expected[:len(kept)]]


parquet_texts = st.lists(st.none() | st.text(max_size=30), min_size=0, max_size=40)


@FUZZ
@given(parquet_texts, st.lists(st.none() | st.integers(-2**63, 2**63 - 1), min_size=40, max_size=40),
       st.floats(0, 1.01))
def test_parquet_rows_are_accounted_for_even_when_truncated(texts, ids, cut):
    table = pa.table({"text": pa.array(texts, pa.string()), "id": pa.array(ids[:len(texts)], pa.int64()),
                      "nested": pa.array([[{"a": i}] for i in range(len(texts))])})
    opts = ReadOptions(unit_rows=9)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.parquet"
        pq.write_table(table, path, row_group_size=8)
        whole = path.read_bytes()
        path.write_bytes(whole[: int(len(whole) * min(cut, 1.0))])
        got = _rows(read_parquet(ReadSpec("q", "parquet", str(path)), opts))
    reasons = [r[schema.DROP_REASON] for r in got]
    if cut >= 1.0:
        assert len(got) == len(texts)
        assert reasons == ["invalid_text" if t is None else None for t in texts]
    else:
        assert reasons == [CORRUPT_FILE]  # no footer: nothing of the file is readable
