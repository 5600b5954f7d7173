"""Machine translations of a suite's items, made once and cached (the benchmark side of the translated-suite route).

The corpus is huge and the suite small, so the expensive work is done on the suite: for each
language of ``translate.languages`` that has no human translation in the suite, the original
items are translated once with an MT backend of ``xcurate synth`` (``xcurate.mt``: transformers
NLLB/M2M100/Marian, or an OpenAI-compatible endpoint) and stored as JSONL under the
contamination cache, keyed by (content hash of the original items, backend + model, language).
The items keep their ``item_id``, so a match in any language reports the original item; their
``origin`` is ``mt:<backend>/<model>``.

    translate:
      backend: {type: transformers, model: facebook/nllb-200-distilled-600M}
      languages: [sw, yo, km]
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from xcurate.contamination.cache import cache_dir as _cache_root
from xcurate.contamination.encoders import language_base
from xcurate.errors import UserError


class TranslateError(UserError, ValueError):
    """A `translate:` setting that cannot be used (backend, languages, failed translations)."""


def _backend_config(raw: dict):
    from xcurate.mt.hf_backend import HFBackendConfig
    from xcurate.mt.http_backend import HttpBackendConfig
    kind = raw.get("type")
    try:
        if kind == "transformers":
            return HFBackendConfig.model_validate(raw)
        if kind == "openai":
            return HttpBackendConfig.model_validate(raw)
    except ValueError as e:
        raise TranslateError(f"translate.backend: {str(e).splitlines()[0]}") from None
    raise TranslateError(f"translate.backend.type must be 'transformers' or 'openai', not {kind!r}")


def _make_backend(cfg):
    if cfg.type == "transformers":
        from xcurate.mt.hf_backend import HFSeq2SeqBackend
        return HFSeq2SeqBackend(cfg)
    from xcurate.mt.http_backend import OpenAIBackend
    return OpenAIBackend(cfg)


def mt_origin(backend_raw: dict) -> str:
    return f"mt:{backend_raw.get('type')}/{backend_raw.get('model')}"


def originals_hash(items: Sequence) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.benchmark}\x00{it.item_id}\x00{it.language}\x00{it.text}\x01".encode())
    return h.hexdigest()[:16]


def languages_to_translate(suite, languages: Sequence[str]) -> List[str]:
    """Requested languages without a human translation (or original) in the suite."""
    have = {language_base(it.language) for it in suite.items}
    return [lang for lang in dict.fromkeys(map(str, languages)) if language_base(lang) not in have]


def machine_translations(suite, translate: Optional[dict], cache_dir: Optional[str] = None) -> List:
    """The suite's originals machine-translated into ``translate.languages`` (cached per language)."""
    if not translate:
        return []
    if not isinstance(translate, dict) or not isinstance(translate.get("backend"), dict):
        raise TranslateError("translate: needs `backend: {type: transformers|openai, model: ...}` and `languages`")
    languages = languages_to_translate(suite, translate.get("languages") or [])
    originals = [it for it in suite.items if it.origin == "original"]
    if not languages:
        return []
    if not originals:
        raise TranslateError(f"{suite.source}: translate: the suite has no original-language items to translate")
    origin = mt_origin(translate["backend"])
    folder = os.path.join(_cache_root(cache_dir), "translations")
    os.makedirs(folder, exist_ok=True)
    content = originals_hash(originals)
    out, missing = [], {}
    for lang in languages:
        key = hashlib.sha256(f"{content}|{origin}|{lang}".encode()).hexdigest()[:24]
        path = os.path.join(folder, f"{key}.jsonl")
        if os.path.exists(path):
            out += _read(path, originals, lang, origin)
        else:
            missing[lang] = path
    if missing:
        backend = _make_backend(_backend_config(translate["backend"]))
        backend.setup()
        try:
            for lang, path in missing.items():
                _write(path, _translate(backend, originals, lang, translate.get("languages_table")))
                out += _read(path, originals, lang, origin)
        finally:
            backend.close()
    return out


def _translate(backend, originals: Sequence, lang: str, table_path: Optional[str]) -> Dict[str, List[str]]:
    """item key → translated segments (one MT request per distinct segment text)."""
    from xcurate.mt.base import MTFailure, TranslationRequest, Translator
    from xcurate.mt.languages import LanguageTable
    translator = Translator(backend, LanguageTable.load(table_path))
    source_of = {seg: it.language for it in originals for _, seg in it.segments}
    texts = list(source_of)
    requests = [TranslationRequest(t, language_base(source_of[t]), lang) for t in texts]
    try:
        results = translator.translate(requests)
    except ValueError as e:  # unsupported language codes
        raise TranslateError(f"translate: {e}") from None
    failed = [r for r in results if isinstance(r, MTFailure)]
    if failed:
        raise TranslateError(f"translate: {len(failed)} of {len(texts)} segments failed into {lang} "
                             f"(first: {failed[0]}); nothing cached for {lang}")
    done = dict(zip(texts, results))
    return {f"{it.benchmark}/{it.item_id}/{it.language}": [done[seg] for _, seg in it.segments] for it in originals}


def _write(path: str, rows: Dict[str, List[str]]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        for key, segments in rows.items():
            f.write(json.dumps({"key": key, "segments": segments}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _read(path: str, originals: Sequence, lang: str, origin: str) -> List:
    by_key = {f"{it.benchmark}/{it.item_id}/{it.language}": it for it in originals}
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            it = by_key.get(row["key"])
            if it is not None:
                segs = [(field, text) for (field, _), text in zip(it.segments, row["segments"])]
                out.append(replace(it, language=lang, segments=segs, origin=origin))
    return out
