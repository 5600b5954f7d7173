"""The output directory: what xcurate may write, resume, replace or read.

Ownership. An OUTDIR is xcurate's when it holds a run record (``_xc_run.json``). xcurate
writes into an empty or new directory or into its own; it never deletes what it did not
write: ``overwrite`` removes only its own files (the run record, ``_xc_*`` dirs, ``logs/``,
the manifest, report, dataset card and the outputs the run record names, ``part-*.parquet``
shards and ``.tmp-*`` files under ``data/`` and ``rejected/``) and refuses, before deleting anything,
an OUTDIR that holds any other file. It also refuses an OUTDIR that overlaps an input, is
the cwd or one of its ancestors, the home directory or one of its ancestors, or a file.

Fingerprinted resume. The run record holds the command and a fingerprint: the config hash
and the input listing (path, size, mtime, xxh3-128 of the whole file). A rerun resumes
only when both match; otherwise it refuses and says which files were added, removed or
changed. mtime is recorded but not compared: a touched file with the same bytes gives the
same output. Hashing whole files costs 0.03 s per 100 MB from the page cache (xxh3-128,
3.1 GB/s; sha256 1.3 GB/s; the JSONL planner's newline count over the same file 0.09 s;
0.15-0.3 s for all of ``input_fingerprint`` on a 100 MB JSONL with the 2-core machine at
load 50), so per-unit hashes would save nothing worth their complexity.

Lock. One writer per OUTDIR: ``xcurate.engine.lock``.

Commit marker. ``manifest.json`` is written last; an OUTDIR without it is incomplete
(killed or still running), and ``require_complete`` refuses it for every reader.
"""
from __future__ import annotations

import fnmatch
import os
import time
from typing import List, Optional, Sequence

import pyarrow.fs as pafs
import xxhash

from xcurate import fsutil
from xcurate.engine.card import CARD_FILE
from xcurate.engine.lock import LOCK_FILE, OutdirLock
from xcurate.engine.manifest import MANIFEST_FILE, files_below, load_progress
from xcurate.errors import RunError, UserError

RUN_FILE = "_xc_run.json"
WORK_DIR = "_xc_work"
REPORT_FILE = "report.html"
_SHARD_TREES = ("data", "rejected")
_LOG_DIR = "logs"  # xcurate.engine.console.log_dir_for
_OWNED_SHARD = "part-*.parquet"


# ---------------------------------------------------------------------------------------
# input fingerprint

def input_listing(paths: Sequence[str]) -> List[dict]:
    """[{path, size, mtime, xxh3}] of the input files (absolute local paths, URLs kept).

    A directory (a ``datasets`` save_to_disk dataset) is listed file by file.
    """
    files = set()
    for path in map(_absolute, paths):
        fs, p = fsutil.filesystem_for(path)
        if fs.get_file_info(p).type == pafs.FileType.Directory:
            files.update(fsutil.join(path, rel) for rel in files_below(path))
        else:
            files.add(path)
    return [_file_entry(path) for path in sorted(files)]


def _file_entry(path: str) -> dict:
    fs, p = fsutil.filesystem_for(path)
    info = fs.get_file_info(p)
    if info.type != pafs.FileType.File:
        return {"path": path}  # gone or not a file: listed, nothing to hash
    return {"path": path, "size": info.size, "mtime": info.mtime_ns, "xxh3": _xxh3_file(fs, p)}


def input_fingerprint(config_hash: str, paths: Sequence[str]) -> dict:
    """The fingerprint of a run: what decides its output (the config and the input bytes)."""
    return {"config_hash": config_hash, "inputs": input_listing(paths)}


def _xxh3_file(fs: pafs.FileSystem, path: str) -> str:
    h = xxhash.xxh3_128()
    with fs.open_input_stream(path, compression=None) as f:  # the bytes on disk, not decompressed
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def describe_input_change(before: List[dict], after: List[dict]) -> str:
    """'added x; removed y; changed z (size 10 -> 12)' between two listings ('' when equal)."""
    old, new = {e["path"]: e for e in before}, {e["path"]: e for e in after}
    parts = [f"added {p}" for p in sorted(new.keys() - old.keys())]
    parts += [f"removed {p}" for p in sorted(old.keys() - new.keys())]
    for p in sorted(old.keys() & new.keys()):
        a, b = old[p], new[p]
        if a.get("size") != b.get("size"):
            parts.append(f"changed {p} (size {a.get('size')} -> {b.get('size')})")
        elif a.get("xxh3") != b.get("xxh3"):
            parts.append(f"changed {p} (same size, other content)")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------
# the claim

class OutdirClaim:
    """A claimed OUTDIR: ``resuming`` tells whether a run of the same fingerprint is continued."""

    def __init__(self, outdir: str, resuming: bool, lock: OutdirLock):
        self.outdir, self.resuming, self._lock = outdir, resuming, lock

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> "OutdirClaim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim_outdir(outdir: str, *, command: str, inputs: Sequence[str], fingerprint: dict, overwrite: bool,
                 outputs: Sequence[str] = (), about: Optional[dict] = None) -> OutdirClaim:
    """Check, lock and prepare OUTDIR for ``command``; raises RunError (one line) when refused.

    ``inputs``: the paths the command reads (files, directories; glob patterns are skipped,
    pass what they matched). ``outputs``: top-level file names the command writes besides
    the manifest and report, recorded so that a later ``overwrite`` knows they are xcurate's.
    ``about``: kept in the run record for people (e.g. the config), not compared.
    """
    check_outdir_location(outdir, inputs)
    fsutil.makedirs(outdir)
    lock = OutdirLock(outdir)
    lock.acquire()
    try:
        resuming = _prepare(outdir, command, fingerprint, overwrite, outputs, about or {})
    except BaseException:
        lock.release()
        raise
    return OutdirClaim(outdir, resuming, lock)


def _prepare(outdir: str, command: str, fingerprint: dict, overwrite: bool, outputs: Sequence[str],
             about: dict) -> bool:
    run_file = fsutil.join(outdir, RUN_FILE)
    previous = fsutil.read_json(run_file) if fsutil.exists(run_file) else None
    foreign = _foreign_files(outdir, previous)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise RunError(f"{outdir}: holds files xcurate did not write ({shown}); xcurate writes only into an "
                       "empty directory or its own output and never deletes other files: choose a new OUTDIR")
    if previous is not None and not overwrite:
        _check_resumable(outdir, previous, command, fingerprint)
        return True
    if previous is not None:
        _remove_owned(outdir)
    record = {"command": command, "fingerprint": fingerprint, "outputs": list(outputs), "created": time.time(),
              **about}
    fsutil.atomic_write_json(record, run_file)
    return False


def _check_resumable(outdir: str, previous: dict, command: str, fingerprint: dict) -> None:
    how = "rerun with --overwrite to replace it, or choose a new OUTDIR"
    if previous.get("command", "run") != command:
        raise RunError(f"{outdir}: holds the output of `xcurate {previous.get('command')}`, not of "
                       f"`xcurate {command}`; {how}")
    before = previous.get("fingerprint", {})
    if _without_mtimes(before) == _without_mtimes(fingerprint):
        return
    changes = describe_input_change(before.get("inputs", []), fingerprint.get("inputs", []))
    if changes:
        raise RunError(f"{outdir}: the inputs changed since this output was started: {changes}; {how}")
    old = {k: v for k, v in before.items() if k != "inputs"}
    new = {k: v for k, v in fingerprint.items() if k != "inputs"}
    raise RunError(f"{outdir}: holds the output of another config ({_short(old)}, this one is {_short(new)}); {how}")


def _without_mtimes(fp: dict) -> dict:
    inputs = [{k: v for k, v in e.items() if k != "mtime"} for e in fp.get("inputs", [])]
    return dict(fp, inputs=inputs)


def _short(fp: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(fp.items())) or "none"


# ---------------------------------------------------------------------------------------
# where an OUTDIR may be

def check_outdir_location(outdir: str, inputs: Sequence[str]) -> None:
    """Refuse an OUTDIR that is a file, /, the cwd, the home dir (or above them), or overlaps an input."""
    if "://" in outdir:
        _check_remote_overlap(outdir, inputs)
        return
    out = os.path.realpath(outdir)
    if os.path.exists(out) and not os.path.isdir(out):
        raise RunError(f"{outdir}: is a file, not a directory; choose a directory for OUTDIR")
    for what, place in (("the current directory", os.getcwd()), ("the home directory", os.path.expanduser("~"))):
        if _within(os.path.realpath(place), out):
            relation = "is" if out == os.path.realpath(place) else "contains"
            raise RunError(f"{outdir}: OUTDIR {relation} {what}; choose a new directory for the output")
    for path in inputs:
        if "://" in path or not os.path.exists(path):
            continue  # a glob pattern (its matches are passed too) or a hub id
        src = os.path.realpath(path)
        if _within(src, out) or _within(out, src):
            relation = "is" if src == out else ("contains" if _within(src, out) else "is inside")
            raise RunError(f"{outdir}: OUTDIR {relation} the input {path}; write the output somewhere else")


def check_plain_output(output: str, *, inputs: Sequence[str], own_files: Sequence[str], what: str) -> None:
    """Guard a folder a command fills without a run record (export, calibrate-quality): same location rules
    as an OUTDIR, and it must be new, empty, or hold only files this command writes (it overwrites those)."""
    check_outdir_location(output, inputs)
    if "://" in output or not os.path.isdir(output):
        return
    foreign = sorted(name for name in os.listdir(output) if name not in own_files and name != "logs"
                     and not any(fnmatch.fnmatch(name, pattern) for pattern in own_files))
    if foreign:
        raise RunError(f"{output}: holds files that {what} did not write ({', '.join(foreign[:3])}"
                       f"{', ...' if len(foreign) > 3 else ''}); choose a new or empty directory")


def _within(path: str, root: str) -> bool:
    """``path`` equals ``root`` or lies below it (real local paths)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_remote_overlap(outdir: str, inputs: Sequence[str]) -> None:
    out = outdir.rstrip("/")
    for path in inputs:
        src = path.rstrip("/")
        if "://" in src and (src == out or src.startswith(out + "/") or out.startswith(src + "/")):
            raise RunError(f"{outdir}: OUTDIR overlaps the input {path}; write the output somewhere else")


# ---------------------------------------------------------------------------------------
# ownership

def _listed_shards(outdir: str) -> set:
    listed = set()
    manifest = fsutil.join(outdir, MANIFEST_FILE)
    records = [fsutil.read_json(manifest)] if fsutil.exists(manifest) else []
    records += load_progress(outdir)
    for record in records:
        for key in ("shards", "rejected_shards"):
            listed.update(s["path"] for s in record.get(key, []) if isinstance(s, dict) and "path" in s)
    return listed


def _is_owned(rel: str, run: dict, listed: set) -> bool:
    top, _, rest = rel.partition("/")
    name = rel.rsplit("/", 1)[-1]
    if top.startswith("_xc_") or top == _LOG_DIR or name.startswith(".tmp-") or rel in listed:
        return True
    if not rest:
        return rel in (MANIFEST_FILE, REPORT_FILE, CARD_FILE) or rel in run.get("outputs", [])
    return top in _SHARD_TREES and fnmatch.fnmatch(name, _OWNED_SHARD)


def _foreign_files(outdir: str, run: Optional[dict]) -> List[str]:
    files = [f for f in files_below(outdir) if f != LOCK_FILE]
    if run is None:
        return files
    listed = _listed_shards(outdir)
    return [f for f in files if not _is_owned(f, run, listed)]


def _remove_owned(outdir: str) -> None:
    """Delete xcurate's files (all of them: _foreign_files found no other), keeping the lock."""
    fs, root = fsutil.filesystem_for(outdir)
    for rel in files_below(outdir):
        if rel != LOCK_FILE:
            fs.delete_file(f"{root}/{rel}")
    _remove_empty_dirs(fs, root)


def _remove_empty_dirs(fs: pafs.FileSystem, root: str) -> None:
    dirs = [i.path for i in fs.get_file_info(pafs.FileSelector(root, recursive=True))
            if i.type == pafs.FileType.Directory]
    for d in sorted(dirs, key=len, reverse=True):
        if not fs.get_file_info(pafs.FileSelector(d)):
            fs.delete_dir(d)


def remove_intermediates(outdir: str) -> None:
    """After success: drop ``_xc_work`` and temp files that a killed or full-disk write left."""
    fs, root = fsutil.filesystem_for(outdir)
    if fsutil.exists(fsutil.join(outdir, WORK_DIR)):
        fs.delete_dir(f"{root}/{WORK_DIR}")
    for rel in files_below(outdir):
        if rel.rsplit("/", 1)[-1].startswith(".tmp-"):
            fs.delete_file(f"{root}/{rel}")


# ---------------------------------------------------------------------------------------
# readers: the commit marker

def require_complete(outdir: str) -> dict:
    """The manifest of a finished run; UserError when OUTDIR is not one (or not yet one)."""
    if not fsutil.exists(outdir):
        raise UserError(f"{outdir}: no such output directory")
    manifest = fsutil.join(outdir, MANIFEST_FILE)
    if not fsutil.exists(manifest):
        started = fsutil.exists(fsutil.join(outdir, RUN_FILE))
        what = "killed or still running?" if started else "not an xcurate output"
        raise UserError(f"{outdir}: OUTDIR is incomplete: no {MANIFEST_FILE} ({what}) — rerun `xcurate run ...` "
                        "to finish it")
    return fsutil.read_json(manifest)


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)
