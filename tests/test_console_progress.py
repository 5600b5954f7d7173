"""Progress lines and the console: log lines off a terminal, a bar on one, Ray's fds into a log file."""
import io
import logging
import os

import pytest

from xcurate.engine import console, progress
from xcurate.engine.console import ray_output_to, setup_logging
from xcurate.engine.progress import Progress


@pytest.fixture
def info_logging(caplog):
    with caplog.at_level(logging.INFO, logger="xcurate"):
        yield caplog


def test_log_lines_carry_counts_mb_rate_and_eta(info_logging):
    with Progress("[1/1] input → normalize → output", 4, total_mb=2.0, interval_s=0) as p:
        p.update(1, docs=10, mb=0.5)
        p.update(1, docs=15, mb=0.5)
    lines = [r.getMessage() for r in info_logging.records]
    assert lines[0].startswith("[1/1] input → normalize → output: 1/4 units, 10 docs, 0.5/2.0 MB, ")
    assert "MB/s, ETA " in lines[0]
    assert lines[-1].startswith("[1/1] input → normalize → output: 2 units, 25 docs, 1.0/2.0 MB")


def test_lines_are_periodic_and_quick_phases_end_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="xcurate"):
        with Progress("dedup: hash", 100, what="tasks", interval_s=3600, brief_s=3600) as p:
            for _ in range(100):
                p.update(1)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert caplog.records[0].getMessage().startswith("dedup: hash: 100 tasks in ")


def test_nothing_when_the_logger_is_quiet(caplog):
    with caplog.at_level(logging.WARNING, logger="xcurate"):
        with Progress("phase", 2, interval_s=0) as p:
            p.update(2)
    assert caplog.records == []


def test_a_terminal_gets_a_bar(monkeypatch, info_logging):
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    term = Terminal()
    monkeypatch.setattr(progress, "console_stream", lambda: term)
    with Progress("[1/2] input → langid → exact_dedup", 3, total_mb=3.0) as p:
        p.update(1, docs=5, mb=1.0)
    assert "1/3 units" in term.getvalue() and "5 docs" in term.getvalue()


def test_ray_output_goes_to_the_log_and_xcurate_lines_to_the_console(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(console, "_show_ray", False)
    setup_logging(0)
    try:
        with ray_output_to(str(tmp_path / "logs")) as path:
            os.write(2, b"[E core_worker.cc:2465] noise from C++\n")
            os.write(1, b"worker print\n")
            logging.getLogger("xcurate.engine.runner").info("resuming: 3 of 8 units done")
    finally:
        logging.getLogger("xcurate").handlers.clear()
        logging.getLogger("xcurate").propagate = True
        logging.getLogger("xcurate").setLevel(logging.NOTSET)
    captured = capfd.readouterr()
    assert "noise" not in captured.err and "worker print" not in captured.out
    assert "resuming: 3 of 8 units done" in captured.err
    assert open(path).read() == "[E core_worker.cc:2465] noise from C++\nworker print\n"
