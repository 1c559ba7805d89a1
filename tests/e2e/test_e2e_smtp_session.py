"""SMTP session rules of the running gateway: STARTTLS, AUTH, limits, timeouts, bad input."""

from __future__ import annotations

import smtplib
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import messages
from gateway_harness import free_port, next_hop
from tls_certs import make_self_signed

from mailward.frontends.smtp.auth import hash_password
from mailward.store import open_store

pytestmark = pytest.mark.slow


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_starttls_and_auth_allow_authenticated_relay(make_gateway, tmp_path) -> None:
    cert, key = make_self_signed(tmp_path)
    pw_hash = hash_password("s3cret", iterations=1000)
    hop_port = free_port()
    with next_hop(hop_port) as hop:
        gw = make_gateway(
            f'[delivery.relay]\nhost = "127.0.0.1"\nport = {hop_port}\n',
            smtp=f'tls_cert = "{cert}"\ntls_key = "{key}"\n'
                 f'[smtp.auth_users]\nrelayuser = "{pw_hash}"\n',
        )
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
            smtp.ehlo("client.example.net")
            assert smtp.has_extn("starttls")
            assert not smtp.has_extn("auth"), "AUTH must not be offered before TLS"
            # before authenticating, an outside recipient is refused
            smtp.mail("alice@example.com")
            assert smtp.rcpt("partner@outside.example.org")[0] == 550
            smtp.rset()
            smtp.starttls(context=client_tls())
            smtp.ehlo("client.example.net")
            assert smtp.has_extn("auth")
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("relayuser", "wrong")
            smtp.login("relayuser", "s3cret")
            smtp.send_message(messages.clean(9, to="partner@outside.example.org"),
                              from_addr="alice@example.com")
        gw.wait_spool_empty()
        assert [r for _, r, _ in hop.received] == [["partner@outside.example.org"]]


def test_require_tls_refuses_plaintext_mail(make_gateway, tmp_path) -> None:
    cert, key = make_self_signed(tmp_path)
    gw = make_gateway(smtp=f'tls_cert = "{cert}"\ntls_key = "{key}"\nrequire_tls = true\n')
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.ehlo()
        code, _ = smtp.mail("a@partner.example.net")
        assert code == 530
        smtp.starttls(context=client_tls())
        smtp.ehlo()
        assert smtp.mail("a@partner.example.net")[0] == 250


def test_recipient_limit(make_gateway) -> None:
    gw = make_gateway(smtp="max_recipients = 3")
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.ehlo("client.example.net")
        smtp.mail("a@partner.example.net")
        codes = [smtp.rcpt(f"user{i}@example.com")[0] for i in range(5)]
    assert codes == [250, 250, 250, 452, 452]


def test_connection_limit_per_address(make_gateway) -> None:
    gw = make_gateway(smtp="max_connections_per_ip = 2")
    time.sleep(0.5)  # let the harness's readiness probe connection be closed on the server side
    held = [socket.create_connection(("127.0.0.1", gw.port), 5) for _ in range(2)]
    try:
        for s in held:
            assert s.recv(512).startswith(b"220")
        third = socket.create_connection(("127.0.0.1", gw.port), 5)
        assert third.recv(512).startswith(b"421")
        third.close()
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    again = socket.create_connection(("127.0.0.1", gw.port), 5)
    assert again.recv(512).startswith(b"220"), "closed connections must free their slots"
    again.close()


def test_idle_client_is_timed_out(make_gateway) -> None:
    gw = make_gateway(smtp="command_timeout = 1.0")
    s = socket.create_connection(("127.0.0.1", gw.port), 10)
    assert s.recv(512).startswith(b"220")
    start = time.monotonic()
    data = s.recv(512)  # the server closes on us
    while data:
        data = s.recv(512)
    assert time.monotonic() - start < 8
    s.close()


def test_unparseable_message_is_quarantined_not_dropped(make_gateway) -> None:
    gw = make_gateway()
    garbage = b"\x00\x01\x02 this is not a message at all \xff\xfe"
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp:
        smtp.sendmail("a@partner.example.net", ["alice@example.com"], garbage)
    gw.wait_spool_empty()
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        [entry] = store.list_quarantine(status="held")
        assert entry.action == "quarantine"
        assert any(f.symbol == "MIME_UNPARSEABLE" for f in entry.findings)
        assert store.quarantine_raw(entry.id).startswith(b"\x00\x01\x02")
    finally:
        store.close()


def test_reject_is_said_in_smtp_while_the_client_waits(make_gateway) -> None:
    gw = make_gateway(smtp="", org="")
    text = gw.config.read_text()
    gw.stop()
    gw.config.write_text(text + "[policy]\nreject_at = 12.0\nquarantine_at = 11.0\n")
    gw.start()
    with (
        smtplib.SMTP("127.0.0.1", gw.port, timeout=30) as smtp,
        pytest.raises(smtplib.SMTPDataError) as err,
    ):
        smtp.send_message(messages.executable(), from_addr="billing@supplier.example.net")
    assert err.value.smtp_code == 550
    assert b"rejected" in err.value.smtp_error
    assert gw.spool_count() == 0
    store = open_store(f"sqlite:///{gw.data_dir / 'mailward.db'}")
    try:
        [rec] = store.recent_messages(5)
        assert rec.action == "reject"
    finally:
        store.close()


def test_clients_that_close_at_once_free_their_slots(make_gateway) -> None:
    """Regression: a client closing before its greeting kept its slot until the idle timeout."""
    gw = make_gateway(smtp="max_connections_per_ip = 2")
    for _ in range(6):
        socket.create_connection(("127.0.0.1", gw.port), 5).close()
    time.sleep(0.3)
    s = socket.create_connection(("127.0.0.1", gw.port), 5)
    assert s.recv(512).startswith(b"220")
    s.close()


def test_stalled_data_transfer_is_timed_out_and_nothing_is_spooled(make_gateway) -> None:
    gw = make_gateway(smtp="command_timeout = 30.0\ndata_timeout = 1.0")
    s = socket.create_connection(("127.0.0.1", gw.port), 10)
    reader = s.makefile("rb")
    assert reader.readline().startswith(b"220")
    for cmd in (b"EHLO c.example.net", b"MAIL FROM:<a@partner.example.net>",
                b"RCPT TO:<alice@example.com>", b"DATA"):
        s.sendall(cmd + b"\r\n")
        line = reader.readline()
        while line[3:4] == b"-":
            line = reader.readline()
    assert line.startswith(b"354")
    s.sendall(b"Subject: slow\r\n\r\npart of a body")
    start = time.monotonic()
    assert reader.read() == b""  # closed by the server, well before the command timeout
    assert time.monotonic() - start < 10
    s.close()
    assert gw.spool_count() == 0
