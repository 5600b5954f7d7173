"""A run whose input, OUTDIR and global-stage intermediates all live on S3 (moto's server on loopback).

Nodes of a real cluster share no local disk, so ``s3://`` is the storage a multi-node run uses.
The run goes through ``xcurate run`` in a subprocess, as a user runs it: the driver and its
embedded Ray workers find the endpoint and credentials in the AWS environment variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), which pyarrow's S3 filesystem reads.
"""
import json
import logging
import os
import socket
import subprocess
import sys

import pyarrow.fs as pafs
import pytest
from moto.server import ThreadedMotoServer  # the dev extra's moto[server]

from tests.conftest import REPO
from tests.dedup_helpers import output_rows, planted_jsonl

BUCKET = "xc-test"
XCURATE = [sys.executable, "-m", "xcurate"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env():
    """Environment of a process that talks to a fresh moto S3 server with one empty bucket."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "PYTHONPATH": str(REPO)}
    s3 = _s3(env)
    s3.create_dir(BUCKET)
    yield env
    server.stop()


def _s3(env) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(endpoint_override=env["AWS_ENDPOINT_URL"], access_key="test", secret_key="test",
                             region="us-east-1", allow_bucket_creation=True)


def _config(input_path: str) -> dict:
    return {"input": {"paths": [input_path], "text_field": "text", "id_field": "id"},
            "output": {"unit_rows": 30, "keep_rejected": True},
            "ray": {"num_cpus": 2, "progress_bars": False},
            "stages": [{"type": "exact_dedup"},
                       {"type": "minhash_dedup", "params": {"ngram_size": 5, "bands": 14, "rows": 8}}]}


def _xcurate(args, env, cwd):
    done = subprocess.run(XCURATE + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_run_on_s3_matches_local_disk(s3_env, tmp_path):
    corpus = planted_jsonl(seed=14, originals=80, words=100, exact_every=5, near_every=7)
    s3 = _s3(s3_env)
    with s3.open_output_stream(f"{BUCKET}/in/corpus.jsonl") as out:
        out.write(corpus.encode())
    (tmp_path / "in.jsonl").write_text(corpus)
    (tmp_path / "s3.yaml").write_text(json.dumps(_config(f"s3://{BUCKET}/in/corpus.jsonl")))
    (tmp_path / "local.yaml").write_text(json.dumps(_config(str(tmp_path / "in.jsonl"))))

    _xcurate(["run", "s3.yaml", "-o", f"s3://{BUCKET}/out"], s3_env, tmp_path)
    _xcurate(["run", "local.yaml", "-o", str(tmp_path / "out")], s3_env, tmp_path)

    on_s3 = output_rows(s3, f"{BUCKET}/out")
    assert {r for _, _, r in on_s3} == {None, "exact_duplicate", "near_duplicate"}
    assert on_s3 == output_rows(pafs.LocalFileSystem(), str(tmp_path / "out"))
    manifest = json.loads(s3.open_input_stream(f"{BUCKET}/out/manifest.json").read())
    dropped = {s["name"]: s["dropped"] for s in manifest["stages"]}
    assert dropped["exact_dedup"] == {"exact_duplicate": 16} and dropped["minhash_dedup"] == {"near_duplicate": 12}
    leftovers = s3.get_file_info(pafs.FileSelector(f"{BUCKET}/out/_xc_work", allow_not_found=True))
    assert leftovers == []  # intermediates lived on S3 and were removed after success

    stats = _xcurate(["stats", f"s3://{BUCKET}/out"], s3_env, tmp_path)
    assert "minhash_dedup" in stats and "near_duplicate" in stats
