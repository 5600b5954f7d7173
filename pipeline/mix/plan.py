"""Planning a mixture: per-(source, language) statistics of the counted corpus → tokens per language
(a policy from ``xcurate.mix.policies``) → tokens per source (group weights, then size).

The statistics are aggregated per unit file by Ray tasks and combined with polars on the driver,
which never holds per-document data.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa

from xcurate.errors import UserError
from xcurate.mix.config import MixConfig
from xcurate.mix.policies import (_redistribute, explicit_policy, rehydration_weight, scaling_law_policy,
                                  temperature_policy, unimax_policy)
from xcurate.mix.sample import Shard, map_tasks, read_side

def unit_language_stats(path: str, rehydrate_table) -> Tuple[Optional[str], pa.Table]:
    """One Ray task per unit file: its source and, per language of its live documents, the
    docs / tokens / pool tokens / pool units / largest document."""
    side = read_side(path, rehydrate_table)
    live = side.copies > 0
    per_doc = pa.table({"language": pa.array(side.language[live].tolist(), pa.string()),
                        "tokens": side.tokens[live], "pool_tokens": side.tokens[live] * side.copies[live],
                        "copies": side.copies[live]})
    agg = per_doc.group_by("language").aggregate([("tokens", "count"), ("tokens", "sum"), ("pool_tokens", "sum"),
                                                  ("copies", "sum"), ("tokens", "max")])
    return side.source, agg.append_column("source", pa.array([side.source or ""] * agg.num_rows, pa.string()))


def source_stats(unit_files: Sequence[str], cfg: MixConfig):
    """(per (source, language): docs, tokens, pool tokens/units after rehydration; every unit as a Shard).

    Each unit file is aggregated by a Ray task (reading only its small columns); the driver only
    combines the per-unit, per-language rows.
    """
    import polars as pl

    table = rehydrate_table(cfg)
    parts = map_tasks(unit_language_stats, [(f, table) for f in unit_files], "stats")
    shards = [Shard.of(source or "", f) for f, (source, _) in zip(unit_files, parts)]
    keep = {s.name: s.languages for s in cfg.sources if s.languages}
    stats = (pl.from_arrow(pa.concat_tables([agg for _, agg in parts]))
             .group_by("source", "language")
             .agg(pl.col("tokens_count").sum().alias("docs"), pl.col("tokens_sum").sum().alias("tokens"),
                  pl.col("pool_tokens_sum").sum().alias("pool_tokens"), pl.col("copies_sum").sum().alias("pool_units"),
                  pl.col("tokens_max").max().alias("max_doc_tokens")))
    for name, langs in keep.items():
        stats = stats.filter((pl.col("source") != name) | pl.col("language").is_in(langs))
    return stats.sort("language", "source"), shards


def rehydrate_table(cfg: MixConfig) -> Optional[List[List[int]]]:
    """The rehydration table when enabled (checked here: a bad table is a user error, not a task failure)."""
    if not cfg.rehydrate.enabled:
        return None
    table = [list(r) for r in cfg.rehydrate.table]
    rehydration_weight(np.ones(1), table)
    return table


def _policy_languages(cfg: MixConfig, available: Dict[str, float]) -> List[str]:
    p = cfg.policy
    if p.type == "explicit":
        langs = [l for l, b in p.budgets.items() if b > 0]
    elif p.type == "scaling_law":
        langs = list(p.curves)
    else:
        langs = list(cfg.languages) if cfg.languages is not None else sorted(available)
    if cfg.languages is not None and p.type in ("explicit", "scaling_law"):
        outside = sorted(set(langs) - set(cfg.languages))
        if outside:
            raise UserError(f"policy names language(s) outside languages: {outside}")
    empty = sorted(l for l in langs if available.get(l, 0) <= 0)
    if empty:
        have = ", ".join(sorted(available)) or "none"
        raise UserError(f"language(s) in the plan with no data in any source: {', '.join(empty)} "
                        f"(languages with data: {have})")
    return langs


def allocate_languages(cfg: MixConfig, available: Dict[str, float]) -> Tuple[Dict[str, float], List[str], dict]:
    p = cfg.policy
    langs = _policy_languages(cfg, available)
    avail = {l: float(available[l]) for l in langs}
    fits: dict = {}
    if p.type == "explicit":
        planned, notes = explicit_policy(p.budgets, avail, cfg.max_epochs, cfg.fill)
    elif p.type == "temperature":
        planned, notes = temperature_policy(avail, p.total_tokens, p.alpha, cfg.max_epochs, cfg.fill)
    elif p.type == "unimax":
        planned, notes = unimax_policy(avail, p.total_tokens, cfg.max_epochs, cfg.fill)
    else:
        curves = {l: {"points": c.points, "form": c.form or p.form, "weight": c.weight,
                      "min_tokens": c.min_tokens} for l, c in p.curves.items()}
        planned, notes, fits = scaling_law_policy(curves, avail, p.total_tokens, cfg.max_epochs, p.form)
    return planned, notes, fits


def split_across_sources(planned: Dict[str, float], rows: List[dict], cfg: MixConfig) -> Dict[Tuple[str, str], float]:
    """Split each language's tokens over its sources: by group weight, then by size within a group."""
    group_of = {s.name: s.group or s.name for s in cfg.sources}
    out: Dict[Tuple[str, str], float] = {}
    for lang, total in planned.items():
        mine = [r for r in rows if r["language"] == lang and r["pool_tokens"] > 0]
        if total <= 0 or not mine:
            continue
        group_pool: Dict[str, float] = {}
        for r in mine:
            group_pool[group_of[r["source"]]] = group_pool.get(group_of[r["source"]], 0) + r["pool_tokens"]
        gw = {g: float(cfg.groups.get(g, 1.0)) for g in group_pool}
        wsum = sum(gw.values())
        if wsum <= 0:
            raise UserError(f"{lang}: every group with data for it has weight 0 in groups:")
        desired = {r["source"]: total * gw[group_of[r["source"]]] / wsum * r["pool_tokens"]
                   / group_pool[group_of[r["source"]]] for r in mine}
        caps = {r["source"]: (cfg.max_epochs or math.inf) * r["pool_tokens"] for r in mine}
        for src, x in _redistribute(desired, caps, cfg.max_epochs, f"{lang}'s budget").items():
            out[(src, lang)] = x
    return out


def build_plan(cfg: MixConfig, stats, tokenizer: dict) -> dict:
    rows = stats.to_dicts()
    available: Dict[str, float] = {}
    for r in rows:
        available[r["language"]] = available.get(r["language"], 0) + r["pool_tokens"]
    planned, notes, fits = allocate_languages(cfg, available)
    per_source = split_across_sources(planned, rows, cfg)
    total_planned = sum(planned.values())
    group_of = {s.name: s.group or s.name for s in cfg.sources}
    languages = []
    for lang in sorted(planned, key=lambda l: (-planned[l], l)):
        mine = [r for r in rows if r["language"] == lang]
        pool = sum(r["pool_tokens"] for r in mine)
        docs = sum(r["docs"] for r in mine)
        tokens = sum(r["tokens"] for r in mine)
        languages.append({
            "language": lang, "docs": docs, "available_tokens": tokens, "pool_tokens": pool,
            "planned_tokens": round(planned[lang]), "epochs": planned[lang] / pool if pool else 0.0,
            "share": planned[lang] / total_planned if total_planned else 0.0,
            "mean_doc_tokens": tokens / docs if docs else 0.0,
            "sources": [{"source": r["source"], "group": group_of[r["source"]], "docs": r["docs"],
                         "available_tokens": r["tokens"], "pool_tokens": r["pool_tokens"],
                         "pool_units": r["pool_units"],
                         "planned_tokens": per_source.get((r["source"], lang), 0.0),
                         "epochs": per_source.get((r["source"], lang), 0.0) / r["pool_tokens"]
                         if r["pool_tokens"] else 0.0} for r in mine],
        })
    return {
        "policy": cfg.policy.model_dump(), "max_epochs": cfg.max_epochs, "fill": cfg.fill, "seed": cfg.seed,
        "tokenizer": tokenizer, "rehydrate": cfg.rehydrate.model_dump(),
        "total_planned_tokens": round(total_planned), "total_available_tokens": sum(available.values()),
        "languages": languages, "fits": fits, "notes": notes,
        "unplanned_languages": sorted(set(available) - set(planned)),
    }




def plan_targets(plan: dict, max_epochs: Optional[float]) -> Tuple[dict, dict, dict, dict]:
    """Per (source, language): planned tokens, pool tokens, pool units and the cap (what sampling needs)."""
    planned, pool_tokens, pool_units, caps = {}, {}, {}, {}
    for lang in plan["languages"]:
        for s in lang["sources"]:
            key = (s["source"], lang["language"])
            planned[key], pool_tokens[key], pool_units[key] = s["planned_tokens"], s["pool_tokens"], s["pool_units"]
            caps[key] = (max_epochs or math.inf) * s["pool_tokens"]
    return planned, pool_tokens, pool_units, caps


def realized_report(plan: dict, realized: List[dict]) -> dict:
    """Realized vs planned tokens per language and per (source, language)."""
    got = {(r["source"], r["language"]): r for r in realized}
    none = {"tokens": 0, "rows": 0, "documents": 0, "max_copies": 0}
    languages, sources = [], []
    for lang in plan["languages"]:
        mine = [got.get((s["source"], lang["language"]), none) for s in lang["sources"]]
        tokens = sum(r["tokens"] for r in mine)
        languages.append({
            "language": lang["language"], "planned_tokens": lang["planned_tokens"], "realized_tokens": tokens,
            "relative_error": (tokens - lang["planned_tokens"]) / lang["planned_tokens"] if lang["planned_tokens"]
            else 0.0,
            "documents": sum(r["documents"] for r in mine), "rows": sum(r["rows"] for r in mine),
            "epochs_planned": lang["epochs"],
            "epochs_realized": tokens / lang["pool_tokens"] if lang["pool_tokens"] else 0.0,
        })
        for s, r in zip(lang["sources"], mine):
            sources.append({"source": s["source"], "group": s["group"], "language": lang["language"],
                            "planned_tokens": round(s["planned_tokens"]), "realized_tokens": r["tokens"],
                            "documents": r["documents"], "rows": r["rows"], "pool_tokens": s["pool_tokens"],
                            "epochs_realized": r["tokens"] / s["pool_tokens"] if s["pool_tokens"] else 0.0,
                            "max_copies_per_document": r["max_copies"]})
    return {"planned_tokens": plan["total_planned_tokens"],
            "realized_tokens": sum(l["realized_tokens"] for l in languages),
            "documents": sum(l["documents"] for l in languages), "rows": sum(l["rows"] for l in languages),
            "languages": languages, "sources": sources}
