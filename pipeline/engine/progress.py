"""Progress of a phase (a pass over the units, or a global stage's phase of Ray tasks).

The driver learns of each finished unit (the writer's progress record) or task, so it can
show done/total, documents, MB, rate and ETA. On a terminal that is a live ``tqdm`` line;
elsewhere (a log file, CI, ``ray job submit``) a line when the phase starts, then one every
``interval_s`` seconds and one at the end. A heartbeat thread keeps both going while no unit
finishes (a unit of a few hundred MB on a loaded machine takes minutes), so the elapsed time
moves and a run is never silent; a ``detail`` callable adds what is known meanwhile (the
runner's: documents through each stage, ``xcurate.engine.live_counts``). Phases given ``brief_s`` (dedup's many short phases) say
that they started only once they have run that long. Nothing is shown when the ``xcurate``
logger is not at INFO (``-q``, ``quiet=True``, library use without
:func:`xcurate.engine.console.setup_logging`).
"""
from __future__ import annotations

import io
import logging
import os
import threading
import time
from typing import Callable, Optional

from xcurate.engine.console import LOGGER_NAME, console_stream

log = logging.getLogger(__name__)
INTERVAL_ENV = "XCURATE_PROGRESS_INTERVAL_S"  # seconds between log lines off a terminal
DEFAULT_INTERVAL_S = 15.0
BAR_REFRESH_S = 1.0  # a terminal's live line redraws this often (elapsed time, rate)


def default_interval_s() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Counts for one phase; ``what`` names its items (``units``, ``tasks``)."""

    def __init__(self, phase: str, total: int, what: str = "units", total_mb: Optional[float] = None,
                 enabled: bool = True, interval_s: Optional[float] = None, brief_s: float = 0.0,
                 detail: Optional[Callable[[], str]] = None):
        self.phase, self.total, self.what, self.total_mb = phase, total, what, total_mb
        self.detail = detail  # more to say while items run (documents through each stage); '' = nothing
        # lines after the first name a pass by its number only ("[1/3]"); the first names its stages
        self.tag = phase.split(" ", 1)[0] if phase.startswith("[") else f"{phase}:"
        self.done, self.docs, self.mb = 0, 0, 0.0
        self.started = self._last_line = time.monotonic()
        self.interval_s = default_interval_s() if interval_s is None else interval_s
        self.brief_s = brief_s  # a phase that ends sooner gets its end line at DEBUG only (off a terminal)
        self.enabled = enabled and bool(total) and logging.getLogger(LOGGER_NAME).isEnabledFor(logging.INFO)
        self._bar = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: Optional[threading.Thread] = None
        self._last_line += brief_s  # a brief phase is quiet until it has run that long
        if not self.enabled:
            return
        if _is_terminal():
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=phase, unit=f" {what}", file=console_stream(), leave=not brief_s,
                             ncols=_terminal_width(), bar_format="{desc}: {percentage:3.0f}%|{bar:12}| {n}/{total} "
                             + what + " [{elapsed}<{remaining}]{postfix}")
        elif not brief_s:
            self._start_line()
        self._heartbeat = threading.Thread(target=self._beat, name="xcurate-progress", daemon=True)
        self._heartbeat.start()

    def update(self, n: int = 1, docs: int = 0, mb: float = 0.0) -> None:
        with self._lock:
            self.done, self.docs, self.mb = self.done + n, self.docs + docs, self.mb + mb
            if self._bar is not None:
                self._bar.set_postfix_str(self._counts().lstrip(", "), refresh=False)
                self._bar.update(n)
            elif self.enabled and self.done < self.total and time.monotonic() - self._last_line >= self.interval_s:
                self._line()

    def close(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            elapsed = time.monotonic() - self.started
            level = logging.INFO if elapsed >= self.brief_s else logging.DEBUG
            log.log(level, "%s: %s%s in %.1f s", self.phase, self._items(self.done), self._counts(), elapsed)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start_line(self) -> None:
        size = f", {self.total_mb:.1f} MB" if self.total_mb else ""
        log.info("%s: started, %s%s", self.phase, self._items(self.total), size)
        self._last_line = time.monotonic()

    def _items(self, n: int) -> str:
        return f"{n} {self.what if n != 1 else self.what.rstrip('s')}"

    def _line(self) -> None:
        self._last_line = time.monotonic()
        log.info("%s %d/%d %s%s, elapsed %s, ETA %s%s", self.tag, self.done, self.total, self.what, self._counts(),
                 _clock(self._last_line - self.started), self._eta(), self._detail())

    def _detail(self) -> str:
        try:
            text = self.detail() if self.detail is not None else ""
        except Exception:  # noqa: BLE001 - progress must never fail a run
            text = ""
        return f"; {text}" if text else ""

    def _beat(self) -> None:
        """Lines (or bar redraws) while no item finishes; stops at ``close``."""
        if self._bar is None and self.brief_s:
            if self._stop.wait(self.brief_s):
                return
            with self._lock:
                self._start_line()
        while True:
            wait = BAR_REFRESH_S if self._bar is not None else self._last_line + self.interval_s - time.monotonic()
            if self._stop.wait(max(wait, 0.05)):
                return
            with self._lock:
                if self._bar is not None:
                    self._bar.set_postfix_str(self._counts().lstrip(", "), refresh=False)
                    self._bar.refresh()
                elif time.monotonic() - self._last_line >= self.interval_s:
                    self._line()

    def _counts(self) -> str:
        parts = []
        if self.docs:
            parts.append(f"{self.docs:,} docs")
        if self.total_mb:
            rate = self.mb / max(time.monotonic() - self.started, 1e-6)
            parts.append(f"{self.mb:.1f}/{self.total_mb:.1f} MB" + (f", {rate:.3g} MB/s" if self.mb else ""))
        return "".join(", " + p for p in parts)

    def _eta(self) -> str:
        elapsed = time.monotonic() - self.started
        if self.total_mb and self.mb:
            return _clock(elapsed * (self.total_mb - self.mb) / self.mb)
        if self.done:
            return _clock(elapsed * (self.total - self.done) / self.done)
        return f"after the first {self.what.rstrip('s')}"


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(console_stream().fileno()).columns or 100  # 0 in a bare pty
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return 100


def _is_terminal() -> bool:
    stream = console_stream()
    return hasattr(stream, "isatty") and stream.isatty()
