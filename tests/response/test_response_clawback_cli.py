"""`mailward clawback` (src/mailward/cli/clawback.py) on Maildirs and on a real Dovecot."""

from __future__ import annotations

import argparse
import imaplib
import json
import sys
from pathlib import Path

import pytest

from mailward.cli import clawback as cli
from mailward.config.settings import Settings
from mailward.delivery.maildir import MaildirDelivery, maildir_for
from mailward.errors import ConfigError
from mailward.response.clawback import ClawbackSettings
from mailward.store import open_store

sys.path.insert(0, str(Path(__file__).parents[1] / "imapserver"))
from dovecot import Dovecot, require_dovecot

ALICE = "alice@example.com"
BOB = "bob@example.com"


def raw(msgid: str) -> bytes:
    return f"From: a@example.net\r\nSubject: s\r\nMessage-ID: {msgid}\r\n\r\nbody\r\n".encode()


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["clawback", *argv])
    code: int = args.run(args, settings)
    return code


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    conf = Settings(data_dir=tmp_path / "data")
    delivery = MaildirDelivery(conf.maildir_root)
    for rcpt in (ALICE, BOB):
        delivery.deliver("s1", rcpt, raw("<one@example.net>"))
        delivery.deliver("s2", rcpt, raw("<two@example.net>"))
    return conf


def files(settings: Settings, rcpt: str) -> int:
    box = maildir_for(settings.maildir_root, rcpt)
    return len(list((box / "new").iterdir()))


def audit_count(settings: Settings) -> int:
    store = open_store(settings.store_url)
    try:
        return len(store.audit_log())
    finally:
        store.close()


def test_message_id_and_rcpt_on_maildir_prints_a_table(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(settings, "--message-id", "<one@example.net>", "--rcpt", ALICE,
               "--reason", "phish", "--actor", "soc", "--maildir")
    assert code == 0
    assert "removed" in capsys.readouterr().out
    assert (files(settings, ALICE), files(settings, BOB)) == (1, 2)
    assert audit_count(settings) == 1


def test_from_hunt_json_list_with_json_output(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hunt = tmp_path / "hunt.json"
    hunt.write_text(json.dumps([
        {"message_id": "<two@example.net>", "recipients": [ALICE, BOB], "spool_id": "s2",
         "subject": "ignored"},
        {"message_id": "<gone@example.net>", "recipients": [ALICE]},
        {"no": "message id"},
    ]))
    code = run(settings, "--from-hunt", str(hunt), "--reason", "campaign", "--json")
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(x["recipient"], x["status"]) for x in lines] == [
        (ALICE, "removed"), (BOB, "removed"), (ALICE, "not_found")]
    assert (files(settings, ALICE), files(settings, BOB)) == (1, 1)


def test_from_hunt_json_lines_limited_by_rcpt(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hunt = tmp_path / "hunt.jsonl"
    hunt.write_text(json.dumps({"message_id": "<one@example.net>", "recipients": [ALICE, BOB]})
                    + "\n")
    assert run(settings, "--from-hunt", str(hunt), "--rcpt", BOB, "--reason", "x") == 0
    assert (files(settings, ALICE), files(settings, BOB)) == (2, 1)


def test_rejected_input_exits_1_and_missing_rcpt_is_an_error(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "--message-id", "<a b@c>", "--rcpt", ALICE, "--reason", "x") == 1
    assert "rejected" in capsys.readouterr().out
    with pytest.raises(ConfigError):
        run(settings, "--message-id", "<one@example.net>", "--reason", "x")


def test_imap_backend_against_dovecot(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_dovecot()
    with Dovecot(tmp_path, {ALICE: "pw"}) as srv:
        conn = imaplib.IMAP4("127.0.0.1", srv.port)
        conn.login(ALICE, "pw")
        conn.append("INBOX", None, None, raw("<imap@example.net>"))
        conn.logout()
        conf = ClawbackSettings(imap_host="127.0.0.1", imap_port=srv.port, security="none",
                                master_user=srv.master_user,
                                master_password=srv.master_password)
        monkeypatch.setattr(cli, "clawback_settings", lambda _s: conf)
        code = run(settings, "--message-id", "<imap@example.net>", "--rcpt", ALICE,
                   "--reason", "x", "--mode", "delete", "--json")
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(x["status"], x["reason"], x["mailbox"]) for x in out] == [
        ("removed", "deleted", "INBOX")]
    assert files(settings, ALICE) == 2  # the Maildir back end was not used
