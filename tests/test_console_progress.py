"""Progress lines and the console: log lines off a terminal, a bar on one, Ray's fds into a log file."""
import io
import logging
import os
import time

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
    assert lines[0] == "[1/1] input → normalize → output: started, 4 units, 2.0 MB"
    first = next(line for line in lines if "1/4 units" in line)
    assert first.startswith("[1/1] 1/4 units, 10 docs, 0.5/2.0 MB, ")  # the first line named the stages
    assert "MB/s, elapsed 0:00, ETA " in first
    assert lines[-1].startswith("[1/1] input → normalize → output: 2 units, 25 docs, 1.0/2.0 MB")


def _wait_for(records, predicate, timeout_s=30.0):
    """The first record matching ``predicate`` (polls; the heartbeat thread logs it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [r.getMessage() for r in list(records) if predicate(r.getMessage())]
        if found:
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"no such line in {[r.getMessage() for r in records]}")


def test_heartbeat_lines_while_no_unit_finishes(info_logging):
    with Progress("[2/3] exact_dedup → quality → minhash_dedup", 3, total_mb=30.0, interval_s=0.05):
        beat = _wait_for(info_logging.records, lambda m: "elapsed" in m)
    assert beat.startswith("[2/3] 0/3 units, 0.0/30.0 MB, elapsed 0:00, ")
    assert beat.endswith("ETA after the first unit")


def test_interval_comes_from_the_environment(monkeypatch, info_logging):
    monkeypatch.setenv(progress.INTERVAL_ENV, "0.05")
    with Progress("dedup: hash", 2, what="tasks"):
        assert _wait_for(info_logging.records, lambda m: "0/2 tasks" in m)
    monkeypatch.setenv(progress.INTERVAL_ENV, "soon")
    assert Progress("x", 0).interval_s == progress.DEFAULT_INTERVAL_S


def test_a_brief_phase_says_it_started_once_it_runs_long(info_logging):
    with Progress("dedup: components", 1, what="tasks", interval_s=0.05, brief_s=0.1) as p:
        _wait_for(info_logging.records, lambda m: "0/1 tasks" in m)
        p.update(1)
    lines = [r.getMessage() for r in info_logging.records]
    assert lines[0] == "dedup: components: started, 1 task"
    assert lines[-1].startswith("dedup: components: 1 task in ")


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


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def term(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(progress, "console_stream", lambda: terminal)
    return terminal


def test_a_terminal_gets_a_bar(term, info_logging):
    with Progress("[1/2] input → langid → exact_dedup", 3, total_mb=3.0) as p:
        p.update(1, docs=5, mb=1.0)
    assert "1/3 units" in term.getvalue() and "5 docs" in term.getvalue()
    assert info_logging.records == []  # the bar replaces the log lines


def test_a_terminal_bar_moves_while_no_unit_finishes(term, monkeypatch, info_logging):
    monkeypatch.setattr(progress, "BAR_REFRESH_S", 0.01)
    with Progress("[1/1] input → output", 2, total_mb=3.0):
        deadline = time.monotonic() + 30
        while term.getvalue().count("0/2 units") < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert term.getvalue().count("0/2 units") >= 3  # drawn at the start, then redrawn by the heartbeat


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


def test_every_pass_of_a_run_reports_before_its_first_unit_finishes(tmp_path, monkeypatch, ray_local, caplog):
    """Three passes (two global stages in a row): each says it started and then beats on its own."""
    from conftest import REPO
    from xcurate.engine.runner import run_pipeline
    monkeypatch.setenv(progress.INTERVAL_ENV, "0.05")
    cfg = {"input": {"paths": [str(REPO / "samples" / "demo.jsonl")], "text_field": "text", "id_field": "id"},
           "stages": [{"type": "normalize"}, {"type": "exact_dedup"}, {"type": "minhash_dedup"}, {"type": "length_filter"}]}
    with caplog.at_level(logging.INFO, logger="xcurate"):
        run_pipeline(cfg, str(tmp_path / "out"), quiet=True)
    lines = [r.getMessage() for r in caplog.records]
    first, last = "[1/3] input → normalize → exact_dedup", "[3/3] minhash_dedup → length_filter → output"
    started = lines.index(f"{first}: started, 1 unit, 0.3 MB")
    beats = [m for m in lines[started:] if m.startswith("[1/3] 0/1 units")]  # the pass takes seconds
    assert beats and "elapsed" in beats[0], lines
    assert f"{last}: started, 1 unit, 0.3 MB" in lines  # a later pass speaks up at once too
    assert any(m.startswith("[2/3] exact_dedup → minhash_dedup: no stage in between") for m in lines)
    assert "minhash_dedup: started on 1 unit" in lines


def test_workers_count_documents_through_each_stage(ray_local):
    """The detail of a pass's progress lines: rows stages finished, counted before any unit is written."""
    from xcurate.engine.live_counts import count_rows, counts_text, reset, start_counter
    actor = start_counter()
    reset(actor)
    assert counts_text(actor, ["normalize", "langid"]) == ""  # nothing yet: no detail
    count = ray_local.remote(num_cpus=0)(count_rows)
    ray_local.get([count.remote("normalize", 300), count.remote("normalize", 200), count.remote("langid", 120)])
    deadline = time.monotonic() + 30
    while counts_text(actor, ["normalize", "langid"]) != "docs through normalize 500, langid 120" \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counts_text(actor, ["normalize", "langid"]) == "docs through normalize 500, langid 120"
    reset(actor)  # a new pass starts from zero
    assert counts_text(actor, ["normalize"]) == ""


def test_a_new_run_gets_a_working_counter_while_the_last_one_is_being_destroyed(ray_local):
    """Runs one after another in one Ray session: the previous counter's handle was just dropped, so Ray
    is destroying it when the next run asks for the named actor. The next run must get a live one."""
    from xcurate.engine.live_counts import counts_text, reset, start_counter
    for _ in range(5):
        previous = start_counter()
        assert previous is not None
        del previous  # the last handle: Ray starts destroying the actor
        actor = start_counter()
        assert actor is not None
        reset(actor)
        assert counts_text(actor, ["normalize"]) == ""
        del actor
    reset(None)  # no counter: progress without the detail
    assert counts_text(None, ["normalize"]) == ""


def test_detail_ends_the_line_and_cannot_break_it(info_logging):
    details = iter(["docs through normalize 10", RuntimeError("counter gone")])

    def detail():
        d = next(details)
        if isinstance(d, Exception):
            raise d
        return d
    with Progress("[1/2] input → normalize → exact_dedup", 2, total_mb=1.0, interval_s=0.05, detail=detail):
        _wait_for(info_logging.records, lambda m: "elapsed" in m and "docs through" not in m
                  and m.startswith("[1/2]"), timeout_s=30)
    beats = [r.getMessage() for r in info_logging.records if "elapsed" in r.getMessage()]
    assert beats[0].endswith("ETA after the first unit; docs through normalize 10")
