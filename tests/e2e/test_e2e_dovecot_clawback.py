"""The whole chain against a real Dovecot on 127.0.0.1: the gateway delivers over LMTP into
Dovecot's mailboxes, `mailward hunt` finds a campaign, `mailward clawback` takes it back over
IMAP with the master user, and the users' own IMAP logins see it gone from INBOX (and in the
Quarantine folder) while the good message stays."""

from __future__ import annotations

import imaplib
import json
import re
import smtplib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import messages
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "imapserver"))
from dovecot import Dovecot, require_dovecot

pytestmark = pytest.mark.slow

ALICE, BOB = "alice@example.com", "bob@example.com"
CAMPAIGN = "shared-files.example.net"


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    require_dovecot(lmtp=True)
    with Dovecot(tmp_path, users={ALICE: "alice-pw", BOB: "bob-pw"}, lmtp=True) as server:
        yield server


def message_ids(server: Dovecot, user: str, mailbox: str) -> list[str]:
    conn = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    try:
        conn.login(user, server.users[user])
        typ, count = conn.select(mailbox, readonly=True)
        if typ != "OK" or count[0] in (b"0", 0):
            return []
        _, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = []
        for part in data:
            if isinstance(part, tuple):
                match = re.search(rb"<[^>]+>", part[1])
                found += [match.group().decode()] if match else []
        return sorted(found)
    finally:
        conn.logout()


def wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_lmtp_delivery_hunt_and_imap_clawback(make_gateway, dovecot, tmp_path) -> None:
    gw = make_gateway(start=False, extra=f"""inbound = "lmtp"
[delivery.lmtp]
host = "127.0.0.1"
port = {dovecot.lmtp_port}
timeout = 10.0
[clawback]
imap_host = "127.0.0.1"
imap_port = {dovecot.port}
security = "none"
master_user = "{dovecot.master_user}"
master_password = "{dovecot.master_password}"
mode = "move"
""")
    gw.start()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        for n, rcpt in enumerate([ALICE, BOB, ALICE]):
            msg = messages.clean(n, to=rcpt)
            if n < 2:
                msg.set_content(
                    "Hi,\n\nthe minutes of Tuesday's project meeting are on the team page at "
                    f"https://{CAMPAIGN}/f/{n} together with the updated schedule.\n\nBob\n"
                )
            smtp.send_message(msg, from_addr="bob@partner.example.net")
    gw.wait_spool_empty()
    wait_for(lambda: len(message_ids(dovecot, ALICE, "INBOX")) == 2)
    assert message_ids(dovecot, ALICE, "INBOX") == [
        "<clean-0@partner.example.net>", "<clean-2@partner.example.net>"]
    assert message_ids(dovecot, BOB, "INBOX") == ["<clean-1@partner.example.net>"]

    hunt = gw.cli("hunt", "--domain", CAMPAIGN, "--json")
    assert hunt.returncode == 0, hunt.stderr
    hits = [json.loads(line) for line in hunt.stdout.splitlines() if line.strip()]
    assert sorted(r for h in hits for r in h["recipients"]) == [ALICE, BOB]
    assert {c["location"] for h in hits for c in h["copies"]} == {
        f"lmtp:127.0.0.1:{dovecot.lmtp_port}"}
    hits_file = tmp_path / "hits.json"
    hits_file.write_text(json.dumps(hits))

    back = gw.cli("clawback", "--from-hunt", str(hits_file), "--imap",
                  "--reason", "campaign link", "--actor", "soc", "--json")
    assert back.returncode == 0, back.stderr + back.stdout + dovecot.log[-2000:]
    results = [json.loads(line) for line in back.stdout.splitlines() if line.strip()]
    assert sorted((r["recipient"], r["status"]) for r in results) == [
        (ALICE, "removed"), (BOB, "removed")]

    assert message_ids(dovecot, ALICE, "INBOX") == ["<clean-2@partner.example.net>"]
    assert message_ids(dovecot, BOB, "INBOX") == []
    assert message_ids(dovecot, ALICE, "Quarantine") == ["<clean-0@partner.example.net>"]
    assert message_ids(dovecot, BOB, "Quarantine") == ["<clean-1@partner.example.net>"]
