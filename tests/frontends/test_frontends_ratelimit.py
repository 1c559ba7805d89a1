"""Rate limits in the front ends: over SMTP the N+1th MAIL or RCPT of a bucket gets 450 4.7.1
and the session goes on, other clients, senders and recipients are unaffected, and a Redis that
does not answer lets mail through; in the milter the MTA is told 450 at MAIL and RCPT."""

from __future__ import annotations

import asyncio
import socket
import struct
from types import SimpleNamespace
from typing import Any

from mailward.config.settings import Settings
from mailward.frontends.milter import protocol as p
from mailward.frontends.milter.server import MilterConnection
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.frontends.smtp.server import ConnectionCounter, GatewaySMTP
from mailward.ratelimit import STATS, MemoryBuckets, RateLimiter

LIMITS = {
    "enabled": True,
    "client_address": {"per_minute": 1, "burst": 3},
    "sender": {"per_minute": 1, "burst": 2},
    "recipient": {"per_minute": 1, "burst": 2},
}


def gateway_settings(**ratelimit: Any) -> Settings:
    return Settings.model_validate({
        "organisation": {"accepted_domains": ["example.com"]},
        "smtp": {"xclient_hosts": ["127.0.0.1/32"]},  # so each session can be another client
        "ratelimit": {**LIMITS, **ratelimit},
    })


class Client:
    """One SMTP session; ``as_client`` names the client address with XCLIENT."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self) -> str:
        lines = [await asyncio.wait_for(self.reader.readline(), 10)]
        while lines[-1][3:4] == b"-":
            lines.append(await asyncio.wait_for(self.reader.readline(), 10))
        return lines[-1].decode().rstrip()

    async def cmd(self, line: str) -> str:
        self.writer.write(line.encode() + b"\r\n")
        return await self.reply()

    async def as_client(self, addr: str) -> None:
        assert (await self.cmd("EHLO test.example")).startswith("250")
        assert (await self.cmd(f"XCLIENT ADDR={addr}")).startswith("220")
        assert (await self.cmd("EHLO client.example.net")).startswith("250")

    async def mail(self, sender: str) -> str:
        reply = await self.cmd(f"MAIL FROM:<{sender}>")
        if reply.startswith("250"):
            assert (await self.cmd("RSET")).startswith("250")
        return reply[:3]


async def serve(settings: Settings, limiter: RateLimiter) -> tuple[asyncio.Server, int]:
    processor = SimpleNamespace(lockdown=None)  # MAIL and RCPT need nothing else
    handler = GatewayHandler(settings, None, None, processor,  # type: ignore[arg-type]
                             limiter=limiter)
    counter = ConnectionCounter()
    server = await asyncio.get_running_loop().create_server(
        lambda: GatewaySMTP(handler, settings.smtp, counter, None), host="127.0.0.1", port=0)
    return server, server.sockets[0].getsockname()[1]


def smtp_run(settings: Settings, limiter: RateLimiter, body: Any) -> None:
    async def main() -> None:
        server, port = await serve(settings, limiter)
        clients: list[Client] = []

        async def connect(addr: str) -> Client:
            client = Client(*await asyncio.open_connection("127.0.0.1", port))
            assert (await client.reply()).startswith("220")
            await client.as_client(addr)
            clients.append(client)
            return client

        try:
            await body(connect)
        finally:
            for c in clients:
                c.writer.close()
            server.close()
            await server.wait_closed()
            await limiter.aclose()

    asyncio.run(main())


def test_mail_over_the_sender_and_client_buckets_gets_450_and_others_go_on() -> None:
    settings = gateway_settings()
    limiter = RateLimiter(settings.ratelimit, (), MemoryBuckets())

    async def body(connect: Any) -> None:
        a = await connect("192.0.2.10")
        assert [await a.mail("bob@partner.example.net") for _ in range(3)] == [
            "250", "250", "450"]
        reply = await a.cmd("MAIL FROM:<bob@partner.example.net>")
        assert reply.startswith("450 4.7.1 Too many messages from this sender; try again in")
        assert await a.mail("carol@partner.example.net") == "250"  # the session went on
        reply = await a.cmd("MAIL FROM:<dave@partner.example.net>")  # the client's 4th
        assert reply.startswith("450 4.7.1 Too many messages from your address")
        b = await connect("192.0.2.11")  # another client, a sender with tokens left
        assert await b.mail("carol@partner.example.net") == "250"
        assert await b.mail("erin@partner.example.net") == "250"

    smtp_run(settings, limiter, body)


def test_rcpt_over_the_recipient_bucket_gets_450_and_the_transaction_goes_on() -> None:
    settings = gateway_settings()
    limiter = RateLimiter(settings.ratelimit, (), MemoryBuckets())

    async def body(connect: Any) -> None:
        a = await connect("192.0.2.20")
        assert (await a.cmd("MAIL FROM:<bob@partner.example.net>")).startswith("250")
        assert (await a.cmd("RCPT TO:<alice@example.com>")).startswith("250")
        assert (await a.cmd("RCPT TO:<Alice@example.com>")).startswith("250")
        reply = await a.cmd("RCPT TO:<alice@example.com>")
        assert reply.startswith("450 4.7.1 Too many messages for this recipient")
        assert (await a.cmd("RCPT TO:<bob@example.com>")).startswith("250")
        b = await connect("192.0.2.21")
        assert (await b.cmd("MAIL FROM:<carol@partner.example.net>")).startswith("250")
        assert (await b.cmd("RCPT TO:<alice@example.com>")).startswith("450")
        assert (await b.cmd("RCPT TO:<bob@example.com>")).startswith("250")

    smtp_run(settings, limiter, body)


def test_refused_recipients_outside_the_relay_policy_spend_no_token() -> None:
    settings = gateway_settings()
    limiter = RateLimiter(settings.ratelimit, (), MemoryBuckets())

    async def body(connect: Any) -> None:
        a = await connect("192.0.2.30")
        assert (await a.cmd("MAIL FROM:<bob@partner.example.net>")).startswith("250")
        for _ in range(3):
            assert (await a.cmd("RCPT TO:<x@elsewhere.example>")).startswith("550")
        assert (await a.cmd("RCPT TO:<x@example.com>")).startswith("250")

    smtp_run(settings, limiter, body)


def test_redis_unreachable_lets_mail_through() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = gateway_settings(redis_url=f"redis://127.0.0.1:{port}/0")
    limiter = RateLimiter(settings.ratelimit, ())
    before = STATS.failed_open

    async def body(connect: Any) -> None:
        a = await connect("192.0.2.40")
        assert [await a.mail("bob@partner.example.net") for _ in range(4)] == ["250"] * 4
        assert (await a.cmd("MAIL FROM:<bob@partner.example.net>")).startswith("250")
        assert (await a.cmd("RCPT TO:<alice@example.com>")).startswith("250")

    smtp_run(settings, limiter, body)
    assert STATS.failed_open - before == 6


def test_milter_says_450_at_mail_and_rcpt() -> None:
    settings = gateway_settings()
    limiter = RateLimiter(settings.ratelimit, (), MemoryBuckets())
    conn = MilterConnection(None, 1000, limiter)  # type: ignore[arg-type]

    async def send(cmd: bytes, data: bytes) -> list[bytes] | None:
        return await conn.handle(p.Packet(cmd, data))

    def reply_of(replies: list[bytes] | None) -> bytes:
        assert replies is not None and len(replies) == 1
        return replies[0][4:].rstrip(b"\0")  # the command and its data

    async def main() -> None:
        connect = b"mx\x004" + struct.pack("!H", 4000) + b"192.0.2.50\x00"
        assert reply_of(await send(p.CONNECT, connect)) == p.CONTINUE
        for expected in (p.CONTINUE, p.CONTINUE):
            assert reply_of(await send(p.MAIL, b"<bob@partner.example.net>\0")) == expected
        refused = reply_of(await send(p.MAIL, b"<bob@partner.example.net>\0"))
        assert refused.startswith(p.REPLYCODE + b"450 4.7.1 Too many messages from this sender")
        assert reply_of(await send(p.MAIL, b"<carol@partner.example.net>\0")) == p.CONTINUE
        for _ in range(2):
            assert reply_of(await send(p.RCPT, b"<alice@example.com>\0")) == p.CONTINUE
        refused = reply_of(await send(p.RCPT, b"<alice@example.com>\0"))
        assert refused.startswith(p.REPLYCODE + b"450 4.7.1 Too many messages for this recip")
        assert conn.msg.rcpts == ["alice@example.com", "alice@example.com"]
        # an authenticated client of the MTA, when exempted, is not counted
        limiter.update(limiter.settings.model_copy(update={"exempt_authenticated": True}), ())
        await send(p.MACRO, p.MAIL + b"{auth_authen}\0bob\0")
        assert reply_of(await send(p.MAIL, b"<bob@partner.example.net>\0")) == p.CONTINUE

    asyncio.run(main())
