"""quality stage: decision agreement with datatrove, reasons, annotate_only, settings, bad input."""
import json
from collections import defaultdict

import pyarrow as pa
import pytest

from xcurate.engine.registry import get_stage_class
from xcurate.text.words import count_sentences, quality_words
from xcurate.stages.quality import (LanguageSettings, QualityParams, QualityStage, c4_quality, fineweb_quality,
                            gopher_quality, gopher_repetition, tokenizer_for)

# Languages whose datatrove word tokenizer (spaCy) is installed here: Latin, Cyrillic, Greek, Hebrew,
# Arabic and Armenian scripts, incl. those with their own punctuation rules (hye ։ ՝, heb צה"ל, fin N:o, ru г.).
AGREEMENT_LANGUAGES = ["eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "por_Latn", "ita_Latn", "nld_Latn",
                       "ces_Latn", "tur_Latn", "ind_Latn", "est_Latn", "lit_Latn",
                       "eus_Latn", "afr_Latn", "isl_Latn", "gle_Latn", "ukr_Cyrl", "ell_Grek",
                       "rus_Cyrl", "bul_Cyrl", "heb_Hebr", "arb_Arab", "hye_Armn", "pol_Latn", "fin_Latn", "hun_Latn"]


def datatrove_filters(settings: dict, language: str):
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)
    from datatrove.pipeline.filters import c4_filters
    rep = settings["gopher_repetition"]
    # our own keys (datatrove_defaults sets them to datatrove 0.10's behaviour), not constructor parameters
    gopher = {k: v for k, v in settings["gopher_quality"].items()
              if k not in ("alpha_ratio_skips_punctuation", "stop_words_count")}
    c4 = {k: v for k, v in settings["c4_quality"].items() if k != "end_punctuation"}
    # datatrove's C4 end punctuation is a module constant, not a parameter: set it to ours (a superset
    # adding other scripts' sentence-final marks) so both sides run with equivalent parameters.
    c4_filters.END_PUNCTUATION = tuple(settings["c4_quality"]["end_punctuation"])
    return {
        "gopher_quality": GopherQualityFilter(**gopher, language=language),
        "gopher_repetition": GopherRepetitionFilter(
            **{**rep, "top_n_grams": tuple(map(tuple, rep["top_n_grams"])),
               "dup_n_grams": tuple(map(tuple, rep["dup_n_grams"]))}, language=language),
        "c4_quality": C4QualityFilter(**c4, language=language),
        "fineweb_quality": FineWebQualityFilter(**settings["fineweb_quality"], language=language),
    }


def our_decisions(text: str, settings: dict, language=None):
    profile = tokenizer_for(language, settings)
    words = quality_words(text, profile)
    return {
        "gopher_quality": gopher_quality(text, words, settings["gopher_quality"])[0],
        "gopher_repetition": gopher_repetition(text, words, settings["gopher_repetition"])[0],
        "c4_quality": c4_quality(text, settings["c4_quality"], count_sentences, profile)[0],
        "fineweb_quality": fineweb_quality(text, words, settings["fineweb_quality"])[0],
    }


def test_decisions_agree_with_datatrove_on_real_documents(shared_data):
    from datatrove.data import Document
    docs = [json.loads(line) for line in open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    settings = LanguageSettings(profile="datatrove_defaults")
    totals, disagreements = defaultdict(int), defaultdict(list)
    for lang in AGREEMENT_LANGUAGES:
        s = settings.get(lang, lang.split("_")[1])
        theirs_filters = datatrove_filters(s, lang)
        for d in (d for d in docs if d["lang_script"] == lang):
            ours = our_decisions(d["text"], s, lang)
            for name, f in theirs_filters.items():
                verdict = f.filter(Document(text=d["text"], id=d["id"]))
                theirs = None if verdict is True else verdict[1]
                totals[name] += 1
                if (theirs is None) != (ours[name] is None):
                    disagreements[name].append(f"{d['id']}: datatrove={theirs or 'keep'} ours={ours[name] or 'keep'}")
    assert sum(totals.values()) >= 4 * 2100
    report = {name: f"{1 - len(disagreements[name]) / totals[name]:.4f} "
                    f"({len(disagreements[name])}/{totals[name]}): {disagreements[name][:15]}" for name in totals}
    failing = {n: r for n, r in report.items() if len(disagreements[n]) / totals[n] > 0.01}
    assert not failing, "agreement below 99%:\n" + "\n".join(f"{n}: {r}" for n, r in failing.items())


def stage(**params):
    return QualityStage(QualityParams(**params))


def test_paragraph_and_line_splits_equal_datatrove_regexes_on_every_newline_layout():
    import random
    import re
    from xcurate.stages.quality import split_lines, split_paragraphs
    rng = random.Random(0)
    texts = ["", "\n", "\n\n", "a", "a\nb", "a\n\nb", "\na\n", "\n\na\n\n\nb\n"] + [
        "".join(rng.choice("ab \t\n") for _ in range(rng.randrange(12))) for _ in range(20_000)]
    for text in texts:
        assert split_paragraphs(text) == re.split(r"\n{2,}", text.strip()), repr(text)
        assert split_lines(text) == re.split("\n+", text), repr(text)


def test_registered_and_reasons_name_the_filter():
    assert get_stage_class("quality") is QualityStage
    good = ("The committee met on Monday to discuss the budget of the city. " * 3 + "\n") * 2 + \
        "It was decided that the plan would be presented to the council in the spring. " \
        "Members of the public are invited to attend the meeting and to ask their questions. " \
        "The mayor said that the city is in a good position and that the budget is balanced."
    repeated = "\n".join(["buy now cheap pills"] * 30)
    out = stage()(pa.table({"text": [good, repeated, "short text."], "language": ["eng_Latn"] * 3}))
    reasons = out.drop_reason.to_pylist()
    assert reasons[1] == "gopher_repetition:dup_line_frac"
    assert reasons[2] is not None and reasons[2].startswith(("gopher_", "fineweb_"))
    assert all(r is None or ":" in r for r in reasons)


def test_annotate_only_keeps_everything_and_records_signals():
    texts = ["\n".join(["same line here"] * 20), "x"]
    out = stage(annotate_only=True)(pa.table({"text": texts, "language": ["eng_Latn", None]}))
    assert out.drop_reason is None
    cols = out.table.to_pydict()
    assert cols["quality_reason"][0] == "gopher_repetition:dup_line_frac"
    assert cols["text"] == texts  # annotate_only never rewrites text
    assert cols["quality_signals"][0]["dup_line_frac"] > 0.9
    assert cols["quality_signals"][0]["line_punct_ratio"] is not None  # later filters were measured too


def test_enable_filters_and_overrides():
    text = "\n".join(["same line here"] * 20)
    out = stage(filters=["fineweb_quality"])(pa.table({"text": [text], "language": ["eng_Latn"]}))
    assert out.drop_reason.to_pylist() == ["fineweb_quality:line_punct_ratio"]
    out = stage(filters=["fineweb_quality"], overrides={"fineweb_quality": {"line_punct_thr": 0.0,
                                                                            "short_line_thr": 1.0,
                                                                            "char_duplicates_ratio": 1.0,
                                                                            "new_line_ratio": 1.0}})(
        pa.table({"text": [text], "language": ["eng_Latn"]}))
    assert out.drop_reason.to_pylist() == [None]


def test_c4_rewrites_text_like_datatrove():
    lines = ["This line has a proper ending and enough words."] * 3 + ["menu home about"] + \
        ["Another sentence ends here. And one more. Yes it does."]
    text = "\n".join(lines)
    out = stage(filters=["c4_quality"])(pa.table({"text": [text], "language": ["eng_Latn"]}))
    assert out.drop_reason.to_pylist() == [None]
    assert "menu home about" not in out.table.column("text")[0].as_py()


def test_per_language_settings_resolution(tmp_path):
    settings = LanguageSettings()
    eng = settings.get("eng_Latn", "Latn")
    assert "the" in eng["gopher_quality"]["stop_words"] and eng["tokenizer"]["profile"] == "en"
    unknown = settings.get("xyz_Latn", "Latn")
    assert unknown["gopher_quality"]["min_stop_words"] == 0  # documented default: no stop-word check
    cmn = settings.get("cmn_Hani", "Hani")
    assert cmn["gopher_quality"]["min_avg_word_length"] is None and "的" in cmn["gopher_quality"]["stop_words"]
    assert settings.get("cmn_Hans", "Hani")["gopher_quality"]["stop_words"] == cmn["gopher_quality"]["stop_words"]
    (tmp_path / "_default.yaml").write_text("gopher_quality: {}\nbogus_filter: {}\n")
    with pytest.raises(ValueError, match="bogus_filter"):
        LanguageSettings(str(tmp_path))


def test_no_space_scripts_use_adapted_thresholds(shared_data):
    docs = [json.loads(line) for line in open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    cmn = [d["text"] for d in docs if d["iso639_3"] == "cmn"]
    out = stage(filters=["gopher_quality", "c4_quality"])(
        pa.table({"text": cmn, "language": ["cmn_Hani"] * len(cmn), "script": ["Hani"] * len(cmn)}))
    kept = sum(r is None for r in out.drop_reason.to_pylist())
    assert kept >= 0.8 * len(cmn), out.drop_reason.to_pylist()


def test_bad_input():
    huge = "Ein ganz normaler Satz über Daten. " * 300_000  # 10 MB
    junk = bytes(range(1, 256)).decode("latin-1") * 20
    texts = [None, "", "  \n\t", junk, huge, "Москва is big. Moscow ist groß. " * 30]
    out = stage()(pa.table({"text": pa.array(texts, pa.string()),
                            "language": [None, None, None, None, "deu_Latn", "qqq_Cyrl"]}))
    reasons = out.drop_reason.to_pylist()
    assert reasons[:3] == ["quality:empty_text"] * 3
    assert reasons[3] is not None and reasons[3].split(":")[0] in ("gopher_repetition", "gopher_quality")
    assert reasons[4] == "quality:doc_too_long"
    assert reasons[5] is None or reasons[5].split(":")[0] in ("gopher_repetition", "gopher_quality",
                                                                "c4_quality", "fineweb_quality")
    no_lang = stage()(pa.table({"text": ["Plain text without a language column."]}))
    assert no_lang.drop_reason.to_pylist()[0].startswith(("gopher_", "fineweb_"))  # default settings, with a reason


def test_langid_and_quality_end_to_end(tmp_path, shared_data, ray_local):
    """Real UD documents through normalize -> langid -> quality on local Ray: per-language output, reasons."""
    from xcurate.engine.runner import run_pipeline
    lines = open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8").read().splitlines()[::25]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines + [json.dumps({"id": "empty", "text": "   "})]) + "\n", encoding="utf-8")
    config = {"input": {"paths": [str(src)], "text_field": "text", "id_field": "id"},
              "stages": [{"type": "normalize"},
                         {"type": "langid", "params": {"max_chars": 2000}},
                         {"type": "quality"}]}
    manifest = run_pipeline(config, str(tmp_path / "out"))
    by_name = {s["name"]: s for s in manifest["stages"]}
    assert by_name["langid"]["input"] >= len(lines)
    quality_reasons = by_name["quality"]["dropped"]
    assert quality_reasons and all(":" in r for r in quality_reasons)
    assert sum(by_name["langid"]["dropped"].values()) >= 1
    assert len(manifest["languages"]) >= 10
    import pyarrow.parquet as pq
    shard = sorted((tmp_path / "out" / "data").rglob("*.parquet"))[0]
    kept = pq.ParquetFile(shard).read()
    assert {"language", "language_score", "script", "language_topk", "quality_signals"} <= set(kept.column_names)


def test_fineweb2_settings_are_fineweb2s_values_with_their_origin():
    """The shipped per-language files carry FineWeb-2's fitted values, mapped onto our filters."""
    import yaml
    from xcurate.stages.quality import PROFILE_FILTERS, QUALITY_CONFIG_DIR
    text = (QUALITY_CONFIG_DIR / "rus_Cyrl.yaml").read_text(encoding="utf-8")
    assert "huggingface/fineweb-2 @ d0defb24f193bb9a5a11b8b14524a03c4858e1b6" in text
    rus = LanguageSettings().get("rus_Cyrl", "Cyrl")
    assert rus["gopher_repetition"]["dup_line_frac"] == 0.322 and rus["fineweb_quality"]["line_punct_thr"] == 0.231
    assert rus["gopher_repetition"]["top_n_grams"][0] == [2, 0.184]
    assert rus["gopher_quality"]["max_non_alpha_words_ratio"] == 0.713 and rus["gopher_quality"]["min_stop_words"] == 2
    assert {"года", "также"} <= set(rus["gopher_quality"]["stop_words"])
    # FineWeb-2's pipeline's fixed values, and no C4
    assert rus["gopher_repetition"]["dup_para_frac"] == 0 and rus["fineweb_quality"]["char_duplicates_ratio"] == 0.1
    assert "c4_quality" not in PROFILE_FILTERS["fineweb2"]
    assert yaml.safe_load(text)["gopher_quality"]["stop_words"][:2] == ["в", "и"]
    datatrove = LanguageSettings(profile="datatrove_defaults").get("rus_Cyrl", "Cyrl")
    assert datatrove["gopher_quality"]["stop_words"][0] == "the" and datatrove["fineweb_quality"]["line_punct_thr"] == 0.12


def test_fineweb2_profile_keeps_clean_prose_that_datatrove_defaults_drop(shared_data):
    """Issue #15: Russian and Bengali prose fell under datatrove's English 0.8 alphabetic-word ratio."""
    docs = [json.loads(line) for line in open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    texts = [d["text"] for d in docs if d["lang_script"] in ("rus_Cyrl", "ben_Beng")][:60]
    langs = [d["lang_script"] for d in docs if d["lang_script"] in ("rus_Cyrl", "ben_Beng")][:60]
    table = pa.table({"text": texts, "language": langs})
    kept = {p: sum(r is None for r in stage(profile=p)(table).drop_reason.to_pylist())
            for p in ("fineweb2", "datatrove_defaults")}
    assert kept["fineweb2"] >= 0.8 * len(texts) and kept["datatrove_defaults"] < 0.2 * len(texts), kept


def test_calibrate_quality_fits_thresholds_from_reference(tmp_path, shared_data):
    import gzip
    import yaml
    from xcurate.workflows.calibrate_quality import calibrate_quality
    with gzip.open(shared_data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        sents = [json.loads(line)["text"] for line in f if '"por_Latn"' in line]
    docs = [" ".join(sents[i:i + 4]) + "\n" + " ".join(sents[i + 4:i + 8]) for i in range(0, 640, 8)]
    report = calibrate_quality(docs, ["por_Latn"] * len(docs), str(tmp_path / "s"), min_docs=50, source="flores")
    assert report["por_Latn"]["docs"] == 80 and report["por_Latn"]["kept"] >= 0.95
    assert report["por_Latn"]["junk_dropped"] >= 0.9
    fitted = yaml.safe_load((tmp_path / "s" / "por_Latn.yaml").read_text(encoding="utf-8"))
    assert {"de", "que"} <= set(fitted["gopher_quality"]["stop_words"])
    assert 3 < fitted["gopher_quality"]["min_avg_word_length"] < fitted["gopher_quality"]["max_avg_word_length"] < 9
    assert (tmp_path / "s" / "rus_Cyrl.yaml").exists()  # the shipped settings of other languages come along
    with pytest.raises(Exception, match="min-docs"):
        calibrate_quality(docs[:5], ["por_Latn"] * 5, str(tmp_path / "t"), min_docs=50)


def test_calibrate_quality_command_is_registered_and_rejects_bad_tail(tmp_path, capsys):
    from xcurate.cli import main
    assert main(["calibrate-quality", str(tmp_path / "ref.jsonl"), "-o", str(tmp_path / "s"), "--tail", "0.7"]) == 2
    err = capsys.readouterr().err
    assert "--tail" in err and "Traceback" not in err
