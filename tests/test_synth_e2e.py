"""`xcurate synth` end to end on a local Ray: HTTP backend, tiny transformers model, bad input."""
import glob
import os
import gzip
import json

import pyarrow.dataset as pads

from xcurate.cli import main as cli_main
from xcurate.workflows.synth import run_synth
from xcurate.mt.fake_server import FakeMTServer


def _tatoeba(shared_data, lang="deu", n=40, min_chars=25):
    pairs = []
    with gzip.open(shared_data / "corpus" / "tatoeba_laser_v1.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] == lang and len(r["eng"]) >= min_chars and len(r["text"]) >= min_chars \
                    and not any(ch.isdigit() for ch in r["eng"]):
                pairs.append((r["eng"], r["text"]))
            if len(pairs) == n:
                break
    return pairs


def _rows(outdir, sub):
    files = glob.glob(str(outdir / sub / "**" / "*.parquet"), recursive=True)
    return pads.dataset(files, format="parquet").to_table().to_pylist() if files else []


def test_synth_http_backend_end_to_end(tmp_path, shared_data, ray_local):
    pairs = _tatoeba(shared_data, n=20)
    lookup = dict(pairs)
    records = [{"id": f"r{i}", "instruction": pairs[2 * i][0], "input": "", "output": pairs[2 * i + 1][0]}
               for i in range(8)]
    records.append({"id": "r-empty", "instruction": "  ", "input": "", "output": "Something."})
    records.append({"id": "r-long", "instruction": "Summarise this.", "input": "Lorem ipsum. " * 2000, "output": "x"})
    records.append({"id": "r-fail", "instruction": pairs[18][0], "input": "", "output": "[500always] " + pairs[19][0]})
    data = tmp_path / "alpaca.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    out = tmp_path / "out"
    with FakeMTServer(lookup=lookup) as server:
        cfg = {
            "seed": 5,
            "tasks": [{"type": "instructions", "input": {"paths": [str(data)]}, "target_languages": ["de"],
                       "variants": ["all_target", "en_instruction_target_response"]}],
            "mt": {"type": "openai", "base_url": server.url, "model": "fake-mt", "api_key_env": None,
                   "prompt": "{text}", "max_retries": 2, "backoff_base_s": 0.01, "timeout_s": 5},
            "output": {"unit_rows": 5},
            "ray": {"progress_bars": False},
        }
        manifest = run_synth(cfg, str(out), quiet=True)
    stages = {s["name"]: s for s in manifest["stages"]}
    assert list(stages) == ["read", "synth_unpack", "mt_translate", "synth_qc", "exact_dedup", "minhash_dedup"]
    assert manifest["input_documents"] == 8 * 2 + 2 + 2
    assert stages["synth_unpack"]["dropped"] == {"empty_instruction": 1, "too_long": 1}
    assert stages["mt_translate"]["dropped"] == {"mt_http_500": 2}
    assert stages["synth_qc"]["dropped"] == {}
    assert manifest["synth"]["tasks"][0]["input_records"] == 11
    assert manifest["synth"]["tasks"][0]["rejected_records"] == 2
    rows = _rows(out, "data/language=deu_Latn")  # the code `xcurate run` writes
    assert len(rows) == manifest["output_documents"] == 16
    by = {(r["source_id"], r["variant"]): r for r in rows}
    first = by[("r0", "all_target")]
    assert first["instruction"] == lookup[pairs[0][0]] and first["output"] == lookup[pairs[1][0]]
    assert first["messages"] == [{"role": "user", "content": first["instruction"]},
                                 {"role": "assistant", "content": first["output"]}]
    assert (first["backend"], first["model"], first["task_type"]) == ("openai", "fake-mt", "translated_instruction")
    en = by[("r0", "en_instruction_target_response")]
    assert en["instruction"].startswith(pairs[0][0]) and "German" in en["instruction"]
    assert en["output"] == lookup[pairs[1][0]] and en["template_id"].startswith("en-d")
    assert all(r["qc_lid_lang"] == "deu_Latn" for r in rows)
    failed = _rows(out, "rejected/stage=mt_translate")
    assert len(failed) == 2 and all(r["reason"] == "mt_http_500" for r in failed)
    assert all("http_500 after 3 attempt(s)" in r["mt_error"] for r in failed)
    assert server.attempts["[500always] " + pairs[19][0]] == 3  # once per distinct chunk, then retries
    # the output loads with `datasets` as a chat dataset without conversion
    import datasets
    ds = datasets.load_dataset("parquet", data_files=glob.glob(str(out / "data/language=deu_Latn/*.parquet")), split="train")
    assert ds.num_rows == 16 and ds[0]["messages"][0]["role"] == "user"


def test_synth_transformers_backend_in_ray(tmp_path, shared_data, ray_local, tiny_m2m100):
    pairs = _tatoeba(shared_data, n=30)
    tsv = tmp_path / "deu-eng.tsv"
    tsv.write_text("\n".join(f"{de}\t{en}" for en, de in pairs), encoding="utf-8")
    alpaca = shared_data / "instructions" / "alpaca_en_sample.jsonl"
    out = tmp_path / "out"
    cfg = {
        "seed": 1,
        "tasks": [
            {"type": "translation", "input": {"paths": [str(tsv)], "src_lang": "deu", "tgt_lang": "eng"}},
            {"type": "instructions", "input": {"paths": [str(alpaca)]}, "target_languages": ["de", "fr"],
             "max_records_per_file": 3},
        ],
        "mt": {"type": "transformers", "model": tiny_m2m100, "batch_size": 4, "max_input_tokens": 32,
               "max_output_tokens": 8, "concurrency": 1},
        # the tiny model writes noise: relax the checks that would reject all of it
        "qc": {"lid": False, "numbers": False, "structure": False, "min_length_ratio": 0.001,
               "max_length_ratio": 1000, "max_repetition": 1.0, "max_token_run": 10000},
        "dedup": {"exact": True, "near": False},
        "output": {"unit_rows": 16},
        "ray": {"progress_bars": False},
    }
    manifest = run_synth(cfg, str(out), quiet=True)
    stages = {s["name"]: s for s in manifest["stages"]}
    assert manifest["input_documents"] == 30 * 2 + 3 * 2
    assert stages["mt_translate"]["input"] == 66 and stages["mt_translate"]["dropped"] == {}
    rows = _rows(out, "data")
    mt_rows = [r for r in rows if r["task_type"] == "translated_instruction"]
    bitext = [r for r in rows if r["task_type"] == "translation"]
    assert {r["tgt_lang"] for r in mt_rows} == {"deu_Latn", "fra_Latn"}  # the codes `xcurate run` writes
    assert {r["src_lang"] for r in mt_rows} == {"eng_Latn"}
    for part in glob.glob(str(out / "data" / "language=*")):  # the partition is the target language
        assert {r["tgt_lang"] for r in _rows(out, f"data/{os.path.basename(part)}")} == {part.rsplit("=", 1)[1]}
    assert all(r["backend"] == "transformers" and r["model"] == tiny_m2m100 for r in mt_rows)
    assert all(len(r["messages"]) == 2 and r["messages"][1]["content"] == r["output"] for r in mt_rows)
    assert {(r["src_lang"], r["tgt_lang"]) for r in bitext} == {("deu_Latn", "eng_Latn"), ("eng_Latn", "deu_Latn")}
    assert all(r["backend"] == "bitext" and r["template_id"] for r in bitext)
    assert sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in glob.glob(str(out / "data/*/"))) == \
        ["language=deu_Latn", "language=eng_Latn", "language=fra_Latn"]
    assert all(s["sha256"] and s["rows"] for s in manifest["shards"])


def test_bad_input_gives_clear_errors(tmp_path, shared_data, ray_local, tiny_m2m100, capsys):
    alpaca = shared_data / "instructions" / "alpaca_en_sample.jsonl"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({
        "tasks": [{"type": "instructions", "input": {"paths": [str(alpaca)]}, "target_languages": ["de", "kab"]}],
        "mt": {"type": "transformers", "model": tiny_m2m100}}), encoding="utf-8")
    assert cli_main(["synth", str(cfg), "-o", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert "unsupported language code 'kab'" in err and "supported (100): af, am, ar" in err  # nb counts: M2M100 writes it as no

    en, de = tmp_path / "x.en", tmp_path / "x.de"
    en.write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    de.write_text("Eins.\nZwei.\n", encoding="utf-8")
    cfg.write_text(json.dumps({"tasks": [{"type": "translation", "input": {
        "paths": [str(en), str(de)], "format": "moses", "src_lang": "en", "tgt_lang": "de"}}],
        "ray": {"progress_bars": False}}), encoding="utf-8")
    assert cli_main(["synth", str(cfg), "-o", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert f"{de} ends after line 2" in err and f"{en} continues at line 3" in err

    cfg.write_text(json.dumps({"tasks": [{"type": "instructions", "input": {"paths": [str(alpaca)]},
                                          "target_languages": ["de"]}]}), encoding="utf-8")
    assert cli_main(["synth", str(cfg), "-o", str(tmp_path / "o3")]) == 2
    assert "instruction tasks need an `mt` backend" in capsys.readouterr().err


def test_synth_bitext_with_decontamination(tmp_path, shared_data, ray_local):
    flores = {}
    with gzip.open(shared_data / "benchmarks" / "flores200_devtest.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["lang"] in ("eng_Latn", "deu_Latn") and r["parallel_id"] in ("0005", "0006"):
                flores[(r["lang"], r["parallel_id"])] = r["text"]
    pairs = _tatoeba(shared_data, n=20)
    leaked = [(flores[("eng_Latn", pid)], flores[("deu_Latn", pid)]) for pid in ("0005", "0006")]
    tsv = tmp_path / "en-de.tsv"
    tsv.write_text("\n".join(f"{en}\t{de}" for en, de in pairs + leaked), encoding="utf-8")
    out = tmp_path / "out"
    cfg = {"seed": 3, "tasks": [{"type": "translation", "input": {"paths": [str(tsv)], "src_lang": "en",
                                                                    "tgt_lang": "de"}}],
           "qc": {"numbers": False},
           "post_stages": [{"type": "decontaminate", "params": {
               "benchmarks": "configs/benchmarks/shared.yaml", "benchmarks_root": str(shared_data / "benchmarks"),
               "benchmark_names": ["flores200"], "languages": ["eng_Latn", "deu_Latn"],
               "cache_dir": str(tmp_path / "cache"), "policy": "drop_document"}}],
           "ray": {"progress_bars": False}}
    manifest = run_synth(cfg, str(out), quiet=True)
    stages = {s["name"]: s for s in manifest["stages"]}
    assert stages["decontaminate"]["input"] == stages["minhash_dedup"]["kept"]
    assert sum(stages["decontaminate"]["dropped"].values()) == 4  # 2 leaked pairs x 2 directions
    kept_sources = {r["source_id"] for r in _rows(out, "data")}
    assert f"{tsv.name}:21" not in kept_sources and f"{tsv.name}:1" in kept_sources
