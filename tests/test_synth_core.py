"""Synth core: language table, templates, structure protection, splitting, readers, QC checks."""
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xcurate.mt.languages import LanguageTable, UnsupportedLanguageError
from xcurate.mt.text import mask, numbers_in, plan_pieces, protected_spans, reassemble, split_sentences, \
    unmask, approx_tokens
from xcurate.synth.io import BitextInput, InputFormatError, InstructionInput, iter_bitext, iter_instructions
from xcurate.synth.tasks import TemplateLibrary, instruction_examples, translation_examples
from xcurate.stages.synth_qc import SynthQCParams, SynthQCStage

TABLE = LanguageTable.load()


# ----------------------------------------------------------------- languages

def test_language_codes_resolve_from_any_convention():
    assert TABLE.resolve("deu").code == TABLE.resolve("de").code == TABLE.resolve("deu_Latn").code == "de"
    assert TABLE.resolve("cmn").code == "zh" and TABLE.resolve("zho_Hans").code == "zh"
    assert TABLE.resolve("swh").code == "sw" and TABLE.resolve("sw").nllb == "swh_Latn"
    assert TABLE.resolve("de").name == "German" and TABLE.resolve("el").name == "Modern Greek"
    assert not TABLE.resolve("zh").spaced and TABLE.resolve("de").spaced
    assert TABLE.resolve("pt-BR").code == "pt" and TABLE.resolve("cmn_Hani").code == "zh"


@pytest.mark.parametrize("codes,corpus", [
    (["de", "deu", "ger", "deu_Latn", "de-DE", "DEU_LATN"], "deu_Latn"),
    (["zh", "zho", "cmn", "zho_Hans", "zh-Hant", "cmn_Hani"], "cmn_Hani"),
    (["ar", "ara", "arb", "arb_Arab"], "arb_Arab"),
    (["sw", "swa", "swh", "swh_Latn"], "swh_Latn"),
    (["sr", "srp", "srp_Cyrl"], "srp_Cyrl"),
    (["srp_Latn", "sr-Latn"], "srp_Latn"),  # a script the language is written in is kept
])
def test_corpus_code_is_the_code_run_writes(codes, corpus):
    from xcurate.stages.langid import load_label_table, map_label
    assert {TABLE.corpus_code(c) for c in codes} == {corpus}
    assert TABLE.corpus_code(corpus) == corpus  # idempotent
    # the langid stage writes the same code for that language's LID label
    label = TABLE.resolve(codes[0]).fasttext
    assert map_label(f"__label__{label}", corpus.split("_")[1], load_label_table()) == corpus
    assert TABLE.corpus_code("tlh") == "tlh"  # unknown codes pass through unchanged


def test_every_code_written_reads_back_with_its_model_codes():
    """What synth writes (src_lang/tgt_lang) is what mt_translate resolves: same language, no model code lost."""
    for lang in TABLE.languages.values():
        back = TABLE.resolve(lang.corpus_code())
        assert back.corpus_code() == lang.corpus_code(), lang
        assert (back.nllb or not lang.nllb) and (back.m2m100 or not lang.m2m100), (lang, back)
    assert TABLE.resolve("nob_Latn").m2m100 == "no" and TABLE.resolve("no").nllb == "nob_Latn"  # one language


def test_unsupported_language_lists_supported_ones():
    with pytest.raises(UnsupportedLanguageError) as e:
        TABLE.resolve("klingon")
    assert "'klingon'" in str(e.value) and "de, " in str(e.value)
    with pytest.raises(UnsupportedLanguageError) as e:
        TABLE.resolve("fr", supported=["de", "en"], what="MT model")
    assert "supported (2): de, en" in str(e.value)


# ----------------------------------------------------------------- templates

@pytest.fixture(scope="module")
def library():
    return TemplateLibrary.load(None, TABLE)


def _pair(i=0):
    return {"id": f"p{i}", "src_text": "The weather is nice today.", "tgt_text": "Das Wetter ist heute schön.",
            "src_lang": TABLE.resolve("en"), "tgt_lang": TABLE.resolve("de"), "source": "x.tsv", "line": i}


def test_template_pool_is_large_and_paraphrased(library):
    english = library.pools["en"].templates
    assert len(english) >= 30
    assert len({t.text for t in english}) == len(english)
    assert any(t.embeds_text for t in english) and any(not t.embeds_text for t in english)
    assert {"de", "fr", "es", "zh"} <= set(library.pools)


def test_template_choice_is_deterministic_and_recorded(library):
    a = [translation_examples(_pair(i), "both", library, seed=7, target_language_rate=0.3) for i in range(200)]
    b = [translation_examples(_pair(i), "both", library, seed=7, target_language_rate=0.3) for i in range(200)]
    assert a == b
    ids = Counter(r["template_id"] for rows in a for r in rows)
    assert len(ids) > 25  # the seed spreads the choice over the pool
    other_seed = [translation_examples(_pair(i), "both", library, seed=8, target_language_rate=0.3)
                  for i in range(200)]
    assert [r["template_id"] for rows in other_seed for r in rows] != [r["template_id"] for rows in a for r in rows]
    # both directions, target-language (German) templates only for the en->de direction
    assert {(r["src_lang"], r["tgt_lang"]) for rows in a for r in rows} == {("eng_Latn", "deu_Latn"),
                                                                             ("deu_Latn", "eng_Latn")}
    german = [r for rows in a for r in rows if r["template_id"].startswith("de-")]
    assert german and all(r["tgt_lang"] == "deu_Latn" for r in german)
    assert all("Deutsch" in r["instruction"] or "Deutsche" in r["instruction"] for r in german)


def test_template_renders_names_and_text(library):
    rows = [r for i in range(100) for r in translation_examples(_pair(i), "forward", library, 1, 0.0)]
    for r in rows:
        tpl_embeds = r["input"] == ""
        assert ("The weather is nice today." in r["instruction"]) == tpl_embeds
        assert "{" not in r["instruction"] and r["output"] == "Das Wetter ist heute schön."
    embedded = next(r for r in rows if r["input"] == "")
    assert "German" in embedded["instruction"]


def test_braces_in_source_text_survive_rendering(library):
    pair = dict(_pair(), src_text="Use {name} and {{x}} here.")
    rows = [translation_examples(dict(pair, id=f"b{i}"), "forward", library, 3, 0.0)[0] for i in range(60)]
    assert all("{name} and {{x}}" in (r["instruction"] + r["input"]) for r in rows)


def test_instruction_variants(library):
    rec = {"id": "r1", "instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well.",
           "messages": None, "source": "a.jsonl", "line": 1}
    rows = instruction_examples(rec, TABLE.resolve("en"), [TABLE.resolve("de"), TABLE.resolve("fr")],
                                ["all_target", "en_instruction_target_response", "target_instruction_target_response"],
                                library, seed=0)
    assert len(rows) == 6 and len({r["id"] for r in rows}) == 6
    by = {(r["tgt_lang"], r["variant"]): r for r in rows}
    assert {r["src_lang"] for r in rows} == {"eng_Latn"} and {r["tgt_lang"] for r in rows} == {"deu_Latn", "fra_Latn"}
    allt = by[("deu_Latn", "all_target")]
    assert allt["_src_instruction"] == rec["instruction"] and allt["_src_output"] == "Eat well."
    en = by[("deu_Latn", "en_instruction_target_response")]
    assert en["_src_instruction"] is None and en["instruction"].startswith(rec["instruction"])
    assert "German" in en["instruction"] and en["template_id"].startswith("en-d")
    chat = dict(rec, messages=[{"role": "user", "content": "Hi, who are you?"},
                               {"role": "assistant", "content": "An assistant."}])
    chat_rows = instruction_examples(chat, TABLE.resolve("en"), [TABLE.resolve("de")], list(
        ["all_target", "target_instruction_target_response"]), library, 0)
    assert len(chat_rows) == 1  # identical to all_target for chat records
    assert [m["translate"] for m in json.loads(chat_rows[0]["_src_messages"])] == [True, True]


# ----------------------------------------------------------------- structure protection, splitting

def test_protected_spans_are_masked_and_restored():
    text = "Schreibe an {name} unter max.mustermann@example.de oder besuche https://example.org/a?b=1, dann `pip install x`."
    m = mask(text)
    assert m.spans == ["{name}", "max.mustermann@example.de", "https://example.org/a?b=1", "`pip install x`"]
    assert "@" not in m.text and "https" not in m.text and "[[3]]" in m.text
    assert unmask(m.text, m.spans) == text
    # a translator that drops a sentinel leaves the span missing: detectable, not silent
    broken = unmask(m.text.replace("[[1]]", ""), m.spans)
    assert protected_spans(text) - protected_spans(broken) == Counter({"max.mustermann@example.de": 1})


def test_code_blocks_are_never_translated():
    text = "Explain this code:\n```python\nfor i in range(3):\n    print(i)\n```\nIt prints 0, 1 and 2."
    pieces = plan_pieces(text, 64, approx_tokens)
    kept = [p.text for p in pieces if not p.translate]
    assert any("print(i)" in k for k in kept)
    assert all("print(i)" not in p.text for p in pieces if p.translate)
    fake = {i: p.text.upper() for i, p in enumerate(pieces) if p.translate}
    out = reassemble(pieces, fake, True)
    assert "```python\nfor i in range(3):\n    print(i)\n```" in out and "EXPLAIN THIS CODE:" in out


@pytest.mark.parametrize("text,n", [
    ("Er kam. Sie ging! Warum? Niemand weiß es.", 4),
    ("我今天很忙。你呢？我们明天见！", 3),
    ("मैं घर जा रहा हूँ। वह स्कूल गया। ", 2),
    ("هل أنت بخير؟ نعم، شكرا.", 2),
    ("Первая строка.\nВторая строка.\n\nТретья.", 3),
])
def test_sentence_splitting_keeps_the_text(text, n):
    parts = split_sentences(text)
    assert len(parts) == n
    assert "".join(s + sep for s, sep in parts) == text


def test_long_inputs_split_under_budget_and_reassembled():
    sentences = [f"Sentence number {i} talks about the weather in Berlin and Paris." for i in range(40)]
    text = " ".join(sentences)
    pieces = plan_pieces(text, 40, approx_tokens)
    chunks = [p for p in pieces if p.translate]
    assert len(chunks) > 5 and all(approx_tokens(p.text) <= 40 for p in chunks)
    assert reassemble(pieces, {i: p.text for i, p in enumerate(pieces) if p.translate}, True) == text
    one_long = "x" * 50 + "，" + "很长的句子" * 40  # no sentence end: cut at clauses then characters
    pieces = plan_pieces(one_long, 30, approx_tokens)
    assert all(approx_tokens(p.text) <= 30 for p in pieces if p.translate)
    assert reassemble(pieces, {i: p.text for i, p in enumerate(pieces) if p.translate}, False) == one_long


def test_numbers_compare_across_formats_and_scripts():
    assert numbers_in("It costs 1,000.50 dollars for 3 people") == numbers_in("Es kostet 1.000,50 Dollar für 3 Personen")
    assert numbers_in("Ich habe ٣ Äpfel") == numbers_in("I have 3 apples")
    assert numbers_in("今天是６月１８号") == numbers_in("Today is 6/18")
    assert numbers_in("I have 12 apples") != numbers_in("Ich habe 13 Äpfel")
    assert numbers_in("see https://x.org/2024/05") == Counter()


# ----------------------------------------------------------------- readers

def test_tsv_and_moses_readers(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("Hello.\tHallo.\n\nGood night.\tGute Nacht.\n\tleer\n", encoding="utf-8")
    spec = BitextInput(paths=[str(tsv)], src_lang="en", tgt_lang="de")
    pairs = list(iter_bitext(spec, str(tsv)))
    assert [p["tgt_text"] for p in pairs] == ["Hallo.", "Gute Nacht.", "leer"]
    assert [p["drop_reason"] for p in pairs] == [None, None, "empty_source"] and pairs[1]["line"] == 3
    bad = tmp_path / "bad.tsv"
    bad.write_text("ok\tok\nonly one column\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"bad.tsv: line 2: expected 2 tab-separated"):
        list(iter_bitext(spec, str(bad)))
    en, de = tmp_path / "c.en", tmp_path / "c.de"
    en.write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    de.write_text("Eins.\nZwei.\n", encoding="utf-8")
    moses = BitextInput(paths=[str(en), str(de)], format="moses", src_lang="en", tgt_lang="de")
    with pytest.raises(InputFormatError) as e:
        list(iter_bitext(moses, str(en), str(de)))
    assert f"{de} ends after line 2" in str(e.value) and f"{en} continues at line 3" in str(e.value)
    de.write_text("Eins.\nZwei.\nDrei.\n", encoding="utf-8")
    assert [p["tgt_text"] for p in iter_bitext(moses, str(en), str(de))] == ["Eins.", "Zwei.", "Drei."]


def test_jsonl_parquet_and_dataset_bitext(tmp_path, shared_data):
    tatoeba = shared_data / "corpus" / "tatoeba_laser_v1.jsonl.gz"
    spec = BitextInput(paths=[str(tatoeba)], src_field="eng", src_lang="en", tgt_field="text", tgt_lang_field="lang")
    pairs = []
    for p in iter_bitext(spec, str(tatoeba)):
        pairs.append(p)
        if len(pairs) == 50:
            break
    assert pairs[0]["id"] == "tatoeba.v1.afr-eng.0000" and pairs[0]["tgt_lang"] == "afr"
    assert pairs[0]["src_text"] == "Her English is excellent."
    rows = [{"a": p["src_text"], "b": p["tgt_text"]} for p in pairs]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "bt.parquet")
    pspec = BitextInput(paths=["x"], src_field="a", tgt_field="b", src_lang="en", tgt_lang="af", id_field=None)
    got = list(iter_bitext(pspec, str(tmp_path / "bt.parquet")))
    assert [g["tgt_text"] for g in got] == [r["b"] for r in rows]
    import datasets
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    got = list(iter_bitext(pspec, str(tmp_path / "ds")))
    assert len(got) == 50 and got[3]["src_text"] == rows[3]["a"]


def test_instruction_readers(tmp_path, shared_data):
    alpaca = shared_data / "instructions" / "alpaca_en_sample.jsonl"
    spec = InstructionInput(paths=[str(alpaca)])
    recs = []
    for r in iter_instructions(spec, str(alpaca)):
        recs.append(r)
        if len(recs) == 20:
            break
    assert recs[0]["instruction"] == "Give three tips for staying healthy." and recs[0]["drop_reason"] is None
    arr = tmp_path / "data.json"
    arr.write_text(json.dumps([
        {"instruction": "", "input": "", "output": "x"},
        {"instruction": "Say hi", "input": "", "output": "Hi"},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "¿Qué hora es?"},
                      {"role": "assistant", "content": "Son las tres."}]},
        {"messages": [{"role": "user", "content": "   "}, {"role": "assistant", "content": "?"}]},
    ], ensure_ascii=False), encoding="utf-8")
    got = list(iter_instructions(InstructionInput(paths=[str(arr)]), str(arr)))
    assert [g["drop_reason"] for g in got] == ["empty_instruction", None, None, "empty_instruction"]
    assert got[2]["instruction"] == "¿Qué hora es?" and got[2]["output"] == "Son las tres."
    assert got[2]["messages"][0] == {"role": "system", "content": "Be brief."}


# ----------------------------------------------------------------- QC

def _qc(src, tgt, tgt_lang="de", src_lang="en", **params):
    stage = SynthQCStage(SynthQCParams(**params))
    t = pa.table({"_xc_qc_source": [src], "_xc_qc_target": [tgt], "src_lang": [src_lang], "tgt_lang": [tgt_lang]})
    out = stage(t)
    return out.drop_reason[0].as_py(), out.table.to_pylist()[0]


@pytest.mark.parametrize("src,tgt,lang,reason", [
    ("The cat sleeps on the warm sofa in the living room.", "Die Katze schläft auf dem warmen Sofa im Wohnzimmer.", "de", None),
    ("The cat sleeps on the warm sofa in the living room.", "猫在客厅温暖的沙发上睡觉。", "zh", None),
    # the codes synth writes (and any other convention) name the target language just as well
    ("The cat sleeps on the warm sofa in the living room.", "猫在客厅温暖的沙发上睡觉。", "cmn_Hani", None),
    ("The cat sleeps on the warm sofa in the living room.", "Die Katze schläft auf dem warmen Sofa im Wohnzimmer.", "deu_Latn", None),
    ("The cat sleeps on the warm sofa in the living room.", "El gato duerme en el cálido sofá de la sala.", "deu_Latn", "lid_mismatch"),
    ("The cat sleeps on the warm sofa in the living room.", "बिल्ली बैठक के गर्म सोफे पर सोती है।", "hi", None),
    # LID: target language wrong (Spanish delivered for German)
    ("The cat sleeps on the warm sofa in the living room.", "El gato duerme en el cálido sofá de la sala.", "de", "lid_mismatch"),
    # copy of the source
    ("The cat sleeps on the warm sofa in the living room.", "The cat sleeps on the warm sofa in the living room!", "de", "copy_of_source"),
    # length ratio
    ("The cat sleeps on the warm sofa in the living room today and every day of the week.", "Die Katze.", "de", "length_ratio"),
    # degenerate repetition
    ("Please tell me a short story about a brave little dog who saves his village from a flood.",
     "Bitte erzähl mir eine Geschichte Geschichte " + "über den Hund über den Hund " * 8, "de", "degenerate_repetition"),
    # numbers
    ("I bought 12 apples and 3 pears for 4.50 euros.", "Ich kaufte 12 Äpfel und 5 Birnen für 4,50 Euro.", "de", "numbers_mismatch"),
    ("I bought 12 apples and 3 pears for 4.50 euros.", "Ich kaufte 12 Äpfel und 3 Birnen für 4,50 Euro.", "de", None),
    # structure
    ("Send the report to {name} at https://example.org/report today.",
     "Schicke den Bericht heute an {name} unter example.org.", "de", "structure_mismatch"),
    ("Run `make test` before you push.", "Führe vor dem Push `make test` aus.", "de", None),
    ("Hi", "", "de", "empty_translation"),
])
def test_qc_checks(src, tgt, lang, reason):
    got, row = _qc(src, tgt, lang)
    assert got == reason, row
    assert row["qc_length_ratio"] > 0


def test_qc_short_texts_skip_lid_and_similarity_optional():
    reason, row = _qc("Yes.", "Sí.", "de")  # too short to judge the language
    assert reason is None and row["qc_lid_lang"] is None
    src = "The weather in Berlin is sunny and warm today."
    good, row = _qc(src, "Das Wetter in Berlin ist heute sonnig und warm.", "de", similarity=True, min_similarity=0.5)
    assert good is None and row["qc_similarity"] > 0.5
    bad, row = _qc(src, "Mein Bruder repariert morgen das alte Fahrrad im Keller.", "de",
                   similarity=True, min_similarity=0.5)
    assert bad == "low_similarity" and row["qc_similarity"] < 0.5
