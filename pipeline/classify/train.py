"""Training a :class:`~xcurate.classify.model.LinearModel` with an honest held-out report.

Examples are split once (seeded, per language and label): ``test_share`` is held out for the
report, a fifth of the rest is the validation part on which each language's threshold is chosen
(the score that maximises F1 there), and the heads are fitted on the remainder. The report gives,
per language and for all together, precision and recall *at the chosen threshold* on the test part
and the ROC AUC (threshold-free), so no figure is measured on the data that tuned it.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xcurate.classify.model import MULTILINGUAL, Featurizer, FeatureSpec, LinearModel

MIN_EVAL_PER_CLASS = 5  # fewer held-out examples of a class: the language gets no threshold / no AUC


def split_examples(labels: np.ndarray, languages: Sequence[str], test_share: float, seed: int) -> np.ndarray:
    """0 = train, 1 = validation, 2 = test; shuffled within each (language, label) so every stratum is split."""
    rng = np.random.default_rng(seed)
    part = np.zeros(len(labels), dtype=np.int8)
    strata: Dict[Tuple[str, bool], List[int]] = {}
    for i, (lang, y) in enumerate(zip(languages, labels.tolist())):
        strata.setdefault((lang, y), []).append(i)
    for rows in strata.values():
        rows = rng.permutation(rows)
        n_test = int(round(len(rows) * test_share))
        n_val = int(round((len(rows) - n_test) * 0.2))
        part[rows[:n_test]] = 2
        part[rows[n_test:n_test + n_val]] = 1
    return part


def fit_head(x, y: np.ndarray, c: float) -> tuple:
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=1000)
    clf.fit(x, y)
    return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])


def best_f1_threshold(scores: np.ndarray, y: np.ndarray) -> Optional[float]:
    if min(y.sum(), (~y).sum()) < MIN_EVAL_PER_CLASS:
        return None
    from sklearn.metrics import precision_recall_curve
    precision, recall, cuts = precision_recall_curve(y, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(cuts[int(np.argmax(f1))])


def evaluate(scores: np.ndarray, y: np.ndarray, threshold) -> dict:
    """Metrics at ``threshold`` (one score, or one per row: each document's language threshold)."""
    from sklearn.metrics import roc_auc_score
    pred = scores >= threshold
    tp = int((pred & y).sum())
    shown = round(float(threshold), 4) if np.ndim(threshold) == 0 else "per language"
    out = {"test_docs": int(len(y)), "test_positive": int(y.sum()), "threshold": shown,
           "precision": round(tp / max(int(pred.sum()), 1), 4), "recall": round(tp / max(int(y.sum()), 1), 4),
           "auc": None}
    if min(y.sum(), (~y).sum()) >= 1:
        out["auc"] = round(float(roc_auc_score(y, scores)), 4)
    return out


def train_classifier(texts: Sequence[str], labels: Sequence[bool], languages: Sequence[str], spec: FeatureSpec,
                     per_language: bool = True, min_docs: int = 50, test_share: float = 0.2, c: float = 4.0,
                     seed: int = 0, label_names: Optional[Dict[str, str]] = None):
    """(model, thresholds {language: score}, default threshold, report {language: metrics})."""
    y = np.asarray(labels, dtype=bool)
    languages = [lang or "und" for lang in languages]
    lang_arr = np.array(languages)
    part = split_examples(y, languages, test_share, seed)
    featurizer = Featurizer(spec)
    x = featurizer.transform(texts)
    train = part == 0
    model = LinearModel(spec, {MULTILINGUAL: fit_head(x[train], y[train], c)}, label_names or {})
    if per_language:
        for lang in sorted(set(languages)):
            rows = train & (lang_arr == lang)
            if min(y[rows].sum(), (~y[rows]).sum()) >= min_docs:
                model.heads[lang] = fit_head(x[rows], y[rows], c)
    scores = model.score_features(x, languages)
    val = part == 1
    default = best_f1_threshold(scores[val], y[val])
    default = 0.5 if default is None else default
    thresholds = {}
    for lang in sorted(set(languages)):
        rows = val & (lang_arr == lang)
        t = best_f1_threshold(scores[rows], y[rows])
        if t is not None:
            thresholds[lang] = t
    test = part == 2
    row_thresholds = np.array([thresholds.get(lang, default) for lang in languages])
    report = {MULTILINGUAL: {**evaluate(scores[test], y[test], row_thresholds[test]),
                             "head": "per language" if per_language else MULTILINGUAL}}
    for lang in sorted(set(languages)):
        rows = test & (lang_arr == lang)
        if rows.any():
            report[lang] = {**evaluate(scores[rows], y[rows], thresholds.get(lang, default)),
                            "head": model.head_for(lang), "train_docs": int((train & (lang_arr == lang)).sum())}
    return model, thresholds, default, report
