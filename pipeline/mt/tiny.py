"""Tiny randomly initialised seq2seq models with a real tokenizer, for tests and CPU benchmarks.

Nothing is downloaded: a SentencePiece vocabulary is trained on the sentences given (real
text, e.g. Tatoeba pairs from ``../shared/data``) and a few-layer model of the requested
family is built around it. The weights are random, so the "translations" are noise, but
tokenisation, language codes, batching, generation and decoding are the real code paths.
"""
from __future__ import annotations

import json
import os
from typing import Iterable, List

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def train_sentencepiece(sentences: Iterable[str], prefix: str, vocab_size: int = 2000) -> str:
    import sentencepiece as spm

    text_path = prefix + ".txt"
    with open(text_path, "w", encoding="utf-8") as f:
        for s in sentences:
            f.write(s.replace("\n", " ") + "\n")
    spm.SentencePieceTrainer.train(
        input=text_path, model_prefix=prefix, vocab_size=vocab_size, character_coverage=0.9995,
        model_type="unigram", bos_id=0, pad_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False,
        num_threads=2, minloglevel=2)
    return prefix + ".model"


def _vocab_from_spm(spm_path: str) -> dict:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=spm_path)
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    return vocab


def _small_dims(**overrides) -> dict:
    dims = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=1024)
    dims.update(overrides)
    return dims


def build_tiny_m2m100(sentences: List[str], out_dir: str, vocab_size: int = 2000, seed: int = 0) -> str:
    """An M2M100-family model (``__de__`` language tokens) saved to ``out_dir``."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    os.makedirs(out_dir, exist_ok=True)
    spm_path = train_sentencepiece(sentences, os.path.join(out_dir, "_spm"), vocab_size)
    vocab_path = os.path.join(out_dir, "_vocab.json")
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(_vocab_from_spm(spm_path), f, ensure_ascii=False)
    tok = M2M100Tokenizer(vocab_file=vocab_path, spm_file=spm_path, src_lang="en", tgt_lang="de")
    tok.save_pretrained(out_dir)
    torch.manual_seed(seed)
    n_ids = max(max(tok.get_vocab().values()), *tok.lang_code_to_id.values()) + 1 \
        + tok.num_madeup_words
    cfg = M2M100Config(vocab_size=n_ids, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                       eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id, **_small_dims())
    M2M100ForConditionalGeneration(cfg).save_pretrained(out_dir)
    for tmp in ("_spm.model", "_spm.vocab", "_spm.txt", "_vocab.json"):
        os.remove(os.path.join(out_dir, tmp))
    return out_dir


def build_tiny_marian(sentences: List[str], out_dir: str, vocab_size: int = 2000, seed: int = 0,
                      target_codes: Iterable[str] = ()) -> str:
    """A MarianMT model; ``target_codes`` adds ``>>xx<<`` target tokens (multi-target models)."""
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    os.makedirs(out_dir, exist_ok=True)
    spm_path = train_sentencepiece(sentences, os.path.join(out_dir, "_spm"), vocab_size)
    vocab = _vocab_from_spm(spm_path)
    for code in target_codes:
        vocab.setdefault(f">>{code}<<", len(vocab))
    vocab_path = os.path.join(out_dir, "_vocab.json")
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    tok = MarianTokenizer(source_spm=spm_path, target_spm=spm_path, vocab=vocab_path)
    tok.save_pretrained(out_dir)
    torch.manual_seed(seed)
    cfg = MarianConfig(vocab_size=len(vocab), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                       decoder_start_token_id=tok.pad_token_id, **_small_dims())
    MarianMTModel(cfg).save_pretrained(out_dir)
    for tmp in ("_spm.model", "_spm.vocab", "_spm.txt", "_vocab.json"):
        os.remove(os.path.join(out_dir, tmp))
    return out_dir


def build_tiny_nllb(sentences: List[str], out_dir: str, vocab_size: int = 2000, seed: int = 0) -> str:
    """An NLLB-family model (FLORES-200 codes such as ``deu_Latn``) with a BPE vocabulary trained here."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    os.makedirs(out_dir, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(sentences, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS))
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tok = NllbTokenizer(vocab=model["vocab"], merges=merges, src_lang="eng_Latn", tgt_lang="deu_Latn")
    tok.save_pretrained(out_dir)
    torch.manual_seed(seed)
    cfg = M2M100Config(vocab_size=max(tok.get_vocab().values()) + 1, pad_token_id=tok.pad_token_id,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                       decoder_start_token_id=tok.eos_token_id, **_small_dims())
    M2M100ForConditionalGeneration(cfg).save_pretrained(out_dir)
    return out_dir
