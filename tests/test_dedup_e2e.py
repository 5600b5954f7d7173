"""exact_dedup + minhash_dedup through xcurate.engine.runner.run_pipeline (real local Ray)."""
import json
import random

import pyarrow.dataset as pads

from tests.dedup_helpers import edit_words, random_doc


def test_pipeline_with_dedup_stages(ray_local, tmp_path):
    from xcurate.engine.runner import run_pipeline

    rng = random.Random(4)
    records = []
    for i in range(60):
        text = random_doc(rng, 120)
        records.append({"id": f"o{i:03d}", "text": text})
        if i % 4 == 0:
            records.append({"id": f"x{i:03d}", "text": text})  # exact copy
        if i % 6 == 0:
            records.append({"id": f"p{i:03d}", "text": edit_words(rng, text, 1 / 120)})  # near copy
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = {
        "input": {"paths": [str(src)], "text_field": "text", "id_field": "id"},
        "output": {"unit_rows": 25},
        "stages": [
            {"type": "exact_dedup"},
            {"type": "minhash_dedup", "params": {"ngram_size": 5, "bands": 14, "rows": 8}},
        ],
    }
    manifest = run_pipeline(config, str(tmp_path / "out"), quiet=True)
    by_name = {s["name"]: s for s in manifest["stages"]}
    assert by_name["exact_dedup"]["dropped"] == {"exact_duplicate": 15}
    assert by_name["minhash_dedup"]["dropped"] == {"near_duplicate": 10}
    kept = pads.dataset(str(tmp_path / "out" / "data"), format="parquet").to_table()
    assert kept.num_rows == 60
    assert {"dup_cluster_id", "dup_cluster_size", "exact_group_size"} <= set(kept.column_names)
    sizes = dict(zip(kept["id"].to_pylist(), kept["dup_cluster_size"].to_pylist()))
    assert sizes["o000"] == 2 and sizes["o001"] == 1  # o000's exact copy was dropped before minhash
    rejected = pads.dataset(str(tmp_path / "out" / "rejected"), format="parquet", partitioning="hive").to_table()
    near = [r for r in rejected.to_pylist() if r["reason"] == "near_duplicate"]
    assert {r["id"] for r in near} == {f"p{i:03d}" for i in range(0, 60, 6)}
    assert all(r["duplicate_of"] == "o" + r["id"][1:] for r in near)
