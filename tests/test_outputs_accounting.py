"""Honest accounting of edits: kept rows whose text a stage changed are counted as `modified`."""
import json

import pyarrow as pa
import pytest

from outputs_helpers import LANGS, shared_small_run
from xcurate import schema
from xcurate.engine.operators import _apply_stage
from xcurate.resources import data_path


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return shared_small_run(tmp_path_factory)


def test_manifest_counts_modified_rows_per_stage(run):
    tmp, _, manifest = run
    texts = [json.loads(line)["text"] for line in (tmp / "in.jsonl").read_text().splitlines()]
    stages = {s["name"]: s for s in manifest["stages"]}
    # normalize trims the trailing space of every generated text; nothing else changes any text
    assert stages["normalize"]["modified"] == sum(t != t.strip() for t in texts) == sum(LANGS.values()) + len(LANGS)
    assert stages["length_filter"]["modified"] == stages["exact_dedup"]["modified"] == stages["read"]["modified"] == 0


def test_remove_span_counts_as_modified_not_dropped():
    from xcurate.stages.decontaminate import NgramDecontaminate
    item = json.loads(data_path("benchmarks", "demo_benchmark.jsonl").read_text().splitlines()[0])["context"]
    filler = "Plain words about farming and weather in the valley. " * 12
    texts = [filler + item + " " + filler, filler + "nothing from any benchmark here " + filler]
    table = pa.table({"text": texts, schema.DROP_STAGE: pa.array([None, None], pa.string()),
                      schema.DROP_REASON: pa.array([None, None], pa.string())})
    stage = NgramDecontaminate(NgramDecontaminate.Params(benchmarks="configs/benchmarks/demo_en.yaml",
                                                         policy="remove_span", span_margin=0, min_remaining_chars=50))
    stage.setup()
    out = _apply_stage(table, stage, "decontaminate")
    assert out[schema.DROP_STAGE].to_pylist() == [None, None]
    assert item not in out["text"][0].as_py() and out["text"][1].as_py() == texts[1]
    assert out[schema.stage_modified_column("decontaminate")].to_pylist() == [True, False]
