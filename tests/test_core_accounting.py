"""Accounting: every input document is kept or dropped with a reason, per stage (no Ray)."""
import gc

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xcurate.engine.manifest import InvariantError, build_manifest, check_invariants
from xcurate.engine.operators import _apply_stage
from xcurate.engine.writer import unit_progress
from xcurate.engine.stage import Stage, StageOutput, with_columns


class PatternDrop(Stage):
    name = "pattern"

    def __init__(self, pattern):
        super().__init__()
        self.pattern = pattern

    def process(self, table):
        ids = table["id"].to_pylist()
        reasons = [self.pattern.get(i) for i in ids]
        return StageOutput(with_columns(table, {"seen": pa.array([True] * len(ids))}), pa.array(reasons, pa.string()))


def unit_table(n, unit="u1"):
    return pa.table({
        "id": [f"d{i}" for i in range(n)], "text": ["t" * (i + 1) for i in range(n)],
        "_xc_unit": [unit] * n, "_xc_row": list(range(n)), "_xc_unit_rows": [n] * n,
        "_xc_drop_stage": pa.array([None] * n, pa.string()), "_xc_drop_reason": pa.array([None] * n, pa.string()),
    })


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), data=st.data())
def test_random_drop_patterns_add_up(n, data):
    table = unit_table(n)
    names = ["s1", "s2", "s3"]
    patterns = []
    for _ in names:
        pattern = {f"d{i}": data.draw(st.sampled_from(["a", "b"])) for i in range(n) if data.draw(st.booleans())}
        patterns.append(pattern)
        table = _apply_stage(table, PatternDrop(pattern), names[len(patterns) - 1])
    kept = table.filter(pa.compute.is_null(table["_xc_drop_stage"]))
    record = unit_progress("u1", table, kept, names, "language")
    # a document dropped by s1 is never seen by s2: its drop stays attributed to s1
    first_drop = {}
    for name, pattern in zip(names, patterns):
        for doc, reason in pattern.items():
            first_drop.setdefault(doc, (name, reason))
    for name in names:
        expected = {}
        for doc, (stage, reason) in first_drop.items():
            if stage == name:
                expected[reason] = expected.get(reason, 0) + 1
        assert record["dropped"][name] == expected
    assert record["kept"] == n - len(first_drop)
    assert sorted(table["_xc_row"].to_pylist()) == list(range(n))


def test_manifest_invariant_detects_lost_rows(tmp_path):
    import json
    from xcurate import fsutil
    prog = tmp_path / "_xc_progress"
    prog.mkdir()
    table = unit_table(5)
    table = _apply_stage(table, PatternDrop({"d1": "x"}), "s1")
    kept = table.filter(pa.compute.is_null(table["_xc_drop_stage"]))
    rec = unit_progress("u1", table, kept, ["s1"], "language")
    shard = fsutil.atomic_write_parquet(kept.slice(0, 3), str(tmp_path / "data" / "part-u1.parquet"), str(tmp_path))
    rec["shards"] = [shard.to_dict()]
    (prog / "u1.json").write_text(json.dumps(rec))
    manifest = build_manifest(str(tmp_path), None, ["s1"], 0, 1)
    assert manifest["stages"][1] == {"name": "s1", "input": 5, "kept": 4, "dropped": {"x": 1},
                                     "modified": 0, "seconds": manifest["stages"][1]["seconds"]}
    try:
        check_invariants(str(tmp_path), manifest)
    except InvariantError as e:
        assert "data/ holds 3 rows but the last stage kept 4" in str(e)
    else:
        raise AssertionError("lost rows not detected")


class CollectorProbe(Stage):
    """Notes whether the cyclic collector ran during its batch; fails on demand."""
    name = "probe"

    def __init__(self, fail=False):
        super().__init__()
        self.fail, self.collector_on = fail, []

    def process(self, table):
        self.collector_on.append(gc.isenabled())
        if self.fail:
            raise ValueError("bad batch")
        return StageOutput(table, None)


def test_batches_run_with_the_cyclic_collector_paused_and_it_comes_back():
    assert gc.isenabled()
    probe = CollectorProbe()
    _apply_stage(unit_table(3), probe, "probe")
    probe(unit_table(2))  # Stage.__call__ (tests, notebooks, benchmarks) the same
    assert probe.collector_on == [False, False] and gc.isenabled()
    with pytest.raises(ValueError):
        _apply_stage(unit_table(3), CollectorProbe(fail=True), "probe")
    assert gc.isenabled()  # back on after a failing batch
    gc.disable()
    try:
        probe(unit_table(1))
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
