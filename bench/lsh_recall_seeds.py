"""How much of a MinHash recall gap is chance: planted near copies re-signed with many seeds, ours vs datatrove.

A planted near copy is a candidate pair when at least one of the 14 bands (8 rows) of the two
signatures agree; both pipelines then cluster and drop one copy, so per pair this is the whole
recall question. For every seed the pairs are signed by ours (``xcurate.dedup.signatures``, fast
mode, as ``minhash_dedup`` runs) and by datatrove (``MinhashDedupSignature.get_shingles`` /
``get_signature``, the code its step 1 runs), and the missed pairs counted. ``expected_missed`` is
the LSH curve ``sum(1 - (1 - J^8)^14)`` over the pairs' exact Jaccard under each side's shingling:
a side whose misses average that value has no systematic loss, only chance.

* ``planted``: the near copies of ``bench.dedup_speed.make_corpus(--mb)`` (the input of
  ``bench.e2e``; exact copies left out: both sides always find them), all 62 languages.
* ``e2e_run`` (with ``--e2e-dir``): the planted pairs a finished ``python -m bench.e2e`` run scored,
  each side's own filter survivors, with ``--e2e-mb`` / ``--e2e-seed`` of that run. Seed 1 is the
  seed that run used, so its misses reproduce the run's.

    python -m bench.lsh_recall_seeds --mb 100 --seeds 10
    python -m bench.lsh_recall_seeds --mb 100 --seeds 20 --e2e-dir bench/work/e2e --e2e-mb 500
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench._common import write_result
from bench.dedup_speed import PARAMS, make_corpus

BANDS, ROWS, NGRAM = PARAMS["bands"], PARAMS["rows"], PARAMS["ngram_size"]


def lsh_curve(j: np.ndarray) -> np.ndarray:
    return 1 - (1 - j ** ROWS) ** BANDS


def missed(sig: np.ndarray, first: np.ndarray, second: np.ndarray) -> int:
    bands = sig.reshape(len(sig), BANDS, ROWS)
    return int((~np.all(bands[first] == bands[second], axis=2).any(axis=1)).sum())


class Ours:
    def __init__(self, texts):
        import polars as pl
        from xcurate.dedup.signatures import MinHashSpec, unique_shingle_sets
        self.texts = pl.Series(texts)
        self.sets = unique_shingle_sets(self.texts, MinHashSpec(ngram_size=NGRAM))

    def signatures(self, seed: int) -> np.ndarray:
        from xcurate.dedup.signatures import MinHashSpec, signatures
        return signatures(self.texts, MinHashSpec(ngram_size=NGRAM, bands=BANDS, rows=ROWS,
                                                  num_perm=BANDS * ROWS, seed=seed))[0]


class Datatrove:
    def __init__(self, texts):
        self.shingles = [self._signer(PARAMS["seed"]).get_shingles(t) for t in texts]
        self.sets = [np.unique(s.ravel()) for s in self.shingles]

    @staticmethod
    def _signer(seed: int):
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
        return MinhashDedupSignature(output_folder="unused", config=MinhashConfig(
            n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS, seed=seed))

    def signatures(self, seed: int) -> np.ndarray:
        signer = self._signer(seed)
        # a text without a shingle gets no signature in datatrove; -1 rows never match a real one
        return np.array([np.ravel(signer.get_signature(s)) if len(s) else np.full(BANDS * ROWS, -1)
                         for s in self.shingles])


def compare(text: dict, pairs_by_side: dict, seeds: int) -> dict:
    """pairs_by_side: {"ours": [(copy, original)], "datatrove": [...]} (ids into ``text``)."""
    from xcurate.dedup.signatures import jaccard
    ids = sorted({i for pairs in pairs_by_side.values() for pair in pairs for i in pair})
    pos = {i: k for k, i in enumerate(ids)}
    texts = [text[i] for i in ids]
    out = {}
    for name, side in (("ours", Ours(texts)), ("datatrove", Datatrove(texts))):
        first = np.array([pos[c] for c, _ in pairs_by_side[name]], dtype=np.int64)
        second = np.array([pos[o] for _, o in pairs_by_side[name]], dtype=np.int64)
        j = np.array([jaccard(side.sets[a], side.sets[b]) for a, b in zip(first, second)])
        counts = np.array([missed(side.signatures(seed), first, second) for seed in range(1, seeds + 1)])
        out[name] = {"pairs": len(first), "mean_jaccard": round(float(j.mean()), 4),
                     "expected_missed": round(float((1 - lsh_curve(j)).sum()), 2),
                     "missed_mean": round(float(counts.mean()), 2),
                     "missed_sd": round(float(counts.std(ddof=1)), 2) if seeds > 1 else None,
                     "missed_min_max": [int(counts.min()), int(counts.max())],
                     "recall_mean": round(1 - float(counts.mean()) / max(1, len(first)), 4),
                     "missed_per_seed": counts.tolist()}
    return out


def planted_pairs(docs) -> list:
    text = {d["id"]: d["text"] for d in docs}
    return [(d["id"], d["dup_of"]) for d in docs if "dup_of" in d and d["text"] != text[d["dup_of"]]]


def e2e_run_pairs(e2e_dir: Path, docs) -> dict:
    from bench.e2e import our_decisions, read_jsonl_gz
    dup_of = {d["id"]: d["dup_of"] for d in docs if "dup_of" in d}
    ours = our_decisions(e2e_dir / "ours")["decision"]
    passed = {"ours": {i for i, d in ours.items() if d in (None, "dedup", "decontaminate")},
              "datatrove": set(read_jsonl_gz(e2e_dir / "datatrove" / "filtered"))}
    return {side: [(c, o) for c, o in dup_of.items() if c in ids and o in ids] for side, ids in passed.items()}


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sections = [k for k in ("planted", "e2e_run") if k in result]
    fig, axes = plt.subplots(1, len(sections), figsize=(5.5 * len(sections), 4), squeeze=False)
    for ax, key in zip(axes[0], sections):
        for side in ("ours", "datatrove"):
            r = result[key][side]
            counts = r["missed_per_seed"]
            ax.hist(counts, bins=range(min(counts), max(counts) + 2), alpha=0.5,
                    label=f"{side}: {r['pairs']} pairs, expected {r['expected_missed']}")
        ax.set_xlabel("near copies missed by LSH (per MinHash seed)")
        ax.set_ylabel("seeds")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100, help="planted corpus size (0: skip)")
    ap.add_argument("--corpus-seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=10, help="MinHash seeds 1..N")
    ap.add_argument("--e2e-dir", type=Path, help="work folder of a finished bench.e2e run")
    ap.add_argument("--e2e-mb", type=float, default=500, help="--mb of that run")
    ap.add_argument("--e2e-seed", type=int, default=0, help="--seed of that run")
    ap.add_argument("--e2e-seeds", type=int, default=100, help="MinHash seeds 1..N for the run's (fewer) pairs")
    args = ap.parse_args(argv)
    result = {"params": PARAMS}
    if args.mb:
        docs = make_corpus(args.mb, args.corpus_seed)
        pairs = planted_pairs(docs)
        result["planted"] = {"mb": args.mb, "corpus_seed": args.corpus_seed, "seeds": args.seeds,
                             **compare({d["id"]: d["text"] for d in docs}, {"ours": pairs, "datatrove": pairs},
                                       args.seeds)}
        del docs
    if args.e2e_dir:
        docs = make_corpus(args.e2e_mb, args.e2e_seed)
        result["e2e_run"] = {"dir": str(args.e2e_dir), "mb": args.e2e_mb, "seeds": args.e2e_seeds,
                             **compare({d["id"]: d["text"] for d in docs}, e2e_run_pairs(args.e2e_dir, docs),
                                       args.e2e_seeds)}
    out = write_result("lsh_recall_seeds", result)
    plot(result, out.with_suffix(".png"))
    for key in ("planted", "e2e_run"):
        if key in result:
            print(key, {side: {k: v for k, v in result[key][side].items() if k != "missed_per_seed"}
                        for side in ("ours", "datatrove")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
