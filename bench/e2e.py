"""The whole corpus pipeline as a user runs it: ``xcurate run`` vs the same steps from datatrove's blocks.

Input: ``--mb`` of real multilingual text (``bench.dedup_speed.make_corpus``: UD sentences of 62+
languages resampled into documents, 8% planted near copies and 2% exact copies), as JSONL.

* ours: ``xcurate run`` in a subprocess (process wall time: Ray start, reading JSONL, every stage,
  writing Parquet) with normalize → length → langid → quality (datatrove's default thresholds,
  ``profile: datatrove_defaults``) → exact → MinHash 14×8 5-grams → same-language 13-gram
  decontamination; per-stage seconds from the manifest (summed over tasks).
* datatrove 0.10.1 on ``LocalPipelineExecutor(workers=2)``: LanguageFilter (the same bundled
  lid.176.ftz), a length filter, GopherRepetition / GopherQuality / C4Quality / FineWebQuality with
  their defaults, then its 4-step MinHash (14×8, 5-grams). datatrove has no same-language
  decontamination without lighteval tasks, so its side does one step less (ours is not favoured).

Reported: wall times and their ratio, per-stage seconds, peak RSS (driver + descendants),
documents kept per language, filter agreement (same keep/drop before dedup, per document) and the
agreement of the dedup removals (F1 of ours against datatrove's, on documents both kept).

    python -m bench.e2e                  # 500 MB
    python -m bench.e2e --mb 5           # smoke run
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml
from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FT176LID

from bench._common import REPO, WORK, write_result
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


def our_config(jsonl_dir: Path) -> dict:
    return {"input": {"paths": [str(jsonl_dir / "*.jsonl")], "text_field": "text", "id_field": "id"},
            "output": {"keep_rejected": True}, "ray": {"num_cpus": WORKERS, "progress_bars": False},
            "stages": [{"type": "normalize", "params": {"form": "NFC", "collapse_whitespace": True}},
                       {"type": "length_filter", "params": {"min_chars": MIN_CHARS}},
                       {"type": "langid"},
                       {"type": "quality", "params": {"profile": "datatrove_defaults"}},
                       {"type": "exact_dedup"},
                       {"type": "minhash_dedup", "params": {**PARAMS, "hash_mode": "fast"}},
                       {"type": "decontaminate", "params": {"benchmarks": str(REPO / "configs/benchmarks/demo_en.yaml"),
                                                            "policy": "remove_span"}}]}


def run_ours(jsonl_dir: Path, work: Path) -> dict:
    cfg = work / "ours.yaml"
    cfg.write_text(yaml.safe_dump(our_config(jsonl_dir)))
    sampler = RssSampler()
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
    import pyarrow.dataset as pads
    decisions, langs = {}, {}
    kept = pads.dataset(str(out / "data"), format="parquet", partitioning="hive").to_table(columns=["id", "language"])
    for doc_id, lang in zip(kept["id"].to_pylist(), kept["language"].to_pylist()):
        decisions[doc_id], langs[doc_id] = None, lang
    rejected = pads.dataset(str(out / "rejected"), format="parquet", partitioning="hive").to_table(
        columns=["id", "reason", "stage"])
    for doc_id, reason, stage in zip(*(rejected[c].to_pylist() for c in ("id", "reason", "stage"))):
        decisions[doc_id] = ("filter" if stage in FILTER_STAGES else "dedup" if reason in DEDUP_REASONS else stage)
    return {"decision": decisions, "language": langs}


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


def datatrove_steps(jsonl_dir: Path, work: Path, files: int) -> list:
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
    filters = [JsonlReader(str(jsonl_dir)), LambdaFilter(lambda doc: len(doc.text) >= MIN_CHARS),
               LocalLanguageFilter(),
               GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter(),
               JsonlWriter(str(work / "filtered")), MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg)]
    return [
        ("filters+signatures", LocalPipelineExecutor(pipeline=filters, tasks=files, workers=WORKERS,
                                                     logging_dir=f"{logs}/1")),
        ("buckets", LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(
            input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=cfg)],
            tasks=cfg.num_buckets, workers=WORKERS, logging_dir=f"{logs}/2")),
        ("cluster", LocalPipelineExecutor(pipeline=[MinhashDedupCluster(
            input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=cfg)],
            tasks=1, workers=1, logging_dir=f"{logs}/3")),
        ("filter", LocalPipelineExecutor(pipeline=[JsonlReader(str(work / "filtered")), MinhashDedupFilter(
            input_folder=str(work / "remove")), JsonlWriter(str(work / "out"))], tasks=files, workers=WORKERS,
            logging_dir=f"{logs}/4")),
    ]


def run_datatrove(jsonl_dir: Path, work: Path, files: int) -> dict:
    sampler = RssSampler()
    step_s = {}
    t0 = time.time()
    with sampler:
        for name, step in datatrove_steps(jsonl_dir, work, files):
            s = time.time()
            step.run()
            step_s[name] = round(time.time() - s, 2)
    wall = time.time() - t0
    filtered, langs = read_jsonl_gz(work / "filtered"), {}
    out = read_jsonl_gz(work / "out")
    for doc_id, doc in out.items():
        langs[doc_id] = doc.get("metadata", {}).get("language")
    decisions = {doc_id: (None if doc_id in out else "dedup") for doc_id in filtered}
    return {"wall_s": round(wall, 2), "stage_s": step_s, **sampler.summary(),
            "decisions": {"decision": decisions, "language": langs}}


def read_jsonl_gz(directory: Path) -> dict:
    docs = {}
    for path in sorted(directory.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                docs[d["id"]] = d
    return docs


def compare(all_ids, ours: dict, theirs: dict) -> dict:
    """Filter agreement over every document; dedup F1 of ours vs datatrove on documents both kept."""
    ours_d, theirs_d = ours["decision"], theirs["decision"]
    passed_ours = {i for i in all_ids if ours_d.get(i) in (None, "dedup", "decontaminate")}
    passed_theirs = set(theirs_d)  # datatrove's filtered/ holds exactly the documents its filters kept
    agree = sum((i in passed_ours) == (i in passed_theirs) for i in all_ids)
    both = passed_ours & passed_theirs
    ours_rm = {i for i in both if ours_d.get(i) == "dedup"}
    theirs_rm = {i for i in both if theirs_d.get(i) == "dedup"}
    tp = len(ours_rm & theirs_rm)
    p = tp / len(ours_rm) if ours_rm else 0.0
    r = tp / len(theirs_rm) if theirs_rm else 0.0
    f1 = round(2 * p * r / (p + r), 4) if p + r else (None if not ours_rm | theirs_rm else 0.0)
    return {"filter_agreement": round(agree / max(1, len(all_ids)), 4),
            "filter_kept": {"ours": len(passed_ours), "datatrove": len(passed_theirs)},
            "dedup_removed": {"ours": len(ours_rm), "datatrove": len(theirs_rm), "both": tp},
            "dedup_f1_vs_datatrove": f1}  # None: neither side removed a document


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
        ax.set_title(f"{side}: {result[side]['wall_s']} s wall")
        ax.set_xlabel("seconds (ours: summed over tasks)")
    fig.suptitle(f"{result['input']['mb']} MB, {result['input']['docs']} docs: {result['speedup']}x")
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=500)
    ap.add_argument("--files", type=int, default=16, help="JSONL input files (datatrove tasks)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    work = WORK / "e2e"
    shutil.rmtree(work, ignore_errors=True)
    docs = make_corpus(args.mb, args.seed)
    write_jsonl(docs, work / "jsonl", args.files)
    all_ids = [d["id"] for d in docs]
    mb = round(sum(len(d["text"].encode()) for d in docs) / 1e6, 1)
    del docs
    ours = run_ours(work / "jsonl", work)
    theirs = run_datatrove(work / "jsonl", work / "datatrove", args.files)
    result = {"input": {"mb": mb, "docs": len(all_ids), "files": args.files, "workers": WORKERS},
              "speedup": round(theirs["wall_s"] / ours["wall_s"], 2), **compare(all_ids, ours["decisions"],
                                                                               theirs["decisions"])}
    for name, side in (("ours", ours), ("datatrove", theirs)):
        result[name] = {k: v for k, v in side.items() if k != "decisions"}
        result[name]["kept_per_language"] = kept_per_language(side["decisions"])
    out = write_result("e2e", result)
    plot(result, out.with_suffix(".png"))
    print(json.dumps({k: result[k] for k in ("input", "speedup", "filter_agreement", "dedup_f1_vs_datatrove")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
