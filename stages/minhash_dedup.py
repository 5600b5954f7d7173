"""The ``minhash_dedup`` global stage: one document kept per MinHash-LSH cluster.

The kernels (normalisation, shingles, datasketch-compatible and fast signatures, band keys)
are in ``xcurate.dedup.signatures``; the distributed phases in ``xcurate.dedup.minhash``.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from xcurate.dedup.minhash import run_minhash_dedup
from xcurate.dedup.params import DedupParams
from xcurate.dedup.store import input_columns
from xcurate.dedup.signatures import MinHashSpec, NormConfig, optimal_bands_rows
from xcurate.engine.registry import register
from xcurate.engine.stage import GlobalStage, Resources


class MinHashDedupParams(DedupParams):
    ngram_size: int = Field(5, ge=1, description="words per shingle (characters for scripts without spaces)")
    num_perm: int = Field(112, ge=1, le=4096, description="MinHash permutations; must equal bands x rows")
    bands: Optional[int] = Field(14, ge=1, description="LSH bands; a pair sharing one band is a candidate")
    rows: Optional[int] = Field(8, ge=1, description="hashes per band")
    # Set threshold (and bands/rows to null) to choose bands/rows with datasketch's routine.
    threshold: Optional[float] = Field(None, gt=0, lt=1, description="target Jaccard similarity; with bands/rows null, chooses them")
    seed: int = Field(1, description="seed of the permutations (same seed, same signatures)")
    hash_mode: Literal["fast", "datasketch"] = Field(
        "fast", description="fast: vectorised xxhash signatures; datasketch: bit-identical to datasketch.MinHash")
    lowercase: bool = Field(True, description="lowercase before shingling")
    normalize_numbers: bool = Field(True, description="map every digit to 0 before shingling")
    strip_diacritics: bool = Field(True, description="remove combining accents before shingling")
    # Optional false-positive check: exact Jaccard of the (hashed) shingle sets of every
    # candidate pair before it joins a cluster; null = trust the LSH bands.
    verify_jaccard: Optional[float] = Field(None, gt=0, le=1, description="keep only candidate pairs with at least this shingle Jaccard; null = trust the bands")
    # Connected components on one worker when there are at most this many candidate edges;
    # above it, distributed large-star/small-star rounds (see pipeline/dedup/components.py).
    single_worker_max_edges: int = Field(20_000_000, ge=0, description="connected components on one worker up to this many edges, else distributed")
    batch_rows: int = Field(2000, ge=1, description="rows per batch when computing signatures (memory bound)")

    @model_validator(mode="after")
    def _bands_rows(self):
        if self.threshold is not None and (self.bands is None or self.rows is None):
            self.bands, self.rows = optimal_bands_rows(self.threshold, self.num_perm)
        elif self.threshold is not None:
            raise ValueError("give either threshold or bands+rows (set bands and rows to null)")
        if self.bands is None or self.rows is None:
            raise ValueError("bands and rows are required unless threshold is given")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def spec(self) -> MinHashSpec:
        return MinHashSpec(self.ngram_size, self.num_perm, self.bands, self.rows, self.seed, self.hash_mode,
                           NormConfig(self.lowercase, self.normalize_numbers, self.strip_diacritics))


@register
class MinHashDedup(GlobalStage):
    """Near-duplicate removal: one document kept per MinHash-LSH cluster.

    Kept and removed documents get ``dup_cluster_id`` (the id of the cluster's kept document)
    and ``dup_cluster_size``; removed ones ``duplicate_of`` and reason ``near_duplicate``.
    """

    name = "minhash_dedup"
    reads = ("text", "id")
    writes = ("dup_cluster_id", "dup_cluster_size", "duplicate_of")
    drop_only_columns = ("duplicate_of",)  # set on dropped rows only: kept out of data/
    Params = MinHashDedupParams
    default_resources = Resources(num_cpus=1)

    def input_columns(self):
        return tuple(input_columns(self.params))

    def run(self, unit_files, out_dir, work_dir, stage_name, resources) -> None:
        run_minhash_dedup(self.params, list(unit_files), out_dir, work_dir, stage_name, resources)
