"""Attack sessions against the running gateway: hostile bytes in commands and envelope.

Long lines, NUL and 8-bit bytes, CR/LF injection through HELO, XCLIENT and PROXY headers sent
by a client that is not trusted, and the error budget that ends a connection after too many
refused commands. Every session also does something legitimate that must still work.
"""

from __future__ import annotations

import email.parser
import email.policy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import RawSMTP, maildir_files

from mailward.config.settings import SmtpSettings

pytestmark = pytest.mark.slow


def message(subject: bytes = b"Notes", extra_header: bytes = b"") -> bytes:
    return (
        b"From: Bob <bob@partner.example.net>\r\nTo: alice@example.com\r\n"
        b"Subject: " + subject + b"\r\n" + extra_header
        + b"\r\nHello Alice, the notes are attached.\r\n"
    )


def deliver(c: RawSMTP, data: bytes, rcpt: bytes = b"alice@example.com") -> int:
    """MAIL/RCPT/DATA on an open session; the reply code to the end of data."""
    assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
    assert c.cmd(b"RCPT TO:<" + rcpt + b">") == 250
    assert c.cmd(b"DATA") == 354
    c.send(data + b".\r\n")
    return c.reply()[0]


def test_command_line_over_512_octets_gets_500_and_session_goes_on(make_gateway) -> None:
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        fits = b"RCPT TO:<" + b"a" * (512 - 33) + b"@example.com>"
        assert len(fits) + 2 <= 512
        assert c.cmd(fits) == 250  # control: at the limit is fine
        assert c.cmd(b"RCPT TO:<" + b"a" * 600 + b"@example.com>") == 500
        assert c.cmd(b"NOOP " + b"x" * 300_000) == 500  # beyond the reader's buffer too
        assert c.cmd(b"RCPT TO:<alice@example.com>") == 250


def test_mail_line_limit_does_not_grow_with_repeated_ehlo(make_gateway) -> None:
    """aiosmtpd adds SIZE/SMTPUTF8 room to a shared MAIL limit on every EHLO; not here."""
    gw = make_gateway()
    long_mail = b"MAIL FROM:<" + b"b" * 560 + b"@partner.example.net>"
    with RawSMTP(gw.port) as c:
        for _ in range(5):
            c.ehlo()
        assert c.cmd(long_mail) == 500
        # control: MAIL keeps its room for parameters (512 + SIZE + SMTPUTF8)
        with_params = b"MAIL FROM:<" + b"b" * 480 + b"@p.example.net> SIZE=1000 SMTPUTF8"
        assert 512 < len(with_params) + 2 <= 548
        assert c.cmd(with_params) == 250


def test_long_header_line_is_accepted_and_delivered(make_gateway) -> None:
    """Decision: lines over RFC 5321's 1000 octets are accepted (the MIME limits judge the
    header); only lines past the protocol buffer (256 KiB) get 500, with nothing spooled."""
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        c.ehlo()
        long_header = b"X-Long-Tracking: " + b"a" * 20_000 + b"\r\n"
        assert deliver(c, message(b"long header", long_header)) == 250
        huge = b"X-Huge: " + b"h" * 300_000 + b"\r\n"
        assert deliver(c, message(b"huge header", huge)) == 500
        assert c.cmd(b"NOOP") == 250
    gw.wait_spool_empty()
    [path] = maildir_files(gw.data_dir)
    assert b"a" * 20_000 in path.read_bytes()


@pytest.mark.parametrize(
    "line",
    [
        b"MAIL FROM:<bo\x00b@partner.example.net>",
        b"MAIL FROM:<bob@partner.example.net>\x00",
        b"HELO client\x00.example.net",
        b"MAIL FROM:<\xff\xfe@partner.example.net>",
        b"MAIL FROM:<b\x1bob@partner.example.net>",
    ],
)
def test_control_and_invalid_bytes_in_arguments_get_501(make_gateway, line: bytes) -> None:
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(line) == 501
        assert deliver(c, message()) == 250  # the session is still usable
    gw.wait_spool_empty()
    assert len(maildir_files(gw.data_dir)) == 1


def test_bytes_in_command_names_and_non_ascii_arguments(make_gateway) -> None:
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        assert c.cmd(b"EHLO h\xc3\xb6st.example.net") == 501
        assert c.cmd(b"MA\x00IL FROM:<bob@partner.example.net>") == 500
        assert c.cmd(b"M\xc3\x84IL FROM:<bob@partner.example.net>") == 500
        c.ehlo()
        assert c.cmd("MAIL FROM:<jörg@partner.example.net>".encode()) == 553
        # control: the same address with SMTPUTF8 is fine, and so is its recipient
        assert c.cmd("MAIL FROM:<jörg@partner.example.net> SMTPUTF8".encode()) == 250
        assert c.cmd("RCPT TO:<jürgen@example.com>".encode()) == 250
        assert c.cmd(b"RSET") == 250
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        assert c.cmd("RCPT TO:<jürgen@example.com>".encode()) == 553


def received_headers(data: bytes) -> tuple[list[str], list[str]]:
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    return [str(v) for v in msg.get_all("Received") or []], list(msg.keys())


def test_helo_cannot_inject_a_header_into_received(make_gateway) -> None:
    gw = make_gateway()
    with RawSMTP(gw.port) as c:
        assert c.cmd(b"HELO evil.example.net\rBcc: victim@example.com") == 501
        # CRLF inside HELO only splits it into two commands; the second is not one.
        c.send(b"EHLO evil.example.net\r\nBcc: victim@example.com\r\n")
        assert c.reply()[0] == 250
        assert c.reply()[0] == 500
        assert deliver(c, message()) == 250
    gw.wait_spool_empty()
    [path] = maildir_files(gw.data_dir)
    received, names = received_headers(path.read_bytes())
    assert len(received) == 1
    assert received[0].startswith("from evil.example.net ([127.0.0.1])")
    assert "Bcc" not in names and "victim" not in received[0]


def test_xclient_is_not_implemented_and_does_not_change_the_peer(make_gateway) -> None:
    gw = make_gateway(org='internal_networks = ["10.0.0.0/8"]')
    with RawSMTP(gw.port) as c:
        c.ehlo()
        code = c.cmd(b"XCLIENT ADDR=10.1.2.3 NAME=relay.example.com")
        assert code in (500, 502)
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        assert c.cmd(b"RCPT TO:<someone@outside.example.org>") == 550
        assert c.cmd(b"RCPT TO:<alice@example.com>") == 250  # control: local mail still in


def test_internal_peer_may_relay(make_gateway) -> None:
    """Control for the XCLIENT test: a really internal peer is what allows relaying."""
    gw = make_gateway(org='internal_networks = ["127.0.0.0/8"]')
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(b"MAIL FROM:<bob@example.com>") == 250
        assert c.cmd(b"RCPT TO:<someone@outside.example.org>") == 250


def test_proxy_header_from_a_client_is_not_honoured(make_gateway) -> None:
    gw = make_gateway(org='internal_networks = ["10.0.0.0/8"]')
    with RawSMTP(gw.port) as c:
        assert c.cmd(b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 25") == 500
        c.ehlo()
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        assert c.cmd(b"RCPT TO:<someone@outside.example.org>") == 550
        assert c.cmd(b"RSET") == 250
        assert deliver(c, message()) == 250
    gw.wait_spool_empty()
    [path] = maildir_files(gw.data_dir)
    received, _ = received_headers(path.read_bytes())
    assert "[127.0.0.1]" in received[0] and "10.1.2.3" not in received[0]


def test_too_many_errors_close_the_connection_with_421(make_gateway) -> None:
    gw = make_gateway()
    limit = int(getattr(SmtpSettings(), "max_errors", 10))
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        bad = b"RCPT TO:<someone@outside.example.org>\r\n"
        # every refusal but the last, then a command buffered after the last one
        c.send(bad * (limit - 1))
        assert [c.reply()[0] for _ in range(limit - 1)] == [550] * (limit - 1)
        assert c.cmd(b"NOOP") == 250  # control: under the limit the session goes on
        c.send(bad + b"RCPT TO:<alice@example.com>\r\nNOOP\r\n")
        assert c.reply()[0] == 550
        assert c.reply()[1] == [b"421 4.7.0 Too many errors, closing connection"]
        assert c.closed()
    # the buffered RCPT/NOOP were not run; the gateway still serves new clients
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert deliver(c, message()) == 250


def test_error_budget_is_configurable(make_gateway) -> None:
    gw = make_gateway(smtp="max_errors = 2")
    with RawSMTP(gw.port) as c:
        c.ehlo()
        assert c.cmd(b"RSET x") == 501
        assert c.cmd(b"NOOP") == 250
        assert c.cmd(b"RSET x") == 501
        assert c.reply()[0] == 421
        assert c.closed()
