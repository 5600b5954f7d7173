import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def shared_data_dir() -> Path:
    return Path(os.environ.get("XCURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_shared(*parts: str) -> Path:
    """A path under ../shared/data; missing: the test fails under CI (CI=true), skips elsewhere."""
    path = shared_data_dir().joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {path} (set XCURATE_SHARED_DATA)")
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole test session (2 CPUs, no dashboard)."""
    import ray
    if not ray.is_initialized():
        # address="local": our own Ray, never another session's cluster found on the machine
        ray.init(address="local", num_cpus=2, include_dashboard=False, ignore_reinit_error=True,
                 runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield ray


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory, ray_local):
    """``configs/quickstart.yaml`` run once per test session (cwd = the repo, as `make run`): (OUTDIR, manifest).

    Shared by every test that reads the quickstart output (its own tests, the example configs,
    the README's commands, the notebooks); none of them may write into it.
    """
    from xcurate.engine.runner import run_pipeline
    out = tmp_path_factory.mktemp("quickstart") / "out"
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        return out, run_pipeline("configs/quickstart.yaml", str(out), quiet=True)
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="session")
def tiny_m2m100(tmp_path_factory, shared_data):
    """A tiny M2M100 (tokenizer trained on Tatoeba text, random weights) built once per session: its path."""
    from test_synth_hf import tatoeba_sentences
    from xcurate.mt.tiny import build_tiny_m2m100
    return build_tiny_m2m100(tatoeba_sentences(shared_data), str(tmp_path_factory.mktemp("tiny_m2m100")))


@pytest.fixture(scope="session")
def quickstart_audit(tmp_path_factory, quickstart_run):
    """``xcurate audit --benchmarks configs/benchmarks/demo_en.yaml`` of the quickstart output, once per session."""
    import xcurate
    out = tmp_path_factory.mktemp("quickstart_audit") / "audit"
    xcurate.audit([str(quickstart_run[0])], str(out), benchmarks="configs/benchmarks/demo_en.yaml")
    return out
