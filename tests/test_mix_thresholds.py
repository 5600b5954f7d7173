"""The distributed two-pass θ selection equals the exact driver-side method and stays histogram-sized."""
from __future__ import annotations

import math
from typing import Dict, List, Tuple

import numpy as np
import pyarrow as pa
import pytest

from xcurate.fsutil import atomic_write_parquet
from xcurate import schema
from xcurate.mix.sample import GroupChoice, Shard, _full_passes, choose_thresholds, read_side, unit_bins, unit_uniforms

REHYDRATE = [[1, 1], [3, 2], [8, 3]]
# (source, languages of each of its shards): mixed-language and single-language shards
LAYOUT = {"web": [("de", "fr", "en"), ("de",), ("fr", "en"), ("en", "de")], "books": [("de", "sw"), ("sw",)]}


def exact_thresholds(plan_tokens, pool_tokens, pool_units, caps, shards, seed, rehydrate_table):
    """The previous method, kept as the reference: every unit of every fractional group on one process."""
    choices, remainder = _full_passes(plan_tokens, pool_tokens, pool_units)  # shared: θ selection is under test
    us: Dict[Tuple[str, str], List[np.ndarray]] = {k: [] for k in remainder}
    toks: Dict[Tuple[str, str], List[np.ndarray]] = {k: [] for k in remainder}
    for shard in shards:
        side = read_side(shard.path, rehydrate_table)
        u = unit_uniforms(seed, shard, side.copies)
        unit_doc = np.repeat(np.arange(len(side.tokens)), side.copies)
        unit_lang = side.language[unit_doc]
        for lang in _live_languages(shard):
            key = (shard.source, str(lang))
            if key in remainder:
                m = unit_lang == lang
                us[key].append(u[m])
                toks[key].append(side.tokens[unit_doc[m]])
    for key, rest in remainder.items():
        u, t = np.concatenate(us[key]), np.concatenate(toks[key])
        order = np.argsort(u, kind="stable")
        cum = np.cumsum(t[order])
        take = int(np.searchsorted(cum, rest, side="right"))
        if take < len(cum):
            over, under = cum[take] - rest, rest - (cum[take - 1] if take else 0)
            if over < under and choices[key].tokens + cum[take] <= caps[key] + 1e-9:
                take += 1
        c = choices[key]
        c.theta = float(u[order[take - 1]]) if take else -1.0
        c.rows += take
        c.tokens += int(cum[take - 1]) if take else 0
    return choices


@pytest.fixture(scope="module")
def side_shards(tmp_path_factory) -> List[Shard]:
    """Unit files as the engine hands them to mix_sample: counted columns, some rows dropped earlier."""
    root = tmp_path_factory.mktemp("sides")
    rng = np.random.default_rng(7)
    shards = []
    for source, layout in LAYOUT.items():
        for i, langs in enumerate(layout):
            n = int(rng.integers(1500, 3000))
            tokens = rng.integers(0, 300, n).astype(np.int32)
            tokens[rng.random(n) < 0.05] = 0        # empty documents make ties in the running total
            dropped = rng.random(n) < 0.03          # dropped by an earlier stage: never part of the pool
            unit = pa.table({"mix_source": [source] * n, "language": rng.choice(list(langs), n).tolist(),
                             "tokens": tokens, "dup_cluster_size": rng.integers(1, 12, n).astype(np.int32),
                             schema.DROP_STAGE: [("read" if d else None) for d in dropped]})
            path = str(root / source / f"u{i:03d}-0000.parquet")
            atomic_write_parquet(unit, path)
            shards.append(Shard.of(source, path))
    return shards


def _pools(shards, rehydrate_table):
    pool_tokens, pool_units = {}, {}
    for s in shards:
        side = read_side(s.path, rehydrate_table)
        for lang in _live_languages(s):
            m = side.language == lang
            key = (s.source, str(lang))
            pool_tokens[key] = pool_tokens.get(key, 0) + int((side.tokens[m] * side.copies[m]).sum())
            pool_units[key] = pool_units.get(key, 0) + int(side.copies[m].sum())
    return pool_tokens, pool_units


def _plans(pool_tokens):
    """Fractions from a fraction of a token to almost three epochs; some groups capped at their plan."""
    fractions = [0.3 / max(pool_tokens.values()), 0.37, 1.5, 2.9999, 1.0, 0.999999, 0.61]
    plan, caps = {}, {}
    for i, key in enumerate(sorted(pool_tokens)):
        plan[key] = fractions[i % len(fractions)] * pool_tokens[key]
        caps[key] = plan[key] if i % 2 else math.inf
    return plan, caps


@pytest.mark.parametrize("rehydrate", [None, REHYDRATE])
@pytest.mark.parametrize("seed", [0, 1234])
def test_two_pass_theta_equals_the_exact_method(ray_local, side_shards, rehydrate, seed):
    pool_tokens, pool_units = _pools(side_shards, rehydrate)
    plan, caps = _plans(pool_tokens)
    want = exact_thresholds(plan, pool_tokens, pool_units, caps, side_shards, seed, rehydrate)
    assert any(0 < c.theta < 1 for c in want.values()) and any(c.full_passes >= 1 for c in want.values())
    for n_bins in (4096, 7, 1):
        got = choose_thresholds(plan, pool_tokens, pool_units, caps, side_shards, seed, rehydrate, n_bins=n_bins)
        assert got == want, f"n_bins={n_bins}"


def test_driver_receives_histograms_and_one_bin_of_units(ray_local, side_shards):
    pool_tokens, pool_units = _pools(side_shards, REHYDRATE)
    plan, caps = _plans(pool_tokens)
    n_bins = 4096
    transfer: dict = {}
    got = choose_thresholds(plan, pool_tokens, pool_units, caps, side_shards, 5, REHYDRATE,
                            n_bins=n_bins, transfer=transfer)
    fractional = {k for k, c in got.items() if plan[k] - c.full_passes * pool_tokens[k] > 0}
    shard_groups = sum(1 for s in side_shards for lang in _live_languages(s)
                       if (s.source, str(lang)) in fractional)
    assert transfer["histogram_values"] == 3 * n_bins * shard_groups
    # pass 2 brings back only the units of one bin per fractional group: a few, not the pool
    crossing_units = 0
    for key in fractional:
        u = np.concatenate([unit_uniforms(5, s, read_side(s.path, REHYDRATE).copies)[_unit_mask(s, key[1])]
                            for s in side_shards if s.source == key[0]])
        bins = unit_bins(u, n_bins)
        crossing_units += np.bincount(bins, minlength=n_bins).max()
    total_units = sum(pool_units[k] for k in fractional)
    assert transfer["bin_units"] <= crossing_units < total_units / 100
    assert transfer["tasks"] == 2 * len(side_shards)


def _live_languages(shard: Shard) -> np.ndarray:
    side = read_side(shard.path, None)
    return np.unique(side.language[side.copies > 0])


def _unit_mask(shard: Shard, lang: str) -> np.ndarray:
    side = read_side(shard.path, REHYDRATE)
    return np.repeat(side.language == lang, side.copies)


def test_no_fractional_group_runs_no_task(ray_local, side_shards):
    pool_tokens, pool_units = _pools(side_shards, None)
    plan = {k: 2 * v for k, v in pool_tokens.items()}
    transfer: dict = {}
    got = choose_thresholds(plan, pool_tokens, pool_units, {k: math.inf for k in plan}, side_shards, 0, None,
                            transfer=transfer)
    assert all(c.full_passes == 2 and c.theta == -1.0 and c.tokens == 2 * pool_tokens[k] for k, c in got.items())
    assert transfer == {"histogram_values": 0, "bin_units": 0, "tasks": 0}


@pytest.mark.parametrize("rehydrate", [None, REHYDRATE])
def test_source_stats_are_aggregated_per_shard(ray_local, side_shards, rehydrate):
    from xcurate.mix.config import MixConfig
    from xcurate.mix.plan import source_stats

    cfg = MixConfig.model_validate({
        "sources": [{"name": "web", "path": "unused"}, {"name": "books", "path": "unused", "languages": ["sw"]}],
        "policy": {"type": "unimax", "total_tokens": 1}, "rehydrate": {"enabled": bool(rehydrate),
                                                                        **({"table": rehydrate} if rehydrate else {})}})
    pool_tokens, pool_units = _pools(side_shards, rehydrate)
    stats, shards = source_stats([s.path for s in side_shards], cfg)
    assert shards == side_shards
    rows = {(r["source"], r["language"]): r for r in stats.to_dicts()}
    assert set(rows) == {k for k in pool_tokens if k[0] == "web" or k[1] == "sw"}
    for key, r in rows.items():
        sides = [read_side(s.path, None) for s in side_shards if s.source == key[0]]
        docs = np.concatenate([s.tokens[(s.language == key[1]) & (s.copies > 0)] for s in sides])
        assert (r["docs"], r["tokens"], r["max_doc_tokens"]) == (len(docs), docs.sum(), docs.max())
        assert (r["pool_tokens"], r["pool_units"]) == (pool_tokens[key], pool_units[key])
