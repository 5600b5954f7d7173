"""The output directory: what xcurate may write, resume or replace."""
from __future__ import annotations

import os

from xcurate import fsutil
from xcurate.engine.config import LoadedConfig
from xcurate.errors import RunError

RUN_FILE = "_xc_run.json"
WORK_DIR = "_xc_work"


def prepare_outdir(outdir: str, cfg: LoadedConfig, overwrite: bool) -> bool:
    """Create/verify OUTDIR. Returns True when resuming a run of the same config."""
    run_file = fsutil.join(outdir, RUN_FILE)
    info = {"config_hash": cfg.config_hash(), "config": cfg.raw}
    if fsutil.exists(run_file):
        previous = fsutil.read_json(run_file)
        if previous.get("config_hash") == info["config_hash"] and not overwrite:
            return True
        if not overwrite:
            raise RunError(f"{outdir} holds output of another config (hash {previous.get('config_hash')}, "
                           f"this one is {info['config_hash']}); use --overwrite to replace it")
        _remove_tree(outdir)
    elif fsutil.exists(outdir) and _non_empty(outdir):
        if not overwrite:
            raise RunError(f"{outdir} is not empty and was not written by xcurate; use --overwrite")
        _remove_tree(outdir)
    fsutil.makedirs(outdir)
    fsutil.atomic_write_json(info, run_file)
    return False


def _non_empty(path: str) -> bool:
    return os.path.isdir(path) and bool(os.listdir(path)) if "://" not in path else True


def _remove_tree(path: str) -> None:
    fs, p = fsutil.filesystem_for(path)
    fs.delete_dir_contents(p, missing_dir_ok=True)
