"""Throughput of the synth MT backends.

1. transformers backend: examples/s and source tokens/s translating Alpaca records
   (instruction + input + output, each split into chunks ≤ max_input_tokens) through the
   Translator. Baseline in the same run: one chunk per generate() call (batch_size 1) vs
   length-sorted batches. On CPU here the model is a tiny random M2M100 built from Tatoeba
   text (no download); on a GPU machine pass a real model (local path or hub id already in
   the HF cache), e.g.

       python bench/synth_speed.py --model facebook/nllb-200-distilled-600M --device cuda \
           --records 512 --batch-size 64 --skip-http

2. OpenAI-compatible HTTP backend: requests/s against the local fake server (loopback,
   fixed per-request latency) with max_concurrency 1 (baseline), 8 and 32.

Writes bench/results/synth_speed.json.
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from xcurate.mt.base import TranslationRequest, Translator  # noqa: E402
from xcurate.mt.languages import LanguageTable  # noqa: E402


def shared_data() -> str:
    return os.environ.get("XCURATE_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))


def alpaca_texts(n: int):
    path = os.path.join(shared_data(), "instructions", "alpaca_en_sample.jsonl")
    with open(path, encoding="utf-8") as f:
        recs = [json.loads(line) for line in itertools.islice(f, n)]
    return [t for r in recs for t in (r["instruction"], r["input"], r["output"]) if t.strip()], len(recs)


def tiny_model(workdir: str) -> str:
    from xcurate.mt.tiny import build_tiny_m2m100
    sents = []
    with gzip.open(os.path.join(shared_data(), "corpus", "tatoeba_laser_v1.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in ("deu", "fra", "spa", "cmn"):
                sents += [r["text"], r["eng"]]
            if len(sents) >= 8000:
                break
    return build_tiny_m2m100(sents, os.path.join(workdir, "tiny_m2m100"))


def bench_transformers(model: str, device: str, texts, n_records: int, batch_size: int, max_out: int,
                       tgt: str) -> dict:
    from xcurate.mt.hf_backend import HFBackendConfig, HFSeq2SeqBackend
    table = LanguageTable.load()
    results = {}
    for label, bs in (("baseline_batch1", 1), (f"batched_{batch_size}", batch_size)):
        backend = HFSeq2SeqBackend(HFBackendConfig(model=model, device=device, batch_size=bs,
                                                   max_input_tokens=128, max_output_tokens=max_out,
                                                   local_files_only=True))
        backend.setup()
        translator = Translator(backend, table)
        backend.translate(["warm up"], table.resolve("en"), table.resolve(tgt))
        t0 = time.perf_counter()
        out = translator.translate([TranslationRequest(t, "en", tgt) for t in texts])
        secs = time.perf_counter() - t0
        failures = sum(1 for o in out if not isinstance(o, str))
        results[label] = {"seconds": round(secs, 3), "records": n_records, "texts": len(texts),
                          "chunks": translator.stats["chunks_translated"],
                          "source_tokens": translator.stats["source_tokens"],
                          "examples_per_s": round(n_records / secs, 2),
                          "source_tokens_per_s": round(translator.stats["source_tokens"] / secs, 1),
                          "generate_calls": backend.batches_run, "failures": failures}
        print(f"transformers {label:>18}: {results[label]['examples_per_s']:8.2f} examples/s "
              f"{results[label]['source_tokens_per_s']:9.1f} src tokens/s ({secs:.1f}s, "
              f"{backend.batches_run} generate calls)")
    base, fast = results["baseline_batch1"], results[f"batched_{batch_size}"]
    results["speedup_vs_batch1"] = round(fast["examples_per_s"] / base["examples_per_s"], 2)
    print(f"transformers batched / batch-1 speedup: {results['speedup_vs_batch1']}x")
    return results


def bench_http(n_requests: int, latency_s: float) -> dict:
    from xcurate.mt.fake_server import FakeMTServer
    from xcurate.mt.http_backend import HttpBackendConfig, OpenAIBackend
    table = LanguageTable.load()
    texts = [f"Request number {i} of the benchmark." for i in range(n_requests)]
    results = {}
    for conc in (1, 8, 32):
        with FakeMTServer(latency_s=latency_s) as server:
            backend = OpenAIBackend(HttpBackendConfig(base_url=server.url, model="fake", api_key_env=None,
                                                      prompt="{text}", max_concurrency=conc, timeout_s=10))
            t0 = time.perf_counter()
            out = backend.translate(texts, table.resolve("en"), table.resolve("de"))
            secs = time.perf_counter() - t0
            backend.close()
            ok = sum(1 for o in out if isinstance(o, str))
            results[f"concurrency_{conc}"] = {"requests": n_requests, "ok": ok, "seconds": round(secs, 3),
                                              "requests_per_s": round(n_requests / secs, 1),
                                              "server_max_in_flight": server.max_in_flight}
        print(f"http concurrency {conc:>3}: {results[f'concurrency_{conc}']['requests_per_s']:8.1f} req/s "
              f"(max in flight {server.max_in_flight}, {ok}/{n_requests} ok)")
    base = results["concurrency_1"]["requests_per_s"]
    for conc in (8, 32):
        results[f"speedup_{conc}_vs_1"] = round(results[f"concurrency_{conc}"]["requests_per_s"] / base, 2)
    print(f"http speedup vs concurrency 1: 8 -> {results['speedup_8_vs_1']}x, 32 -> {results['speedup_32_vs_1']}x")
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="seq2seq model path/hub id (default: tiny random M2M100)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--records", type=int, default=64, help="Alpaca records translated")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-output-tokens", type=int, default=64)
    ap.add_argument("--tgt", default="de")
    ap.add_argument("--http-requests", type=int, default=400)
    ap.add_argument("--http-latency", type=float, default=0.02, help="seconds the fake server waits per request")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "synth_speed.json"))
    args = ap.parse_args()

    import torch
    texts, n_records = alpaca_texts(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(tmp)
        hf = bench_transformers(model, args.device, texts, n_records, args.batch_size, args.max_output_tokens,
                                args.tgt)
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "transformers": {"model": args.model or "tiny random M2M100 (d_model 32, 1+1 layers, 2k vocab)",
                         "device": args.device, "target": args.tgt, "max_output_tokens": args.max_output_tokens,
                         **hf},
    }
    if not args.skip_http:
        report["http"] = {"latency_s": args.http_latency, **bench_http(args.http_requests, args.http_latency)}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
