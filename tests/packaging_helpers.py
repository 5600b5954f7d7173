"""Build the wheel from this checkout and install it into a fresh virtualenv outside the repo.

The new virtualenv gets only the wheel; its dependencies come from the test's own environment
through a ``.pth`` line naming that environment's site-packages, so nothing is downloaded. A
path added by a ``.pth`` line is not a site directory, so the ``.pth`` files inside it (among
them the editable-install finder that maps ``xcurate`` onto this checkout) are not processed:
``import xcurate`` in the new environment can only find the installed wheel.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

# What a source distribution of the project holds; the build runs on a copy so that it never
# writes build/ or *.egg-info into the checkout (other test runs may share it).
BUILD_SOURCES = ("pyproject.toml", "README.md", "pipeline", "stages", "configs")


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def build_wheel(work: Path) -> Path:
    src, dist = work / "src", work / "dist"
    for name in BUILD_SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, src / name)
    # No build isolation: setuptools comes from this environment instead of a download.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src])
    (wheel,) = dist.glob("xcurate-*.whl")
    return wheel


@dataclass
class WheelEnv:
    wheel: Path
    venv: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    @property
    def python(self) -> str:
        return self.bin("python")

    def env(self, **extra: str) -> dict:
        """The environment of a shell in the new virtualenv: its bin first, nothing of the checkout."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS", "VIRTUAL_ENV")}
        env.update(PATH=f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", VIRTUAL_ENV=str(self.venv), **extra)
        return env

    def run(self, cmd, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
        return _run(cmd, cwd=cwd, env=self.env(), **kwargs)


def create_venv(venv: Path, wheel: Path) -> WheelEnv:
    """A fresh virtualenv holding the wheel, with this environment's packages as its dependencies."""
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    # This environment's pip installs into the new one; installing before the .pth below exists
    # keeps pip from seeing (and replacing) the editable install of the checkout.
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel])
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    ours = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site / "_xcurate_test_dependencies.pth").write_text("".join(p + "\n" for p in ours))
    return WheelEnv(wheel, venv)


def installed_wheel(tmp_path_factory) -> WheelEnv:
    """The wheel of this checkout, built and installed into a fresh virtualenv under pytest's temp dir."""
    work = tmp_path_factory.mktemp("wheel")
    return create_venv(work / "venv", build_wheel(work))
