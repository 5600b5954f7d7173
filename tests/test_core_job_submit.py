"""`ray job submit` against a head started by the test (own ports, own temp dir, stopped at the end)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import yaml

from conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    import sys
    return os.path.join(os.path.dirname(sys.executable), name)


@pytest.fixture
def ray_head():
    temp_dir = tempfile.mkdtemp(prefix="xcr", dir="/tmp")
    port, dash = _free_port(), _free_port()
    # Every port of its own: another Ray on this machine (the test session's) holds the defaults,
    # and a node whose dashboard agent cannot bind never accepts jobs ("No available agent").
    own_ports = [f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
                 f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}",
                 f"--node-manager-port={_free_port()}", f"--object-manager-port={_free_port()}",
                 f"--ray-client-server-port={_free_port()}"]
    env = dict(os.environ, PATH=f"{os.path.dirname(_bin('ray'))}:{os.environ.get('PATH', '')}")
    env.pop("RAY_ADDRESS", None)
    env["RAY_AUTH_MODE"] = "token"  # Ray >= 2.5x enables token auth on new clusters; the CLI must send it
    head = subprocess.Popen([_bin("ray"), "start", "--head", "--block", f"--port={port}",
                             f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1", "--include-dashboard=true",
                             f"--temp-dir={temp_dir}", "--num-cpus=2", "--disable-usage-stats", *own_ports],
                            env=env, cwd=temp_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    address = f"http://127.0.0.1:{dash}"
    try:
        _wait_for_dashboard(address, env, head)
        yield address, env
    finally:
        _stop_head(head, temp_dir)


def _stop_head(head, temp_dir):
    """Stop only this head: its process group, then anything still running from its temp dir."""
    import psutil
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
    for proc in psutil.process_iter(["cmdline"]):
        if any(temp_dir in part for part in (proc.info["cmdline"] or [])):
            proc.kill()
    shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_dashboard(address, env, head):
    deadline = time.time() + 120
    while time.time() < deadline:
        r = subprocess.run([_bin("ray"), "job", "list", "--address", address], env=env, capture_output=True)
        if r.returncode == 0:
            return
        if head.poll() is not None:
            pytest.fail(f"ray head did not start: {head.stderr.read().decode()[-2000:]}")
        time.sleep(1)
    pytest.fail("ray head dashboard did not come up")


def test_ray_job_submit_runs_the_pipeline(tmp_path, ray_head):
    address, env = ray_head
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": f"hello world {i} " * 5}) + "\n" for i in range(50)))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"input": {"paths": [str(src)]},
                                   "stages": [{"type": "normalize"}, {"type": "length_filter"}]}))
    out = tmp_path / "out"
    for _ in range(30):  # the node's job agent comes up a little after the dashboard
        r = subprocess.run([_bin("ray"), "job", "submit", "--address", address, "--working-dir", str(REPO), "--",
                            "xcurate", "run", str(cfg), "-o", str(out)], env=env, capture_output=True, text=True,
                           timeout=300)
        if "No available agent" not in r.stderr:
            break
        time.sleep(2)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "succeeded" in (r.stdout + r.stderr)
    m = json.loads((out / "manifest.json").read_text())
    assert m["input_documents"] == 50 and m["output_documents"] == 50
