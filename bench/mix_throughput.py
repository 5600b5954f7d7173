"""Benchmark ``xcurate mix`` on real text: a dry run (count + plan), a full mixture, a finished rerun.

    .venv/bin/python bench/mix_throughput.py [--workdir /tmp/xc_mix_bench] [--repeat-tatoeba 1]

Input: every UD pseudo-document (62 languages) as an xcurate output dir, plus all Tatoeba
sentences as a plain Parquet dataset. The mixture is one engine run (stage ``mix_tokens``, then
global stage ``mix_sample``); stage seconds come from its manifest. Baselines measured in the
same run:
* counting: the same SentencePiece model over the same shards in one process, no Ray;
* rerun: the same config into the finished OUTDIR (the engine verifies it, recomputes nothing).
Prints the figures and writes bench/results/mix_throughput.json.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import scratch_dir, shared_data  # noqa: E402
from xcurate.engine.cluster import init_ray  # noqa: E402
from xcurate.workflows.mix import run_mix  # noqa: E402
from xcurate.mix.tokens import default_sentencepiece_model  # noqa: E402


def build_inputs(root: Path, repeat_tatoeba: int) -> dict:
    docs = [json.loads(l) for l in open(shared_data() / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    web = root / "web"
    by_lang: dict = {}
    for d in docs:
        by_lang.setdefault(d["lang_script"], []).append(d)
    for lang, mine in by_lang.items():
        part = web / "data" / f"language={lang}"
        part.mkdir(parents=True)
        for i in range(2):
            chunk = mine[i::2]
            pq.write_table(pa.table({"id": [d["id"] for d in chunk], "text": [d["text"] for d in chunk],
                                     "source": ["ud_docs.jsonl"] * len(chunk),
                                     "metadata": ["{}"] * len(chunk), "language": [lang] * len(chunk)}),
                           part / f"part-{i:05d}.parquet")
    (web / "manifest.json").write_text("{}")
    with gzip.open(shared_data() / "corpus" / "tatoeba_laser_v1.jsonl.gz", "rt", encoding="utf-8") as f:
        pairs = [json.loads(l) for l in f]
    tat = root / "tatoeba"
    tat.mkdir()
    rows = [{"id": f"{p['id']}.{r}", "text": p["text"], "language": p["lang"]}
            for r in range(repeat_tatoeba) for p in pairs]
    for i in range(8):
        pq.write_table(pa.Table.from_pylist(rows[i::8]), tat / f"part-{i}.parquet")
    return {"web": web, "tatoeba": tat}


def baseline_count(paths) -> tuple:
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=default_sentencepiece_model())
    t0 = time.perf_counter()
    docs = tokens = 0
    for p in paths:
        texts = pq.read_table(p, columns=["text"]).column("text").to_pylist()
        tokens += sum(len(x) for x in sp.encode(texts))
        docs += len(texts)
    return time.perf_counter() - t0, docs, tokens


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default="/tmp/xc_mix_bench")
    ap.add_argument("--repeat-tatoeba", type=int, default=1)
    args = ap.parse_args()
    root = scratch_dir(args.workdir)
    inputs = build_inputs(root / "in", args.repeat_tatoeba)
    shards = sorted(inputs["web"].rglob("*.parquet")) + sorted(inputs["tatoeba"].glob("*.parquet"))
    base_s, docs, tokens = baseline_count(shards)

    ray = init_ray()
    cfg = {"seed": 1, "sources": [{"name": "web", "path": str(inputs["web"]), "group": "web"},
                                  {"name": "tatoeba", "path": str(inputs["tatoeba"]), "group": "parallel"}],
           "policy": {"type": "temperature", "total_tokens": int(tokens * 0.8), "alpha": 0.3},
           "max_epochs": 4, "fill": "redistribute", "ray": {"progress_bars": False}}
    quiet = lambda *_: None  # noqa: E731
    t0 = time.perf_counter()
    plan = run_mix(cfg, str(root / "plan"), dry_run=True, echo=quiet)
    dry_run_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    manifest = run_mix(cfg, str(root / "mix"), echo=quiet)
    mix_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_mix(cfg, str(root / "mix"), echo=quiet)
    rerun_s = time.perf_counter() - t0
    stage_s = {st["name"]: st["seconds"] for st in manifest["stages"]}
    mix = manifest["mix"]
    mean_tokens = {l["language"]: l["mean_doc_tokens"] for l in plan["languages"]}
    big = [l for l in mix["languages"] if l["planned_tokens"] >= 1000 * mean_tokens[l["language"]]]
    result = {
        "input_docs": docs, "input_tokens": tokens, "input_shards": len(shards),
        "languages": len(plan["languages"]), "cpus": int(ray.cluster_resources().get("CPU", 0)),
        "baseline_count_seconds_1proc": round(base_s, 3),
        "baseline_tokens_per_s": round(tokens / base_s),
        "dry_run_seconds_incl_count": round(dry_run_s, 3),
        "mix_seconds_total": round(mix_s, 3),
        "mix_tokens_stage_seconds": stage_s["mix_tokens"], "mix_sample_stage_seconds": stage_s["mix_sample"],
        "rerun_finished_seconds": round(rerun_s, 3),
        "output_documents": mix["documents"], "output_rows_with_repeats": mix["rows"],
        "output_shards": len(manifest["shards"]),
        "planned_tokens": mix["planned_tokens"], "realized_tokens": mix["realized_tokens"],
        "languages_ge_1000_docs_worth": len(big),
        "max_abs_rel_error_ge_1000_docs": max((abs(l["relative_error"]) for l in big), default=None),
        "max_abs_rel_error_all": max(abs(l["relative_error"]) for l in mix["languages"]),
    }
    for k, v in result.items():
        print(f"{k:36s} {v}")
    out = REPO / "bench" / "results" / "mix_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
