"""Word splitting per script, dominant script, sentence counting (stages/_text.py)."""
import pytest
from xcurate.text.words import (count_sentences, dominant_script, dominant_scripts, quality_words, script_fractions,
                          split_words)


def test_split_words_keeps_its_contract():
    assert split_words("Hello, world! 中文") == ["Hello", "world", "中", "文"]


def test_quality_words_follow_spacy_rules():
    words = quality_words("Edison@ENRON 06/02/2001 10:53 well-known e.g. U.S. end.The 3.5 x...")
    assert words == ["Edison@ENRON", "06/02/2001", "10:53", "well", "-", "known", "e.g", ".", "U.S.",
                     "end", ".", "The", "3.5", "x", "..."]


def test_profiles_english_contractions_and_german_compounds():
    assert quality_words("I can't do that's", "en") == ["I", "ca", "n't", "do", "that", "'s"]
    assert quality_words("CDU-Obmann und talous-", "de") == ["CDU-Obmann", "und", "talous-"]
    assert quality_words("CDU-Obmann") == ["CDU", "-", "Obmann"]


def test_no_space_scripts_are_split_into_characters():
    assert quality_words("我们是学生。ภาษาไทย") == ["我", "们", "是", "学", "生", "。", "ภ", "า", "ษ", "า", "ไ", "ท", "ย"]


def test_dominant_script_is_computed_from_letters():
    assert dominant_scripts(["Привет, мир! hello", "日本語のテキストです", "中文文本", "שלום עולם", "123 !!", ""]) == \
        ["Cyrl", "Jpan", "Hani", "Hebr", "Zyyy", "Zyyy"]
    assert dominant_script("ಕನ್ನಡ ಭಾಷೆ") == "Knda"


def test_mixed_script_fractions():
    fr = script_fractions("Москва Moscow Moskau")
    assert set(fr) == {"Cyrl", "Latn"} and abs(fr["Latn"] - 12 / 18) < 1e-9


def test_lone_surrogates_do_not_break_script_detection():
    assert dominant_scripts(["abc\ud800def", "абв"]) == ["Latn", "Cyrl"]


def test_count_sentences_like_spacy_sentencizer():
    assert count_sentences('Hello world. This is it! "Yes." Ok') == 4
    assert count_sentences("No boundary at the end.") == 1
    assert count_sentences("Dr. A. Smith went home") == 2  # "Dr" "." splits (no abbreviation list), "A." does not
    assert count_sentences("") == 0
    assert count_sentences("这是一句。这是第二句。") == 2


def test_word_tokenizer_matches_datatrove_spacy_tokens_per_language():
    """spacy engine = datatrove's own spaCy tokenizer for the language (memoised per chunk), incl. the
    per-language punctuation rules a regex cannot follow."""
    from datatrove.utils.word_tokenizers import load_word_tokenizer
    from xcurate.text.words import SpacyChunkTokenizer, word_tokenizer
    samples = {
        "hye_Armn": "Նա ասաց՝ ի՞նչ ես անում։ 2010-ին ԱՄՆ-ի դեսպանը։",
        "rus_Cyrl": "В 1990-х гг. он жил в г. Москве (2-го числа) &#39;&#39;Зенит&#39;&#39;.",
        "heb_Hebr": 'צה"ל ו"כלניות" ב־19 דו"ח.',
        "fin_Latn": "N:o 5 EU:n esim. 30–49-vuotiaita, ettei mutt.",
        "eng_Latn": "I can't do that's it... U.S. e.g. gonna",
    }
    for language, text in samples.items():
        tokenizer = word_tokenizer(language, "spacy")
        assert isinstance(tokenizer, SpacyChunkTokenizer)
        expected = load_word_tokenizer(language).word_tokenize(text)
        assert tokenizer(text) == expected, language
        assert tokenizer(text) == expected  # second call served from the memo
    assert tokenizer is word_tokenizer("eng_Latn", "spacy")  # one per spaCy language per process


def test_word_tokenizer_falls_back_to_memoised_regex_profiles():
    from xcurate.text.words import RegexChunkTokenizer, word_tokenizer
    text = "Edison@ENRON 06/02/2001 -x 3 -4 U.S. e.g. 我们是学生。 I can't"
    text += " Ωμέγα naïve ʻokina Москва 한국어 日本語 ไทย Latin日本 cafe\u0301"  # letter-only chunks skip the regex
    text += ' ("Ab". xA. wordy.. (Москва), "word",) 日本, Done!? A. well.)'  # so do words in plain punctuation
    for language, engine, profile in [("xyz_Latn", "auto", "default"), ("eng_Latn", "regex", "en"),
                                      ("eng_Latn", "auto", "en"), ("fra_Latn", "auto", "default"),
                                      (None, "auto", "de"), ("cmn_Hani", "auto", "default"),
                                      ("xyz_Latn", "spacy", "default")]:
        tokenizer = word_tokenizer(language, engine, profile)
        assert isinstance(tokenizer, RegexChunkTokenizer)  # auto never loads spaCy (start-up per language)
        assert tokenizer(text) == quality_words(text, profile) == quality_words(text, tokenizer)
    with pytest.raises(ValueError, match="tokenizer.engine"):
        word_tokenizer("eng_Latn", "spacey")


def test_python_letters_are_regex_letters_and_never_punctuation():
    """The fast paths of the regex tokenizer (a chunk of letters is one word) and of the quality stage's word
    classes (a word of letters has a letter, is no punctuation) take str.isalpha() characters for \\p{L}."""
    import sys
    import regex
    from datatrove.utils.text import PUNCTUATION_SET
    letters = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isalpha())
    assert len(letters) > 100_000
    assert regex.sub(r"\p{L}", "", letters) == ""
    assert not set(letters) & set(PUNCTUATION_SET)


# Combining marks belong to their word in every script: vowel signs of abugidas, Hebrew/Arabic points,
# Vietnamese tone marks, decomposed Latin. (script: text, expected split_words tokens)
MARKED_WORDS = {
    "Deva": ("किताब पढ़िए", ["किताब", "पढ़िए"]),
    "Beng": ("আমি বাংলায় গান গাই", ["আমি", "বাংলায়", "গান", "গাই"]),
    "Taml": ("தமிழ் மொழி", ["தமிழ்", "மொழி"]),
    "Ethi": ("ሰላም ለዓለም", ["ሰላም", "ለዓለም"]),
    "Hebr": ("שָׁלוֹם עוֹלָם", ["שָׁלוֹם", "עוֹלָם"]),
    "Arab": ("مَرْحَبًا بِكُمْ", ["مَرْحَبًا", "بِكُمْ"]),
    "Latn-vi": ("Tiếng Việt", ["Tiếng", "Việt"]),
    "Latn-NFD": ("cafe\u0301 nai\u0308ve", ["cafe\u0301", "nai\u0308ve"]),
    "Thai": ("ที่นี่", ["ที่", "นี่"]),           # characters, each with its vowel/tone marks
    "Mymr": ("မြန်မာ", ["မြ", "န်", "မာ"]),
    "Khmr": ("ក្សា", ["ក្", "សា"]),
}


def test_split_words_keeps_combining_marks_in_every_script():
    import polars as pl
    from xcurate.text.words import TOKEN_PATTERN
    for script, (text, expected) in MARKED_WORDS.items():
        assert split_words(text) == expected, script
        assert pl.Series([text]).str.extract_all(TOKEN_PATTERN).to_list()[0] == expected, script  # polars = Python
        assert "".join(quality_words(text)) == text.replace(" ", ""), script  # no mark lost or split off


def test_normalisation_strips_diacritics_but_never_abugida_vowel_signs():
    import polars as pl
    from xcurate.dedup.signatures import NormConfig, normalize_series
    from xcurate.text.normalize import strip_diacritics
    assert strip_diacritics("Café Ёлка Việt naı̈ve") == "Cafe Елка Viet naıve"
    assert strip_diacritics("שָׁלוֹם مَرْحَبًا") == "שלום مرحبا"
    for kept in ("किताब का कि", "আমি বাংলায়", "ที่นี่", "မြန်မာ", "தமிழ்", "ሰላም"):
        assert strip_diacritics(kept) == kept
    assert strip_diacritics("का") != strip_diacritics("कि")  # two Hindi words stay two words
    texts = ["Café किताब का कि ภาษาไทย Việt 2024"]
    assert normalize_series(pl.Series(texts), NormConfig()).to_list() == [
        strip_diacritics(texts[0]).lower().replace("2024", "0")]


def test_zero_width_space_separates_words_in_quality_tokens():
    assert quality_words("abc\u200bdef") == ["abc", "def"]


def test_dictionary_splitters_for_korean_and_thai_like_datatrove():
    from xcurate.text.words import DictionaryChunkTokenizer, word_tokenizer
    korean = word_tokenizer("kor_Hang")
    assert isinstance(korean, DictionaryChunkTokenizer)
    assert korean("나는 학교에 갔다.")[:4] == ["나", "는", "학교", "에"]  # morphemes, as Kiwi/datatrove
    thai = word_tokenizer("tha_Thai")
    assert thai("ภาษาไทยเป็นภาษาราชการ") == ["ภาษาไทย", "เป็น", "ภาษาราชการ"]
    assert word_tokenizer("kor_Hang") is korean  # loaded once per process, shared


def test_armenian_in_word_marks_stay_inside_the_word():
    """՛ ՜ ՞ mark emphasis, exclamation and question on a vowel inside the word (spaCy keeps the word whole);
    the comma-like ՝ and the full stop ։ after a word are tokens of their own."""
    words = quality_words("Ուզու՞մ ես պատմե՞լ, ո՜վ ասաց՝ լա՛վ։")
    assert words == ["Ուզու՞մ", "ես", "պատմե՞լ", ",", "ո՜վ", "ասաց", "՝", "լա՛վ", "։"]


def test_light_kiwi_splits_korean_as_datatrove_default_kiwi(shared_data):
    """The splitter loads Kiwi without its typo and multi-word dictionaries (seconds of start-up per worker);
    chunk by chunk that gives the morphemes of datatrove's default Kiwi()."""
    import gzip
    import json
    from kiwipiepy import Kiwi
    from xcurate.text.words import word_tokenizer
    with gzip.open(shared_data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        korean = [r["text"] for r in map(json.loads, f) if r["lang"] == "kor_Hang"][:300]
    chunks = sorted({c for text in korean for c in text.split()})
    assert len(chunks) > 3000
    default = Kiwi()
    expected = [[c[t.start:t.end] for t in toks] for c, toks in zip(chunks, default.tokenize(chunks))]
    splitter = word_tokenizer("kor_Hang")
    assert [splitter(c) for c in chunks] == expected


def test_regex_tokenizer_fast_paths_equal_the_regex_on_every_flores_language(shared_data):
    """The memoised tokenizer skips the profile regex for plain words (letters, marks, digits) and words in plain
    punctuation; on every language of FLORES-200 (every 8th sentence) its tokens must be the regex's, per profile."""
    import gzip
    import json
    from xcurate.text.words import TOKENIZER_PROFILES, RegexChunkTokenizer
    with gzip.open(shared_data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        sentences = [json.loads(line)["text"] for i, line in enumerate(f) if i % 8 == 0]
    chunks = sorted({c for s in sentences for c in s.split()})
    chunks += ["U.", "A.", "Ω.", "ए.", "(1965).", "wordy..", "x।", "¿Qué", "«Москва»,", "ሰላም።", "-4", "3-4", "e.g."]
    assert len(chunks) > 100_000
    for profile in TOKENIZER_PROFILES:
        tokenizer = RegexChunkTokenizer(profile)
        fast = tokenizer.tokenize_chunks(chunks)
        expected = list(map(tuple, map(TOKENIZER_PROFILES[profile].findall, chunks)))
        differing = [(c, f, e) for c, f, e in zip(chunks, fast, expected) if f != e]
        assert not differing, (profile, differing[:5])
