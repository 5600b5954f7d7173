"""Discoverability: stage parameter schemas, help on every option with defaults, -q/-v everywhere."""
import argparse

import pytest

from xcurate.cli import build_parser, main, stage_parameters
from xcurate.engine.registry import available_stages


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", sorted(available_stages()))
def test_every_stage_parameter_is_described(name):
    rows = stage_parameters(available_stages()[name].Params)
    undescribed = [r["name"] for r in rows if not r["description"].strip()]
    assert not undescribed, f"stage {name}: parameters without a description: {undescribed}"


def test_stages_name_prints_type_default_and_description(capsys):
    assert main(["stages", "minhash_dedup"]) == 0
    out = capsys.readouterr().out
    for row in stage_parameters(available_stages()["minhash_dedup"].Params):
        assert f"{row['name']}: {row['type']} = {row['default']}" in out
    assert "LSH bands" in out  # a description, wrapped under its parameter
    assert "ngram_size: int = 5" in out


def test_stages_with_an_unknown_name_is_a_one_line_error(capsys):
    assert main(["stages", "no_such_stage"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xcurate: error: unknown stage 'no_such_stage'") and err.count("\n") == 1


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_has_help_and_defaults_are_shown(command):
    sub = _subparsers()[command]
    missing = [a.dest for a in sub._actions if not a.help and not isinstance(a, argparse._HelpAction)]
    assert not missing, f"`xcurate {command}`: no help for {missing}"
    text = sub.format_help()
    for action in sub._actions:
        if (action.option_strings and action.nargs != 0 and action.default != argparse.SUPPRESS
                and isinstance(action.default, (int, float, str)) and not isinstance(action.default, bool)):
            assert f"default: {action.default}" in " ".join(text.split()), (command, action.dest)


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_command_takes_quiet_and_verbose(command):
    options = {s for a in _subparsers()[command]._actions for s in a.option_strings}
    assert {"-q", "--quiet", "-v", "--verbose"} <= options
