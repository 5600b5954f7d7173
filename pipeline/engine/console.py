"""The console: xcurate's own log lines on the terminal, Ray's output in ``OUTDIR/logs/ray.log``.

Every module logs through ``logging.getLogger(__name__)`` (all under ``xcurate``); the CLI
calls :func:`setup_logging` (``-q`` warnings only, ``-v`` debug). Used as a library,
xcurate adds no handler and its INFO lines stay silent.

Ray writes to the driver's stdout/stderr from C++ (``core_worker.cc ... max_restarts > 0``
on every actor pool), from its Python loggers (the token-auth WARNING, Ray Data's
progress) and on behalf of workers (``log_to_driver``). None of it is for the person
running xcurate, and the C++ lines cannot be caught in Python, so during a run
:func:`ray_output_to` points file descriptors 1 and 2 at the log file; xcurate's console
keeps a copy of the real stderr. With ``-v`` Ray's output stays on the terminal.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from typing import Iterator, Optional, TextIO

from xcurate.errors import UserError

LOGGER_NAME = "xcurate"
RAY_LOG = "ray.log"

_console: Optional[TextIO] = None  # the real terminal while fds 1/2 go to the Ray log
_show_ray = False


def console_stream() -> TextIO:
    return _console or sys.stderr


class _ConsoleHandler(logging.Handler):
    """Writes to the terminal even while Ray's output is redirected."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = console_stream()
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never break the run
            self.handleError(record)


def setup_logging(verbosity: int = 0) -> None:
    """Console logging for the CLI: ``verbosity`` -1 (``-q``), 0 or ≥1 (``-v``, also shows Ray's output)."""
    global _show_ray
    logger = logging.getLogger(LOGGER_NAME)
    for h in [h for h in logger.handlers if isinstance(h, _ConsoleHandler)]:
        logger.removeHandler(h)
    handler = _ConsoleHandler()
    fmt = "%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG)
    logger.propagate = False
    _show_ray = verbosity > 0


def log_dir_for(outdir: str) -> str:
    """``OUTDIR/logs`` for a local OUTDIR; a local temp folder when OUTDIR is an object store URL."""
    if "://" in outdir:
        return os.path.join(tempfile.gettempdir(), "xcurate-logs", outdir.split("://", 1)[1].strip("/").replace("/", "_"))
    return os.path.join(outdir, "logs")


@contextlib.contextmanager
def ray_output_to(log_dir: str) -> Iterator[Optional[str]]:
    """Send everything written to fds 1 and 2 (Ray's output) to ``log_dir/ray.log``; yields its path.

    Does nothing (yields None) after ``setup_logging(verbosity≥1)`` or when already redirected.
    """
    global _console
    if _show_ray or _console is not None:
        yield None
        return
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, RAY_LOG)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _console = os.fdopen(os.dup(saved_err), "w", buffering=1, encoding="utf-8", errors="replace")
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    try:
        yield path
    except UserError:
        raise  # one line from the CLI says it all
    except BaseException:
        logging.getLogger(__name__).error("the run failed; Ray's output is in %s", path)
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        _console.close()
        _console = None
