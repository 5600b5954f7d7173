"""``xcurate mix``: plan a multilingual pre-training mixture in tokens, then sample exactly that.

    xcurate mix CONFIG -o OUTDIR [SOURCE ...] [--set key=value ...] [--dry-run] [--seed N]
                [--address ADDR] [--overwrite]

A mixture is one engine run (``xcurate.engine.runner.run_pipeline``) over the sources' files,
with the same reader, Ray bootstrap, OUTDIR safety, progress, resume and manifest as ``run``:

1. stage ``mix_tokens`` (actor pool, tokenizer loaded once per actor) counts every document's
   tokens and tells its source and language;
2. global stage ``mix_sample`` aggregates per-(source, language) statistics, turns them into
   planned tokens per language with a policy (explicit budgets, temperature, UniMax or a
   scaling-law optimum; ``xcurate.mix.policies``), splits each language's budget across its
   sources by weight group, and samples: every document gets ``mix_copies``, the number of times
   the mixture uses it (repeats are a count, not copies of the text); documents not used are
   dropped with reason ``not_sampled`` and accounted in the manifest like any drop.

Output: ``OUTDIR/data/language=<code>/part-<unit>.parquet`` (the documents with ``tokens``,
``mix_source``, ``mix_group``, ``mix_copies``), ``plan.json`` / ``plan.png`` and ``manifest.json``
(the engine's accounting plus ``mix``: realized vs planned tokens per language and source). A
trainer repeats each row ``mix_copies`` times and shuffles, as it does for any corpus.

The token counts live in the mix OUTDIR, never in a source: the counted corpus stays in
``_xc_work/`` until the run succeeds, so a killed run resumes without counting again; a finished
OUTDIR rerun with the same config and inputs is verified, not recomputed. Sources are only
complete xcurate outputs or plain Parquet/JSONL datasets (``xcurate.mix.sources``); the OUTDIR
may not overlap them. ``--dry-run`` plans only (every document is dropped as ``dry_run``); a
later real run replaces a dry run's OUTDIR. Measured on the quickstart output (299 documents,
14 languages, 2 busy CPUs): a dry run 35 s of counting, 5 s of planning.
"""
from __future__ import annotations

import argparse
import os
from typing import List, Optional, Sequence

from xcurate.engine.config import load_config
from xcurate.engine.outdir import MANIFEST_FILE, claim_outdir, input_fingerprint
from xcurate.engine.runner import run_pipeline
from xcurate.errors import RunError, UserError
from xcurate.fsutil import atomic_write_bytes, atomic_write_json, exists, join, read_json
from xcurate.mix.config import MixConfig, load_mix_config
from xcurate.mix.policies import human_tokens
from xcurate.mix.sources import SourceFiles, file_sources, resolve_sources
from xcurate.mix.tokens import ResolvedTokenizer, resolve_tokenizer

PLAN_FILE, PLOT_FILE = "plan.json", "plan.png"


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

def pipeline_config(cfg: MixConfig, sources: List[SourceFiles], tok: ResolvedTokenizer, plan_path: str,
                    dry_run: bool) -> dict:
    """The engine config of a mixture: the sources' files → mix_tokens → mix_sample."""
    file_sources(sources)   # a file named by two sources is an error
    first = sources[0].config
    promoted = {s.config.language_field: s.config.language_field for s in sources}
    promoted[cfg.rehydrate.column] = cfg.rehydrate.column
    token_sources = {s.config.name: {"group": s.config.group or s.config.name, "language": s.config.language,
                                     "language_field": s.config.language_field, "files": s.files}
                     for s in sources}
    o = cfg.output
    return {
        "input": {"paths": [f for s in sources for f in s.files], "text_field": first.text_field,
                  "id_field": first.id_field, "columns": promoted},
        "output": {"unit_mb": o.unit_mb, "unit_rows": o.unit_rows, "compression": o.compression,
                   "partition_by": "language", "keep_rejected": o.keep_rejected},
        "ray": {"address": cfg.ray.address, "num_cpus": cfg.ray.num_cpus, "progress_bars": cfg.ray.progress_bars},
        "stages": [
            {"type": "mix_tokens", "params": {"tokenizer": tok.to_dict(), "sources": token_sources,
                                              "dup_field": cfg.rehydrate.column},
             "resources": {"num_cpus": 1, "concurrency": cfg.ray.count_concurrency}},
            {"type": "mix_sample", "params": {"mix": cfg.model_dump(mode="json", exclude={"ray"}),
                                              "tokenizer": tok.to_dict(), "plan_path": plan_path,
                                              "dry_run": dry_run}},
        ],
    }


def user_error_cause(error: BaseException) -> Optional[UserError]:
    """The UserError a Ray task raised, found by type along the exception chain (Ray wraps it)."""
    seen, stack = set(), [error]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, UserError):
            return cur
        stack += [cur.__cause__, cur.__context__, getattr(cur, "cause", None)]
    return None


def _holds_dry_run(outdir: str) -> bool:
    """A finished dry run: the real run may replace it without --overwrite."""
    plan_path = join(outdir, PLAN_FILE)
    return exists(join(outdir, MANIFEST_FILE)) and exists(plan_path) and bool(read_json(plan_path).get("dry_run"))


def run_mix(config, outdir: str, dry_run: bool = False, seed: Optional[int] = None,
            address: Optional[str] = None, overwrite: bool = False, echo=print, sources: Sequence[str] = (),
            overrides: Sequence[str] = ()) -> dict:
    """Plan (and unless ``dry_run``, sample) a mixture; return the plan or the manifest."""
    cfg = load_mix_config(config, overrides, sources)
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": seed})
    if address:
        cfg = cfg.model_copy(update={"ray": cfg.ray.model_copy(update={"address": address})})
    resolved = resolve_sources(cfg.sources)
    tok = resolve_tokenizer(cfg.tokenizer.kind, cfg.tokenizer.name, cfg.tokenizer.pattern)
    plan_path = join(os.path.abspath(outdir) if "://" not in outdir else outdir, PLAN_FILE)
    pipe = pipeline_config(cfg, resolved, tok, plan_path, dry_run)
    files = pipe["input"]["paths"]
    try:
        fingerprint = input_fingerprint(load_config(pipe).config_hash(), files)
        claim = claim_outdir(outdir, command="mix", inputs=[s.path for s in cfg.sources] + files,
                             fingerprint=fingerprint, overwrite=overwrite or _holds_dry_run(outdir),
                             outputs=[PLAN_FILE, PLOT_FILE])
    except RunError as e:
        raise UserError(str(e)) from None
    with claim:
        return _run_claimed(cfg, pipe, outdir, plan_path, dry_run, claim, echo)


def _run_claimed(cfg: MixConfig, pipe: dict, outdir: str, plan_path: str, dry_run: bool, claim, echo) -> dict:
    try:
        manifest = run_pipeline(pipe, outdir, quiet=True, claim=claim)
    except Exception as e:
        cause = user_error_cause(e)
        if cause is None or cause is e:
            raise
        raise UserError(str(cause)) from None
    plan = read_json(plan_path)
    echo(format_plan_table(plan))
    plot_plan(plan, join(outdir, PLOT_FILE))
    if dry_run:
        echo(f"dry run: wrote {plan_path} and {join(outdir, PLOT_FILE)}")
        return plan
    manifest["mix"] = {"seed": cfg.seed, "tokenizer": plan["tokenizer"], "policy": plan["policy"],
                       "max_epochs": cfg.max_epochs, **plan["realized"]}
    atomic_write_json(manifest, join(outdir, MANIFEST_FILE))
    mix = manifest["mix"]
    echo(f"wrote {len(manifest['shards'])} shards, {mix['documents']:,} documents ({mix['rows']:,} with repeats), "
         f"{human_tokens(mix['realized_tokens'])} tokens (planned {human_tokens(mix['planned_tokens'])}) to {outdir}")
    return manifest


def _cmd_mix(args) -> int:
    run_mix(args.config, args.output, dry_run=args.dry_run, seed=args.seed, address=args.address,
            overwrite=args.overwrite, sources=args.sources, overrides=args.overrides)
    return 0


class _IntermixedParser(argparse.ArgumentParser):
    """Lets SOURCE positionals follow options (``mix CONFIG -o OUT SOURCE...``); plain argparse stops
    collecting positionals at the first option."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inner:   # parse_known_intermixed_args calls back into parse_known_args
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser("mix", help="plan and sample a per-language token mixture",
                              description="Plan a multilingual pre-training mixture in tokens and sample it on Ray.")
    p.__class__ = _IntermixedParser
    p.add_argument("config", help="mix config (YAML), see configs/mix.yaml")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="sources (PATH or NAME=PATH): complete xcurate OUTDIRs or Parquet/JSONL datasets; "
                        "replace the config's sources")
    p.add_argument("-o", "--output", required=True, help="output directory for plan.json, plan.png, data/, manifest.json")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set policy.total_tokens=2B (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="count tokens and write the plan only; sample nothing")
    p.add_argument("--seed", type=int, default=None, help="override the config's seed")
    p.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--overwrite", action="store_true", help="replace a mixture of another config in the output directory")
    p.set_defaults(func=_cmd_mix)
