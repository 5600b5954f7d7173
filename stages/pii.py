"""`pii`: find personal data and redact it, flag it or drop the document.

Kinds (``xcurate.web.pii``): EMAIL, PHONE, IP_ADDRESS, IBAN, CREDIT_CARD, NATIONAL_ID (countries
and checks: configs/pii/README.md), each validated, not only matched. Placeholders name the
kind (``<EMAIL>``). Phone formats are tried per document language (``language`` column from
langid; regions: configs/pii/phone_regions.yaml). The manifest counts what was found under the
stage's ``counts``: ``kinds`` {kind: spans}, ``languages`` {language: {kind: spans}},
``documents`` (documents with any PII).

``ner`` (optional, only when configured) adds names and places found by Presidio with a spaCy
pipeline (an installed package or a folder; nothing is downloaded at run time).
Precision/recall per kind and MB/s per core: bench/pii_eval.py -> bench/results/pii_eval.json.
"""
from __future__ import annotations

import sys
from collections import Counter
from contextlib import contextmanager
from typing import List, Literal, Optional

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from xcurate.engine.registry import register
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, with_columns
from xcurate.resources import check_data_path, resolve_data_path
from xcurate.web.pii import KINDS, NATIONAL_IDS, PiiDetector, Span, redact

_COUNTRIES = [country for country, _, _ in NATIONAL_IDS]


class NerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spacy_model: str = Field(description="installed spaCy package (en_core_web_sm) or a pipeline folder")
    spacy_language: str = Field("en", description="language code the pipeline is for")
    entities: List[str] = Field(["PERSON", "LOCATION"], description="Presidio entity names to find")
    min_score: float = Field(0.5, ge=0, le=1, description="lowest Presidio score that counts")


class PiiParams(StageParams):
    mode: Literal["redact", "flag", "drop_document"] = Field(
        "redact", description="redact: replace with <KIND>; flag: only pii_kinds/pii_count; drop_document: reason contains_pii")
    kinds: List[str] = Field(list(KINDS), description=f"kinds to find, of {', '.join(KINDS)}")
    national_id_countries: Optional[List[str]] = Field(None, description=f"countries whose ID numbers count (null: all of {', '.join(_COUNTRIES)})")
    phone_regions: str = Field("configs/pii/phone_regions.yaml", description="language -> phone regions (YAML)")
    language_column: str = Field("language", description="column with the document language (absent: _default regions)")
    ner: Optional[NerParams] = Field(None, description="optional Presidio + spaCy names/places; null = off")

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: List[str]) -> List[str]:
        bad = [k for k in v if k not in KINDS]
        if bad:
            raise ValueError(f"unknown kinds {bad}; known: {', '.join(KINDS)}")
        return v

    @field_validator("national_id_countries")
    @classmethod
    def _countries(cls, v):
        bad = [c for c in v or [] if c not in _COUNTRIES]
        if bad:
            raise ValueError(f"no national ID check for {bad}; known: {', '.join(_COUNTRIES)}")
        return v

    _regions = field_validator("phone_regions")(lambda cls, v: check_data_path(v))


@register
class Pii(Stage):
    name = "pii"
    reads = ("text",)
    writes = ("text", "pii_kinds", "pii_count")
    Params = PiiParams
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        p = self.params
        regions = yaml.safe_load(resolve_data_path(p.phone_regions).read_text(encoding="utf-8"))
        self._detector = PiiDetector(p.kinds, regions, p.national_id_countries)
        self._ner = _PresidioNer(p.ner) if p.ner is not None else None

    def find(self, text: str, language: Optional[str]) -> List[Span]:
        spans = self._detector.find(text, language)
        if self._ner is not None:
            spans = _merge(spans, self._ner.find(text))
        return spans

    def process(self, table: pa.Table) -> StageOutput:
        if not hasattr(self, "_detector"):
            self.setup()
        texts = table["text"].to_pylist()
        col = self.params.language_column
        languages = table[col].to_pylist() if col in table.column_names else [None] * len(texts)
        out_texts, kinds, totals, reasons, counts = [], [], [], [], []
        for text, language in zip(texts, languages):
            spans = self.find(text or "", language)
            found = Counter(s.kind for s in spans)
            out_texts.append(redact(text, spans) if spans and self.params.mode == "redact" else text)
            kinds.append(",".join(sorted(found)) if found else None)
            totals.append(len(spans))
            reasons.append("contains_pii" if spans and self.params.mode == "drop_document" else None)
            counts.append({"documents": 1, "kinds": dict(found), "languages": {language or "unknown": dict(found)}}
                          if spans else None)
        out = with_columns(table, {"text": pa.array(out_texts, table["text"].type), "pii_kinds": pa.array(kinds, pa.string()),
                                   "pii_count": pa.array(totals, pa.int32())})
        return StageOutput(out, pa.array(reasons, pa.string()), counts=counts)


def _merge(spans: List[Span], extra: List[Span]) -> List[Span]:
    """Pattern spans first; a NER span is added where it overlaps none of them."""
    kept = [e for e in extra if all(e.end <= s.start or e.start >= s.end for s in spans)]
    return sorted(spans + kept, key=lambda s: s.start)


@contextmanager
def _without_modules(*names: str):
    """Import with ``names`` unavailable (those not imported yet), then make them importable again.

    Presidio imports transformers and torch for engines a spaCy pipeline does not use; that
    tripled its import time here (37 s -> 10 s on the shared 2-core machine)."""
    blocked = [n for n in names if n not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # import raises ImportError, which presidio handles
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name) is None:
                del sys.modules[name]


class _PresidioNer:
    """Presidio's analyzer over one spaCy pipeline, for names and places only."""

    def __init__(self, params: NerParams):
        from pathlib import Path

        import spacy
        with _without_modules("transformers", "torch"):
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import SpacyNlpEngine
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer
        if not (spacy.util.is_package(params.spacy_model) or Path(params.spacy_model).exists()):
            # Presidio would download the model; runs never fetch models.
            raise ValueError(f"pii.ner.spacy_model {params.spacy_model!r}: not an installed spaCy package or folder")
        engine = SpacyNlpEngine(models=[{"lang_code": params.spacy_language, "model_name": params.spacy_model}])
        engine.load()
        # Only the NER recognizer: the patterns are ours, and Presidio's default registry loads
        # recognizers whose first use looks up the public-suffix list on the network (tldextract).
        registry = RecognizerRegistry(supported_languages=[params.spacy_language])
        registry.add_recognizer(SpacyRecognizer(supported_language=params.spacy_language,
                                                supported_entities=list(params.entities)))
        self._analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[params.spacy_language])
        self._params = params

    def find(self, text: str) -> List[Span]:
        p = self._params
        results = self._analyzer.analyze(text=text, language=p.spacy_language, entities=p.entities,
                                         score_threshold=p.min_score)
        return [Span(r.start, r.end, r.entity_type) for r in results]

