"""``classifier``: score documents with a trained classifier and keep those above their language's threshold.

Models: a folder from ``xcurate train-classifier`` (logistic heads over hashed n-grams or encoder
embeddings, ``xcurate.classify``), or a fastText supervised model (``.bin``/``.ftz``) trained with
fastText elsewhere, applied through ``fasttext-predict`` (score = probability of ``positive_label``).
Thresholds are a table per language in the LID tables' format: the model folder's
``thresholds.yaml`` unless ``thresholds_file`` names another. Runs as an actor pool (the model loads
once per actor); encoder models get a GPU per actor when the cluster has GPUs.
"""
from __future__ import annotations

import os
from typing import Dict, List, Literal, Optional

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from xcurate.engine.registry import register
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns
from xcurate.stages.langid import Thresholds, lid_sample, load_fasttext_model, predict_lines

REASON = "classifier:below_threshold"


def _is_fasttext(path: str) -> bool:
    return os.path.isfile(path) and path.endswith((".bin", ".ftz"))


class ClassifierParams(StageParams):
    model: str = Field(..., description="model folder from `xcurate train-classifier`, or a fastText supervised .bin/.ftz")
    score_column: str = Field("classifier_score", description="column of the positive-class probability")
    language_column: Optional[str] = Field("language", description="column choosing the head and threshold (null: one for all)")
    mode: Literal["filter", "annotate_only"] = Field("filter", description="filter: drop documents below their threshold")
    thresholds_file: Optional[str] = Field(None, description="YAML {default, thresholds: {lang: x}}; default: the model's thresholds.yaml")
    thresholds: Dict[str, float] = Field(default_factory=dict, description="inline overrides per language")
    default_threshold: Optional[float] = Field(None, ge=0, le=1, description="overrides the table's default")
    positive_label: str = Field("__label__positive", description="fastText models: the label of the positive class")
    max_chars: int = Field(5000, ge=1, description="fastText models: characters of each document scored")
    device: Optional[str] = Field(None, description="encoder models: torch device (default: cuda when present)")

    @field_validator("model")
    @classmethod
    def _model_exists(cls, value: str) -> str:
        if not (_is_fasttext(value) or os.path.isfile(os.path.join(value, "model.json"))):
            raise ValueError(f"{value!r} is neither a folder written by `xcurate train-classifier` (model.json) "
                             "nor a fastText .bin/.ftz file")
        return value


def _thresholds(p: ClassifierParams) -> Thresholds:
    path = p.thresholds_file or (None if _is_fasttext(p.model) else os.path.join(p.model, "thresholds.yaml"))
    base = Thresholds.from_file(path) if path else Thresholds({}, 0.5)
    default = p.default_threshold if p.default_threshold is not None else base.default
    return Thresholds({**base.per_language, **p.thresholds}, default)


@register
class ClassifierStage(Stage):
    """Scores each document (``score_column``); drops those below their language's threshold."""

    name = "classifier"
    writes = ("classifier_score",)  # with the default score_column: output_columns()
    uses_model = True
    gpu_capable = True
    Params = ClassifierParams
    default_resources = Resources(num_cpus=1)

    def input_columns(self):
        return ("text",) + ((self.params.language_column,) if self.params.language_column else ())

    def output_columns(self):
        return (self.params.score_column,)

    def setup(self) -> None:
        p = self.params
        self.thresholds = _thresholds(p)
        if _is_fasttext(p.model):
            self.fasttext = load_fasttext_model(p.model)
            return
        from xcurate.classify.model import Featurizer, LinearModel
        self.fasttext = None
        self.model = LinearModel.load(p.model)
        self.featurizer = Featurizer(self.model.features, device=p.device)

    def scores(self, texts: List[Optional[str]], languages: List[Optional[str]]) -> np.ndarray:
        if self.fasttext is None:
            return self.model.score_features(self.featurizer.transform(texts), languages)
        lines = [lid_sample(t, self.params.max_chars) for t in texts]
        label = self.params.positive_label
        # k=-1: every label's probability, so the positive one is always there
        return np.array([next((s for s, lab in pred if lab == label), 0.0)
                         for pred in predict_lines(self.fasttext, lines, -1)], dtype=np.float64)

    def process(self, table: pa.Table) -> StageOutput:
        p = self.params
        texts = table.column("text").to_pylist()
        languages = table.column(p.language_column).to_pylist() if p.language_column else [None] * len(texts)
        scores = self.scores(texts, languages)
        out = with_columns(table, {p.score_column: pa.array(scores.astype(np.float32), pa.float32())})
        if p.mode == "annotate_only":
            return StageOutput.keep_all(out)
        limits = np.array([self.thresholds.for_language(lang or "und") for lang in languages])
        return StageOutput(out, reasons_array([None if ok else REASON for ok in (scores >= limits).tolist()]))
