"""Benchmark suites as data: YAML declaration, built-in adapters, loading.

A suite YAML::

    name: shared-multilingual
    root: ${XCURATE_SHARED_DATA}/benchmarks   # base dir for relative `path`s (default: the YAML's dir)
    benchmarks:
      - name: xquad                 # unique name; also the default adapter
        adapter: xquad              # optional when name is an adapter name
        path: xquad.jsonl           # local JSON/JSONL(.gz)/TSV/CSV/Parquet ...
        # hf: {id: google/xquad, config: xquad.en, split: validation}   # ... or a Hugging Face dataset
        languages: [en, de]         # optional filter (record `lang`/`language` or `language:` below)
        language: en                # language of all records when the records carry none
        fields: [context, question] # which canonical fields count (default: the adapter's)
        id_field: group_id          # optional: take item ids from this record field
        where: {variant: original}  # optional: keep records whose fields equal these values
        original_language: en       # optional (default: en when the records have English): other languages
                                    # of the records are human translations of the originals
        translations:               # optional: human translations in other files, same adapter, same item ids
          de: xquad.de.jsonl        # a path, or a mapping {path, fields, id_field, where, ...}
    translate: {backend: {type: transformers, model: ...}, languages: [sw, yo]}   # optional: machine-translate the
                                    # originals once (cached) into languages without a human translation

Every adapter maps a raw record to canonical fields (``context``, ``question``,
``choices``, ``answer``, ``text``) plus an item id. Item ids are stable across languages
for parallel benchmarks (XQuAD/MLQA question ids, XCOPA/Flores/XNLI/PAWS-X/Belebele/MMMLU
row keys), so "item found in any language" is a join on ``item_id``.

``${XCURATE_SHARED_DATA}`` expands to that env var, or ``<repo>/../shared/data``.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple


from xcurate.contamination.encoders import language_base
from xcurate.engine.config import ConfigError, load_yaml_file
from xcurate.errors import UserError
from xcurate.resources import shared_data_dir, shipped_config

CANONICAL_FIELDS = ("context", "question", "choices", "answer", "text")


class BenchmarkError(UserError, ValueError):
    """A suite or benchmark file the loader cannot use; the message names file and field."""


def _user_error(msg: str) -> BenchmarkError:
    return BenchmarkError(msg)




_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_path(value: str) -> str:
    """Expand ``${XCURATE_*}`` (``${XCURATE_SHARED_DATA}`` defaults to ../shared/data) and ``~``.

    Only the documented XCURATE_* variables: a suite file must not be able to read (and an
    error print) any other value of the environment, such as a secret.
    """
    def repl(m):
        if m.group(1) == "XCURATE_SHARED_DATA":
            return str(shared_data_dir())
        if not m.group(1).startswith("XCURATE_"):
            raise _user_error(f"path {value!r}: ${{{m.group(1)}}} is not expanded; suites may only use "
                              "XCURATE_* variables (e.g. ${XCURATE_SHARED_DATA})")
        return os.environ.get(m.group(1), m.group(2) or "")
    return os.path.expanduser(_ENV_RE.sub(repl, value))


@dataclass
class BenchmarkItem:
    benchmark: str
    item_id: str          # stable across languages for parallel benchmarks
    language: str
    segments: List[Tuple[str, str]]  # (canonical field, text) in field order
    origin: str = "original"  # "original" | "human" (a human translation) | "mt:<backend>/<model>"

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.segments)

    @property
    def key(self) -> str:
        return f"{self.benchmark}/{self.language}/{self.item_id}"


@dataclass
class BenchmarkSuite:
    name: str
    items: List[BenchmarkItem]
    source: str = "<dict>"
    fingerprint: str = ""
    translate: Optional[dict] = None  # the suite's `translate:` (machine translation of the originals)

    def languages(self) -> List[str]:
        return sorted({it.language for it in self.items})

    def benchmarks(self) -> List[str]:
        return sorted({it.benchmark for it in self.items})

    def counts(self) -> Dict[Tuple[str, str], int]:
        out: Dict[Tuple[str, str], int] = {}
        for it in self.items:
            out[(it.benchmark, it.language)] = out.get((it.benchmark, it.language), 0) + 1
        return out

    def filter(self, languages: Optional[Sequence[str]] = None,
               benchmarks: Optional[Sequence[str]] = None) -> "BenchmarkSuite":
        items = [it for it in self.items
                 if (not languages or it.language in languages) and (not benchmarks or it.benchmark in benchmarks)]
        if not items:
            raise _user_error(f"{self.source}: no benchmark items left after filtering "
                              f"(languages={list(languages or [])}, benchmarks={list(benchmarks or [])}; "
                              f"suite has languages {self.languages()})")
        fp = hashlib.sha256(f"{self.fingerprint}|{sorted(languages or [])}|{sorted(benchmarks or [])}".encode())
        return BenchmarkSuite(self.name, items, self.source, fp.hexdigest()[:16], self.translate)


# --------------------------------------------------------------------------- adapters
# An adapter: (record, context) -> canonical dict with "id" and canonical fields, or a list of
# them (one record can hold several items, e.g. an XQuAD paragraph with its questions).

@dataclass
class AdapterSpec:
    fn: Callable[[dict, "_RecordContext"], List[dict]]
    default_fields: Tuple[str, ...]
    description: str


@dataclass
class _RecordContext:
    source: str
    index: int          # record number in the file (0-based)
    split: str = ""
    running: Dict[str, int] = field(default_factory=dict)

    def need(self, rec: dict, *names: str) -> Any:
        """First present field among ``names`` or a clear error naming file and field."""
        for n in names:
            if n in rec and rec[n] is not None:
                return rec[n]
        raise _user_error(f"{self.source}: record {self.index + 1}: missing field "
                          f"{' / '.join(repr(n) for n in names)} (has {sorted(rec)[:12]})")


def _answer_texts(answers: Any) -> str:
    if isinstance(answers, dict):  # HF squad format {"text": [...], "answer_start": [...]}
        texts = answers.get("text") or []
    elif isinstance(answers, list):
        texts = [a.get("text", "") if isinstance(a, dict) else str(a) for a in answers]
    else:
        texts = [str(answers)]
    seen: List[str] = []
    for t in texts:
        if t and t not in seen:
            seen.append(t)
    return " | ".join(seen)


def _squad_like(rec: dict, ctx: _RecordContext) -> List[dict]:
    """XQuAD / MLQA / TyDiQA-GoldP: one item per question (context, question, answer)."""
    context = ctx.need(rec, "context")
    if "qas" in rec:  # SQuAD paragraph (the shared xquad.jsonl): several questions
        out = []
        for q in rec["qas"]:
            if "id" not in q or "question" not in q:
                raise _user_error(f"{ctx.source}: record {ctx.index + 1}: qas entry without 'id'/'question'")
            out.append({"id": str(q["id"]), "context": context, "question": q["question"],
                        "answer": _answer_texts(q.get("answers", []))})
        return out
    return [{"id": str(ctx.need(rec, "id")), "context": context, "question": ctx.need(rec, "question"),
             "answer": _answer_texts(rec.get("answers", ""))}]


def _row_id(rec: dict, ctx: _RecordContext, *names: str) -> str:
    for n in ("parallel_id",) + names:
        if rec.get(n) is not None:
            return str(rec[n])
    return f"{ctx.split + '.' if ctx.split else ''}{ctx.index:05d}"


def _xcopa(rec, ctx):
    if rec.get("parallel_id") is not None:
        item_id = str(rec["parallel_id"])
    elif rec.get("idx") is not None:
        item_id = f"{rec.get('split') or ctx.split or 'test'}.{int(rec['idx']):03d}"
    else:
        item_id = _row_id(rec, ctx)
    return [{"id": item_id, "context": ctx.need(rec, "premise"),
             "choices": [ctx.need(rec, "choice1"), ctx.need(rec, "choice2")]}]


def _mgsm(rec, ctx):
    q = ctx.need(rec, "question", "0")
    ans = rec.get("answer_number", rec.get("answer", rec.get("1", "")))
    return [{"id": _row_id(rec, ctx), "question": q, "answer": "" if ans is None else str(ans)}]


def _flores(rec, ctx):
    text = ctx.need(rec, "text", "sentence")
    return [{"id": _row_id(rec, ctx, "id"), "text": text}]


def _belebele(rec, ctx):
    link, qn = ctx.need(rec, "link"), ctx.need(rec, "question_number")
    choices = [ctx.need(rec, f"mc_answer{i}") for i in range(1, 5)]
    return [{"id": f"{link}#{qn}", "context": ctx.need(rec, "flores_passage"),
             "question": ctx.need(rec, "question"), "choices": choices}]


def _xnli(rec, ctx):
    premise = ctx.need(rec, "premise", "sentence1")
    hyp = ctx.need(rec, "hypothesis", "sentence2")
    return [{"id": _row_id(rec, ctx, "pairID", "id"), "context": premise, "question": hyp}]


def _pawsx(rec, ctx):
    return [{"id": _row_id(rec, ctx, "id"), "context": ctx.need(rec, "sentence1"),
             "question": ctx.need(rec, "sentence2")}]


_MC_LETTERS = ("A", "B", "C", "D")


def _mmlu(rec, ctx):
    """MMLU (cais/mmlu: question/choices/answer) and MMMLU (Question/A..D/Answer/Subject)."""
    question = ctx.need(rec, "question", "Question")
    if "choices" in rec:
        choices = list(rec["choices"])
    else:
        choices = [ctx.need(rec, letter) for letter in _MC_LETTERS]
    subject = str(rec.get("subject", rec.get("Subject", "")))
    if rec.get("item_index") is not None:
        n = int(rec["item_index"])
    else:  # MMLU/MMMLU rows are in the same order per subject in every language
        n = ctx.running[subject] = ctx.running.get(subject, -1) + 1
    answer = rec.get("answer", rec.get("Answer", ""))
    if isinstance(answer, int) and 0 <= answer < len(choices):
        answer = choices[answer]
    return [{"id": f"{subject}.{n:04d}" if subject else f"{n:05d}", "question": question,
             "choices": [str(c) for c in choices], "answer": str(answer)}]


def _arc(rec, ctx):
    choices = ctx.need(rec, "choices")
    if isinstance(choices, dict):
        choices = list(choices.get("text", []))
    elif isinstance(choices, list):
        choices = [c.get("text", "") if isinstance(c, dict) else str(c) for c in choices]
    question = ctx.need(rec, "question")
    if isinstance(question, dict):  # ARC JSONL from AI2: {"stem":..., "choices": [...]}
        choices = [c.get("text", "") for c in question.get("choices", [])] or choices
        question = question.get("stem", "")
    return [{"id": str(ctx.need(rec, "id")), "question": question, "choices": choices}]


def _arc_record(rec, ctx):
    if "question" in rec and isinstance(rec["question"], dict) and "choices" not in rec:
        rec = dict(rec, choices=rec["question"].get("choices", []))
    return _arc(rec, ctx)


def _generic(rec, ctx):
    out = {"id": _row_id(rec, ctx, "id")}
    for f in CANONICAL_FIELDS:
        if f in rec:
            out[f] = rec[f]
    if len(out) == 1:
        raise _user_error(f"{ctx.source}: record {ctx.index + 1}: generic adapter needs at least one of "
                          f"{list(CANONICAL_FIELDS)} (has {sorted(rec)[:12]})")
    return [out]


ADAPTERS: Dict[str, AdapterSpec] = {
    "xquad": AdapterSpec(_squad_like, ("context", "question", "answer"), "SQuAD-format QA (XQuAD)"),
    "mlqa": AdapterSpec(_squad_like, ("context", "question", "answer"), "MLQA (SQuAD format)"),
    "tydiqa": AdapterSpec(_squad_like, ("context", "question", "answer"), "TyDiQA-GoldP (SQuAD format)"),
    "xcopa": AdapterSpec(_xcopa, ("context", "choices"), "XCOPA premise + 2 choices"),
    "mgsm": AdapterSpec(_mgsm, ("question",), "MGSM / GSM8K word problems"),
    "flores": AdapterSpec(_flores, ("text",), "FLORES-101/200/+ sentences"),
    "belebele": AdapterSpec(_belebele, ("context", "question", "choices"), "Belebele passage + MCQ"),
    "xnli": AdapterSpec(_xnli, ("context", "question"), "XNLI premise/hypothesis"),
    "pawsx": AdapterSpec(_pawsx, ("context", "question"), "PAWS-X sentence pairs"),
    "mmlu": AdapterSpec(_mmlu, ("question", "choices"), "MMLU / MMMLU multiple choice"),
    "arc": AdapterSpec(_arc_record, ("question", "choices"), "ARC multiple choice"),
    "generic": AdapterSpec(_generic, CANONICAL_FIELDS, "records with canonical field names"),
}
ADAPTERS["mmmlu"] = ADAPTERS["mmlu"]
ADAPTERS["paws-x"] = ADAPTERS["pawsx"]
ADAPTERS["flores200"] = ADAPTERS["flores"]
ADAPTERS["gsm8k"] = ADAPTERS["mgsm"]

# TyDiQA ids start with the language name; MMMLU configs are locale codes.
_LANG_NAMES = {"arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id",
               "japanese": "ja", "kiswahili": "sw", "swahili": "sw", "korean": "ko", "russian": "ru",
               "telugu": "te", "thai": "th"}


def _record_language(rec: dict, spec: dict, hf_config: str) -> str:
    for f in ("lang", "language"):
        if isinstance(rec.get(f), str) and rec[f]:
            return rec[f]
    if spec.get("language"):
        return str(spec["language"])
    rid = str(rec.get("id", ""))
    head = rid.split("-", 1)[0].lower()
    if head in _LANG_NAMES:
        return _LANG_NAMES[head]
    if hf_config:
        return hf_config.split(".")[-1].split("_")[0].lower() if "." in hf_config else hf_config
    return "und"


# --------------------------------------------------------------------------- file readers

def _open_text(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def _read_records(path: str) -> Iterator[dict]:
    base = path[:-3] if path.endswith(".gz") else path
    ext = os.path.splitext(base)[1].lower()
    if not os.path.exists(path):
        raise _user_error(f"benchmark file not found: {path}")
    if ext in (".jsonl", ".ndjson"):
        with _open_text(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise _user_error(f"{path}: line {n}: invalid JSON ({e.msg})") from None
                if not isinstance(rec, dict):
                    raise _user_error(f"{path}: line {n}: expected a JSON object")
                yield rec
    elif ext == ".json":
        with _open_text(path) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise _user_error(f"{path}: invalid JSON ({e.msg})") from None
        yield from _json_records(data, path)
    elif ext in (".tsv", ".csv"):
        with _open_text(path) as f:
            text = f.read()
        delim = "\t" if ext == ".tsv" else ","
        first = text.split("\n", 1)[0]
        # MGSM's TSVs have no header (question \t answer); a header row has no digits-only cell.
        rows = list(csv.reader(io.StringIO(text), delimiter=delim, quoting=csv.QUOTE_MINIMAL if ext == ".csv"
                               else csv.QUOTE_NONE))
        header_like = not any(c.strip().lstrip("-").isdigit() for c in first.split(delim))
        if header_like and len(rows) > 1:
            head = rows[0]
            for r in rows[1:]:
                if r:
                    yield dict(zip(head, r))
        else:
            for r in rows:
                if r:
                    yield {str(i): v for i, v in enumerate(r)}
    elif ext == ".parquet":
        import pyarrow.parquet as pq
        yield from pq.read_table(path).to_pylist()
    else:
        raise _user_error(f"{path}: unknown benchmark file format {ext or '(none)'!r}; "
                          "use .jsonl, .json, .tsv, .csv or .parquet (optionally .gz)")


def _json_records(data: Any, path: str) -> Iterator[dict]:
    if isinstance(data, list):
        yield from data
    elif isinstance(data, dict) and isinstance(data.get("data"), list):
        # SQuAD v1 file: data[].paragraphs[] → paragraph records with qas
        for art in data["data"]:
            if isinstance(art, dict) and "paragraphs" in art:
                for para in art["paragraphs"]:
                    yield dict(para, title=art.get("title"))
            else:
                yield art
    else:
        raise _user_error(f"{path}: JSON benchmark must be a list of records or a SQuAD-style {{'data': [...]}}")


def _read_hf(hf: dict, where: str) -> Iterator[dict]:
    if not isinstance(hf, dict) or "id" not in hf:
        raise _user_error(f"{where}: hf: needs at least `id` (and usually `config`, `split`)")
    import datasets
    if os.path.isdir(expand_path(str(hf["id"]))):
        ds = datasets.load_from_disk(expand_path(str(hf["id"])))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[hf.get("split", "test")]
    else:
        ds = datasets.load_dataset(hf["id"], hf.get("config"), split=hf.get("split", "test"))
    yield from ds


# --------------------------------------------------------------------------- suite loading

_BENCH_KEYS = {"name", "adapter", "path", "paths", "hf", "languages", "language", "fields", "id_field", "where",
               "split", "original_language", "translations"}


def _as_text(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    s = str(value).strip()
    return [s] if s else []


def _load_benchmark(spec: dict, root: str, where: str) -> List[BenchmarkItem]:
    unknown = set(spec) - _BENCH_KEYS
    if unknown:
        raise _user_error(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_BENCH_KEYS)}")
    name = spec.get("name")
    if not name:
        raise _user_error(f"{where}: missing field 'name'")
    adapter_name = str(spec.get("adapter", name)).lower()
    if adapter_name not in ADAPTERS:
        raise _user_error(f"{where}: unknown adapter {adapter_name!r}; known: {sorted(ADAPTERS)}")
    adapter = ADAPTERS[adapter_name]
    fields = tuple(spec.get("fields") or adapter.default_fields)
    bad = [f for f in fields if f not in CANONICAL_FIELDS]
    if bad:
        raise _user_error(f"{where}: fields {bad} are not canonical fields {list(CANONICAL_FIELDS)}")
    languages = set(spec.get("languages") or [])
    where_eq = spec.get("where") or {}
    hf = spec.get("hf")
    paths = spec.get("paths") or ([spec["path"]] if spec.get("path") else [])
    if not paths and not hf:
        raise _user_error(f"{where}: give `path` (local file) or `hf` (Hugging Face dataset)")
    sources: List[Tuple[str, Iterable[dict], str]] = []
    for p in paths:
        full = expand_path(str(p))
        full = full if os.path.isabs(full) else os.path.join(root, full)
        sources.append((full, _read_records(full), str(spec.get("split", ""))))
    if hf:
        sources.append((f"hf:{hf.get('id')}", _read_hf(hf, where), str(hf.get("split", ""))))

    items: List[BenchmarkItem] = []
    for src, records, split in sources:
        ctx_by_lang: Dict[str, _RecordContext] = {}
        n_seen = 0
        for i, rec in enumerate(records):
            n_seen += 1
            if any(rec.get(k) != v for k, v in where_eq.items()):
                continue
            lang = _record_language(rec, spec, str((hf or {}).get("config") or ""))
            if languages and lang not in languages:
                continue  # (running per-language counters stay correct: they are per language)
            ctx = ctx_by_lang.setdefault(lang, _RecordContext(src, 0, split))
            ctx.index = i
            canon_list = adapter.fn(rec, ctx)
            for canon in canon_list:
                if spec.get("id_field"):
                    canon["id"] = str(ctx.need(rec, spec["id_field"]))
                segments = [(f, t) for f in fields for t in _as_text(canon.get(f))]
                if not segments:
                    raise _user_error(f"{src}: record {i + 1}: none of the counted fields {list(fields)} "
                                      f"has text (adapter {adapter_name})")
                items.append(BenchmarkItem(str(name), str(canon["id"]), lang, segments))
        if n_seen == 0:
            raise _user_error(f"{src}: benchmark file has no records")
    if not items:
        raise _user_error(f"{where}: no items loaded (languages filter {sorted(languages)}, where {where_eq})")
    return items


def _load_with_translations(spec: dict, root: str, where: str) -> List[BenchmarkItem]:
    """A benchmark and the human translations its spec names (``translations: {de: path | {path, ...}}``:
    the same adapter, item ids joined). Items in ``original_language`` (default: English when the
    benchmark has English items) are originals, items in any other language human translations."""
    translations = spec.get("translations") or {}
    if not isinstance(translations, dict):
        raise _user_error(f"{where}: `translations` maps a language to a file (or a mapping with `path`)")
    base = {k: v for k, v in spec.items() if k not in ("translations", "original_language")}
    items = _load_benchmark(base, root, where)
    original = spec.get("original_language")
    if original is None and any(language_base(it.language) == "en" for it in items):
        original = "en"
    for it in items:
        if original is not None and language_base(it.language) != language_base(str(original)):
            it.origin = "human"
        elif original is None and len({i.language for i in items}) > 1:
            it.origin = "human"  # a parallel benchmark whose source language is not in the suite
    for lang, sub in translations.items():
        sub = {"path": sub} if isinstance(sub, str) else dict(sub or {})
        inherited = {k: v for k, v in base.items()
                     if k not in ("path", "paths", "hf", "languages", "where", "language")}
        for it in _load_benchmark({**inherited, **sub, "language": str(lang)}, root, f"{where}: translations[{lang}]"):
            it.language, it.origin = str(lang), "human"
            items.append(it)
    return items


def load_suite(source: Any, root: Optional[str] = None, languages: Optional[Sequence[str]] = None,
               benchmarks: Optional[Sequence[str]] = None) -> BenchmarkSuite:
    """Load a suite from a YAML path or a dict. ``root`` overrides the suite's `root`."""
    if isinstance(source, BenchmarkSuite):
        return source.filter(languages, benchmarks) if (languages or benchmarks) else source
    if isinstance(source, dict):
        raw, name, base = source, "<suite>", os.getcwd()
    else:
        path = resolve_suite_path(str(source))
        try:
            raw = load_yaml_file(path)
        except ConfigError as e:
            raise _user_error(str(e)) from None
        name, base = path, os.path.dirname(path)
    if not isinstance(raw, dict):
        raise _user_error(f"{name}: a benchmark suite is a mapping with a `benchmarks` list")
    specs = raw.get("benchmarks")
    if not specs:
        raise _user_error(f"{name}: empty benchmark suite (no `benchmarks` entries)")
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise _user_error(f"{name}: `benchmarks` must be a list of mappings")
    root_dir = expand_path(root or str(raw.get("root") or "."))
    root_dir = root_dir if os.path.isabs(root_dir) else os.path.normpath(os.path.join(base, root_dir))
    items: List[BenchmarkItem] = []
    seen = set()
    for i, spec in enumerate(specs):
        where = f"{name}: benchmarks[{i}]"
        if spec.get("name") in seen:
            raise _user_error(f"{where}: duplicate benchmark name {spec.get('name')!r}")
        seen.add(spec.get("name"))
        items.extend(_load_with_translations(spec, root_dir, where))
    fp = hashlib.sha256()
    for it in items:
        fp.update(f"{it.key}\x00{it.origin}\x00{it.text}\x01".encode())
    suite = BenchmarkSuite(str(raw.get("name") or os.path.basename(name)), items, name, fp.hexdigest()[:16],
                           raw.get("translate"))
    return suite.filter(languages, benchmarks) if (languages or benchmarks) else suite


def resolve_suite_path(path: str) -> str:
    """A suite path as given, else one of the suites shipped in ``configs/benchmarks``."""
    p = expand_path(path)
    if os.path.isfile(p):
        return os.path.abspath(p)
    shipped = shipped_config(p)
    if shipped is not None:
        return str(shipped)
    raise _user_error(f"benchmark suite not found: {path}")
