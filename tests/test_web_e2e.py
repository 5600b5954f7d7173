"""configs/common_crawl.yaml end to end on samples/demo.warc.gz: every WARC record accounted for."""
import os
import zlib

import polars as pl
import pyarrow.parquet as pq
import pytest

from conftest import REPO
from xcurate.engine.config import load_config

WEB_STAGES = {"html_extract", "url_filter", "pii"}


def last_member_offset(path) -> int:
    """Where the cut gzip member starts (the reader must report exactly this offset)."""
    data, pos = path.read_bytes(), 0
    while True:
        inflater = zlib.decompressobj(31)
        inflater.decompress(data[pos:])
        if not inflater.eof:
            return pos
        pos = len(data) - len(inflater.unused_data)


@pytest.fixture(scope="module")
def cc_run(tmp_path_factory, ray_local):
    from xcurate.engine.runner import run_pipeline
    out = tmp_path_factory.mktemp("common_crawl") / "out"
    cwd = os.getcwd()
    os.chdir(REPO)  # the config names samples/ relative to the checkout, as the README runs it
    try:
        return out, run_pipeline("configs/common_crawl.yaml", str(out), quiet=True)
    finally:
        os.chdir(cwd)


def test_config_uses_the_web_stages_in_order():
    types = [s.cfg.type for s in load_config(str(REPO / "configs" / "common_crawl.yaml")).stages]
    assert types[:5] == ["html_extract", "url_filter", "langid", "quality", "pii"]
    assert WEB_STAGES <= set(types) and {"exact_dedup", "minhash_dedup", "decontaminate"} <= set(types)


def test_every_record_accounted_for(cc_run):
    out, m = cc_run
    assert m["input_documents"] == 119  # samples/make_warc.py: 118 WARC records + the cut member
    read = m["stages"][0]["dropped"]
    assert read == {"warc_request": 58, "warc_warcinfo": 1, "not_html": 1, "bad_http_header": 1, "corrupt_file": 1}
    assert [q["byte_offset"] for q in m["quarantine"]] == [last_member_offset(REPO / "samples" / "demo.warc.gz")]
    rejected = sum(pq.read_metadata(out / s["path"]).num_rows for s in m["rejected_shards"])
    assert rejected + m["output_documents"] == m["input_documents"]
    stages = {s["name"]: s for s in m["stages"]}
    assert stages["html_extract"]["dropped"] == {"empty_extraction": 1}
    assert stages["url_filter"]["dropped"] == {"adult_text": 1, "blocked_domain": 1, "blocked_url_substring": 1}
    assert stages["url_filter"]["counts"]["blocked_domain"] == {"pornhub.com": 1}
    assert stages["exact_dedup"]["dropped"].get("exact_duplicate", 0) >= 4
    assert len(m["languages"]) >= 12


def test_pii_redacted_and_counted(cc_run):
    out, m = cc_run
    pii = next(s for s in m["stages"] if s["name"] == "pii")["counts"]
    assert pii["kinds"]["EMAIL"] == 2 and pii["kinds"]["IBAN"] == 1 and pii["kinds"]["CREDIT_CARD"] == 1
    assert {"eng_Latn", "deu_Latn", "fra_Latn"} <= set(pii["languages"])
    data = pl.read_parquet(out / "data" / "**" / "*.parquet")
    text = "\n".join(data["text"].to_list())
    assert "<EMAIL>" in text and "<IBAN>" in text and "maria.keller@" not in text and "4111 1111" not in text
    assert data["html"].null_count() == data.height  # pages are not copied into data/
    ru = data.filter(pl.col("url") == "https://novosti.example.ru/cp1251.html")
    assert ru["encoding"].to_list() == ["cp1251"] and "Футбольный" in ru["text"][0]
