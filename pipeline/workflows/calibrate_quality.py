"""``xcurate calibrate-quality REFERENCE -o settings/``: per-language quality thresholds from clean text.

FineWeb-2's method: measure every filter's statistic on a reference corpus of text you accept in a
language, and put the threshold where a small tail of that reference would be dropped. Here each
statistic's threshold is its ``--tail`` quantile (default 0.5%, one-sided), widened by half the distance
from that quantile to the median, so a reference of a few hundred documents does not put a threshold
on its own most extreme document (an upper threshold of 0, a statistic the reference never shows,
means off):

* upper tail (the ``1 - tail`` quantile is the maximum allowed): ``dup_line_frac``, ``top_n_grams``
  (n = 2, 3, 4), ``dup_n_grams`` (n = 5..10), ``new_line_ratio``, ``max_avg_word_length``;
* lower tail (the ``tail`` quantile is the minimum allowed): ``line_punct_thr``,
  ``min_avg_word_length``, ``max_non_alpha_words_ratio`` (the minimum share of alphabetic words);
* ``stop_words``: the 20 words found in the most reference documents (as FineWeb-2 takes its most
  frequent words), at least 2 required.

Languages come from ``--language-field`` or, by default, the ``langid`` stage. The output folder is
the shipped ``fineweb2`` profile with the calibrated languages replaced; use it as the quality
stage's ``settings_dir``. The table printed at the end re-runs the quality stage with the new
settings on the reference (kept) and on junk generated in each language (``xcurate.text.junk``).
The reference is read through the engine's readers on Ray (``calibrate-lid``'s sampler).
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from itertools import accumulate
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa

from xcurate.errors import UserError
from xcurate.stages.quality import (PROFILE_DIRS, LanguageSettings, QualityParams, QualityStage,
                                    duplicated_ngram_chars, fineweb_quality, gopher_quality, gopher_repetition,
                                    tokenizer_for, top_ngram_chars)
from xcurate.text.junk import junk_documents
from xcurate.text.words import dominant_scripts
from xcurate.engine.outdir import check_plain_output
from xcurate.workflows.calibrate import add_reader_arguments, sample_texts, score_texts

N_STOP_WORDS = 20
TOP_N, DUP_N = (2, 3, 4), (5, 6, 7, 8, 9, 10)


# Settings under which the filters measure every statistic and reject nothing.
MEASURE_ONLY = {
    "gopher_quality": dict.fromkeys(("min_doc_words", "max_doc_words", "min_avg_word_length", "max_avg_word_length",
                                     "max_symbol_word_ratio", "max_bullet_lines_ratio", "max_ellipsis_lines_ratio",
                                     "max_non_alpha_words_ratio", "min_stop_words"), 0),
    "gopher_repetition": {"dup_para_frac": 0, "dup_para_char_frac": 0, "dup_line_frac": 0, "dup_line_char_frac": 0,
                          "top_n_grams": [], "dup_n_grams": []},
    "fineweb_quality": {"line_punct_thr": -1, "short_line_thr": float("inf"), "char_duplicates_ratio": float("inf"),
                        "new_line_ratio": float("inf")},
}


def document_statistics(text: str, words: List[str], settings: dict) -> dict:
    """The statistics FineWeb-2 fits thresholds on, for one document, measured by the filters themselves."""
    measured = {}
    for name, check in (("gopher_quality", gopher_quality), ("gopher_repetition", gopher_repetition),
                        ("fineweb_quality", fineweb_quality)):
        measured.update(check(text, words, {**settings[name], **MEASURE_ONLY[name]})[1])
    prefix = [0, *accumulate(map(len, words))]
    spaces = settings["gopher_repetition"].get("top_n_gram_spaces", "always")
    return {
        **{k: measured[k] for k in ("dup_line_frac", "line_punct_ratio", "list_ratio", "avg_word_length",
                                    "alpha_words_ratio") if k in measured},
        **{f"top_{n}": top_ngram_chars(words, n, spaces) / len(text) for n in TOP_N if len(words) >= n},
        **{f"dup_{n}": duplicated_ngram_chars(words, n, prefix) / len(text) for n in DUP_N},
    }


def fit_language(texts: Sequence[str], words: Sequence[List[str]], settings: dict, tail: float) -> dict:
    """Settings sections for one language from its reference documents (rules in the module docstring)."""
    stats = [document_statistics(t, w, settings) for t, w in zip(texts, words)]

    def q(key: str, level: float) -> float:
        values = [s[key] for s in stats if key in s]
        if not values:
            return 0.0
        tail_value, median = np.quantile(values, [level, 0.5])
        return round(float(tail_value + 0.5 * (tail_value - median)), 3)

    doc_freq = Counter(w for ws in words for w in set(ws) if any(c.isalpha() for c in w))
    return {
        "gopher_repetition": {"dup_line_frac": q("dup_line_frac", 1 - tail),
                              "top_n_grams": [[n, q(f"top_{n}", 1 - tail)] for n in TOP_N],
                              "dup_n_grams": [[n, q(f"dup_{n}", 1 - tail)] for n in DUP_N]},
        "fineweb_quality": {"line_punct_thr": q("line_punct_ratio", tail), "new_line_ratio": q("list_ratio", 1 - tail)},
        "gopher_quality": {"min_avg_word_length": q("avg_word_length", tail),
                           "max_avg_word_length": q("avg_word_length", 1 - tail),
                           "max_non_alpha_words_ratio": q("alpha_words_ratio", tail),
                           "stop_words": [w for w, _ in doc_freq.most_common(N_STOP_WORDS)], "min_stop_words": 2},
    }


CALIBRATED_MARKER = "_xc_calibrate_quality.json"  # says the folder is ours to refill

def calibrate_quality(texts: Sequence[str], languages: Sequence[str], output: str, tail: float = 0.005,
                      min_docs: int = 50, source: str = "", inputs: Sequence[str] = ()) -> Dict[str, dict]:
    """Write the settings folder; returns {language: {docs, kept, junk_dropped}}."""
    by_lang: Dict[str, List[str]] = {}
    for text, lang in zip(texts, languages):
        if text and text.strip() and lang and not lang.startswith("und"):
            by_lang.setdefault(lang, []).append(text)
    fitted = {lang: docs for lang, docs in sorted(by_lang.items()) if len(docs) >= min_docs}
    if not fitted:
        raise UserError(f"calibrate-quality: no language has {min_docs}+ reference documents "
                        f"({len(by_lang)} languages found); lower --min-docs or give more text")
    out = Path(output)
    if not (out / CALIBRATED_MARKER).exists():  # a folder of ours from an earlier calibration may be refilled
        check_plain_output(output, inputs=inputs, own_files=(), what="calibrate-quality")
    shutil.copytree(PROFILE_DIRS["fineweb2"], out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("datatrove_defaults", "__pycache__"))
    shipped = LanguageSettings()
    for lang, docs in fitted.items():
        settings = shipped.get(lang, lang.split("_")[-1])
        tokenizer = tokenizer_for(lang, settings)
        sections = fit_language(docs, [tokenizer(t) for t in docs], settings, tail)
        header = [f"# {lang}: fitted by xcurate calibrate-quality on {len(docs)} documents of {source}",
                  f"# (tail {tail}: each filter drops at most this share of the reference)"]
        body = [f"{section}:\n" + "".join(f"  {k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items())
                for section, values in sections.items()]
        (out / f"{lang}.yaml").write_text("\n".join(header) + "\n" + "".join(body), encoding="utf-8")
    (out / CALIBRATED_MARKER).write_text(json.dumps({"source": source, "tail": tail, "languages": sorted(fitted)}),
                                         encoding="utf-8")
    return {lang: check_language(lang, docs, str(out)) for lang, docs in fitted.items()}


def check_language(language: str, docs: List[str], settings_dir: str) -> dict:
    """Share of the reference kept and of generated junk dropped with the fitted settings."""
    stage = QualityStage(QualityParams(settings_dir=settings_dir))
    stage.setup()
    sentences = [ln for d in docs for ln in d.split("\n") if ln.strip()]
    junk = [t for _, t in junk_documents(sentences, ["Lorem ipsum dolor sit amet."] * 8, per_kind=3)]
    texts = list(docs) + junk
    reasons = stage(pa.table({"text": texts, "language": [language] * len(texts),
                              "script": dominant_scripts(texts)})).drop_reason.to_pylist()
    return {"docs": len(docs), "kept": round(sum(r is None for r in reasons[:len(docs)]) / len(docs), 4),
            "junk_dropped": round(sum(r is not None for r in reasons[len(docs):]) / len(junk), 4)}


def _languages(args, n: int, texts: List[str]) -> List[Optional[str]]:
    if args.language:
        return [args.language] * n
    languages, _ = score_texts(texts, args.model, 4000)
    return languages


def _cmd(args) -> int:
    if not 0 < args.tail < 0.5:
        raise UserError(f"calibrate-quality: --tail must be in (0, 0.5), got {args.tail}")
    try:
        texts = sample_texts(args.reference, args.text_field, args.sample, args.seed, args.address, args.format)
    except UserError as e:
        raise UserError(str(e).replace("calibrate-lid", "calibrate-quality")) from None
    if not texts:
        raise UserError(f"calibrate-quality: no texts found in field {args.text_field!r} of {args.reference}")
    report = calibrate_quality(texts, _languages(args, len(texts), texts), args.output, args.tail,
                               args.min_docs, ", ".join(args.reference), inputs=args.reference)
    from tabulate import tabulate
    print(tabulate([(lang, r["docs"], f"{r['kept']:.1%}", f"{r['junk_dropped']:.1%}") for lang, r in report.items()],
                   headers=["language", "reference docs", "reference kept", "generated junk dropped"]))
    print(f"\n{len(report)} languages -> {args.output} (use as quality params.settings_dir)")
    return 0


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate-quality", help="per-language quality thresholds from a reference corpus (FineWeb-2 method)",
        description="Fit each quality filter's threshold so it drops at most --tail of acceptable reference text.")
    p.add_argument("reference", nargs="+", help="JSONL(.gz/.zst)/Parquet files, globs or directories of clean text")
    p.add_argument("-o", "--output", required=True, help="settings folder to write (quality settings_dir)")
    add_reader_arguments(p)
    p.add_argument("--language", default=None, help="the reference's language (lang_Script); default: langid")
    p.add_argument("--model", default="lid.176.ftz", help="LID model labelling the reference when --language is unset")
    p.add_argument("--tail", type=float, default=0.005, help="share of the reference each filter may drop")
    p.add_argument("--min-docs", type=int, default=50, help="languages with fewer documents are not fitted")
    p.add_argument("--sample", type=int, default=100_000, help="documents sampled")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else an embedded local Ray)")
    p.set_defaults(func=_cmd)
