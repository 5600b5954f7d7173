"""MinHash-LSH near-duplicate removal as phases of Ray tasks (see ``pipeline/dedup/__init__``).

Phases:
1. ``signatures`` (per unit): signatures of eligible rows -> band rows (band, key, doc)
   hash-partitioned by key -> ``bands/``.
2. ``buckets`` (per partition): rows sharing (band, key) form a bucket; each bucket becomes a
   star of edges to its smallest doc -> ``cc0/`` (both directions, by node), or ``pairs/`` +
   ``need/`` when the Jaccard check is on.
3. optional Jaccard check: ``verify_shingles`` (per unit: shingle sets of candidate docs),
   ``verify_join`` and ``verify_pairs`` (per partition: two hash joins) -> ``cc0/``.
4. connected components -> ``labels/`` (see ``components.py``).
5. ``select_gather`` (per unit) / ``select_pick`` (per partition): keep rule per cluster.
6. ``write`` (per unit): the output unit files.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from xcurate import fsutil
from xcurate.dedup.signatures import band_keys, jaccard, signatures, string_salt, unique_shingle_sets
from xcurate.dedup.components import run_components, write_edges
from xcurate.dedup.select import gather_attributes_task, pick_task, write_unit_task
from xcurate.dedup.store import (eligible_batches, texts_of, auto_partitions, hash_partition, make_doc, start_run,
                                  open_parquet, read_part, row_of, total_rows, unit_of, unit_task_names,
                                  write_parts)

BAND_ROWS_PER_PARTITION = 500_000  # ~12 MB of (band, key, doc) rows per bucket task: memory stays flat


def signature_task(unit: int, path: str, params, bands_base: str, num_parts: int) -> dict:
    spec = params.spec()
    columns = [params.text_column] + ([params.language_column] if params.scope == "language" else [])
    keys_all, docs_all = [], []
    eligible_total = signed = 0
    for offset, batch, idx in eligible_batches(path, columns, params.batch_rows):
        eligible_total += len(idx)
        if not len(idx):
            continue
        sig, has = signatures(texts_of(batch, params.text_column, idx), spec)
        salt = None
        if params.scope == "language":
            langs = batch.column(params.language_column).take(pa.array(idx[has])).to_pylist()
            salt = string_salt(langs)
        keys_all.append(band_keys(sig[has], spec.bands, spec.rows, salt))
        docs_all.append(make_doc(unit, offset + idx[has]))
        signed += int(has.sum())
    if signed:
        keys = np.concatenate(keys_all)
        docs = np.concatenate(docs_all)
        table = pa.table({"band": np.tile(np.arange(spec.bands, dtype=np.int16), len(docs)),
                          "key": keys.ravel(), "doc": np.repeat(docs, spec.bands)})
        write_parts(table, (table["key"].to_numpy() % np.uint64(num_parts)).astype(np.int64), bands_base,
                    f"u{unit:06d}")
    return {"eligible": eligible_total, "signed": signed}


def bucket_task(part: int, bands_base: str, edges_base: str, pairs_base: str, need_base: str, num_parts: int,
                verify: bool) -> dict:
    """Candidate pairs of one key partition: every bucket member paired with the bucket minimum."""
    import polars as pl

    table = read_part(bands_base, part)
    if table is None:
        return {"edges": 0, "buckets": 0}
    df = pl.from_arrow(table)
    df = df.with_columns(pl.col("doc").min().over(["band", "key"]).alias("u"))
    pairs = df.filter(pl.col("doc") != pl.col("u")).select(pl.col("u"), pl.col("doc").alias("v")).unique()
    buckets = pairs.select("u").n_unique() if pairs.height else 0
    if pairs.height:
        u, v = pairs["u"].to_numpy(), pairs["v"].to_numpy()
        writer = f"b{part:05d}"
        if verify:
            write_parts(pa.table({"u": u, "v": v}), hash_partition(u, num_parts), pairs_base, writer)
            nodes = np.unique(np.concatenate([u, v]))
            write_parts(pa.table({"node": nodes}), unit_of(nodes), need_base, writer)
        else:
            write_edges(u, v, edges_base, num_parts, writer)
    return {"edges": int(pairs.height), "buckets": int(buckets)}


# ---------------------------------------------------------------------- Jaccard check


def verify_shingles_task(unit: int, path: str, params, need_base: str, out_base: str, num_parts: int) -> dict:
    """Shingle sets of this unit's candidate docs, partitioned by doc hash."""

    need = read_part(need_base, unit)
    if need is None:
        return {"docs": 0}
    nodes = np.unique(need["node"].to_numpy())
    texts = open_parquet(path).read(columns=[params.text_column])[params.text_column].take(pa.array(row_of(nodes)))
    import polars as pl
    sets = unique_shingle_sets(pl.from_arrow(texts.combine_chunks().cast(pa.large_string())), params.spec())
    table = pa.table({"node": nodes, "shingles": pa.array(sets, pa.list_(pa.uint32()))})
    write_parts(table, hash_partition(nodes, num_parts), out_base, f"u{unit:06d}")
    return {"docs": int(len(nodes))}


def _shingles_by_node(shingles_base: str, part: int):
    table = read_part(shingles_base, part)
    if table is None:
        return {}
    return dict(zip(table["node"].to_numpy().tolist(), table["shingles"].to_pylist()))


def verify_join_task(part: int, pairs_base: str, shingles_base: str, out_base: str, num_parts: int) -> dict:
    """Attach the shingles of ``u`` (hashed here) and re-partition the pairs by ``v``."""
    pairs = read_part(pairs_base, part)
    if pairs is None:
        return {"pairs": 0}
    by_node = _shingles_by_node(shingles_base, part)
    u, v = pairs["u"].to_numpy(), pairs["v"].to_numpy()
    table = pa.table({"u": u, "v": v, "u_shingles": pa.array([by_node[x] for x in u.tolist()],
                                                             pa.list_(pa.uint32()))})
    write_parts(table, hash_partition(v, num_parts), out_base, f"p{part:05d}")
    return {"pairs": int(len(u))}


def verify_pairs_task(part: int, joined_base: str, shingles_base: str, edges_base: str, num_parts: int,
                      threshold: float) -> dict:
    """Keep the pairs whose exact Jaccard similarity of shingle sets reaches the threshold."""

    joined = read_part(joined_base, part)
    if joined is None:
        return {"pairs": 0, "kept": 0}
    by_node = _shingles_by_node(shingles_base, part)
    u, v = joined["u"].to_numpy(), joined["v"].to_numpy()
    u_sh = joined["u_shingles"].to_pylist()
    keep = np.array([jaccard(np.asarray(a, np.uint32), np.asarray(by_node[b], np.uint32)) >= threshold
                     for a, b in zip(u_sh, v.tolist())], dtype=bool)
    if keep.any():
        write_edges(u[keep], v[keep], edges_base, num_parts, f"v{part:05d}")
    return {"pairs": int(len(u)), "kept": int(keep.sum())}


# ---------------------------------------------------------------------- driver


def run_minhash_dedup(params, unit_files, out_dir, work_dir, stage_name, resources) -> dict:
    unit_files, root, phases = start_run(params, unit_files, work_dir, stage_name, resources)
    num_parts = params.num_partitions or auto_partitions(total_rows(unit_files) * params.bands,
                                                         BAND_ROWS_PER_PARTITION)
    units = list(enumerate(unit_files))
    names = unit_task_names(unit_files)
    parts = {f"p{p:05d}": p for p in range(num_parts)}
    p = phases.path
    verify = params.verify_jaccard is not None

    phases.run("signatures", signature_task,
               {n: (u, path, params, p("bands"), num_parts) for n, (u, path) in zip(names, units)})
    buckets = phases.run("buckets", bucket_task,
                         {n: (i, p("bands"), p("cc0"), p("pairs"), p("need"), num_parts, verify)
                          for n, i in parts.items()})
    num_edges = sum(r["edges"] for r in buckets.values())
    if verify:
        phases.run("verify_shingles", verify_shingles_task,
                   {n: (u, path, params, p("need"), p("shingles"), num_parts) for n, (u, path) in zip(names, units)})
        phases.run("verify_join", verify_join_task,
                   {n: (i, p("pairs"), p("shingles"), p("pairs_u"), num_parts) for n, i in parts.items()})
        checked = phases.run("verify_pairs", verify_pairs_task,
                             {n: (i, p("pairs_u"), p("shingles"), p("cc0"), num_parts, params.verify_jaccard)
                              for n, i in parts.items()})
        num_edges = sum(r["kept"] for r in checked.values())
    cc = run_components(phases, p("cc0"), p("labels"), num_parts, num_edges, params.single_worker_max_edges)
    phases.run("select_gather", gather_attributes_task,
               {n: (u, path, p("labels"), p("select_in"), num_parts, params.keep, params.id_column,
                    params.text_column, params.quality_column) for n, (u, path) in zip(names, units)})
    picked = phases.run("select_pick", pick_task,
                        {n: (i, p("select_in"), p("decisions"), ["group"], params.keep) for n, i in parts.items()})
    columns = {"kept_id": "dup_cluster_id", "size": "dup_cluster_size", "duplicate_of": "duplicate_of"}
    written = phases.run("write", write_unit_task,
                         {n: (u, path, out_dir, p("decisions"), stage_name, "near_duplicate", params.id_column,
                              columns, True) for n, (u, path) in zip(names, units)})
    summary = {"partitions": num_parts, "candidate_edges": num_edges, "components": cc,
               "clusters": sum(r["groups"] for r in picked.values()),
               "dropped": sum(r["dropped"] for r in picked.values()),
               "units_written": sum(not r.get("skipped") for r in written.values()), "phases": phases.log}
    fsutil.atomic_write_json(summary, p("summary.json"))
    return summary
