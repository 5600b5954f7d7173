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
  FineWeb-2's "at least 2 stop words" check needs. ``bench/quality_eval.py`` evaluates FLORES on the
  other sentences only, and its UD, Tatoeba and instruction documents are held out from this fit.
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
from xcurate.text.words import NO_SPACE_SCRIPT_CODES, dictionary_splitter_for, quality_words, spacy_language_for

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
# Sentence ends typed with another character: the Armenian full stop "։" is commonly written ":".
EXTRA_STOP_CHARS = {"Armn": [":"]}
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


def flores_stop_words(data_dir: Path, languages) -> dict:
    """{lang_Script: the N_FLORES_STOP_WORDS alphabetic words in the most FLORES fit sentences}, split
    with the quality stage's own tokenizer for the language (FLORES codes folded onto ours)."""
    from xcurate.stages.quality import LanguageSettings, tokenizer_for
    wanted, settings = set(languages), LanguageSettings()
    sentences = defaultdict(list)
    with gzip.open(data_dir / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            lang = FLORES_CODES.get(r["lang"], r["lang"])
            if lang in wanted and int(r["parallel_id"]) < FLORES_FIT_SENTENCES:
                sentences[lang].append(r["text"])
    words = {}
    for lang, texts in sentences.items():
        tokenize = tokenizer_for(lang, settings.get(lang, lang.split("_")[1]))
        doc_freq = Counter(w for t in texts for w in set(quality_words(t, tokenize)) if any(c.isalpha() for c in w))
        words[lang] = [w for w, _ in doc_freq.most_common(N_FLORES_STOP_WORDS)]
    return words


def to_sections(config: dict, language: str, extra_stop_words=()) -> dict:
    """FineWeb-2 keys -> our filter sections (see module docstring)."""
    script = language.split("_")[1]
    dictionary = dictionary_splitter_for(language)
    no_space = script in NO_SPACE_SCRIPT_CODES and not dictionary
    stop_words = list(dict.fromkeys((config.get("stopwords") or []) + spacy_stop_words(language)
                                    + list(extra_stop_words)))
    stop_words = [w for w in stop_words if not no_space or quality_words(w) == [w]]
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
    return medians


def main() -> int:
    archive = Path(shared_data_dir()) / "quality" / "fineweb2_configs.tar.gz"
    configs = read_fineweb2(archive)
    documents = training_documents(archive.parent / "fineweb2_language_distribution.csv")
    targets = {name: name for name in configs}
    targets.update({ours: theirs for ours, theirs in OUR_CODES.items() if theirs in configs})
    flores = flores_stop_words(archive.parents[1], targets)
    for ours, theirs in sorted(targets.items()):
        if ours in HAND_WRITTEN:
            continue
        header = [f"{ours}: FineWeb-2's fitted settings, converted by bench/build_fineweb2_settings.py",
                  f"origin: {ORIGIN}, configs/{theirs}.yml"]
        if ours in flores:
            header.append(f"stop words also: spaCy's, and the {N_FLORES_STOP_WORDS} most frequent words of FLORES-200 "
                          f"devtest sentences 0-{FLORES_FIT_SENTENCES - 1} (CC-BY-SA-4.0)")
        sections = to_sections(configs[theirs], ours, flores.get(ours, ()))
        (QUALITY_DIR / f"{ours}.yaml").write_text(render(sections, header), encoding="utf-8")
    medians = script_medians(configs, documents)
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
