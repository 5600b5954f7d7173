"""Scaling as a user runs it: 1 vs 2 workers, memory from 1x to 4x input, S3 vs local disk.

Every run is ``xcurate run`` in a subprocess (process wall time: Ray start, reading JSONL, every
stage, writing Parquet) with the pipeline of ``bench/e2e.py`` (normalize, length, langid, quality,
exact, MinHash, decontamination) on input from ``bench.dedup_speed.make_corpus`` (real UD text of
62+ languages, planted duplicates). Peak RSS and CPU seconds are sampled over the driver and every
process it starts (``RssSampler``).

* ``workers``: ``ray.num_cpus`` 1 vs 2 on the same input, the process tree pinned to as many cores
  (``taskset``); goal: 2 workers >= 1.8x one. Needs two otherwise idle cores to mean anything.
* ``memory``: ``--mb`` and 4 x ``--mb`` on 2 workers; goal: peak RSS of the largest Ray worker
  <= 1.3x, driver flat.
* ``s3``: input, OUTDIR and global-stage intermediates on an S3 server on loopback (moto's server
  mode, a Python process on the same cores: it prices our request pattern, not a real object
  store's bandwidth) vs local disk; outputs must be identical. Also counts the objects and bytes a
  run writes under OUTDIR (``--keep-intermediates``), the request volume behind the cost model in
  ``bench/README.md``.

    python -m bench.scaling --mb 100                  # all three parts -> bench/results/scaling.json
    python -m bench.scaling --mb 20 --only workers    # one part (the others keep their last result)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench._common import REPO, RESULTS, WORK, scratch_dir, write_result
from bench.dedup_speed import RssSampler, make_corpus
from bench.e2e import our_config, write_jsonl

PARTS = ("workers", "memory", "s3")
BUCKET = "xc-bench"


def make_input(mb: float, directory: Path, files: int) -> dict:
    docs = make_corpus(mb)
    write_jsonl(docs, directory, files)
    return {"mb": round(sum(len(d["text"].encode()) for d in docs) / 1e6, 1), "docs": len(docs)}


def xcurate_run(cfg: dict, outdir: str, work: Path, env=None, *extra, cores: int = 0) -> dict:
    """One ``xcurate run`` as a user runs it: wall time, CPU seconds, peak RSS. ``cores``: pin the
    whole process tree to that many cores (``taskset``); ``ray.num_cpus`` alone only limits Ray's
    bookkeeping, and fractional actor reservations then still run on every core."""
    cfg_path = work / f"cfg-{time.time_ns()}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    sampler = RssSampler(driver_command="xcurate")
    t0 = time.time()
    with sampler:
        pin = ["taskset", "-c", ",".join(map(str, range(cores)))] if cores and shutil.which("taskset") else []
        done = subprocess.run([*pin, sys.executable, "-m", "xcurate", "run", str(cfg_path), "-o", outdir,
                               "--overwrite", *extra], cwd=str(REPO), env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if done.returncode:
        sys.exit(f"xcurate run failed:\n{done.stderr[-3000:]}")
    return {"wall_s": round(wall, 2), **sampler.summary()}


def output_counts(manifest: dict) -> dict:
    return {s["name"]: s.get("dropped", {}) for s in manifest["stages"]}


def part_workers(mb: float, files: int, work: Path) -> dict:
    info = make_input(mb, work / "jsonl", files)
    runs = {}
    for cpus in (1, 2):
        runs[f"{cpus}_cpu"] = xcurate_run(our_config(work / "jsonl", cpus=cpus), str(work / f"out{cpus}"), work,
                                          cores=cpus)
    return {"input": info, **runs, "speedup_2_vs_1": round(runs["1_cpu"]["wall_s"] / runs["2_cpu"]["wall_s"], 2),
            "goal": ">= 1.8"}


def part_memory(mb: float, files: int, work: Path) -> dict:
    runs = {}
    for scale in (1, 4):
        info = make_input(mb * scale, work / f"jsonl{scale}", files * scale)
        runs[f"{scale}x"] = {"input": info, **xcurate_run(our_config(work / f"jsonl{scale}"),
                                                         str(work / f"out{scale}"), work)}
    one, four = runs["1x"], runs["4x"]
    return {**runs,
            "worker_rss_ratio_4x_vs_1x": round(four["peak_rss_mb_ray_worker"] / one["peak_rss_mb_ray_worker"], 2),
            "driver_rss_ratio_4x_vs_1x": round(four["peak_rss_mb_driver"] / one["peak_rss_mb_driver"], 2),
            "goal": "worker <= 1.3, driver flat"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def part_s3(mb: float, files: int, work: Path) -> dict:
    import pyarrow.fs as pafs
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    info = make_input(mb, work / "jsonl", files)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}
        s3 = pafs.S3FileSystem(endpoint_override=endpoint, access_key="bench", secret_key="bench",
                               region="us-east-1", allow_bucket_creation=True)
        s3.create_dir(BUCKET)
        for path in sorted((work / "jsonl").glob("*.jsonl")):
            pafs.copy_files(str(path), f"{BUCKET}/in/{path.name}", destination_filesystem=s3)
        s3_cfg = our_config(work / "jsonl")
        s3_cfg["input"]["paths"] = [f"s3://{BUCKET}/in/*.jsonl"]
        on_s3 = xcurate_run(s3_cfg, f"s3://{BUCKET}/out", work, env)
        local = xcurate_run(our_config(work / "jsonl"), str(work / "out"), work, env)
        s3_manifest = json.loads(s3.open_input_stream(f"{BUCKET}/out/manifest.json").read())
        local_manifest = json.loads((work / "out" / "manifest.json").read_text())
        # the objects a run writes, intermediates included (request volume per MB of input)
        xcurate_run(s3_cfg, f"s3://{BUCKET}/kept", work, env, "--keep-intermediates")
        objects = [i for i in s3.get_file_info(pafs.FileSelector(f"{BUCKET}/kept", recursive=True))
                   if i.type == pafs.FileType.File]
    finally:
        server.stop()
    return {"input": info, "local": local, "s3": on_s3,
            "s3_wall_ratio": round(on_s3["wall_s"] / local["wall_s"], 2),
            "same_decisions": output_counts(s3_manifest) == output_counts(local_manifest),
            "objects_written": len(objects), "objects_per_input_mb": round(len(objects) / info["mb"], 1),
            "mb_written": round(sum(i.size for i in objects) / 1e6, 1),
            "server": "moto ThreadedMotoServer on 127.0.0.1, same machine"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--files", type=int, default=8, help="JSONL input files (per 1x input)")
    ap.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    ap.add_argument("--note", default="", help="recorded with the result, e.g. 'machine shared with other jobs'")
    args = ap.parse_args(argv)
    previous = RESULTS / "scaling.json"
    result = json.loads(previous.read_text()) if args.only and previous.exists() else {}
    result.pop("benchmark", None)
    result.pop("measured_at", None)
    parts = {"workers": part_workers, "memory": part_memory, "s3": part_s3}
    for name in args.only or PARTS:
        work = WORK / "scaling" / name
        scratch_dir(work)
        result[name] = {"mb": args.mb, "note": args.note,
                        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        **parts[name](args.mb, args.files, work)}
        print(name, json.dumps({k: v for k, v in result[name].items() if not isinstance(v, dict)}))
        write_result("scaling", dict(result))  # after each part: a later failure keeps the earlier ones
    return 0


if __name__ == "__main__":
    sys.exit(main())
