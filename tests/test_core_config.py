"""Config validation, overrides, stage registry, input planning errors (no Ray needed)."""
import json
import subprocess
import sys

import pytest

from xcurate.engine.config import ConfigError, apply_override, load_config, plan_input
from xcurate.engine.io import InputError, ReadOptions, plan_read_specs
from xcurate.engine.registry import available_stages, get_stage_class
from xcurate.engine.stage import Stage, unmet_inputs


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_parameter_type_names_file_and_field(tmp_path):
    cfg = write(tmp_path, "c.yaml", """
input: {paths: [x.jsonl]}
stages:
  - type: normalize
  - type: length_filter
    params: {min_chars: lots}
""")
    with pytest.raises(ConfigError) as e:
        load_config(str(cfg))
    msg = str(e.value)
    assert "c.yaml" in msg and "stages[1].params.min_chars" in msg and "integer" in msg


def test_unknown_stage_and_unknown_key(tmp_path):
    cfg = write(tmp_path, "c.yaml", "input: {paths: [x]}\nstages:\n  - type: nosuch\n")
    with pytest.raises(ConfigError, match=r"stages\[0\].type: unknown stage 'nosuch'; known stages: .*normalize"):
        load_config(str(cfg))
    cfg = write(tmp_path, "d.yaml", "input: {paths: [x], txt_field: a}\n")
    with pytest.raises(ConfigError, match=r"input.txt_field: Extra inputs are not permitted"):
        load_config(str(cfg))


def test_unknown_stage_param_rejected(tmp_path):
    cfg = write(tmp_path, "c.yaml", "input: {paths: [x]}\nstages:\n  - type: length_filter\n    params: {min_char: 3}\n")
    with pytest.raises(ConfigError, match=r"stages\[0\].params.min_char"):
        load_config(str(cfg))


def test_yaml_is_loaded_safely(tmp_path):
    cfg = write(tmp_path, "c.yaml", "input: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(str(cfg))


def test_duplicate_stage_names_need_a_name(tmp_path):
    cfg = write(tmp_path, "c.yaml", "input: {paths: [x]}\nstages: [{type: normalize}, {type: normalize}]\n")
    with pytest.raises(ConfigError, match="duplicate stage name"):
        load_config(str(cfg))
    cfg = write(tmp_path, "d.yaml", "input: {paths: [x]}\nstages: [{type: normalize}, {type: normalize, name: norm2}]\n")
    assert [s.name for s in load_config(str(cfg)).stages] == ["normalize", "norm2"]


def test_overrides():
    raw = {"input": {"paths": ["a"]}, "stages": [{"type": "length_filter", "params": {"min_chars": 1}}]}
    apply_override(raw, "stages[0].params.min_chars=50")
    apply_override(raw, "output.unit_mb=1.5")
    assert raw["stages"][0]["params"]["min_chars"] == 50 and raw["output"]["unit_mb"] == 1.5
    with pytest.raises(ConfigError):
        apply_override(raw, "stages[7].params.x=1")
    cfg = load_config({"input": {"paths": ["a"]}, "stages": [{"type": "length_filter"}]},
                      overrides=["stages[0].params.min_chars=9"])
    assert cfg.stages[0].params.min_chars == 9


def test_config_hash_ignores_ray_section():
    a = load_config({"input": {"paths": ["a"]}, "ray": {"num_cpus": 1}})
    b = load_config({"input": {"paths": ["a"]}, "ray": {"num_cpus": 2}})
    c = load_config({"input": {"paths": ["b"]}})
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_registry_lists_builtin_stages():
    stages = available_stages()
    assert {"normalize", "length_filter"} <= set(stages)
    cls = get_stage_class("normalize")
    assert issubclass(cls, Stage) and cls.reads and cls.writes == ("text",)
    with pytest.raises(KeyError, match="known stages"):
        get_stage_class("does-not-exist")


def test_input_errors_before_ray(tmp_path):
    cfg = load_config({"input": {"paths": [str(tmp_path / "none.jsonl")]}})
    with pytest.raises(InputError, match="no such file"):
        plan_read_specs(cfg.input, ReadOptions())
    cfg = load_config({"input": {"paths": [str(tmp_path / "*.jsonl")]}})
    with pytest.raises(InputError, match="glob matches no file"):
        plan_read_specs(cfg.input, ReadOptions())
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"id": 1, "body": "x", "title": "t"}) + "\n")
    cfg = load_config({"input": {"paths": [str(p)]}})
    with pytest.raises(InputError, match=r"no text field 'text'.*fields found: body, id, title"):
        plan_read_specs(cfg.input, ReadOptions())


def test_plain_jsonl_is_cut_into_line_aligned_ranges(tmp_path):
    p = tmp_path / "a.jsonl"
    lines = [json.dumps({"text": f"doc {i} " + "x" * (i % 50)}) for i in range(2000)]
    p.write_text("\n".join(lines) + "\n")
    from xcurate.engine.io import read_spec
    opts = ReadOptions(unit_bytes=4096)
    specs = plan_read_specs(load_config({"input": {"paths": [str(p)]}}).input, opts)
    assert len(specs) > 5
    texts, first_lines = [], []
    for s in specs:
        first_lines.append(s.first_line)
        for t in read_spec(s, opts):
            texts.extend(t["text"].to_pylist())
    assert texts == [json.loads(x)["text"] for x in lines]
    assert first_lines[0] == 1 and first_lines == sorted(first_lines)


@pytest.mark.parametrize("args", [["validate", "nope.yaml"], ["run", "nope.yaml", "-o", "x"]])
def test_cli_errors_exit_nonzero_without_traceback(args, tmp_path):
    r = subprocess.run([sys.executable, "-m", "xcurate", *args], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(__import__("conftest").REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2, r.stderr
    assert "config file not found" in r.stderr and "Traceback" not in r.stderr


def test_cli_help_everywhere():
    from xcurate.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert p.format_help().startswith("usage: xcurate " + name)


def test_actor_pools_leave_a_cpu_free_and_use_gpus_when_there():
    from xcurate.engine.cluster import actor_pools as _actor_pools
    cfg = load_config({"input": {"paths": ["x"]}, "stages": [
        {"type": "langid"}, {"type": "normalize"},
        {"type": "decontaminate_xling", "params": {"benchmarks": "configs/benchmarks/demo_en.yaml"}},
        {"type": "langid", "name": "langid_pinned", "resources": {"num_cpus": 1, "concurrency": 1}}]})
    pools = _actor_pools(cfg.stages, cpus=2)
    assert set(pools) == {"langid", "decontaminate_xling", "langid_pinned"}  # normalize is a task
    assert sum(p["num_cpus"] * p["size"] for p in pools.values()) <= 1.0 + 1e-9
    assert all(p["num_gpus"] == 0 for p in pools.values())
    gpu = _actor_pools(cfg.stages, cpus=8, gpus=1)
    assert gpu["decontaminate_xling"]["num_gpus"] == 1 and gpu["decontaminate_xling"]["size"] == 1
    assert gpu["langid"]["num_gpus"] == 0 and gpu["langid_pinned"]["num_gpus"] == 0


class _Reads(Stage):
    def __init__(self, reads=(), writes=()):
        super().__init__()
        self._reads, self._writes = reads, writes

    def input_columns(self):
        return self._reads

    def output_columns(self):
        return self._writes


def test_unmet_inputs_follow_the_input_and_earlier_writes():
    stages = [_Reads(("text",), ("language",)), _Reads(("language", "score")), _Reads(("score",)), _Reads(("id",))]
    assert list(unmet_inputs(stages, ["id", "text"])) == [(1, ["score"], ["id", "language", "text"]),
                                                          (2, ["score"], ["id", "language", "text"])]
    assert list(unmet_inputs(stages[:1], ["id"])) == [(0, ["text"], ["id"])]


def _docs(tmp_path, **extra):
    p = tmp_path / "docs.jsonl"
    p.write_text("".join(json.dumps({"id": str(i), "text": f"doc {i}", **extra}) + "\n" for i in range(3)))
    return str(p)


def test_plan_input_checks_stage_reads_against_sampled_input_and_earlier_writes(tmp_path):
    docs = _docs(tmp_path, lang="eng_Latn", score=0.5)
    by_language = {"type": "exact_dedup", "params": {"scope": "language"}}
    cfg = load_config({"input": {"paths": [docs]}, "stages": [{"type": "normalize"}, by_language]})
    with pytest.raises(ConfigError, match=r"<config>: stages\[1\] \(exact_dedup\): reads 'language', which neither "
                                          r"the input nor an earlier stage provides \(columns there: id, metadata, "
                                          r"source, text, utf8_repaired\)"):
        plan_input(cfg)
    opts, specs = plan_input(load_config({"input": {"paths": [docs]}, "stages": [{"type": "langid"}, by_language]}))
    assert len(specs) == 1 and opts.text_field == "text"
    promoted = {"paths": [docs], "columns": {"lang": "language", "score": "quality"}}
    plan_input(load_config({"input": promoted, "stages": [
        by_language, {"type": "minhash_dedup", "params": {"keep": "highest_quality"}}]}))
    with pytest.raises(ConfigError, match=r"stages\[0\] \(minhash_dedup\): reads 'quality'"):
        plan_input(load_config({"input": {"paths": [docs]}, "stages": [
            {"type": "minhash_dedup", "params": {"keep": "highest_quality"}}]}))


def test_input_columns_follow_params(tmp_path):
    minhash = get_stage_class("minhash_dedup")
    params = minhash.Params(text_column="body", scope="language", language_column="lang")
    assert minhash(params).input_columns() == ("body", "id", "lang")
    assert get_stage_class("exact_dedup")().input_columns() == ("text", "id")


def _cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "xcurate", *args], capture_output=True, text=True, cwd=tmp_path)


def test_validate_reads_the_input_and_names_file_and_field(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "1", "body": "hello"}) + "\n")
    write(tmp_path, "c.yaml", f"input: {{paths: ['{docs}']}}\nstages: [{{type: normalize}}]\n")
    r = _cli(tmp_path, "validate", "c.yaml")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"xcurate: error: {docs}: no text field 'text' in the first record; "
                                             "fields found: body, id; set input.text_field"]
    write(tmp_path, "d.yaml", f"input: {{paths: ['{docs}'], text_field: body}}\nstages: [{{type: quality}}, "
                              "{type: minhash_dedup, params: {scope: language}}]\n")
    r = _cli(tmp_path, "validate", "d.yaml")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "d.yaml: stages[1] (minhash_dedup): reads 'language'" in r.stderr
    r = _cli(tmp_path, "validate", "d.yaml", "--set", "stages[1].params.scope=global")
    assert r.returncode == 0 and "d.yaml: OK (2 stages: quality, minhash_dedup)" in r.stdout


def test_stages_command_prints_each_kind(tmp_path):
    lines = _cli(tmp_path, "stages").stdout.splitlines()
    kinds = {line.split()[0]: line.split()[1] for line in lines if " reads=" in line}
    registered = available_stages()  # in this process, maybe more: stages other tests registered
    assert set(kinds) <= set(registered) and {n: registered[n].kind() for n in kinds} == kinds
    assert kinds["langid"] == "actor" and kinds["normalize"] == "task" and kinds["minhash_dedup"] == "global"
