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


def test_remove_span_offsets_point_into_the_written_text():
    from xcurate.stages.decontaminate import NgramDecontaminate
    item = json.loads(data_path("benchmarks", "demo_benchmark.jsonl").read_text().splitlines()[0])["context"]
    before, after = "Plain words about farming in the valley. " * 8, " Weather notes from the hills. " * 8
    table = pa.table({"text": [before + item + after]})
    stage = NgramDecontaminate(NgramDecontaminate.Params(benchmarks="configs/benchmarks/demo_en.yaml",
                                                         policy="remove_span", span_margin=0, min_remaining_chars=50))
    stage.setup()
    out = stage.process(table).table
    written, match = out["text"][0].as_py(), out["contamination"][0].as_py()[0]
    assert item[:40] not in written and written.endswith(after.strip())
    # the match was cut: its span in the written text is the blank line that replaced it
    assert written[:match["start"]] == before.strip() and written[match["start"]:match["end"]] == "\n\n"


def test_edited_position_maps_offsets_across_cuts():
    from xcurate.contamination.ngram_index import edited_position, remove_spans
    text = "aaa XX bbb YY ccc"
    spans = [(0, 3), (4, 6), (7, 10), (11, 13), (14, 17)]  # one span per token
    written, why_not, pieces = remove_spans(text, [(1, 1), (3, 1)], spans, margin=0, max_pieces=5,
                                            min_remaining_chars=1)
    assert (written, why_not) == ("aaa\n\nbbb\n\nccc", None)
    # a match over "XX bbb YY" keeps the text between its two cuts
    assert written[edited_position(pieces, 4):edited_position(pieces, 13, end=True)] == "\n\nbbb\n\n"
    assert [edited_position(pieces, p) for p in (0, 2, 5, 8, 12, 16, 17)] == [0, 2, 3, 6, 8, 12, 13]
    assert [edited_position(pieces, p, end=True) for p in (3, 5, 12, 17)] == [3, 5, 10, 13]
