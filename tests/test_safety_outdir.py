"""OUTDIR safety (issue #10): ownership, fingerprinted resume, lock, commit marker, path and address checks.

Every deletion case runs on sacrificial directories under tmp_path and asserts that the files
xcurate did not write are still there afterwards.
"""
import json
import os
import socket
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from xcurate.cli import main
from xcurate.contamination.suites import BenchmarkError, expand_path
from xcurate.engine.manifest import InvariantError, check_invariants
from xcurate.engine.lock import LOCK_FILE, OutdirLock
from xcurate.engine.outdir import RUN_FILE, WORK_DIR, claim_outdir, input_fingerprint, require_complete
from xcurate.engine.runner import run_pipeline
from xcurate.errors import RunError, UserError

STAGES = [{"type": "normalize"}, {"type": "length_filter", "params": {"min_chars": 10}}]


def write_docs(path, n, start=0):
    with open(path, "a") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"id": f"d{i}", "text": f"document number {i} with some words"}) + "\n")


def config(*paths, **output):
    return {"input": {"paths": [str(p) for p in paths]}, "output": {"unit_mb": 0.002, **output},
            "ray": {"num_cpus": 2, "progress_bars": False}, "stages": STAGES}


def cli_run(tmp_path, cfg, outdir, *flags):
    path = tmp_path / "cfg.json"  # JSON is YAML
    path.write_text(json.dumps(cfg))
    return main(["run", str(path), "-o", str(outdir), *flags])


def snapshot(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    write_docs(d / "a.jsonl", 200)
    return d


# ---------------------------------------------------------------------------------------
# where an OUTDIR may not be (all refused before anything is written or deleted)

def test_outdir_equal_to_input_dir_is_refused_and_inputs_survive(tmp_path, src, capsys):
    before = snapshot(src)
    assert cli_run(tmp_path, config(src), src, "--overwrite") == 2
    assert f"OUTDIR is the input {src}" in capsys.readouterr().err
    assert snapshot(src) == before


def test_outdir_dot_is_the_cwd_and_is_refused(tmp_path, src, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    assert cli_run(tmp_path, config(src / "a.jsonl"), ".", "--overwrite") == 2
    assert "is the current directory" in capsys.readouterr().err
    assert cli_run(tmp_path, config(src / "a.jsonl"), "/", "--overwrite") == 2
    assert "OUTDIR contains the current directory" in capsys.readouterr().err
    assert snapshot(work) == ["notes.txt"]


def test_outdir_home_is_refused(tmp_path, src, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("keep")
    monkeypatch.setenv("HOME", str(home))
    assert cli_run(tmp_path, config(src / "a.jsonl"), home, "--overwrite") == 2
    assert "is the home directory" in capsys.readouterr().err
    assert cli_run(tmp_path, config(src / "a.jsonl"), tmp_path, "--overwrite") == 2  # an ancestor of home
    assert snapshot(home) == [".bashrc"]


def test_hf_style_dataset_as_outdir_is_refused(tmp_path, capsys):
    ds = tmp_path / "DS"
    (ds / "data").mkdir(parents=True)
    import pyarrow as pa
    for i in range(2):
        pq.write_table(pa.table({"text": [f"row {j} of shard {i} with text" for j in range(20)]}),
                       ds / "data" / f"train-{i:05d}-of-00002.parquet")
    (ds / "README.md").write_text("dataset card")
    before = snapshot(ds)
    assert cli_run(tmp_path, config(ds / "data" / "train-*.parquet"), ds, "--overwrite") == 2
    assert "OUTDIR contains the input" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    write_docs(other, 5)
    assert cli_run(tmp_path, config(other), ds, "--overwrite") == 2  # no overlap, but not xcurate's
    assert "holds files xcurate did not write" in capsys.readouterr().err
    assert snapshot(ds) == before


def test_outdir_that_is_a_file_is_refused(tmp_path, src, capsys):
    target = tmp_path / "out.txt"
    target.write_text("x")
    assert cli_run(tmp_path, config(src), target) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "x"


@pytest.fixture
def finished(tmp_path, src, ray_local):
    out = tmp_path / "out"
    manifest = run_pipeline(config(src), str(out), quiet=True)
    return out, manifest


def test_overwrite_refuses_foreign_files_and_deletes_nothing(tmp_path, src, finished, capsys):
    out, _ = finished
    (out / "notes.txt").write_text("mine")
    stray = out / "data" / "language=und" / "from-elsewhere.parquet"
    stray.write_bytes(b"not ours")
    before = snapshot(out)
    assert cli_run(tmp_path, config(src, unit_mb=0.004), out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "holds files xcurate did not write" in err and "notes.txt" in err and "from-elsewhere" in err
    assert snapshot(out) == before


def test_overwrite_replaces_only_xcurates_own_output(tmp_path, src, finished):
    out, first = finished
    m = run_pipeline(config(src, unit_mb=0.004), str(out), overwrite=True, quiet=True)
    assert m["units"] < first["units"] and m["input_documents"] == 200
    on_disk = {p for p in snapshot(out) if p.startswith("data/")}
    assert on_disk == {s["path"] for s in m["shards"]}  # no shard of the first run is left


# ---------------------------------------------------------------------------------------
# fingerprinted resume

def test_input_growth_past_a_unit_boundary_is_refused_naming_the_file(tmp_path, src, finished, capsys):
    out, first = finished
    write_docs(src / "a.jsonl", 150, start=200)  # several more units
    assert cli_run(tmp_path, config(src), out) == 2
    err = capsys.readouterr().err
    assert f"changed {src / 'a.jsonl'} (size" in err and "--overwrite" in err and "new OUTDIR" in err
    assert json.loads((out / "manifest.json").read_text())["shards"] == first["shards"]


def test_in_place_edit_and_added_file_are_refused(tmp_path, src, finished, capsys):
    out, _ = finished
    path = src / "a.jsonl"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"document number 7 ", b"DOCUMENT NUMBER 7 "))
    write_docs(src / "b.jsonl", 3)
    assert cli_run(tmp_path, config(src), out) == 2
    err = capsys.readouterr().err
    assert f"changed {path} (same size, other content)" in err and f"added {src / 'b.jsonl'}" in err


def test_same_bytes_resume_and_the_manifest_lists_the_inputs(src, finished):
    out, first = finished
    path = src / "a.jsonl"
    os.utime(path, (time.time() + 60, time.time() + 60))  # touched, same bytes: same output
    again = run_pipeline(config(src), str(out), quiet=True)
    assert again["shards"] == first["shards"]
    (entry,) = first["inputs"]
    assert entry["path"] == str(path) and entry["size"] == path.stat().st_size and len(entry["xxh3"]) == 32


def test_output_of_another_command_is_not_resumed(tmp_path, src):
    out, files = str(tmp_path / "out"), [str(src / "a.jsonl")]
    fingerprint = input_fingerprint("x", files)
    with claim_outdir(out, command="mix", inputs=files, fingerprint=fingerprint, overwrite=False) as claim:
        assert not claim.resuming
    with claim_outdir(out, command="mix", inputs=files, fingerprint=fingerprint, overwrite=False) as claim:
        assert claim.resuming
    with pytest.raises(RunError, match="holds the output of `xcurate mix`, not of `xcurate run`"):
        claim_outdir(out, command="run", inputs=files, fingerprint=fingerprint, overwrite=False)


# ---------------------------------------------------------------------------------------
# the lock

def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, src, capsys):
    out = tmp_path / "out"
    files = [str(src / "a.jsonl")]
    with claim_outdir(str(out), command="run", inputs=files, fingerprint=input_fingerprint("x", files),
                      overwrite=False):
        assert cli_run(tmp_path, config(src), out, "--overwrite") == 2
        err = capsys.readouterr().err
        assert "another xcurate is writing this OUTDIR" in err and f"pid {os.getpid()}" in err
    assert not (out / LOCK_FILE).exists()


def test_stale_locks_are_taken_over_and_live_remote_ones_are_not(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    lock_path = out / LOCK_FILE
    dead = {"pid": 2 ** 22 + 12345, "host": socket.gethostname(), "started": 0, "token": "old"}
    lock_path.write_text(json.dumps(dead))
    lock = OutdirLock(str(out))
    lock.acquire()  # same host, dead pid: stale
    lock.release()
    lock_path.write_text(json.dumps(dict(dead, pid=os.getppid(), process_started=1.0)))
    lock = OutdirLock(str(out))
    lock.acquire()  # same host, a live pid that another process reused: stale
    lock.release()
    lock_path.write_text("")
    with pytest.raises(RunError, match="another xcurate is writing"):
        OutdirLock(str(out)).acquire()  # being written by its owner right now: not stale while fresh
    lock_path.write_text(json.dumps(dict(dead, host="another-node", pid=1)))
    with pytest.raises(RunError, match="another xcurate is writing"):
        OutdirLock(str(out)).acquire()  # another host, fresh heartbeat
    old = time.time() - 3600
    os.utime(lock_path, (old, old))
    monkeypatch.setenv("XCURATE_LOCK_STALE_MINUTES", "30")
    lock = OutdirLock(str(out))
    lock.acquire()  # another host, heartbeat an hour old
    assert json.loads(lock_path.read_text())["pid"] == os.getpid()
    lock.release()


# ---------------------------------------------------------------------------------------
# commit marker, invariant over every file, intermediates

def test_killed_run_is_refused_by_readers_until_a_rerun_finishes_it(src, finished, capsys):
    out, first = finished
    (out / "manifest.json").unlink()  # what a kill before the last write leaves
    leftover = out / "data" / "language=und" / ".tmp-0123-part-x.parquet"  # and a write cut short
    leftover.write_bytes(b"PAR1")
    with pytest.raises(UserError, match="OUTDIR is incomplete: no manifest.json"):
        require_complete(str(out))
    assert main(["stats", str(out)]) == 2
    assert "killed or still running?" in capsys.readouterr().err
    run_pipeline(config(src), str(out), quiet=True)
    assert require_complete(str(out))["shards"] == first["shards"] and not leftover.exists()


def test_invariant_counts_every_parquet_file_on_disk(finished):
    out, manifest = finished
    check_invariants(str(out), manifest)
    shard = out / manifest["shards"][0]["path"]
    twin = shard.parent / "part-u000000000000-0000.parquet"  # looks like a unit of another writer
    twin.write_bytes(shard.read_bytes())
    with pytest.raises(InvariantError, match="part-u000000000000-0000.parquet: on disk but not written"):
        check_invariants(str(out), manifest)


def test_intermediates_removed_after_success_unless_kept(tmp_path, src, ray_local):
    cfg = config(src)
    cfg["stages"] = STAGES + [{"type": "exact_dedup"}]
    run_pipeline(cfg, str(tmp_path / "o1"), quiet=True)
    assert not (tmp_path / "o1" / WORK_DIR).exists() and (tmp_path / "o1" / RUN_FILE).exists()
    run_pipeline(cfg, str(tmp_path / "o2"), quiet=True, keep_intermediates=True)
    assert (tmp_path / "o2" / WORK_DIR).is_dir()


# ---------------------------------------------------------------------------------------
# config values and addresses

@pytest.mark.parametrize("override", ["output.partition_by=../x", "stages[0].name=../../y", "stages[1].name=a/b"])
def test_path_components_are_validated(tmp_path, src, override, capsys):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config(src)))
    assert main(["validate", str(path), "--set", override]) == 2
    err = capsys.readouterr().err
    assert "becomes a directory name in OUTDIR" in err and str(path) in err


def test_unreachable_address_fails_fast_naming_it(tmp_path, src):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config(src)))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    t0 = time.monotonic()
    # A subprocess: in this one a session Ray may already be running, and init_ray joins it.
    proc = subprocess.run([sys.executable, "-m", "xcurate", "run", str(path), "-o", str(tmp_path / "out"),
                           "--address", "127.0.0.1:1", "--set", "ray.connect_timeout_s=3"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and time.monotonic() - t0 < 60
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / LOCK_FILE).exists()


def test_suite_paths_expand_only_xcurate_variables(monkeypatch):
    monkeypatch.setenv("SOME_SECRET", "hunter2")
    monkeypatch.setenv("XCURATE_BENCH", "/bench")
    assert expand_path("${XCURATE_BENCH}/a.jsonl") == "/bench/a.jsonl"
    with pytest.raises(BenchmarkError) as e:
        expand_path("${SOME_SECRET}/a.jsonl")
    assert "SOME_SECRET" in str(e.value) and "hunter2" not in str(e.value)


def test_export_folder_holding_foreign_files_or_inside_an_input_is_refused(tmp_path):
    from xcurate.engine.outdir import check_plain_output
    own = ("export.json", "data", "*_text_document.bin", "*_text_document.idx")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "eng_Latn_text_document.bin").write_bytes(b"\0")
    check_plain_output(str(folder), inputs=[], own_files=own, what="export")  # our own earlier export: refilled
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="notes.txt"):
        check_plain_output(str(folder), inputs=[], own_files=own, what="export")
    (tmp_path / "run").mkdir()
    with pytest.raises(RunError, match="is inside the input"):
        check_plain_output(str(tmp_path / "run" / "export"), inputs=[str(tmp_path / "run")], own_files=own,
                           what="export")
    assert (folder / "notes.txt").read_text() == "mine"


def test_calibrate_quality_never_writes_into_a_folder_of_the_users(tmp_path):
    from xcurate.workflows.calibrate_quality import calibrate_quality
    folder = tmp_path / "settings"
    folder.mkdir()
    (folder / "deu_Latn.yaml").write_text("# my own settings\n")
    docs = ["Ein ganz normaler Satz über das Wetter in der Stadt, der lang genug ist."] * 3
    with pytest.raises(RunError, match="did not write"):
        calibrate_quality(docs, ["deu_Latn"] * 3, str(folder), min_docs=1)
    assert (folder / "deu_Latn.yaml").read_text() == "# my own settings\n"
    assert os.listdir(folder) == ["deu_Latn.yaml"]
