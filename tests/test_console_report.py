"""report.html: a readable stage plot, rejected examples per reason, distributions per language."""
import re

import pyarrow as pa
import pyarrow.parquet as pq

from xcurate.engine.report import reason_styles, render_report, stage_figure

REASONS = [f"filter_{i}:reason_{i}" for i in range(15)]


def _manifest():
    dropped = {r: i + 1 for i, r in enumerate(REASONS)}
    kept = 500
    return {
        "stages": [{"name": "read", "input": 620, "kept": 620, "dropped": {}, "seconds": 0.1},
                   {"name": "quality", "input": 620, "kept": kept, "dropped": dropped, "seconds": 1.0}],
        "languages": {"eng_Latn": {"documents": 3, "chars": 300}, "deu_Latn": {"documents": 2, "chars": 90}},
        "shards": [{"path": "data/language=eng_Latn/part-a.parquet", "rows": 3},
                   {"path": "data/language=deu_Latn/part-a.parquet", "rows": 2}],
        "rejected_shards": [{"path": "rejected/stage=quality/part-a.parquet", "rows": 6}],
        "input_documents": 620, "output_documents": 5, "wall_seconds": 2.0, "units": 1,
        "started_at": "2026-01-01T00:00:00", "ended_at": "2026-01-01T00:00:02", "config_hash": "x", "config_path": "c.yaml",
    }


def _outdir(tmp_path):
    for lang, n in (("eng_Latn", 3), ("deu_Latn", 2)):
        d = tmp_path / "data" / f"language={lang}"
        d.mkdir(parents=True)
        pq.write_table(pa.table({"id": [f"{lang}{i}" for i in range(n)], "text": ["x" * (10 * (i + 1)) for i in range(n)],
                                 "language_score": [0.9 - 0.1 * i for i in range(n)]}), d / "part-a.parquet")
    d = tmp_path / "rejected" / "stage=quality"
    d.mkdir(parents=True)
    reasons = [REASONS[0]] * 5 + [REASONS[1]]
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(6)], "text": [f"<rejected text {i}>" for i in range(6)],
                             "reason": reasons}), d / "part-a.parquet")
    return tmp_path


def test_fifteen_reasons_get_distinct_styles():
    styles = reason_styles(REASONS)
    assert len(set(styles.values())) == 15


def test_legend_sits_beside_the_bars():
    fig = stage_figure(_manifest())
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1


def test_report_has_examples_distributions_and_a_wrapped_summary(tmp_path):
    page = render_report(_manifest(), str(_outdir(tmp_path)))
    assert "Examples of rejected documents" in page
    assert page.count("&lt;rejected text") == 4  # 3 examples of the first reason, 1 of the second
    assert "quality: filter_0:reason_0" in page
    assert len(re.findall(r"<img ", page)) == 4  # stages, languages, LID score, length
    summary = page.split("<pre>")[1].split("</pre>")[0]
    assert max(len(line) for line in summary.splitlines()) <= 120


def test_console_summary_shows_the_top_reasons_within_the_terminal(monkeypatch, capsys):
    from xcurate.engine.manifest import print_summary, summary_text
    for columns in (80, 120, 200):
        monkeypatch.setenv("COLUMNS", str(columns))
        print_summary(_manifest())
        out = capsys.readouterr().out
        table = out.split("\n\n")[0].splitlines()
        assert max(len(line) for line in table) <= columns, out
        for reason, n in (("filter_14:reason_14", 15), ("filter_13:reason_13", 14), ("filter_12:reason_12", 13)):
            assert f"{reason}={n}" in " ".join(out.split()), out  # the three commonest, with counts
        assert "filter_11:reason_11" not in out and "+12 more (report.html)" in " ".join(out.split())
        assert len(table) <= 2 + 2 + 3  # header, rule, read, quality in at most three lines
    # the report keeps every reason
    full = summary_text(_manifest())
    assert all(f"{r}=" in " ".join(full.split()) for r in REASONS) and "more" not in full


def test_console_summary_lists_the_largest_languages(capsys):
    from xcurate.engine.manifest import print_summary, summary_text
    m = _manifest()
    m["languages"] = {f"l{i:02d}_Latn": {"documents": i + 1, "chars": 10 * (i + 1)} for i in range(14)}
    print_summary(m)
    out = capsys.readouterr().out
    assert "l13_Latn" in out and "l04_Latn" in out and "l03_Latn" not in out
    assert "+4 more languages, 10 documents (manifest.json, README.md)" in out
    assert "l00_Latn" in summary_text(m)  # the report lists them all


def test_rejected_examples_are_the_first_rows_of_each_reason_across_shards_and_row_groups(tmp_path):
    """The driver reads the reason column, then only the row groups holding the examples it shows."""
    from xcurate.engine.report import rejected_examples
    shards = []
    for n, reasons in enumerate((["a", "b", "a", "a", None, "a", "c"], ["b", "c", "c", "c", "b", "a"])):
        path = tmp_path / "rejected" / "stage=quality" / f"u{n}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = [f"{n}-{i}" for i in range(len(reasons))]
        pq.write_table(pa.table({"id": ids, "text": [f"text {i}" for i in ids], "reason": reasons}), path,
                       row_group_size=2)
        shards.append({"path": f"rejected/stage=quality/u{n}.parquet"})
    examples = rejected_examples(str(tmp_path), {"rejected_shards": shards}, per_reason=2)
    assert {k: [d["id"] for d in v] for k, v in examples.items()} == {
        ("quality", "a"): ["0-0", "0-2"], ("quality", "b"): ["0-1", "1-0"],
        ("quality", "c"): ["0-6", "1-1"], ("quality", "unspecified"): ["0-4"]}
    assert examples[("quality", "c")][1]["text"] == "text 1-1"


def test_rows_are_read_batch_by_batch_from_the_row_groups_that_hold_them(tmp_path):
    from xcurate.engine.report import _read_rows
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": list(range(100))}), path, row_group_size=30)  # groups 0-29, 30-59, 60-89, 90-99
    pf = pq.ParquetFile(path)
    for rows in ([0], [29, 30], [3, 4, 61, 62, 99], [95], list(range(0, 100, 7)), []):
        for batch_rows in (1, 4, 512):
            assert [r["n"] for r in _read_rows(pf, rows, ["n"], batch_rows)] == rows, (rows, batch_rows)
