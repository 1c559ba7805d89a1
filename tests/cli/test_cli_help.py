"""`--help` works for `mailward` and every sub-command, found by walking the argparse parser."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers_subprocess import last_line_printed

from mailward.cli.main import COMMANDS as TABLE
from mailward.cli.main import build_parser, command_in, main, parse_args


def _command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _command_paths(child, (*path, name))


COMMANDS = list(_command_paths(build_parser()))


def test_the_walk_finds_nested_commands() -> None:
    assert ("eval",) in COMMANDS
    assert ("quarantine", "list") in COMMANDS
    assert len(COMMANDS) > 10


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "mailward")
def test_help_exits_0_with_usage(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mailward")
    assert " ".join(("mailward", *path)) in out.splitlines()[0]


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_the_help_lines_of_the_commands_table_are_the_modules_own() -> None:
    # `mailward --help` shows COMMANDS' lines for the sub-commands it does not import
    shown = {a.dest: a.help for a in _subcommands(build_parser())._choices_actions}
    assert shown == {name: help_line for name, (_, help_line) in TABLE.items()}
    assert list(_subcommands(build_parser()).choices) == list(TABLE)


def test_the_lazy_parser_shows_the_same_top_level_help() -> None:
    assert build_parser(set()).format_help() == build_parser().format_help()


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["quarantine", "list"], "quarantine"),
        (["-c", "serve", "db", "current"], "db"),
        (["--config", "x.toml", "serve"], "serve"),
        (["--conf", "lockdown", "hunt"], "hunt"),
        (["--config=x.toml", "-cy.toml", "report", "id"], "report"),
        (["--", "scan"], "scan"),
        (["--help"], None),
        (["bogus", "scan"], None),
        ([], None),
    ],
)
def test_command_in_finds_the_sub_command(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


@pytest.mark.parametrize(
    "argv",
    [
        ["quarantine", "list", "--limit", "5"],
        ["-c", "a.toml", "lockdown", "status"],
        ["--config=a.toml", "report", "q1", "--as", "phish", "--reason", "r"],
        ["train", "corpus"],
    ],
)
def test_the_lazy_parse_equals_the_whole_parser(argv: list[str]) -> None:
    lazy, whole = parse_args(argv), build_parser().parse_args(argv)
    assert vars(lazy).keys() == vars(whole).keys()
    for key, value in vars(whole).items():
        if key == "run":  # the same function (each parser imported the module)
            assert (value.__module__, value.__name__) == (lazy.run.__module__, lazy.run.__name__)
        else:
            assert getattr(lazy, key) == value


def test_the_whole_parser_is_the_fallback_when_no_sub_command_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a spelling command_in does not understand still parses, with every sub-command built
    monkeypatch.setattr("mailward.cli.main.command_in", lambda _argv: None)
    args = parse_args(["quarantine", "list"])
    assert (args.command, args.qcommand) == ("quarantine", "list")


def test_a_store_command_does_not_import_the_engine(tmp_path: Path) -> None:
    config = tmp_path / "mailward.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    script = (
        "import sys\n"
        "from mailward.cli.main import main\n"
        f"for argv in (['quarantine', 'list'], ['lockdown', 'status'], ['db', 'current']):\n"
        f"    assert main(['-c', {str(config)!r}, *argv]) == 0, argv\n"
        "heavy = sorted(m for m in ('sklearn', 'scipy', 'mailward.engine.pipeline',\n"
        "                           'mailward.detectors', 'mailward.web') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    assert last_line_printed(script) == "[]"
