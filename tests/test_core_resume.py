"""Kill a run mid-way, rerun it: it resumes and the shards are the same as an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import REPO


def _cli(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), RAY_ADDRESS="")
    env.pop("RAY_ADDRESS")
    return subprocess.Popen([sys.executable, "-m", "xcurate", *args], env=env, cwd=str(REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, **kw)


def _shards(out):
    m = json.loads((out / "manifest.json").read_text())
    return sorted((s["path"], s["sha256"]) for s in m["shards"]), m


@pytest.fixture
def big_config(tmp_path):
    src = tmp_path / "in.jsonl"
    with open(src, "w") as f:
        for i in range(2400):
            f.write(json.dumps({"id": f"d{i}", "text": f"document number {i} " + "lorem ipsum " * (i % 9)}) + "\n")
    cfg = {"input": {"paths": [str(src)]}, "output": {"unit_mb": 0.002},
           "ray": {"num_cpus": 2, "progress_bars": False},
           "stages": [{"type": "normalize"}, {"type": "length_filter", "params": {"min_chars": 25}}]}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _settled_count(progress, quiet_s=2.0):
    """Units recorded once the killed run's Ray workers (outside the killed process group) have stopped."""
    count, since = -1, time.time()
    while time.time() - since < quiet_s:
        now = len(list(progress.glob("*.json")))
        if now != count:
            count, since = now, time.time()
        time.sleep(0.1)
    return count


def test_killed_run_resumes_to_identical_shards(tmp_path, big_config):
    out = tmp_path / "out"
    proc = _cli(["run", str(big_config), "-o", str(out)])
    progress = out / "_xc_progress"
    deadline = time.time() + 120
    while time.time() < deadline:
        if progress.is_dir() and len(list(progress.glob("*.json"))) >= 5:
            break
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be interrupted: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _settled_count(progress)
    assert not (out / "manifest.json").exists(), "the run finished before the kill"

    rerun = _cli(["run", str(big_config), "-o", str(out)])
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()[-3000:]
    console = rerun.stderr.read().decode()
    resumed, m = _shards(out)
    assert m["units"] > done_before
    # the rerun says what is done, and its pass runs the stages on the other units only
    assert f"resuming: {done_before} of {m['units']} units done" in console
    assert f"→ output: {m['units'] - done_before} units" in console

    clean = tmp_path / "clean"
    fresh = _cli(["run", str(big_config), "-o", str(clean)])
    assert fresh.wait(timeout=300) == 0, fresh.stderr.read().decode()[-3000:]
    assert _shards(clean)[0] == resumed
    assert m["input_documents"] == 2400
