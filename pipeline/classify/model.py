"""A linear document classifier: features, one logistic head per language (+ ``_all``), saved without pickle.

A model folder holds ``model.json`` (feature settings, heads, label names), ``weights.npz`` (one
``coef``/``intercept`` pair per head) and ``thresholds.yaml`` (minimum score per language, the
format of the LID tables in ``configs/languages/lid_thresholds/``). Nothing is unpickled on load:
the hashed features are recomputed by scikit-learn's stateless ``HashingVectorizer`` from the
settings, so a model file cannot run code.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Literal, Optional, Sequence

import numpy as np

MULTILINGUAL = "_all"  # the head trained on every language; used where a language has no head
FORMAT = 1


@dataclass
class FeatureSpec:
    kind: Literal["hashed", "encoder"] = "hashed"
    n_features: int = 1 << 18          # per analyzer (characters, words): 2**18 buckets each
    char_ngrams: tuple = (2, 4)        # character n-grams inside word boundaries (every script)
    word_ngrams: tuple = (1, 2)
    encoder: str = "usem3"             # kind encoder: USE-m3, or a sentence-transformers id/path
    max_chars: int = 5000              # documents are cut to this prefix before featurising


class Featurizer:
    """Texts -> feature rows (sparse for hashed n-grams, dense unit vectors for an encoder)."""

    def __init__(self, spec: FeatureSpec, device: Optional[str] = None, threads: int = 1):
        self.spec = spec
        if spec.kind == "hashed":
            from sklearn.feature_extraction.text import HashingVectorizer
            common = dict(n_features=spec.n_features, alternate_sign=False, norm="l2", dtype=np.float32)
            self.vectorizers = [HashingVectorizer(analyzer="char_wb", ngram_range=tuple(spec.char_ngrams), **common),
                                HashingVectorizer(analyzer="word", ngram_range=tuple(spec.word_ngrams), **common)]
        else:
            from xcurate.contamination.encoders import load_encoder
            self.encoder = load_encoder(spec.encoder, device=device, threads=threads)

    @property
    def dim(self) -> int:
        return 2 * self.spec.n_features if self.spec.kind == "hashed" else self.encoder.dim

    def transform(self, texts: Sequence[Optional[str]]):
        cut = [(t or "")[: self.spec.max_chars] for t in texts]
        if self.spec.kind == "hashed":
            from scipy.sparse import hstack
            return hstack([v.transform(cut) for v in self.vectorizers]).tocsr()
        return self.encoder.encode(cut)


@dataclass
class LinearModel:
    """Heads {language or ``_all``: (coef, intercept)} over one feature space."""

    features: FeatureSpec
    heads: Dict[str, tuple] = field(default_factory=dict)
    labels: Dict[str, str] = field(default_factory=lambda: {"positive": "positive", "negative": "negative"})

    def head_for(self, language: Optional[str]) -> str:
        if language in self.heads:
            return language
        base = (language or "").split("_")[0]
        return base if base in self.heads else MULTILINGUAL

    def score_features(self, x, languages: Sequence[Optional[str]]) -> np.ndarray:
        """Probability of the positive class per row, each row scored by its language's head."""
        heads = [self.head_for(lang) for lang in languages]
        logits = np.zeros(len(heads), dtype=np.float64)
        for head in set(heads):
            rows = np.flatnonzero(np.array(heads) == head)
            coef, intercept = self.heads[head]
            logits[rows] = np.asarray(x[rows] @ coef).ravel() + intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        arrays = {}
        for i, (head, (coef, intercept)) in enumerate(sorted(self.heads.items())):
            arrays[f"coef_{i}"], arrays[f"intercept_{i}"] = coef.astype(np.float32), np.float64(intercept)
        np.savez_compressed(os.path.join(folder, "weights.npz"), **arrays)
        meta = {"format": FORMAT, "features": asdict(self.features), "heads": sorted(self.heads),
                "labels": self.labels}
        with open(os.path.join(folder, "model.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, ensure_ascii=False)

    @classmethod
    def load(cls, folder: str) -> "LinearModel":
        meta_path = os.path.join(folder, "model.json")
        if not os.path.exists(meta_path):
            raise FileNotFoundError(2, "no model.json (expected a folder written by xcurate train-classifier)", meta_path)
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: model format {meta.get('format')!r}, this xcurate reads {FORMAT}")
        with np.load(os.path.join(folder, "weights.npz"), allow_pickle=False) as z:
            heads = {h: (z[f"coef_{i}"], float(z[f"intercept_{i}"])) for i, h in enumerate(meta["heads"])}
        spec = FeatureSpec(**{**meta["features"], "char_ngrams": tuple(meta["features"]["char_ngrams"]),
                              "word_ngrams": tuple(meta["features"]["word_ngrams"])})
        return cls(spec, heads, meta["labels"])


def write_thresholds(path: str, thresholds: Dict[str, float], default: float, note: List[str]) -> None:
    """A threshold table in the LID tables' format: ``default`` and ``thresholds: {language: score}``."""
    lines = [f"# {n}" for n in note] + [f"default: {default:.4f}", "thresholds:" + ("" if thresholds else " {}")]
    lines += [f"  {lang}: {t:.4f}" for lang, t in sorted(thresholds.items())]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
