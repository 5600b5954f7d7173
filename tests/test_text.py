"""Word splitting per script, dominant script, sentence counting (stages/_text.py)."""
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
    """auto engine = datatrove's own spaCy tokenizer for the language (memoised per chunk), incl. the
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
        tokenizer = word_tokenizer(language)
        assert isinstance(tokenizer, SpacyChunkTokenizer)
        expected = load_word_tokenizer(language).word_tokenize(text)
        assert tokenizer(text) == expected, language
        assert tokenizer(text) == expected  # second call served from the memo
    assert tokenizer is word_tokenizer("eng_Latn")  # one per spaCy language per process


def test_word_tokenizer_falls_back_to_memoised_regex_profiles():
    from xcurate.text.words import RegexChunkTokenizer, word_tokenizer
    text = "Edison@ENRON 06/02/2001 -x 3 -4 U.S. e.g. 我们是学生。 I can't"
    for language, engine, profile in [("xyz_Latn", "auto", "default"), ("eng_Latn", "regex", "en"),
                                      (None, "auto", "de"), ("cmn_Hani", "auto", "default")]:
        tokenizer = word_tokenizer(language, engine, profile)
        assert isinstance(tokenizer, RegexChunkTokenizer)
        assert tokenizer(text) == quality_words(text, profile) == quality_words(text, tokenizer)
