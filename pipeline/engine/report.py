"""HTML run report: where the documents went (per stage and reason) and what is left per language."""
from __future__ import annotations

import base64
import html
import io
from typing import List

from xcurate import fsutil


def figure_to_img(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def _plots(manifest: dict) -> List[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    imgs = []
    stages = manifest["stages"]
    if stages:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(stages) + 1.2))
        names = [s["name"] for s in stages][::-1]
        ax.barh(names, [s["kept"] for s in stages][::-1], color="#4c9f70", label="kept")
        left = [s["kept"] for s in stages][::-1]
        reasons = sorted({r for s in stages for r in s["dropped"]})
        cmap = plt.get_cmap("tab20")
        for i, reason in enumerate(reasons):
            vals = [s["dropped"].get(reason, 0) for s in stages][::-1]
            ax.barh(names, vals, left=left, color=cmap(i % 20), label=reason)
            left = [a + b for a, b in zip(left, vals)]
        ax.set_xlabel("documents")
        ax.set_title("Documents per stage: kept and dropped by reason")
        ax.legend(fontsize=7, loc="lower right")
        imgs.append(figure_to_img(fig))
        plt.close(fig)
    langs = list(manifest["languages"].items())[:40]
    if langs:
        fig, ax = plt.subplots(figsize=(8, 0.25 * len(langs) + 1.2))
        ax.barh([k for k, _ in langs][::-1], [v["chars"] for _, v in langs][::-1], color="#3b6ea8")
        ax.set_xscale("log")
        ax.set_xlabel("characters kept (log)")
        ax.set_title("Output per language (top 40)")
        imgs.append(figure_to_img(fig))
        plt.close(fig)
    return imgs


def render_report(manifest: dict) -> str:
    from xcurate.engine.manifest import summary_text
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>xcurate run report</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}pre{background:#f5f5f5;padding:1em}</style>"
        f"</head><body><h1>xcurate run report</h1><p>config {html.escape(str(manifest.get('config_path')))} "
        f"(hash {manifest.get('config_hash')}), {manifest['started_at']} → {manifest['ended_at']}</p>"
        + "".join(_plots(manifest))
        + f"<h2>Summary</h2><pre>{html.escape(summary_text(manifest))}</pre></body></html>"
    )


def write_report(outdir: str, manifest: dict) -> str:
    path = fsutil.join(outdir, "report.html")
    fsutil.atomic_write_bytes(render_report(manifest).encode(), path)
    return path
