"""The whole corpus pipeline as a user runs it: ``xcurate run`` vs the same steps from datatrove's blocks.

Input: ``--mb`` of real multilingual text (``bench.dedup_speed.make_corpus``: UD sentences of 62+
languages resampled into documents, 8% planted near copies and 2% exact copies), as JSONL.

* ours: ``xcurate run`` in a subprocess (process wall time: Ray start, reading JSONL, every stage,
  writing Parquet) with normalize → length → langid → quality (datatrove's default thresholds,
  ``profile: datatrove_defaults``) → exact → MinHash 14×8 5-grams → same-language 13-gram
  decontamination → cross-lingual check (``decontaminate_translated``: the demo suite's human
  translations); per-stage seconds from the manifest (summed over tasks).
* datatrove 0.10.1 on ``LocalPipelineExecutor(workers=2)``: LanguageFilter (the same bundled
  lid.176.ftz), a length filter, GopherRepetition / GopherQuality / C4Quality / FineWebQuality with
  their defaults, then its 4-step MinHash (14×8, 5-grams). datatrove has no same-language
  decontamination without lighteval tasks and no cross-lingual check, so its side does two steps
  less (ours is not favoured).

``--pipeline minhash``: only MinHash dedup on both sides (ours: ``xcurate run`` with one
``minhash_dedup`` stage; datatrove: its 4 steps reading the JSONL), so that dedup F1 is measured on
the whole input rather than on the few documents datatrove's English-tuned filters keep.
``--pipeline quality``: langid + quality on both sides, cold (each side's process start-up included).

Reported: wall times and their ratio, CPU seconds of all processes and their ratio (robust to other
load on the machine), per-stage seconds, peak RSS (driver + descendants), documents kept per
language, filter agreement (same keep/drop before dedup, per document), the dedup F1 of each side
against the planted duplicates (cluster-aware: per planted pair, removing one copy is right) among
the documents that side's filters kept.

    python -m bench.e2e                            # 500 MB, full pipeline -> bench/results/e2e.json
    python -m bench.e2e --pipeline minhash         # -> e2e_minhash.json
    python -m bench.e2e --pipeline quality --mb 50 # -> e2e_quality.json
    python -m bench.e2e --mb 5                     # smoke run
"""
from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml
from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FT176LID

from bench._common import REPO, WORK, scratch_dir, write_result
from bench.dedup_speed import PARAMS, RssSampler, make_corpus
from xcurate.stages.langid import bundled_model_path

WORKERS = 2
MIN_CHARS = 20
FILTER_STAGES = ("normalize", "length_filter", "langid", "quality")
DEDUP_REASONS = ("exact_duplicate", "near_duplicate")


def write_jsonl(docs, directory: Path, files: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    per = -(-len(docs) // files)
    for f in range(files):
        with open(directory / f"part{f:05d}.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n"
                           for d in docs[f * per:(f + 1) * per])


MINHASH = {"type": "minhash_dedup", "params": {**PARAMS, "hash_mode": "fast"}}
FILTERS = [{"type": "normalize", "params": {"form": "NFC", "collapse_whitespace": True}},
           {"type": "length_filter", "params": {"min_chars": MIN_CHARS}},
           {"type": "langid"},
           # datatrove's filter defaults on both sides (the default profile, fineweb2, fits thresholds
           # per language; datatrove's blocks would need one filter chain per language to match it)
           {"type": "quality", "params": {"profile": "datatrove_defaults"}}]
DECONTAMINATE = {"type": "decontaminate", "params": {"benchmarks": str(REPO / "configs/benchmarks/demo_en.yaml"),
                                                     "policy": "remove_span"}}
# the cross-lingual check: the suite's human translations matched same-language (its corpus-side rate with a
# 19,401-item suite: bench/xling_translated_speed.py)
DECONTAMINATE_TRANSLATED = {"type": "decontaminate_translated",
                            "params": {"benchmarks": str(REPO / "configs/benchmarks/demo.yaml")}}
PIPELINES = {"full": [*FILTERS, {"type": "exact_dedup"}, MINHASH, DECONTAMINATE, DECONTAMINATE_TRANSLATED],
             "minhash": [MINHASH],
             "quality": [{"type": "langid"}, {"type": "quality", "params": {"profile": "datatrove_defaults"}}]}
RESULT_NAMES = {"full": "e2e", "minhash": "e2e_minhash", "quality": "e2e_quality"}


def our_config(jsonl_dir: Path, pipeline: str = "full", cpus: int = WORKERS) -> dict:
    return {"input": {"paths": [str(jsonl_dir / "*.jsonl")], "text_field": "text", "id_field": "id"},
            "output": {"keep_rejected": True}, "ray": {"num_cpus": cpus, "progress_bars": False},
            "stages": PIPELINES[pipeline]}


def run_ours(jsonl_dir: Path, work: Path, pipeline: str = "full") -> dict:
    cfg = work / "ours.yaml"
    cfg.write_text(yaml.safe_dump(our_config(jsonl_dir, pipeline)))
    sampler = RssSampler(driver_command="xcurate")
    t0 = time.time()
    with sampler:
        subprocess.run([sys.executable, "-m", "xcurate", "run", str(cfg), "-o", str(work / "ours"), "--overwrite"],
                       check=True, cwd=str(REPO))
    wall = time.time() - t0
    manifest = json.loads((work / "ours" / "manifest.json").read_text())
    return {"wall_s": round(wall, 2), "stage_s": {s["name"]: s["seconds"] for s in manifest["stages"]},
            **sampler.summary(), "decisions": our_decisions(work / "ours")}


def our_decisions(out: Path) -> dict:
    """{doc id: None (kept) | "filter" | "dedup" | other stage} and the language of each kept doc."""
    decisions, langs = {}, {}
    kept = _read_parquet(out / "data", ["id", "language"])
    kept_langs = kept["language"].to_pylist() if "language" in kept.column_names else [None] * kept.num_rows
    for doc_id, lang in zip(kept["id"].to_pylist(), kept_langs):
        decisions[doc_id], langs[doc_id] = None, lang
    rejected = _read_parquet(out / "rejected", ["id", "reason", "stage"])
    if rejected.num_rows:
        for doc_id, reason, stage in zip(*(rejected[c].to_pylist() for c in ("id", "reason", "stage"))):
            decisions[doc_id] = ("filter" if stage in FILTER_STAGES else "dedup" if reason in DEDUP_REASONS
                                 else stage)
    return {"decision": decisions, "language": langs}


def _read_parquet(directory: Path, columns: list):
    import pyarrow as pa
    import pyarrow.dataset as pads
    if not directory.is_dir():
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    ds = pads.dataset(str(directory), format="parquet", partitioning="hive")
    return ds.to_table(columns=[c for c in columns if c in ds.schema.names])


class LocalFT176(FT176LID):
    """datatrove's lid.176 predictor reading the bundled lid.176.ftz that our langid uses (it would
    download lid.176.bin)."""

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText
            self._model = _FastText(bundled_model_path())
        return self._model

    def predict(self, doc):
        # datatrove's predict, with fasttext-predict's plain float scores (fasttext gives numpy ones)
        langs, scores = self.model.predict(doc.text.replace("\n", " "), k=self.k)
        pairs = {lang.split("__")[2]: float(score) for lang, score in zip(langs, scores)}
        return max(pairs.items(), key=lambda x: x[1]), pairs


class LocalLanguageFilter(LanguageFilter):
    """datatrove's LanguageFilter on the local model; its dependency check looks for the ``fasttext``
    distribution, while this venv's ``fasttext`` module comes from ``fasttext-predict``."""

    def __new__(cls):
        return object.__new__(cls)

    def __init__(self):
        super().__init__(languages=None)
        self.model = LocalFT176()


def datatrove_steps(jsonl_dir: Path, work: Path, files: int, pipeline: str = "full") -> list:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LambdaFilter)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig(n_grams=PARAMS["ngram_size"], num_buckets=PARAMS["bands"],
                        hashes_per_bucket=PARAMS["rows"], seed=PARAMS["seed"])
    logs = str(work / "logs")
    quality = [LocalLanguageFilter(), GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(),
               FineWebQualityFilter()]
    first = {"full": [JsonlReader(str(jsonl_dir)), LambdaFilter(lambda doc: len(doc.text) >= MIN_CHARS), *quality,
                      JsonlWriter(str(work / "filtered")), MinhashDedupSignature(output_folder=str(work / "sigs"),
                                                                                   config=cfg)],
             "minhash": [JsonlReader(str(jsonl_dir)), MinhashDedupSignature(output_folder=str(work / "sigs"),
                                                                             config=cfg)],
             "quality": [JsonlReader(str(jsonl_dir)), *quality, JsonlWriter(str(work / "filtered"))]}[pipeline]
    steps = [("filters+signatures" if pipeline == "full" else "signatures" if pipeline == "minhash" else "filters",
              LocalPipelineExecutor(pipeline=first, tasks=files, workers=WORKERS, logging_dir=f"{logs}/1"))]
    if pipeline == "quality":
        return steps
    deduped_input = JsonlReader(str(work / "filtered")) if pipeline == "full" else JsonlReader(str(jsonl_dir))
    return steps + [
        ("buckets", LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(
            input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=cfg)],
            tasks=cfg.num_buckets, workers=WORKERS, logging_dir=f"{logs}/2")),
        ("cluster", LocalPipelineExecutor(pipeline=[MinhashDedupCluster(
            input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=cfg)],
            tasks=1, workers=1, logging_dir=f"{logs}/3")),
        ("filter", LocalPipelineExecutor(pipeline=[deduped_input, MinhashDedupFilter(
            input_folder=str(work / "remove")), JsonlWriter(str(work / "out"))], tasks=files, workers=WORKERS,
            logging_dir=f"{logs}/4")),
    ]


def run_datatrove(jsonl_dir: Path, work: Path, files: int, all_ids, pipeline: str = "full") -> dict:
    sampler = RssSampler()
    step_s = {}
    t0 = time.time()
    with sampler:
        for name, step in datatrove_steps(jsonl_dir, work, files, pipeline):
            s = time.time()
            step.run()
            step_s[name] = round(time.time() - s, 2)
    wall = time.time() - t0
    # the documents its filters kept, and those left after dedup
    passed = set(all_ids) if pipeline == "minhash" else set(read_jsonl_gz(work / "filtered"))
    out = read_jsonl_gz(work / "filtered" if pipeline == "quality" else work / "out")
    langs = {doc_id: doc.get("metadata", {}).get("language") for doc_id, doc in out.items()}
    decisions = {doc_id: (None if doc_id in out else "dedup") for doc_id in passed}
    return {"wall_s": round(wall, 2), "stage_s": step_s, "task_s": datatrove_task_seconds(work / "logs"),
            **sampler.summary(), "decisions": {"decision": decisions, "language": langs}}


# datatrove's steps (the end of their names in its stats.json) -> the stage of ours that does the same work
DATATROVE_STEP_STAGES = {"Language ID": "langid", "Gopher Repetition": "quality", "Gopher Quality": "quality",
                         "C4 Quality": "quality", "FineWeb Quality": "quality", "MinHash stage 1": "minhash_dedup",
                         "MinHash stage 2": "minhash_dedup", "MinHash stage 3": "minhash_dedup",
                         "MinHash stage 4": "minhash_dedup"}


def datatrove_task_seconds(logs: Path) -> dict:
    """Seconds datatrove's steps spent, summed over their tasks (its own ``stats.json`` per executor), grouped
    by the stage of ours that does the same work: the unit of our manifest's stage seconds. A MinHash step's
    timer also runs while it pulls documents through the steps before it in its pipeline: those are taken off."""
    grouped: dict = {}
    for stats in sorted(logs.glob("*/stats.json")):
        upstream = 0.0
        for step in json.loads(stats.read_text()):
            name, stats = step["name"], step["time_stats"]
            total = stats["total"] if isinstance(stats, dict) else stats  # a bare 0 for a step that saw nothing
            stage = next((ours for theirs, ours in DATATROVE_STEP_STAGES.items() if name.endswith(theirs)),
                         "read, length filter, write")
            own = max(0.0, total - upstream) if "MinHash" in name else total
            upstream += own
            grouped[stage] = round(grouped.get(stage, 0.0) + own, 2)
    return grouped


def ten_times_bound(ours: dict, theirs: dict) -> dict:
    """What 10x datatrove's CPU seconds leaves ours, next to what our stages took in the same run: the
    language ID runs the same fastText model on both sides, so its cost is the floor to compare with."""
    budget = theirs["cpu_s"] / 10
    langid = ours["stage_s"].get("langid", 0.0)
    per_stage = {stage: round(theirs["task_s"][stage] / ours["stage_s"][stage], 2)
                 for stage in theirs["task_s"] if ours["stage_s"].get(stage, 0) > 0.05}
    return {"cpu_budget_s": round(budget, 1), "ours_cpu_s": ours["cpu_s"], "ours_langid_task_s": langid,
            "budget_left_after_langid_s": round(budget - langid, 1),
            "ours_rest_cpu_s": round(ours["cpu_s"] - langid, 1), "datatrove_over_ours_per_stage": per_stage}


def read_jsonl_gz(directory: Path) -> dict:
    docs = {}
    for path in sorted(directory.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                docs[d["id"]] = d
    return docs


def compare(all_ids, ours: dict, theirs: dict, dup_of: dict) -> dict:
    """Filter agreement over every document; dedup F1 of each side against the planted pairs (which
    copy of a pair a side keeps is its own rule, so removals are not compared document by document)."""
    ours_d, theirs_d = ours["decision"], theirs["decision"]
    passed_ours = {i for i in all_ids if ours_d.get(i) in (None, "dedup", "decontaminate")}
    passed_theirs = set(theirs_d)  # datatrove: exactly the documents its filters kept
    agree = sum((i in passed_ours) == (i in passed_theirs) for i in all_ids)
    removed_ours = {i for i in passed_ours if ours_d.get(i) == "dedup"}
    removed_theirs = {i for i in passed_theirs if theirs_d.get(i) == "dedup"}
    return {"filter_agreement": round(agree / max(1, len(all_ids)), 4),
            "filter_kept": {"ours": len(passed_ours), "datatrove": len(passed_theirs)},
            "dedup_vs_planted": {"ours": planted_f1(passed_ours, removed_ours, dup_of),
                                 "datatrove": planted_f1(passed_theirs, removed_theirs, dup_of)}}


def planted_f1(passed: set, removed: set, dup_of: dict) -> dict:
    """Cluster-aware: a planted pair (original, copy) whose two documents passed the filters is
    found when one of them is removed; removing both counts one false positive, as does removing
    a document of no such pair."""
    pairs = [(copy, orig) for copy, orig in dup_of.items() if copy in passed and orig in passed]
    in_pairs = {d for pair in pairs for d in pair}
    tp = sum(1 for pair in pairs if removed & set(pair))
    fp = len(removed - in_pairs) + sum(1 for pair in pairs if set(pair) <= removed)
    fn = len(pairs) - tp
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"pairs": len(pairs), "removed": len(removed), "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else None}  # None: no pair and nothing removed


def kept_per_language(side: dict) -> dict:
    return dict(Counter(side["language"].values()).most_common())


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, side in zip(axes, ("ours", "datatrove")):
        stages = result[side]["stage_s"]
        ax.barh(list(stages), list(stages.values()))
        ax.set_title(f"{side}: {result[side]['wall_s']} s wall, {result[side]['cpu_s']} CPU-s")
        ax.set_xlabel("seconds (ours: summed over tasks; datatrove: per step)")
    fig.suptitle(f"{result['pipeline']}: {result['input']['mb']} MB, {result['input']['docs']} docs: "
                 f"{result['speedup']}x wall, {result['cpu_ratio']}x CPU")
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=500)
    ap.add_argument("--pipeline", choices=sorted(PIPELINES), default="full")
    ap.add_argument("--files", type=int, default=16, help="JSONL input files (datatrove tasks)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="", help="recorded with the result, e.g. 'machine shared with other jobs'")
    args = ap.parse_args(argv)
    work = WORK / RESULT_NAMES[args.pipeline]
    scratch_dir(work)
    docs = make_corpus(args.mb, args.seed)
    write_jsonl(docs, work / "jsonl", args.files)
    all_ids = [d["id"] for d in docs]
    dup_of = {d["id"]: d["dup_of"] for d in docs if "dup_of" in d}
    mb = round(sum(len(d["text"].encode()) for d in docs) / 1e6, 1)
    del docs
    ours = run_ours(work / "jsonl", work, args.pipeline)
    theirs = run_datatrove(work / "jsonl", work / "datatrove", args.files, all_ids, args.pipeline)
    result = {"pipeline": args.pipeline, "stages": [st["type"] for st in PIPELINES[args.pipeline]],
              "note": args.note, "input": {"mb": mb, "docs": len(all_ids), "planted_pairs": len(dup_of),
                                           "files": args.files, "workers": WORKERS},
              "speedup": round(theirs["wall_s"] / ours["wall_s"], 2),
              "cpu_ratio": round(theirs["cpu_s"] / max(ours["cpu_s"], 0.1), 2),
              **compare(all_ids, ours["decisions"], theirs["decisions"], dup_of)}
    for name, side in (("ours", ours), ("datatrove", theirs)):
        result[name] = {k: v for k, v in side.items() if k != "decisions"}
        result[name]["kept_per_language"] = kept_per_language(side["decisions"])
    # per-core rates for the cost model in bench/README.md: input MB per task-second of each stage
    # (a stage after the filters sees fewer documents; its rate is still per MB of input)
    result["ours"]["input_mb_per_stage_second"] = {name: round(mb / sec, 2) for name, sec in ours["stage_s"].items()
                                                   if sec > 0.05}
    if args.pipeline == "full":
        result["ten_times_bound"] = ten_times_bound(result["ours"], result["datatrove"])
    out = write_result(RESULT_NAMES[args.pipeline], result)
    plot(result, out.with_suffix(".png"))
    print(json.dumps({k: result[k] for k in ("pipeline", "input", "speedup", "cpu_ratio", "filter_agreement",
                                             "dedup_vs_planted")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
