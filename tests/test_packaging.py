"""The built wheel, installed into a fresh virtualenv outside the repo, runs a pipeline from a temp dir.

Guards the package layout: one import name (``xcurate``), runtime data as package data
(language tables, quality settings, templates, benchmark suites with the demo suite's items),
the ``xcurate`` script and ``python -m xcurate``.
"""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from packaging_helpers import installed_wheel

SUITE_DATA = ("*.yaml", "*.tsv", "*.jsonl", "*.json")


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    return installed_wheel(tmp_path_factory)


def checkout_data_files():
    return {f"xcurate/configs/{p.relative_to(REPO / 'configs').as_posix()}"
            for pattern in SUITE_DATA for p in (REPO / "configs").rglob(pattern)}


def test_wheel_is_one_namespace_with_all_runtime_data(wheel_env):
    names = zipfile.ZipFile(wheel_env.wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"xcurate", "xcurate-0.1.0.dist-info"}
    data = checkout_data_files()
    for needed in ("languages/lid176_labels.tsv", "languages/iso639_names.tsv", "languages/lid_thresholds/lid176.yaml",
                   "languages/quality/_default.yaml", "templates/translation_en.yaml",
                   "benchmarks/demo_en.yaml", "benchmarks/demo_benchmark.jsonl"):
        assert f"xcurate/configs/{needed}" in data
    assert sorted(data - set(names)) == []
    assert "xcurate/stages/langid.py" in names and "xcurate/engine/runner.py" in names
    entry_points = zipfile.ZipFile(wheel_env.wheel).read("xcurate-0.1.0.dist-info/entry_points.txt").decode()
    assert "xcurate = xcurate.cli:main" in entry_points


def test_installed_package_is_imported_from_the_new_venv(wheel_env, tmp_path):
    probe = ("import importlib.util, json, xcurate\n"
             "from xcurate.resources import checkout_root, data_path\n"
             "from xcurate.contamination.suites import load_suite, resolve_suite_path\n"
             "suite = load_suite(resolve_suite_path('configs/benchmarks/demo_en.yaml'))\n"
             "print(json.dumps({'file': xcurate.__file__, 'version': xcurate.__version__,\n"
             "  'checkout': checkout_root() is not None, 'labels': data_path('languages', 'lid176_labels.tsv').is_file(),\n"
             "  'demo_items': len(suite.items), 'squatted': [n for n in ('pipeline', 'stages', 'configs')\n"
             "                                           if importlib.util.find_spec(n)]}))\n")
    out = json.loads(wheel_env.run([wheel_env.python, "-c", probe], cwd=tmp_path).stdout)
    assert Path(out["file"]).resolve().is_relative_to(wheel_env.venv.resolve()), out["file"]
    assert out == {**out, "version": "0.1.0", "checkout": False, "labels": True, "demo_items": 4, "squatted": []}


def test_installed_cli_runs_langid_quality_minhash_from_a_temp_dir(wheel_env, tmp_path):
    shutil.copy(REPO / "samples" / "demo.jsonl", tmp_path / "docs.jsonl")
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({
        "input": {"paths": ["docs.jsonl"]},
        "ray": {"num_cpus": 2, "progress_bars": False},
        "stages": [{"type": "langid"}, {"type": "quality"},
                   {"type": "minhash_dedup", "params": {"bands": 14, "rows": 8, "num_perm": 112}}]}))

    version = wheel_env.run([wheel_env.bin("xcurate"), "--version"], cwd=tmp_path).stdout
    assert version.strip() == "xcurate 0.1.0"
    validated = wheel_env.run([wheel_env.bin("xcurate"), "validate", "pipeline.yaml"], cwd=tmp_path).stdout
    assert "OK (3 stages: langid, quality, minhash_dedup)" in validated
    kinds = dict(line.split()[:2] for line in wheel_env.run([wheel_env.bin("xcurate"), "stages"], cwd=tmp_path)
                 .stdout.splitlines() if " reads=" in line)
    assert kinds["langid"] == "actor" and kinds["quality"] == "task" and kinds["minhash_dedup"] == "global"

    wheel_env.run([wheel_env.python, "-m", "xcurate", "run", "pipeline.yaml", "-o", "out"], cwd=tmp_path, timeout=300)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    stages = {s["name"]: s for s in manifest["stages"]}
    assert list(stages) == ["read", "langid", "quality", "minhash_dedup"]
    assert manifest["input_documents"] == sum(1 for _ in open(tmp_path / "docs.jsonl", "rb"))
    assert stages["quality"]["dropped"] and stages["minhash_dedup"]["dropped"].get("near_duplicate", 0) > 0
    assert manifest["output_documents"] == stages["minhash_dedup"]["kept"] > 0
    assert (tmp_path / "out" / "data" / "language=eng_Latn").is_dir()


def test_api_facade_is_lazy_and_every_name_resolves(tmp_path):
    probe = ("import sys, xcurate\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'pyarrow') or m.startswith('xcurate.'))\n"
             "names = {n: getattr(xcurate, n).__module__ for n in xcurate.__all__ if n != '__version__'}\n"
             "print(heavy, names['run'], names['audit'], names['mix'], names['synth'], names['register'])\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert out.split() == ["[]", "xcurate.engine.runner", "xcurate.workflows.audit", "xcurate.workflows.mix",
                           "xcurate.workflows.synth", "xcurate.engine.registry"]


def test_readme_custom_stage_runs_through_the_python_api(tmp_path, ray_local):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import xcurate

    class DigitRatioParams(xcurate.StageParams):
        max_ratio: float = 0.3

    @xcurate.register
    class DigitRatioFilter(xcurate.Stage):
        name = "digit_ratio"
        reads = ("text",)
        writes = ("digit_ratio",)
        Params = DigitRatioParams

        def process(self, table):
            ratios = [sum(c.isdigit() for c in t) / max(len(t), 1) for t in table.column("text").to_pylist()]
            reasons = ["too_many_digits" if r > self.params.max_ratio else None for r in ratios]
            return xcurate.StageOutput(table.append_column("digit_ratio", pa.array(ratios)),
                                       pa.array(reasons, pa.string()))

    docs = ["plain words only here", "call 555 0100 2345 6789", "another plain line", "2024 12 31 00 00 00"]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n"
                                                 for i, t in enumerate(docs)))
    manifest = xcurate.run({"input": {"paths": [str(tmp_path / "docs.jsonl")]}, "ray": {"progress_bars": False},
                            "stages": [{"type": "normalize"},
                                       {"type": "digit_ratio", "params": {"max_ratio": 0.2}}]},
                           str(tmp_path / "out"), quiet=True)
    stage = next(s for s in manifest["stages"] if s["name"] == "digit_ratio")
    assert stage["input"] == 4 and stage["kept"] == 2 and stage["dropped"] == {"too_many_digits": 2}
    kept = pq.read_table(tmp_path / "out" / "data")
    assert sorted(kept.column("text").to_pylist()) == ["another plain line", "plain words only here"]
    assert kept.column("digit_ratio").to_pylist() == [0.0, 0.0]
    with pytest.raises(xcurate.UserError, match=r"<config>: stages\[0\] \(digit_ratio\): reads 'language', which"):
        DigitRatioFilter.reads = ("text", "language")
        try:
            xcurate.run({"input": {"paths": [str(tmp_path / "docs.jsonl")]}, "stages": [{"type": "digit_ratio"}]},
                        str(tmp_path / "out2"), quiet=True)
        finally:
            DigitRatioFilter.reads = ("text",)
