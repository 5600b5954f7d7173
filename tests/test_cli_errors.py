"""Every CLI command, given a broken input of each kind a user can cause, exits 2 with one
``xcurate: error:`` line naming the file, field or value, and never prints a traceback.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINARY = b"\x00\x01\x02\xff\xfe\xfd binary \x9c\x00"

# (case id, argv, what the error line must name); {d} is the case's scratch directory.
CASES = [
    ("run-missing-config", ["run", "{d}/nope.yaml", "-o", "{d}/out"], "nope.yaml"),
    ("run-binary-config", ["run", "{d}/binary.yaml", "-o", "{d}/out"], "binary.yaml"),
    ("run-bad-yaml", ["run", "{d}/bad.yaml", "-o", "{d}/out"], "bad.yaml"),
    ("run-bad-set", ["run", "{d}/ok.yaml", "-o", "{d}/out", "--set", "x=[1"], "x=[1"),
    ("run-wrong-field", ["run", "{d}/ok.yaml", "-o", "{d}/out", "--set", "input.txt_field=body"], "txt_field"),
    ("run-wrong-text-field", ["run", "{d}/ok.yaml", "-o", "{d}/out", "--set", "input.text_field=body"], "body"),
    ("run-missing-input", ["run", "{d}/ok.yaml", "-o", "{d}/out", "--set", "input.paths=[{d}/gone.jsonl]"],
     "gone.jsonl"),
    ("run-outdir-is-a-file", ["run", "{d}/ok.yaml", "-o", "{d}/docs.jsonl"], "docs.jsonl"),
    ("validate-missing-config", ["validate", "{d}/nope.yaml"], "nope.yaml"),
    ("validate-binary-config", ["validate", "{d}/binary.yaml"], "binary.yaml"),
    ("validate-bad-yaml", ["validate", "{d}/bad.yaml"], "bad.yaml"),
    ("validate-bad-set", ["validate", "{d}/ok.yaml", "--set", "x=[1"], "x=[1"),
    ("validate-wrong-field", ["validate", "{d}/ok.yaml", "--set", "stages[0].params.nope=1"], "nope"),
    ("stats-missing-outdir", ["stats", "{d}/nowhere"], "nowhere"),
    ("stats-binary-file", ["stats", "{d}/binary.yaml"], "binary.yaml"),
    ("stages-unknown-name", ["stages", "no_such_stage"], "no_such_stage"),
    ("audit-missing-data", ["audit", "--benchmarks", "{d}/suite.yaml", "{d}/gone.jsonl", "-o", "{d}/a"], "gone.jsonl"),
    ("audit-missing-suite", ["audit", "--benchmarks", "{d}/nope.yaml", "{d}/docs.jsonl", "-o", "{d}/a"], "nope.yaml"),
    ("audit-binary-suite", ["audit", "--benchmarks", "{d}/binary.yaml", "{d}/docs.jsonl", "-o", "{d}/a"],
     "binary.yaml"),
    ("audit-bad-yaml-suite", ["audit", "--benchmarks", "{d}/bad.yaml", "{d}/docs.jsonl", "-o", "{d}/a"], "bad.yaml"),
    ("audit-wrong-text-field", ["audit", "--benchmarks", "{d}/suite.yaml", "{d}/docs.jsonl", "-o", "{d}/a",
                                "--text-field", "body"], "body"),
    ("mix-missing-config", ["mix", "{d}/nope.yaml", "-o", "{d}/m"], "nope.yaml"),
    ("mix-binary-config", ["mix", "{d}/binary.yaml", "-o", "{d}/m"], "binary.yaml"),
    ("mix-bad-yaml", ["mix", "{d}/bad.yaml", "-o", "{d}/m"], "bad.yaml"),
    ("mix-bad-set", ["mix", "{d}/mix.yaml", "-o", "{d}/m", "--set", "x=[1"], "x=[1"),
    ("mix-wrong-field", ["mix", "{d}/mix.yaml", "-o", "{d}/m", "--set", "polcy.type=unimax"], "polcy"),
    ("synth-missing-config", ["synth", "{d}/nope.yaml", "-o", "{d}/s"], "nope.yaml"),
    ("synth-binary-config", ["synth", "{d}/binary.yaml", "-o", "{d}/s"], "binary.yaml"),
    ("synth-bad-yaml", ["synth", "{d}/bad.yaml", "-o", "{d}/s"], "bad.yaml"),
    ("synth-bad-set", ["synth", "{d}/synth.yaml", "-o", "{d}/s", "--set", "x=[1"], "x=[1"),
    ("synth-wrong-field", ["synth", "{d}/synth.yaml", "-o", "{d}/s", "--set", "taskz=[]"], "taskz"),
    ("calibrate-missing-input", ["calibrate-lid", "{d}/gone.jsonl", "-o", "{d}/t.yaml"], "gone.jsonl"),
    ("calibrate-binary-input", ["calibrate-lid", "{d}/binary.yaml", "-o", "{d}/t.yaml"], "binary.yaml"),
    ("calibrate-wrong-text-field", ["calibrate-lid", "{d}/docs.jsonl", "-o", "{d}/t.yaml", "--text-field", "body"],
     "body"),
]


def _write_inputs(d: Path) -> None:
    (d / "binary.yaml").write_bytes(BINARY)
    (d / "bad.yaml").write_text("input: [1\nstages: {\n")
    (d / "docs.jsonl").write_text('{"id": "a", "text": "Plenty of words in a small document here."}\n')
    (d / "ok.yaml").write_text(f"input: {{paths: ['{d}/docs.jsonl']}}\nstages:\n  - type: normalize\n")
    (d / "suite.yaml").write_text("name: s\nbenchmarks:\n  - {name: b, adapter: generic, path: items.jsonl}\n")
    (d / "items.jsonl").write_text('{"id": "1", "text": "which river flows through the old capital city '
                                   'of the northern kingdom in the story"}\n')
    (d / "mix.yaml").write_text(f"sources: [{{name: web, path: '{d}/docs.jsonl', language: en}}]\n"
                                "policy: {type: unimax, total_tokens: 1k}\n")
    (d / "synth.yaml").write_text(f"tasks:\n  - type: translation\n    input: {{paths: ['{d}/docs.jsonl'], "
                                  "src_lang: en, tgt_lang: de}\n")


# Runs the cases one after the other in one interpreter through the CLI's own ``main`` (what
# ``python -m xcurate`` calls), with what would be printed to stderr, including the traceback
# of anything escaping ``main``: one process start instead of one per case.
_DRIVER = """
import contextlib, io, json, sys, traceback
from xcurate.cli import main
results = {}
for case_id, argv in json.load(sys.stdin).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        except BaseException:
            traceback.print_exc()
            rc = 1
    results[case_id] = [rc, err.getvalue()]
print(json.dumps(results))
"""
ENTRY_POINT_CASES = ("run-bad-set", "calibrate-binary-input")  # also run as `python -m xcurate`


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """{case id: (rc, stderr, scratch dir)} for every case."""
    env = dict(os.environ, RAY_ADDRESS="", PYTHONPATH=str(REPO))
    argvs, dirs = {}, {}
    for case_id, argv, _ in CASES:
        d = dirs[case_id] = tmp_path_factory.mktemp(case_id)
        _write_inputs(d)
        argvs[case_id] = [a.replace("{d}", str(d)) for a in argv]
    entry_points = {c: subprocess.Popen([sys.executable, "-m", "xcurate", *argvs[c]], cwd=dirs[c], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in ENTRY_POINT_CASES}
    driver = subprocess.run([sys.executable, "-c", _DRIVER], input=json.dumps(argvs), capture_output=True,
                            text=True, env=env, timeout=600)
    assert driver.returncode == 0, driver.stderr
    results = {c: (rc, err, dirs[c]) for c, (rc, err) in json.loads(driver.stdout.splitlines()[-1]).items()}
    for case_id, proc in entry_points.items():
        _, err = proc.communicate(timeout=600)
        results[f"{case_id} (python -m xcurate)"] = (proc.returncode, err.decode("utf-8", "replace"), dirs[case_id])
    return results


@pytest.mark.parametrize("case_id,named", [(c[0], c[2]) for c in CASES] +
                         [(f"{c} (python -m xcurate)", n) for c, _, n in CASES if c in ENTRY_POINT_CASES],
                         ids=lambda v: v if " " not in v else v.split()[0] + "-entry-point")
def test_user_error_is_one_named_line_with_exit_code_2(cli_results, case_id, named):
    rc, err, d = cli_results[case_id]
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("xcurate: error:")]
    assert rc == 2, err
    assert len(errors) == 1, err
    assert named.replace("{d}", str(d)) in errors[0], errors[0]
