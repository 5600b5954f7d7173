"""Global stages on a 3-node Ray cluster simulated on this machine (``ray.cluster_utils.Cluster``).

The head and two worker nodes each have one CPU and a resource of their own; ``xcurate run
--address`` runs exact + MinHash dedup there, then ``xcurate mix --address`` samples a mixture of
that output. Every dedup phase logs its tasks per node (``_phases/log.json``, kept with
``--keep-intermediates``), the mixture's phases log theirs in ``plan.json``: the work must reach all
three nodes, and each output must equal a one-node run's. (A node dying mid-run:
tests/test_safety_cluster.py.)
"""
import glob
import json
import os
import subprocess
import sys

import pyarrow.fs as pafs
import pytest
import yaml

from tests.conftest import REPO
from tests.dedup_helpers import output_rows, planted_jsonl


def _run(cfg_path, out, *extra, command="run"):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "xcurate", command, str(cfg_path), "-o", str(out), *extra],
                          env=env, cwd=str(REPO), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _tasks_by_node(out):
    """{stage: {node id: tasks}} summed over the phases of each global stage."""
    counts = {}
    for log in glob.glob(f"{out}/_xc_work/*/*/_phases/log.json"):
        stage = log.split("/")[-3].split("-")[0]
        for phase in json.load(open(log)).values():
            for node, n in phase.get("tasks_by_node", {}).items():
                counts.setdefault(stage, {}).setdefault(node, 0)
                counts[stage][node] += n
    return counts


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster
    c = Cluster(initialize_head=True,
                head_node_args={"num_cpus": 1, "resources": {"head": 1}, "include_dashboard": False})
    workers = [c.add_node(num_cpus=1, resources={f"worker{i}": 1}) for i in range(2)]
    c.wait_for_nodes()
    yield c, [c.head_node, *workers]
    c.shutdown()


def test_global_stages_and_mix_spread_over_three_nodes_and_match_one_node(tmp_path, cluster):
    c, nodes = cluster
    src = tmp_path / "in.jsonl"
    src.write_text(planted_jsonl(seed=3, originals=240, words=80, exact_every=4, near_every=6))
    cfg = {"input": {"paths": [str(src)], "text_field": "text", "id_field": "id"},
           "output": {"unit_rows": 30}, "ray": {"progress_bars": False},
           "stages": [{"type": "exact_dedup"},
                      {"type": "minhash_dedup", "params": {"ngram_size": 5, "bands": 14, "rows": 8}}]}
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))

    _run(cfg_path, tmp_path / "three", "--address", c.address, "--keep-intermediates")
    one_node = tmp_path / "one.yaml"
    one_node.write_text(yaml.safe_dump({**cfg, "ray": {"progress_bars": False, "num_cpus": 1}}))
    _run(one_node, tmp_path / "one")

    local = pafs.LocalFileSystem()
    rows = output_rows(local, str(tmp_path / "three"))
    assert {r for _, _, r in rows} == {None, "exact_duplicate", "near_duplicate"}
    assert rows == output_rows(local, str(tmp_path / "one"))
    node_ids = {n.node_id for n in nodes}
    by_stage = _tasks_by_node(tmp_path / "three")
    assert set(by_stage) == {"exact_dedup", "minhash_dedup"}
    for stage, counts in by_stage.items():
        assert set(counts) == node_ids, (stage, counts)

    # mix sampling of the deduplicated output: every phase's tasks reach all three nodes
    mix = {"seed": 5, "sources": [{"name": "web", "path": str(tmp_path / "three"), "language": "eng_Latn",
                                   "language_field": "no_such_column"}],  # one language: the constant
           "policy": {"type": "explicit", "budgets": {"eng_Latn": 6000}}, "max_epochs": 2,
           "output": {"unit_rows": 20}, "ray": {"progress_bars": False}}
    mix_path = tmp_path / "mix.yaml"
    mix_path.write_text(yaml.safe_dump(mix))
    _run(mix_path, tmp_path / "mix3", "--address", c.address, command="mix")
    one_node_mix = tmp_path / "mix1.yaml"
    one_node_mix.write_text(yaml.safe_dump({**mix, "ray": {"progress_bars": False, "num_cpus": 1}}))
    _run(one_node_mix, tmp_path / "mix1", command="mix")
    plan = json.load(open(tmp_path / "mix3" / "plan.json"))
    assert {"stats", "sample"} <= set(plan["tasks_by_node"])
    for phase in ("stats", "sample"):
        assert set(plan["tasks_by_node"][phase]) == node_ids, (phase, plan["tasks_by_node"][phase])
    sampled = _mix_rows(tmp_path / "mix3")
    assert sampled and sampled == _mix_rows(tmp_path / "mix1")


def _mix_rows(out):
    """(id, mix_copies) of every sampled document."""
    import pyarrow.parquet as pq
    rows = set()
    for path in glob.glob(f"{out}/data/**/*.parquet", recursive=True):
        t = pq.read_table(path, columns=["id", "mix_copies"])
        rows |= set(zip(t["id"].to_pylist(), t["mix_copies"].to_pylist()))
    return rows
