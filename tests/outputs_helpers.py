"""A small multi-language run shared by the output tests (three languages, several units,
one global stage, rejected rows with drop-only columns, licenses in the metadata)."""
import json
import os

from xcurate.engine.runner import run_pipeline

LANGS = {"eng_Latn": 60, "deu_Latn": 25, "fra_Latn": 9}
STAGES = [{"type": "normalize"}, {"type": "length_filter", "params": {"min_chars": 30}},
          {"type": "exact_dedup", "params": {"scope": "global"}}]


def write_input(path):
    with open(path, "w", encoding="utf-8") as f:
        for lang, n in LANGS.items():
            for i in range(n):
                text = f"{lang} document number {i}: " + "words of text " * (3 + i % 5)
                rec = {"id": f"{lang}-{i}", "text": text, "lang": lang, "license": "cc-by-4.0" if i % 2 else "odc-by"}
                f.write(json.dumps(rec) + "\n")
            f.write(json.dumps({"id": f"{lang}-short", "text": "too short", "lang": lang}) + "\n")
            f.write(json.dumps({"id": f"{lang}-dup", "text": f"{lang} document number 0: " + "words of text " * 3,
                                "lang": lang}) + "\n")


def build_tokenizer(path):
    """A word-level Hugging Face tokenizer.json built here (offline) over the run's vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    words = ["[UNK]", "document", "number", "words", "of", "text"] + list(LANGS) + [f"{i}:" for i in range(60)]
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    raw.save(str(path))
    return raw


def small_run(tmp, input_name="in.jsonl"):
    """Runs the pipeline (relative input path, cwd = tmp) with ``output.tokenizer``; returns (outdir, manifest)."""
    write_input(tmp / input_name)
    build_tokenizer(tmp / "tokenizer.json")
    cfg = {"input": {"paths": [input_name], "columns": {"lang": "language"}},
           "output": {"unit_rows": 20, "tokenizer": str(tmp / "tokenizer.json")}, "ray": {"num_cpus": 2},
           "stages": STAGES}
    out = tmp / "out"
    return out, run_pipeline(cfg, str(out), quiet=True)


_RUNS = {}


def shared_small_run(tmp_path_factory):
    """One small run per test session, shared by the output and export tests: (tmp, outdir, manifest)."""
    if "run" not in _RUNS:
        tmp = tmp_path_factory.mktemp("outputs")
        cwd = os.getcwd()
        os.chdir(tmp)  # the input is given as a relative path
        try:
            _RUNS["run"] = (tmp, *small_run(tmp))
        finally:
            os.chdir(cwd)
    return _RUNS["run"]
