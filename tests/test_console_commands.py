"""`calibrate-lid`, `export` and `synth` keep Ray's output off the console, as `run` does
(tests/test_console_run.py): each runs as a person runs it, in its own process with its own Ray."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from outputs_helpers import build_tokenizer

# What Ray prints when nothing redirects it: start-up, token auth, C++ core worker, Ray Data, workers.
RAY_NOISE = ("core_worker.cc", "Token authentication", "Started a local Ray", "logging_progress", "raylet",
             "(pid=", "Running Dataset", "INFO worker.py", "WARNING")

SENTENCES = [("The weather is nice today.", "Das Wetter ist heute schön."),
             ("I have three cats and a dog.", "Ich habe drei Katzen und einen Hund."),
             ("We are going to Berlin tomorrow.", "Wir fahren morgen nach Berlin."),
             ("Where is the train station?", "Wo ist der Bahnhof?")]


def _xcurate(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "xcurate", *map(str, args)], env=env, cwd=str(cwd), text=True,
                          capture_output=True, timeout=600)


def _assert_quiet(proc, log):
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    for noise in RAY_NOISE:
        assert noise not in console, f"{noise!r} on the console:\n{console}"
    assert "Started a local Ray instance" in open(log, encoding="utf-8").read()
    assert str(log) in console  # the console says where Ray's output went
    return console


def test_calibrate_lid_console(tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": f"{SENTENCES[i % 2][0]} Number {i}."}) + "\n" for i in range(30)),
                   encoding="utf-8")
    proc = _xcurate("calibrate-lid", src, "-o", tmp_path / "thresholds.yaml", "--min-docs", "5", cwd=tmp_path)
    from xcurate.workflows.calibrate import log_dir_of
    console = _assert_quiet(proc, os.path.join(log_dir_of(str(tmp_path / "thresholds.yaml")), "ray.log"))
    assert list(yaml.safe_load((tmp_path / "thresholds.yaml").read_text())["thresholds"]) == ["eng_Latn"]
    assert console.splitlines()[0].split() == ["language", "docs", "median", "std", "threshold"]


def test_export_console(tmp_path, quickstart_run):
    build_tokenizer(tmp_path / "tokenizer.json")
    proc = _xcurate("export", quickstart_run[0], "--tokenizer", tmp_path / "tokenizer.json", "--format",
                    "parquet-tokens", "-o", tmp_path / "tokens", cwd=tmp_path)
    console = _assert_quiet(proc, tmp_path / "tokens" / "logs" / "ray.log")
    assert console.splitlines()[0].split() == ["language", "documents", "tokens", "tokens/doc"]


def test_synth_console(tmp_path):
    tsv = tmp_path / "eng-deu.tsv"
    tsv.write_text("".join(f"{en}\t{de}\n" for en, de in SENTENCES), encoding="utf-8")
    (tmp_path / "synth.yaml").write_text(yaml.safe_dump({
        "tasks": [{"type": "translation", "input": {"paths": [str(tsv)], "src_lang": "eng", "tgt_lang": "deu"}}],
        "qc": {"lid_min_chars": 10}, "dedup": {"exact": True, "near": False}}), encoding="utf-8")
    proc = _xcurate("synth", "synth.yaml", "-o", tmp_path / "out", cwd=tmp_path)
    console = _assert_quiet(proc, tmp_path / "out" / "logs" / "ray.log")
    assert console.splitlines()[0].split()[:4] == ["stage", "in", "kept", "dropped"]
    assert sorted(p.name for p in (tmp_path / "out" / "data").iterdir()) == ["language=deu_Latn", "language=eng_Latn"]


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
