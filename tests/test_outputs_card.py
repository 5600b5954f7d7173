"""The dataset card (OUTDIR/README.md): a Hugging Face card the Hub and `datasets` read."""
import glob

import pytest
import yaml

from outputs_helpers import LANGS, shared_small_run
from xcurate.engine.card import benchmark_suites, size_category


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return shared_small_run(tmp_path_factory)


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_card_header_lists_languages_configs_size_and_licenses(run):
    _, out, manifest = run
    header = _front_matter((out / "README.md").read_text())
    assert header["language"] == ["deu", "eng", "fra"]
    assert header["license"] == ["cc-by-4.0", "odc-by"]
    assert header["size_categories"] == ["n<1K"]
    configs = {c["config_name"]: c for c in header["configs"]}
    assert set(configs) == {"default", *LANGS} and configs["default"]["default"] is True
    for code, config in configs.items():
        files = glob.glob(str(out / config["data_files"][0]["path"]))
        expected = {s["path"] for s in manifest["shards"] if code == "default" or f"language={code}/" in s["path"]}
        assert {f[len(str(out)) + 1:] for f in files} == expected


def test_card_body_counts_stages_and_languages(run):
    _, out, manifest = run
    body = (out / "README.md").read_text().split("---\n", 2)[2]
    dedup = next(s for s in manifest["stages"] if s["name"] == "exact_dedup")
    assert f"| exact_dedup | {dedup['input']:,} | {dedup['kept']:,} | {len(LANGS)} |" in body
    assert f"| eng_Latn | {manifest['languages']['eng_Latn']['documents']:,} |" in body
    assert "Not decontaminated" in body and "xcurate export" in body


def test_datasets_loads_a_language_config_from_the_card(run):
    import datasets
    _, out, manifest = run
    one = datasets.load_dataset(str(out), "fra_Latn", split="train", cache_dir=str(out.parent / ".hf-card"))
    assert one.num_rows == manifest["languages"]["fra_Latn"]["documents"] and set(one["language"]) == {"fra_Latn"}


def test_benchmark_suites_name_the_suite_and_its_benchmarks():
    lines = benchmark_suites([{"type": "normalize"},
                              {"type": "decontaminate", "params": {"benchmarks": "configs/benchmarks/demo_en.yaml",
                                                                   "policy": "remove_span"}},
                              {"type": "decontaminate_xling", "name": "xl",
                               "params": {"benchmarks": {"name": "inline", "benchmarks": [{"name": "b1"}]}}}])
    assert len(lines) == 2
    assert "`configs/benchmarks/demo_en.yaml` (demo-en): demo-qa" in lines[0] and "remove_span" in lines[0]
    assert lines[1].startswith("- stage `xl`") and "inline suite" in lines[1] and "b1" in lines[1]


@pytest.mark.parametrize("n,label", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (2_500_000, "1M<n<10M"),
                                     (10**13, "n>1T")])
def test_size_category(n, label):
    assert size_category(n) == label
