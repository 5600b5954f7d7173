"""WARC/WET input: detection, byte-range planning on gzip members, quarantine of bad records."""
import io
import subprocess
import sys
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from warcio.warcwriter import WARCWriter

from conftest import REPO
from xcurate.engine.config import InputConfig
from xcurate.engine.io import ReadOptions, plan_read_specs, read_spec

DEMO = REPO / "samples" / "demo.warc.gz"


def read_all(path, **opts) -> pa.Table:
    options = ReadOptions(**opts)
    specs = plan_read_specs(InputConfig(paths=[str(path)]), options)
    return pa.concat_tables([unit for spec in specs for unit in read_spec(spec, options)], promote_options="permissive")


def reasons(table: pa.Table) -> Counter:
    return Counter(table["_xc_drop_reason"].to_pylist())


@pytest.fixture(scope="module")
def big_warc(tmp_path_factory):
    out = tmp_path_factory.mktemp("warc") / "big.warc.gz"
    subprocess.run([sys.executable, str(REPO / "samples" / "make_warc.py"), "--out", str(out), "--pages-per-lang", "8"],
                   check=True, capture_output=True)
    return out


def test_demo_warc_every_record_accounted_for():
    t = read_all(DEMO)
    # 1 warcinfo + 58 (request, response) pairs + the broken response + the cut member
    assert t.num_rows == 119
    assert reasons(t) == {None: 57, "warc_request": 58, "warc_warcinfo": 1, "not_html": 1,
                          "bad_http_header": 1, "corrupt_file": 1}
    kept = t.filter(pc.is_null(t["_xc_drop_reason"]))
    assert all(h.startswith(b"<") for h in kept["html"].to_pylist())
    assert all(u.startswith("https://") and r.startswith("<urn:uuid:") for u, r in zip(kept["url"].to_pylist(),
                                                                                     kept["warc_record_id"].to_pylist()))
    assert set(kept["content_type"].to_pylist()) == {"text/html"} and set(kept["date"].to_pylist()) == {"2024-05-01T00:00:00Z"}
    bad = t.filter(pc.equal(t["_xc_drop_reason"], "bad_http_header"))
    assert bad["url"].to_pylist() == ["https://broken.example.com/"] and bad["html"].to_pylist() == [None]


def test_byte_ranges_read_each_member_once(big_warc):
    whole = read_all(big_warc, unit_bytes=1 << 30)
    ranges = plan_read_specs(InputConfig(paths=[str(big_warc)]), ReadOptions(unit_bytes=20_000))
    assert len(ranges) > 5 and ranges[0].start == 0 and ranges[-1].end == -1
    split = read_all(big_warc, unit_bytes=20_000)
    assert sorted(split["id"].to_pylist()) == sorted(whole["id"].to_pylist())  # none lost, none twice
    assert reasons(split) == reasons(whole)


def test_damage_mid_file_keeps_records_before_it(big_warc, tmp_path):
    data = big_warc.read_bytes()
    cut = data.index(b"\x1f\x8b\x08", len(data) // 2)
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[:cut] + b"\x1f\x8b\x08garbage-not-deflate" + data[cut:])
    t = read_all(damaged)
    corrupt = t.filter(pc.equal(t["_xc_drop_reason"], "corrupt_file"))
    assert corrupt.num_rows == 1 and f'"byte_offset":{cut}' in corrupt["metadata"][0].as_py()
    assert 0 < t.num_rows - 1 < read_all(big_warc).num_rows  # everything before the damage, as rows


def test_wet_records_carry_text(tmp_path):
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for i, text in enumerate(["Erste Zeile.\nZweite Zeile.", "Une page en français."]):
        writer.write_record(writer.create_warc_record(f"https://example.org/{i}", "conversion",
                                                      payload=io.BytesIO(text.encode()), warc_content_type="text/plain"))
    wet = tmp_path / "sample.warc.wet.gz"
    wet.write_bytes(buf.getvalue())
    t = read_all(wet)
    assert t["text"].to_pylist() == ["Erste Zeile.\nZweite Zeile.", "Une page en français."]
    assert t["html"].to_pylist() == [None, None] and reasons(t) == {None: 2}


def test_plain_warc_is_read_whole(tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    for i in range(3):
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"https://example.org/{i}", "response", http_headers=http,
                                                      payload=io.BytesIO(f"<html><p>page {i}</p></html>".encode())))
    plain = tmp_path / "plain.warc"
    plain.write_bytes(buf.getvalue())
    t = read_all(plain)
    assert reasons(t) == {None: 3} and t["url"].to_pylist() == [f"https://example.org/{i}" for i in range(3)]
