"""Cross-lingual contamination throughput the way a user runs it (issue #12).

``xcurate run`` in a subprocess on one core (``ray.num_cpus: 1``) over real UD text of many
languages (``_common.resampled_corpus``), with only the ``decontaminate_xling`` stage and the
English suite ``configs/benchmarks/shared_en.yaml``; process wall time, start-up and I/O
included. Baseline in the same run: the same command with the same-language ``decontaminate``
stage (n-gram). The index is built by a first run (``cold``) and memory-mapped from the cache by
the second (``warm``); MB/s per core = input MB / warm wall time. The result is merged into
``bench/results/contamination_speed.json`` under ``cross_lingual_user_run``.

    python bench/xling_speed.py [--mb 0.25]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import REPO, RESULTS, WORK, dir_mb, resampled_corpus  # noqa: E402


def _config(inp: Path, stage: dict) -> str:
    import yaml
    return yaml.safe_dump({"input": {"paths": [str(inp)], "text_field": "text", "id_field": "id"},
                           "ray": {"num_cpus": 1, "progress_bars": False}, "stages": [stage]})


def timed_run(cfg: Path, out: Path, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "xcurate", "run", str(cfg), "-o", str(out), "--overwrite"], check=True,
                   env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def xling_user_run(mb: float) -> dict:
    work = WORK / "xling_speed"
    inp = resampled_corpus(work / f"input_{mb:g}", mb, n_files=1)
    env = {**os.environ, "XCURATE_CACHE": str(work / "cache"), "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    suite = str(REPO / "configs" / "benchmarks" / "shared_en.yaml")
    input_mb = dir_mb(inp)
    result = {"input_mb": round(input_mb, 3), "suite": "configs/benchmarks/shared_en.yaml", "cores": 1}
    for name, stage in (("ngram", {"type": "decontaminate", "params": {"benchmarks": suite}}),
                        ("xling", {"type": "decontaminate_xling", "params": {"benchmarks": suite}})):
        cfg = work / f"{name}.yaml"
        cfg.write_text(_config(inp, stage))
        cold = timed_run(cfg, work / f"out_{name}", env)
        warm = timed_run(cfg, work / f"out_{name}", env)
        result[name] = {"cold_s": round(cold, 1), "warm_s": round(warm, 1),
                        "mb_per_s_per_core": round(input_mb / warm, 4)}
    result["xling_vs_ngram_time"] = round(result["xling"]["warm_s"] / result["ngram"]["warm_s"], 1)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=0.25, help="input size (MiB of JSONL)")
    args = ap.parse_args(argv)
    res = xling_user_run(args.mb)
    res.update(command="python bench/xling_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               note="machine shared with other jobs while measured: absolute MB/s are pessimistic")
    print(json.dumps(res, indent=1))
    path = RESULTS / "contamination_speed.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["cross_lingual_user_run"] = res
    path.write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
