"""Builders of per-unit Parquet files (with the runner's bookkeeping columns) for dedup tests."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Dict, List, Sequence

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# letters only: MinHash normalisation maps every number to "0"
VOCAB = sorted({"".join(random.Random(i).choice(_LETTERS) for _ in range(3 + i % 6)) for i in range(6000)})


def random_doc(rng: random.Random, words: int = 120) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


def edit_words(rng: random.Random, text: str, rate: float) -> str:
    """Substitute ``rate`` of the words by other words (a near duplicate, never an exact copy)."""
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = rng.choice([w for w in rng.sample(VOCAB, 2) if w != words[i]])
    return " ".join(words)


def write_units(tmp: Path, docs: Sequence[Dict], rows_per_unit: int, dropped: Sequence[int] = ()) -> List[str]:
    """Split ``docs`` (dicts with id/text and optional columns) into unit files; rows whose
    index is in ``dropped`` are marked as dropped by an earlier stage."""
    unit_dir = tmp / "units"
    unit_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for u, lo in enumerate(range(0, len(docs), rows_per_unit)):
        chunk = docs[lo:lo + rows_per_unit]
        cols = {k: [d.get(k) for d in chunk] for k in chunk[0]}
        cols["_xc_unit"] = [f"unit{u:03d}"] * len(chunk)
        cols["_xc_row"] = list(range(len(chunk)))
        cols["_xc_drop_stage"] = pa.array(["length_filter" if lo + i in dropped else None
                                           for i in range(len(chunk))], pa.string())
        cols["_xc_drop_reason"] = pa.array(["too_short" if lo + i in dropped else None
                                            for i in range(len(chunk))], pa.string())
        path = unit_dir / f"unit{u:03d}.parquet"
        pq.write_table(pa.table(cols), path)
        paths.append(str(path))
    return paths


def read_outputs(out_dir: Path, unit_paths: Sequence[str]) -> pa.Table:
    return pa.concat_tables([pq.read_table(Path(out_dir) / Path(p).name) for p in unit_paths],
                            promote_options="default")


def dropped_ids(table: pa.Table, stage: str) -> set:
    return {i for i, s in zip(table["id"].to_pylist(), table["_xc_drop_stage"].to_pylist()) if s == stage}


def planted_jsonl(seed: int, originals: int, words: int, exact_every: int, near_every: int) -> str:
    """JSONL of random documents ``o…`` with an exact copy ``x…`` of every ``exact_every``-th and a
    one-word-edited near copy ``p…`` of every ``near_every``-th."""
    rng = random.Random(seed)
    records = []
    for i in range(originals):
        text = random_doc(rng, words)
        records.append({"id": f"o{i:03d}", "text": text})
        if i % exact_every == 0:
            records.append({"id": f"x{i:03d}", "text": text})
        if i % near_every == 0:
            records.append({"id": f"p{i:03d}", "text": edit_words(rng, text, 1 / words)})
    return "".join(json.dumps(r) + "\n" for r in records)


def output_rows(fs, root: str) -> set:
    """(id, sha256 of text, reason) of every row a run wrote below ``root``/data and ``root``/rejected
    (``fs``: a pyarrow filesystem, ``root`` a path inside it)."""
    rows = set()
    for sub in ("data", "rejected"):
        selector = pafs.FileSelector(f"{root}/{sub}", recursive=True, allow_not_found=True)
        for info in fs.get_file_info(selector):
            if not info.path.endswith(".parquet") or info.base_name.startswith(".tmp-"):
                continue
            t = pq.read_table(info.path, filesystem=fs)
            reasons = t["reason"].to_pylist() if "reason" in t.column_names else [None] * t.num_rows
            rows |= {(i, hashlib.sha256(x.encode()).hexdigest(), r)
                     for i, x, r in zip(t["id"].to_pylist(), t["text"].to_pylist(), reasons)}
    return rows
