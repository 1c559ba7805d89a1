"""Attack sessions against the running gateway: open-relay probes and slow or greedy clients.

The relay probes are the address forms nmap's smtp-open-relay script tries (written here with
example domains): none may be accepted from an outside client, while local mail still is.
"""

from __future__ import annotations

import select
import socket
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import RawSMTP, maildir_files

pytestmark = pytest.mark.slow

IP = "127.0.0.1"
DOMAIN = "example.com"  # the gateway's accepted domain
TARGET = "relaytest@outside.example.org"
USER, _, TARGET_DOMAIN = TARGET.partition("@")
PERCENT = TARGET.replace("@", "%")
BANG = f"{TARGET_DOMAIN}!{USER}"

SENDERS = ["<>", "<antispam>", f"<antispam@{DOMAIN}>", f"<antispam@[{IP}]>"]
PROBES = [
    (SENDERS[0], f"<{TARGET}>"),
    (SENDERS[1], f"<{TARGET}>"),
    (SENDERS[2], f"<{TARGET}>"),
    (SENDERS[3], f"<{TARGET}>"),
    (SENDERS[3], f"<{PERCENT}@[{IP}]>"),
    (SENDERS[3], f"<{PERCENT}@{DOMAIN}>"),
    (SENDERS[3], f'<"{TARGET}">'),
    (SENDERS[3], f'<"{PERCENT}">'),
    (SENDERS[3], f"<{TARGET}@[{IP}]>"),
    (SENDERS[3], f'<"{TARGET}"@[{IP}]>'),
    (SENDERS[3], f"<{TARGET}@{DOMAIN}>"),
    (SENDERS[3], f"<@[{IP}]:{TARGET}>"),
    (SENDERS[3], f"<@{DOMAIN}:{TARGET}>"),
    (SENDERS[3], f"<{BANG}>"),
    (SENDERS[3], f"<{BANG}@[{IP}]>"),
    (SENDERS[3], f"<{BANG}@{DOMAIN}>"),
]


def test_no_relay_probe_is_accepted_from_outside(make_gateway) -> None:
    gw = make_gateway()
    accepted = []
    for sender, rcpt in PROBES:
        with RawSMTP(gw.port) as c:
            c.ehlo(f"[{IP}]".encode())
            assert c.cmd(f"MAIL FROM:{sender}".encode()) == 250
            c.send(f"RCPT TO:{rcpt}\r\n".encode())
            code, lines = c.reply()
            if code < 400:
                accepted.append((sender, rcpt, lines))
            # control in the same session: a local recipient is still taken
            assert c.cmd(f"RCPT TO:<postmaster@{DOMAIN}>".encode()) == 250
    assert accepted == []
    assert len(PROBES) == 16


@pytest.mark.parametrize("sender", SENDERS)
def test_probe_senders_may_still_mail_a_local_user(make_gateway, sender: str) -> None:
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:{sender}".encode()) == 250
        assert c.cmd(b"RCPT TO:<alice@example.com>") == 250


def test_trusted_client_may_relay_the_same_forms(make_gateway) -> None:
    """Control: the policy, not the parser, refuses the probes from outside."""
    gw = make_gateway(org='internal_networks = ["127.0.0.0/8"]')
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<antispam@{DOMAIN}>".encode()) == 250
        assert c.cmd(f"RCPT TO:<{TARGET}>".encode()) == 250
        assert c.cmd(f"RCPT TO:<{PERCENT}@{DOMAIN}>".encode()) == 250


# --- Slow and greedy clients -------------------------------------------------------------------


def data_session(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), 10)
    c = RawSMTP.__new__(RawSMTP)
    c.sock, c.buf = s, b""
    assert c.reply()[0] == 220
    c.ehlo()
    for line, want in ((b"MAIL FROM:<bob@partner.example.net>", 250),
                       (b"RCPT TO:<alice@example.com>", 250), (b"DATA", 354)):
        assert c.cmd(line) == want
    assert c.buf == b""
    return s


def test_client_dribbling_data_is_cut_off_at_data_timeout(make_gateway) -> None:
    gw = make_gateway(smtp="command_timeout = 30.0\ndata_timeout = 2.0")
    s = data_session(gw.port)
    start = time.monotonic()
    closed = False
    body = b"Subject: slow\r\n\r\n" + b"x" * 100
    for byte in body:  # one byte every 0.5 s: far slower than any real sender
        readable, _, _ = select.select([s], [], [], 0.5)
        if readable and s.recv(512) == b"":
            closed = True
            break
        try:
            s.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
    elapsed = time.monotonic() - start
    s.close()
    assert closed and elapsed < 8, elapsed
    assert gw.spool_count() == 0 and maildir_files(gw.data_dir) == []


def test_prompt_data_within_the_same_timeout_is_delivered(make_gateway) -> None:
    gw = make_gateway(smtp="command_timeout = 30.0\ndata_timeout = 2.0")
    s = data_session(gw.port)
    # a well-formed message: this test is about the timeout, not about what the scan finds
    s.sendall(b"From: Bob <bob@partner.example.net>\r\nTo: alice@example.com\r\n"
              b"Subject: quick\r\n\r\nThe minutes are in time for the meeting.\r\n.\r\n")
    assert s.recv(512).startswith(b"250")
    s.close()
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 1


def test_total_connection_limit(make_gateway) -> None:
    gw = make_gateway(smtp="max_connections = 3\nmax_connections_per_ip = 10")
    time.sleep(0.5)  # let the harness's readiness probe be closed on the server side
    held = [socket.create_connection(("127.0.0.1", gw.port), 5) for _ in range(3)]
    try:
        for s in held:
            assert s.recv(512).startswith(b"220")
        extra = socket.create_connection(("127.0.0.1", gw.port), 5)
        assert extra.recv(512).startswith(b"421")
        extra.close()
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    with RawSMTP(gw.port) as c:  # slots are freed
        c.ehlo()
