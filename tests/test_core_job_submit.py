"""`ray job submit` against a head started by the test (own ports, own temp dir, stopped at the end).

The head runs in a fresh virtualenv holding the built wheel (``packaging_helpers``), the way a
cluster with xcurate installed does; jobs come in both documented ways: with ``--working-dir``
(the checkout's files shipped, the installed package runs them) and with no working dir and the
built package shipped through ``--runtime-env`` ``py_modules`` (it takes precedence over what is
installed, so a cluster without xcurate, or with another version, runs the shipped one).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from conftest import REPO
from packaging_helpers import installed_wheel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    return installed_wheel(tmp_path_factory)


@pytest.fixture(scope="module")
def ray_head(wheel_env):
    temp_dir = tempfile.mkdtemp(prefix="xcr", dir="/tmp")
    port, dash = _free_port(), _free_port()
    # Every port of its own: another Ray on this machine (the test session's) holds the defaults,
    # and a node whose dashboard agent cannot bind never accepts jobs ("No available agent").
    own_ports = [f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
                 f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}",
                 f"--node-manager-port={_free_port()}", f"--object-manager-port={_free_port()}",
                 f"--ray-client-server-port={_free_port()}"]
    # The head, its workers and job drivers run the new virtualenv's python (its bin first on PATH).
    env = wheel_env.env(RAY_AUTH_MODE="token")  # Ray >= 2.5x enables token auth on new clusters; the CLI must send it
    ray_cli = [wheel_env.python, "-m", "ray.scripts.scripts"]
    head = subprocess.Popen([*ray_cli, "start", "--head", "--block", f"--port={port}",
                             f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1", "--include-dashboard=true",
                             f"--temp-dir={temp_dir}", "--num-cpus=2", "--disable-usage-stats", *own_ports],
                            env=env, cwd=temp_dir, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(temp_dir, "head.err"), "wb"),  # a pipe nobody reads could fill up
                            start_new_session=True)
    address = f"http://127.0.0.1:{dash}"
    try:
        _wait_for_dashboard(address, env, head, temp_dir)
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


def _wait_for_dashboard(address, env, head, temp_dir):
    deadline = time.time() + 120
    while time.time() < deadline:
        r = subprocess.run([_bin("ray"), "job", "list", "--address", address], env=env, capture_output=True)
        if r.returncode == 0:
            return
        if head.poll() is not None:
            pytest.fail(f"ray head did not start: {open(os.path.join(temp_dir, 'head.err')).read()[-2000:]}")
        time.sleep(1)
    pytest.fail("ray head dashboard did not come up")


def _pipeline(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": f"hello world {i} " * 5}) + "\n" for i in range(50)))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"input": {"paths": [str(src)]}, "ray": {"progress_bars": False},
                                   "stages": [{"type": "normalize"}, {"type": "length_filter"}]}))
    return cfg, tmp_path / "out"


# The job first says where its driver imported xcurate from, then runs the pipeline.
WHERE = "python -c 'import xcurate; print(\"XCURATE_FROM\", xcurate.__file__)'"


def _submit(address, env, job_args, entrypoint: str) -> str:
    for _ in range(30):  # the node's job agent comes up a little after the dashboard
        r = subprocess.run([_bin("ray"), "job", "submit", "--address", address, *job_args, "--", "bash", "-c",
                            entrypoint], env=env, capture_output=True, text=True, timeout=300)
        if "No available agent" not in r.stderr:
            break
        time.sleep(2)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "succeeded" in (r.stdout + r.stderr)
    return next(line.split(" ", 1)[1] for line in r.stdout.splitlines() if line.startswith("XCURATE_FROM "))


def _check_output(out):
    m = json.loads((out / "manifest.json").read_text())
    assert m["input_documents"] == 50 and m["output_documents"] == 50


def test_job_with_working_dir_runs_on_the_installed_package(tmp_path, ray_head, wheel_env):
    address, env = ray_head
    cfg, out = _pipeline(tmp_path)
    imported_from = _submit(address, env, ["--working-dir", str(REPO)],
                            f"{WHERE} && xcurate run {cfg} -o {out}")
    assert imported_from.startswith(str(wheel_env.venv)), imported_from
    _check_output(out)


def test_job_without_working_dir_runs_the_package_shipped_in_py_modules(tmp_path, ray_head, wheel_env):
    address, env = ray_head
    cfg, out = _pipeline(tmp_path)
    target = tmp_path / "pkg"  # as the README says: the wheel unpacked, its `xcurate` folder shipped
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel_env.wheel)], check=True)
    runtime_env = tmp_path / "runtime_env.yaml"
    runtime_env.write_text(yaml.safe_dump({"py_modules": [str(target / "xcurate")]}))
    imported_from = _submit(address, env, ["--runtime-env", str(runtime_env)],
                            f"{WHERE} && python -m xcurate run {cfg} -o {out}")
    assert not imported_from.startswith(str(wheel_env.venv)) and "runtime_resources" in imported_from, imported_from
    _check_output(out)
