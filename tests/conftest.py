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
