"""Distributed deduplication on CPU Ray (orchestration of the ``exact_dedup`` and
``minhash_dedup`` global stages; the batch kernels live in ``stages/``).

Every phase is a fan-out of Ray tasks over files; tasks exchange data only through
hash-partitioned Parquet intermediates under the stage's work directory::

    <work_dir>/<stage>-<fingerprint>/
        bands/p=00007/u000012.parquet     (band, key, doc) rows of unit 12 whose key hashes to 7
        cc0/p=00003/b00007.parquet        candidate edges, both directions, by node hash
        labels/p=00012/...                (node, root) of the clustered docs of unit 12
        select_in/, decisions/            keep-rule selection, by cluster then by unit
        _phases/<phase>/<task>.json       completion marker + small stats of each task

A document is addressed by ``doc = unit_index << 32 | row`` (int64), so any task can find
its unit file and row without a lookup table. The driver only submits tasks and reads the
small JSON results: it never holds documents, signatures or edges.

Resume: every intermediate file is written atomically (temp name + rename) under a
deterministic name, and a task's marker is written only after all its files exist. A rerun
skips tasks with a marker and redoes the others, which rewrite the same files with the same
content, so a killed run continues and gives the same result. The fingerprint in the
directory name (params, unit file names and sizes, library versions) keeps a rerun with
other settings from reusing stale intermediates.

Why files and plain tasks rather than ``ray.data.Dataset.groupby``: per-task atomic outputs
give resumability at task granularity, bounded memory per task (partition count grows with
the input so partitions stay the same size), and deterministic results.
"""
