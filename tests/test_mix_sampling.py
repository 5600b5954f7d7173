"""``xcurate mix`` end to end on the engine: token counting, plans, sampling, accounting, determinism, bad input.

Inputs are built from real text in ../shared/data/corpus: an xcurate-layout output dir from
UD pseudo-documents (6 languages, with dup_cluster_size) and a plain Parquet dataset of
Tatoeba sentences with a language column.
"""
import collections
import gzip
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xcurate.cli import main
from xcurate.errors import UserError
from xcurate.workflows.mix import run_mix
from xcurate.mix.policies import rehydration_weight, unimax_policy
from xcurate.mix.tokens import default_sentencepiece_model

UD_LANGS = ["eng_Latn", "deu_Latn", "fin_Latn", "kor_Hang", "yor_Latn", "tel_Telu"]
TATOEBA = {"deu": "deu_Latn", "fin": "fin_Latn", "kor": "kor_Hang"}
CLUSTER_SIZES = [1, 1, 1, 2, 3, 7, 150]


def _cluster_size(doc_id: str) -> int:
    return CLUSTER_SIZES[int(hashlib.md5(doc_id.encode()).hexdigest(), 16) % len(CLUSTER_SIZES)]


def _build_web(shared: Path, root: Path) -> Path:
    docs = [json.loads(l) for l in open(shared / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    web = root / "web"
    for lang in UD_LANGS:
        mine = [d for d in docs if d["lang_script"] == lang]
        part_dir = web / "data" / f"language={lang}"
        part_dir.mkdir(parents=True)
        for i, chunk in enumerate([mine[: len(mine) // 2], mine[len(mine) // 2:]]):
            pq.write_table(pa.table({
                "id": [d["id"] for d in chunk], "text": [d["text"] for d in chunk],
                "source": ["corpus/ud_docs.jsonl"] * len(chunk),
                "metadata": [json.dumps({"treebank": d["treebank"]}) for d in chunk],
                "language": [lang] * len(chunk),
                "dup_cluster_size": [_cluster_size(d["id"]) for d in chunk]}), part_dir / f"part-{i:05d}.parquet")
    (web / "manifest.json").write_text(json.dumps({"input_documents": len(docs)}))
    return web


def _build_tatoeba(shared: Path, root: Path) -> Path:
    with gzip.open(shared / "corpus" / "tatoeba_laser_v1.jsonl.gz", "rt", encoding="utf-8") as f:
        pairs = [json.loads(l) for l in f]
    rows = [{"id": p["id"], "text": p["text"], "language": TATOEBA[p["lang"]]} for p in pairs if p["lang"] in TATOEBA]
    rows += [{"id": p["id"] + ".eng", "text": p["eng"], "language": "eng_Latn"} for p in pairs if p["lang"] == "afr"]
    out = root / "tatoeba"
    out.mkdir()
    for i in range(2):
        pq.write_table(pa.Table.from_pylist(rows[i::2]), out / f"part-{i}.parquet")
    return out


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("mix_inputs")
    return {"web": _build_web(shared_data, root), "tatoeba": _build_tatoeba(shared_data, root)}


def _config(inputs, policy, **extra):
    cfg = {"seed": 7,
           "sources": [{"name": "web", "path": str(inputs["web"]), "group": "web"},
                       {"name": "tatoeba", "path": str(inputs["tatoeba"]), "group": "parallel"}],
           "policy": policy, "max_epochs": 3, "ray": {"progress_bars": False}}
    cfg.update(extra)
    return cfg


TEMPERATURE = {"type": "temperature", "total_tokens": "300k", "alpha": 0.3}


@pytest.fixture(scope="module")
def mixture(ray_local, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("mix_out") / "a"
    manifest = run_mix(_config(inputs, TEMPERATURE), str(out), echo=lambda *_: None)
    return out, manifest


def _read_shards(out: Path):
    files = sorted((out / "data").rglob("part-*.parquet"))
    return files, pa.concat_tables([pq.read_table(f).cast(pq.read_schema(files[0])) for f in files])


def _source_rows(inputs) -> int:
    return sum(pq.read_metadata(f).num_rows for d in inputs.values() for f in Path(d).rglob("*.parquet"))


def test_realized_tokens_match_plan_within_one_percent(mixture):
    out, manifest = mixture
    _, table = _read_shards(out)
    plan = json.loads((out / "plan.json").read_text())
    mix = manifest["mix"]
    realized = collections.Counter()
    for lang, tok, copies in zip(table.column("language").to_pylist(), table.column("tokens").to_pylist(),
                                 table.column("mix_copies").to_pylist()):
        realized[lang] += tok * copies
    mean_tokens = {l["language"]: l["mean_doc_tokens"] for l in plan["languages"]}
    big = [l for l in mix["languages"] if l["planned_tokens"] >= 1000 * mean_tokens[l["language"]]]
    assert len(big) >= 2, "the test data must give some languages >= 1000 documents' worth"
    for lang in big:
        assert abs(realized[lang["language"]] - lang["planned_tokens"]) <= 0.01 * lang["planned_tokens"], lang
    for lang in mix["languages"]:  # every language is at most one document off per source
        assert realized[lang["language"]] == lang["realized_tokens"]
    assert sum(realized.values()) == mix["realized_tokens"]
    assert abs(mix["realized_tokens"] - plan["total_planned_tokens"]) <= 0.01 * plan["total_planned_tokens"]


def test_tokens_column_is_the_sentencepiece_count(mixture):
    import sentencepiece as spm
    out, _ = mixture
    _, table = _read_shards(out)
    sp = spm.SentencePieceProcessor(model_file=default_sentencepiece_model())
    sample = table.slice(0, 500)
    counts = [len(ids) for ids in sp.encode(sample.column("text").to_pylist())]
    assert counts == sample.column("tokens").to_pylist()


def test_epochs_never_exceed_cap_and_repeats_are_whole_documents(mixture, inputs):
    out, manifest = mixture
    _, table = _read_shards(out)
    mix = manifest["mix"]
    cap = mix["max_epochs"]
    for lang in mix["languages"]:
        assert lang["epochs_realized"] <= cap + 1e-9
    for src in mix["sources"]:
        assert src["epochs_realized"] <= cap + 1e-9
    # yor_Latn (32 docs) and tel_Telu are planned above 2 epochs: documents repeat as a count, each row once
    keys = list(zip(table.column("mix_source").to_pylist(), table.column("id").to_pylist()))
    assert len(set(keys)) == len(keys) == mix["documents"]
    copies = table.column("mix_copies").to_numpy()
    assert copies.min() >= 1 and copies.max() == 3 == math.ceil(cap) and copies.sum() == mix["rows"]
    tel = next(l for l in mix["languages"] if l["language"] == "tel_Telu")
    assert tel["epochs_planned"] > 2
    # the sampled rows are the original documents: same text as the input
    web_text = {r["id"]: r["text"] for f in (inputs["web"] / "data").rglob("*.parquet")
                for r in pq.read_table(f, columns=["id", "text"]).to_pylist()}
    web_rows = table.filter(pa.compute.equal(table.column("mix_source"), "web")).to_pylist()
    assert all(web_text[r["id"]] == r["text"] for r in web_rows)


def test_every_source_document_is_accounted(mixture, inputs):
    out, manifest = mixture
    files, table = _read_shards(out)
    stages = {st["name"]: st for st in manifest["stages"]}
    assert manifest["input_documents"] == _source_rows(inputs) == stages["read"]["input"]
    assert stages["mix_tokens"]["dropped"] == {}
    sample = stages["mix_sample"]
    assert sample["input"] == sample["kept"] + sample["dropped"]["not_sampled"]
    assert sample["kept"] == table.num_rows == manifest["output_documents"] == manifest["mix"]["documents"]
    assert not (out / "rejected").exists()   # not-sampled documents are counted, not copied
    assert {f.parent.name for f in files} == {f"language={l['language']}" for l in manifest["mix"]["languages"]}
    for info in manifest["shards"]:
        assert hashlib.sha256((out / info["path"]).read_bytes()).hexdigest() == info["sha256"]


def test_rerun_resumes_and_other_config_needs_overwrite(mixture, inputs):
    out, manifest = mixture
    again = run_mix(_config(inputs, TEMPERATURE), str(out), echo=lambda *_: None)
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in manifest["shards"]]
    with pytest.raises(UserError, match="--overwrite"):
        run_mix(_config(inputs, TEMPERATURE), str(out), seed=99, echo=lambda *_: None)


def test_same_seed_gives_identical_shards(mixture, inputs, tmp_path):
    out, manifest = mixture
    again = run_mix(_config(inputs, TEMPERATURE), str(tmp_path / "b"), echo=lambda *_: None)
    assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in manifest["shards"]]
    other = run_mix(_config(inputs, TEMPERATURE), str(tmp_path / "c"), seed=8, echo=lambda *_: None)
    assert [s["sha256"] for s in other["shards"]] != [s["sha256"] for s in manifest["shards"]]


def test_mixture_loads_with_datasets(mixture):
    import datasets
    out, _ = mixture
    files, table = _read_shards(out)
    ds = datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train", streaming=True)
    rows = [(row["id"], row["mix_copies"]) for row in ds]
    assert rows == list(zip(table.column("id").to_pylist(), table.column("mix_copies").to_pylist()))


def test_dry_run_prints_table_and_writes_plan_and_plot(ray_local, inputs, tmp_path):
    lines = []
    plan = run_mix(_config(inputs, {"type": "unimax", "total_tokens": 200_000}), str(tmp_path),
                   dry_run=True, echo=lines.append)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    sample = next(st for st in manifest["stages"] if st["name"] == "mix_sample")
    assert sample["kept"] == 0 and sample["dropped"] == {"dry_run": sample["input"]}
    assert not list(tmp_path.rglob("part-*.parquet"))
    assert json.loads((tmp_path / "plan.json").read_text())["total_planned_tokens"] == plan["total_planned_tokens"]
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = lines[0]
    for lang in UD_LANGS:
        assert lang in table
    assert "epochs" in table and "available" in table and "share" in table
    pools = {l["language"]: l["pool_tokens"] for l in plan["languages"]}
    expected, _ = unimax_policy(pools, 200_000, 3)
    assert {l["language"]: l["planned_tokens"] for l in plan["languages"]} == \
        {k: round(v) for k, v in expected.items()}
    # the real run replaces a dry run without --overwrite
    manifest = run_mix(_config(inputs, {"type": "unimax", "total_tokens": 200_000}), str(tmp_path),
                       echo=lambda *_: None)
    assert manifest["mix"]["realized_tokens"] == pytest.approx(200_000, rel=0.01)


def test_budget_beyond_cap_is_a_clear_error_before_sampling(ray_local, inputs, tmp_path):
    cfg = _config(inputs, {"type": "explicit", "budgets": {"yor_Latn": "100k", "deu_Latn": "400k", "eng_Latn": "10k"}})
    with pytest.raises(UserError) as e:
        run_mix(cfg, str(tmp_path / "out"), echo=lambda *_: None)
    msg = str(e.value)
    assert "yor_Latn" in msg and "deu_Latn" in msg and "eng_Latn" not in msg and "missing" in msg
    assert not (tmp_path / "out" / "plan.json").exists() and not list((tmp_path / "out").rglob("part-*.parquet"))
    plan = run_mix({**cfg, "fill": "cap"}, str(tmp_path / "capped"), dry_run=True, echo=lambda *_: None)
    by_lang = {l["language"]: l for l in plan["languages"]}
    assert by_lang["yor_Latn"]["epochs"] == pytest.approx(3.0)
    assert by_lang["eng_Latn"]["planned_tokens"] == 10_000


def test_fill_redistribute_keeps_total(ray_local, inputs, tmp_path):
    cfg = _config(inputs, {"type": "temperature", "total_tokens": "400k", "alpha": 0.0}, fill="redistribute")
    plan = run_mix(cfg, str(tmp_path), dry_run=True, echo=lambda *_: None)
    assert plan["total_planned_tokens"] == pytest.approx(400_000, abs=3)
    assert all(l["epochs"] <= 3 + 1e-9 for l in plan["languages"])
    assert any("redistributed" in n for n in plan["notes"])


def test_language_without_data_is_an_error(ray_local, inputs, tmp_path):
    with pytest.raises(UserError, match="no data.*xho_Latn"):
        run_mix(_config(inputs, {"type": "explicit", "budgets": {"xho_Latn": 1000, "deu_Latn": 1000}}),
                str(tmp_path), echo=lambda *_: None)
    with pytest.raises(UserError, match="no data.*swh_Latn"):
        run_mix(_config(inputs, TEMPERATURE, languages=["deu_Latn", "swh_Latn"]), str(tmp_path / "b"),
                echo=lambda *_: None)
    assert not (tmp_path / "plan.json").exists()


def test_missing_tokenizer_is_an_error(inputs, tmp_path, capsys):
    for tok, pattern in [({"kind": "sentencepiece", "name": str(tmp_path / "nope.model")}, "not found"),
                         ({"kind": "hf", "name": str(tmp_path / "tok" / "tokenizer.json")}, "not found"),
                         ({"kind": "tiktoken", "name": "no_such_encoding"}, "tiktoken encoding")]:
        with pytest.raises(UserError, match=pattern):
            run_mix(_config(inputs, TEMPERATURE, tokenizer=tok), str(tmp_path / "o"), echo=lambda *_: None)
    cfg_path = tmp_path / "mix.yaml"
    import yaml
    cfg_path.write_text(yaml.safe_dump(_config(inputs, TEMPERATURE,
                                               tokenizer={"kind": "sentencepiece", "name": "/no/such/sp.model"})))
    assert main(["mix", str(cfg_path), "-o", str(tmp_path / "o"), "--dry-run"]) == 2
    assert "SentencePiece model file not found: /no/such/sp.model" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _whitespace_tokenizer(path: Path, texts):
    from tokenizers import Tokenizer, models, pre_tokenizers
    vocab = {"[UNK]": 0}
    for t in texts:
        for w in t.split():
            vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(path))


def test_local_hf_tokenizer_counts_and_groups_split(ray_local, inputs, tmp_path):
    texts = [r["text"] for f in sorted(inputs["tatoeba"].glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    _whitespace_tokenizer(tmp_path / "tokenizer.json", texts[:300])
    cfg = _config(inputs, {"type": "explicit", "budgets": {"eng_Latn": 20_000}},
                  tokenizer={"kind": "hf", "name": str(tmp_path / "tokenizer.json")},
                  groups={"web": 3, "parallel": 1})
    plan = run_mix(cfg, str(tmp_path / "o"), dry_run=True, echo=lambda *_: None)
    eng = next(l for l in plan["languages"] if l["language"] == "eng_Latn")
    srcs = {s["source"]: s for s in eng["sources"]}
    expected_tatoeba = sum(len(r["text"].split()) for f in inputs["tatoeba"].glob("*.parquet")
                           for r in pq.read_table(f).to_pylist() if r["language"] == "eng_Latn")
    assert srcs["tatoeba"]["available_tokens"] == expected_tatoeba
    assert srcs["web"]["planned_tokens"] == pytest.approx(15_000)
    assert srcs["tatoeba"]["planned_tokens"] == pytest.approx(5_000)


def test_rehydration_repeats_documents_by_cluster_size(ray_local, inputs, tmp_path):
    cfg = _config(inputs, {"type": "explicit", "budgets": {"deu_Latn": 1}}, rehydrate={"enabled": True},
                  sources=[{"name": "web", "path": str(inputs["web"]), "languages": ["deu_Latn"]}])
    plan = run_mix(cfg, str(tmp_path / "dry"), dry_run=True, echo=lambda *_: None)
    deu = plan["languages"][0]
    web_rows = pq.read_table(inputs["web"] / "data" / "language=deu_Latn").to_pylist()
    weights = rehydration_weight(np.array([r["dup_cluster_size"] for r in web_rows]),
                                 plan["rehydrate"]["table"])
    assert deu["pool_tokens"] > deu["available_tokens"]
    cfg["policy"]["budgets"] = {"deu_Latn": deu["pool_tokens"]}  # exactly one pass over the rehydrated pool
    manifest = run_mix(cfg, str(tmp_path / "out"), echo=lambda *_: None)
    _, table = _read_shards(tmp_path / "out")
    seen = dict(zip(table.column("id").to_pylist(), table.column("mix_copies").to_pylist()))
    assert {r["id"]: int(w) for r, w in zip(web_rows, weights)} == seen
    assert manifest["mix"]["realized_tokens"] == deu["pool_tokens"]


def test_scaling_law_plan_reports_fits(ray_local, inputs, tmp_path):
    curves = {"deu_Latn": {"points": [[1e3, 0.20], [4e3, 0.30], [16e3, 0.40], [64e3, 0.50]]},
              "yor_Latn": {"points": [[1e3, 0.05], [4e3, 0.20], [16e3, 0.30], [32e3, 0.32]], "form": "power",
                           "weight": 2.0}}
    plan = run_mix(_config(inputs, {"type": "scaling_law", "total_tokens": 60_000, "curves": curves}),
                   str(tmp_path), dry_run=True, echo=lambda *_: None)
    assert set(plan["fits"]) == {"deu_Latn", "yor_Latn"}
    assert plan["fits"]["deu_Latn"]["r2"] == pytest.approx(1.0)
    assert plan["fits"]["yor_Latn"]["form"] == "power" and set(plan["fits"]["yor_Latn"]["params"]) == {"a", "b", "c"}
    assert plan["total_planned_tokens"] == pytest.approx(60_000, abs=2)
    assert all(l["epochs"] <= 3 + 1e-9 for l in plan["languages"])


def test_dataset_without_language_information_is_an_error(ray_local, tmp_path, capsys):
    (tmp_path / "src").mkdir()
    pq.write_table(pa.table({"text": ["eins zwei drei", "vier fünf"]}), tmp_path / "src" / "part-0.parquet")
    cfg = {"sources": [{"name": "nolang", "path": str(tmp_path / "src")}],
           "policy": {"type": "temperature", "total_tokens": 3}}
    with pytest.raises(UserError, match="cannot tell the language"):
        run_mix(cfg, str(tmp_path / "o"), dry_run=True, echo=lambda *_: None)
    cfg["sources"][0]["language"] = "deu_Latn"  # a one-language dataset says so
    import yaml
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["mix", str(tmp_path / "mix.yaml"), "-o", str(tmp_path / "o"), "--dry-run"]) == 0
    assert "deu_Latn" in capsys.readouterr().out
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert plan["languages"][0]["language"] == "deu_Latn" and plan["languages"][0]["docs"] == 2
    assert plan["total_planned_tokens"] == 3


def test_example_configs_validate():
    from xcurate.workflows.mix import load_mix_config
    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("mix*.yaml"))
    assert len(configs) >= 3
    types = {load_mix_config(str(c)).policy.type for c in configs}
    assert {"unimax", "temperature", "scaling_law", "explicit"} <= types
