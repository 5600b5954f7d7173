"""Deterministic, document-level sampling of a planned mixture on Ray.

For one (source, language) with ``A`` pool tokens and ``P`` planned tokens the epochs are
``e = P / A``. Every document is repeated ``floor(e)`` times (times its rehydration copies),
and the fractional part is filled by a seeded random subset: each pool unit (a document, or
one of its rehydration copies) gets a uniform ``u`` from a generator keyed by
``(seed, source, shard)``; units are taken in order of ``u`` until their tokens reach the
remaining ``P − floor(e)·A`` as closely as one document allows. The threshold ``θ`` on ``u``
is found with two Ray passes over the token side files (per-shard histograms of tokens over
bins of ``u``, then only the units of the bin where the running total crosses the remainder),
so the driver never holds per-document data of the pool, and the Ray tasks that read the
text need only ``(floor(e), θ)`` per language: a unit is taken iff ``u ≤ θ``.

Output: each map task (one per input shard) tags every emitted copy with a seeded 63-bit key
and sends it to bucket ``key mod n_shards``; each reduce task sorts its bucket by key and
writes one output shard atomically. The result is shuffled across languages and sources,
and the same seed gives byte-identical shards.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xcurate.fsutil import atomic_write_parquet, filesystem_for, join
from xcurate.mix.policies import rehydration_weight
from xcurate.mix.tokens import Shard

OUT_SCHEMA = pa.schema([
    ("id", pa.string()), ("text", pa.string()), ("language", pa.string()),
    ("mix_source", pa.string()), ("mix_group", pa.string()), ("tokens", pa.int32()),
    ("copy", pa.int32()),          # 0 for a document's first occurrence in the mixture, 1 for its repeat, ...
    ("source", pa.string()),       # the original ``source`` column (input file), when the input has one
    ("metadata", pa.string()),
])
_UNIT_STREAM, _KEY_STREAM = 0, 1


def _rng(seed: int, source: str, rel: str, stream: int) -> np.random.Generator:
    h = int.from_bytes(hashlib.blake2b(f"{source}\0{rel}".encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([int(seed), h & 0xFFFFFFFF, h >> 32, stream])


@dataclass
class SideData:
    tokens: np.ndarray      # int64 per document
    language: np.ndarray    # object (str) per document
    copies: np.ndarray      # rehydration copies per document (1 without rehydration)


def read_side(shard: Shard, rehydrate_table: Optional[Sequence[Sequence[int]]]) -> SideData:
    fs, p = filesystem_for(shard.side_path)
    t = pq.read_table(p, filesystem=fs)
    dup = t.column("dup_cluster_size").to_numpy()
    copies = rehydration_weight(dup, rehydrate_table) if rehydrate_table else np.ones(len(dup), np.int64)
    return SideData(t.column("tokens").to_numpy().astype(np.int64),
                    np.asarray(t.column("language").to_pylist(), dtype=object), copies.astype(np.int64))


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
    side = read_side(shard, rehydrate_table)
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
    import ray

    choices, remainder = _full_passes(plan_tokens, pool_tokens, pool_units)
    if transfer is not None:
        transfer.update(histogram_values=0, bin_units=0, tasks=0)
    if not remainder:
        return choices
    langs_of = _per_source_languages(remainder)
    wanted = [s for s in shards if s.source in langs_of]
    hist_task = ray.remote(num_cpus=1)(shard_histograms)
    parts = ray.get([hist_task.remote(s, langs_of[s.source], seed, rehydrate_table, n_bins) for s in wanted])
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
    import ray

    bins_of: Dict[str, Dict[str, int]] = {}
    for (source, lang), b in sorted(crossing.items()):
        bins_of.setdefault(source, {})[lang] = b
    wanted = [s for s in shards if s.source in bins_of]
    unit_task = ray.remote(num_cpus=1)(shard_bin_units)
    parts = ray.get([unit_task.remote(s, bins_of[s.source], seed, rehydrate_table, n_bins) for s in wanted])
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


def _string_column(table: pa.Table, name: str, n: int) -> pa.Array:
    if name in table.column_names:
        col = table.column(name)
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            col = pc.cast(col, pa.string()) if not pa.types.is_struct(col.type) else \
                pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
        return col.combine_chunks().cast(pa.string())
    return pa.nulls(n, pa.string())


def sample_shard(shard: Shard, fields: dict, group: str, params: Dict[str, Tuple[int, float]], seed: int,
                 n_buckets: int, rehydrate_table) -> List[pa.Table]:
    """Emit the copies a shard contributes, split into ``n_buckets`` key-tagged tables."""
    side = read_side(shard, rehydrate_table)
    u = unit_uniforms(seed, shard, side.copies)
    copies = _copies_per_document(side, u, params)
    doc_idx = np.repeat(np.arange(len(copies)), copies)
    if len(doc_idx) == 0:
        return [_empty_out() for _ in range(n_buckets)]
    starts = np.cumsum(copies) - copies
    copy_no = np.arange(len(doc_idx)) - np.repeat(starts, copies)
    fs, p = filesystem_for(shard.path)
    names = pq.read_schema(p, filesystem=fs).names
    cols = [c for c in (fields["text_field"], fields["id_field"], "source", "metadata") if c in names]
    src = pq.read_table(p, filesystem=fs, columns=cols)
    assert src.num_rows == len(side.tokens), f"{shard.path} changed since its tokens were counted"
    take = pa.array(doc_idx)
    n = len(doc_idx)
    ids = (_string_column(src, fields["id_field"], src.num_rows).take(take) if fields["id_field"] in names
           else pa.array([f"{shard.rel}:{i}" for i in doc_idx], pa.string()))
    table = pa.table({
        "id": ids,
        "text": _string_column(src, fields["text_field"], src.num_rows).take(take),
        "language": pa.array(side.language[doc_idx].tolist(), pa.string()),
        "mix_source": pa.array([shard.source] * n, pa.string()),
        "mix_group": pa.array([group] * n, pa.string()),
        "tokens": pa.array(side.tokens[doc_idx].astype(np.int32)),
        "copy": pa.array(copy_no.astype(np.int32)),
        "source": _string_column(src, "source", src.num_rows).take(take),
        "metadata": _string_column(src, "metadata", src.num_rows).take(take),
    }, schema=OUT_SCHEMA)
    keys = _rng(seed, shard.source, shard.rel, _KEY_STREAM).integers(0, 2 ** 63, size=n, dtype=np.int64)
    table = table.append_column("_key", pa.array(keys))
    bucket = keys % n_buckets
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
    sorted_table = table.take(pa.array(order))
    return [sorted_table.slice(bounds[b], bounds[b + 1] - bounds[b]) for b in range(n_buckets)]


def _empty_out() -> pa.Table:
    return OUT_SCHEMA.append(pa.field("_key", pa.int64())).empty_table()


def write_bucket(index: int, outdir: str, compression: str, parts: Iterable[pa.Table]) -> Optional[dict]:
    """Sort one bucket by its keys and write it as ``data/part-<index>.parquet``."""
    table = pa.concat_tables(list(parts))
    if table.num_rows == 0:
        return None
    table = table.sort_by([("_key", "ascending"), ("mix_source", "ascending"), ("id", "ascending"),
                           ("copy", "ascending")]).drop_columns(["_key"]).combine_chunks()
    info = atomic_write_parquet(table, join(outdir, "data", f"part-{index:05d}.parquet"), outdir, compression)
    stats = table.group_by(["language", "mix_source"]).aggregate([("tokens", "sum"), ("tokens", "count"),
                                                                  ("copy", "max")])
    return {"shard": info.to_dict(), "stats": stats.to_pylist()}


def _sample_shard_task(*args):
    tables = sample_shard(*args)
    return tables[0] if len(tables) == 1 else tables  # num_returns=1 takes the value itself


def _write_bucket_task(index: int, outdir: str, compression: str, *parts: pa.Table) -> Optional[dict]:
    return write_bucket(index, outdir, compression, parts)


def run_sampling(shards: Sequence[Shard], fields_by_source: Dict[str, dict], group_of: Dict[str, str],
                 choices: Dict[Tuple[str, str], GroupChoice], seed: int, n_buckets: int, outdir: str,
                 compression: str, rehydrate_table) -> List[dict]:
    """Map (one Ray task per input shard) → shuffle by key → reduce (one Ray task per output shard)."""
    import ray

    sample_task = ray.remote(num_cpus=1)(_sample_shard_task)
    write_task = ray.remote(num_cpus=1)(_write_bucket_task)
    per_source: Dict[str, Dict[str, Tuple[int, float]]] = {}
    for (source, lang), c in choices.items():
        per_source.setdefault(source, {})[lang] = (c.full_passes, c.theta)
    mapped = []
    for shard in shards:
        params = per_source.get(shard.source)
        if not params:
            continue
        refs = sample_task.options(num_returns=n_buckets).remote(
            shard, fields_by_source[shard.source], group_of[shard.source], params, seed, n_buckets, rehydrate_table)
        mapped.append([refs] if n_buckets == 1 else refs)
    written = ray.get([write_task.remote(b, outdir, compression, *[m[b] for m in mapped])
                       for b in range(n_buckets)]) if mapped else []
    return [w for w in written if w is not None]
