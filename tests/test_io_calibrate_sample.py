"""calibrate-lid reads through the engine on Ray: the demo sample (which holds malformed lines)
works, and the sample is uniform over live documents and the same on every call."""
import gzip
import json
from pathlib import Path

import yaml

from xcurate.cli import main
from xcurate.workflows.calibrate import sample_texts

REPO = Path(__file__).resolve().parents[1]


def test_sample_is_deterministic_and_skips_quarantined_records(tmp_path, ray_local):
    d = tmp_path / "in"
    d.mkdir()
    texts = [f"document {i}" for i in range(300)]
    (d / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:150]) + "{broken\n")
    whole = gzip.compress("".join(json.dumps({"text": t}) + "\n" for t in texts[150:]).encode())
    (d / "b.jsonl.gz").write_bytes(whole)
    first = sample_texts([str(d)], "text", 100, seed=7)
    assert len(first) == len(set(first)) == 100 and set(first) <= set(texts)
    assert sample_texts([str(d)], "text", 100, seed=7) == first
    assert sample_texts([str(d)], "text", 100, seed=8) != first
    assert sorted(sample_texts([str(d)], "text", 1000, seed=7)) == sorted(texts)


def test_calibrate_lid_on_the_demo_sample(tmp_path, ray_local, capsys):
    out = tmp_path / "thresholds.yaml"
    assert main(["calibrate-lid", str(REPO / "samples" / "demo.jsonl"), "-o", str(out), "--min-docs", "3"]) == 0
    doc = yaml.safe_load(out.read_text())
    assert len(doc["thresholds"]) >= 5 and all(0.3 <= v <= 0.9 for v in doc["thresholds"].values())
    assert "languages from" in capsys.readouterr().out
