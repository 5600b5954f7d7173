"""Per-language and per-script causes of false drops fixed for issue #15: apostrophe-like letters inside
words (Uzbek, Hawaiian, Guarani, Malagasy), n-gram repetition measured in the characters scripts without
spaces really use (Chinese, Japanese), stop-word lists that hold only words, stop words matched without
optional vowel marks (Arabic script), and the data rule that turns an unusable list down or off (checked on
reference text, recorded in the settings file)."""
import polars as pl
import pyarrow as pa
import pytest

from bench.build_fineweb2_settings import MIN_STOP_WORD_COVERAGE, checked_stop_words, shortest_documents
from bench.quality_eval import is_clean_document
from xcurate.resources import data_path
from xcurate.stages.quality import (LanguageSettings, QualityParams, QualityStage, count_stop_words,
                                    top_ngram_chars)
from xcurate.text.words import TOKEN_PATTERN, quality_words, split_words

APOSTROPHE_WORDS = {  # language: text, the words it must split into
    "uzn_Latn": ("O‘zbek tili gʻoyat boy, o'zbekcha va o`zbekcha yoziladi.",
                 ["O‘zbek", "tili", "gʻoyat", "boy", "o'zbekcha", "va", "o`zbekcha", "yoziladi"]),
    "haw_Latn": ("ʻŌlelo Hawaiʻi a me Hawai‘i", ["ʻŌlelo", "Hawaiʻi", "a", "me", "Hawai‘i"]),
    "grn_Latn": ("Ha'e he'i avañe'ẽ", ["Ha'e", "he'i", "avañe'ẽ"]),
    "plt_Latn": ("amin'ny tanàna tamin’ny taona", ["amin'ny", "tanàna", "tamin’ny", "taona"]),
}


@pytest.mark.parametrize("language", sorted(APOSTROPHE_WORDS))
def test_apostrophe_like_letters_stay_inside_words(language):
    text, words = APOSTROPHE_WORDS[language]
    assert split_words(text) == words
    assert pl.Series([text]).str.extract_all(TOKEN_PATTERN).to_list()[0] == words  # the Rust (dedup) path
    assert [w for w in quality_words(text) if w not in ",."] == words
    assert split_words("'quoted' words") == ["quoted", "words"]  # a quote mark is no letter


def test_top_ngram_counts_only_the_spaces_the_text_has():
    chinese = list("中华人民共和") * 3
    assert top_ngram_chars(chinese, 6, "text") == 6 * 3
    assert top_ngram_chars(chinese, 6, "always") == 11 * 3  # datatrove's "".join(" ") of character tokens
    japanese = list("東京へ") + ["Tokyo", "Station"]
    assert top_ngram_chars(japanese, 5, "text") == len("東京へ") + 1 + len("Tokyo Station")
    english = "the cat sat on the mat".split()
    assert top_ngram_chars(english, 2, "text") == top_ngram_chars(english, 2, "always") == len("the cat")
    with pytest.raises(ValueError, match="top_n_gram_spaces"):
        top_ngram_chars(english, 2, "never")


CHINESE = ("中华人民共和国成立于一九四九年，首都设在北京。\n今天的中华人民共和国人口超过十四亿，经济规模位居世界前列。\n"
           "学者们研究中华人民共和国的历史时，常常从土地改革和工业化谈起。\n在对外关系方面，中华人民共和国与许多国家建立了外交关系。\n"
           "近年来，中华人民共和国也在科技创新、环境保护和教育方面投入了大量资源。\n"
           "城市化进程加快，越来越多的农村居民搬到沿海城市工作和生活。与此同时，西部地区的基础设施建设也取得了明显进展，"
           "铁路和公路把偏远的山区与大城市连接起来。")


def test_chinese_prose_naming_its_subject_five_times_is_kept():
    def reason(spaces):
        stage = QualityStage(QualityParams(overrides={"gopher_repetition": {"top_n_gram_spaces": spaces}}))
        return stage(pa.table({"text": [CHINESE], "language": ["cmn_Hani"]})).drop_reason.to_pylist()[0]
    assert reason("text") is None  # the shipped default
    assert reason("always") == "gopher_repetition:top_6_gram"  # 7 characters + 6 spaces that are not there
    assert LanguageSettings().get("cmn_Hani", "Hani")["gopher_repetition"]["top_n_gram_spaces"] == "text"
    assert LanguageSettings(profile="datatrove_defaults").get("cmn_Hani", "Hani")["gopher_repetition"] \
        .get("top_n_gram_spaces", "always") == "always"


@pytest.mark.parametrize("language", ["cmn_Hani", "arb_Arab", "ary_Arab", "jpn_Jpan"])
def test_stop_word_lists_hold_only_words(language):
    stop_words = LanguageSettings().get(language, language.split("_")[1])["gopher_quality"]["stop_words"]
    assert stop_words and all(any(c.isalpha() for c in w) for w in stop_words)


def test_other_language_text_fails_the_chinese_stop_word_check():
    english = ("The committee met on Tuesday to discuss the budget, and several members asked for more time. "
               "The chair agreed to postpone the vote until the next session of the council in spring. "
               "Meanwhile, staff will prepare a summary of the options and send it to every member before "
               "the end of the month, so that the public hearings can begin as planned in early April.")
    stage = QualityStage(QualityParams())
    assert stage(pa.table({"text": [english], "language": ["cmn_Hani"]})).drop_reason.to_pylist() == \
        ["gopher_quality:gopher_enough_stop_words"]


def read_header(language):
    return "".join(line for line in open(data_path("languages", "quality", f"{language}.yaml"), encoding="utf-8")
                   if line.startswith("#"))


@pytest.mark.parametrize("language,expected", [("mhr_Cyrl", 0), ("kaz_Cyrl", 1), ("rus_Cyrl", 2), ("knc_Arab", 2)])
def test_unusable_stop_word_lists_are_turned_down_and_recorded(language, expected):
    settings = LanguageSettings().get(language, language.split("_")[1])["gopher_quality"]
    assert settings["min_stop_words"] == expected and settings["stop_words"]
    header = read_header(language)
    assert ("stop-word check OFF" in header) == (expected == 0)
    assert "reference documents" in header and "rule: min_stop_words is the largest of 2, 1" in header


def test_arabic_script_stop_words_match_with_or_without_vowel_marks():
    vocalised, bare = ["كُرُ", "لَنْ", "أَمْ"], ["كر", "لن", "هالا"]
    assert count_stop_words(bare, vocalised, "distinct") == 0
    assert count_stop_words(bare, vocalised, "distinct", ignore_marks=True) == 2
    assert count_stop_words(["كُرُ", "كر"], ["كر"], "occurrences", ignore_marks=True) == 2
    assert LanguageSettings().get("knc_Arab", "Arab")["gopher_quality"]["stop_words_ignore_marks"] is True
    assert LanguageSettings().get("hin_Deva", "Deva")["gopher_quality"].get("stop_words_ignore_marks", False) is False


def test_stop_word_rule_decides_from_reference_text():
    def tokenize(text):
        return text.split()
    prose = [f"w{i} and the x{i} y{i}" for i in range(200)]  # "and" + "the" in every 5-word sentence
    extra, coverage, docs, _ = checked_stop_words(["and", "the"], [], prose, tokenize, "distinct")
    assert extra == [] and docs == len(shortest_documents(prose, tokenize)) and coverage == {2: 1.0, 1: 1.0}
    half = [f"w{i} and x{i} y{i} z{i}" if i % 2 else f"w{i} the x{i} y{i} z{i}" for i in range(400)]
    _, coverage, _, _ = checked_stop_words(["and", "the"], [], half, tokenize, "distinct")
    assert coverage[2] >= MIN_STOP_WORD_COVERAGE  # 10 sentences of 5 words per 50-word document: both occur
    _, coverage, _, _ = checked_stop_words(["xyz"], [], prose, tokenize, "distinct")
    assert coverage == {2: 0.0, 1: 0.0}
    extra, coverage, _, reference = checked_stop_words([], prose, [], tokenize, "distinct")
    assert {"and", "the"} <= set(extra) and coverage[2] == 1.0 and reference.startswith("FLORES")


def test_clean_documents_of_scripts_without_spaces_need_twice_the_character_tokens():
    sentence = "研究人员今天发表了一项新的研究。"  # 15 characters
    assert not is_clean_document(sentence * 4)  # 60 characters: about 30 words
    assert is_clean_document(sentence * 7)
    assert is_clean_document("Short clean sentence here. " * 13)
