"""The quickstart config runs offline on the demo corpus and exercises every corpus stage that exists."""
import json

import pyarrow.parquet as pq
import pytest

from conftest import REPO
from pipeline.config import load_config
from pipeline.runner import run_pipeline
from stages import available_stages

# Stages that work on generated instruction data, not on a web-text corpus (exercised by `xcurate synth` tests).
NOT_FOR_CORPUS = {"mt_translate", "synth_qc"}


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory, ray_local, monkeypatch_module):
    monkeypatch_module.chdir(REPO)
    out = tmp_path_factory.mktemp("qs") / "out"
    return out, run_pipeline("configs/quickstart.yaml", str(out), quiet=True)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_quickstart_uses_every_corpus_stage():
    cfg = load_config(str(REPO / "configs" / "quickstart.yaml"))
    used = {s.cfg.type for s in cfg.stages}
    missing = set(available_stages()) - NOT_FOR_CORPUS - used
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
    kept = pq.read_table(out / "data")
    assert "demo-0195" in kept["id"].to_pylist()  # the invalid UTF-8 line is repaired, not lost
    assert json.loads((out / "manifest.json").read_text())["input_documents"] == lines
