"""The output as a contract: every engine a data team points at OUTDIR/data reads the same rows
and languages; the columns a trainer needs are there and the always-null ones are not."""
import os
from collections import Counter

import pyarrow.parquet as pq
import pytest

from outputs_helpers import LANGS, shared_small_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return shared_small_run(tmp_path_factory)


def _languages_by_reader(data: str):
    import datasets
    import duckdb
    import polars as pl
    import pyarrow.dataset as pds
    import ray
    hive = pds.dataset(data, format="parquet", partitioning="hive")
    yield "pyarrow.dataset hive", hive.to_table()["language"].to_pylist()
    # pq.read_table's legacy discovery types a hive key as dictionary; the files carry the string column.
    yield "pq.read_table", pq.read_table(data, partitioning=None)["language"].to_pylist()
    yield "duckdb", [r[0] for r in duckdb.sql(
        f"SELECT language FROM read_parquet('{data}/**/*.parquet', hive_partitioning=true)").fetchall()]
    yield "polars", pl.scan_parquet(f"{data}/**/*.parquet", hive_partitioning=True).collect()["language"].to_list()
    yield "datasets", datasets.load_dataset("parquet", data_dir=data, split="train",
                                            cache_dir=os.path.join(os.path.dirname(data), ".hf"))["language"]
    yield "ray", [r["language"] for r in ray.data.read_parquet(data).select_columns(["language"]).iter_rows()]


def test_every_engine_reads_the_same_rows_and_languages(run):
    _, out, manifest = run
    expected = Counter({lang: v["documents"] for lang, v in manifest["languages"].items()})
    assert set(expected) == set(LANGS) and sum(expected.values()) == manifest["output_documents"] > 0
    seen = {name: Counter(values) for name, values in _languages_by_reader(str(out / "data"))}
    assert seen == {name: expected for name in seen} and len(seen) == 6


def test_one_language_loads_alone_with_data_files(run):
    import datasets
    _, out, manifest = run
    one = datasets.load_dataset("parquet", data_files={"train": str(out / "data" / "language=deu_Latn" / "*.parquet")},
                                split="train", cache_dir=str(out.parent / ".hf"))
    assert one.num_rows == manifest["languages"]["deu_Latn"]["documents"]
    assert set(one["language"]) == {"deu_Latn"}


def test_trainer_columns(run):
    tmp, out, _ = run
    table = pq.read_table(out / "data", partitioning=None)
    assert table.schema.field("language").type == "string"
    assert table["n_chars"].to_pylist() == [len(t) for t in table["text"].to_pylist()]
    words = [len(t.split()) for t in table["text"].to_pylist()]  # the word-level test tokenizer
    assert table["n_tokens"].to_pylist() == words and table.schema.field("n_tokens").type == "int32"
    assert set(table["source"].to_pylist()) == {str(tmp / "in.jsonl")}  # absolute, though given relative
    assert len(set(table["id"].to_pylist())) == table.num_rows
    for column in table.column_names:  # nothing always null in kept data
        assert table[column].null_count < table.num_rows, column
    assert "exact_duplicate_of" not in table.column_names
    rejected = pq.read_table(out / "rejected" / "stage=exact_dedup", partitioning=None)
    assert rejected.num_rows == len(LANGS) and rejected["exact_duplicate_of"].null_count == 0


def test_small_partitions_are_merged_across_units(run):
    _, out, manifest = run
    assert manifest["units"] >= 4
    files = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet"))
    # each language fits in one target-size file: one shard per language instead of one per unit
    assert len(files) == len(LANGS) == len(manifest["shards"])
    assert files == sorted(s["path"] for s in manifest["shards"])
    assert all(pq.ParquetFile(out / s["path"]).metadata.num_rows == s["rows"] for s in manifest["shards"])
