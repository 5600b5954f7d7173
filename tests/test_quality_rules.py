"""The fineweb2 profile's own rules (issue #15): stop words counted as distinct words, Guiraud word
diversity against keyword lists, line-share checks per sentence on documents without line structure."""
import random

import pyarrow as pa
import pytest

from xcurate.stages.quality import (LanguageSettings, QualityParams, QualityStage, count_stop_words, line_units,
                                    word_diversity)

PROSE = ("The committee met on Tuesday to discuss the budget. Several members asked for more time, "
         "and the chair agreed to postpone the vote until the next session. In the meantime, the staff "
         "will prepare a summary of the options and send it to every member before the end of the month. "
         "The final decision is expected in spring, after the public hearings have taken place: Jane Doe, chair")


@pytest.fixture(scope="module")
def stage():
    return QualityStage(QualityParams(profile="fineweb2"))


def reasons(stage, texts, language="eng_Latn"):
    return stage(pa.table({"text": texts, "language": [language] * len(texts)})).drop_reason.to_pylist()


def test_stop_words_counted_distinct_or_per_occurrence():
    words = ["the", "cat", "the", "dog"]
    assert count_stop_words(words, ["the", "of"], "distinct") == 1
    assert count_stop_words(words, ["the", "of"], "occurrences") == 2
    with pytest.raises(ValueError, match="stop_words_count"):
        count_stop_words(words, ["the"], "unique")


def test_word_diversity_separates_keyword_lists_from_prose():
    keywords = ("cheap flights paris hotel deals cheap hotel paris flights deals " * 12).split()
    assert word_diversity(keywords) < 1
    assert word_diversity(PROSE.split()) > 4
    assert word_diversity([".", ","]) == 0.0


def test_one_line_documents_are_measured_per_sentence():
    assert line_units([PROSE], 3)[-1] == "The final decision is expected in spring, after the public hearings " \
                                         "have taken place: Jane Doe, chair"
    assert len(line_units([PROSE], 3)) == 4
    assert line_units(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert line_units([PROSE], 0) == [PROSE]


def test_prose_kept_keyword_list_and_menu_dropped(stage):
    rng, keywords = random.Random(0), ["cheap", "flights", "paris", "hotel", "the", "and"]
    keyword_list = ", ".join(" ".join(rng.sample(keywords, rng.randint(1, 3))) for _ in range(60))  # no n-gram repeats much
    menu = "\n".join(["Home", "About us", "Products", "Contact", "Login"] * 6)
    got = reasons(stage, [PROSE, PROSE.rstrip(", chair") + "...", keyword_list, menu])
    assert got[:2] == [None, None]
    assert got[2] == "gopher_repetition:low_word_diversity"
    assert got[3] is not None


def test_datatrove_defaults_keep_datatrove_semantics():
    settings = LanguageSettings(profile="datatrove_defaults").get("eng_Latn", "Latn")
    assert settings["gopher_quality"]["stop_words_count"] == "distinct"
    assert not settings["gopher_repetition"].get("min_word_diversity")
    assert not settings["fineweb_quality"].get("sentence_units_below_lines")


def _reference_top_ngram_chars(words, n):
    """datatrove's GopherRepetitionFilter.find_top_duplicate, with words joined by spaces."""
    from collections import Counter
    gram, count = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)[0]
    return len(" ".join(gram)) * count


def _reference_duplicated_ngram_chars(words, n):
    """datatrove's find_all_duplicate, position by position."""
    seen, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = tuple(words[idx:idx + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


def test_ngram_ids_give_datatrove_repetition_figures_exactly():
    """The numpy n-gram path (DocWords) against the tuple-by-tuple definitions, on word lists from a small
    vocabulary (many repeats, overlapping repeats, ties) and on prose; each document alone and in one batch
    (BatchWords: no n-gram may count words of a neighbouring document)."""
    from itertools import accumulate
    from xcurate.stages.quality import BatchWords, DocWords, duplicated_ngram_chars, top_ngram_chars
    rng = random.Random(7)
    cases = [PROSE.split(), ["a"] * 12, [], ["a", "b"] * 7 + ["a"], ["x"], [], ["a"] * 3]
    cases += [[rng.choice(["a", "bb", "ccc", "d", "ee"][:rng.randint(1, 5)]) for _ in range(rng.randint(0, 60))]
              for _ in range(400)]
    batch = BatchWords(cases)
    for index, words in enumerate(cases):
        prefix = [0, *accumulate(map(len, words))]
        for grams in (DocWords.of(words), batch.doc(index)):
            for n in range(2, 11):
                if len(words) >= n:
                    assert top_ngram_chars(words, n, "always", grams) == _reference_top_ngram_chars(words, n), \
                        (words, n)
                assert duplicated_ngram_chars(words, n, prefix, grams) == _reference_duplicated_ngram_chars(words, n)
                assert grams.repeats(n) == (len(set(zip(*(words[i:] for i in range(n))))) <
                                            max(len(words) - n + 1, 0))
