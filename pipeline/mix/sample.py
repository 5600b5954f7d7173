"""Deterministic, document-level sampling of a planned mixture, as the engine's global stage ``mix_sample``.

The input is the counted corpus: the engine's unit files, whose rows carry ``mix_source``,
``language``, ``tokens`` and ``dup_cluster_size`` (stage ``mix_tokens``). For one (source,
language) with ``A`` pool tokens and ``P`` planned tokens the epochs are ``e = P / A``. Every
document is repeated ``floor(e)`` times (times its rehydration copies), and the fractional part
is filled by a seeded random subset: each pool unit (a document, or one of its rehydration
copies) gets a uniform ``u`` from a generator keyed by ``(seed, source, unit id)``; units are
taken in order of ``u`` until their tokens reach the remaining ``P − floor(e)·A`` as closely as
one document allows. The threshold ``θ`` on ``u`` is found with two Ray passes over the unit
files' small columns (per-unit histograms of tokens over bins of ``u``, then only the units of
the bin where the running total crosses the remainder), so the driver never holds per-document
data of the pool, and the tasks that write the output need only ``(floor(e), θ)`` per language:
a unit is taken iff ``u ≤ θ``.

Output: every input row once, in its unit, with ``mix_copies`` = how many times the mixture uses
it (repeats are a count, not copies of the text); a live row with ``mix_copies = 0`` is dropped
with reason ``not_sampled``, so the engine's accounting covers every source document. The same
seed gives byte-identical shards.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xcurate import schema
from xcurate.fsutil import atomic_write_parquet, exists, filesystem_for, join
from xcurate.engine.cluster import NodeDealer
from xcurate.mix.policies import rehydration_weight

SIDE_COLUMNS = ("mix_source", "language", "tokens", "dup_cluster_size", schema.DROP_STAGE)
COPIES = "mix_copies"
NOT_SAMPLED, DRY_RUN = "not_sampled", "dry_run"
_UNIT_STREAM = 0


# Tasks per Ray node and phase of the last plan_and_sample on this driver (recorded in plan.json:
# the work of a mixture must reach every node of a cluster).
TASKS_BY_NODE: Dict[str, Dict[str, int]] = {}


def _with_node(fn, *args):
    import ray
    return fn(*args), ray.get_runtime_context().get_node_id()


def map_tasks(fn, arg_tuples: Sequence[tuple], phase: str) -> list:
    """``fn(*args)`` for each tuple as one-CPU Ray tasks, results in order; counts tasks per node.

    Tasks are dealt over the nodes (``NodeDealer``) so the work of a mixture reaches every node."""
    import ray
    task, dealer = ray.remote(num_cpus=1)(_with_node), NodeDealer()
    results = ray.get([task.options(**dealer.next_options()).remote(fn, *args) for args in arg_tuples])
    counts = TASKS_BY_NODE.setdefault(phase, {})
    for _, node in results:
        counts[node] = counts.get(node, 0) + 1
    return [r for r, _ in results]


def _rng(seed: int, source: str, rel: str, stream: int) -> np.random.Generator:
    h = int.from_bytes(hashlib.blake2b(f"{source}\0{rel}".encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([int(seed), h & 0xFFFFFFFF, h >> 32, stream])


@dataclass(frozen=True)
class Shard:
    """A unit file of the counted corpus; its source and unit id seed its random streams."""
    source: str             # mix source name
    path: str               # the unit file
    rel: str                # the unit id

    @classmethod
    def of(cls, source: str, path: str) -> "Shard":
        return cls(source, path, os.path.basename(path).rsplit(".", 1)[0])


@dataclass
class SideData:
    source: Optional[str]   # the unit's mix source (None when no row of it is alive)
    tokens: np.ndarray      # int64 per document (0 for rows dropped earlier)
    language: np.ndarray    # object (str) per document ("" for rows dropped earlier)
    copies: np.ndarray      # pool units per document: rehydration copies, 0 for rows dropped earlier


def _column(table: pa.Table, name: str, fill, type_: pa.DataType) -> pa.Array:
    if name not in table.column_names:
        return pa.array([fill] * table.num_rows, type_)
    return pc.fill_null(table[name].cast(type_), fill).combine_chunks()


def read_side(path: str, rehydrate_table: Optional[Sequence[Sequence[int]]]) -> SideData:
    """The small columns of one unit file (rows dropped by an earlier stage count as nothing)."""
    fs, p = filesystem_for(path)
    names = pq.read_schema(p, filesystem=fs).names
    t = pq.read_table(p, filesystem=fs, columns=[c for c in SIDE_COLUMNS if c in names])
    alive = pc.is_null(_column(t, schema.DROP_STAGE, None, pa.string())).to_numpy(zero_copy_only=False)
    tokens = np.where(alive, _column(t, "tokens", 0, pa.int64()).to_numpy(), 0)
    dup = _column(t, "dup_cluster_size", 1, pa.int64()).to_numpy()
    copies = rehydration_weight(dup, rehydrate_table) if rehydrate_table else np.ones(len(dup), np.int64)
    language = np.asarray(_column(t, "language", "", pa.string()).to_pylist(), dtype=object)
    language[~alive] = ""
    sources = _column(t, "mix_source", "", pa.string()).filter(pa.array(alive)).unique().to_pylist()
    return SideData(sources[0] if sources else None, tokens.astype(np.int64), language,
                    np.where(alive, copies, 0).astype(np.int64))


def unit_uniforms(seed: int, shard: Shard, copies: np.ndarray) -> np.ndarray:
    """One uniform per pool unit (document × rehydration copy), in document order."""
    return _rng(seed, shard.source, shard.rel, _UNIT_STREAM).random(int(copies.sum()))


@dataclass
class GroupChoice:
    """How one (source, language) is sampled: full passes and the threshold for the rest."""
    full_passes: int
    theta: float            # take a unit once more iff u <= theta (-1: none)
    rows: int               # documents emitted (copies included)
    tokens: int             # tokens emitted


DEFAULT_BINS = 4096


def unit_bins(u: np.ndarray, n_bins: int) -> np.ndarray:
    """Histogram bin of each uniform: ``floor(u · n_bins)`` (monotone in ``u``, so ties share a bin)."""
    return np.minimum((u * n_bins).astype(np.int64), n_bins - 1)


def _shard_units(shard: Shard, seed: int, rehydrate_table) -> Tuple[np.ndarray, np.ndarray, Dict[str, np.ndarray]]:
    """(uniform, tokens) per pool unit of one shard in unit order, and each language's unit mask."""
    side = read_side(shard.path, rehydrate_table)
    u = unit_uniforms(seed, shard, side.copies)
    unit_doc = np.repeat(np.arange(len(side.tokens)), side.copies)
    names, code = np.unique(side.language, return_inverse=True)
    unit_code = code.reshape(-1)[unit_doc]
    return u, side.tokens[unit_doc], {str(n): unit_code == i for i, n in enumerate(names)}


def shard_histograms(shard: Shard, languages: Sequence[str], seed: int, rehydrate_table,
                     n_bins: int) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pass 1 (one Ray task per shard): per wanted language, (tokens, units, max u) per bin of u.

    Empty bins have max u = -1. The result is O(languages · n_bins), whatever the shard size.
    """
    u, tokens, masks = _shard_units(shard, seed, rehydrate_table)
    out = {}
    for l in languages:
        m = masks.get(l)
        if m is None or not m.any():
            continue
        b = unit_bins(u[m], n_bins)
        umax = np.full(n_bins, -1.0)
        np.maximum.at(umax, b, u[m])
        out[l] = (np.bincount(b, weights=tokens[m], minlength=n_bins).astype(np.int64),
                  np.bincount(b, minlength=n_bins).astype(np.int64), umax)
    return out


def shard_bin_units(shard: Shard, bins: Dict[str, int], seed: int, rehydrate_table,
                    n_bins: int) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Pass 2 (one Ray task per shard): per language, (u, tokens) of the units in its crossing bin."""
    u, tokens, masks = _shard_units(shard, seed, rehydrate_table)
    b = unit_bins(u, n_bins)
    out = {}
    for l, want in bins.items():
        m = masks.get(l)
        if m is None:
            continue
        m = m & (b == want)
        if m.any():
            out[l] = (u[m], tokens[m])
    return out


def _full_passes(plan_tokens, pool_tokens, pool_units):
    choices: Dict[Tuple[str, str], GroupChoice] = {}
    remainder: Dict[Tuple[str, str], float] = {}
    for key, planned in plan_tokens.items():
        pool = pool_tokens.get(key, 0)
        if planned <= 0 or pool <= 0:
            continue
        k = int(math.floor(planned / pool + 1e-12))
        choices[key] = GroupChoice(k, -1.0, k * pool_units[key], k * pool)
        if planned - k * pool > 0:
            remainder[key] = planned - k * pool
    return choices, remainder


@dataclass
class _GroupHistogram:
    tokens: np.ndarray
    units: np.ndarray
    umax: np.ndarray

    def add(self, tokens: np.ndarray, units: np.ndarray, umax: np.ndarray) -> None:
        self.tokens += tokens
        self.units += units
        np.maximum(self.umax, umax, out=self.umax)


def _per_source_languages(keys: Iterable[Tuple[str, str]]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for source, lang in sorted(keys):
        out.setdefault(source, []).append(lang)
    return out


def choose_thresholds(plan_tokens: Dict[Tuple[str, str], float], pool_tokens: Dict[Tuple[str, str], int],
                      pool_units: Dict[Tuple[str, str], int], caps: Dict[Tuple[str, str], float],
                      shards: Sequence[Shard], seed: int, rehydrate_table, n_bins: int = DEFAULT_BINS,
                      transfer: Optional[dict] = None) -> Dict[Tuple[str, str], GroupChoice]:
    """Compute (full passes, θ) for every planned (source, language) with two Ray passes over the side files.

    Taking the units of a group in order of ``u`` until their tokens reach the remainder crosses
    it inside one bin of ``u``; pass 1 finds that bin from per-shard histograms, pass 2 fetches
    only that bin's units, and the cut is then chosen exactly as over the full sorted list (the
    closest-to-plan cut, never above the cap). The driver receives O(shards · groups · n_bins)
    histogram values plus about ``units / n_bins`` units per group, never per-document data of
    the whole pool. ``transfer`` (if given) receives those sizes.
    """

    choices, remainder = _full_passes(plan_tokens, pool_tokens, pool_units)
    if transfer is not None:
        transfer.update(histogram_values=0, bin_units=0, tasks=0)
    if not remainder:
        return choices
    langs_of = _per_source_languages(remainder)
    wanted = [s for s in shards if s.source in langs_of]
    parts = map_tasks(shard_histograms, [(s, langs_of[s.source], seed, rehydrate_table, n_bins) for s in wanted],
                      "histograms")
    hists: Dict[Tuple[str, str], _GroupHistogram] = {}
    for shard, part in zip(wanted, parts):
        for lang, (tok, cnt, umax) in part.items():
            key = (shard.source, lang)
            if key not in hists:
                hists[key] = _GroupHistogram(np.zeros(n_bins, np.int64), np.zeros(n_bins, np.int64),
                                             np.full(n_bins, -1.0))
            hists[key].add(tok, cnt, umax)
            if transfer is not None:
                transfer["histogram_values"] += tok.size + cnt.size + umax.size
    crossing: Dict[Tuple[str, str], int] = {}
    for key, rest in remainder.items():
        h = hists[key]
        b = int(np.searchsorted(np.cumsum(h.tokens), rest, side="right"))
        if b == n_bins:   # the whole pool fits under the remainder
            c = choices[key]
            c.theta, c.rows, c.tokens = float(h.umax.max()), c.rows + int(h.units.sum()), c.tokens + int(h.tokens.sum())
        else:
            crossing[key] = b
    pass2_tasks = _cut_in_crossing_bins(crossing, remainder, hists, choices, caps, shards, seed,
                                        rehydrate_table, n_bins, transfer) if crossing else 0
    if transfer is not None:
        transfer["tasks"] = len(wanted) + pass2_tasks
    return choices


def _cut_in_crossing_bins(crossing, remainder, hists, choices, caps, shards, seed, rehydrate_table, n_bins,
                          transfer) -> int:
    """Pass 2 and the final cut for the groups in ``crossing`` (group → bin); returns the tasks run."""

    bins_of: Dict[str, Dict[str, int]] = {}
    for (source, lang), b in sorted(crossing.items()):
        bins_of.setdefault(source, {})[lang] = b
    wanted = [s for s in shards if s.source in bins_of]
    parts = map_tasks(shard_bin_units, [(s, bins_of[s.source], seed, rehydrate_table, n_bins) for s in wanted],
                      "bin_units")
    us: Dict[Tuple[str, str], List[np.ndarray]] = {k: [] for k in crossing}
    toks: Dict[Tuple[str, str], List[np.ndarray]] = {k: [] for k in crossing}
    for shard, part in zip(wanted, parts):   # shard order, then unit order: the same tie order as a full sort
        for lang, (u, t) in part.items():
            us[(shard.source, lang)].append(u)
            toks[(shard.source, lang)].append(t)
            if transfer is not None:
                transfer["bin_units"] += len(u)
    for key, b in crossing.items():
        h, rest, c = hists[key], remainder[key], choices[key]
        u, t = np.concatenate(us[key]), np.concatenate(toks[key])
        before_tokens, before_units = int(h.tokens[:b].sum()), int(h.units[:b].sum())
        before_umax = float(h.umax[:b].max()) if b else -1.0   # u of the last unit below the bin (-1: none)
        order = np.argsort(u, kind="stable")
        cum = before_tokens + np.cumsum(t[order])
        take = int(np.searchsorted(cum, rest, side="right"))   # < len(cum): the crossing is in this bin
        over, under = cum[take] - rest, rest - (cum[take - 1] if take else before_tokens)
        if over < under and c.tokens + cum[take] <= caps[key] + 1e-9:
            take += 1
        c.theta = float(u[order[take - 1]]) if take else before_umax
        c.rows += before_units + take
        c.tokens += int(cum[take - 1]) if take else before_tokens
    return len(wanted)


def _copies_per_document(side: SideData, u: np.ndarray, params: Dict[str, Tuple[int, float]]) -> np.ndarray:
    unit_doc = np.repeat(np.arange(len(side.tokens)), side.copies)
    full = np.zeros(len(side.tokens), np.int64)
    theta_unit = np.full(len(u), -1.0)
    for lang, (k, theta) in params.items():
        m_doc = side.language == lang
        full[m_doc] = k * side.copies[m_doc]
        theta_unit[m_doc[unit_doc]] = theta
    extra = np.bincount(unit_doc, weights=(u <= theta_unit), minlength=len(side.tokens)).astype(np.int64)
    return full + extra


def mark_copies(table: pa.Table, copies: np.ndarray, drop_reason: str, stage_name: str) -> pa.Table:
    """``table`` with ``mix_copies`` set and its live rows without copies dropped with ``drop_reason``."""
    unsampled = pc.and_(pc.is_null(table[schema.DROP_STAGE]), pa.array(copies == 0))
    table = schema.with_columns_one(table, COPIES, pa.array(copies.astype(np.int32)))
    stage = pc.if_else(unsampled, pa.scalar(stage_name), table[schema.DROP_STAGE])
    reason = pc.if_else(unsampled, pa.scalar(drop_reason), table[schema.DROP_REASON])
    return schema.with_columns(table, {schema.DROP_STAGE: stage, schema.DROP_REASON: reason})


def realized_stats(table: pa.Table) -> List[dict]:
    """Per (source, language) of the sampled rows: documents, rows with repeats, tokens with repeats, max copies."""
    live = table.filter(pc.is_null(table[schema.DROP_STAGE]))
    if live.num_rows == 0:
        return []
    per_doc = pa.table({"mix_source": live["mix_source"], "language": live["language"].cast(pa.string()),
                        "copies": live[COPIES].cast(pa.int64()),
                        "tokens": pc.multiply(live["tokens"].cast(pa.int64()), live[COPIES].cast(pa.int64()))})
    agg = per_doc.group_by(["mix_source", "language"]).aggregate(
        [("copies", "count"), ("copies", "sum"), ("copies", "max"), ("tokens", "sum")])
    return [{"source": r["mix_source"], "language": r["language"], "documents": r["copies_count"],
             "rows": r["copies_sum"], "max_copies": r["copies_max"], "tokens": r["tokens_sum"]}
            for r in agg.to_pylist()]


def sample_unit(shard: Shard, out_path: str, params: Dict[str, Tuple[int, float]], seed: int, rehydrate_table,
                stage_name: str, dry_run: bool = False) -> List[dict]:
    """Write one unit file with its copies (resume: an existing output is final); return its realized stats."""
    fs, p = filesystem_for(out_path)
    if not exists(out_path):
        side = read_side(shard.path, rehydrate_table)
        u = unit_uniforms(seed, shard, side.copies)
        copies = np.zeros(len(side.tokens), np.int64) if dry_run else _copies_per_document(side, u, params)
        src_fs, src_p = filesystem_for(shard.path)
        table = mark_copies(pq.read_table(src_p, filesystem=src_fs), copies, DRY_RUN if dry_run else NOT_SAMPLED,
                            stage_name)
        atomic_write_parquet(table, out_path, compression="zstd")
    return realized_stats(pq.read_table(p, filesystem=fs, columns=[*SIDE_COLUMNS, COPIES]))


def sample_units(shards: Sequence[Shard], out_dir: str, choices: Dict[Tuple[str, str], GroupChoice], seed: int,
                 rehydrate_table, stage_name: str, dry_run: bool = False) -> List[dict]:
    """One Ray task per unit file; returns the realized stats summed per (source, language)."""

    per_source: Dict[str, Dict[str, Tuple[int, float]]] = {}
    for (source, lang), c in choices.items():
        per_source.setdefault(source, {})[lang] = (c.full_passes, c.theta)
    parts = map_tasks(sample_unit, [(s, join(out_dir, os.path.basename(s.path)), per_source.get(s.source, {}), seed,
                                     rehydrate_table, stage_name, dry_run) for s in shards], "sample")
    totals: Dict[Tuple[str, str], dict] = {}
    for part in parts:
        for r in part:
            t = totals.setdefault((r["source"], r["language"]), {**r, "documents": 0, "rows": 0, "tokens": 0,
                                                                  "max_copies": 0})
            for k in ("documents", "rows", "tokens"):
                t[k] += r[k]
            t["max_copies"] = max(t["max_copies"], r["max_copies"])
    return [totals[k] for k in sorted(totals)]
