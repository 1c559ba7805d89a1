"""PROXY protocol and XCLIENT against the running gateway: honoured only from trusted hosts.

Every loopback address reaches the gateway on Linux, so 127.0.0.2 plays the trusted HAProxy,
127.0.0.3 the trusted XCLIENT filter (itself in an internal network) and 127.0.0.4 an outside
client. 10.0.0.0/8 is internal: a client there may relay to other domains, 192.0.2.7 may not.
The addresses named in PROXY/XCLIENT are never contacted; they only label the session.
"""

from __future__ import annotations

import email.parser
import email.policy
import ipaddress
import socket
import struct
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import GatewayProcess, RawSMTP, maildir_files

pytestmark = pytest.mark.slow

PROXY_HOST, XCLIENT_HOST, OUTSIDER = "127.0.0.2", "127.0.0.3", "127.0.0.4"
ORG = 'internal_networks = ["10.0.0.0/8", "127.0.0.3/32"]'
SMTP = (
    f'trusted_proxies = ["{PROXY_HOST}/32"]\nxclient_hosts = ["{XCLIENT_HOST}/32"]\n'
    "max_errors = 50"  # the injection test sends many refused commands on one connection
)
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
OUTSIDE_RCPT = b"RCPT TO:<someone@outside.example.org>"


class ClientFrom(RawSMTP):
    """RawSMTP from a chosen loopback address, with bytes sent before the greeting is read."""

    def __init__(self, port: int, source: str, preamble: bytes = b"", greet: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), 15, source_address=(source, 0))
        self.buf = b""
        if preamble:
            self.sock.sendall(preamble)
        if greet:
            code, lines = self.reply()
            assert code == 220, lines

    def said_before_close(self, timeout: float = 15.0) -> bytes:
        """All the server sends until it closes the connection (which must be within timeout)."""
        self.sock.settimeout(timeout)
        data = self.buf
        while chunk := self.sock.recv(65536):
            data += chunk
        return data


def proxy_v1(src: str, sport: int = 40000) -> bytes:
    family = b"TCP4" if ipaddress.ip_address(src).version == 4 else b"TCP6"
    dst = b"127.0.0.1" if family == b"TCP4" else b"::1"
    return b"PROXY %s %s %s %d 25\r\n" % (family, src.encode(), dst, sport)


def proxy_v2(src: str, sport: int = 40000, command: int = 1) -> bytes:
    ip = ipaddress.ip_address(src)
    dst = ipaddress.ip_address("127.0.0.1" if ip.version == 4 else "::1")
    family = 0x11 if ip.version == 4 else 0x21  # AF_INET/AF_INET6 over STREAM
    body = ip.packed + dst.packed + struct.pack("!HH", sport, 25)
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


def message(subject: str) -> bytes:
    return (
        b"From: Bob <bob@partner.example.net>\r\nTo: alice@example.com\r\n"
        b"Subject: " + subject.encode() + b"\r\n\r\nHello Alice, the notes are attached.\r\n"
    )


def deliver(c: RawSMTP, subject: str) -> None:
    assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
    assert c.cmd(b"RCPT TO:<alice@example.com>") == 250
    assert c.cmd(b"DATA") == 354
    c.send(message(subject) + b".\r\n")
    assert c.reply()[0] == 250


def relay_reply(c: RawSMTP) -> int:
    """The reply to a recipient outside the accepted domains (250 only for internal peers)."""
    assert c.cmd(b"MAIL FROM:<bob@example.com>") == 250
    code = c.cmd(OUTSIDE_RCPT)
    assert c.cmd(b"RSET") == 250
    return code


def delivered(gw: GatewayProcess, *subjects: str) -> dict[str, tuple[list[str], list[str]]]:
    """Subject -> (Received values, header names) of every delivered message, once the
    messages with ``subjects`` are there (the scan may finish from the spool after the 250)."""
    deadline = time.monotonic() + 60
    while True:
        out = {}
        for path in maildir_files(gw.data_dir):
            msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
                path.read_bytes()
            )
            out[str(msg["Subject"])] = ([str(v) for v in msg.get_all("Received") or []],
                                        list(msg))
        if set(subjects) <= set(out) and gw.spool_count() == 0:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"delivered {sorted(out)}, expected {subjects}:\n"
                                 + gw.log.read_text()[-4000:])
        time.sleep(0.1)


@pytest.fixture
def gw(make_gateway) -> GatewayProcess:
    return make_gateway(org=ORG, smtp=SMTP)


@pytest.mark.parametrize("header", [proxy_v1, proxy_v2], ids=["v1", "v2"])
def test_proxy_from_trusted_proxy_makes_the_proxied_client_the_peer(gw, header) -> None:
    with ClientFrom(gw.port, PROXY_HOST, header("10.1.2.3")) as c:
        c.ehlo()
        assert relay_reply(c) == 250  # internal by the proxied address, not 127.0.0.2
        deliver(c, "internal")
    with ClientFrom(gw.port, PROXY_HOST, header("192.0.2.7", 51000)) as c:
        c.ehlo()
        assert relay_reply(c) == 550  # an outside client behind the same proxy may not relay
        deliver(c, "outside")
    with ClientFrom(gw.port, PROXY_HOST, header("2001:db8::7")) as c:
        c.ehlo()
        deliver(c, "ipv6")
    got = delivered(gw, "internal", "outside", "ipv6")
    assert got["internal"][0][0].startswith("from client.example.net ([10.1.2.3])")
    assert got["outside"][0][0].startswith("from client.example.net ([192.0.2.7])")
    assert got["ipv6"][0][0].startswith("from client.example.net ([2001:db8::7])")


def test_proxy_from_an_untrusted_host_gets_500_and_keeps_its_peer(gw) -> None:
    with ClientFrom(gw.port, OUTSIDER) as c:
        assert c.cmd(proxy_v1("10.1.2.3").rstrip(b"\r\n")) == 500
        c.ehlo()
        assert relay_reply(c) == 550
        deliver(c, "untrusted v1")
    # A v2 signature is built to make a server that does not expect it hang up ("QUIT\n").
    with ClientFrom(gw.port, OUTSIDER) as c:
        c.send(proxy_v2("10.1.2.3"))
        codes = [c.reply()[0] for _ in range(4)]
        assert codes == [500, 500, 500, 221]
        assert c.closed()
    # A trusted proxy's own address may not be named by a client either (it is not internal).
    with ClientFrom(gw.port, "127.0.0.1") as c:
        assert c.cmd(b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 25") == 500
        c.ehlo()
        assert relay_reply(c) == 550
    got = delivered(gw, "untrusted v1")
    assert list(got) == ["untrusted v1"]
    assert got["untrusted v1"][0][0].startswith(f"from client.example.net ([{OUTSIDER}])")
    assert "10.1.2.3" not in got["untrusted v1"][0][0]


BAD_HEADERS = [
    b"EHLO client.example.net\r\n",  # no header at all
    b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 25 junk\r\n",
    b"PROXY TCP4 10.1.2.3\r\nBcc: victim@example.com 127.0.0.1 40000 25\r\n",
    b"PROXY TCP4 10.1.2.3\x00 127.0.0.1 40000 25\r\n",
    b"PROXY TCP4 999.1.2.3 127.0.0.1 40000 25\r\n",
    b"PROXY TCP6 10.1.2.3 127.0.0.1 40000 25\r\n",
    b"PROXY UNKNOWN\r\n",  # the client is unknown: not taken as the proxy itself
    b"PROXY TCP4 10.1.2.3 127.0.0.1 40000 " + b"9" * 200 + b"\r\n",
    V2_SIGNATURE + b"\x21\x11\x00\x04abcd",  # truncated address block
    V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12,  # version 3
    V2_SIGNATURE + b"\x21\x31\x00\x00",  # AF_UNIX
    V2_SIGNATURE + b"\x21\x12\x00\x0c" + b"\x0a\x01\x02\x03" + b"\x00" * 8,  # UDP
]


def test_trusted_proxy_with_a_bad_header_is_closed_without_greeting(gw) -> None:
    for preamble in BAD_HEADERS:
        with ClientFrom(gw.port, PROXY_HOST, preamble, greet=False) as c:
            assert c.said_before_close() == b"", preamble
    with ClientFrom(gw.port, PROXY_HOST, proxy_v2("10.1.2.3")) as c:  # control
        c.ehlo()
        deliver(c, "after junk")
    assert list(delivered(gw, "after junk")) == ["after junk"]


def test_proxy_v2_local_keeps_the_proxy_address(gw) -> None:
    with ClientFrom(gw.port, PROXY_HOST, proxy_v2("10.1.2.3", command=0)) as c:
        c.ehlo()
        assert relay_reply(c) == 550  # 127.0.0.2 itself is not internal
        deliver(c, "local")
    assert delivered(gw, "local")["local"][0][0].startswith(f"from client.example.net ([{PROXY_HOST}])")


def test_xclient_from_a_trusted_filter_changes_the_peer(gw) -> None:
    with ClientFrom(gw.port, XCLIENT_HOST) as c:
        lines = c.ehlo()
        assert b"250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN" in lines
        assert relay_reply(c) == 250  # control: the filter itself is internal
        c.send(b"XCLIENT NAME=mx.partner.example ADDR=192.0.2.7 PORT=4567"
               b" HELO=mx.partner.example\r\n")
        assert c.reply()[0] == 220
        assert relay_reply(c) == 550  # the named client is outside
        deliver(c, "named outside")
        assert c.cmd(b"XCLIENT ADDR=IPV6:2001:db8::9 HELO=[UNAVAILABLE]") == 220
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 503  # HELO needed again
        c.ehlo(b"v6.partner.example")
        deliver(c, "named v6")
        assert c.cmd(b"XCLIENT ADDR=192.0.2.7 LOGIN=relay+2Duser") == 220
        c.ehlo()
        assert relay_reply(c) == 250  # authenticated as relay-user by the filter
    got = delivered(gw, "named outside", "named v6")
    assert got["named outside"][0][0].startswith("from mx.partner.example ([192.0.2.7])")
    assert got["named v6"][0][0].startswith("from v6.partner.example ([2001:db8::9])")


def test_xclient_from_an_untrusted_host_is_unknown_and_changes_nothing(gw) -> None:
    with ClientFrom(gw.port, OUTSIDER) as c:
        lines = c.ehlo()
        assert not any(b"XCLIENT" in line for line in lines)
        assert c.cmd(b"XCLIENT ADDR=10.1.2.3 LOGIN=admin HELO=trusted.example") == 500
        assert relay_reply(c) == 550
        deliver(c, "untrusted xclient")
    received = delivered(gw, "untrusted xclient")["untrusted xclient"][0][0]
    assert received.startswith(f"from client.example.net ([{OUTSIDER}])")


def test_xclient_values_cannot_inject_header_lines(gw) -> None:
    with ClientFrom(gw.port, XCLIENT_HOST) as c:
        c.ehlo()
        for bad in (
            b"XCLIENT NAME=evil.example+0D+0ABcc:+20victim@example.com",
            b"XCLIENT HELO=evil.example+0D+0ABcc:+20victim@example.com",
            b"XCLIENT HELO=evil.example+0A",
            b"XCLIENT LOGIN=a+00b",
            b"XCLIENT HELO=evil\rBcc:victim@example.com",
            b"XCLIENT HELO=h\xc3\xb6st.example",
            b"XCLIENT ADDR=10.1.2.3+0D+0ABcc:",
            b"XCLIENT ADDR=[UNAVAILABLE]",
            b"XCLIENT ADDR=10.1.2.3 ADDR=192.0.2.7",
            b"XCLIENT DESTADDR=10.1.2.3",
            b"XCLIENT PORT=99999",
            b"XCLIENT PROTO=HTTP",
        ):
            assert c.cmd(bad) == 501, bad
        assert relay_reply(c) == 250  # nothing changed: still the (internal) filter
        # CRLF on the wire ends the command: the rest is a command of its own, and refused.
        c.send(b"XCLIENT ADDR=192.0.2.7 HELO=evil.example\r\nBcc: victim@example.com\r\n")
        assert c.reply()[0] == 220
        assert c.reply()[0] == 500
        assert c.cmd(b"MAIL FROM:<bob@partner.example.net>") == 250
        assert c.cmd(b"XCLIENT ADDR=10.1.2.3") == 503  # not inside a transaction
        assert c.cmd(b"RSET") == 250
        deliver(c, "injection")
    received, names = delivered(gw, "injection")["injection"]
    assert len(received) == 1
    assert received[0].startswith("from evil.example ([192.0.2.7])")
    assert "Bcc" not in names and "victim" not in received[0]
