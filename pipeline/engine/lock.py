"""The OUTDIR lock: one writer per output directory, also across the hosts of a shared filesystem.

``_xc_lock.json`` (pid, host, start time) is created exclusively (O_EXCL; on object
stores written and read back) and its mtime is touched every ``HEARTBEAT_S``. A lock is
stale when its host is this one and its pid is gone or now belongs to a process started at
another time, or when its host is another one (a shared filesystem) and its heartbeat is
older than ``XCURATE_LOCK_STALE_MINUTES`` (default 10); a stale lock is taken over, a live
one refused.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from typing import Dict, Optional

import psutil

from xcurate import fsutil
from xcurate.errors import RunError

LOCK_FILE = "_xc_lock.json"
HEARTBEAT_S = 30.0


def _stale_after_s() -> float:
    return float(os.environ.get("XCURATE_LOCK_STALE_MINUTES", "10")) * 60


def _process_started(pid: int) -> Optional[float]:
    """When process ``pid`` of this host started; None when there is none (or only its zombie)."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except (psutil.NoSuchProcess, ValueError):
        return None
    except psutil.AccessDenied:
        return -1.0  # alive, start unknown


class OutdirLock:
    """One writer per OUTDIR: an exclusive lock file with a heartbeat (see the module docstring)."""

    def __init__(self, outdir: str):
        self.outdir, self.path = outdir, fsutil.join(outdir, LOCK_FILE)
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                      "process_started": _process_started(os.getpid()), "token": uuid.uuid4().hex}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def acquire(self) -> None:
        if not self._create():
            holder = self._read() or {}  # unreadable: being written right now, or broken (then its age decides)
            if not self._is_stale(holder):
                raise RunError(f"{self.outdir}: another xcurate is writing "
                               f"this OUTDIR (pid {holder.get('pid')} on {holder.get('host')}, since "
                               f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(holder.get('started', 0)))} UTC); "
                               f"wait for it, or remove {self.path} if that process is gone")
            self._remove()
            if not self._create() or (self._read() or {}).get("token") != self.owner["token"]:
                raise RunError(f"{self.path}: another xcurate took the lock at the same moment; retry")
        self._thread = threading.Thread(target=self._heartbeat, name="xcurate-outdir-lock", daemon=True)
        self._thread.start()

    def release(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if (self._read() or {}).get("token") == self.owner["token"]:
            self._remove()

    def _create(self) -> bool:
        payload = json.dumps(self.owner).encode()
        if "://" in self.path:  # object stores have no exclusive create: write, then read back
            if fsutil.exists(self.path):
                return False
            fsutil.atomic_write_bytes(payload, self.path)
            return (self._read() or {}).get("token") == self.owner["token"]
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        return True

    def _read(self) -> Optional[dict]:
        try:
            return fsutil.read_json(self.path)
        except (FileNotFoundError, ValueError, OSError):
            return None

    def _remove(self) -> None:
        fs, p = fsutil.filesystem_for(self.path)
        try:
            fs.delete_file(p)
        except FileNotFoundError:
            pass

    def _is_stale(self, holder: Dict) -> bool:
        if holder.get("host") == socket.gethostname():
            started = _process_started(int(holder.get("pid", -1)))
            recorded = holder.get("process_started")
            # A pid that is alive but started at another time was reused by an unrelated process.
            return started is None or (started >= 0 and recorded is not None and abs(started - recorded) > 1.0)
        fs, p = fsutil.filesystem_for(self.path)
        mtime = fs.get_file_info(p).mtime_ns or 0
        return time.time() - mtime / 1e9 > _stale_after_s()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if "://" in self.path:  # no utime on object stores: rewrite the file
                fsutil.atomic_write_bytes(json.dumps(self.owner).encode(), self.path)
                continue
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return
