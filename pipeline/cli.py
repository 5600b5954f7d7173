"""The ``xcurate`` command line (also ``python -m xcurate``).

Core subcommands live here; feature modules add theirs through ``add_subcommand(subparsers)``
(listed in ``PLUGIN_MODULES``), so each capability owns its own CLI code. Every subcommand
gets ``-q``/``-v`` and shows option defaults in ``--help``.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
import textwrap
from typing import Any, List, Optional

PLUGIN_MODULES = [
    "xcurate.workflows.calibrate",   # calibrate-lid
    "xcurate.workflows.calibrate_quality",  # calibrate-quality
    "xcurate.workflows.audit",       # audit
    "xcurate.workflows.synth",       # synth
    "xcurate.workflows.mix",         # mix
    "xcurate.workflows.export",      # export
    "xcurate.workflows.train_classifier",  # train-classifier
]


import xcurate  # noqa: E402
from xcurate.errors import UserError  # noqa: E402  (re-exported for feature modules)


def _cmd_run(args) -> int:
    from xcurate.engine.runner import run_pipeline
    run_pipeline(args.config, args.output, address=args.address, overrides=args.set,
                 overwrite=args.overwrite, keep_intermediates=args.keep_intermediates, quiet=args.verbosity < 0,
                 stop_ray=True)
    return 0


def _cmd_validate(args) -> int:
    from xcurate.engine.config import load_config, plan_input
    cfg = load_config(args.config, overrides=args.set)
    plan_input(cfg)
    print(f"{args.config}: OK ({len(cfg.stages)} stages: {', '.join(s.name for s in cfg.stages)})")
    return 0


def _cmd_stats(args) -> int:
    from xcurate.engine.manifest import print_summary, quarantine_text
    from xcurate.engine.outdir import require_complete
    manifest = require_complete(args.outdir)
    print_summary(manifest)
    print("\n" + quarantine_text(manifest))
    return 0


def _cmd_stages(args) -> int:
    from xcurate.engine.registry import available_stages, get_stage_class
    if args.name:
        try:
            cls = get_stage_class(args.name)
        except KeyError as e:
            raise UserError(str(e.args[0])) from None
        print(stage_help(cls))
        return 0
    for name, cls in available_stages().items():
        print(f"{name:20s} {cls.kind():6s} reads={list(cls.reads)} writes={list(cls.writes)}")
    print("\n`xcurate stages NAME` shows a stage's parameters.")
    return 0


def stage_parameters(model, prefix: str = "") -> List[dict]:
    """Every parameter of a pydantic params class: name, type, default, description.

    A nested model is flattened to ``a.b`` rows, unless the field describes it as a whole (a
    config documented elsewhere, such as the mixture config of ``mix_sample``).
    """
    from pydantic import BaseModel
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and not field.description:
            rows.extend(stage_parameters(annotation, f"{prefix}{name}."))
            continue
        default: Any = field.get_default(call_default_factory=True)
        rows.append({"name": prefix + name, "type": _type_name(annotation),
                     "default": "(required)" if field.is_required() else repr(default),
                     "description": field.description or ""})
    return rows


def _type_name(annotation) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text).replace("NoneType", "None")  # typing.X, pkg.mod.Class → X


def stage_help(cls) -> str:
    doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().split("\n\n")[0]
    lines = [f"{cls.name} ({cls.kind()}): {' '.join(doc.split())}",
             f"reads {list(cls.reads)}, writes {list(cls.writes)}", "", "parameters:"]
    for row in stage_parameters(cls.Params):
        lines.append(f"  {row['name']}: {row['type']} = {row['default']}")
        lines.extend(textwrap.wrap(row["description"], 88, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the uninformative ones (None, False, empty lists, flags)."""

    def _get_help_string(self, action):
        if (action.default is None or action.default is False or action.default == [] or action.nargs == 0
                or action.default == argparse.SUPPRESS
                or "%(default)" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


def _add_console_options(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _HelpFormatter
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=0,
                       help="print warnings and errors only")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                       help="debug messages, and Ray's own output on the console instead of OUTDIR/logs/ray.log")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xcurate", description="Multilingual data curation on Ray.")
    p.add_argument("--version", action="version", version=f"xcurate {xcurate.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a pipeline config", description="Run a pipeline config on Ray.")
    r.add_argument("config", help="pipeline config (YAML), e.g. configs/quickstart.yaml")
    r.add_argument("-o", "--output", required=True, help="output directory (local path or s3://, gs://)")
    r.add_argument("--address", default=None, help="Ray address (default: $RAY_ADDRESS, else an embedded local Ray)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set stages[1].params.min_chars=50")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an output dir written by xcurate for another config or other inputs")
    r.add_argument("--keep-intermediates", action="store_true", help="keep _xc_work/ after a successful run")
    r.set_defaults(func=_cmd_run)

    v = sub.add_parser("validate", help="validate a config without running it")
    v.add_argument("config", help="pipeline config (YAML)")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, as for `run`")
    v.set_defaults(func=_cmd_validate)

    s = sub.add_parser("stats", help="print the summary of an output directory")
    s.add_argument("outdir", help="output directory of a finished `xcurate run`")
    s.set_defaults(func=_cmd_stats)

    st = sub.add_parser("stages", help="list the registered stages, or show one stage's parameters")
    st.add_argument("name", nargs="?", default=None, help="a stage name: print its parameters (type, default, description)")
    st.set_defaults(func=_cmd_stages)

    for mod_name in PLUGIN_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name == mod_name:
                continue  # capability not installed in this checkout
            raise
        mod.add_subcommand(sub)
    for parser in sub.choices.values():
        _add_console_options(parser)
    return p


def user_error_text(e: BaseException) -> Optional[str]:
    """The message of an error the user caused (input, config, path), or None for a bug.

    Libraries raise these with their own types (pydantic, YAML, a missing or unreadable path);
    a worker's error arrives wrapped by Ray, so the chain of causes is searched too.
    """
    import yaml
    from pydantic import ValidationError

    from xcurate.engine.config import format_validation_error, yaml_error_text
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, UserError):
            return str(e)
        if isinstance(e, ValidationError):
            return format_validation_error(e, e.title)
        if isinstance(e, yaml.YAMLError):
            return yaml_error_text(e)
        if isinstance(e, OSError) and e.filename:
            return f"{e.filename}: {e.strerror or e}"
        e = getattr(e, "cause", None) or e.__cause__
    return None


def main(argv: Optional[List[str]] = None) -> int:
    from xcurate.engine.console import setup_logging
    args = build_parser().parse_args(argv)
    setup_logging(args.verbosity)
    try:
        return args.func(args) or 0
    except Exception as e:
        message = user_error_text(e)
        if message is None:
            raise  # a bug: its traceback is what a report needs
        lines = [line.strip() for line in message.splitlines() if line.strip()] or [type(e).__name__]
        print(f"xcurate: error: {'; '.join(lines)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
