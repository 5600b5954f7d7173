"""Model-based signals: train-classifier + the classifier stage, semantic_dedup (same language and
cross-lingual) through the engine on Ray, and the pieces they add to the dedup library."""
import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from conftest import require_shared
from samples.demo_sentences import BANK


def _fill(sentence: str, rng: random.Random, bank: dict) -> str:
    return sentence.format(name=rng.choice(bank["names"]), city=rng.choice(bank["cities"]),
                           n=rng.randint(2, 9), y=rng.randint(1950, 2020))


def _prose(lang: str, n: int, seed: int) -> list:
    rng = random.Random(seed)
    bank = BANK[lang]
    return [" ".join(_fill(s, rng, bank) for s in rng.sample(bank["sentences"], 6)) for _ in range(n)]


SPAM = {"eng_Latn": "buy cheap casino bonus free shipping click here best price discount viagra loan win now offer deal",
        "deu_Latn": "kaufen billig Casino Bonus gratis Versand hier klicken bester Preis Rabatt Kredit gewinnen jetzt Angebot"}


def _spam(lang: str, rng: random.Random) -> str:
    """Keyword spam with links: a vocabulary and a shape that a linear n-gram model can learn."""
    words = SPAM[lang].split()
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))) + f" www.shop{rng.randint(1, 99)}.com"
             for _ in range(rng.randint(3, 7))]
    return "\n".join(lines)


def _examples(seed: int):
    texts, labels, langs = [], [], []
    rng = random.Random(seed)
    for lang in ("eng_Latn", "deu_Latn"):
        good = _prose(lang, 70, seed)
        junk = [_spam(lang, rng) for _ in range(70)]
        texts += good + junk
        labels += [True] * len(good) + [False] * len(junk)
        langs += [lang] * (len(good) + len(junk))
    return texts, labels, langs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from xcurate.classify.model import FeatureSpec
    from xcurate.workflows.train_classifier import train_to_folder
    folder = tmp_path_factory.mktemp("clf") / "model"
    texts, labels, langs = _examples(0)
    report = train_to_folder(texts, labels, langs, str(folder), FeatureSpec(), min_docs=40, source="test")
    return folder, report


def test_train_classifier_report_and_files(trained):
    folder, report = trained
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "report.json", "thresholds.yaml", "weights.npz"]
    assert set(report["heads"]) == {"_all", "eng_Latn", "deu_Latn"}  # a head per language with 40+ of each class
    for lang in ("_all", "eng_Latn", "deu_Latn"):
        assert report["languages"][lang]["auc"] >= 0.9, report["languages"][lang]
    assert json.loads((folder / "report.json").read_text())["examples"] == len(_examples(0)[0])


def test_classifier_stage_scores_and_drops_fresh_documents(trained):
    from xcurate.stages.classifier import REASON, ClassifierParams, ClassifierStage
    folder, _ = trained
    texts, labels, langs = _examples(7)  # documents the model never saw
    out = ClassifierStage(ClassifierParams(model=str(folder)))(pa.table({"text": texts, "language": langs}))
    reasons = np.array(out.drop_reason.to_pylist(), dtype=object)
    labels = np.array(labels)
    assert (reasons[labels] == None).mean() >= 0.8  # noqa: E711  (kept prose)
    assert (reasons[~labels] == REASON).mean() >= 0.8  # dropped junk
    scores = np.array(out.table.column("classifier_score").to_pylist())
    assert scores[labels].mean() > scores[~labels].mean()
    kept = ClassifierStage(ClassifierParams(model=str(folder), mode="annotate_only"))(
        pa.table({"text": texts, "language": langs}))
    assert kept.drop_reason is None


def test_classifier_stage_applies_a_fasttext_supervised_model():
    """fastText models trained elsewhere: lid.176 is one (positive label __label__en)."""
    from xcurate.stages.classifier import ClassifierParams, ClassifierStage
    from xcurate.stages.langid import bundled_model_path
    stage = ClassifierStage(ClassifierParams(model=bundled_model_path(), positive_label="__label__en",
                                             language_column=None, default_threshold=0.5))
    out = stage(pa.table({"text": _prose("eng_Latn", 3, 1) + _prose("deu_Latn", 3, 1)}))
    assert out.drop_reason.to_pylist()[:3] == [None] * 3
    assert out.drop_reason.to_pylist()[3:] == ["classifier:below_threshold"] * 3


def test_keep_rule_prefers_languages_then_rule():
    from xcurate.dedup.select import choose_keepers
    from xcurate.dedup.semantic import language_priority
    priority = language_priority(["deu_Latn", "eng_Latn", "fra_Latn", "eng"], ["eng_Latn", "fra_Latn"])
    assert priority.tolist() == [2, 0, 1, 0]
    table = pa.table({"group": [1, 1, 1], "doc": [10, 11, 12], "id": ["a", "b", "c"], "length": [9, 5, 7],
                      "quality": pa.nulls(3, pa.float64()), "priority": [2, 1, 1]})
    decisions = choose_keepers(table, ["group"], "longest").to_pylist()
    assert {d["doc"] for d in decisions if d["keep"]} == {12}  # priority 1 first, then the longest


def test_pair_verdict_uses_the_contamination_check():
    from xcurate.dedup.semantic import pair_verdict
    check = (0.66, 0.58)
    assert pair_verdict("In 1998 they sold 4500 cars.", "1998 verkauften sie 4500 Autos.", 0.7, 0.2, check) is True
    assert pair_verdict("In 1998 they sold 4500 cars.", "1975 verkauften sie 12 Autos.", 0.9, 0.2, check) is False
    assert pair_verdict("They sold many cars.", "Sie verkauften Autos.", 0.6, 0.2, check) is None  # to alignment
    assert pair_verdict("The report came at 12.00 GMT.", "Der Bericht kam um 12:00 Uhr.", 0.7, 0.2, check) is True


@pytest.fixture(scope="module")
def flores_docs():
    import gzip
    path = require_shared("benchmarks", "flores200_devtest.jsonl.gz")
    rows = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not any(f'"lang": "{lang}"' in line for lang in ("eng_Latn", "deu_Latn", "fra_Latn")):
                continue  # parse only the three languages of the 204
            r = json.loads(line)
            if r["lang"] in ("eng_Latn", "deu_Latn", "fra_Latn"):
                rows[(r["lang"], int(r["parallel_id"]))] = r["text"]

    def doc(lang, run, order=(0, 1, 2, 3)):
        return " ".join(rows[(lang, run * 4 + k)] for k in order)

    docs = []
    for run in range(36):
        docs.append({"id": f"en{run:03d}", "text": doc("eng_Latn", run), "lang": "eng_Latn"})
        if run % 4 == 0:
            docs.append({"id": f"de{run:03d}", "text": doc("deu_Latn", run), "lang": "deu_Latn"})
        if run % 5 == 0:
            docs.append({"id": f"fr{run:03d}", "text": doc("fra_Latn", run), "lang": "fra_Latn"})
        if run % 6 == 1:  # same language, sentences in another order: not a copy
            docs.append({"id": f"px{run:03d}", "text": doc("eng_Latn", run, (1, 0, 3, 2)), "lang": "eng_Latn"})
    return docs


def test_semantic_and_translated_duplicates_on_ray(ray_local, tmp_path, flores_docs):
    from xcurate.engine.runner import run_pipeline
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in flores_docs))
    config = {"input": {"paths": [str(src)], "columns": {"lang": "language"}}, "output": {"unit_rows": 20},
              "stages": [{"type": "semantic_dedup"},
                         {"type": "semantic_dedup", "name": "translations",
                          "params": {"cross_lingual": True, "prefer_languages": ["eng_Latn"]}}]}
    manifest = run_pipeline(config, str(tmp_path / "out"), quiet=True)
    by_name = {s["name"]: s for s in manifest["stages"]}
    paraphrases = {d["id"] for d in flores_docs if d["id"].startswith("px")}
    translations = {d["id"] for d in flores_docs if d["id"][:2] in ("de", "fr")}
    assert by_name["semantic_dedup"]["dropped"] == {"semantic_duplicate": len(paraphrases)}
    assert by_name["translations"]["dropped"] == {"translated_duplicate": len(translations)}
    assert by_name["translations"]["notes"]["covered"]["eng_Latn"] is True
    rejected = pads.dataset(str(tmp_path / "out" / "rejected"), format="parquet", partitioning="hive").to_table()
    rows = rejected.to_pylist()
    assert {r["id"] for r in rows if r["reason"] == "semantic_duplicate"} == paraphrases
    assert all(r["semantic_duplicate_of"] == "en" + r["id"][2:] for r in rows if r["reason"] == "semantic_duplicate")
    assert {r["id"] for r in rows if r["reason"] == "translated_duplicate"} == translations
    assert all(r["translation_of"] == "en" + r["id"][2:] for r in rows if r["reason"] == "translated_duplicate")
    kept = pads.dataset(str(tmp_path / "out" / "data"), format="parquet", partitioning="hive").to_table()
    sizes = dict(zip(kept["id"].to_pylist(), kept["xling_dup_cluster_size"].to_pylist()))
    assert sizes["en000"] == 3 and sizes["en001"] == 1  # en000 has a German and a French translation
    assert "semantic_duplicate_of" not in kept.column_names  # drop-only column: rejected/ only


def test_train_classifier_cli_errors_are_one_line(tmp_path, capsys):
    from xcurate.cli import main
    pos = tmp_path / "pos.jsonl"
    pos.write_text("".join(json.dumps({"text": t}) + "\n" for t in _prose("eng_Latn", 12, 0)))
    assert main(["train-classifier", "--positive", str(pos), "-o", str(tmp_path / "m")]) == 2
    assert "give --positive and --negative" in capsys.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"input: {{paths: [{pos}]}}\nstages: [{{type: classifier, params: {{model: {tmp_path / 'none'}}}}}]\n")
    assert main(["validate", str(cfg)]) == 2
    assert "stages[0].params.model" in capsys.readouterr().err


def test_semantic_dedup_rerun_after_crash_gives_same_result(ray_local, tmp_path, flores_docs, monkeypatch):
    from tests.dedup_helpers import read_outputs, write_units
    from xcurate.dedup.store import CRASH_ENV, InjectedCrash
    from xcurate.engine.stage import Resources
    from xcurate.stages.semantic_dedup import SemanticDedup, SemanticDedupParams
    docs = [{"id": d["id"], "text": d["text"], "language": d["lang"]} for d in flores_docs
            if d["lang"] == "eng_Latn"][:16]
    paths = write_units(tmp_path, docs, rows_per_unit=6)
    stage = SemanticDedup(SemanticDedupParams())

    def run(name, work):
        stage.run(paths, str(tmp_path / name), str(tmp_path / work), stage.name, Resources(num_cpus=1))
        return read_outputs(tmp_path / name, paths)

    clean = run("clean", "work_clean")
    monkeypatch.setenv(CRASH_ENV, "pairs")
    with pytest.raises(InjectedCrash):
        run("resumed", "work_crash")
    monkeypatch.delenv(CRASH_ENV)
    root = next((tmp_path / "work_crash").glob("semantic_dedup-*"))
    (root / "_phases" / "embed" / "u000001.json").unlink()  # as if killed inside the first phase
    resumed = run("resumed", "work_crash")
    assert resumed.equals(clean)
    assert set(clean["semantic_duplicate_of"].drop_null().to_pylist()) == {"en001", "en007"}  # px001, px007
    log = json.loads((root / "_phases" / "log.json").read_text())
    assert log["embed"]["ran"] == 1 and log["pairs"]["ran"] == 0 and log["write"]["ran"] == len(paths)
