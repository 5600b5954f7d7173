"""Runtime data shipped with the package, and where user-relative paths resolve.

In a checkout the data lives in ``configs/``; installed, the same files are the package data
of ``xcurate.configs``. Both are read through ``importlib.resources``, so the code never
assumes where it is installed.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Optional

PACKAGE_DATA = "xcurate.configs"


def data_path(*parts: str) -> Path:
    """A file or folder of the shipped data, e.g. ``data_path("languages", "lid176_labels.tsv")``."""
    return Path(str(resources.files(PACKAGE_DATA).joinpath(*parts)))


def checkout_root() -> Optional[Path]:
    """The source checkout this code runs from, or None when installed as a package."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "stages").is_dir() else None


def shipped_config(path: str) -> Optional[Path]:
    """``configs/...`` paths as written in docs and examples, found in the package data."""
    norm = path.replace(os.sep, "/")
    if norm.startswith("configs/"):
        candidate = data_path(*norm.split("/")[1:])
        if candidate.is_file():
            return candidate
    return None


def resolve_data_path(value: str) -> Path:
    """A data path of a stage's params: ``configs/...`` from the shipped data when it is there,
    anything else as given (``~`` expanded)."""
    norm = value.replace(os.sep, "/")
    if norm.startswith("configs/"):
        shipped = data_path(*norm.split("/")[1:])
        if shipped.exists():
            return shipped
    return Path(os.path.expanduser(value))


def check_data_path(value: str, folder: bool = False) -> str:
    """``value`` when :func:`resolve_data_path` finds that file (folder); else ValueError (for validators)."""
    path = resolve_data_path(value)
    if not (path.is_dir() if folder else path.is_file()):
        raise ValueError(f"{value!r}: no such {'folder' if folder else 'file'}")
    return value


def shared_data_dir() -> str:
    """The project's shared public data: $XCURATE_SHARED_DATA, else ``../shared/data`` beside the
    checkout (or beside the working directory when installed)."""
    explicit = os.environ.get("XCURATE_SHARED_DATA")
    if explicit:
        return explicit
    base = checkout_root() or Path.cwd()
    return os.path.normpath(os.path.join(str(base), "..", "shared", "data"))
