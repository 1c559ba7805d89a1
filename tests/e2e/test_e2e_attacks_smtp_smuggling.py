"""Attack sessions against the running gateway: SMTP smuggling, STARTTLS injection, pipelining.

Smuggling (SEC Consult, December 2023; CVE-2023-51764/51765/51766): an end-of-data look-alike
(bare LF or CR around the dot, a NUL before it) followed by a second envelope inside the body.
A gateway that ends DATA at the look-alike, or that passes the bare line endings on to a next
hop which does, delivers the smuggled message. Each session here must yield exactly one message,
with the smuggled commands as body text, and nothing delivered may hold a bare CR or LF.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import messages
from gateway_harness import RawSMTP, free_port, maildir_files, next_hop
from tls_certs import make_self_signed

pytestmark = pytest.mark.slow

VARIANTS: dict[str, bytes] = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-cr": b"\r\n.\r",
    "crlf-dot-lf": b"\r\n.\n",
    "crlf-nul-dot-crlf": b"\r\n\x00.\r\n",
}
SMUGGLED = (
    b"MAIL FROM:<ceo@example.com>\r\n"
    b"RCPT TO:<victim@example.com>\r\n"
    b"DATA\r\n"
    b"From: ceo@example.com\r\nTo: victim@example.com\r\nSubject: smuggled\r\n\r\n"
    b"Smuggled instructions\r\n"
)
BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def smuggling_body(n: int, variant: bytes, to: bytes) -> bytes:
    head = (
        b"From: Bob <bob@partner.example.net>\r\nTo: " + to + b"\r\n"
        b"Subject: Weekly notes " + str(n).encode() + b"\r\n"
        b"Message-ID: <smuggle-" + str(n).encode() + b"@partner.example.net>\r\n\r\n"
    )
    return head + b"Hello, the notes follow." + variant + SMUGGLED


def smuggle(port: int, n: int, variant: bytes, rcpt: bytes) -> None:
    """One session: the look-alike, the second envelope, then the real end of data."""
    with RawSMTP(port) as c:
        c.ehlo()
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        assert c.cmd(b"RCPT TO:<" + rcpt + b">") == 250
        assert c.cmd(b"DATA") == 354
        c.send(smuggling_body(n, variant, rcpt) + b"\r\n.\r\n")
        code, lines = c.reply()
        assert code == 250, lines
        # Had DATA ended at the look-alike, the next replies would answer the smuggled
        # MAIL/RCPT/DATA; NOOP's own reply must come first.
        c.send(b"NOOP\r\n")
        assert c.reply()[1] == [b"250 OK"]
        assert c.cmd(b"QUIT") == 221


def assert_one_clean_copy(data: bytes) -> None:
    assert not BARE.search(data), "a bare CR or LF was delivered"
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep
    assert b"RCPT TO:<victim@example.com>" in body
    assert b"Smuggled instructions" in body
    assert b"Subject: smuggled" not in head


def test_smuggling_variants_yield_one_message_each_into_maildir(make_gateway) -> None:
    gw = make_gateway()
    for n, variant in enumerate(VARIANTS.values()):
        smuggle(gw.port, n, variant, f"alice{n}@example.com".encode())
    gw.wait_spool_empty()
    files = maildir_files(gw.data_dir)
    owners = sorted(p.parent.parent.name for p in files)
    assert owners == sorted(f"alice{n}" for n in range(len(VARIANTS))), owners
    assert not (gw.data_dir / "maildir/example.com/victim").exists()
    for path in files:
        assert_one_clean_copy(path.read_bytes())


def test_smuggling_variants_reach_the_next_hop_once_without_bare_line_ends(
    make_gateway,
) -> None:
    hop_port = free_port()
    with next_hop(hop_port) as hop:
        gw = make_gateway(
            f'inbound = "relay"\n[delivery.relay]\nhost = "127.0.0.1"\nport = {hop_port}\n'
        )
        for n, variant in enumerate(VARIANTS.values()):
            smuggle(gw.port, n, variant, f"alice{n}@example.com".encode())
        gw.wait_spool_empty()
    rcpts = sorted(r for _, rs, _ in hop.received for r in rs)
    assert rcpts == sorted(f"alice{n}@example.com" for n in range(len(VARIANTS)))
    for mail_from, _, data in hop.received:
        assert mail_from == "bob@partner.example.net"
        assert_one_clean_copy(data)


def test_plain_message_without_look_alike_is_delivered_unchanged_in_body(make_gateway) -> None:
    """Control: the same session with an ordinary body delivers the body text."""
    gw = make_gateway()
    smuggle(gw.port, 99, b"\r\n", b"alice@example.com")
    gw.wait_spool_empty()
    [path] = maildir_files(gw.data_dir)
    assert b"Hello, the notes follow.\r\nMAIL FROM:<ceo@example.com>" in path.read_bytes()


# --- STARTTLS command injection (CVE-2011-0411) -------------------------------------------


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def tls_gateway(make_gateway, tmp_path):
    cert, key = make_self_signed(tmp_path)
    return make_gateway(smtp=f'tls_cert = "{cert}"\ntls_key = "{key}"\n')


@pytest.mark.parametrize(
    "injected", [b"RSET\r\n", b"MAIL FROM:<injected@evil.example.org>\r\n", b"QUIT\r\n"]
)
def test_commands_sent_with_starttls_are_not_run_after_the_handshake(
    tls_gateway, injected: bytes
) -> None:
    with RawSMTP(tls_gateway.port) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\n" + injected)
        code, lines = c.reply()
        assert code == 220, lines
        c.starttls(client_tls())
        c.send(b"EHLO client.example.net\r\n")
        code, lines = c.reply()
        # The injected command would have been answered first ("250 OK", "503 ...", "221").
        assert code == 250 and lines[0] == b"250-mailward.local", lines
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        assert c.cmd(b"RCPT TO:<alice@example.com>") == 250
        assert c.cmd(b"DATA") == 354
        c.send(messages.clean(1).as_bytes().replace(b"\n", b"\r\n") + b"\r\n.\r\n")
        assert c.reply()[0] == 250
    tls_gateway.wait_spool_empty()
    assert len(maildir_files(tls_gateway.data_dir)) == 1


def test_plaintext_session_without_starttls_still_works(tls_gateway) -> None:
    """Control: the same commands without STARTTLS are answered in order."""
    with RawSMTP(tls_gateway.port) as c:
        c.ehlo()
        c.send(b"RSET\r\nNOOP\r\n")
        assert c.reply()[1] == [b"250 OK"]
        assert c.reply()[1] == [b"250 OK"]


# --- Pipelining (RFC 2920) -------------------------------------------------------------------


def test_pipelined_group_gets_replies_in_order(make_gateway) -> None:
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        assert b"250-PIPELINING" in c.ehlo()
        c.send(
            b"MAIL FROM:<bob@partner.example.net>\r\nRCPT TO:<alice@example.com>\r\n"
            b"RCPT TO:<someone@outside.example.org>\r\nDATA\r\n"
        )
        codes = [c.reply()[0] for _ in range(4)]
        assert codes == [250, 250, 550, 354]
        c.send(messages.clean(2).as_bytes().replace(b"\n", b"\r\n") + b"\r\n.\r\nQUIT\r\n")
        assert c.reply()[0] == 250
        assert c.reply()[0] == 221
    gw.wait_spool_empty()
    [path] = maildir_files(gw.data_dir)
    assert path.parent.parent.name == "alice"


@pytest.mark.parametrize("rcpt", [b"alice@example.com", b"someone@outside.example.org"])
def test_content_sent_before_the_354_is_never_read(make_gateway, rcpt: bytes) -> None:
    """DATA must end a group; content sent with it is a synchronisation error (554, closed).

    With an accepted recipient the early content would otherwise become the message; with a
    refused one (DATA fails) its lines would be run as commands.
    """
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        c.ehlo()
        c.send(
            b"MAIL FROM:<bob@partner.example.net>\r\nRCPT TO:<" + rcpt + b">\r\nDATA\r\n"
            b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
            b"Subject: early\r\n\r\nbody\r\n.\r\n"
        )
        assert c.reply()[0] == 250
        c.reply()
        assert c.reply()[1] == [b"554 5.5.0 Error: SMTP protocol synchronization"]
        assert c.closed()
    assert gw.spool_count() == 0
    assert maildir_files(gw.data_dir) == []


def test_smtplib_client_that_waits_for_354_is_not_affected(make_gateway) -> None:
    """Control for the synchronisation check: a well-behaved pipelining client delivers."""
    gw = make_gateway()
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.send_message(messages.clean(3), from_addr="bob@partner.example.net")
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 1
