"""Hugging Face ``transformers`` seq2seq backend (NLLB-200, M2M100, MarianMT; hub id or local path).

Language codes follow the model family:

* ``nllb``: FLORES-200 codes (``eng_Latn`` → ``deu_Latn``); ``tokenizer.src_lang`` and the
  target code forced as the first generated token.
* ``m2m100``: ISO 639-1 codes (``en`` → ``de``); ``__de__`` forced as the first token.
* ``marian``: one model per pair (``pair: [en, de]`` in the config) or a multi-target model
  whose vocabulary has ``>>deu<<``-style tokens, which are prefixed to the source.

Chunks are sorted by token length and batched (``batch_size`` rows, ``max_batch_tokens``
padded tokens) so that padding stays small; results come back in input order.
"""
from __future__ import annotations

from typing import List, Literal, Optional, Sequence, Tuple

from pydantic import BaseModel, ConfigDict, Field

from xcurate.mt.base import MTBackend, MTFailure, Result
from xcurate.mt.languages import Language, LanguageTable, UnsupportedLanguageError


class HFBackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["transformers"] = "transformers"
    model: str = Field(..., description="hub id or local directory")
    family: Literal["auto", "nllb", "m2m100", "marian"] = "auto"
    pair: Optional[Tuple[str, str]] = Field(None, description="the pair a single-pair Marian model translates")
    batch_size: int = Field(32, ge=1)
    max_batch_tokens: int = Field(8192, ge=16)
    max_input_tokens: int = Field(256, ge=8)
    max_output_tokens: int = Field(512, ge=8)
    output_length_ratio: float = Field(3.0, gt=0, description="max new tokens = ratio × input tokens + 16 (capped)")
    num_beams: int = Field(1, ge=1)
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_gpus: Optional[float] = Field(None, ge=0, description="per actor; None = 1 when the cluster has GPUs, else 0")
    concurrency: int = Field(1, ge=1, description="Ray actors in the pool")
    num_cpus: float = Field(1.0, gt=0, description="CPUs reserved per actor (torch threads follow it)")
    local_files_only: bool = True


class HFSeq2SeqBackend(MTBackend):
    name = "transformers"

    def __init__(self, cfg: HFBackendConfig):
        self.cfg = cfg
        self.model = cfg.model
        self.max_input_tokens = cfg.max_input_tokens
        self.family = cfg.family
        self._model = self._tok = None
        self.device = "cpu"
        self.forced_bos_seen: List[int] = []  # first generated token ids of the last batch (for tests)
        self.batches_run = 0
        self._lang_token_ids: set = set()

    def load_tokenizer(self) -> None:
        """Tokenizer and family only (cheap: the driver uses it to validate language codes)."""
        if self._tok is not None:
            return
        from transformers import AutoConfig, AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(self.cfg.model, local_files_only=self.cfg.local_files_only)
        if self.family == "auto":
            model_type = AutoConfig.from_pretrained(self.cfg.model, local_files_only=self.cfg.local_files_only).model_type
            self.family = detect_family(model_type, type(self._tok).__name__)
        # Language tokens are not always flagged special (M2M100), so they are removed before decoding.
        self._lang_token_ids = {i for tok, i in self._tok.get_vocab().items()
                                if (tok.startswith("__") and tok.endswith("__")) or (tok.startswith(">>") and tok.endswith("<<"))}
        self._lang_token_ids |= set(getattr(self._tok, "lang_code_to_id", {}).values())

    def setup(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForSeq2SeqLM

        self.load_tokenizer()
        if self.cfg.device != "cuda":
            torch.set_num_threads(max(1, int(round(self.cfg.num_cpus))))
        self.device = "cuda" if self.cfg.device == "cuda" or (
            self.cfg.device == "auto" and torch.cuda.is_available()) else "cpu"
        dtype = {"auto": torch.float16 if self.device == "cuda" else torch.float32, "float32": torch.float32,
                 "float16": torch.float16, "bfloat16": torch.bfloat16}[self.cfg.dtype]
        self._model = AutoModelForSeq2SeqLM.from_pretrained(
            self.cfg.model, local_files_only=self.cfg.local_files_only, dtype=dtype).to(self.device).eval()

    # -- language codes ----------------------------------------------------------------
    def model_code(self, lang: Language) -> Optional[str]:
        """The code this model uses for ``lang`` (None: the model does not know the language)."""
        self.load_tokenizer()
        if self.family == "nllb":
            return lang.nllb if lang.nllb and self._is_token(lang.nllb) else None
        if self.family == "m2m100":
            return lang.m2m100 if lang.m2m100 and self._is_token(f"__{lang.m2m100}__") else None
        for c in (lang.iso639_3, lang.code, lang.nllb, *lang.aliases):
            if c and self._is_token(f">>{c}<<"):
                return c
        return None

    def supported_languages(self, table: LanguageTable) -> Optional[List[str]]:
        self.load_tokenizer()
        if self.family == "marian" and self.cfg.pair and not any(
                t.startswith(">>") for t in self._tok.get_vocab()):
            return sorted({table.resolve(c).code for c in self.cfg.pair})
        return sorted(lang.code for lang in table.languages.values() if self.model_code(lang))

    def _is_token(self, token: str) -> bool:
        ids = self._tok.convert_tokens_to_ids([token])
        return ids[0] is not None and ids[0] != self._tok.unk_token_id

    def generation_setup(self, src: Language, tgt: Language) -> Tuple[str, dict]:
        """(prefix for the source text, generate() kwargs) for this language pair."""
        if self.family in ("nllb", "m2m100"):
            src_code, tgt_code = self.model_code(src), self.model_code(tgt)
            if src_code is None or tgt_code is None:
                bad = src if src_code is None else tgt
                raise UnsupportedLanguageError(
                    f"model {self.cfg.model!r} ({self.family}) has no language code for {bad.code} ({bad.name})")
            self._tok.src_lang = src_code
            token = tgt_code if self.family == "nllb" else f"__{tgt_code}__"
            return "", {"forced_bos_token_id": self._tok.convert_tokens_to_ids(token)}
        for c in (tgt.iso639_3, tgt.code, tgt.nllb, *tgt.aliases):  # multi-target Marian: >>deu<< prefix
            if c and self._is_token(f">>{c}<<"):
                return f">>{c}<< ", {}
        table = LanguageTable.load()
        if self.cfg.pair and (src.code, tgt.code) == tuple(table.resolve(c).code for c in self.cfg.pair):
            return "", {}
        raise UnsupportedLanguageError(f"model {self.cfg.model!r} (marian) cannot translate {src.code}→{tgt.code}; "
                                       f"it translates {self.cfg.pair or 'into the languages of its >>xx<< tokens'}")

    def count_tokens(self, text: str) -> int:
        self.load_tokenizer()
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    # -- translation -------------------------------------------------------------------
    def translate(self, chunks: Sequence[str], src: Language, tgt: Language) -> List[Result]:
        import torch

        self.setup()
        prefix, gen_kwargs = self.generation_setup(src, tgt)
        texts = [prefix + c for c in chunks]
        lengths = [len(ids) for ids in self._tok(texts, add_special_tokens=True)["input_ids"]]
        results: List[Result] = [MTFailure("not_run")] * len(texts)
        for batch in self._length_batches(lengths):
            enc = self._tok([texts[i] for i in batch], return_tensors="pt", padding=True, truncation=True,
                            max_length=self.cfg.max_input_tokens + 8).to(self.device)
            longest = max(lengths[i] for i in batch)
            max_new = min(self.cfg.max_output_tokens, int(longest * self.cfg.output_length_ratio) + 16)
            with torch.inference_mode():
                out = self._model.generate(**enc, num_beams=self.cfg.num_beams, max_new_tokens=max_new,
                                           **gen_kwargs)
            self.batches_run += 1
            self.forced_bos_seen = out[:, 1].tolist() if out.shape[1] > 1 else []
            rows = [[t for t in row if t not in self._lang_token_ids] for row in out.tolist()]
            for i, text in zip(batch, self._tok.batch_decode(rows, skip_special_tokens=True)):
                results[i] = text.strip()
        return results

    def _length_batches(self, lengths: List[int]) -> List[List[int]]:
        """Indices grouped by similar length, each batch under batch_size rows and max_batch_tokens padded tokens."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        batches, cur = [], []
        for i in order:
            longest = max([lengths[j] for j in cur] + [lengths[i]])
            if cur and (len(cur) + 1 > self.cfg.batch_size or longest * (len(cur) + 1) > self.cfg.max_batch_tokens):
                batches.append(cur)
                cur = []
            cur.append(i)
        if cur:
            batches.append(cur)
        return batches


def detect_family(model_type: str, tokenizer_class: str) -> str:
    if model_type == "marian":
        return "marian"
    if model_type == "m2m_100":
        return "nllb" if "nllb" in tokenizer_class.lower() else "m2m100"
    raise ValueError(f"cannot tell the language-code convention of model type {model_type!r} "
                     f"(tokenizer {tokenizer_class}); set family: nllb | m2m100 | marian")
