"""The on-disk cache of built benchmark indexes (n-gram and cross-lingual).

An index is built once per suite + parameters and stored as one ``.npy`` file per array in a
directory under ``$XCURATE_CACHE`` (default ``~/.cache/xcurate``)/``decontam``: built once per
node under a file lock, then memory-mapped by every worker, so the pages are shared by all
workers on the node; each process also keeps the loaded object (one load per actor).
"""
from __future__ import annotations

import os
import shutil
import threading
from typing import Dict, Optional

import numpy as np
from filelock import FileLock


def save_arrays(path: str, arrays: Dict[str, np.ndarray]) -> None:
    """One .npy per array in a directory, renamed into place atomically (so workers can mmap them)."""
    tmp = f"{path}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name, arr in arrays.items():
        np.save(os.path.join(tmp, name + ".npy"), np.asarray(arr))
    os.replace(tmp, path)


def load_arrays(path: str) -> Dict[str, np.ndarray]:
    return {f[:-4]: np.load(os.path.join(path, f), mmap_mode="r") for f in os.listdir(path) if f.endswith(".npy")}


_INDEX_MEMO: Dict[str, object] = {}
_MEMO_LOCK = threading.Lock()


def cache_dir(explicit: Optional[str] = None) -> str:
    d = explicit or os.environ.get("XCURATE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "xcurate")
    d = os.path.join(d, "decontam")
    os.makedirs(d, exist_ok=True)
    return d


def cached_artifact(key: str, build, load, save, directory: Optional[str]):
    """Build once per node (file lock), reuse from disk in every other worker, memo per process."""
    path = os.path.join(cache_dir(directory), key)
    with _MEMO_LOCK:
        if path in _INDEX_MEMO:
            return _INDEX_MEMO[path]
    with FileLock(path + ".lock"):
        if not os.path.exists(path):
            save(build(), path)
    obj = load(path)
    with _MEMO_LOCK:
        _INDEX_MEMO[path] = obj
    return obj
