"""Near-duplicate evaluation set from real multilingual documents, and pair-level scoring.

Source: ``../shared/data/corpus/ud_docs.jsonl`` (UD pseudo-documents, 62 languages, 17
scripts). A sample of documents gets 1-3 variants each with controlled edits at known rates:
word (character, for scripts without spaces) substitutions, insertions, deletions,
paragraph reordering and added boilerplate. Gold clusters = a source and its variants; every
other document is a distractor (singleton). The set is generated on demand (never copied
into the repo) and is deterministic for a seed.

Scoring: precision / recall / F1 of duplicate *pairs* (two documents in one predicted
cluster vs in one gold cluster), for ours (``minhash_dedup`` stage) and datatrove's MinHash
(its 4 steps run in-process, same n-gram size, bands, rows and seed).

    python bench/make_dedup_eval.py -o out/dedup_eval.jsonl          # write the set
    python bench/make_dedup_eval.py --score                          # score ours vs datatrove
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

NO_SPACE_LANGS = {"zh", "ja", "th", "lo", "km", "my", "bo"}
BOILERPLATE = ("Share this article on Facebook Twitter WhatsApp Email Print. Subscribe to our newsletter for "
               "the latest updates. All rights reserved. Cookie policy and privacy settings.")
EDITS = ("substitute", "insert", "delete", "reorder", "boilerplate")
RATES = (0.01, 0.03, 0.05, 0.08)


def shared_data_dir() -> Path:
    return Path(os.environ.get("XCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def load_corpus(path: Path) -> List[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _units(doc: dict) -> Tuple[List[str], str]:
    """Editable units of a document and the string that joins them back."""
    if doc["lang"] in NO_SPACE_LANGS:
        return list(doc["text"]), ""
    return doc["text"].split(" "), " "


def edit_document(doc: dict, edit: str, rate: float, rng: random.Random, pool: Sequence[str]) -> str:
    """One controlled edit of ``doc``; ``pool`` supplies replacement/inserted units."""
    units, sep = _units(doc)
    n_edits = max(1, round(len(units) * rate))
    if edit == "substitute":
        for i in rng.sample(range(len(units)), min(n_edits, len(units))):
            units[i] = rng.choice(pool)
    elif edit == "insert":
        for _ in range(n_edits):
            units.insert(rng.randrange(len(units) + 1), rng.choice(pool))
    elif edit == "delete":
        for i in sorted(rng.sample(range(len(units)), min(n_edits, len(units) - 1)), reverse=True):
            del units[i]
    elif edit == "reorder":
        paragraphs = doc["text"].split("\n")
        if len(paragraphs) > 2:
            rng.shuffle(paragraphs)
            return "\n".join(paragraphs)
        cut = sorted(rng.sample(range(1, len(units)), 2)) if len(units) > 3 else [1, 2]
        units = units[cut[1]:] + units[cut[0]:cut[1]] + units[:cut[0]]  # move blocks (sentence-like)
    elif edit == "boilerplate":
        return (BOILERPLATE + "\n" + doc["text"]) if rng.random() < 0.5 else (doc["text"] + "\n" + BOILERPLATE)
    else:
        raise ValueError(f"unknown edit {edit!r}")
    return sep.join(units)


def build_eval_set(corpus: Sequence[dict], seed: int = 0, sources: int = 300, min_units: int = 60,
                   distractors: int = 1000) -> List[dict]:
    """Records ``{id, text, lang, script, cluster, edit}``; ``cluster`` is shared by a source and its variants."""
    rng = random.Random(seed)
    usable = [d for d in corpus if len(_units(d)[0]) >= min_units]
    by_lang: Dict[str, List[dict]] = defaultdict(list)
    for d in usable:
        by_lang[d["lang"]].append(d)
    pools = {lang: [u for d in docs for u in _units(d)[0] if u.strip()] for lang, docs in by_lang.items()}
    # round-robin over languages so every language/script is represented
    shuffled = [rng.sample(by_lang[k], len(by_lang[k])) for k in sorted(by_lang)]
    order = [docs[i] for i in range(max(len(v) for v in shuffled)) for docs in shuffled if i < len(docs)]
    chosen, rest = order[:sources], order[sources:]
    records = []
    for c, doc in enumerate(chosen):
        cluster = f"c{c:04d}"
        records.append(_record(doc["id"], doc["text"], doc, cluster, "source"))
        for v in range(rng.randint(1, 3)):
            edits = rng.sample(EDITS, rng.choice((1, 1, 2)))
            text_doc = dict(doc)
            for edit in edits:
                text_doc["text"] = edit_document(text_doc, edit, rng.choice(RATES), rng, pools[doc["lang"]])
            records.append(_record(f"{doc['id']}~v{v}", text_doc["text"], doc, cluster, "+".join(edits)))
    for i, doc in enumerate(rng.sample(rest, min(distractors, len(rest)))):
        records.append(_record(doc["id"], doc["text"], doc, f"s{i:05d}", "distractor"))
    rng.shuffle(records)
    return records


def _record(rid: str, text: str, doc: dict, cluster: str, edit: str) -> dict:
    return {"id": rid, "text": text, "lang": doc["lang"], "script": doc["script"], "cluster": cluster, "edit": edit}


# ---------------------------------------------------------------------------- scoring


def pairs_of(clusters: Dict[str, Iterable[str]]) -> set:
    out = set()
    for members in clusters.values():
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score(predicted: Dict[str, str], gold: Dict[str, str]) -> Dict[str, float]:
    """Pair precision/recall/F1; both maps: doc id -> cluster label."""
    def group(m):
        g = defaultdict(list)
        for doc, c in m.items():
            g[c].append(doc)
        return g
    p, g = pairs_of(group(predicted)), pairs_of(group(gold))
    tp = len(p & g)
    precision = tp / len(p) if p else 1.0
    recall = tp / len(g) if g else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "predicted_pairs": len(p), "gold_pairs": len(g)}


def ours_clusters(records: Sequence[dict], work: Path, rows_per_unit: int = 500, **params) -> Dict[str, str]:
    """Run the ``minhash_dedup`` stage (Ray must be initialised) and return id -> cluster."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from xcurate.engine.stage import Resources
    from xcurate.stages.minhash_dedup import MinHashDedup, MinHashDedupParams

    units = work / "units"
    units.mkdir(parents=True, exist_ok=True)
    paths = []
    for u, lo in enumerate(range(0, len(records), rows_per_unit)):
        chunk = records[lo:lo + rows_per_unit]
        table = pa.table({"id": [r["id"] for r in chunk], "text": [r["text"] for r in chunk],
                          "_xc_unit": [f"u{u}"] * len(chunk), "_xc_row": list(range(len(chunk))),
                          "_xc_drop_stage": pa.nulls(len(chunk), pa.string()),
                          "_xc_drop_reason": pa.nulls(len(chunk), pa.string())})
        path = units / f"unit{u:05d}.parquet"
        pq.write_table(table, path)
        paths.append(str(path))
    stage = MinHashDedup(MinHashDedupParams(**params))
    stage.run(paths, str(work / "out"), str(work / "work"), stage.name, Resources(num_cpus=1))
    out = {}
    for p in paths:
        t = pq.read_table(work / "out" / Path(p).name, columns=["id", "dup_cluster_id"])
        out.update(zip(t["id"].to_pylist(), t["dup_cluster_id"].to_pylist()))
    return out


def datatrove_clusters(records: Sequence[dict], work: Path, ngram_size: int = 5, bands: int = 14, rows: int = 8,
                       seed: int = 1) -> Dict[str, str]:
    """datatrove's 4-step MinHash (steps 1-3 in-process; step 4 only filters) -> id -> cluster."""
    import struct
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupSignature)

    cfg = MinhashConfig(n_grams=ngram_size, num_buckets=bands, hashes_per_bucket=rows, seed=seed)
    MinhashDedupSignature(output_folder=str(work / "sigs"), config=cfg).run(
        (Document(text=r["text"], id=r["id"]) for r in records), rank=0, world_size=1)
    for b in range(bands):
        MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                            config=cfg).run(None, rank=b, world_size=bands)
    MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "clusters"), config=cfg,
                        save_cluster_id=True).run(None)
    out = {r["id"]: r["id"] for r in records}
    cluster_file = work / "clusters" / "000000.clusters"
    if cluster_file.exists():
        data = cluster_file.read_bytes()
        for doc_idx, cluster in struct.iter_unpack("<II", data):
            out[records[doc_idx]["id"]] = f"dt{cluster}"
    return out


def gold_clusters(records: Sequence[dict]) -> Dict[str, str]:
    return {r["id"]: r["cluster"] for r in records}


def per_script(predicted: Dict[str, str], records: Sequence[dict]) -> Dict[str, dict]:
    out = {}
    for script in sorted({r["script"] for r in records}):
        sub = [r for r in records if r["script"] == script]
        ids = {r["id"] for r in sub}
        out[script] = score({k: v for k, v in predicted.items() if k in ids}, gold_clusters(sub))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", help="write the evaluation set (JSONL) here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", type=int, default=300)
    ap.add_argument("--distractors", type=int, default=1000)
    ap.add_argument("--score", action="store_true", help="score ours and datatrove on the set")
    ap.add_argument("--results", default=str(REPO / "bench" / "results" / "dedup_eval.json"))
    args = ap.parse_args(argv)
    records = build_eval_set(load_corpus(shared_data_dir() / "corpus" / "ud_docs.jsonl"), args.seed,
                             args.sources, distractors=args.distractors)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        print(f"wrote {len(records)} records to {args.output}")
    if args.score:
        import ray
        ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
        gold = gold_clusters(records)
        with tempfile.TemporaryDirectory() as tmp:
            ours = ours_clusters(records, Path(tmp) / "ours")
            theirs = datatrove_clusters(records, Path(tmp) / "dt")
        result = {"records": len(records), "languages": len({r["lang"] for r in records}),
                  "scripts": len({r["script"] for r in records}), "params": {"ngram": 5, "bands": 14, "rows": 8},
                  "ours": score(ours, gold), "datatrove": score(theirs, gold),
                  "ours_by_script": per_script(ours, records), "datatrove_by_script": per_script(theirs, records)}
        print(json.dumps({k: result[k] for k in ("records", "languages", "scripts", "ours", "datatrove")}, indent=2))
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
