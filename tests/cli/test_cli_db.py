"""`mailward db upgrade|downgrade|current|history|check` in-process, on a SQLite store."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from mailward.cli.main import main


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAILWARD"):
            monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mailward.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    return path


def db(config: Path, *args: str) -> int:
    return main(["-c", str(config), "db", *args])


def test_current_reads_without_migrating(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert db(config, "current", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {
        "current": None, "head": "0004", "up_to_date": False, "unversioned_tables": 0}
    assert db(config, "check") == 1  # still nothing there: current created no table
    assert "differs: add_table quarantine" in capsys.readouterr().out


def test_upgrade_then_check_passes(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert db(config, "upgrade") == 0
    assert capsys.readouterr().out == "schema: none -> 0004\n"
    assert db(config, "check", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["differences"] == []


def test_downgrade_one_step_fails_the_check_naming_the_index(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db(config, "upgrade") == 0
    assert db(config, "downgrade", "0001") == 0
    capsys.readouterr()
    assert db(config, "check") == 1
    out = capsys.readouterr().out
    assert "differs: add_index journal_indicators.ix_journal_indicators_journal_id" in out
    assert out.endswith("schema NOT as expected\n")


def test_history_marks_the_current_revision(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db(config, "upgrade", "0001") == 0
    capsys.readouterr()
    assert db(config, "history") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("0003 -> 0004: Campaign merging")
    assert lines[2].startswith("0001 -> 0002: Index journal_indicators")
    assert lines[3].startswith("base -> 0001 (current): Baseline")
    assert db(config, "history", "--json") == 0
    assert [r["revision"] for r in json.loads(capsys.readouterr().out)["revisions"]] == [
        "0004", "0003", "0002", "0001"]


def test_current_notes_tables_of_a_release_before_migrations(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "mailward.db") as conn:
        conn.execute("CREATE TABLE sender_history (address TEXT PRIMARY KEY)")
    assert db(config, "current") == 0
    assert "tables of a release before migrations" in capsys.readouterr().out
