"""JSONL → language-partitioned Parquet: the runner (normalize only) vs a plain pyarrow loop.

Baseline: the same work done without Ray — 2 processes (multiprocessing, one per core), each
reading its share of the JSONL files with pyarrow.json, normalizing with the same function,
and writing zstd Parquet per language. Goal: runner ≥ 0.8× baseline throughput, and the
driver's peak memory flat from 1× to 4× the input.

    .venv/bin/python bench/io_throughput.py [--mb 320]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import WORK, dir_mb, resampled_corpus, scratch_dir, write_result  # noqa: E402


def _baseline_worker(args):
    files, outdir = args
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj
    import pyarrow.parquet as pq
    from xcurate.stages.normalize import Normalize
    norm = Normalize()
    norm.setup()
    docs = 0
    for f in files:
        table = pj.read_json(f, read_options=pj.ReadOptions(block_size=16 << 20))
        texts = [norm.normalize_text(t) for t in table["text"].to_pylist()]
        table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.large_string()))
        for lang in pc.unique(table["lang_script"]).to_pylist():
            part = table.filter(pc.equal(table["lang_script"], lang))
            d = Path(outdir) / f"language={lang}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, d / f"part-{Path(f).stem}.parquet", compression="zstd")
        docs += table.num_rows
    return docs


def run_baseline(inp: Path, out: Path) -> dict:
    scratch_dir(out)
    files = sorted(str(p) for p in inp.glob("*.jsonl"))
    shares = [(files[i::2], str(out)) for i in range(2)]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(2) as pool:
        docs = sum(pool.map(_baseline_worker, shares))
    return {"seconds": time.perf_counter() - t0, "documents": docs}


# One process: start the embedded Ray (timed), run once (cold workers), run again (warm: what a
# job on an already running cluster sees). Driver peak RSS is read at the end.
RUNNER_SNIPPET = """
import json, resource, sys, time
t0 = time.perf_counter()
from xcurate.engine.config import load_config
from xcurate.engine.cluster import init_ray
from xcurate.engine.runner import run_pipeline
cfg = {"input": {"paths": [sys.argv[1] + "/*.jsonl"], "columns": {"lang_script": "language"}},
       "output": {"unit_mb": 32, "keep_rejected": False}, "ray": {"num_cpus": 2, "progress_bars": False},
       "stages": [{"type": "normalize"}]}
init_ray(None, load_config(cfg))
t1 = time.perf_counter()
m = run_pipeline(cfg, sys.argv[2], overwrite=True, quiet=True)
t2 = time.perf_counter()
m = run_pipeline(cfg, sys.argv[2], overwrite=True, quiet=True)
t3 = time.perf_counter()
print(json.dumps({"seconds": t3 - t2, "ray_start_seconds": t1 - t0, "first_run_seconds": t2 - t1,
                  "end_to_end_seconds": t2 - t0, "documents": m["output_documents"],
                  "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_runner(inp: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("RAY_ADDRESS", None)
    r = subprocess.run([sys.executable, "-c", RUNNER_SNIPPET, str(inp), str(out)], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=320.0, help="input size for the throughput comparison (4×)")
    args = ap.parse_args()
    big = resampled_corpus(WORK / f"io_{args.mb:g}mb", args.mb)
    small = resampled_corpus(WORK / f"io_{args.mb / 4:g}mb", args.mb / 4, seed=1)
    mb_big, mb_small = dir_mb(big), dir_mb(small)

    base = run_baseline(big, WORK / "io_out_baseline")
    ours = run_runner(big, WORK / "io_out_runner")
    ours_small = run_runner(small, WORK / "io_out_runner_small")
    assert ours["documents"] == base["documents"], (ours, base)

    def rates(r, mb):
        return {"docs_per_s": r["documents"] / r["seconds"], "mb_per_s": mb / r["seconds"]}

    ratio = base["seconds"] / ours["seconds"]
    ratio_e2e = base["seconds"] / ours["end_to_end_seconds"]
    mem_ratio = ours["driver_peak_rss_mb"] / ours_small["driver_peak_rss_mb"]
    print(f"input {mb_big:.0f} MB, {base['documents']} documents")
    print(f"baseline (pyarrow loop, 2 processes): {base['seconds']:.1f}s  {rates(base, mb_big)}")
    print(f"runner   (Ray, 2 CPUs, warm):         {ours['seconds']:.1f}s  {rates(ours, mb_big)}")
    print(f"runner / baseline throughput: {ratio:.2f}x  (goal >= 0.8x; Ray already running, as under `ray job submit`)")
    print(f"end to end incl. embedded Ray start ({ours['ray_start_seconds']:.1f}s) and cold workers: "
          f"{ours['end_to_end_seconds']:.1f}s, ratio {ratio_e2e:.2f}x")
    print(f"driver peak RSS: {ours_small['driver_peak_rss_mb']:.0f} MB at {mb_small:.0f} MB input, "
          f"{ours['driver_peak_rss_mb']:.0f} MB at {mb_big:.0f} MB input  (ratio {mem_ratio:.2f}, goal: flat)")
    write_result("io_throughput", {
        "input_mb": mb_big, "documents": base["documents"],
        "baseline": {"name": "pyarrow.json read + normalize + parquet write, 2 processes", **base, **rates(base, mb_big)},
        "runner": {**ours, **rates(ours, mb_big)},
        "runner_small_input": {"input_mb": mb_small, **ours_small},
        "throughput_ratio_runner_over_baseline": ratio,
        "throughput_ratio_end_to_end_incl_ray_start": ratio_e2e,
        "driver_peak_rss_ratio_4x_over_1x": mem_ratio,
        "goals": {"throughput_ratio": ">= 0.8", "driver_memory": "flat"},
    })


if __name__ == "__main__":
    main()
