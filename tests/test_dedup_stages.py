"""exact_dedup / minhash_dedup GlobalStage.run on per-unit Parquet files (real local Ray)."""
import json
import os
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xcurate.dedup.store import CRASH_ENV, InjectedCrash
from xcurate.engine.stage import Resources
from xcurate.stages.exact_dedup import ExactDedup, ExactDedupParams
from xcurate.stages.minhash_dedup import MinHashDedup, MinHashDedupParams
from tests.dedup_helpers import dropped_ids, edit_words, random_doc, read_outputs, write_units


def planted_corpus(seed=0, originals=120, words=150):
    """Originals ``o####``; near copies ``p####`` (2 substituted words, Jaccard ~0.9) of every
    5th; exact copies ``x####`` (case/space changes) of every 7th. Gold: cluster per original."""
    rng = random.Random(seed)
    docs, gold = [], {}
    for i in range(originals):
        text = random_doc(rng, words)
        docs.append({"id": f"o{i:04d}", "text": text, "language": "xx", "quality": rng.random()})
        members = [f"o{i:04d}"]
        if i % 5 == 0:
            near = edit_words(rng, text, 2 / words)
            docs.append({"id": f"p{i:04d}", "text": near, "language": "xx", "quality": rng.random()})
            members.append(f"p{i:04d}")
        if i % 7 == 0:
            docs.append({"id": f"x{i:04d}", "text": "  " + text.upper() + "\n", "language": "xx",
                         "quality": rng.random()})
            members.append(f"x{i:04d}")
        if len(members) > 1:
            gold[members[0]] = members
    rng.shuffle(docs)
    return docs, gold


def run_stage(stage, paths, tmp, name, work="work"):
    out = tmp / f"out_{name}"
    stage.run(paths, str(out), str(tmp / work), stage.name, Resources(num_cpus=1))
    return out, read_outputs(out, paths)


def check_same_rows(paths, table):
    before = pq.read_table(paths[0]).schema.names
    inputs = [pq.read_table(p) for p in paths]
    assert table.num_rows == sum(t.num_rows for t in inputs)
    import pyarrow as pa
    inp = pa.concat_tables(inputs)
    for col in before:
        if col not in ("_xc_drop_stage", "_xc_drop_reason"):
            assert table[col].to_pylist() == inp[col].to_pylist(), col


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    docs, gold = planted_corpus()
    ids = [d["id"] for d in docs]
    dropped_earlier = {ids.index("o0010"), ids.index("p0015")}  # an original and a near copy
    paths = write_units(tmp, docs, rows_per_unit=37, dropped=dropped_earlier)
    return tmp, paths, gold


def expected_near_drops(gold):
    drops = set()
    for members in gold.values():
        alive = [m for m in members if m not in ("o0010", "p0015")]
        drops |= set(sorted(alive)[1:])
    return drops


@pytest.mark.parametrize("variant", [
    {},
    {"single_worker_max_edges": 0},  # distributed large-star/small-star components
    {"hash_mode": "datasketch"},
    {"verify_jaccard": 0.5},
])
def test_minhash_finds_planted_clusters(ray_local, planted, variant):
    tmp, paths, gold = planted
    out, table = run_stage(MinHashDedup(MinHashDedupParams(**variant)), paths, tmp, f"mh{len(os.listdir(tmp))}")
    check_same_rows(paths, table)
    assert dropped_ids(table, "minhash_dedup") == expected_near_drops(gold)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows["o0010"]["_xc_drop_stage"] == "length_filter" and rows["o0010"]["dup_cluster_id"] is None
    assert rows["p0010"]["_xc_drop_stage"] is None  # its original was dropped earlier: it survives
    assert rows["x0000"]["_xc_drop_reason"] == "near_duplicate"
    assert rows["x0000"]["duplicate_of"] == "o0000" == rows["x0000"]["dup_cluster_id"]
    assert rows["o0000"]["dup_cluster_size"] == 3 and rows["o0000"]["duplicate_of"] is None
    assert rows["o0001"]["dup_cluster_id"] == "o0001" and rows["o0001"]["dup_cluster_size"] == 1
    assert rows["p0015"]["dup_cluster_size"] is None


def test_distributed_components_match_single_worker(ray_local, planted):
    tmp, paths, _ = planted
    _, single = run_stage(MinHashDedup(MinHashDedupParams(num_partitions=3)), paths, tmp, "cc_single")
    _, dist = run_stage(MinHashDedup(MinHashDedupParams(num_partitions=3, single_worker_max_edges=0)), paths,
                        tmp, "cc_dist")
    assert single.equals(dist)
    summary = json.loads(next((tmp / "work").glob("minhash_dedup-*/summary.json")).read_text())
    assert summary["components"]["mode"] in ("single_worker", "distributed")


def test_jaccard_check_rejects_pairs_below_threshold(ray_local, planted):
    tmp, paths, gold = planted
    _, table = run_stage(MinHashDedup(MinHashDedupParams(verify_jaccard=0.99)), paths, tmp, "verify99")
    # near copies (Jaccard ~0.9) fail the check; exact copies (Jaccard 1 after normalisation) pass
    assert dropped_ids(table, "minhash_dedup") == {m for m in expected_near_drops(gold) if m.startswith("x")}


def test_keep_rules_and_language_scope(ray_local, tmp_path):
    rng = random.Random(1)
    base = random_doc(rng, 100)
    docs = [{"id": "a", "text": base, "language": "en", "quality": 0.2},
            {"id": "b", "text": base + " tail words here", "language": "en", "quality": 0.9},
            {"id": "c", "text": base, "language": "de", "quality": 0.5}]
    paths = write_units(tmp_path, docs, rows_per_unit=2)
    _, t = run_stage(MinHashDedup(MinHashDedupParams(keep="longest")), paths, tmp_path, "longest")
    assert dropped_ids(t, "minhash_dedup") == {"a", "c"}
    _, t = run_stage(MinHashDedup(MinHashDedupParams(keep="highest_quality", scope="language")), paths,
                     tmp_path, "quality")
    assert dropped_ids(t, "minhash_dedup") == {"a"}
    _, t = run_stage(ExactDedup(ExactDedupParams(keep="highest_quality")), paths, tmp_path, "exact_q")
    assert dropped_ids(t, "exact_dedup") == {"a"}
    _, t = run_stage(ExactDedup(ExactDedupParams(scope="language")), paths, tmp_path, "exact_lang")
    assert dropped_ids(t, "exact_dedup") == set()


def test_exact_dedup_finds_every_exact_duplicate(ray_local, planted):
    tmp, paths, gold = planted
    out, table = run_stage(ExactDedup(), paths, tmp, "exact")
    check_same_rows(paths, table)
    expected = {m for members in gold.values() for m in members if m.startswith("x")}
    assert dropped_ids(table, "exact_dedup") == expected
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows["x0007"]["exact_duplicate_of"] == "o0007" and rows["x0007"]["_xc_drop_reason"] == "exact_duplicate"
    assert rows["o0007"]["exact_group_size"] == 2 and rows["o0001"]["exact_group_size"] is None


def test_exact_dedup_without_case_folding(ray_local, planted):
    tmp, paths, _ = planted
    _, table = run_stage(ExactDedup(ExactDedupParams(lowercase=False)), paths, tmp, "exact_case")
    assert dropped_ids(table, "exact_dedup") == set()


@pytest.mark.parametrize("stage_cls", [MinHashDedup, ExactDedup])
def test_rerun_after_crash_gives_same_result(ray_local, planted, stage_cls, monkeypatch):
    tmp, paths, _ = planted
    _, clean = run_stage(stage_cls(), paths, tmp, f"clean_{stage_cls.name}", work="work_clean")
    crash_after = "buckets" if stage_cls is MinHashDedup else "pick"
    monkeypatch.setenv(CRASH_ENV, crash_after)
    with pytest.raises(InjectedCrash):
        run_stage(stage_cls(), paths, tmp, f"resumed_{stage_cls.name}", work="work_crash")
    monkeypatch.delenv(CRASH_ENV)
    root = next((tmp / "work_crash").glob(f"{stage_cls.name}-*"))
    first = "signatures" if stage_cls is MinHashDedup else "hash"
    (root / "_phases" / first / "u000001.json").unlink()  # as if killed inside the first phase
    _, resumed = run_stage(stage_cls(), paths, tmp, f"resumed_{stage_cls.name}", work="work_crash")
    assert resumed.equals(clean)
    log = json.loads((root / "_phases" / "log.json").read_text())
    assert log[first]["ran"] == 1 and log[crash_after]["ran"] == 0 and log["write"]["ran"] == len(paths)


def test_bad_input(ray_local, tmp_path):
    rng = random.Random(9)
    big = random_doc(rng, 1_700_000)  # ~10 MB
    assert len(big) > 10_000_000
    docs = [{"id": "empty1", "text": ""}, {"id": "empty2", "text": ""}, {"id": "blank", "text": " \n "},
            {"id": "short1", "text": "hello there"}, {"id": "short2", "text": "Hello, there!"},
            {"id": "big1", "text": big}, {"id": "big2", "text": edit_words(rng, big, 1e-5)},
            {"id": "none", "text": None}]
    paths = write_units(tmp_path, docs, rows_per_unit=3)
    _, t = run_stage(MinHashDedup(), paths, tmp_path, "mh_bad")
    rows = {r["id"]: r for r in t.to_pylist()}
    assert dropped_ids(t, "minhash_dedup") == {"big2", "short2"}
    assert rows["empty1"]["dup_cluster_size"] == 1 and rows["none"]["dup_cluster_size"] == 1
    _, t = run_stage(ExactDedup(ExactDedupParams(strip_punctuation=True)), paths, tmp_path, "ex_bad")
    assert dropped_ids(t, "exact_dedup") == {"short2"}  # empty texts are never grouped


@pytest.mark.parametrize("stage_cls", [MinHashDedup, ExactDedup])
def test_all_identical_and_no_duplicates(ray_local, tmp_path, stage_cls):
    rng = random.Random(11)
    same = random_doc(rng, 80)
    paths = write_units(tmp_path / "same", [{"id": f"s{i:03d}", "text": same} for i in range(40)], 15)
    _, t = run_stage(stage_cls(), paths, tmp_path, "same")
    assert dropped_ids(t, stage_cls.name) == {f"s{i:03d}" for i in range(1, 40)}
    size_col = "dup_cluster_size" if stage_cls is MinHashDedup else "exact_group_size"
    assert set(t[size_col].to_pylist()) == {40}
    paths = write_units(tmp_path / "uniq", [{"id": f"u{i:03d}", "text": random_doc(rng, 80)} for i in range(40)], 15)
    _, t = run_stage(stage_cls(), paths, tmp_path, "uniq")
    assert dropped_ids(t, stage_cls.name) == set()


def test_missing_column_is_a_clear_error(ray_local, tmp_path):
    paths = write_units(tmp_path, [{"id": "a", "text": "x y z"}], 1)
    with pytest.raises(ValueError, match="quality"):
        run_stage(MinHashDedup(MinHashDedupParams(keep="highest_quality")), paths, tmp_path, "err")


KILL_SCRIPT = """
import sys, ray
sys.path.insert(0, {repo!r})
from xcurate.engine.stage import Resources
from xcurate.stages.minhash_dedup import MinHashDedup
ray.init(num_cpus=1, include_dashboard=False)
MinHashDedup().run({paths!r}, {out!r}, {work!r}, "minhash_dedup", Resources(num_cpus=1))
"""


def test_rerun_after_sigkill_continues(ray_local, tmp_path):
    """A driver killed (SIGKILL, with its Ray processes) inside the first phase; the rerun
    continues from the intermediates and gives the result of an uninterrupted run."""
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(21)
    docs = []
    for i in range(1500):
        docs.append({"id": f"k{i:05d}", "text": random_doc(rng, 150)})
        if i % 10 == 0:
            docs.append({"id": f"z{i:05d}", "text": edit_words(rng, docs[-1]["text"], 1 / 150)})
    paths = write_units(tmp_path, docs, rows_per_unit=75)
    _, clean = run_stage(MinHashDedup(), paths, tmp_path, "clean", work="work_clean")

    out, work = tmp_path / "out_killed", tmp_path / "work_killed"
    repo = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT.format(repo=repo, paths=paths, out=str(out),
                                                                      work=str(work))],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and not list(work.glob("*/_phases/signatures/*.json")):
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    root = next(work.glob("minhash_dedup-*"))
    done_before = len(list((root / "_phases" / "signatures").glob("*.json")))
    assert 0 < done_before < len(paths) and not out.exists()

    MinHashDedup().run(paths, str(out), str(work), "minhash_dedup", Resources(num_cpus=1))
    assert read_outputs(out, paths).equals(clean)
    log = json.loads((root / "_phases" / "log.json").read_text())
    assert log["signatures"]["ran"] == len(paths) - done_before
    assert dropped_ids(clean, "minhash_dedup") == {d["id"] for d in docs if d["id"].startswith("z")}
