"""MaildirClawback on temporary Maildirs written by mailward's own Maildir delivery."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailward.delivery.maildir import MaildirDelivery, maildir_for
from mailward.errors import ConfigError
from mailward.response.clawback import ClawbackTarget, MaildirClawback
from mailward.store import Store, open_store

ALICE = "alice@example.com"
BOB = "bob@example.com"


def message(msgid: str) -> bytes:
    return (f"From: a@example.net\r\nTo: {ALICE}\r\nSubject: invoice\r\n"
            f"Message-ID: {msgid}\r\n\r\nPay now.\r\n").encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 'mailward.db'}")
    yield st
    st.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    delivery = MaildirDelivery(tmp_path / "maildir")
    for n in range(3):
        for rcpt in (ALICE, BOB):
            delivery.deliver(f"spool{n}", rcpt, message(f"<m{n}@example.net>"))
    return tmp_path / "maildir"


def names(root: Path, rcpt: str, folder: str = "") -> list[str]:
    base = maildir_for(root, rcpt) / folder
    return sorted(p.name.split(".")[0] for sub in ("new", "cur") if (base / sub).is_dir()
                  for p in (base / sub).iterdir())


def test_move_by_spool_id_into_quarantine_folder(root: Path, store: Store) -> None:
    results = MaildirClawback(root, store).claw_back(
        [ClawbackTarget("<m1@example.net>", (ALICE,), spool_id="spool1")],
        actor="soc", reason="phish")
    assert [(r.status, r.reason) for r in results] == [("removed", "moved to .Quarantine")]
    assert names(root, ALICE) == ["spool0", "spool2"]
    assert names(root, ALICE, ".Quarantine") == ["spool1"]
    assert (maildir_for(root, ALICE) / ".Quarantine" / "maildirfolder").exists()
    assert names(root, BOB) == ["spool0", "spool1", "spool2"]
    log = store.audit_log()
    assert [(e.actor, e.action, e.object_id, e.recipients) for e in log] == [
        ("soc", "clawback", "spool1", (ALICE,))]


def test_find_by_message_id_without_spool_id_and_delete(root: Path, store: Store) -> None:
    results = MaildirClawback(root, store, mode="delete").claw_back(
        [ClawbackTarget("m2@example.net", (ALICE, BOB))], actor="soc", reason="malware")
    assert [(r.recipient, r.status, r.reason) for r in results] == [
        (ALICE, "removed", "deleted"), (BOB, "removed", "deleted")]
    assert names(root, ALICE) == names(root, BOB) == ["spool0", "spool1"]
    assert not (maildir_for(root, ALICE) / ".Quarantine").exists()
    assert len(store.audit_log()) == 2


def test_unknown_message_and_user_are_not_found(root: Path, store: Store) -> None:
    results = MaildirClawback(root, store).claw_back(
        [ClawbackTarget("<m9@example.net>", (ALICE,)),
         ClawbackTarget("<m1@example.net>", (ALICE,), spool_id="spool9"),
         ClawbackTarget("<m1@example.net>", ("carol@example.com",))],
        actor="soc", reason="x")
    assert [r.status for r in results] == ["not_found"] * 3
    assert names(root, ALICE) == ["spool0", "spool1", "spool2"]
    assert store.audit_log() == []


def test_sha256_must_match_the_delivered_bytes(root: Path, store: Store) -> None:
    claw = MaildirClawback(root, store)
    wrong = claw.claw_back([ClawbackTarget("<m0@example.net>", (ALICE,), "spool0", "ab" * 32)],
                           actor="soc", reason="x")
    assert [r.status for r in wrong] == ["not_found"]
    digest = hashlib.sha256(message("<m0@example.net>")).hexdigest()
    right = claw.claw_back([ClawbackTarget("<m0@example.net>", (ALICE,), "spool0", digest)],
                           actor="soc", reason="x")
    assert [r.status for r in right] == ["removed"]


def test_unsafe_recipient_spool_id_and_message_id_are_rejected(
    root: Path, store: Store
) -> None:
    results = MaildirClawback(root, store).claw_back(
        [ClawbackTarget("<m0@example.net>", ("../../etc@example.com",)),
         ClawbackTarget("<m0@example.net>", (ALICE,), spool_id="../x"),
         ClawbackTarget("<m0@example.net>\r\nX: y", (ALICE,))],
        actor="soc", reason="x")
    assert [r.status for r in results] == ["rejected"] * 3
    assert names(root, ALICE) == ["spool0", "spool1", "spool2"]


def test_unsafe_folder_name_is_a_config_error(root: Path, store: Store) -> None:
    with pytest.raises(ConfigError):
        MaildirClawback(root, store, folder="../Trash")
