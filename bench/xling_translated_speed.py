"""Throughput of the translated-suite route as a user runs it, and the one-time cost of machine-translating a suite.

Corpus side: ``xcurate run`` of a config with only ``decontaminate_translated`` (one actor, one
CPU) over ``../shared/data/corpus/ud_docs.jsonl`` repeated ``--copies`` and 4 x ``--copies`` times (62
languages; the steady rate is the difference of the two process wall times), against the
human-translation suite of ``bench/xling_translated_eval.py`` (six formats, 17 languages); the
process wall time includes start-up, reading and writing. Run twice: the first builds the
index (cold cache), the second maps it. Baseline in the same run: the same config with the
shipped same-language ``decontaminate`` stage. Peak RSS of the largest Ray worker at both sizes: memory flat in corpus size.

Suite side: an opus-mt-sized MarianMT (6+6 layers, d_model 512, FFN 2048, 8 heads; random weights,
SentencePiece vocabulary trained on Tatoeba text because no weights can be downloaded) translates
the English items of that suite through ``xcurate.contamination.translations`` on one CPU thread.
Random weights rarely stop early, so output lengths hit the backend's cap: pessimistic.

Index only (``--index-only``): the setup of ``decontaminate_translated`` for a large suite
(default ``configs/benchmarks/shared.yaml``: FLORES-200 in 204 languages, XQuAD, XCOPA) in a fresh
process, cold (builds the fuzzy index into an empty cache) and warm (maps the cached one): process
wall time, peak RSS, index size on disk; written to ``bench/results/xling_translated_index.json``.

    python bench/xling_translated_speed.py [--copies 3] [--mt-items 200]
    python bench/xling_translated_speed.py --index-only [--suite configs/benchmarks/shared.yaml]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench._common import write_json  # noqa: E402
from bench.make_contamination_eval import data_path  # noqa: E402

WORK = os.path.join(REPO, "bench", "work", "xling_translated_speed")


def human_suite() -> str:
    from bench.xling_eval import COVERED, UNCOVERED, load_formats
    from bench.xling_translated_eval import write_human_suite
    os.makedirs(os.path.join(WORK, "suite"), exist_ok=True)
    return write_human_suite(load_formats(COVERED + UNCOVERED), os.path.join(WORK, "suite"))


def corpus(copies: int) -> str:
    path = os.path.join(WORK, f"ud_docs_x{copies}.jsonl")
    if not os.path.exists(path):
        lines = open(data_path("corpus", "ud_docs.jsonl"), encoding="utf-8").read().splitlines()
        with open(path, "w", encoding="utf-8") as f:
            for c in range(copies):
                for line in lines:
                    r = json.loads(line)
                    f.write(json.dumps({"id": f"{r['id']}.{c}", "text": r["text"], "language": r["lang"]},
                                       ensure_ascii=False) + "\n")
    return path


def timed_run(stage: dict, data: str, name: str) -> Tuple[float, dict]:
    """(process wall seconds, ``RssSampler.summary()``: peak RSS and CPU seconds per process kind) of one
    ``xcurate run``."""
    import yaml
    cfg = {"input": {"paths": [data], "columns": {"language": "language"}},
           "output": {"keep_rejected": False},
           "stages": [{**stage, "resources": {"num_cpus": 1, "concurrency": 1}}]}
    cfg_path = os.path.join(WORK, f"{name}.yaml")
    with open(cfg_path, "w") as f:
        yaml.safe_dump(cfg, f)
    from bench.dedup_speed import RssSampler
    sampler = RssSampler(driver_command="xcurate")
    t0 = time.time()
    with sampler:
        subprocess.run([sys.executable, "-m", "xcurate", "run", cfg_path, "-o", os.path.join(WORK, name),
                        "--overwrite"], check=True, capture_output=True, cwd=REPO)
    return time.time() - t0, sampler.summary()


def corpus_side(copies: int) -> dict:
    """Process wall time at ``copies`` and ``4 * copies`` copies of the corpus: the difference is the
    steady-state rate (start-up, index mapping and the encoder's one-time load per actor cancel out)."""
    suite, data, big = human_suite(), corpus(copies), corpus(4 * copies)
    mb, big_mb = os.path.getsize(data) / 1e6, os.path.getsize(big) / 1e6
    cache = os.path.join(WORK, "cache")
    out = {"corpus_mb": round(mb, 2), "big_corpus_mb": round(big_mb, 2),
           "suite": "bench/xling_translated_eval.py human suite (6 formats, 17 languages)"}
    for name, stage in (("translated", {"type": "decontaminate_translated", "params": {"benchmarks": suite,
                                                                                     "cache_dir": cache}}),
                        ("ngram_baseline", {"type": "decontaminate", "params": {"benchmarks": suite,
                                                                                "cache_dir": cache}})):
        cold, _ = timed_run(stage, data, f"{name}_cold")
        warm, small_run = timed_run(stage, data, f"{name}_warm")
        warm_big, big_run = timed_run(stage, big, f"{name}_warm_big")
        rss, rss_big = small_run["peak_rss_mb_ray_worker"], big_run["peak_rss_mb_ray_worker"]
        out[name] = {"cold_s": round(cold, 1), "warm_s": round(warm, 1), "warm_big_s": round(warm_big, 1),
                     "mb_per_s_per_core_whole_process": round(big_mb / warm_big, 2),
                     "mb_per_s_per_core_steady": round((big_mb - mb) / max(warm_big - warm, 1e-9), 2),
                     "stage_seconds_big": _stage_seconds(f"{name}_warm_big"),
                     # CPU of every process (driver, Ray workers incl. reading and writing, Ray's own): MB per
                     # CPU-second, the per-core rate however the work spread over the cores
                     "cpu_s": small_run["cpu_s"], "cpu_s_big": big_run["cpu_s"],
                     "mb_per_cpu_s_steady": round((big_mb - mb) / max(big_run["cpu_s"] - small_run["cpu_s"], 1e-9), 2),
                     "peak_rss_mb_ray_worker": rss, "peak_rss_mb_ray_worker_big": rss_big,
                     "peak_rss_ratio_big_vs_small": round(rss_big / rss, 2)}
    out["ratio_translated_vs_ngram_steady"] = round(out["ngram_baseline"]["mb_per_s_per_core_steady"]
                                                    / out["translated"]["mb_per_s_per_core_steady"], 2)
    return out


def _stage_seconds(name: str) -> float:
    with open(os.path.join(WORK, name, "manifest.json")) as f:
        return round(json.load(f)["stages"][-1]["seconds"], 1)


def build_marian_base(out_dir: str) -> str:
    """opus-mt-sized MarianMT with random weights around a SentencePiece vocabulary trained on Tatoeba."""
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer
    from tests.test_synth_hf import tatoeba_sentences
    from xcurate.mt.tiny import build_tiny_marian
    from pathlib import Path
    shared = Path(os.path.dirname(os.path.dirname(data_path("corpus", "x"))))
    build_tiny_marian(tatoeba_sentences(shared), out_dir, vocab_size=8000)
    tok = MarianTokenizer.from_pretrained(out_dir)
    torch.manual_seed(0)
    cfg = MarianConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                       decoder_start_token_id=tok.pad_token_id, d_model=512, encoder_layers=6, decoder_layers=6,
                       encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
                       decoder_ffn_dim=2048, max_position_embeddings=512)
    MarianMTModel(cfg).save_pretrained(out_dir)
    return out_dir


def suite_side(n_items: int) -> dict:
    import torch
    from xcurate.contamination.suites import load_suite
    from xcurate.contamination.translations import machine_translations
    torch.set_num_threads(1)
    model = build_marian_base(os.path.join(WORK, "marian_base"))
    suite = load_suite(human_suite(), languages=["en"])
    suite.items = suite.items[:n_items]
    suite.fingerprint += f"|{n_items}|{time.time()}"  # a fresh cache entry: measure the translation
    chars = sum(len(seg) for it in suite.items for _, seg in it.segments)
    t0 = time.time()
    mt = machine_translations(suite, {"backend": {"type": "transformers", "model": model, "family": "marian",
                                                  "pair": ["en", "de"], "device": "cpu", "batch_size": 16,
                                                  "max_output_tokens": 256, "output_length_ratio": 1.5},
                                      "languages": ["de"]}, os.path.join(WORK, f"mt_cache_{time.time():.0f}"))
    seconds = time.time() - t0
    return {"model": "MarianMT opus-mt size (6+6 layers, d_model 512), random weights, vocab 8k", "items": len(mt),
            "source_chars": chars, "seconds_one_thread": round(seconds, 1),
            "items_per_s": round(len(mt) / seconds, 2), "source_chars_per_s": round(chars / seconds),
            "note": "per target language; random weights decode to the length cap (1.5 x input + 16 tokens)"}


_SETUP_CHILD = """
import json, resource, sys, time
from xcurate.stages.decontaminate import TranslatedDecontaminate
t0 = time.time()
stage = TranslatedDecontaminate(TranslatedDecontaminate.Params(benchmarks=sys.argv[1], cache_dir=sys.argv[2]))
stage.setup()
print(json.dumps({"setup_s": round(time.time() - t0, 1), "items": len(stage.items),
                  "translated_items": sum(it.origin != "original" for it in stage.items),
                  "units": len(stage.index.unit_texts), "ngram_keys": int(len(stage.index.keys)),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def index_side(suite: str) -> dict:
    """Cold (empty cache: build) and warm (cached: map) setup of the stage, each in a fresh process. The cache is
    a folder this run creates (so the cold phase is really cold) and removes when done: nothing else is deleted."""
    import tempfile
    out = {"suite": os.path.relpath(suite, REPO)}
    with tempfile.TemporaryDirectory(dir=WORK, prefix="index_cache-") as cache:
        for phase in ("cold", "warm"):
            t0 = time.time()
            done = subprocess.run([sys.executable, "-c", _SETUP_CHILD, suite, cache], check=True, capture_output=True,
                                  text=True, cwd=REPO, env={**os.environ, "XCURATE_SHARED_DATA": os.path.dirname(
                                      os.path.dirname(data_path("corpus", "x")))})
            out[phase] = {"process_wall_s": round(time.time() - t0, 1),
                          **json.loads(done.stdout.strip().splitlines()[-1])}
        out["index_mb_on_disk"] = round(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cache)
                                            for f in fs) / 1e6, 1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--mt-items", type=int, default=200)
    ap.add_argument("--skip-mt", action="store_true", help="corpus side only")
    ap.add_argument("--index-only", action="store_true", help="only the index build of --suite (module docstring)")
    ap.add_argument("--suite", default=os.path.join(REPO, "configs", "benchmarks", "shared.yaml"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    os.makedirs(WORK, exist_ok=True)
    if args.index_only:
        result = {"index": index_side(args.suite),
                  "command": f"python bench/xling_translated_speed.py {' '.join(argv or sys.argv[1:])}".strip(),
                  "note": "2-core machine shared with other jobs: seconds are pessimistic"}
        write_json(args.out or os.path.join(REPO, "bench", "results", "xling_translated_index.json"), result)
        return 0
    args.out = args.out or os.path.join(REPO, "bench", "results", "xling_translated_speed.json")
    previous = json.load(open(args.out)) if args.skip_mt and os.path.exists(args.out) else {}
    result = {"corpus_side": corpus_side(args.copies),
              "suite_side_mt": previous.get("suite_side_mt") if args.skip_mt else suite_side(args.mt_items),
              "command": f"python bench/xling_translated_speed.py {' '.join(argv or sys.argv[1:])}".strip(),
              "note": "2-core machine shared with other jobs: absolute figures are pessimistic; ratios are side by side"}
    result["suite_side_mt_command"] = previous.get("suite_side_mt_command", previous.get("command")) \
        if args.skip_mt else result["command"]
    print(json.dumps(result, indent=1))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
