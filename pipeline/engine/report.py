"""HTML run report: where the documents went, examples of what was rejected, and what is left per language.

Sections: documents per stage (kept, and dropped by reason: distinct colour and hatch per
reason, legend beside the bars), output per language, LID score and length distributions
per language (from a bounded sample of ``data/``), examples of rejected documents per stage
and reason (from ``rejected/``), and the summary table.
"""
from __future__ import annotations

import base64
import bisect
import html
import io
from itertools import accumulate
from typing import Dict, List, Optional, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xcurate import fsutil

EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 400
SAMPLE_ROWS = 200_000          # rows of data/ read for the distributions
TOP_LANGUAGES = 25
_HATCHES = ("", "//", "..", "xx", "\\\\", "--")


def figure_to_img(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def reason_styles(reasons: List[str]) -> Dict[str, Tuple[tuple, str]]:
    """A (colour, hatch) per reason: the 10 distinct tab10 colours, then again with another hatch."""
    cmap = _pyplot().get_cmap("tab10")
    return {r: (cmap(i % 10), _HATCHES[(i // 10) % len(_HATCHES)]) for i, r in enumerate(reasons)}


def _stage_plot(manifest: dict) -> Optional[str]:
    fig = stage_figure(manifest)
    if fig is None:
        return None
    img = figure_to_img(fig)
    _pyplot().close(fig)
    return img


def stage_figure(manifest: dict):
    """Stacked bars per stage: kept, then each drop reason."""
    stages = manifest["stages"]
    if not stages:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(stages) + 1.5))
    names = [s["name"] for s in stages][::-1]
    left = [s["kept"] for s in stages][::-1]
    ax.barh(names, left, color="#b9d8c2", edgecolor="#4c9f70", label="kept")
    reasons = sorted({r for s in stages for r in s["dropped"]})
    for reason, (colour, hatch) in reason_styles(reasons).items():
        vals = [s["dropped"].get(reason, 0) for s in stages][::-1]
        ax.barh(names, vals, left=left, color=colour, hatch=hatch, edgecolor="white", linewidth=0.3, label=reason)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("documents")
    ax.set_title("Documents per stage: kept and dropped by reason")
    # beside the axes, never over the bars it explains
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)
    return fig


def _language_plot(manifest: dict) -> Optional[str]:
    langs = list(manifest["languages"].items())[:40]
    if not langs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(langs) + 1.2))
    ax.barh([k for k, _ in langs][::-1], [v["chars"] for _, v in langs][::-1], color="#3b6ea8")
    ax.set_xscale("log")
    ax.set_xlabel("characters kept (log)")
    ax.set_title("Output per language (top 40)")
    img = figure_to_img(fig)
    plt.close(fig)
    return img


def sample_kept(outdir: str, manifest: dict, limit: int = SAMPLE_ROWS) -> Optional[pa.Table]:
    """Language, LID score (when present) and length of up to ``limit`` kept documents."""
    parts, rows = [], 0
    for shard in manifest.get("shards", []):
        if rows >= limit:
            break
        path = fsutil.join(outdir, shard["path"])
        fs, p = fsutil.filesystem_for(path)
        pf = pq.ParquetFile(fs.open_input_file(p))
        names = pf.schema_arrow.names
        cols = [c for c in ("language", "language_score", "n_chars") if c in names]
        if "n_chars" not in cols:
            cols.append("text")
        table = pf.read(columns=cols).slice(0, limit - rows)
        if "text" in cols:
            table = table.append_column("n_chars", pc.utf8_length(table["text"])).drop_columns(["text"])
        if "language" not in table.column_names:
            table = table.append_column("language", pa.array([_language_of(shard["path"])] * table.num_rows))
        table = table.set_column(table.column_names.index("language"), "language",
                                 table["language"].cast(pa.string()))
        parts.append(table.select([c for c in ("language", "language_score", "n_chars") if c in table.column_names]))
        rows += table.num_rows
    return pa.concat_tables(parts, promote_options="permissive") if parts else None


def _language_of(shard_path: str) -> str:
    for part in shard_path.split("/"):
        if part.startswith("language="):
            return part.split("=", 1)[1]
    return "und"


def _distribution_plots(sample: Optional[pa.Table], manifest: dict) -> List[str]:
    if sample is None or sample.num_rows == 0:
        return []
    langs = [k for k in manifest["languages"]][:TOP_LANGUAGES]
    by_lang = {lang: sample.filter(pc.equal(sample["language"], lang)) for lang in langs}
    by_lang = {k: v for k, v in by_lang.items() if v.num_rows}
    if not by_lang:
        return []
    plt = _pyplot()
    imgs = []
    panels = [("n_chars", "characters per document (log)", True)]
    if "language_score" in sample.column_names:
        panels.insert(0, ("language_score", "LID score", False))
    for column, label, log_scale in panels:
        data = [[v for v in t[column].to_pylist() if v is not None] for t in by_lang.values()]
        fig, ax = plt.subplots(figsize=(10, 0.3 * len(by_lang) + 1.5))
        ax.boxplot(data, orientation="horizontal", tick_labels=list(by_lang), showfliers=False, whis=(5, 95))
        ax.invert_yaxis()
        if log_scale:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_title(f"{label} of kept documents per language (box: quartiles, whiskers: 5th-95th percentile)")
        imgs.append(figure_to_img(fig))
        plt.close(fig)
    return imgs


def rejected_examples(outdir: str, manifest: dict, per_reason: int = EXAMPLES_PER_REASON) -> Dict[Tuple[str, str], List[dict]]:
    """{(stage, reason): [{id, text}]} from the rejected shards, a few per reason."""
    out: Dict[Tuple[str, str], List[dict]] = {}
    for shard in manifest.get("rejected_shards", []):
        stage = next((p.split("=", 1)[1] for p in shard["path"].split("/") if p.startswith("stage=")), "?")
        path = fsutil.join(outdir, shard["path"])
        fs, p = fsutil.filesystem_for(path)
        pf = pq.ParquetFile(fs.open_input_file(p))
        if "reason" not in pf.schema_arrow.names:
            continue
        wanted = _first_rows_per_reason(pf.read(columns=["reason"]).column("reason").to_pylist(), stage, out,
                                        per_reason)
        if not wanted:
            continue  # the driver reads texts only for the examples it shows, never a whole rejected shard
        cols = [c for c in ("id", "text", "reason") if c in pf.schema_arrow.names]
        for row in _read_rows(pf, wanted, cols):
            out.setdefault((stage, row["reason"] or "unspecified"), []).append(
                {"id": row.get("id"), "text": row.get("text") or ""})
        # Arrow's allocator keeps freed pages for reuse; handing them back after each shard kept the driver's
        # RSS 80 MB lower at the end of a 500 MB run (each shard's text read left more of them behind).
        pa.default_memory_pool().release_unused()
    return out


def _first_rows_per_reason(reasons: List[Optional[str]], stage: str, have: Dict[Tuple[str, str], list],
                           per_reason: int) -> List[int]:
    """Row numbers of the first rows of each reason that still lacks examples."""
    room = {}
    wanted = []
    for i, reason in enumerate(reasons):
        key = (stage, reason or "unspecified")
        left = room.setdefault(key, per_reason - len(have.get(key, ())))
        if left > 0:
            wanted.append(i)
            room[key] = left - 1
    return wanted


def _read_rows(pf: pq.ParquetFile, rows: List[int], columns: List[str], batch_rows: int = 512) -> List[dict]:
    """``rows`` (sorted row numbers) of a Parquet file, streamed in batches of ``batch_rows`` from only the row
    groups that hold them, stopping after the last: the driver never holds a decoded row group of rejected text
    (one was ~30 MB at ``unit_mb: 32``; reading them whole raised the driver's RSS by ~130 MB at the end of a run)."""
    starts = list(accumulate((pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)),
                             initial=0))
    groups = sorted({bisect.bisect_right(starts, r) - 1 for r in rows})
    found: List[dict] = []
    pending = iter(rows)
    row = next(pending, None)
    for group in groups:
        offset = starts[group]
        for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns):
            end = offset + batch.num_rows
            take = []
            while row is not None and row < end:
                take.append(row - offset)
                row = next(pending, None)
            if take:
                found += batch.take(pa.array(take, pa.int64())).to_pylist()
            offset = end
            if row is None or row >= starts[group + 1]:
                break
    return found


def _examples_html(examples: Dict[Tuple[str, str], List[dict]]) -> str:
    if not examples:
        return ""
    parts = ["<h2>Examples of rejected documents</h2>"]
    for (stage, reason), docs in sorted(examples.items()):
        parts.append(f"<h3>{html.escape(stage)}: {html.escape(reason)}</h3><ul>")
        for d in docs:
            text = d["text"] if len(d["text"]) <= EXAMPLE_CHARS else d["text"][:EXAMPLE_CHARS] + " …"
            parts.append(f"<li><code>{html.escape(str(d['id']))}</code> <span class='doc'>{html.escape(text)}</span></li>")
        parts.append("</ul>")
    return "".join(parts)


_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "img{max-width:100%}pre{background:#f5f5f5;padding:1em;white-space:pre-wrap;overflow-x:auto}"
        ".doc{white-space:pre-wrap;color:#333}li{margin-bottom:.5em}")


def render_report(manifest: dict, outdir: Optional[str] = None) -> str:
    from xcurate.engine.manifest import summary_text
    imgs = [img for img in (_stage_plot(manifest), _language_plot(manifest)) if img]
    examples = ""
    if outdir is not None:
        imgs += _distribution_plots(sample_kept(outdir, manifest), manifest)
        examples = _examples_html(rejected_examples(outdir, manifest))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>xcurate run report</title><style>{_CSS}</style>"
        f"</head><body><h1>xcurate run report</h1><p>config {html.escape(str(manifest.get('config_path')))} "
        f"(hash {manifest.get('config_hash')}), {manifest['started_at']} → {manifest['ended_at']}</p>"
        + "".join(imgs) + examples
        + f"<h2>Summary</h2><pre>{html.escape(summary_text(manifest))}</pre></body></html>"
    )


def write_report(outdir: str, manifest: dict) -> str:
    path = fsutil.join(outdir, "report.html")
    fsutil.atomic_write_bytes(render_report(manifest, outdir).encode(), path)
    return path
