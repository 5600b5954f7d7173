"""A worker node dies mid-run (issue #10): the run finishes and its output is byte-identical to a clean run.

A real multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``: a head and two
worker nodes, one CPU each); the pipeline runs as ``xcurate run --address`` in a subprocess,
and the test removes a worker node, ungracefully, once the first units are written.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO


def write_corpus(path, n):
    with open(path, "w") as f:
        for i in range(n):
            words = " ".join(f"w{(i * 7 + k) % 97}" for k in range(12 + i % 9))
            text = f"document {i % (n // 3)} says {words}"  # every third document repeats: exact_dedup drops them
            f.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")


def shard_hashes(out):
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for tree in ("data", "rejected") for p in sorted((out / tree).rglob("*.parquet"))}


def start_run(cfg_path, out, address):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-m", "xcurate", "run", str(cfg_path), "-o", str(out),
                             "--address", address], env=env, cwd=str(REPO), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    workers = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, workers
    c.shutdown()


def test_removing_a_worker_node_mid_run_gives_identical_output(tmp_path, cluster):
    c, workers = cluster
    src = tmp_path / "in.jsonl"
    write_corpus(src, 1500)
    cfg = {"input": {"paths": [str(src)]}, "output": {"unit_mb": 0.004},
           "ray": {"progress_bars": False},
           "stages": [{"type": "normalize"}, {"type": "exact_dedup"},
                      {"type": "length_filter", "params": {"min_chars": 40}}]}
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))

    faulty = tmp_path / "faulty"
    proc = start_run(cfg_path, faulty, c.address)
    first_units = faulty / "_xc_work" / "seg0"
    deadline = time.time() + 240
    while not (first_units.is_dir() and len(list(first_units.glob("*.parquet"))) >= 3):
        if proc.poll() is not None:
            pytest.fail(f"run ended before the node could be removed: {proc.stderr.read().decode()[-3000:]}")
        assert time.time() < deadline, "no unit written within 240 s"
        time.sleep(0.05)
    assert not (faulty / "manifest.json").exists(), "the run finished before the node was removed"
    c.remove_node(workers[0], allow_graceful=False)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-3000:]
    manifest = json.loads((faulty / "manifest.json").read_text())
    assert manifest["input_documents"] == 1500 and manifest["units"] > 10

    c.add_node(num_cpus=1)  # the same three CPUs as the faulty run had at its start
    c.wait_for_nodes()
    clean = tmp_path / "clean"
    rerun = start_run(cfg_path, clean, c.address)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read().decode()[-3000:]
    assert shard_hashes(faulty) == shard_hashes(clean) and shard_hashes(clean)
