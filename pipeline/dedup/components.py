"""Connected components of the candidate-pair graph, without the driver holding edges.

Input: edges stored in both directions, hash-partitioned by their first node
(``<base>/p=<part>/*.parquet`` with int64 columns ``u``, ``v``).
Output: ``labels/p=<unit>/...`` with (``node``, ``root``) for every node that has an edge,
``root`` = the smallest doc of its component.

Switch (``single_worker_max_edges``): with few edges (the usual dedup case: duplicates are
a minority and each bucket contributes a star, not a clique) one Ray task loads all edges
and labels components with scipy's sparse connected components (union-find-equivalent,
in C) — fastest, ~24 bytes per edge of memory. Above the limit, the distributed
large-star / small-star algorithm (Kiveris et al., "Connected Components in MapReduce and
Beyond", SoCC 2014) runs as rounds of per-partition tasks, O(log^2 n) rounds; each task
only holds its own partition of the edges.
"""
from __future__ import annotations

from typing import Dict

import numpy as np
import pyarrow as pa

from xcurate.dedup.store import Phases, hash_partition, list_files, read_part, read_table, unit_of, write_parts

MAX_ROUNDS = 64


def both_directions(u: np.ndarray, v: np.ndarray) -> pa.Table:
    return pa.table({"u": np.concatenate([u, v]), "v": np.concatenate([v, u])})


def write_edges(u: np.ndarray, v: np.ndarray, base: str, num_parts: int, writer: str) -> None:
    table = both_directions(u, v)
    write_parts(table, hash_partition(table["u"].to_numpy(), num_parts), base, writer)


def _write_labels(node: np.ndarray, root: np.ndarray, labels_base: str, writer: str) -> None:
    write_parts(pa.table({"node": node, "root": root}), unit_of(node), labels_base, writer)


def single_worker_components(edges_base: str, labels_base: str) -> dict:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    import pyarrow.fs as pafs
    from xcurate import fsutil

    fs, p = fsutil.filesystem_for(edges_base)
    part_dirs = [i.path for i in fs.get_file_info(pafs.FileSelector(p, allow_not_found=True))
                 if i.type == pafs.FileType.Directory and i.base_name.startswith("p=")]
    prefix = edges_base[: len(edges_base) - len(p)] if "://" in edges_base else ""
    us, vs = [], []
    for d in sorted(part_dirs):
        for f in list_files(prefix + d):
            t = read_table(f)
            u, v = t["u"].to_numpy(), t["v"].to_numpy()
            keep = u < v  # each undirected edge once
            us.append(u[keep])
            vs.append(v[keep])
    if not us or not sum(len(x) for x in us):
        return {"nodes": 0, "components": 0}
    u, v = np.concatenate(us), np.concatenate(vs)
    nodes, inverse = np.unique(np.concatenate([u, v]), return_inverse=True)
    m = len(u)
    graph = coo_matrix((np.ones(m, np.int8), (inverse[:m], inverse[m:])), shape=(len(nodes), len(nodes)))
    num_components, label = connected_components(graph, directed=False)
    # nodes are sorted, so the first node carrying each label is its component's minimum
    _, first = np.unique(label, return_index=True)
    root = nodes[first][label]
    _write_labels(nodes, root, labels_base, "single")
    return {"nodes": int(len(nodes)), "components": int(num_components)}


def _load_edges(base: str, part: int):
    import polars as pl
    table = read_part(base, part)
    if table is None:
        return None
    return pl.from_arrow(table).unique()


def star_step(kind: str, part: int, in_base: str, out_base: str, num_parts: int) -> dict:
    """One large-star or small-star step on one partition (edges keyed by ``u``).

    ``changed`` counts nodes whose neighbourhood the step rewrote: a round in which neither
    step changes anything has reached a forest of stars centred on component minima.
    """
    import polars as pl

    df = _load_edges(in_base, part)
    if df is None or df.height == 0:
        return {"edges": 0, "changed": 0}
    if kind == "large":
        m = df.group_by("u").agg(pl.min_horizontal(pl.col("v").min(), pl.col("u").first()).alias("m"),
                                 (pl.col("v") > pl.col("u")).any().alias("has_larger"))
        changed = m.filter(pl.col("has_larger") & (pl.col("m") < pl.col("u"))).height
        out = df.filter(pl.col("v") > pl.col("u")).join(m.select("u", "m"), on="u").select(
            pl.col("v").alias("a"), pl.col("m").alias("b"))
    else:
        smaller = df.filter(pl.col("v") < pl.col("u"))
        m = smaller.group_by("u").agg(pl.col("v").min().alias("m"), pl.len().alias("n_smaller"))
        changed = m.filter(pl.col("n_smaller") > 1).height
        leaves = smaller.join(m.select("u", "m"), on="u").select(pl.col("v").alias("a"), pl.col("m").alias("b"))
        centres = m.select(pl.col("u").alias("a"), pl.col("m").alias("b"))
        out = pl.concat([leaves, centres]).filter(pl.col("a") != pl.col("b"))
    if out.height:
        write_edges(out["a"].to_numpy(), out["b"].to_numpy(), out_base, num_parts, f"p{part:05d}")
    return {"edges": int(df.height), "changed": int(changed)}


def label_task(part: int, in_base: str, labels_base: str) -> dict:
    import polars as pl

    df = _load_edges(in_base, part)
    if df is None or df.height == 0:
        return {"nodes": 0}
    lab = df.group_by("u").agg(pl.min_horizontal(pl.col("v").min(), pl.col("u").first()).alias("root"))
    _write_labels(lab["u"].to_numpy(), lab["root"].to_numpy(), labels_base, f"p{part:05d}")
    return {"nodes": int(lab.height)}


def run_components(phases: Phases, edges_base: str, labels_base: str, num_parts: int, num_edges: int,
                   single_worker_max_edges: int) -> Dict[str, object]:
    """Label every node with an edge; returns how it was done (for the stage's log)."""
    if num_edges <= single_worker_max_edges:
        res = phases.run("components_single", single_worker_components, {"all": (edges_base, labels_base)})
        return {"mode": "single_worker", **res["all"]}
    current = edges_base
    for rnd in range(MAX_ROUNDS):
        large_out = phases.path(f"cc_r{rnd:02d}_large")
        small_out = phases.path(f"cc_r{rnd:02d}_small")
        large = phases.run(f"cc_r{rnd:02d}_large", star_step,
                           {f"p{p:05d}": ("large", p, current, large_out, num_parts) for p in range(num_parts)})
        small = phases.run(f"cc_r{rnd:02d}_small", star_step,
                           {f"p{p:05d}": ("small", p, large_out, small_out, num_parts) for p in range(num_parts)})
        current = small_out
        changed = sum(r["changed"] for r in large.values()) + sum(r["changed"] for r in small.values())
        if changed == 0:
            res = phases.run("cc_labels", label_task,
                             {f"p{p:05d}": (p, current, labels_base) for p in range(num_parts)})
            return {"mode": "distributed", "rounds": rnd + 1, "nodes": sum(r["nodes"] for r in res.values())}
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")
