"""Messages named on the command line: a file is read once and told apart by its first bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailward.cli.sources import SourceError, is_mbox, iter_messages

MESSAGE = b"From: a@example.net\r\nSubject: hi\r\n\r\nbody\r\n"


def test_a_message_file_gives_its_bytes_once(tmp_path: Path) -> None:
    (tmp_path / "one.eml").write_bytes(MESSAGE)
    found = list(iter_messages([tmp_path]))
    assert [(Path(s.path).name, s.raw) for s in found] == [("one.eml", MESSAGE)]


def test_an_mbox_file_gives_each_message(tmp_path: Path) -> None:
    box = b"".join(
        b"From sender@example.net Mon Dec  7 10:00:00 2026\n" + MESSAGE.replace(b"\r\n", b"\n")
        for _ in range(3)
    )
    (tmp_path / "box.mbox").write_bytes(box)
    found = list(iter_messages([tmp_path / "box.mbox"]))
    assert [s.path.rpartition("#")[2] for s in found] == ["0", "1", "2"]
    assert all(b"Subject: hi" in s.raw for s in found)


def test_a_from_header_is_not_an_mbox_separator() -> None:
    assert is_mbox(b"From sender@example.net Mon Dec  7 10:00:00 2026\n")
    assert not is_mbox(MESSAGE)
    assert not is_mbox(b"")


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nowhere\.eml"):
        list(iter_messages([tmp_path / "nowhere.eml"]))
