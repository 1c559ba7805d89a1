"""`--help` works for `mailward` and every sub-command, found by walking the argparse parser."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from mailward.cli.main import build_parser, main


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
