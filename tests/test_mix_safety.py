"""``xcurate mix`` reads only what it should and deletes nothing it did not write (issue #10).

Every case runs on sacrificial directories under the test's tmp dir and checks that the source
files survive byte for byte.
"""
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from xcurate.cli import main
from xcurate.errors import UserError
from xcurate.mix.config import load_mix_config
from xcurate.workflows.mix import user_error_cause

LANGS = ["deu_Latn", "fin_Latn"]


@pytest.fixture(scope="module")
def ud_docs(shared_data):
    docs = [json.loads(l) for l in open(shared_data / "corpus" / "ud_docs.jsonl", encoding="utf-8")]
    return {lang: [d for d in docs if d["lang_script"] == lang][:40] for lang in LANGS}


def _hf_dataset(root: Path, ud_docs) -> Path:
    """A Hugging Face-style dataset: DS/data/train-*.parquet, a README, and files readers must skip."""
    ds = root / "DS"
    (ds / "data").mkdir(parents=True)
    rows = [{"id": d["id"], "text": d["text"], "language": lang} for lang, docs in ud_docs.items() for d in docs]
    for i in range(2):
        pq.write_table(pa.Table.from_pylist(rows[i::2]), ds / "data" / f"train-0000{i}-of-00002.parquet")
    (ds / "README.md").write_text("a dataset card\n")
    (ds / "data" / "_tmp").mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:5]), ds / "data" / "_tmp" / "part-0.parquet")
    return ds


def _xcurate_outdir(root: Path, ud_docs, complete: bool) -> Path:
    """An xcurate OUTDIR: kept documents in data/, many more in rejected/; a manifest only when complete."""
    out = root / ("complete" if complete else "killed")
    shards = []
    for lang, docs in ud_docs.items():
        part = out / "data" / f"language={lang}" / "part-u0-0000.parquet"
        part.parent.mkdir(parents=True)
        pq.write_table(pa.table({"id": [d["id"] for d in docs[:10]], "text": [d["text"] for d in docs[:10]],
                                 "language": [lang] * 10}), part)
        shards.append({"path": str(part.relative_to(out)), "rows": 10})
    rejected = out / "rejected" / "stage=quality" / "part-u0-0000.parquet"
    rejected.parent.mkdir(parents=True)
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(30)], "text": ["rejected text"] * 30,
                             "language": ["eng_Latn"] * 30, "reason": ["quality:x"] * 30}), rejected)
    (out / "_xc_run.json").write_text(json.dumps({"command": "run"}))
    if complete:
        (out / "manifest.json").write_text(json.dumps({"shards": shards, "output_documents": 20}))
    return out


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _config(tmp_path: Path, **extra) -> str:
    cfg = {"seed": 1, "sources": [], "policy": {"type": "unimax", "total_tokens": 2000}, "max_epochs": 2,
           "ray": {"progress_bars": False}, **extra}
    path = tmp_path / "mix.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("where,flags", [("DS", []), ("DS", ["--overwrite"]), ("DS/data", ["--overwrite"]),
                                         ("DS/out", []), (".", ["--overwrite"])])
def test_output_overlapping_a_source_is_refused(tmp_path, ud_docs, capsys, where, flags):
    ds = _hf_dataset(tmp_path, ud_docs)
    before = _snapshot(ds)
    out = tmp_path / where if where != "." else tmp_path
    assert main(["mix", _config(tmp_path), "-o", str(out), str(ds), *flags]) == 2
    assert "input" in _one_line_error(capsys)
    assert _snapshot(ds) == before
    assert not (ds / "out").exists()


@pytest.mark.parametrize("flags", [[], ["--overwrite"]])
def test_output_holding_foreign_files_is_refused(tmp_path, ud_docs, capsys, flags):
    ds = _hf_dataset(tmp_path, ud_docs)
    foreign = tmp_path / "foreign"
    (foreign / "data").mkdir(parents=True)
    (foreign / "data" / "train-00000.parquet").write_bytes((ds / "data" / "train-00000-of-00002.parquet").read_bytes())
    before = _snapshot(foreign)
    assert main(["mix", _config(tmp_path), "-o", str(foreign), str(ds), *flags]) == 2
    assert "did not write" in _one_line_error(capsys)
    assert _snapshot(foreign) == before


def test_incomplete_source_outdir_is_refused(tmp_path, ud_docs, capsys):
    killed = _xcurate_outdir(tmp_path, ud_docs, complete=False)
    before = _snapshot(killed)
    assert main(["mix", _config(tmp_path), "-o", str(tmp_path / "mix"), str(killed)]) == 2
    assert "incomplete" in _one_line_error(capsys)
    assert _snapshot(killed) == before and not (tmp_path / "mix").exists()


def test_mix_reads_only_data_of_complete_outputs_and_named_datasets(ray_local, tmp_path, ud_docs, capsys):
    ds = _hf_dataset(tmp_path, ud_docs)
    done = _xcurate_outdir(tmp_path, ud_docs, complete=True)
    before = {**_snapshot(ds), **{f"done/{k}": v for k, v in _snapshot(done).items()}}
    out = tmp_path / "mix"
    assert main(["mix", _config(tmp_path), "-o", str(out), f"hf={ds}", f"web={done}",
                 "--set", "policy.total_tokens=3000", "--set", "ray.num_cpus=2"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    rows_hf = sum(len(docs) for docs in ud_docs.values())
    assert manifest["input_documents"] == rows_hf + 20   # not rejected/, not data/_tmp/
    sample = next(st for st in manifest["stages"] if st["name"] == "mix_sample")
    assert sample["kept"] + sample["dropped"]["not_sampled"] == sample["input"] == rows_hf + 20
    assert manifest["mix"]["planned_tokens"] == 3000
    plan = json.loads((out / "plan.json").read_text())
    assert {s["source"] for l in plan["languages"] for s in l["sources"]} == {"hf", "web"}
    assert {l["language"] for l in plan["languages"]} == set(LANGS)
    assert before == {**_snapshot(ds), **{f"done/{k}": v for k, v in _snapshot(done).items()}}
    # the mixture is itself a complete xcurate output: it can be a source of another mixture
    assert main(["mix", _config(tmp_path), "-o", str(tmp_path / "again"), str(out),
                 "--set", "policy.total_tokens=1000", "--dry-run"]) == 0


def test_ray_task_user_error_is_found_by_type(ray_local):
    import ray

    @ray.remote
    def fails(kind):
        raise kind("tokenizer file /x/y.model not found")

    with pytest.raises(Exception) as e:
        ray.get(fails.remote(UserError))
    assert isinstance(user_error_cause(e.value), UserError)
    assert "tokenizer file /x/y.model not found" in str(user_error_cause(e.value))
    with pytest.raises(Exception) as e:
        ray.get(fails.remote(RuntimeError))
    assert user_error_cause(e.value) is None


def test_sources_from_the_command_line_and_set(tmp_path):
    cfg = load_mix_config(_config(tmp_path), overrides=["policy.total_tokens=2B", "seed=5"],
                          sources=["out/quickstart", "books=data/language=deu/part.parquet"])
    assert [(s.name, s.path) for s in cfg.sources] == [("source", "out/quickstart"),
                                                       ("books", "data/language=deu/part.parquet")]
    assert cfg.policy.total_tokens == 2e9 and cfg.seed == 5
    with pytest.raises(UserError, match="no sources"):
        load_mix_config(_config(tmp_path))
    with pytest.raises(UserError, match="policy.total_tokens"):
        load_mix_config(_config(tmp_path), overrides=["policy.total_tokens=lots"], sources=["x"])
