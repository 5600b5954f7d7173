"""GPU stages vs CPU: the cross-lingual encoder and the MT backend at real size, random weights.

Weights cannot be downloaded here, so each model is built from its architecture's config with
random weights: speed depends on the shapes, not on the values. Tokenizers are trained on real
multilingual text from ``../shared/data`` (UD sentences), so tokenisation is real too.

* encoder: a LaBSE-sized BERT (12 layers, 768 wide, 501,153-token embedding table, mean pooling)
  through ``xcurate.contamination.encoders.SentenceTransformerEncoder`` (sentence-transformers);
  sentences/s on real UD sentences.
* MT: an NLLB-200-distilled-600M-sized M2M100 (12+12 layers, 1024 wide, 16 heads, 4096 FFN,
  256,206-token vocabulary) through ``xcurate.mt.hf_backend.HFSeq2SeqBackend``, greedy, exactly
  ``--mt-tokens`` new tokens per sentence (random weights would otherwise stop at random points);
  sentences/s and generated tokens/s.
* documents: the same encoder on document prefixes (``max_chars`` 2000 of joined UD sentences, cut at
  256 tokens), i.e. the embed phase of ``semantic_dedup`` and the ``classifier`` stage with
  ``--features encoder`` (their linear head and the within-cluster cosines are negligible next to it);
  documents/s.

``--size tiny`` shrinks every model to a few layers (a smoke run on CPU); only ``--size real``
figures mean anything. ``bench/gpu.sh`` runs it on a GPU machine within 8 minutes.

    python -m bench.gpu_bench --devices cuda,cpu            # real size -> bench/results/gpu.json
    python -m bench.gpu_bench --size tiny --devices cpu --name gpu_smoke
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench._common import load_ud_docs, write_result

ENCODER_DIMS = {"real": dict(vocab_size=501153, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072, max_position_embeddings=512),
                "tiny": dict(vocab_size=30000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=128, max_position_embeddings=512)}
MT_DIMS = {"real": dict(vocab_size=256206, d_model=1024, encoder_layers=12, decoder_layers=12,
                        encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096,
                        decoder_ffn_dim=4096, max_position_embeddings=1024),
           "tiny": dict(vocab_size=9000, d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
                        max_position_embeddings=1024)}


def ud_sentences(limit: int) -> list:
    out = []
    for doc in load_ud_docs():
        out.extend(s.strip() for s in doc["text"].split("\n") if len(s.strip()) > 10)
        if len(out) >= limit:
            break
    return out[:limit]


def build_encoder(sentences: list, out_dir: str, size: str) -> str:
    """A BERT of ``size`` with a WordPiece vocabulary trained on ``sentences``, saved for sentence-transformers."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer()
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(sentences, trainers.WordPieceTrainer(
        vocab_size=30000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=wp, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                  sep_token="[SEP]", mask_token="[MASK]", model_max_length=256)
    tok.save_pretrained(out_dir)
    BertModel(BertConfig(**ENCODER_DIMS[size])).save_pretrained(out_dir)
    return out_dir


def build_mt(sentences: list, out_dir: str, size: str, new_tokens: int) -> str:
    """An NLLB-family model of ``size`` (tokenizer from ``xcurate.mt.tiny``) generating ``new_tokens`` per sentence."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration
    from xcurate.mt.tiny import build_tiny_nllb

    build_tiny_nllb(sentences, out_dir, vocab_size=8000)
    tiny = M2M100Config.from_pretrained(out_dir)
    dims = {**MT_DIMS[size], "vocab_size": max(MT_DIMS[size]["vocab_size"], tiny.vocab_size)}
    cfg = M2M100Config(**{**tiny.to_dict(), **dims})
    model = M2M100ForConditionalGeneration(cfg)
    model.generation_config.min_new_tokens = new_tokens  # random weights: no early end of sequence
    model.save_pretrained(out_dir)
    return out_dir


def timed(fn, budget_s: float, warmup: int = 1) -> dict:
    """Call ``fn`` (one batch of work, returns its item count) after ``warmup`` calls, until ``budget_s``."""
    for _ in range(warmup):
        fn()
    items, calls, t0 = 0, 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < budget_s:
        items += fn()
        calls += 1
    seconds = time.perf_counter() - t0
    return {"items": items, "seconds": round(seconds, 3), "per_s": round(items / seconds, 2)}


def bench_encoder(model_dir: str, sentences: list, device: str, batch: int, budget_s: float) -> dict:
    from xcurate.contamination.encoders import SentenceTransformerEncoder
    enc = SentenceTransformerEncoder(model_dir, device=device, batch_size=batch)
    work = sentences[: batch * 8]
    res = timed(lambda: len(enc.encode(work)), budget_s)
    return {"sentences_per_s": res["per_s"], **res, "batch_size": batch}


def bench_documents(model_dir: str, sentences: list, device: str, batch: int, budget_s: float) -> dict:
    """Document prefixes through the encoder: the embed phase of semantic_dedup / an encoder classifier."""
    from xcurate.contamination.encoders import SentenceTransformerEncoder
    enc = SentenceTransformerEncoder(model_dir, device=device, batch_size=batch)
    docs = [" ".join(sentences[i:i + 20])[:2000] for i in range(0, len(sentences) - 20, 20)][: batch * 4]
    res = timed(lambda: len(enc.encode(docs)), budget_s)
    return {"documents_per_s": res["per_s"], **res, "batch_size": batch, "max_chars": 2000}


def bench_mt(model_dir: str, sentences: list, device: str, batch: int, new_tokens: int, budget_s: float) -> dict:
    from xcurate.mt.hf_backend import HFBackendConfig, HFSeq2SeqBackend
    from xcurate.mt.languages import LanguageTable
    table = LanguageTable.load()
    backend = HFSeq2SeqBackend(HFBackendConfig(model=model_dir, device=device, batch_size=batch,
                                               max_output_tokens=new_tokens, num_cpus=os.cpu_count()))
    src, tgt = table.resolve("eng_Latn"), table.resolve("deu_Latn")
    work = sentences[:batch * 2]
    res = timed(lambda: len(backend.translate(work, src, tgt)), budget_s)
    return {"sentences_per_s": res["per_s"], "generated_tokens_per_s": round(res["per_s"] * new_tokens, 1),
            **res, "batch_size": batch, "new_tokens": new_tokens, "dtype": "float16" if device == "cuda" else "float32"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(ENCODER_DIMS), default="real")
    ap.add_argument("--devices", default="cuda,cpu", help="comma-separated, measured in this order")
    ap.add_argument("--budget-s", type=float, default=30.0, help="timed seconds per model and device")
    ap.add_argument("--mt-tokens", type=int, default=64)
    ap.add_argument("--name", default="gpu", help="results file bench/results/<name>.json")
    args = ap.parse_args(argv)
    import torch
    sentences = ud_sentences(4000)
    result = {"size": args.size, "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "encoder_dims": ENCODER_DIMS[args.size], "mt_dims": MT_DIMS[args.size], "devices": {}}
    with tempfile.TemporaryDirectory() as tmp:
        enc_dir = build_encoder(sentences, str(Path(tmp) / "encoder"), args.size)
        mt_dir = build_mt(sentences, str(Path(tmp) / "mt"), args.size, args.mt_tokens)
        for device in args.devices.split(","):
            if device == "cuda" and not torch.cuda.is_available():
                sys.exit("no CUDA device: run with --devices cpu")
            gpu = device == "cuda"
            result["devices"][device] = {
                "encoder": bench_encoder(enc_dir, sentences, device, 256 if gpu else 32, args.budget_s),
                "documents": bench_documents(enc_dir, sentences, device, 64 if gpu else 8, args.budget_s / 2),
                "mt": bench_mt(mt_dir, sentences, device, 64 if gpu else 8, args.mt_tokens, args.budget_s)}
            print(device, json.dumps(result["devices"][device]), flush=True)
    if {"cuda", "cpu"} <= set(result["devices"]):
        d = result["devices"]
        result["gpu_over_cpu"] = {m: round(d["cuda"][m]["sentences_per_s"] / d["cpu"][m]["sentences_per_s"], 1)
                                  for m in ("encoder", "mt")}
        result["gpu_over_cpu"]["documents"] = round(d["cuda"]["documents"]["documents_per_s"]
                                                    / d["cpu"]["documents"]["documents_per_s"], 1)
    write_result(args.name, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
