"""What a person sees: the quickstart on one CPU through the CLI, a short console, Ray's output in OUTDIR/logs."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO
from xcurate.engine.runner import run_pipeline


def _xcurate(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "xcurate", *args], env=env, cwd=str(REPO), text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def one_cpu_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("console") / "qs"
    proc = _xcurate("run", "configs/quickstart.yaml", "-o", str(out), "--set", "ray.num_cpus=1")
    return out, proc


def test_quickstart_finishes_on_one_cpu(one_cpu_run):
    out, proc = one_cpu_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "manifest.json").read_text())
    assert m["output_documents"] == m["stages"][-1]["kept"] > 0


def test_console_is_short_and_free_of_ray_noise(one_cpu_run):
    out, proc = one_cpu_run
    console = proc.stdout + proc.stderr
    # the periodic progress lines come every 15 s: their number depends on the machine's speed, not on the console
    heartbeat = re.compile(r"^\[\d+/\d+\] \d+/\d+ units, ")
    lines = [line for line in console.splitlines() if not heartbeat.match(line)]
    assert len(lines) <= 50, console
    for noise in ("core_worker.cc", "Token authentication", "logging_progress", "Started a local Ray"):
        assert noise not in console
    table = proc.stdout.split("\n\n")[0].splitlines()  # the per-stage summary table
    assert table[0].split()[:4] == ["stage", "in", "kept", "dropped"]
    assert max(len(line) for line in table) <= 120  # reasons wrapped, not 200-character columns
    for name in ("manifest.json", "report.html", "README.md", "logs/ray.log"):
        assert str(out / name) in console
    assert "→ output:" in proc.stderr  # the progress line of the last pass
    ray_log = (out / "logs" / "ray.log").read_text()
    assert "Started a local Ray instance" in ray_log


def test_rerun_into_a_finished_outdir_says_so_and_recomputes_nothing(one_cpu_run):
    out, _ = one_cpu_run
    shards = {p: p.stat().st_mtime_ns for p in (out / "data").rglob("*.parquet")}
    proc = _xcurate("run", "configs/quickstart.yaml", "-o", str(out), "--set", "ray.num_cpus=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "already holds a finished run" in proc.stderr
    assert "→ output:" not in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in (out / "data").rglob("*.parquet")} == shards


def test_quiet_cli_prints_nothing(one_cpu_run):
    out, _ = one_cpu_run
    proc = _xcurate("run", "configs/quickstart.yaml", "-o", str(out), "--set", "ray.num_cpus=1", "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == proc.stderr == ""


def test_quiet_library_run_prints_nothing_from_ray(tmp_path, ray_local, capfd, monkeypatch):
    import logging
    # Library use: no console handler (a CLI test earlier in this process may have set one up).
    monkeypatch.setattr(logging.getLogger("xcurate"), "handlers", [])
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": f"This is document {i} in plain English."}) + "\n"
                           for i in range(20)))
    cfg = {"input": {"paths": [str(src)]}, "stages": [{"type": "normalize"}, {"type": "langid"}]}
    run_pipeline(cfg, str(tmp_path / "out"), quiet=True)
    captured = capfd.readouterr()
    # The session's Ray forwards its workers' output ("(MapWorker pid=...) ...") whenever it
    # arrives, also from workers of earlier tests; everything else must have gone to the log.
    printed = [line for line in (captured.out + captured.err).splitlines() if not re.match(r"(\x1b\[\d+m)?\(", line)]
    assert printed == []
    assert (tmp_path / "out" / "logs" / "ray.log").exists()
