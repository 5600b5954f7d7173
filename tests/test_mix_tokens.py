"""Tokenizer loading and counting for ``xcurate mix`` (no Ray): SentencePiece, HF, tiktoken."""
import base64

import pytest

from xcurate.errors import UserError
from xcurate.mix.tokens import TokenCounter, default_sentencepiece_model, resolve_tokenizer

TEXTS = ["the cat sat on the mat", "Здравствуйте, мир", "東京は日本の首都です", ""]


def test_default_sentencepiece_model_counts_like_sentencepiece():
    import sentencepiece as spm
    tok = resolve_tokenizer("sentencepiece", None)
    assert tok.name == default_sentencepiece_model() and len(tok.fingerprint) == 64
    sp = spm.SentencePieceProcessor(model_file=tok.name)
    assert sp.vocab_size() == 128_000
    got = TokenCounter(tok).count(TEXTS).tolist()
    assert got == [len(sp.encode(t)) for t in TEXTS] and got[-1] == 0 and min(got[:3]) > 0


def _tiktoken_file(path):
    ranks = {bytes([b]): b for b in range(256)}
    for merged in (b"th", b"the", b" c", b" ca", b" cat"):
        ranks[merged] = len(ranks)
    path.write_text("\n".join(f"{base64.b64encode(t).decode()} {r}" for t, r in ranks.items()) + "\n")


def test_local_tiktoken_bpe_file(tmp_path):
    _tiktoken_file(tmp_path / "tiny.tiktoken")
    tok = resolve_tokenizer("tiktoken", str(tmp_path / "tiny.tiktoken"))
    # cl100k pre-tokenizer: "the" | " cat" | " sat" → 1 + 1 + 4 byte tokens
    assert TokenCounter(tok).count(["the cat sat", "xyz"]).tolist() == [6, 3]
    other = resolve_tokenizer("tiktoken", str(tmp_path / "tiny.tiktoken"), pattern=r"\S+|\s+")
    assert other.fingerprint != tok.fingerprint
    with pytest.raises(UserError, match="tiktoken BPE file not found"):
        resolve_tokenizer("tiktoken", str(tmp_path / "missing.tiktoken"))
    with pytest.raises(UserError, match="could not load tiktoken encoding 'no_such_encoding'"):
        resolve_tokenizer("tiktoken", "no_such_encoding")


def test_hf_tokenizer_from_local_dir_and_file(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {"[UNK]": 0, "the": 1, "cat": 2}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    raw.save(str(tmp_path / "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]").save_pretrained(tmp_path / "dir")
    by_file = resolve_tokenizer("hf", str(tmp_path / "tokenizer.json"))
    by_dir = resolve_tokenizer("hf", str(tmp_path / "dir"))
    for tok in (by_file, by_dir):
        assert TokenCounter(tok).count(["the cat sat on the mat", ""]).tolist() == [6, 0]
    with pytest.raises(UserError, match="not found"):
        resolve_tokenizer("hf", "./no/such/tokenizer.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="could not read"):
        resolve_tokenizer("hf", str(tmp_path / "bad.json"))


def test_unknown_kind_and_missing_sentencepiece_file(tmp_path):
    with pytest.raises(UserError, match="unknown tokenizer kind"):
        resolve_tokenizer("bpe", None)
    with pytest.raises(UserError, match="SentencePiece model file not found"):
        resolve_tokenizer("sentencepiece", str(tmp_path / "sp.model"))


def test_mix_tokens_stage_tells_source_language_and_tokens_without_ray():
    import pyarrow as pa

    from xcurate.stages.mix_tokens import MixTokens

    tok = resolve_tokenizer("sentencepiece", None)
    files = {"web": ["/d/web/data/language=deu_Latn/part-0.parquet"], "books": ["/d/books/b.jsonl"],
             "news": ["/d/news/n.parquet"]}
    stage = MixTokens(MixTokens.Params(tokenizer=tok.to_dict(), sources={
        "web": {"group": "web", "files": files["web"]},                                  # hive directory
        "books": {"group": "books", "language": "fin_Latn", "files": files["books"]},    # constant language
        "news": {"group": "web", "language_field": "lang", "files": files["news"]}}))   # its own column
    table = pa.table({"text": TEXTS, "source": [files["web"][0], files["books"][0], files["news"][0],
                                                files["news"][0]],
                      "language": [None, None, None, None], "lang": [None, None, "jpn_Jpan", ""],
                      "dup_cluster_size": ["3", None, None, "2"]})
    out = stage(table)
    got = out.table
    assert got["language"].to_pylist() == ["deu_Latn", "fin_Latn", "jpn_Jpan", None]
    assert got["mix_source"].to_pylist() == ["web", "books", "news", "news"]
    assert got["mix_group"].to_pylist() == ["web", "books", "web", "web"]
    assert got["tokens"].to_pylist() == TokenCounter(tok).count(TEXTS).tolist()
    assert got["dup_cluster_size"].to_pylist() == [3, 1, 1, 2]
    assert out.drop_reason.to_pylist() == [None, None, None, "no_language"]
