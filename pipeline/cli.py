"""The ``xcurate`` command line (also ``python -m xcurate``).

Core subcommands live here; feature modules add theirs through ``add_subcommand(subparsers)``
(listed in ``PLUGIN_MODULES``), so each capability owns its own CLI code.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

PLUGIN_MODULES = [
    "xcurate.workflows.calibrate",   # calibrate-lid
    "xcurate.workflows.audit",       # audit
    "xcurate.workflows.synth",       # synth
    "xcurate.workflows.mix",         # mix
]


from xcurate.errors import UserError  # noqa: E402  (re-exported for feature modules)


def _cmd_run(args) -> int:
    from xcurate.engine.runner import run_pipeline
    run_pipeline(args.config, args.output, address=args.address, overrides=args.set,
                 overwrite=args.overwrite)
    return 0


def _cmd_validate(args) -> int:
    from xcurate.engine.config import load_config
    cfg = load_config(args.config, overrides=args.set)
    print(f"{args.config}: OK ({len(cfg.stages)} stages: {', '.join(s.name for s in cfg.stages)})")
    return 0


def _cmd_stats(args) -> int:
    from xcurate.engine.manifest import print_stats
    print_stats(args.outdir)
    return 0


def _cmd_stages(args) -> int:
    from xcurate.engine.registry import available_stages
    for name, cls in available_stages().items():
        print(f"{name:20s} {cls.kind():6s} reads={list(cls.reads)} writes={list(cls.writes)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xcurate", description="Multilingual data curation on Ray.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a pipeline config", description="Run a pipeline config on Ray.")
    r.add_argument("config")
    r.add_argument("-o", "--output", required=True, help="output directory (local path or s3://, gs://)")
    r.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else an embedded local Ray)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set stages[1].params.min_chars=50")
    r.add_argument("--overwrite", action="store_true", help="replace an output dir written by another config")
    r.set_defaults(func=_cmd_run)

    v = sub.add_parser("validate", help="validate a config without running it")
    v.add_argument("config")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    v.set_defaults(func=_cmd_validate)

    s = sub.add_parser("stats", help="print the summary of an output directory")
    s.add_argument("outdir")
    s.set_defaults(func=_cmd_stats)

    st = sub.add_parser("stages", help="list the registered stages")
    st.set_defaults(func=_cmd_stages)

    for mod_name in PLUGIN_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name == mod_name:
                continue  # capability not installed in this checkout
            raise
        mod.add_subcommand(sub)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    from pydantic import ValidationError
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, FileNotFoundError, ValidationError) as e:
        print(f"xcurate: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
