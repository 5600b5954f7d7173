"""Benchmarks delete only folders they made: ``bench._common.scratch_dir``."""
from __future__ import annotations

import pytest

from bench._common import SCRATCH_MARK, scratch_dir


def test_a_benchmark_refuses_a_folder_it_did_not_make_and_deletes_nothing(tmp_path):
    user = tmp_path / "data"
    user.mkdir()
    (user / "corpus.jsonl").write_text('{"text": "mine"}\n')
    with pytest.raises(SystemExit, match="not made by a benchmark"):
        scratch_dir(user)
    assert (user / "corpus.jsonl").read_text() == '{"text": "mine"}\n'


def test_a_benchmark_empties_its_own_scratch_folder_and_keeps_an_empty_one(tmp_path):
    work = scratch_dir(tmp_path / "work")
    (work / "out.parquet").write_bytes(b"x")
    again = scratch_dir(tmp_path / "work")
    assert sorted(p.name for p in again.iterdir()) == [SCRATCH_MARK]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (scratch_dir(empty) / SCRATCH_MARK).is_file() and empty.is_dir()


@pytest.mark.parametrize("where", ["cwd", "home", "parent_of_cwd"])
def test_a_benchmark_never_empties_the_working_directory_or_home_even_when_marked(tmp_path, monkeypatch, where):
    home, cwd = tmp_path / "home", tmp_path / "home" / "project"
    cwd.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    target = {"cwd": cwd, "home": home, "parent_of_cwd": tmp_path}[where]
    (target / SCRATCH_MARK).write_text("")
    (cwd / "notes.txt").write_text("keep")
    with pytest.raises(SystemExit, match="nothing was deleted"):
        scratch_dir(target)
    assert (cwd / "notes.txt").read_text() == "keep"
