"""Cost of the model-based stages, docs/s per core, against minhash_dedup measured in the same run.

Each stage runs alone as a user runs it (`xcurate run CONFIG -o OUT`, one process: start-up, Ray, read, stage,
write, manifest) on the same real input (UD documents of 12 languages, resampled, mean ~900 characters);
docs/s per core = documents / process wall seconds / CPUs. The stage's own seconds from the manifest (warm:
without start-up, read and write) are given beside it.

    python bench/model_signals_speed.py [--docs 1500]     # -> bench/results/model_signals_speed.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

import yaml

from _common import REPO, RESULTS, WORK, load_ud_docs

STAGES = {
    "minhash_dedup (baseline)": {"type": "minhash_dedup"},
    "classifier (hashed n-grams)": {"type": "classifier", "params": {"model": "{hashed}", "mode": "annotate_only"}},
    "classifier (USE-m3 + head)": {"type": "classifier", "params": {"model": "{encoder}", "mode": "annotate_only"}},
    "semantic_dedup": {"type": "semantic_dedup"},
    "semantic_dedup cross_lingual": {"type": "semantic_dedup", "params": {"cross_lingual": True}},
}


def write_input(path, n: int) -> None:
    rng = random.Random(0)
    docs = load_ud_docs()
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            d = rng.choice(docs)
            f.write(json.dumps({"id": f"d{i:06d}", "text": d["text"], "lang": d["lang_script"]}, ensure_ascii=False) + "\n")


def models(folder) -> dict:
    """The two example classifiers (trained here from the classifier example's data when missing)."""
    sys.path.insert(0, str(REPO / "bench"))
    import classifier_example
    from xcurate.classify.model import FeatureSpec
    from xcurate.workflows.train_classifier import read_examples, train_to_folder
    data = folder / "examples"
    if not (data / "positive.jsonl").exists():
        classifier_example.write_examples(data)
    out = {}
    for kind in ("hashed", "encoder"):
        target = folder / f"model_{kind}"
        if not (target / "model.json").exists():
            pos = read_examples([str(data / "positive.jsonl")], "text", ["lang_script"])
            neg = read_examples([str(data / "negative.jsonl")], "text", ["lang_script"])
            # speed does not depend on the training size: 300 examples per class are enough for a working head
            pos, neg = pos[::max(1, len(pos) // 300)], neg[::max(1, len(neg) // 300)]
            rows = pos + neg
            train_to_folder([r["text"] for r in rows], [True] * len(pos) + [False] * len(neg),
                            [r["lang_script"] for r in rows], str(target), FeatureSpec(kind=kind), source="bench")
        out[kind] = str(target)
    return out


def run_one(name: str, stage: dict, src, folder, cpus: int) -> dict:
    config = {"input": {"paths": [str(src)], "columns": {"lang": "language"}}, "ray": {"num_cpus": cpus},
              "stages": [stage]}
    cfg_path = folder / (name.split()[0] + ("_x" if "cross" in name else "") + ("_enc" if "USE" in name else "")
                         + ".yaml")
    cfg_path.write_text(yaml.safe_dump(config))
    out = folder / ("out_" + cfg_path.stem)
    started = time.time()
    subprocess.run([str(REPO / ".venv" / "bin" / "xcurate"), "run", str(cfg_path), "-o", str(out), "--overwrite", "-q"],
                   check=True)
    wall = time.time() - started
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(s for s in manifest["stages"] if s["name"] == stage["type"])
    docs = manifest["stages"][0]["input"]
    return {"documents": docs, "wall_s": round(wall, 1), "docs_per_s_per_core": round(docs / wall / cpus, 1),
            "stage_s": round(entry.get("seconds", 0.0), 1),
            "warm_docs_per_s_per_core": round(docs / max(entry.get("seconds", 0.0), 1e-9) / cpus, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1500)
    ap.add_argument("--only", default=None, help="substring of the stage names to measure (with the baseline); "
                                                  "other entries are kept from the last results file")
    args = ap.parse_args()
    folder = WORK / "model_signals_speed"
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"input_{args.docs}.jsonl"
    if not src.exists():
        write_input(src, args.docs)
    paths = models(folder)
    cpus = os.cpu_count() or 1
    out_file = RESULTS.joinpath("model_signals_speed.json")
    results = json.loads(out_file.read_text())["stages"] if args.only and out_file.exists() else {}
    started = time.strftime("%Y-%m-%dT%H:%M")
    for name, stage in STAGES.items():
        if args.only and args.only not in name and "baseline" not in name:
            continue
        stage = json.loads(json.dumps(stage).replace("{hashed}", paths["hashed"]).replace("{encoder}", paths["encoder"]))
        results[name] = {**run_one(name, stage, src, folder, cpus), "measured": started}
        print(f"{name:32s} {results[name]['docs_per_s_per_core']:8.1f} docs/s/core "
              f"(stage alone {results[name]['warm_docs_per_s_per_core']:.1f}), wall {results[name]['wall_s']} s")
    base = results["minhash_dedup (baseline)"]["docs_per_s_per_core"]
    for r in results.values():
        if r["measured"] == started:  # ratios only against the baseline of the same invocation
            r["vs_minhash"] = round(r["docs_per_s_per_core"] / base, 3)
            r["minhash_docs_per_s_per_core_then"] = base
    out_file.write_text(json.dumps(
        {"machine": f"{cpus} CPU cores shared with other jobs (load varied; ratios measured side by side)",
         "input": f"{args.docs} UD documents (12+ languages, real text), one JSONL", "stages": results}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
