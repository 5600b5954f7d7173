"""Convert FineWeb-2's per-language filter settings into xcurate's (run by hand, never at run time).

Input: ``../shared/data/quality/fineweb2_configs.tar.gz`` (FineWeb-2's ``configs/{lang}_{Script}.yml``,
Apache-2.0). Output:

* ``quality/<lang_Script>.yaml``: FineWeb-2's fitted thresholds mapped onto our filters with the
  meaning ``fineweb-2-pipeline.py`` gives them (``dup_line_frac``, ``top_n_grams``, ``dup_n_grams`` ->
  ``gopher_repetition``; ``line_punct_thr``, ``new_line_ratio`` -> ``fineweb_quality``;
  ``min/max_avg_word_length``, ``max_non_alpha_words_ratio``, ``stopwords`` (with ``min_stop_words: 2``)
  -> ``gopher_quality``). The pipeline's fixed values (paragraph/char-fraction repetition checks and the
  short-line check off, ``char_duplicates_ratio`` 0.1, no C4) live in ``quality/_default.yaml``.
  Stop words: FineWeb-2's (its most frequent words, skewed to the templated pages of small languages,
  e.g. Tatar "климаты", Telugu "గ్రామం", Kazakh "өзен" 'river': on ordinary prose of 50-100 words few
  of them occur) plus spaCy's curated stop words of the same language (its ISO 639-1 code) plus the
  ``N_FLORES_STOP_WORDS`` words found in the most sentences of FLORES-200 devtest's first
  ``FLORES_FIT_SENTENCES`` sentences (edited news/travel/wiki prose, CC-BY-SA-4.0; the rule of
  ``xcurate calibrate-quality``): function words of the language, which
  FineWeb-2's "at least 2 stop words" check needs. Only words (with a letter) are kept. ``min_stop_words``
  is then decided from data (``with_checked_stop_words``): 2, else 1, else 0 (check off), the largest that lets
  >= ``MIN_STOP_WORD_COVERAGE`` of the language's reference documents of 50 words pass (FLORES two-fold: words
  picked on one half, coverage on the other; for languages FLORES lacks, Tatoeba's even sentences); each
  file's header records the measurement. Arabic, Hebrew and Syriac match stop words without optional vowel
  marks (``_scripts/``). ``bench/quality_eval.py`` evaluates FLORES on the other sentences only and Tatoeba
  on its odd sentences; its UD and instruction documents are held out from this fit.
  Stop words are kept only in the language's script (``in_script``); for optional-mark scripts the FLORES words are
  counted without marks. Noise thresholds of a language FineWeb-2 had < ``MIN_DOCUMENTS`` training documents of are
  made no looser than its script's median (``SMALL_CORPUS_FLOORS``, noted in the header). A language FLORES-200 has
  and FineWeb-2 lacks gets a file with stop words only, by the same FLORES rule (``write_flores_only``).
  Korean and Thai are split with FineWeb-2's dictionary splitters (Kiwi, pythainlp) and keep every
  setting. Other scripts written without spaces are split into characters (``xcurate.text.words``),
  so their word-length and n-gram thresholds (fitted on dictionary words) are left to
  ``quality/_scripts/`` and only stop words that are one character token are kept.
* ``quality/_scripts/<Script>.yaml`` for spaced scripts: the median of FineWeb-2's values over the
  languages of that script with at least ``MIN_DOCUMENTS`` training documents (most of FineWeb-2's 1,900
  languages are Bible-sized, their thresholds loose or off), the settings of a language FineWeb-2 does
  not cover (no stop-word check).
* ``lid_thresholds/glotlid.yaml``: FineWeb-2's ``language_score`` minimum per language (GlotLID scores).

Run: ``.venv/bin/python bench/build_fineweb2_settings.py`` (a few seconds).
"""
from __future__ import annotations

import csv
import gzip
import importlib
import importlib.util
import json
import statistics
import sys
import tarfile
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from xcurate.resources import shared_data_dir
from xcurate.stages.langid import load_label_table
from xcurate.text.words import (NO_SPACE_SCRIPT_CODES, dictionary_splitter_for, dominant_script, quality_words,
                                spacy_language_for)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.quality_eval's Tatoeba labels
HERE = Path(__file__).resolve().parents[1] / "configs" / "languages"
QUALITY_DIR = HERE / "quality"
ORIGIN = "huggingface/fineweb-2 @ d0defb24f193bb9a5a11b8b14524a03c4858e1b6 (Apache-2.0)"
# Codes our langid stage emits (lid.176 table, FLORES-200) -> the code FineWeb-2 files the language under.
OUR_CODES = {"est_Latn": "ekk_Latn", "pes_Arab": "fas_Arab", "prs_Arab": "fas_Arab", "grn_Latn": "gug_Latn",
             "tgl_Latn": "fil_Latn", "aka_Latn": "twi_Latn", "kon_Latn": "kng_Latn", "pus_Arab": "pbt_Arab",
             "ajp_Arab": "apc_Arab", "hbs_Latn": "hrv_Latn"}
# FLORES-200 codes -> ours (macro-language codes folded as in bench/quality_eval.py).
FLORES_CODES = {"zho_Hans": "cmn_Hani", "zho_Hant": "cmn_Hani", "yue_Hant": "yue_Hani"}
# Hand-written settings that FineWeb-2 (non-English) cannot provide.
HAND_WRITTEN = {"eng_Latn"}
MIN_DOCUMENTS = 10_000
# FLORES-200 devtest sentences 0..FLORES_FIT_SENTENCES-1 fit stop words; quality_eval uses the rest.
FLORES_FIT_SENTENCES = 506
N_FLORES_STOP_WORDS = 20
# A stop-word list is used only where it lets >= MIN_STOP_WORD_COVERAGE of the language's reference documents
# of STOP_WORD_CHECK_WORDS words pass (checked_stop_words); below it FineWeb-2's lists are words of the pages they
# were counted on (Meadow Mari "марий", "республики") or miss the language's other spelling (Kanuri written with
# and without vowel marks), and the check would drop the language's ordinary prose. 99%, not 95%: the reference
# is one register (FLORES: news, wiki, travel); text of fewer function words (conversation, grammar examples,
# agglutinative languages) passes less often than its reference (UD Telugu: 5 of 89 documents dropped at a
# reference coverage of 98.2% for 2 stop words), so a list must cover the reference with a margin to be strict.
MIN_STOP_WORD_COVERAGE = 0.99
STOP_WORD_CHECK_WORDS = 50
MIN_REFERENCE_DOCUMENTS = 10
# Scripts whose vowel marks are optional (Arabic harakat, Hebrew niqqud, Syriac): stop words match without them.
OPTIONAL_MARK_SCRIPTS = ("Arab", "Hebr", "Syrc")
# Sentence ends typed with another character: the Armenian full stop "։" is commonly written ":".
EXTRA_STOP_CHARS = {"Armn": [":"]}
# Noise checks whose FineWeb-2 value, for a language FineWeb-2 had fewer than MIN_DOCUMENTS training documents of,
# is made no looser than its script's median (to_sections' ``floor``): a quantile fitted on a few hundred pages is a
# quantile of whatever noise they hold (Tamasheq: 442 documents, alpha-word share 0.621 against Latin's 0.788, so
# two symbol tokens in five pass). Direction: the value that lets more text pass. Word-length bounds stay fitted:
# they describe the language (long words of agglutinative languages), not noise.
SMALL_CORPUS_FLOORS = {("gopher_quality", "max_non_alpha_words_ratio"): max,
                       ("fineweb_quality", "line_punct_thr"): max,
                       ("fineweb_quality", "new_line_ratio"): min,
                       ("gopher_repetition", "dup_line_frac"): min}
MEDIAN_KEYS = {"gopher_repetition": ("dup_line_frac",), "fineweb_quality": ("line_punct_thr", "new_line_ratio"),
               "gopher_quality": ("min_avg_word_length", "max_avg_word_length", "max_non_alpha_words_ratio")}


def read_fineweb2(archive: Path) -> dict:
    """{lang_Script: FineWeb-2 config dict}."""
    configs = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".yml"):
                configs[Path(member.name).stem] = yaml.safe_load(tar.extractfile(member))
    return configs


def spacy_stop_words(language: str) -> list:
    """spaCy's curated stop words for ``language`` (its ISO 639-1 code and script), whatever tokenizer
    datatrove uses for it: function words, independent of the pages FineWeb-2 counted words on."""
    code3, script = language.split("_")
    lid176 = load_label_table()  # ISO 639-1 -> (ISO 639-3, script): spaCy's codes are ISO 639-1
    codes = [c for c, (c3, s, _) in lid176.items() if c3 == code3 and s == script and len(c) == 2]
    fallback = spacy_language_for(language)  # datatrove may tokenize a language with a relative's rules
    if fallback in lid176 and lid176[fallback][0] == code3:
        codes.append(fallback)
    for code in codes:
        if importlib.util.find_spec(f"spacy.lang.{code}") and \
                importlib.util.find_spec(f"spacy.lang.{code}.stop_words"):
            module = importlib.import_module(f"spacy.lang.{code}.stop_words")
            return sorted(w for w in module.STOP_WORDS if w == w.strip())
    return []


def flores_fit_sentences(data_dir: Path, languages) -> dict:
    """{lang_Script: FLORES-200 devtest sentences 0..FLORES_FIT_SENTENCES-1} (FLORES codes folded onto ours)."""
    wanted, sentences = set(languages), defaultdict(list)
    with gzip.open(data_dir / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            lang = FLORES_CODES.get(r["lang"], r["lang"])
            if lang in wanted and int(r["parallel_id"]) < FLORES_FIT_SENTENCES:
                sentences[lang].append(r["text"])
    return sentences


def tatoeba_fit_sentences(data_dir: Path, languages) -> dict:
    """{lang_Script: Tatoeba's even-numbered sentences} (``bench/quality_eval.py`` scores the odd ones), labelled
    as the evaluation labels them."""
    from bench.quality_eval import is_tatoeba_fit_sentence, tatoeba_sentences
    wanted = set(languages)
    return {lang: [t for i, t in pairs if is_tatoeba_fit_sentence(i)]
            for lang, pairs in tatoeba_sentences(data_dir).items() if lang in wanted}


def top_document_words(texts, tokenize, n: int = N_FLORES_STOP_WORDS, ignore_marks: bool = False) -> list:
    """The ``n`` alphabetic words found in the most texts (ties: alphabetical, so the files are reproducible).
    ``ignore_marks``: counted without optional vowel marks, as the check matches them (Kanuri in Arabic script is
    written both vocalised, كُرُ, and plene, كورو: counted with marks, one word's spellings split its count and
    take several of the n places)."""
    from xcurate.stages.quality import without_marks
    normal = without_marks if ignore_marks else (lambda w: w)
    doc_freq = Counter(w for t in texts for w in {normal(w) for w in quality_words(t, tokenize)}
                       if any(c.isalpha() for c in w))
    return [w for w, _ in sorted(doc_freq.items(), key=lambda item: (-item[1], item[0]))[:n]]


def shortest_documents(sentences, tokenize, min_words: int = STOP_WORD_CHECK_WORDS) -> list:
    """Consecutive sentences joined into documents of just over ``min_words`` words (the shortest documents the
    filters accept: the hardest case for "at least 2 stop words"), each as its word list."""
    docs, words = [], []
    for sentence in sentences:
        words += quality_words(sentence, tokenize)
        if len(words) >= min_words:
            docs.append(words)
            words = []
    return docs


def stop_word_coverage(docs, stop_words, min_stop_words: int, how: str, ignore_marks: bool = False) -> float:
    """Share of ``docs`` (word lists) with at least ``min_stop_words`` stop words."""
    from xcurate.stages.quality import count_stop_words
    return sum(count_stop_words(words, stop_words, how, ignore_marks) >= min_stop_words
               for words in docs) / max(len(docs), 1)


def checked_stop_words(base_list, flores, tatoeba, tokenize, how: str, ignore_marks: bool = False):
    """(FLORES words added to the list, {min_stop_words: coverage} for 2 and 1, reference documents, reference name).

    Coverage is measured on text the added words were not picked from: with FLORES, two-fold (words from one
    half of the fit sentences, coverage on the other); without FLORES, the list as it is on Tatoeba's fit half."""
    if flores:
        halves = (flores[:len(flores) // 2], flores[len(flores) // 2:])
        hits, docs = Counter(), 0
        for fit, held in (halves, halves[::-1]):
            picked = top_document_words(fit, tokenize, ignore_marks=ignore_marks)
            stop_words = list(dict.fromkeys(base_list + picked))
            held_docs = shortest_documents(held, tokenize)
            for k in (2, 1):
                hits[k] += stop_word_coverage(held_docs, stop_words, k, how, ignore_marks) * len(held_docs)
            docs += len(held_docs)
        coverage = {k: hits[k] / max(docs, 1) for k in (2, 1)}
        return top_document_words(flores, tokenize, ignore_marks=ignore_marks), coverage, docs, "FLORES-200 (two-fold)"
    held_docs = shortest_documents(tatoeba, tokenize)
    coverage = {k: stop_word_coverage(held_docs, base_list, k, how, ignore_marks) for k in (2, 1)}
    return [], coverage, len(held_docs), "Tatoeba (even sentences)"


def in_script(word: str, script: str) -> bool:
    """``word`` is written in ``script`` (Han, kana and Hangul count as one writing system)."""
    from xcurate.stages.quality import MIXED_WRITING_SYSTEM_SCRIPTS
    found = dominant_script(word)
    return found == script or {found, script} <= MIXED_WRITING_SYSTEM_SCRIPTS


def to_sections(config: dict, language: str, extra_stop_words=()) -> dict:
    """FineWeb-2 keys -> our filter sections (see module docstring)."""
    script = language.split("_")[1]
    dictionary = dictionary_splitter_for(language)
    no_space = script in NO_SPACE_SCRIPT_CODES and not dictionary
    stop_words = list(dict.fromkeys((config.get("stopwords") or []) + spacy_stop_words(language)
                                    + list(extra_stop_words)))
    # A stop word is a word: spaCy's Chinese list and FineWeb-2's Arabic-script lists hold punctuation ("，" "،")
    # and digits, which any text has, so the check passed everything.
    # A stop word is in the language's script: spaCy's Serbian list is Cyrillic, and under srp_Latn it let Belarusian
    # pass as Serbian.
    stop_words = [w for w in stop_words if any(c.isalpha() for c in w) and (not no_space or quality_words(w) == [w])
                  and in_script(w, script)]
    quality = {"max_non_alpha_words_ratio": config["max_non_alpha_words_ratio"]}
    repetition = {"dup_line_frac": config["dup_line_frac"]}
    if not no_space:
        quality.update(min_avg_word_length=config["min_avg_word_length"],
                       max_avg_word_length=config["max_avg_word_length"])
        repetition.update(top_n_grams=config["top_n_grams"], dup_n_grams=config["dup_n_grams"])
    quality.update(stop_words=stop_words, min_stop_words=2 if len(stop_words) >= 2 else 0)
    sections = {"gopher_repetition": repetition,
                "fineweb_quality": {"line_punct_thr": config["line_punct_thr"],
                                    "new_line_ratio": config["new_line_ratio"]},
                "gopher_quality": quality}
    if script in EXTRA_STOP_CHARS:
        sections["fineweb_quality"]["extra_stop_chars"] = EXTRA_STOP_CHARS[script]
    if dictionary and script in NO_SPACE_SCRIPT_CODES:  # undo _scripts/'s character-token adaptations
        quality.update(min_doc_words=50, max_doc_words=100000)
        sections["fineweb_quality"]["short_line_length"] = 30
        sections["tokenizer"] = {"engine": "auto"}
    return sections


def no_looser_than_script(sections: dict, script_settings: dict) -> list:
    """Apply SMALL_CORPUS_FLOORS in place; the header notes of what changed."""
    notes = []
    for (section, key), stricter in SMALL_CORPUS_FLOORS.items():
        fitted, median = sections[section].get(key), script_settings.get(section, {}).get(key)
        if fitted is not None and median is not None and stricter(fitted, median) != fitted:
            sections[section][key] = median
            notes.append(f"{key} {fitted} -> {median}")
    return notes


def with_checked_stop_words(config: dict, language: str, sections: dict, flores: list, tatoeba: list):
    """(sections with FLORES stop words added and the check off where the list is unusable, header notes)."""
    from xcurate.stages.quality import LanguageSettings, tokenizer_for
    settings = LanguageSettings().get(language, language.split("_")[1])
    tokenize = tokenizer_for(language, settings)
    how = settings["gopher_quality"]["stop_words_count"]
    base = sections["gopher_quality"]["stop_words"]
    ignore_marks = language.split("_")[1] in OPTIONAL_MARK_SCRIPTS
    extra, coverage, n_docs, reference = checked_stop_words(base, flores, tatoeba, tokenize, how, ignore_marks)
    notes = []
    if extra:
        sections = to_sections(config, language, extra)
        notes.append(f"stop words also: spaCy's, and the {N_FLORES_STOP_WORDS} most frequent words of FLORES-200 "
                     f"devtest sentences 0-{FLORES_FIT_SENTENCES - 1} (CC-BY-SA-4.0)")
    quality = sections["gopher_quality"]
    if not quality["min_stop_words"]:
        return sections, notes
    if n_docs < MIN_REFERENCE_DOCUMENTS:
        return sections, notes + ["stop words not checked: no reference text of this language in ../shared"]
    measured = (f"of {n_docs} reference documents of >= {STOP_WORD_CHECK_WORDS} words ({reference}), "
                f"{coverage[2]:.1%} have >= 2 stop words, {coverage[1]:.1%} >= 1 (rule: min_stop_words is the "
                f"largest of 2, 1 that keeps >= {MIN_STOP_WORD_COVERAGE:.0%}, else the check is off)")
    quality["min_stop_words"] = next((k for k in (2, 1) if coverage[k] >= MIN_STOP_WORD_COVERAGE), 0)
    if not quality["min_stop_words"]:
        return sections, notes + [f"stop-word check OFF (list unusable): {measured}; the list stays for the "
                                  "stop_words signal"]
    return sections, notes + [f"stop words checked: {measured}"]


def all_flores_languages(archive: Path) -> set:
    with gzip.open(archive.parents[1] / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        return {FLORES_CODES.get(lang, lang) for lang in (json.loads(line)["lang"] for line in f)}


def write_flores_only(language: str, flores: list) -> None:
    """A language FLORES-200 has and FineWeb-2 lacks (Ta'izzi-Adeni Arabic): its script's settings plus stop words
    by the rule used for every other language (the N_FLORES_STOP_WORDS words in the most fit sentences, the check
    at 2, 1 or off as two-fold coverage decides); without them nothing checks that a document is in the language."""
    config = {"stopwords": [], "max_non_alpha_words_ratio": None, "dup_line_frac": None, "line_punct_thr": None,
              "new_line_ratio": None, "min_avg_word_length": None, "max_avg_word_length": None,
              "top_n_grams": None, "dup_n_grams": None}
    sections, notes = with_checked_stop_words(config, language, to_sections(config, language), flores, [])
    quality = sections["gopher_quality"]
    header = [f"{language}: FineWeb-2 has no settings for this language; the script's settings (_scripts/) apply,",
              "stop words derived by bench/build_fineweb2_settings.py (write_flores_only)"] + notes
    (QUALITY_DIR / f"{language}.yaml").write_text(render(
        {"gopher_quality": {k: quality[k] for k in ("stop_words", "min_stop_words")}}, header), encoding="utf-8")


def render(sections: dict, header: list) -> str:
    lines = [f"# {h}" for h in header]
    for section, values in sections.items():
        lines.append(f"{section}:")
        lines += [f"  {key}: {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def training_documents(distribution_csv: Path) -> dict:
    """{lang_Script: FineWeb-2 training documents}."""
    with open(distribution_csv, encoding="utf-8") as f:
        return {row["subset"]: int(row["documents"]) for row in csv.DictReader(f) if row["split"] == "train"}


def script_medians(configs: dict, documents: dict) -> dict:
    """{Script: median settings over FineWeb-2's well-sized languages of that spaced script}."""
    by_script, small = defaultdict(list), defaultdict(list)
    for name, config in configs.items():
        script = name.split("_")[1]
        if script not in NO_SPACE_SCRIPT_CODES:
            big_enough = documents.get(name, 0) >= MIN_DOCUMENTS
            (by_script if big_enough else small)[script].append(to_sections(config, name))
    for script, all_sections in small.items():
        by_script.setdefault(script, all_sections)  # only small languages in this script: use them all
    medians = {}
    for script, all_sections in by_script.items():
        medians[script] = {section: {key: round(statistics.median(s[section][key] for s in all_sections), 3)
                                     for key in keys} for section, keys in MEDIAN_KEYS.items()}
        if script in EXTRA_STOP_CHARS:
            medians[script]["fineweb_quality"]["extra_stop_chars"] = EXTRA_STOP_CHARS[script]
        if script in OPTIONAL_MARK_SCRIPTS:
            medians[script]["gopher_quality"]["stop_words_ignore_marks"] = True
    return medians


def main() -> int:
    archive = Path(shared_data_dir()) / "quality" / "fineweb2_configs.tar.gz"
    configs = read_fineweb2(archive)
    documents = training_documents(archive.parent / "fineweb2_language_distribution.csv")
    targets = {name: name for name in configs}
    targets.update({ours: theirs for ours, theirs in OUR_CODES.items() if theirs in configs})
    flores = flores_fit_sentences(archive.parents[1], {**targets, **dict.fromkeys(all_flores_languages(archive))})
    tatoeba = tatoeba_fit_sentences(archive.parents[1], targets)
    medians = script_medians(configs, documents)
    off = []
    for ours, theirs in sorted(targets.items()):
        if ours in HAND_WRITTEN:
            continue
        header = [f"{ours}: FineWeb-2's fitted settings, converted by bench/build_fineweb2_settings.py",
                  f"origin: {ORIGIN}, configs/{theirs}.yml"]
        sections = to_sections(configs[theirs], ours)
        if sections["gopher_quality"]["min_stop_words"] or ours in flores:
            sections, notes = with_checked_stop_words(configs[theirs], ours, sections, flores.get(ours, []),
                                                      tatoeba.get(ours, []))
            header += notes
            if sections["gopher_quality"]["min_stop_words"] < 2 and sections["gopher_quality"]["stop_words"]:
                off.append(f"{ours}:{sections['gopher_quality']['min_stop_words']}")
        if documents.get(theirs, 0) < MIN_DOCUMENTS and ours.split("_")[1] in medians:
            floors = no_looser_than_script(sections, medians[ours.split("_")[1]])
            if floors:
                header.append(f"FineWeb-2 fitted this on {documents.get(theirs, 0)} documents (< {MIN_DOCUMENTS}): "
                              f"no looser than the script's median: {', '.join(floors)}")
        (QUALITY_DIR / f"{ours}.yaml").write_text(render(sections, header), encoding="utf-8")
    print(f"min_stop_words below 2 (language:min_stop_words, from reference text): {', '.join(off) or 'none'}")
    for ours in sorted(set(flores) - set(targets) - HAND_WRITTEN):
        write_flores_only(ours, flores[ours])
    for script, sections in medians.items():
        header = [f"{script}: median of FineWeb-2's settings over its languages in this script with >= {MIN_DOCUMENTS}",
                  "documents (else all), for languages without their own file (no stop-word check).",
                  "Generated by bench/build_fineweb2_settings.py",
                  f"origin: {ORIGIN}"]
        (QUALITY_DIR / "_scripts" / f"{script}.yaml").write_text(render(sections, header), encoding="utf-8")
    glotlid = {name: float(c["language_score"]) for name, c in sorted(configs.items())}
    lid_file = HERE / "lid_thresholds" / "glotlid.yaml"
    lid_file.parent.mkdir(exist_ok=True)
    lid_file.write_text(
        f"# GlotLID minimum language_score per language, FineWeb-2's fitted values.\n"
        f"# Generated by bench/build_fineweb2_settings.py; origin: {ORIGIN}, configs/*.yml\n"
        + yaml.safe_dump({"rule": "FineWeb-2 language_score per language (GlotLID scores)",
                          "default": round(statistics.median(glotlid.values()), 3), "thresholds": glotlid},
                         sort_keys=False), encoding="utf-8")
    print(f"wrote {len(targets)} language files, {len(medians)} script files, {lid_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
