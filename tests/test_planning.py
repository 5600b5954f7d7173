"""Resource and unit planning: enough units for the CPUs, and plans that fit the cluster (1 CPU included).

The quickstart on one CPU runs in tests/test_console_run.py; the resume message in tests/test_core_resume.py.
"""
import json
import logging

import pyarrow as pa
import pytest

from conftest import REPO
from xcurate import schema
from xcurate.engine.cluster import (MIN_UNIT_MB, UNITS_PER_CPU, actor_pools, fit_actor_cpus, plan_unit_bytes,
                                    task_cpus)
from xcurate.engine.config import load_config
from xcurate.engine.runner import _without_units, run_pipeline

MB = 1 << 20


def test_small_input_is_cut_into_units_for_every_cpu():
    unit = plan_unit_bytes(int(19.5 * MB), cpus=2, unit_mb=32)
    assert -(-int(19.5 * MB) // unit) >= UNITS_PER_CPU * 2  # 19.5 MB on 2 CPUs was one unit
    assert unit >= MIN_UNIT_MB * MB


def test_unit_size_stays_between_the_minimum_and_unit_mb():
    assert plan_unit_bytes(100 * MB, cpus=64, unit_mb=32) == MIN_UNIT_MB * MB      # never tiny units
    assert plan_unit_bytes(10_000 * MB, cpus=2, unit_mb=32) == 32 * MB             # big input: unit_mb
    assert plan_unit_bytes(100 * MB, cpus=2, unit_mb=0.5) == int(0.5 * MB)         # a smaller unit_mb wins


@pytest.mark.parametrize("cpus", [1, 2, 3, 8])
@pytest.mark.parametrize("sizes", [[1], [1, 1], [4, 2, 1]])
def test_actor_pools_and_a_task_never_ask_for_more_cpus_than_the_cluster_has(cpus, sizes):
    pools = [{"num_cpus": 1.0, "size": min(s, cpus)} for s in sizes]
    fit_actor_cpus(pools, cpus)
    held = sum(p["num_cpus"] * p["size"] for p in pools)
    assert held + task_cpus(cpus, True) <= cpus + 1e-9
    assert all(p["num_cpus"] > 0 for p in pools)


def test_quickstart_pools_fit_one_cpu():
    cfg = load_config(str(REPO / "configs" / "quickstart.yaml"))
    streaming = [s for s in cfg.stages if not s.is_global]
    pools = actor_pools(streaming, cpus=1)
    assert pools, "the quickstart has model stages (actor pools)"
    held = sum(p["num_cpus"] * p["size"] for p in pools.values())
    assert held + task_cpus(1, True) <= 1.0 + 1e-9


def test_done_units_are_filtered_before_any_stage():
    table = pa.table({"text": ["a", "b", "c"], schema.UNIT: ["u1-0000", "u2-0000", "u1-0000"]})
    assert _without_units(table, ["u1-0000"])[schema.UNIT].to_pylist() == ["u2-0000"]


def test_units_follow_the_cpus_and_a_run_records_them(tmp_path, ray_local, caplog):
    src = tmp_path / "in.jsonl"
    line = json.dumps({"text": "word " * 2000}) + "\n"  # 10 kB per document
    src.write_text(line * 650)  # ~6.5 MB: one unit at unit_mb 32, ≥ 3 units planned on 2 CPUs
    cfg = {"input": {"paths": [str(src)]}, "output": {"unit_mb": 32}, "stages": [{"type": "normalize"}]}
    with caplog.at_level(logging.INFO, logger="xcurate"):
        m = run_pipeline(cfg, str(tmp_path / "out"), quiet=True, keep_intermediates=True)
    assert m["units"] >= 3
    assert f"{m['units']} units (6.2 MB of input, units ≤ " in caplog.text
    assert m["output_documents"] == 650
    recorded = json.loads((tmp_path / "out" / "_xc_work" / "units.json").read_text())
    assert recorded["unit_bytes"] == plan_unit_bytes(src.stat().st_size, recorded["cpus"], 32)

