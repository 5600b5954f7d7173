"""langid stage: labels equal raw fastText, mapping, thresholds, bad input, calibrate-lid."""
import gzip
import json
import time

import pyarrow as pa
import pytest
import yaml

from xcurate.workflows.calibrate import calibrate, fineweb2_threshold
from xcurate.engine.registry import get_stage_class
from xcurate.stages.langid import (LangIdParams, LangIdStage, bundled_model_path, load_fasttext_model, load_label_table,
                           map_label, preprocess_batch, resolve_model_path)


def run(texts, **params):
    out = LangIdStage(LangIdParams(**params))(pa.table({"text": pa.array(texts, pa.string())}))
    return out.table.to_pydict(), (out.drop_reason.to_pylist() if out.drop_reason is not None else None)


@pytest.fixture(scope="module")
def real_texts(shared_data):
    docs = [json.loads(line)["text"] for line in open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    with gzip.open(shared_data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        flores = [json.loads(line)["text"] for i, line in enumerate(f) if i % 50 == 0]
    return docs[::5] + flores


def test_registered():
    assert get_stage_class("langid") is LangIdStage


def test_labels_equal_raw_fasttext_on_the_same_preprocessed_text(real_texts):
    params = LangIdParams(mode="label_only", max_chars=1000)
    cols, _ = run(real_texts, mode="label_only", max_chars=1000)
    lines = preprocess_batch(real_texts, params)
    model = load_fasttext_model(bundled_model_path())
    raw = model.f.multilinePredict([line + "\n" for line in lines], 1, 0.0, "strict")  # fastText's batch API
    table = load_label_table()
    expected = [map_label(r[0], s, table) for r, s in zip(raw, cols["script"])]
    mismatches = [(i, e, g) for i, (e, g) in enumerate(zip(expected, cols["language"])) if e != g]
    assert len(real_texts) > 4000 and not mismatches, mismatches[:10]


def test_typed_columns_and_mapping():
    cols, reasons = run(["Das ist ein ganz normaler deutscher Satz über das Wetter in Berlin.",
                         "这是一个关于天气的中文句子，今天北京天气很好。",
                         "Ово је реченица на српском језику о времену у Београду.",
                         "Ovo je rečenica na srpskom jeziku o vremenu u Beogradu danas."], k=3)
    assert cols["language"][:3] == ["deu_Latn", "cmn_Hani", "srp_Cyrl"]
    assert cols["script"] == ["Latn", "Hani", "Cyrl", "Latn"]
    assert cols["language"][3].endswith("_Latn")  # Serbian/Croatian/Bosnian in Latin script
    assert all(0 < s <= 1 for s in cols["language_score"])
    assert [t["label"] for t in cols["language_topk"][0]][0] == "deu_Latn" and len(cols["language_topk"][0]) == 3
    out = LangIdStage()(pa.table({"text": ["hello world, this is English"]})).table
    assert out.schema.field("language_score").type == pa.float32()
    assert out.schema.field("language_topk").type.value_type.names == ["label", "score"]


def test_glotlid_style_labels_pass_through_and_unknown_labels_keep_script():
    table = load_label_table()
    assert map_label("__label__eng_Latn", "Latn", table) == "eng_Latn"
    assert map_label("__label__sr", "Latn", table) == "srp_Latn"
    assert map_label("__label__sr", "Grek", table) == "srp_Cyrl"  # script not used by the language -> default
    assert map_label("__label__xyz", "Latn", table) == "xyz_Latn"
    assert len(table) == 176


def test_thresholds_allowed_set_and_label_only(tmp_path):
    texts = ["Das ist ein ganz normaler deutscher Satz über das Wetter in Berlin.", "This is an English sentence."]
    _, reasons = run(texts, allowed_languages=["deu_Latn"])
    assert reasons == [None, "lang_not_allowed"]
    _, reasons = run(texts, allowed_languages=["deu", "eng"], thresholds={"deu_Latn": 1.01})
    assert reasons[0] == "lang_low_score" and reasons[1] is None
    f = tmp_path / "t.yaml"
    f.write_text("default: 1.01\nthresholds: {eng: 0.1}\n")
    _, reasons = run(texts, thresholds_file=str(f))
    assert reasons == ["lang_low_score", None]
    cols, reasons = run(texts, mode="label_only", allowed_languages=["fra_Latn"])
    assert reasons is None and cols["language"][0] == "deu_Latn"


def test_bad_input_empty_junk_huge_and_mixed():
    junk = bytes(range(256)).decode("latin-1") * 4
    huge = ("Dies ist ein langer deutscher Text über Sprachen und Daten. " * 170_000)[:10_000_000]
    texts = [None, "", "   \n\t ", junk, "12345 !!! ???", huge, "Москва is the capital; Moscow ist die Hauptstadt."]
    t0 = time.perf_counter()
    cols, reasons = run(texts, max_chars=2000)
    elapsed = time.perf_counter() - t0
    assert reasons[:3] == ["lang_no_text"] * 3 and cols["language"][0] == "und_Zyyy"
    assert reasons[4] == "lang_no_text"
    assert reasons[3] in ("lang_low_score", "lang_not_allowed", None) and cols["language_score"][3] >= 0
    assert cols["language"][5] == "deu_Latn" and reasons[5] is None
    assert cols["script"][6] in ("Latn", "Cyrl")
    assert len(preprocess_batch([huge], LangIdParams(max_chars=2000))[0]) <= 2000
    assert elapsed < 60  # sanity only: the 10 MB document is read through a 2,000-character window


def test_spread_sampling_sees_the_whole_document():
    text = "English words at the start of this long document. " * 200 + "Texte français à la fin du document. " * 200
    line = preprocess_batch([text], LangIdParams(sample="spread", max_chars=1000, n_windows=4))[0]
    assert "English" in line and "français" in line and len(line) <= 1003


def test_model_resolution(tmp_path, monkeypatch):
    assert resolve_model_path("lid.176.ftz").endswith("lid.176.ftz")
    assert resolve_model_path(bundled_model_path()) == bundled_model_path()
    with pytest.raises(FileNotFoundError, match="neither a file nor"):
        resolve_model_path("/no/such/model.bin")
    calls = []

    def fake_download(repo_id, filename, cache_dir=None, local_files_only=False):
        calls.append((repo_id, filename, local_files_only))
        if local_files_only and len(calls) == 1:
            raise FileNotFoundError("not cached yet")
        return bundled_model_path()

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    path = resolve_model_path("cis-lmu/glotlid", "model.bin", cache_dir=str(tmp_path))
    assert path == bundled_model_path()
    assert calls == [("cis-lmu/glotlid", "model.bin", True), ("cis-lmu/glotlid", "model.bin", False)]
    assert (tmp_path / "cis-lmu--glotlid.lock").exists()
    resolve_model_path("cis-lmu/glotlid", "model.bin", cache_dir=str(tmp_path))
    assert calls[-1][2] is True and len(calls) == 3  # second actor: served from the cache, no network


def test_fineweb2_rule():
    assert fineweb2_threshold([0.9, 0.9, 0.9]) == 0.9
    assert fineweb2_threshold([0.2, 0.3]) == 0.3
    scores = [0.5, 0.7, 0.8, 0.9, 0.95]
    import numpy as np
    assert abs(fineweb2_threshold(scores) - (np.median(scores) - np.std(scores))) < 1e-12
    res = calibrate(["a"] * 30 + ["b"] * 5, [0.8] * 30 + [0.9] * 5, min_docs=20)
    assert list(res) == ["a"] and res["a"]["threshold"] == 0.8


def test_calibrate_lid_cli_writes_a_table_the_stage_reads(tmp_path, capsys, shared_data):
    from xcurate.cli import main
    out = tmp_path / "thresholds.yaml"
    rc = main(["calibrate-lid", str(shared_data / "corpus" / "ud_docs.jsonl"), "-o", str(out),
               "--sample", "1500", "--min-docs", "20"])
    assert rc == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["default"] == 0.5 and len(doc["thresholds"]) >= 10
    assert all(0.3 <= v <= 0.9 for v in doc["thresholds"].values())
    assert "threshold" in capsys.readouterr().out
    _, reasons = run(["This is an English sentence about the weather today."], thresholds_file=str(out))
    assert reasons == [None]
    assert main(["calibrate-lid", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2


def test_threshold_table_follows_the_model():
    from xcurate.stages.langid import LangIdParams, resolve_thresholds, threshold_table_for
    assert threshold_table_for("lid.176.ftz").name == "lid176.yaml"
    assert threshold_table_for("cis-lmu/glotlid").name == "glotlid.yaml"
    assert threshold_table_for("/models/GlotLID-v3/model.bin").name == "glotlid.yaml"
    assert threshold_table_for("/models/openlid.bin").name == "lid176.yaml"
    glot = resolve_thresholds(LangIdParams(model="cis-lmu/glotlid"))
    assert glot.for_language("rus_Cyrl") == 0.9 and glot.for_language("cmn_Hani") == 0.692  # FineWeb-2's
    lid176 = resolve_thresholds(LangIdParams())
    assert lid176.for_language("gla_Latn") == 0.3 and lid176.per_language != glot.per_language
