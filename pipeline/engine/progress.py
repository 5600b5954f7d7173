"""Progress of a phase (a pass over the units, or a global stage's phase of Ray tasks).

The driver learns of each finished unit (the writer's progress record) or task, so it can
show done/total, documents, MB, rate and ETA. On a terminal that is a live ``tqdm`` line;
elsewhere (a log file, CI, ``ray job submit``) one log line every ``interval_s`` seconds
and one at the end. Nothing is shown when the ``xcurate`` logger is not at INFO (``-q``,
``quiet=True``, library use without :func:`xcurate.engine.console.setup_logging`).
"""
from __future__ import annotations

import io
import logging
import os
import time
from typing import Optional

from xcurate.engine.console import LOGGER_NAME, console_stream

log = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Counts for one phase; ``what`` names its items (``units``, ``tasks``)."""

    def __init__(self, phase: str, total: int, what: str = "units", total_mb: Optional[float] = None,
                 enabled: bool = True, interval_s: float = 10.0, brief_s: float = 0.0):
        self.phase, self.total, self.what, self.total_mb = phase, total, what, total_mb
        self.done, self.docs, self.mb = 0, 0, 0.0
        self.started = self._last_line = time.monotonic()
        self.interval_s = interval_s
        self.brief_s = brief_s  # a phase that ends sooner gets its end line at DEBUG only (off a terminal)
        self.enabled = enabled and logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO)
        self._bar = None
        if self.enabled and total and _is_terminal():
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=phase, unit=f" {what}", file=console_stream(), leave=not brief_s,
                             ncols=_terminal_width(), bar_format="{desc}: {percentage:3.0f}%|{bar:12}| {n}/{total} "
                             + what + " [{elapsed}<{remaining}]{postfix}")

    def update(self, n: int = 1, docs: int = 0, mb: float = 0.0) -> None:
        self.done, self.docs, self.mb = self.done + n, self.docs + docs, self.mb + mb
        if self._bar is not None:
            self._bar.set_postfix_str(self._counts().lstrip(", "), refresh=False)
            self._bar.update(n)
        elif self.enabled and self.done < self.total and time.monotonic() - self._last_line >= self.interval_s:
            self._last_line = time.monotonic()
            log.info("%s: %d/%d %s%s, ETA %s", self.phase, self.done, self.total, self.what, self._counts(),
                     self._eta())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.total:
            elapsed = time.monotonic() - self.started
            level = logging.INFO if elapsed >= self.brief_s else logging.DEBUG
            log.log(level, "%s: %d %s%s in %.1f s", self.phase, self.done, self.what, self._counts(), elapsed)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _counts(self) -> str:
        parts = []
        if self.docs:
            parts.append(f"{self.docs:,} docs")
        if self.total_mb:
            rate = self.mb / max(time.monotonic() - self.started, 1e-6)
            parts.append(f"{self.mb:.1f}/{self.total_mb:.1f} MB, {rate:.3g} MB/s")
        return "".join(", " + p for p in parts)

    def _eta(self) -> str:
        elapsed = time.monotonic() - self.started
        if self.total_mb and self.mb:
            return _clock(elapsed * (self.total_mb - self.mb) / self.mb)
        if self.done:
            return _clock(elapsed * (self.total - self.done) / self.done)
        return "?"


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(console_stream().fileno()).columns or 100  # 0 in a bare pty
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return 100


def _is_terminal() -> bool:
    stream = console_stream()
    return hasattr(stream, "isatty") and stream.isatty()
