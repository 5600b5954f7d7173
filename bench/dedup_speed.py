"""MinHash dedup speed and memory: ours (Ray) vs datatrove's 4-step MinHash vs datasketch.

Input: real multilingual text resampled from ``../shared/data/corpus/ud_docs.jsonl``: every
pseudo-document is 8-25 random sentences of one language (62 languages), so two random
documents share almost no 5-grams; planted duplicates: 8% near copies (2% of words
substituted) and 2% exact copies, shuffled across files.

Runs, all with 5-gram shingles, 14 bands x 8 rows (112 permutations), seed 1:
* ours: ``minhash_dedup`` GlobalStage on Ray with 2 CPUs (signatures, band shuffle,
  components, keep rule, output files), timed from ``run()`` (Ray already initialised, as
  under the runner);
* datatrove 0.10.1: its 4 steps (signature / buckets / cluster / filter) on
  ``LocalPipelineExecutor`` with 2 workers, reading the same text as JSONL, writing JSONL;
* datasketch: ``MinHash`` + ``MinHashLSH`` (query then insert, union-find) in one process,
  the straightforward single-node recipe;
* ours again at ``--scale`` x the input, for peak memory (RSS sampled every 0.2 s over the
  driver and every Ray process it started).

The ratios divide wall times measured in this run on the same input. ``--baseline-mb``
(default: ``--mb``) lets the slow baselines run on a smaller equal input; ours is then also
timed on that input so each ratio compares equal inputs.

    python bench/dedup_speed.py                       # 200 MB, 4x for memory
    python bench/dedup_speed.py --mb 20 --scale 2     # quick look
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SENTENCE_END = re.compile(r"(?<=[.!?।॥。！？؟።])\s*")
PARAMS = {"ngram_size": 5, "bands": 14, "rows": 8, "num_perm": 112, "seed": 1}


def shared_data_dir() -> Path:
    return Path(os.environ.get("XCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def sentence_pools() -> Dict[str, List[str]]:
    pools: Dict[str, List[str]] = defaultdict(list)
    with open(shared_data_dir() / "corpus" / "ud_docs.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            pools[doc["lang"]].extend(s for s in SENTENCE_END.split(doc["text"].replace("\n", " ")) if len(s) > 1)
    return {k: v for k, v in pools.items() if len(v) >= 50}


def make_corpus(target_mb: float, seed: int = 0) -> List[dict]:
    """Resampled multilingual documents with planted near and exact duplicates (shuffled); a planted
    copy names its original in ``dup_of``."""
    rng = random.Random(seed)
    pools = sentence_pools()
    langs = sorted(pools)
    docs, size, i = [], 0, 0
    while size < target_mb * 1e6:
        lang = rng.choice(langs)
        text = " ".join(rng.choices(pools[lang], k=rng.randint(8, 25)))
        docs.append({"id": f"d{i:08d}", "text": text, "lang": lang})
        size += len(text.encode())
        i += 1
        roll = rng.random()
        if roll < 0.08:
            words = text.split(" ")
            for _ in range(max(1, len(words) // 50)):
                words[rng.randrange(len(words))] = rng.choice(pools[lang]).split(" ")[0]
            docs.append({"id": f"d{i:08d}", "text": " ".join(words), "lang": lang, "dup_of": docs[-1]["id"]})
        elif roll < 0.10:
            docs.append({"id": f"d{i:08d}", "text": text, "lang": lang, "dup_of": docs[-1]["id"]})
        else:
            continue
        size += len(docs[-1]["text"].encode())
        i += 1
    rng.shuffle(docs)
    return docs


def write_inputs(docs: List[dict], root: Path, files: int, jsonl: bool) -> List[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    (root / "units").mkdir(parents=True, exist_ok=True)
    if jsonl:
        (root / "jsonl").mkdir(parents=True, exist_ok=True)
    per = -(-len(docs) // files)
    paths = []
    for u in range(files):
        chunk = docs[u * per:(u + 1) * per]
        n = len(chunk)
        table = pa.table({"id": [d["id"] for d in chunk], "text": [d["text"] for d in chunk],
                          "_xc_unit": [f"u{u}"] * n, "_xc_row": list(range(n)),
                          "_xc_drop_stage": pa.nulls(n, pa.string()), "_xc_drop_reason": pa.nulls(n, pa.string())})
        path = root / "units" / f"unit{u:05d}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(str(path))
        if jsonl:
            with open(root / "jsonl" / f"part{u:05d}.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n"
                             for d in chunk)
    return paths


def build_inputs(target_mb: float, seed: int, root: str, unit_mb: float, jsonl: bool) -> dict:
    """Generate and write one input (run in a child process so the driver stays lean)."""
    docs = make_corpus(target_mb, seed)
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    files = max(2, round(mb / unit_mb))
    paths = write_inputs(docs, Path(root), files, jsonl)
    return {"paths": paths, "docs": len(docs), "mb": round(mb, 1), "files": files}


def build_in_child(*args) -> dict:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(build_inputs, *args).result()


def read_jsonl_docs(directory: Path) -> List[dict]:
    docs = []
    for path in sorted(directory.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            docs.extend(json.loads(line) for line in f)
    return docs


class RssSampler:
    """Peak RSS per process (driver and all its descendants: raylet, Ray workers, ...).

    ``driver_command``: the measured driver is the child process whose command line holds this word (e.g.
    ``xcurate`` for ``python -m xcurate run``), and this benchmark process, which only waits for it (and may
    still hold the corpus it generated), is left out; without it this process is the driver (in-process runs)."""

    def __init__(self, interval: float = 0.2, driver_command: Optional[str] = None):
        import psutil
        self.me = psutil.Process()
        self.driver_command = driver_command
        self.interval = interval
        self.peak: Dict[int, int] = {}
        self.kind: Dict[int, str] = {}
        self.name: Dict[int, str] = {}
        self.cpu: Dict[int, float] = {}  # user + system seconds, last seen per process
        self._driver_cpu_before = self._own_cpu = self._own_cpu_start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        import psutil
        self._own_cpu_start = time.thread_time()
        while not self._stop.is_set():
            procs = [self.me] + self.me.children(recursive=True)
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    cmdline = p.cmdline()
                    cmd = " ".join(cmdline[:2])
                    times = p.cpu_times()
                    self.cpu[p.pid] = times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if p.pid == self.me.pid:
                    self.kind[p.pid] = "harness" if self.driver_command else "driver"
                elif self.driver_command and self.driver_command in cmdline[:3]:
                    self.kind[p.pid] = "driver"
                elif cmd.startswith("ray::") or "default_worker.py" in cmd:
                    self.kind[p.pid] = "ray_worker"
                elif self.kind.get(p.pid) != "ray_worker":
                    self.kind[p.pid] = "ray_system"
                if rss > self.peak.get(p.pid, 0):
                    self.peak[p.pid] = rss
                    self.name[p.pid] = cmd[:60]
            self._own_cpu = time.thread_time() - self._own_cpu_start  # sampling itself, not the measured work
            self._stop.wait(self.interval)

    def __enter__(self):
        times = self.me.cpu_times()
        self._driver_cpu_before = times.user + times.system  # this process ran before the measurement
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self) -> Dict[str, float]:
        out = {}
        for kind in ("driver", "ray_worker", "ray_system"):
            vals = [v for pid, v in self.peak.items() if self.kind.get(pid) == kind]
            out[f"peak_rss_mb_{kind}"] = round(max(vals) / 2**20, 1) if vals else 0.0
            # CPU seconds: robust to other load on the machine, unlike wall time (sampled, so a
            # process's last interval before it exits is missed)
            out[f"cpu_s_{kind}"] = round(sum(v for pid, v in self.cpu.items() if self.kind.get(pid) == kind), 1)
        if not self.driver_command:  # this process is the driver: only its CPU during the measurement counts
            out["cpu_s_driver"] = round(max(0.0, out["cpu_s_driver"] - self._driver_cpu_before - self._own_cpu), 1)
        out["cpu_s"] = round(out["cpu_s_driver"] + out["cpu_s_ray_worker"] + out["cpu_s_ray_system"], 1)
        top = max((pid for pid in self.peak if self.kind.get(pid) != "harness"), key=self.peak.get)
        out["peak_rss_mb_largest_process"] = round(self.peak[top] / 2**20, 1)
        out["largest_process"] = self.name.get(top, "?")
        return out


def run_ours(paths: List[str], work: Path, sample_memory: bool = True) -> dict:
    from xcurate.engine.stage import Resources
    from xcurate.stages.minhash_dedup import MinHashDedup, MinHashDedupParams
    stage = MinHashDedup(MinHashDedupParams(**PARAMS))
    sampler = RssSampler()
    t0 = time.time()
    with sampler:
        stage.run(paths, str(work / "out"), str(work / "work"), stage.name, Resources(num_cpus=1))
    wall = time.time() - t0
    summary = json.loads(next((work / "work").glob("minhash_dedup-*/summary.json")).read_text())
    res = {"wall_s": round(wall, 2), "dropped": summary["dropped"], "candidate_edges": summary["candidate_edges"],
           "partitions": summary["partitions"], "components_mode": summary["components"]["mode"]}
    if sample_memory:
        res.update(sampler.summary())
    return res


def run_datatrove(jsonl_dir: Path, work: Path, files: int) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig(n_grams=PARAMS["ngram_size"], num_buckets=PARAMS["bands"],
                        hashes_per_bucket=PARAMS["rows"], seed=PARAMS["seed"])
    logs = str(work / "logs")
    steps = [
        LocalPipelineExecutor(pipeline=[JsonlReader(str(jsonl_dir)), MinhashDedupSignature(
            output_folder=str(work / "sigs"), config=cfg)], tasks=files, workers=2, logging_dir=f"{logs}/1"),
        LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=str(work / "sigs"),
                                                            output_folder=str(work / "buckets"), config=cfg)],
                              tasks=cfg.num_buckets, workers=2, logging_dir=f"{logs}/2"),
        LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=str(work / "buckets"),
                                                            output_folder=str(work / "remove"), config=cfg)],
                              tasks=1, workers=1, logging_dir=f"{logs}/3"),
        LocalPipelineExecutor(pipeline=[JsonlReader(str(jsonl_dir)), MinhashDedupFilter(
            input_folder=str(work / "remove")), JsonlWriter(str(work / "out"))], tasks=files, workers=2,
            logging_dir=f"{logs}/4"),
    ]
    t0 = time.time()
    per_step = []
    for step in steps:
        s = time.time()
        step.run()
        per_step.append(round(time.time() - s, 2))
    removed = sum((p.stat().st_size // 4) for p in (work / "remove").glob("*.remove"))
    return {"wall_s": round(time.time() - t0, 2), "step_s": per_step, "dropped": removed}


def run_datasketch(docs: List[dict]) -> dict:
    from datasketch import MinHash, MinHashLSH
    from datatrove.utils.text import simplify_text
    from xcurate.text.words import split_words

    n = PARAMS["ngram_size"]
    lsh = MinHashLSH(num_perm=PARAMS["num_perm"], params=(PARAMS["bands"], PARAMS["rows"]))
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    t0 = time.time()
    for i, d in enumerate(docs):
        toks = split_words(simplify_text(d["text"]))
        shingles = {" ".join(toks[j:j + n]).encode() for j in range(max(1, len(toks) - n + 1))} if toks else set()
        if not shingles:
            continue
        m = MinHash(num_perm=PARAMS["num_perm"], seed=PARAMS["seed"])
        m.update_batch(shingles)
        for j in lsh.query(m):
            parent[find(i)] = find(j)
        lsh.insert(i, m)
    dropped = sum(1 for i in range(len(docs)) if find(i) != i)
    return {"wall_s": round(time.time() - t0, 2), "dropped": dropped}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=200, help="input size (MB of UTF-8 text)")
    ap.add_argument("--scale", type=int, default=4, help="multiple of the input for the memory run")
    ap.add_argument("--baseline-mb", type=float, default=None, help="input for the slow baselines (default: --mb)")
    ap.add_argument("--unit-mb", type=float, default=16, help="text per unit file (runner's unit_mb)")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--skip-datasketch", action="store_true")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--results", default=str(REPO / "bench" / "results" / "dedup_speed.json"))
    args = ap.parse_args(argv)
    import ray

    work = Path(args.workdir or tempfile.mkdtemp(prefix="dedup_speed_"))
    baseline_mb = args.baseline_mb or args.mb
    results: dict = {"params": PARAMS, "cpus": 2, "input_mb": args.mb, "baseline_input_mb": baseline_mb,
                     "source": "ud_docs.jsonl sentences resampled per language; 8% near + 2% exact copies planted"}
    try:
        t = time.time()
        one = build_in_child(args.mb, 0, str(work / "1x"), args.unit_mb, baseline_mb == args.mb)
        print(f"input: {one['docs']} docs, {one['mb']} MB in {one['files']} files "
              f"({time.time() - t:.0f} s to build)", flush=True)
        ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
        # warm-up on a tiny input: under the runner, Ray workers are already started and warm
        warm = build_in_child(0.5, 9, str(work / "warm"), args.unit_mb, False)
        run_ours(warm["paths"], work / "ours_warm", sample_memory=False)
        ours = run_ours(one["paths"], work / "ours_1x")
        ours.update(docs=one["docs"], mb=one["mb"], docs_per_s=round(one["docs"] / ours["wall_s"], 1),
                    mb_per_s=round(one["mb"] / ours["wall_s"], 2))
        results["ours_1x"] = ours
        print("ours 1x:", ours, flush=True)

        base, base_dir = one, work / "1x"
        if baseline_mb != args.mb:
            base_dir = work / "base"
            base = build_in_child(baseline_mb, 1, str(base_dir), args.unit_mb, True)
            results["ours_baseline_input"] = run_ours(base["paths"], work / "ours_base", sample_memory=False)
            results["ours_baseline_input"].update(docs=base["docs"], mb=base["mb"])
            print("ours on baseline input:", results["ours_baseline_input"], flush=True)
        ours_base_wall = results.get("ours_baseline_input", ours)["wall_s"]

        big = build_in_child(args.mb * args.scale, 2, str(work / f"{args.scale}x"), args.unit_mb, False)
        ours_big = run_ours(big["paths"], work / f"ours_{args.scale}x")
        ours_big.update(docs=big["docs"], mb=big["mb"], mb_per_s=round(big["mb"] / ours_big["wall_s"], 2))
        results[f"ours_{args.scale}x"] = ours_big
        print(f"ours {args.scale}x:", ours_big, flush=True)
        results["worker_peak_rss_ratio"] = round(
            ours_big["peak_rss_mb_ray_worker"] / ours["peak_rss_mb_ray_worker"], 3)
        results["largest_process_peak_rss_ratio"] = round(
            ours_big["peak_rss_mb_largest_process"] / ours["peak_rss_mb_largest_process"], 3)
        ray.shutdown()

        if not args.skip_datasketch:
            results["datasketch"] = run_datasketch(read_jsonl_docs(base_dir / "jsonl"))
            results["speedup_vs_datasketch"] = round(results["datasketch"]["wall_s"] / ours_base_wall, 2)
            print("datasketch:", results["datasketch"], "ours is", results["speedup_vs_datasketch"], "x faster",
                  flush=True)
        if not args.skip_datatrove:
            results["datatrove"] = run_datatrove(base_dir / "jsonl", work / "datatrove", base["files"])
            results["speedup_vs_datatrove"] = round(results["datatrove"]["wall_s"] / ours_base_wall, 2)
            print("datatrove:", results["datatrove"], "ours is", results["speedup_vs_datatrove"], "x faster",
                  flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
