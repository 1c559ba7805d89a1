"""ImapClawback against a real Dovecot on 127.0.0.1 (tests/imapserver/dovecot.py)."""

from __future__ import annotations

import hashlib
import imaplib
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parents[1] / "imapserver"))
from dovecot import Dovecot, require_dovecot

from mailward.errors import ConfigError
from mailward.response.clawback import (
    ClawbackSettings,
    ClawbackTarget,
    ImapClawback,
    normalise_message_id,
)
from mailward.store import Store, open_store

ALICE = "alice@example.com"
BOB = "bob@example.com"
PASSWORDS = {ALICE: "alice-pw", BOB: "bob-pw"}


def message(msgid: str, subject: str = "quarterly figures") -> bytes:
    return (
        f"From: Sender <sender@example.net>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
        f"Message-ID: {msgid}\r\nDate: Mon, 02 Jun 2025 10:00:00 +0000\r\n\r\n"
        "Please find the figures attached.\r\n"
    ).encode()


def login(server: Dovecot, user: str) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    conn.login(user, server.users[user])
    return conn


def append(server: Dovecot, user: str, raws: list[bytes]) -> None:
    conn = login(server, user)
    try:
        for raw in raws:
            assert conn.append("INBOX", None, None, raw)[0] == "OK"
    finally:
        conn.logout()


def message_ids(server: Dovecot, user: str, mailbox: str) -> list[str]:
    """The Message-IDs in ``mailbox`` as a fresh login of the user sees them."""
    conn = login(server, user)
    try:
        if conn.select(f'"{mailbox}"')[0] != "OK":
            return []
        typ, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if typ != "OK" or data == [None]:
            return []
        headers = b"".join(part[1] for part in data if isinstance(part, tuple))
        return sorted(m.decode() for m in re.findall(rb"Message-ID: (\S+)", headers))
    finally:
        conn.logout()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Dovecot]:
    require_dovecot()
    with Dovecot(tmp_path, PASSWORDS) as srv:
        yield srv


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 'mailward.db'}")
    yield st
    st.close()


def settings_for(server: Dovecot, **changes: object) -> ClawbackSettings:
    base = {"imap_host": "127.0.0.1", "imap_port": server.port, "security": "none",
            "master_user": server.master_user, "master_password": server.master_password}
    return ClawbackSettings.model_validate(base | changes)


def three(server: Dovecot, user: str = ALICE) -> list[str]:
    ids = [f"<m{i}.{user.partition('@')[0]}@mail.example.net>" for i in range(3)]
    append(server, user, [message(i) for i in ids])
    return ids


def test_move_takes_one_message_to_quarantine_and_leaves_the_others(
    server: Dovecot, store: Store
) -> None:
    ids = three(server)
    results = ImapClawback(settings_for(server), store).claw_back(
        [ClawbackTarget(ids[1], (ALICE,))], actor="soc", reason="phish campaign 42")
    assert [(r.recipient, r.status, r.mailbox) for r in results] == [(ALICE, "removed", "INBOX")]
    assert results[0].reason == "moved to Quarantine"
    assert message_ids(server, ALICE, "INBOX") == sorted([ids[0], ids[2]])
    assert message_ids(server, ALICE, "Quarantine") == [ids[1]]


def test_audit_row_written_for_each_removal_only(server: Dovecot, store: Store) -> None:
    ids = three(server)
    three(server, BOB)
    targets = [ClawbackTarget(ids[0], (ALICE, BOB), spool_id="spool-1"),
               ClawbackTarget("<never-sent@example.net>", (ALICE,))]
    results = ImapClawback(settings_for(server), store).claw_back(
        targets, actor="analyst", reason="reported by user")
    assert sorted((r.recipient, r.status) for r in results) == [
        (ALICE, "not_found"), (ALICE, "removed"), (BOB, "not_found")]
    log = store.audit_log()
    assert [(e.actor, e.action, e.object_id, e.recipients) for e in log] == [
        ("analyst", "clawback", "spool-1", (ALICE,))]
    assert log[0].reason.startswith("reported by user [moved to Quarantine: INBOX uid ")


def test_delete_mode_expunges_without_quarantine_folder(server: Dovecot, store: Store) -> None:
    ids = three(server)
    results = ImapClawback(settings_for(server, mode="delete"), store).claw_back(
        [ClawbackTarget(ids[0], (ALICE,))], actor="soc", reason="malware")
    assert [(r.status, r.reason) for r in results] == [("removed", "deleted")]
    assert message_ids(server, ALICE, "INBOX") == sorted(ids[1:])
    assert message_ids(server, ALICE, "Quarantine") == []


def test_unknown_message_id_is_not_found_and_nothing_moves(
    server: Dovecot, store: Store
) -> None:
    ids = three(server)
    results = ImapClawback(settings_for(server), store).claw_back(
        [ClawbackTarget("m1.alice@mail.example.ne", (ALICE,))], actor="soc", reason="test")
    assert [r.status for r in results] == ["not_found"]
    assert message_ids(server, ALICE, "INBOX") == sorted(ids)
    assert store.audit_log() == []


def test_hostile_message_id_rejected_before_any_connection(store: Store) -> None:
    calls: list[int] = []

    def connect() -> imaplib.IMAP4:
        calls.append(1)
        raise AssertionError("must not connect")

    conf = ClawbackSettings(imap_host="127.0.0.1", master_user="m", security="none")
    hostile = '<x@y>" OR ALL\r\nA1 UID STORE 1:* +FLAGS (\\Deleted)'
    results = ImapClawback(conf, store, connect=connect).claw_back(
        [ClawbackTarget(hostile, (ALICE,)), ClawbackTarget("<ok@x>", ("eve\r\n@x",))],
        actor="soc", reason="x")
    assert [r.status for r in results] == ["rejected", "rejected"]
    assert calls == []


def test_message_id_with_a_quote_is_sent_quoted_and_found(server: Dovecot, store: Store) -> None:
    odd = '<"weird"id\\1@example.net>'
    append(server, ALICE, [message(odd), message("<plain@example.net>")])
    results = ImapClawback(settings_for(server), store).claw_back(
        [ClawbackTarget(odd, (ALICE,))], actor="soc", reason="x")
    assert [r.status for r in results] == ["removed"]
    assert message_ids(server, ALICE, "INBOX") == ["<plain@example.net>"]


def test_sha256_guard_removes_only_the_same_bytes(server: Dovecot, store: Store) -> None:
    raw = message("<hashed@example.net>")
    append(server, ALICE, [raw])
    claw = ImapClawback(settings_for(server), store)
    wrong = claw.claw_back([ClawbackTarget("<hashed@example.net>", (ALICE,),
                                           sha256="0" * 64)], actor="soc", reason="x")
    assert [r.status for r in wrong] == ["not_found"]
    right = claw.claw_back([ClawbackTarget("<hashed@example.net>", (ALICE,),
                                           sha256=hashlib.sha256(raw).hexdigest())],
                           actor="soc", reason="x")
    assert [r.status for r in right] == ["removed"]


def test_fallback_copy_store_expunge_without_move(tmp_path: Path, store: Store) -> None:
    require_dovecot()
    with Dovecot(tmp_path, PASSWORDS, extra_conf="imap_capability = IMAP4rev1\n") as srv:
        ids = three(srv)
        results = ImapClawback(settings_for(srv), store).claw_back(
            [ClawbackTarget(ids[2], (ALICE,))], actor="soc", reason="x")
        assert [r.reason for r in results] == ["copied to Quarantine and expunged"]
        assert message_ids(srv, ALICE, "INBOX") == sorted(ids[:2])
        assert message_ids(srv, ALICE, "Quarantine") == [ids[2]]


def test_wrong_master_password_is_an_error_per_message(server: Dovecot, store: Store) -> None:
    ids = three(server)
    results = ImapClawback(settings_for(server, master_password="nope"), store).claw_back(
        [ClawbackTarget(ids[0], (ALICE,))], actor="soc", reason="x")
    assert [r.status for r in results] == ["error"]
    assert "AUTHENTICATIONFAILED" in results[0].reason
    # On disk: a fresh login right after a failed one waits out Dovecot's auth penalty.
    inbox = server.mail_root / ALICE
    assert len([*(inbox / "new").iterdir(), *(inbox / "cur").iterdir()]) == len(ids)


def test_unknown_mailbox_user_is_an_error(server: Dovecot, store: Store) -> None:
    results = ImapClawback(settings_for(server), store).claw_back(
        [ClawbackTarget("<a@b>", ("nobody-here@example.com",))], actor="soc", reason="x")
    assert [r.status for r in results] == ["error"]


def test_settings_refuse_unsafe_values_and_missing_host(store: Store) -> None:
    with pytest.raises(ValidationError):
        ClawbackSettings(master_user="m\r\nx")
    with pytest.raises(ValidationError):
        ClawbackSettings(quarantine_folder="../x")
    with pytest.raises(ConfigError):
        ImapClawback(ClawbackSettings(master_user="m"), store)
    assert ClawbackSettings(imap_host="h", master_user="m").security == "starttls"


def test_normalise_message_id() -> None:
    assert normalise_message_id("a@b") == "<a@b>"
    assert normalise_message_id("<a@b>") == "<a@b>"
    for bad in ("<a b@c>", "a@b\r\n", "<a<b@c>", "", "<>", "a@b\x00", "<é@b>"):
        with pytest.raises(ValueError):
            normalise_message_id(bad)


def test_time_to_remediate_100_messages_across_10_users(tmp_path: Path, store: Store) -> None:
    require_dovecot()
    users = {f"user{i}@example.com": f"pw{i}" for i in range(10)}
    with Dovecot(tmp_path, users) as srv:
        targets = []
        for user in users:
            ids = [f"<bulk{i}.{user.split('@')[0]}@example.net>" for i in range(10)]
            append(srv, user, [message(i) for i in ids] + [message(f"<keep.{user}>")])
            targets += [ClawbackTarget(i, (user,)) for i in ids]
        start = time.perf_counter()
        results = ImapClawback(settings_for(srv), store).claw_back(
            targets, actor="soc", reason="campaign")
        elapsed = time.perf_counter() - start
        assert [r.status for r in results] == ["removed"] * 100
        assert all(message_ids(srv, u, "INBOX") == [f"<keep.{u}>"] for u in users)
        assert len(store.audit_log(limit=1000)) == 100
    print(f"\nclaw-back of 100 messages across 10 users: {elapsed:.2f}s "
          f"({elapsed * 10:.1f} ms per message)")


def test_require_dovecot_skips_without_it_when_it_cannot_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import dovecot

    monkeypatch.setattr(dovecot, "DOVECOT", tmp_path / "no-dovecot")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match=r"install-dovecot\.sh"):
        require_dovecot()
    monkeypatch.setattr(dovecot, "DOVECOT", Path(sys.executable))
    require_dovecot()  # present: nothing to do, no skip
