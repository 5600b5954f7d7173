"""Every example works: each config in ``configs/`` and each command in README.md's ```bash blocks runs here.

A config or README command added without coverage fails ``test_every_config_is_covered`` /
``test_every_readme_command_is_covered``. Commands run in a workspace that looks like the checkout
(``configs/``, ``out/quickstart`` = the session's quickstart output, ``../shared/data``), through the
CLI in this process (the session's Ray), with small samples (``--set``) and offline stand-ins for
hub tokenizers and MT servers. The quickstart output is shared and must come out unchanged.
"""
import json
import logging
import os
import re
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO, require_shared, shared_data_dir
from outputs_helpers import build_tokenizer

LANGUAGE_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")  # ISO 639-3 + ISO 15924 script: deu_Latn


# --------------------------------------------------------------------------- README commands

def readme_commands():
    """The commands of README.md's ```bash blocks, continuation lines joined, comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = " ".join(re.sub(r"\s+#.*$", "", line).split())
            if command and not command.startswith("#") and command not in commands:
                commands.append(command)
    return commands


# README commands run by CI or other tests, not here. Only set-up and cluster commands belong here.
RUN_ELSEWHERE = {
    "make test": "CI itself: .ci/run runs `make test`",
    "pip install torch==2.13.0": "CI itself: `make setup` (a prerequisite of `make test`) runs it",
    "pip install '.[ml]'": "CI itself: `make setup` installs `-e '.[ml,dev]'`",
    # `make run` is `xcurate run configs/quickstart.yaml -o out/quickstart --overwrite`
    # (checked in test_make_run_is_the_quickstart): the session's quickstart_run fixture runs that config.
    "make run": "tests/conftest.py::quickstart_run",
    "pip wheel --no-deps -w dist .": "tests/packaging_helpers.py::build_wheel",
    "python samples/make_warc.py": "tests/test_web_warc.py::big_warc",
    "xcurate run configs/common_crawl.yaml -o out/cc": "tests/test_web_e2e.py::cc_run",
    # the same run with the input set to the user's crawl (a placeholder path): the sample's run above
    "xcurate run configs/common_crawl.yaml -o out/cc2 --set 'input.paths=[\"/data/CC-MAIN-*.warc.gz\"]'":
        "tests/test_web_e2e.py::cc_run",
    "ray start --head": "tests/test_core_job_submit.py::ray_head",
    "export RAY_AUTH_MODE=token": "tests/test_core_job_submit.py::ray_head",
    "ray job submit --address http://HEAD:8265 --working-dir . -- xcurate run configs/quickstart.yaml -o /shared/out":
        "tests/test_core_job_submit.py::test_job_with_working_dir_runs_on_the_installed_package",
    "pip install --no-deps --target build/pkg dist/xcurate-0.1.0-py3-none-any.whl":
        "tests/test_core_job_submit.py::test_job_without_working_dir_runs_the_package_shipped_in_py_modules",
    "ray job submit --address http://HEAD:8265 --runtime-env-json '{\"py_modules\": [\"build/pkg/xcurate\"]}' "
    "-- python -m xcurate run /shared/cfg.yaml -o /shared/out":
        "tests/test_core_job_submit.py::test_job_without_working_dir_runs_the_package_shipped_in_py_modules",
}

# Small samples for CI: extra arguments per README command (prefix match).
CHEAP = {
    "xcurate synth configs/synth_tatoeba.yaml": ["--set", "tasks[0].max_pairs_per_file=300"],
    # the cross-lingual check embeds every item (2,707 here: minutes on 2 CPUs); demo*.yaml run it
    "xcurate audit --benchmarks configs/benchmarks/shared_en.yaml": ["--no-cross-lingual"],
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, quickstart_run):
    """A folder laid out like the checkout after `make run`: configs/, out/quickstart, ../shared/data."""
    root = tmp_path_factory.mktemp("examples")
    work = root / "work"
    (work / "out").mkdir(parents=True)
    (work / "configs").symlink_to(REPO / "configs")
    (work / "samples").symlink_to(REPO / "samples")
    (work / "out" / "quickstart").symlink_to(quickstart_run[0])
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared_data_dir())
    before = _listing(quickstart_run[0])
    yield work
    assert _listing(quickstart_run[0]) == before, "an example wrote into the quickstart output"


def _listing(outdir: Path) -> dict:
    return {str(p.relative_to(outdir)): p.stat().st_mtime_ns for p in outdir.rglob("*") if p.is_file()
            and "logs" not in p.parts}


def xcurate(argv, cwd):
    """``xcurate ARGV`` in this process (the session's Ray), cwd ``cwd``; returns the exit code."""
    from xcurate.cli import main
    logger = logging.getLogger("xcurate")
    saved = logger.handlers[:], logger.level, logger.propagate
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return main([str(a) for a in argv])
    finally:
        os.chdir(old)
        logger.handlers[:], logger.level, logger.propagate = saved


_DONE = {}


def run_readme_command(command: str, work: Path, offline: dict = None) -> Path:
    """Run a README `xcurate ...` command (once per session) in ``work``; returns its -o directory."""
    if command not in _DONE:
        argv = shlex.split(command)
        assert argv[0] == "xcurate", f"{command!r}: not an xcurate command; run it in a test and list it in RUN_ELSEWHERE"
        argv = [(offline or {}).get(a, a) for a in argv[1:]]
        argv += next((extra for prefix, extra in CHEAP.items() if command.startswith(prefix)), [])
        assert xcurate(argv, work) == 0, command
        _DONE[command] = work / argv[argv.index("-o") + 1]
    return _DONE[command]


@pytest.fixture(scope="module")
def offline_tokenizers(tmp_path_factory):
    """Stand-ins for the README's tokenizers: a tokenizer.json built here; a local tiktoken BPE file
    for `cl100k_base` (which tiktoken downloads), with an end-of-document id inside its vocabulary."""
    import base64
    tmp = tmp_path_factory.mktemp("tokenizers")
    build_tokenizer(tmp / "tokenizer.json")
    ranks = {bytes([b]): b for b in range(256)}
    (tmp / "tiny.tiktoken").write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items()))
    return {"path/to/tokenizer.json": str(tmp / "tokenizer.json"), "cl100k_base": str(tmp / "tiny.tiktoken"),
            "100257": "255"}


def test_every_readme_command_is_covered():
    for command in readme_commands():
        if command.startswith("xcurate ") and command not in RUN_ELSEWHERE:
            continue  # run by test_readme_command below
        assert command in RUN_ELSEWHERE, f"README command without a test: {command!r}"
    for where in set(RUN_ELSEWHERE.values()) - {v for v in RUN_ELSEWHERE.values() if v.startswith("CI itself")}:
        path, name = where.split("::")
        source = (REPO / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{where}: no such test or fixture"


def test_make_run_is_the_quickstart(quickstart_run):
    recipe = re.search(r"^run:.*\n\t(.*)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert recipe == "$(BIN)/xcurate run configs/quickstart.yaml -o out/quickstart --overwrite"
    assert quickstart_run[1]["config_path"].endswith("configs/quickstart.yaml")


@pytest.mark.parametrize("command", [c for c in readme_commands() if c.startswith("xcurate ") and c not in RUN_ELSEWHERE])
def test_readme_command(command, workspace, offline_tokenizers):
    if "synth_tatoeba" in command or "shared_en" in command:
        require_shared()
    out = run_readme_command(command, workspace, offline_tokenizers)
    sub = shlex.split(command)[1]
    expected = {"audit": ["audit.json", "audit.html"], "mix": ["plan.json", "plan.png"],
                "synth": ["manifest.json", "report.html", "README.md"], "export": ["export.json"]}[sub]
    for name in expected:
        assert (out / name).exists(), f"{command}: {name} missing"


# --------------------------------------------------------------------------- configs/

def example_configs():
    return sorted(str(p.relative_to(REPO)) for p in [*REPO.glob("configs/*.yaml"), *REPO.glob("configs/benchmarks/*.yaml")])


# How each example config is run; a new config without an entry fails test_every_config_is_covered.
COVERAGE = {
    "configs/quickstart.yaml": "quickstart_run fixture",
    "configs/xling_encoders.yaml": "data: read by decontaminate_xling (the quickstart run)",
    "configs/mix.yaml": "README: xcurate mix configs/mix.yaml -o out/mix --dry-run, and a full run",
    "configs/mix_explicit.yaml": "mix",
    "configs/mix_scaling_law.yaml": "mix",
    "configs/mix_temperature.yaml": "mix",
    "configs/synth_tatoeba.yaml": "README: xcurate synth configs/synth_tatoeba.yaml -o out/synth",
    "configs/synth_alpaca_nllb.yaml": "synth with the tiny M2M100 built by the synth tests",
    "configs/synth_alpaca_openai.yaml": "synth against the local fake OpenAI-compatible server",
    "configs/model_signals.yaml": "run, with a classifier trained here (out/classifier, as the config expects)",
    "configs/common_crawl.yaml": "tests/test_web_e2e.py",
    "configs/benchmarks/demo.yaml": "audit",
    "configs/benchmarks/demo_en.yaml": "audit (and the quickstart's decontamination)",
    "configs/benchmarks/shared.yaml": "audit",
    "configs/benchmarks/shared_en.yaml": "README: xcurate audit --benchmarks configs/benchmarks/shared_en.yaml ...",
}


def test_every_config_is_covered():
    assert example_configs() == sorted(COVERAGE), "configs/ and COVERAGE differ: add the new config's run here"
    for config, where in COVERAGE.items():
        if where.startswith("tests/"):  # run by another test: it must name the config
            assert config in (REPO / where).read_text(encoding="utf-8"), f"{where} does not run {config}"


def test_quickstart_config_and_encoder_table(quickstart_run):
    _, m = quickstart_run
    assert m["config_path"].endswith("configs/quickstart.yaml") and m["output_documents"] > 0
    translated = next(s for s in m["stages"] if s["name"] == "decontaminate_translated")
    assert translated["input"] == translated["kept"] + 1  # the German leak, through the suite's human translation
    xling = next(s for s in m["stages"] if s["name"] == "decontaminate_xling")
    assert xling["notes"]["cross_lingual_coverage"]  # the encoder table was read for every corpus language
    assert all(LANGUAGE_CODE.match(lang) for lang in m["languages"])


@pytest.mark.parametrize("config", ["configs/mix.yaml", "configs/mix_explicit.yaml", "configs/mix_scaling_law.yaml",
                                    "configs/mix_temperature.yaml"])
def test_mix_config(config, workspace, quickstart_run, tmp_path):
    if config == "configs/mix.yaml":  # the README's dry run first: the plan alone
        plan_dir = run_readme_command("xcurate mix configs/mix.yaml -o out/mix --dry-run", workspace)
        assert not (plan_dir / "data").exists()
    out = tmp_path / "mix"
    assert xcurate(["mix", config, "-o", out], workspace) == 0
    plan = json.loads((out / "plan.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    available = set(quickstart_run[1]["languages"])
    planned = {row["language"] for row in plan["languages"]} if isinstance(plan["languages"], list) \
        else set(plan["languages"])
    # one language-code convention: the plan and the mixture use `run`'s codes
    assert planned and planned <= available and all(LANGUAGE_CODE.match(lang) for lang in planned)
    written = {p.name.split("=", 1)[1] for p in (out / "data").glob("language=*")}
    assert written and written <= planned
    assert manifest["mix"]["realized_tokens"] > 0


def test_model_signals_config(workspace, quickstart_run, tmp_path):
    # the config expects a `xcurate train-classifier` folder at out/classifier: trained here on the quickstart
    # output (kept documents vs the same documents with their words reversed), one head for every language
    kept = pq.read_table(quickstart_run[0] / "data", columns=["text", "language"], partitioning=None).to_pylist()
    for name, flip in (("positive", False), ("negative", True)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(
            {"text": " ".join(r["text"].split()[::-1]) if flip else r["text"], "language": r["language"]}) + "\n"
            for r in kept), encoding="utf-8")
    assert xcurate(["train-classifier", "--positive", tmp_path / "positive.jsonl", "--negative",
                    tmp_path / "negative.jsonl", "--language-field", "language", "--multilingual", "--min-docs", "20",
                    "-o", workspace / "out" / "classifier"], workspace) == 0
    # absolute: this session's Ray workers run in another working directory than the workspace
    model = f"stages[3].params.model={workspace / 'out' / 'classifier'}"
    assert xcurate(["run", "configs/model_signals.yaml", "-o", tmp_path / "signals", "--set", model], workspace) == 0
    manifest = json.loads((tmp_path / "signals" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["stages"]][-2:] == ["semantic_dedup", "translated_duplicates"]
    scores = pq.read_table(tmp_path / "signals" / "data", columns=["classifier_score"], partitioning=None)
    assert scores.num_rows == manifest["output_documents"] > 0 and scores["classifier_score"].null_count == 0


def _synth_languages(out: Path) -> set:
    return {p.name.split("=", 1)[1] for p in (out / "data").glob("language=*")}


def test_synth_tatoeba_config(workspace):
    require_shared("corpus", "tatoeba_laser_v1.jsonl.gz")
    out = run_readme_command("xcurate synth configs/synth_tatoeba.yaml -o out/synth", workspace)
    manifest = json.loads((out / "manifest.json").read_text())
    langs = _synth_languages(out)
    # the first 300 pairs of the file in the config's languages: English and one other language
    assert manifest["output_documents"] > 0 and "eng_Latn" in langs and len(langs) >= 2
    assert all(LANGUAGE_CODE.match(lang) for lang in langs)  # the codes `xcurate run` writes


def test_synth_alpaca_openai_config(workspace, tmp_path):
    from xcurate.mt.fake_server import FakeMTServer
    require_shared("instructions", "alpaca_en_sample.jsonl")
    with FakeMTServer() as server:
        assert xcurate(["synth", "configs/synth_alpaca_openai.yaml", "-o", tmp_path / "synth",
                        "--set", f"mt.base_url={server.url}", "--set", "mt.api_key_env=null",
                        "--set", "tasks[0].max_records_per_file=4", "--set", "tasks[1].max_pairs_per_file=100",
                        "--set", "qc.lid=false"], workspace) == 0  # the fake server's "DE:" echo is no language
    manifest = json.loads((tmp_path / "synth" / "manifest.json").read_text())
    stages = {s["name"]: s for s in manifest["stages"]}
    assert stages["mt_translate"]["input"] > 0 and stages["mt_translate"]["dropped"] == {}
    langs = _synth_languages(tmp_path / "synth")
    assert manifest["output_documents"] > 0 and all(LANGUAGE_CODE.match(lang) for lang in langs)


def test_synth_alpaca_nllb_config(workspace, tmp_path, tiny_m2m100):
    require_shared("instructions", "alpaca_en_sample.jsonl")
    assert xcurate(["synth", "configs/synth_alpaca_nllb.yaml", "-o", tmp_path / "synth",
                    "--set", f"mt.model={tiny_m2m100}", "--set", "mt.num_beams=1", "--set", "mt.max_output_tokens=8",
                    "--set", "tasks[0].max_records_per_file=2", "--set", "qc.similarity=false"], workspace) == 0
    manifest = json.loads((tmp_path / "synth" / "manifest.json").read_text())
    stages = {s["name"]: s for s in manifest["stages"]}
    # 2 records x 5 languages x 2 variants translated by the tiny model (noise: QC may reject it)
    assert stages["mt_translate"]["input"] == 20 and stages["mt_translate"]["dropped"] == {}
    assert all(LANGUAGE_CODE.match(lang) for lang in _synth_languages(tmp_path / "synth"))


@pytest.mark.parametrize("suite", ["demo", "demo_en", "shared", "shared_en"])
def test_benchmark_suite_audits_the_quickstart_output(suite, workspace, quickstart_run, tmp_path, request):
    if suite.startswith("shared"):
        require_shared("benchmarks")
    if suite == "demo_en":  # the session's audit, also read by notebooks/contamination_audit.ipynb
        out = request.getfixturevalue("quickstart_audit")
    elif suite == "shared_en":
        out = run_readme_command(
            "xcurate audit --benchmarks configs/benchmarks/shared_en.yaml out/quickstart -o out/audit", workspace)
    else:
        out = tmp_path / "audit"
        # the same-language check only (see CHEAP): shared.yaml holds FLORES-200 in 204 languages; the
        # cross-lingual check is run with demo_en.yaml (above) and by the quickstart
        cheap = ["--no-cross-lingual"]
        assert xcurate(["audit", "--benchmarks", f"configs/benchmarks/{suite}.yaml", "out/quickstart", "-o", out,
                        *cheap], workspace) == 0
    report = json.loads((out / "audit.json").read_text())
    assert report["totals"]["documents"] == quickstart_run[1]["output_documents"]
    assert report["totals"]["items"] > 0 and report["suite"]


def test_readme_audit_examples_report_what_the_readme_says(workspace, quickstart_audit):
    """README: the quickstart output (its leaks removed by the run) has 0 items found with the cross-lingual
    check on; the demo input against demo.yaml exactly the two planted leaks (q1 verbatim, q2 in German)."""
    clean = json.loads((quickstart_audit / "audit.json").read_text())["totals"]
    assert clean["benchmark_items_found"] == 0 and clean["documents_with_matches"] == 0
    out = run_readme_command(
        "xcurate audit --benchmarks configs/benchmarks/demo.yaml samples/demo.jsonl -o out/audit_demo", workspace)
    report = json.loads((out / "audit.json").read_text())
    assert report["totals"]["benchmark_items_found"] == 2 and report["totals"]["documents_with_matches"] == 2
    found = {(r["language"], ev["item_id"]) for r in report["benchmarks"]
             for rows in r["evidence"].values() for ev in rows if ev["confidence"] == "verified"}
    assert found == {("en", "q1"), ("de", "q2")}
