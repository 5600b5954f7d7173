"""transformers backend with tiny models built here (tokenizer trained on Tatoeba text; no downloads)."""
import gzip
import json

import pytest

from xcurate.mt.base import TranslationRequest, Translator
from xcurate.mt.hf_backend import HFBackendConfig, HFSeq2SeqBackend
from xcurate.mt.languages import LanguageTable, UnsupportedLanguageError
from xcurate.mt.tiny import build_tiny_marian

TABLE = LanguageTable.load()
EN, DE, FR, KAB = (TABLE.resolve(c) for c in ("en", "de", "fr", "kab"))


def tatoeba_sentences(shared_data, langs=("deu", "fra", "spa", "cmn"), limit=6000):
    out = []
    with gzip.open(shared_data / "corpus" / "tatoeba_laser_v1.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in langs:
                out += [r["text"], r["eng"]]
            if len(out) >= limit:
                break
    return out


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory, shared_data):
    return build_tiny_marian(tatoeba_sentences(shared_data), str(tmp_path_factory.mktemp("tiny_marian")),
                             target_codes=["deu", "fra"])


def test_m2m100_language_codes_and_length_batching(tiny_m2m100):
    b = HFSeq2SeqBackend(HFBackendConfig(model=tiny_m2m100, batch_size=3, max_output_tokens=12))
    texts = ["Hallo.", "Wie geht es dir heute, mein Freund?", "Ja.", "Ich habe drei Katzen und einen Hund.",
             "Gut.", "Das ist ein Test.", "Morgen fahren wir nach Berlin.", "Nein."]
    out = b.translate(texts, DE, EN)
    assert b.family == "m2m100" and len(out) == len(texts) and all(isinstance(o, str) for o in out)
    assert b.batches_run == 3  # 8 texts, batch_size 3
    assert set(b.forced_bos_seen) == {b._tok.convert_tokens_to_ids("__en__")}
    assert b._tok.src_lang == "de"
    assert all("__en__" not in o for o in out)  # language tokens are not left in the text
    single = [b.translate([t], DE, EN)[0] for t in texts]
    assert single == out  # batching and length sorting do not change or reorder results
    supported = b.supported_languages(TABLE)
    assert {"de", "en", "fr", "zh"} <= set(supported) and "kab" not in supported
    with pytest.raises(UnsupportedLanguageError, match="no language code for kab"):
        b.translate(["Hallo."], DE, KAB)


def test_length_batches_respect_limits(tiny_m2m100):
    b = HFSeq2SeqBackend(HFBackendConfig(model=tiny_m2m100, batch_size=4, max_batch_tokens=40))
    lengths = [5, 30, 2, 9, 9, 1, 12, 7, 3, 20]
    batches = b._length_batches(lengths)
    assert sorted(i for bt in batches for i in bt) == list(range(len(lengths)))
    for bt in batches:
        assert len(bt) <= 4 and max(lengths[i] for i in bt) * len(bt) <= 40 or len(bt) == 1
    flat = [lengths[i] for bt in batches for i in bt]
    assert flat == sorted(flat)


def test_marian_target_tokens(tiny_marian):
    b = HFSeq2SeqBackend(HFBackendConfig(model=tiny_marian, max_output_tokens=8))
    b.setup()
    assert b.family == "marian" and b.supported_languages(TABLE) == ["de", "fr"]
    assert b.generation_setup(EN, DE) == (">>deu<< ", {})
    out = b.translate(["Hello there.", "Good night."], EN, FR)
    assert len(out) == 2 and all(">>" not in o for o in out)
    with pytest.raises(UnsupportedLanguageError):
        b.translate(["Hello."], EN, TABLE.resolve("es"))


def test_long_inputs_are_split_at_sentences(tiny_m2m100):
    b = HFSeq2SeqBackend(HFBackendConfig(model=tiny_m2m100, max_input_tokens=24, max_output_tokens=8))
    translator = Translator(b, TABLE)
    long_text = " ".join(f"Das ist der Satz Nummer {i} in einem langen Text." for i in range(12))
    [out] = translator.translate([TranslationRequest(long_text, "de", "en")])
    assert isinstance(out, str)
    assert translator.stats["chunks"] >= 6
    assert all(b.count_tokens(c[0]) <= 24 for c in translator._cache)


def test_nllb_flores_codes(tmp_path, shared_data):
    from xcurate.mt.tiny import build_tiny_nllb
    path = build_tiny_nllb(tatoeba_sentences(shared_data, limit=3000), str(tmp_path / "nllb"), vocab_size=1000)
    b = HFSeq2SeqBackend(HFBackendConfig(model=path, max_output_tokens=8))
    out = b.translate(["Hello world.", "How are you today?"], EN, TABLE.resolve("sw"))
    assert b.family == "nllb" and len(out) == 2
    assert b._tok.src_lang == "eng_Latn"
    assert set(b.forced_bos_seen) == {b._tok.convert_tokens_to_ids("swh_Latn")}
    assert b.model_code(DE) == "deu_Latn" and b.model_code(TABLE.resolve("zh")) == "zho_Hans"
    supported = b.supported_languages(TABLE)
    assert len(supported) > 150 and {"yo", "sw", "de", "ace"} <= set(supported)
    assert "tzl" not in supported
    assert all("Latn" not in o for o in out)
