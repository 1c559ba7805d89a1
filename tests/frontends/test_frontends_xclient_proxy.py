"""XCLIENT attribute parsing, and XCLIENT/PROXY in an in-process GatewaySMTP.

The session's peer, HELO name and authentication are read back through a handler whose RCPT
hook reports them, so each test sees what relay policy and the Received header would use.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mailward.config.settings import SmtpSettings
from mailward.frontends.smtp.server import ConnectionCounter, GatewaySMTP
from mailward.frontends.smtp.xclient import ClientInfo, XclientError, parse_xclient, xtext_decode

START = ClientInfo(addr="127.0.0.1", port=5000)


def test_xtext_decoding() -> None:
    assert xtext_decode("relay+2Duser") == "relay-user"
    assert xtext_decode("a+0D+0Ab") == "a\r\nb"  # decoded: the value checks refuse it
    for bad in ("a=b", "a+2", "a+zz", "a b", "\u00e4"):
        with pytest.raises(ValueError):
            xtext_decode(bad)


def test_parse_xclient_takes_the_postfix_attributes() -> None:
    got = parse_xclient(
        "name=mx.example.net ADDR=IPV6:2001:DB8::1 PORT=25 proto=esmtp HELO=mx LOGIN=b+2Dob",
        START,
    )
    assert got == ClientInfo(addr="2001:db8::1", port=25, name="mx.example.net", helo="mx",
                             login="b-ob", proto="ESMTP")
    # attributes not named keep their value; a new ADDR without PORT forgets the old port
    assert parse_xclient("HELO=[UNAVAILABLE]", got) == ClientInfo(
        addr="2001:db8::1", port=25, name="mx.example.net", login="b-ob", proto="ESMTP")
    assert parse_xclient("ADDR=192.0.2.1", got).port == 0
    assert parse_xclient("LOGIN=[UNAVAILABLE] NAME=[TEMPUNAVAIL]", got).login == ""


@pytest.mark.parametrize(
    "arg",
    [
        "", "ADDR", "FOO=1", "DESTADDR=10.0.0.1", "ADDR=10.0.0.1 ADDR=10.0.0.2",
        "ADDR=[UNAVAILABLE]", "ADDR=mx.example.net", "ADDR=10.0.0.1+0D+0A", "ADDR=fe80::1+25eth0",
        "NAME=a+0D+0ABcc:+20x", "NAME=a_b+20c", "HELO=a+0Ab", "HELO=a+20b", "HELO=" + "h" * 256,
        "LOGIN=a+00", "LOGIN=a+7Fb", "PORT=65536", "PORT=-1", "PORT=\u0661", "PROTO=LMTP",
        "HELO=a=b",
    ],
)
def test_parse_xclient_refuses_bad_attributes(arg: str) -> None:
    with pytest.raises(XclientError) as err:
        parse_xclient(arg, START)
    assert err.value.reply.startswith("501 5.5.4 ")
    assert "\r" not in err.value.reply and "\n" not in err.value.reply


class ReportingHandler:
    """RCPT says what the session looks like: peer, HELO name, authenticated-as."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return f"250 peer={session.peer[0]} helo={session.host_name} auth={session.auth_data}"


async def talk(settings: SmtpSettings, data: bytes, *, source: str = "127.0.0.1",
               counter: ConnectionCounter | None = None) -> bytes:
    """Send ``data`` then QUIT from ``source``; all the server said until it closed."""
    counter = counter if counter is not None else ConnectionCounter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GatewaySMTP(ReportingHandler(), settings, counter, None),  # type: ignore[arg-type]
        host="127.0.0.1", port=0,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(data + b"QUIT\r\n")
        said = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return said
    finally:
        server.close()
        await server.wait_closed()


RCPT = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\n"
XCLIENT_HOST = SmtpSettings(xclient_hosts=("127.0.0.0/30",))


def test_xclient_from_an_allowed_host_changes_peer_helo_and_login() -> None:
    said = asyncio.run(talk(XCLIENT_HOST, b"EHLO filter\r\n"
                            b"XCLIENT ADDR=192.0.2.9 HELO=mx.example.net LOGIN=carol\r\n" + RCPT))
    assert b"250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN\r\n" in said
    assert said.count(b"220 mailward.local mailward\r\n") == 2  # greeting, then after XCLIENT
    assert b"250 peer=192.0.2.9 helo=mx.example.net auth=carol\r\n" in said


def test_xclient_resets_the_transaction_state_and_ehlo_is_needed_without_helo() -> None:
    said = asyncio.run(talk(XCLIENT_HOST, b"EHLO filter\r\nXCLIENT ADDR=192.0.2.9\r\n" + RCPT))
    assert b"503 Error: send HELO first\r\n" in said
    assert b"250 peer=" not in said


def test_xclient_elsewhere_is_unknown_and_not_advertised() -> None:
    settings = SmtpSettings(xclient_hosts=("127.0.0.2/32",))
    said = asyncio.run(talk(settings, b"EHLO filter\r\nXCLIENT ADDR=192.0.2.9 LOGIN=carol\r\n"
                            + RCPT))
    assert b"XCLIENT NAME" not in said
    assert b'500 Error: command "XCLIENT" not recognized\r\n' in said
    assert b"250 peer=127.0.0.1 helo=filter auth=None\r\n" in said


def test_proxy_header_from_a_trusted_proxy_names_the_client() -> None:
    settings = SmtpSettings(trusted_proxies=("127.0.0.1/32",))
    said = asyncio.run(talk(settings, b"PROXY TCP4 198.51.100.4 127.0.0.1 4000 25\r\n"
                            b"EHLO client\r\n" + RCPT))
    assert said.startswith(b"220 ")
    assert b"250 peer=198.51.100.4 helo=client auth=None\r\n" in said


def test_proxy_header_elsewhere_is_an_unknown_command() -> None:
    settings = SmtpSettings(trusted_proxies=("127.0.0.2/32",))
    said = asyncio.run(talk(settings, b"PROXY TCP4 198.51.100.4 127.0.0.1 4000 25\r\n"
                            b"EHLO client\r\n" + RCPT))
    assert b'500 Error: command "PROXY" not recognized\r\n' in said
    assert b"250 peer=127.0.0.1 helo=client auth=None\r\n" in said


def test_per_address_limit_counts_the_proxied_client_not_the_proxy() -> None:
    settings = SmtpSettings(trusted_proxies=("127.0.0.1/32",), max_connections_per_ip=1)

    async def scenario() -> list[bytes]:
        counter = ConnectionCounter()
        counter.by_ip["198.51.100.4"] = 1  # that client already has its one connection
        counter.by_ip["127.0.0.1"] = 1  # and so does the proxy itself: it must not matter
        said = [await talk(settings, b"PROXY TCP4 198.51.100.4 127.0.0.1 4000 25\r\n",
                           counter=counter),
                await talk(settings, b"PROXY TCP4 198.51.100.5 127.0.0.1 4000 25\r\n",
                           counter=counter)]
        assert counter.total == 0 and dict(counter.by_ip) == {"198.51.100.4": 1, "127.0.0.1": 1}
        return said

    refused, accepted = asyncio.run(scenario())
    assert refused == b"421 4.7.0 Too many connections, try again later\r\n"
    assert accepted.startswith(b"220 ") and accepted.endswith(b"221 Bye\r\n")
