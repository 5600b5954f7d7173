"""The two phases of a mixture as engine work (the stages ``mix_tokens`` and ``mix_sample`` call these).

* ``count_tokens`` (per batch, in an actor that loaded the tokenizer once): each document gets its
  mix source (from the input file it came from), its language (the source's language column, else
  the source's constant ``language``, else a ``language=<code>`` directory), its token count and its
  duplicate-cluster size. A document whose language cannot be told is dropped (``no_language``).
* ``plan_and_sample`` (global, on the counted unit files): per-(source, language) statistics → the
  plan (written to ``plan.json`` with realized tokens) → thresholds → one output file per unit with
  ``mix_copies`` per document (``xcurate.mix.sample``).

The engine gives both its progress, resume, manifest and accounting: every source document ends
either in the mixture (``data/``, with ``mix_copies`` ≥ 1) or counted as dropped with a reason.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

from xcurate.fsutil import atomic_write_json
from xcurate.mix.config import MixConfig
from xcurate.mix.plan import build_plan, plan_targets, realized_report, rehydrate_table, source_stats
from xcurate.mix.sample import TASKS_BY_NODE, choose_thresholds, sample_units
from xcurate.mix.sources import language_hint
from xcurate.mix.tokens import ResolvedTokenizer, TokenCounter

NO_LANGUAGE = "no_language"


class SourceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str
    language_field: str = "language"
    language: Optional[str] = None
    files: List[str]


class TokenCountJob:
    """What ``count_tokens`` needs, built once per actor from the stage's params."""

    def __init__(self, tokenizer: dict, sources: Dict[str, SourceFields], dup_field: str):
        self.counter = TokenCounter(ResolvedTokenizer(**tokenizer))
        self.sources, self.dup_field = sources, dup_field
        self.source_of = {f: name for name, s in sources.items() for f in s.files}


def _file_languages(table: pa.Table, src: SourceFields, path: str) -> pa.Array:
    fallback = src.language or language_hint(path)
    if src.language_field in table.column_names:
        col = pc.cast(table[src.language_field], pa.string())
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        return (pc.fill_null(col, fallback) if fallback else col).combine_chunks()
    return pa.array([fallback] * table.num_rows, pa.string())


def count_tokens(table: pa.Table, job: TokenCountJob) -> tuple:
    """(columns to add, drop reason per row) for one batch of live documents."""
    files = table["source"].to_pylist()
    names = [job.source_of[f] for f in files]
    languages = [None] * table.num_rows
    for path in sorted(set(files)):
        rows = [i for i, f in enumerate(files) if f == path]
        part = _file_languages(table.take(pa.array(rows)), job.sources[job.source_of[path]], path).to_pylist()
        for i, lang in zip(rows, part):
            languages[i] = lang
    dup = (pc.fill_null(pc.cast(table[job.dup_field], pa.int64()), 1) if job.dup_field in table.column_names
           else pa.array(np.ones(table.num_rows, np.int64)))
    columns = {
        "tokens": pa.array(job.counter.count(table["text"].to_pylist())),
        "language": pa.array(languages, pa.string()),
        "mix_source": pa.array(names, pa.string()),
        "mix_group": pa.array([job.sources[n].group for n in names], pa.string()),
        "dup_cluster_size": pc.cast(dup, pa.int32()),
    }
    reasons = pa.array([None if lang else NO_LANGUAGE for lang in languages], pa.string())
    return columns, reasons


def plan_and_sample(cfg: MixConfig, tokenizer: dict, plan_path: str, dry_run: bool, unit_files: Sequence[str],
                    out_dir: str, stage_name: str) -> dict:
    """Plan from the counted units, sample (unless ``dry_run``: then every document is dropped as
    ``dry_run``), write ``plan_path`` with the realized tokens; return the plan."""
    table = rehydrate_table(cfg)
    TASKS_BY_NODE.clear()
    stats, shards = source_stats(unit_files, cfg)
    plan = build_plan(cfg, stats, tokenizer)
    choices = {} if dry_run else choose_thresholds(*plan_targets(plan, cfg.max_epochs), shards, cfg.seed, table)
    realized = sample_units(shards, out_dir, choices, cfg.seed, table, stage_name, dry_run)
    plan["dry_run"] = dry_run
    plan["realized"] = realized_report(plan, realized)
    plan["tasks_by_node"] = {phase: dict(nodes) for phase, nodes in TASKS_BY_NODE.items()}
    atomic_write_json(plan, plan_path)
    return plan
