"""The quickstart config runs offline on the demo corpus and exercises every corpus stage that exists."""
import json

import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

from conftest import REPO
from xcurate.engine.config import load_config
from xcurate.engine.registry import available_stages

# Stages that work on generated instruction data, not on a web-text corpus (exercised by `xcurate synth` tests).
NOT_FOR_CORPUS = {"synth_unpack", "mt_translate", "synth_qc", "mix_tokens", "mix_sample"}  # synth and mix workflows
# Needs a tokenizer the quickstart cannot assume offline; `output.tokenizer` adds it (tests/test_outputs_interop.py).
NEEDS_A_TOKENIZER = {"count_tokens"}
# Need WARC input (url, html): exercised by configs/common_crawl.yaml (tests/test_web_e2e.py).
WEB_STAGES = {"html_extract", "url_filter", "pii"}
# Need a trained model or cost an encoder pass: exercised by configs/model_signals.yaml (tests/test_model_signals.py).
MODEL_SIGNAL_STAGES = {"classifier", "semantic_dedup"}


@pytest.fixture(scope="module")
def quickstart(quickstart_run):
    return quickstart_run  # one run per test session (tests/conftest.py)


def test_quickstart_uses_every_corpus_stage():
    cfg = load_config(str(REPO / "configs" / "quickstart.yaml"))
    used = {s.cfg.type for s in cfg.stages}
    shipped = {name for name, cls in available_stages().items() if cls.__module__.startswith("xcurate.stages.")}
    missing = shipped - NOT_FOR_CORPUS - NEEDS_A_TOKENIZER - WEB_STAGES - MODEL_SIGNAL_STAGES - used
    assert not missing, f"stages not exercised by configs/quickstart.yaml: {sorted(missing)}"


def test_quickstart_accounts_and_quarantines(quickstart):
    out, m = quickstart
    lines = (REPO / "samples" / "demo.jsonl").read_bytes().count(b"\n")
    assert m["input_documents"] == lines
    assert m["stages"][0]["dropped"].get("malformed_json") == 1
    assert m["output_documents"] == m["stages"][-1]["kept"] > 0
    rejected_rows = sum(pq.read_metadata(out / s["path"]).num_rows for s in m["rejected_shards"])
    assert rejected_rows == m["input_documents"] - m["output_documents"]
    reasons = {r for s in m["stages"] for r in s["dropped"]}
    assert "malformed_json" in reasons
    kept = pq.read_table(out / "data", partitioning=None)  # the files carry `language` (string)
    assert "demo-0195" in kept["id"].to_pylist()  # the invalid UTF-8 line is repaired, not lost
    assert json.loads((out / "manifest.json").read_text())["input_documents"] == lines


def test_quickstart_catches_the_planted_cases(quickstart):
    out, m = quickstart
    dropped = {s["name"]: s["dropped"] for s in m["stages"]}
    assert dropped["exact_dedup"].get("exact_duplicate", 0) >= 10
    assert dropped["minhash_dedup"].get("near_duplicate", 0) >= 5
    # the German translation of a benchmark item, found through the suite's human translation
    assert sum(dropped["decontaminate_translated"].values()) == 1
    assert sum(dropped["decontaminate_xling"].values()) == 0
    assert len(m["languages"]) >= 12  # every clean language survives, no-space scripts included
    for lang in ("tha_Thai", "jpn_Jpan", "cmn_Hani"):
        assert m["languages"][lang]["documents"] >= 15, lang
    import polars as pl
    leak = pl.read_parquet(out / "data" / "**" / "*.parquet").filter(pl.col("metadata").str.contains("benchmark_leak_verbatim"))
    assert leak.height == 1 and leak["contamination"][0][0]["item_id"] == "q1"  # found, span removed, doc kept
    assert "bees returning" not in leak["text"][0].lower() and "lighthouse on the northern cliff" not in leak["text"][0].lower()


def test_language_partitions_load_everywhere_with_one_language_column(quickstart):
    import datasets
    import polars as pl
    import ray
    out, m = quickstart
    n = m["output_documents"]
    per_lang = {k: v["documents"] for k, v in m["languages"].items()}
    # hive discovery (string key) and the in-file string column must agree
    table = pds.dataset(out / "data", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == n
    assert dict(zip(*pl.from_arrow(table.select(["language"])).to_series().cast(pl.Utf8).value_counts()
                    .to_dict(as_series=False).values())) == per_lang
    hf = datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train")
    assert len(hf) == n and set(hf.unique("language")) == set(per_lang)
    lf = pl.scan_parquet(str(out / "data" / "**" / "*.parquet"), hive_partitioning=True)
    assert lf.select(pl.len()).collect().item() == n
    assert ray.data.read_parquet(str(out / "data")).count() == n
