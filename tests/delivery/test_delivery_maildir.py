"""Maildir delivery: one copy per (delivery id, recipient), durable, and no path tricks."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mailward.delivery.maildir import (
    MaildirDelivery,
    iter_messages,
    maildir_for,
    message_name,
)
from mailward.errors import PermanentDeliveryError

RAW = b"From: a@example.org\r\nTo: bob@example.com\r\n\r\nhello\r\n"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_deliver_writes_exactly_one_file(tmp_path: Path) -> None:
    root = (tmp_path / "maildir").resolve()
    path = MaildirDelivery(root).deliver("d1", "Bob@Example.COM", RAW)
    assert path == maildir_for(root, "bob@example.com") / "new" / message_name(
        "d1", "bob@example.com"
    )
    assert path.read_bytes() == RAW
    assert _files(root) == [path]
    box = maildir_for(root, "bob@example.com")
    assert not any((box / "tmp").iterdir())
    for sub in ("tmp", "new", "cur"):
        assert stat.S_IMODE((box / sub).stat().st_mode) == 0o700
    assert list(iter_messages(root, "bob@example.com")) == [path]


def test_second_deliver_same_id_writes_nothing(tmp_path: Path) -> None:
    delivery = MaildirDelivery(tmp_path)
    first = delivery.deliver("d1", "bob@example.com", RAW)
    second = delivery.deliver("d1", "bob@example.com", b"different bytes\r\n")
    assert second == first
    assert first.read_bytes() == RAW
    assert len(_files(tmp_path)) == 1


def test_other_delivery_id_makes_a_second_copy(tmp_path: Path) -> None:
    delivery = MaildirDelivery(tmp_path)
    first = delivery.deliver("d1", "bob@example.com", RAW)
    second = delivery.deliver("d2", "bob@example.com", RAW)
    assert second != first
    assert len(list(iter_messages(tmp_path, "bob@example.com"))) == 2


def test_same_id_other_recipient_gets_its_own_copy(tmp_path: Path) -> None:
    delivery = MaildirDelivery(tmp_path)
    a = delivery.deliver("d1", "alice@example.com", RAW)
    b = delivery.deliver("d1", "bob@example.com", RAW)
    assert a.parent.parent != b.parent.parent
    assert a.name != b.name
    assert len(_files(tmp_path)) == 2


@pytest.mark.parametrize("suffix", [":2,S", ":2,", ""])
def test_retry_finds_copy_moved_to_cur(tmp_path: Path, suffix: str) -> None:
    delivery = MaildirDelivery(tmp_path)
    first = delivery.deliver("d1", "bob@example.com", RAW)
    moved = first.parent.parent / "cur" / (first.name + suffix)
    os.rename(first, moved)
    again = delivery.deliver("d1", "bob@example.com", RAW)
    assert again == moved
    assert list(iter_messages(tmp_path, "bob@example.com")) == [moved]


def test_first_attempt_lists_no_cur_but_finds_a_copy_in_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = MaildirDelivery(tmp_path)
    first = delivery.deliver("d1", "bob@example.com", RAW)
    (first.parent.parent / "cur" / "read-before:2,S").write_bytes(RAW)
    listed: list[str] = []
    real = os.scandir

    def spy(path: Any = ".") -> Any:
        listed.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    assert delivery.deliver("d2", "bob@example.com", RAW, first_attempt=True).parent == first.parent
    assert delivery.deliver("d1", "bob@example.com", b"other", first_attempt=True) == first
    assert listed == []
    assert delivery.deliver("d3", "bob@example.com", RAW).parent == first.parent
    assert listed == [str(first.parent.parent / "cur")]  # when unsure it looks
    assert len(_files(tmp_path)) == 4


def test_cur_file_with_longer_name_is_not_mistaken_for_the_copy(tmp_path: Path) -> None:
    delivery = MaildirDelivery(tmp_path)
    first = delivery.deliver("d1", "bob@example.com", RAW)
    os.rename(first, first.parent.parent / "cur" / (first.name + "x:2,S"))
    again = delivery.deliver("d1", "bob@example.com", RAW)
    assert again == first
    assert len(_files(tmp_path)) == 2


@pytest.mark.parametrize(
    "recipient",
    [
        "../../etc@x",
        "a/b@x",
        "a@../x",
        "\x00@x",
        ".hidden@x",
        "a\\b@x",
        "a@x/y",
        "a..b@x",
        "@x",
        "a@",
        "nodomain",
        "a\n@x",
        "a b@x",
        "a@.",
        "a@..",
        "ä@x",
        "a@.x",
    ],
)
def test_hostile_recipient_is_refused_and_nothing_written(tmp_path: Path, recipient: str) -> None:
    root = tmp_path / "root"
    before = set(tmp_path.rglob("*"))
    with pytest.raises(PermanentDeliveryError):
        MaildirDelivery(root).deliver("d1", recipient, RAW)
    assert set(tmp_path.rglob("*")) == before
    with pytest.raises(PermanentDeliveryError):
        maildir_for(root, recipient)


@pytest.mark.parametrize("recipient", ["first.last+tag@example.com", "a=b_c-d@sub.example.com"])
def test_unusual_but_safe_recipients_are_delivered(tmp_path: Path, recipient: str) -> None:
    path = MaildirDelivery(tmp_path).deliver("d1", recipient, RAW)
    assert path.is_relative_to(tmp_path.resolve())
    assert path.read_bytes() == RAW


def test_trailing_dot_domain_is_the_same_maildir(tmp_path: Path) -> None:
    assert maildir_for(tmp_path, "a@example.com.") == maildir_for(tmp_path, "a@example.com")


def test_symlinked_domain_leading_outside_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "example.com").symlink_to(outside)
    with pytest.raises(PermanentDeliveryError):
        MaildirDelivery(root).deliver("d1", "bob@example.com", RAW)
    assert list(outside.rglob("*")) == []


@pytest.mark.parametrize("delivery_id", ["../x", "a/b", "", "a.b", "x" * 200, "a\x00"])
def test_unsafe_delivery_id_is_refused(tmp_path: Path, delivery_id: str) -> None:
    with pytest.raises(ValueError, match="not a safe token"):
        MaildirDelivery(tmp_path).deliver(delivery_id, "bob@example.com", RAW)
    assert _files(tmp_path) == []


def test_message_name_is_deterministic() -> None:
    name = message_name("abc_-1", "Bob@Example.com")
    assert name == message_name("abc_-1", "bob@example.com")
    assert name.startswith("abc_-1.") and name.endswith(".mailward")
    assert len(name.split(".")[1]) == 12
    assert name != message_name("abc_-1", "alice@example.com")


def test_iter_messages_of_unknown_recipient_is_empty(tmp_path: Path) -> None:
    assert list(iter_messages(tmp_path, "nobody@example.com")) == []
