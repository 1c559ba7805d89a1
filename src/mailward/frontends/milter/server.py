"""The milter listener: one asyncio connection per MTA session, on TCP or a Unix socket.

The MTA (Postfix's smtpd or cleanup) opens a connection per SMTP session, negotiates options,
then sends the session's events; mailward answers "continue" to each (headers need no reply)
and decides at end of message (:class:`~mailward.frontends.milter.verdicts.MilterVerdicts`).
A message larger than ``smtp.max_message_size`` gets 552; a MAIL or RCPT over a rate limit
(``[ratelimit]``) gets 450 4.7.1, which the MTA says to its client. A protocol error closes the
connection; with ``milter_default_action = tempfail`` Postfix then answers its client 451.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from mailward.config.settings import Settings
from mailward.frontends.milter import protocol as p
from mailward.frontends.milter.edits import Header
from mailward.frontends.milter.verdicts import MilterMessage, MilterVerdicts
from mailward.ratelimit import RateLimiter

log = logging.getLogger(__name__)


class MilterConnection:
    """The state of one MTA connection: its negotiated options, macros and current message."""

    def __init__(
        self, verdicts: MilterVerdicts, max_size: int, limiter: RateLimiter | None = None
    ) -> None:
        self.verdicts = verdicts
        self.max_size = max_size
        #: Rate limits at MAIL and RCPT ([ratelimit]): a refusal is a 450 the MTA says.
        self.limiter = limiter
        self.negotiated: p.Negotiated | None = None
        self.connect_macros: dict[str, str] = {}
        self.client_addr = ""
        self.client_name = ""
        self.helo = ""
        self.msg = MilterMessage()
        self.size = 0

    def _new_message(self) -> None:
        """Forget the message; keep what was said about the connection (and HELO)."""
        macros = dict(self.connect_macros)
        self.msg = MilterMessage(
            macros=macros, client_addr=self.client_addr, client_name=self.client_name,
            helo=self.helo,
            leading_space=self.negotiated.leading_space if self.negotiated else False,
        )
        self.size = 0

    async def handle(self, packet: p.Packet) -> list[bytes] | None:
        """Replies to one packet; None ends the connection (quit)."""
        cmd, data = packet.command, packet.data
        cont = [p.encode(p.CONTINUE)]
        if cmd == p.OPTNEG:
            self.negotiated, reply = p.negotiate(data)
            self._new_message()
            return [reply]
        if cmd == p.MACRO:
            stage, values = p.parse_macros(data)
            self.msg.macros.update(values)
            if stage in (p.CONNECT, p.HELO):
                self.connect_macros.update(values)
            return []
        if cmd == p.CONNECT:
            info = p.parse_connect(data)
            self.client_addr, self.client_name = info.address, info.hostname
            self._new_message()
            return cont
        if cmd == p.HELO:
            self.helo = b"".join(p.cstrings(data)[:1]).decode("utf-8", "replace")
            self.msg.helo = self.helo
            return cont
        if cmd == p.MAIL:
            self._new_message_keeping(self.msg.macros)
            self.msg.mail_from = p.parse_address(data)[0]
            return await self._limited("MAIL", self.msg.mail_from) or cont
        if cmd == p.RCPT:
            rcpt = p.parse_address(data)[0]
            refused = await self._limited("RCPT", rcpt)
            if refused:
                return refused
            self.msg.rcpts.append(rcpt)
            return cont
        if cmd == p.HEADER:
            name, value = p.parse_header(data)
            self.size += len(name) + len(value) + 3
            self.msg.headers.append(Header(name, value))
            return cont if self.negotiated and self.negotiated.header_replies else []
        if cmd == p.BODY:
            self.size += len(data)
            if self.size <= self.max_size:
                self.msg.body += data
            return cont
        if cmd == p.BODYEOB:
            self.size += len(data)  # the protocol allows a last body chunk here
            if data and self.size <= self.max_size:
                self.msg.body += data
            if self.size > self.max_size:
                return [p.reply_code("552 5.3.4 Message too big")]
            replies = await self.verdicts.end_of_message(self.msg)
            self._new_message()
            return replies
        if cmd == p.ABORT:
            self._new_message()
            return []
        if cmd in (p.QUIT, p.QUIT_NC):
            return None if cmd == p.QUIT else []
        if cmd in (p.DATA, p.EOH, p.UNKNOWN):
            return cont
        raise p.MilterProtocolError(f"unknown milter command {cmd!r}")

    async def _limited(self, command: str, address: str) -> list[bytes] | None:
        """The 450 reply when a rate limit refuses this MAIL or RCPT, else None."""
        if self.limiter is None:
            return None
        peer = self.msg.macros.get("client_addr") or self.client_addr
        authenticated = bool(self.msg.macros.get("auth_authen"))
        check = self.limiter.check_mail if command == "MAIL" else self.limiter.check_rcpt
        refusal = await check(peer, address, authenticated=authenticated)
        return None if refusal is None else [p.reply_code(refusal.reply)]

    def _new_message_keeping(self, macros: dict[str, str]) -> None:
        """MAIL starts a message: the macros sent just before it (queue id, auth) stay."""
        self._new_message()
        self.msg.macros.update(macros)


async def serve_connection(
    verdicts: MilterVerdicts, max_size: int,
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    limiter: RateLimiter | None = None,
) -> None:
    conn = MilterConnection(verdicts, max_size, limiter)
    try:
        while True:
            packet = await p.read_packet(reader)
            if packet is None:
                break
            replies = await conn.handle(packet)
            if replies is None:
                break
            if replies:
                writer.write(b"".join(replies))
                await writer.drain()
    except p.MilterProtocolError as exc:
        log.warning("milter: closing the connection: %s", exc)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except Exception:  # a bug here must not pass mail: closing makes Postfix apply tempfail
        log.exception("milter: unexpected error; closing the connection")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start_milter_server(
    verdicts: MilterVerdicts, settings: Settings, limiter: RateLimiter | None = None
) -> asyncio.Server:
    """Listen on ``milter.listen`` ("inet:HOST:PORT" or "unix:/path"); ``limiter`` checks the
    rate limits at MAIL and RCPT."""
    max_size = settings.smtp.max_message_size

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(verdicts, max_size, reader, writer, limiter)

    kind, _, where = settings.milter.listen.partition(":")
    if kind == "unix":
        path = Path(where)
        with contextlib.suppress(FileNotFoundError):
            if path.is_socket():
                path.unlink()  # left by a previous run
        server = await asyncio.start_unix_server(on_connect, path=str(path))
        os.chmod(path, settings.milter.socket_mode)
        return server
    host, _, port = where.rpartition(":")
    return await asyncio.start_server(
        on_connect, host=host.strip("[]") or "127.0.0.1", port=int(port), reuse_address=True
    )


def listen_address(server: asyncio.Server) -> str:
    sockets = server.sockets
    return ", ".join(str(s.getsockname()) for s in sockets) if sockets else "?"
