"""Shared helpers for benchmark scripts: real input built from ../shared/data, results files."""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WORK = REPO / "bench" / "work"


SCRATCH_MARK = ".xcurate-bench-scratch"


def scratch_dir(path) -> Path:
    """An empty folder at ``path`` for a benchmark's files. A folder already there is emptied only when a
    benchmark made it (it holds ``SCRATCH_MARK``, or lies under ``bench/work``), and never when it is or holds
    the working directory or the home folder; an empty folder is kept and used; anything else is refused, so
    a benchmark never deletes a user's files (``--workdir ~/data``)."""
    path = Path(path).resolve()
    if path.exists():
        protected = {Path.cwd().resolve(), Path.home().resolve()}
        ours = (path / SCRATCH_MARK).is_file() or WORK.resolve() in path.parents
        if ours and not any(p == path or path in p.parents for p in protected):
            shutil.rmtree(path)
        elif not (path.is_dir() and not any(path.iterdir())):
            sys.exit(f"{path}: exists and was not made by a benchmark; name a new folder (nothing was deleted)")
    path.mkdir(parents=True, exist_ok=True)
    (path / SCRATCH_MARK).write_text("scratch folder of an xcurate benchmark: its next run empties it\n")
    return path


def shared_data() -> Path:
    d = Path(os.environ.get("XCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not d.is_dir():
        sys.exit(f"shared data not found at {d}; set XCURATE_SHARED_DATA")
    return d


def load_ud_docs() -> list:
    with open(shared_data() / "corpus" / "ud_docs.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def resampled_corpus(path: Path, target_mb: float, n_files: int = 8, seed: int = 0) -> Path:
    """Write ≥target_mb of JSONL built from real UD documents: each new document is a random
    run of sentences of one language (so the text is real and the documents are distinct)."""
    marker = path / f"_DONE_{target_mb:g}_{n_files}_{seed}"
    if marker.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.jsonl"):
        old.unlink()
    rng = random.Random(seed)
    by_lang: dict = {}
    for d in load_ud_docs():
        sep = "" if d["lang_script"].split("_")[1] in ("Hans", "Hant", "Jpan") else " "
        sents = [s for s in d["text"].replace("\n", sep).split(". ") if s]
        by_lang.setdefault((d["lang_script"], sep), []).extend(sents)
    keys = sorted(by_lang)
    target = int(target_mb * (1 << 20))
    files = [open(path / f"part-{i:02d}.jsonl", "w", encoding="utf-8") for i in range(n_files)]
    written, n = 0, 0
    while written < target:
        lang, sep = keys[rng.randrange(len(keys))]
        sents = by_lang[(lang, sep)]
        start = rng.randrange(len(sents))
        text = (". " if sep else "。").join(sents[start:start + rng.randint(5, 15)])
        line = json.dumps({"id": f"bench-{n}", "text": text, "lang_script": lang}, ensure_ascii=False) + "\n"
        files[n % n_files].write(line)
        written += len(line.encode())
        n += 1
    for f in files:
        f.close()
    marker.write_text(str(n))
    return path


def write_result(name: str, payload: dict) -> Path:
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "cpus": os.cpu_count(), **payload}
    return write_json(RESULTS / f"{name}.json", payload)


def write_json(path, payload: dict) -> Path:
    """Write a result file (folders made) and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    print(f"wrote {out}")
    return out


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / (1 << 20)
