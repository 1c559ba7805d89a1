"""LMTP client (RFC 2033): hands a message to the mail store (Dovecot, Cyrus...) and classifies
every recipient from its own reply.

aiosmtplib speaks SMTP only (no LHLO, one reply after DATA), so this is a small client over
asyncio streams. After the message, LMTP answers once per accepted recipient, in RCPT order:
one mailbox may take the message while another is over quota. :func:`lmtp_message` returns the
same :class:`~mailward.delivery.relay.RelayResult` as SMTP relay, and never raises:

- no host, connection failure, timeout, a garbled or missing reply, any 4xx: temporary;
- 5xx to MAIL FROM or to DATA: permanent for every recipient still in the transaction;
- 5xx / 4xx to RCPT, and each post-DATA reply, count for that recipient alone.

So a retry re-sends only to the recipients that failed for now, and 5xx ones are bounced.
Line endings become CRLF and lines starting with "." are dot-stuffed. Settings:
``[delivery.lmtp]`` (:class:`~mailward.config.settings.LmtpSettings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailward.config.settings import LmtpSettings
from mailward.delivery.relay import AcceptedFn, RelayResult, normalise_line_endings

__all__ = ["LmtpError", "lmtp_message"]

_MAX_LINE = 4096
_MAX_LINES = 100
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class LmtpError(Exception):
    """A reply that ends the transaction: ``code`` and the server's text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}".strip())
        self.code = code


@dataclass
class _Outcome:
    accepted: list[str] = field(default_factory=list)
    temp: dict[str, str] = field(default_factory=dict)
    perm: dict[str, str] = field(default_factory=dict)

    def settle(self, rcpt: str, code: int, said: str) -> None:
        if 200 <= code < 300:
            self.accepted.append(rcpt)
        else:
            (self.perm if code >= 500 else self.temp)[rcpt] = said

    def fail_rest(self, recipients: Sequence[str], permanent: bool, said: str) -> None:
        for rcpt in recipients:
            if rcpt not in self.accepted and rcpt not in self.temp and rcpt not in self.perm:
                (self.perm if permanent else self.temp)[rcpt] = said

    def result(self) -> RelayResult:
        return RelayResult(tuple(self.accepted), dict(self.temp), dict(self.perm))


class _Conn:
    """One LMTP connection: commands out, replies in, every read under the timeout."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float, where: str) -> None:
        self.reader, self.writer, self.timeout, self.where = reader, writer, timeout, where

    async def reply(self) -> tuple[int, list[str]]:
        lines: list[str] = []
        while len(lines) < _MAX_LINES:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\n"), self.timeout)
            line = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in ("", " ", "-"):
                raise LmtpError(451, f"{self.where} sent a garbled reply {line[:80]!r}")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines
        raise LmtpError(451, f"{self.where} sent a reply of too many lines")

    async def command(self, line: str, encoding: str = "ascii") -> tuple[int, list[str]]:
        self.writer.write(line.encode(encoding) + b"\r\n")
        await asyncio.wait_for(self.writer.drain(), self.timeout)
        return await self.reply()

    def said(self, code: int, text: list[str]) -> str:
        return f"{self.where} said {code} {' '.join(text)}".strip()

    async def expect(self, line: str, encoding: str = "ascii") -> list[str]:
        """Send ``line``; a non-2xx/3xx reply raises LmtpError."""
        code, text = await self.command(line, encoding)
        if code >= 400:
            raise LmtpError(code, self.said(code, text))
        return text

    async def close(self, polite: bool) -> None:
        if polite:
            with contextlib.suppress(OSError, LmtpError, TimeoutError, asyncio.IncompleteReadError,
                                     asyncio.LimitOverrunError):
                await self.command("QUIT")
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), self.timeout)


async def _open(settings: LmtpSettings, where: str) -> _Conn:
    if settings.path:
        opened = asyncio.open_unix_connection(settings.path, limit=_MAX_LINE)
    else:
        opened = asyncio.open_connection(settings.host, settings.port, limit=_MAX_LINE)
    reader, writer = await asyncio.wait_for(opened, settings.timeout)
    conn = _Conn(reader, writer, settings.timeout, where)
    code, text = await conn.reply()
    if code != 220:
        await conn.close(polite=False)
        raise LmtpError(code if code >= 400 else 421, conn.said(code, text))
    return conn


def _unsafe(address: str) -> bool:
    """True when ``address`` could break a command line (CR, LF, other controls, spaces)."""
    return any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in address)


def _payload(raw: bytes) -> bytes:
    data = normalise_line_endings(raw)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LEADING_DOT.sub(b"..", data) + b".\r\n"


async def _transaction(conn: _Conn, helo: str, mail_from: str, rcpts: tuple[str, ...],
                       raw: bytes, out: _Outcome) -> None:
    caps = {line.split(" ", 1)[0].upper() for line in await conn.expect(f"LHLO {helo}")}
    utf8 = not all(a.isascii() for a in (mail_from, *rcpts))
    if utf8 and "SMTPUTF8" not in caps:
        raise LmtpError(553, f"{conn.where}: 5.6.7 the mail store does not support SMTPUTF8")
    payload = _payload(raw)
    options = [f"SIZE={len(payload)}"] if "SIZE" in caps else []
    if "8BITMIME" in caps and any(b > 0x7F for b in payload):
        options.append("BODY=8BITMIME")
    options += ["SMTPUTF8"] if utf8 else []
    encoding = "utf-8" if utf8 else "ascii"
    await conn.expect(" ".join([f"MAIL FROM:<{mail_from}>", *options]), encoding)
    taken: list[str] = []
    for rcpt in rcpts:
        code, text = await conn.command(f"RCPT TO:<{rcpt}>", encoding)
        if code < 400:
            taken.append(rcpt)
        else:
            out.settle(rcpt, code, conn.said(code, text))
    if not taken:
        return
    code, text = await conn.command("DATA")
    if code != 354:
        raise LmtpError(code if code >= 400 else 451, conn.said(code, text))
    conn.writer.write(payload)
    await asyncio.wait_for(conn.writer.drain(), conn.timeout)
    for rcpt in taken:  # RFC 2033 4.2: one reply per accepted recipient, in order
        code, text = await conn.reply()
        out.settle(rcpt, code, conn.said(code, text))


async def lmtp_message(
    settings: LmtpSettings,
    mail_from: str,
    recipients: Sequence[str],
    raw: bytes,
    *,
    helo: str,
    on_accepted: AcceptedFn | None = None,
) -> RelayResult:
    """Deliver ``raw`` to ``recipients`` over LMTP; see the module docstring for the rules.

    ``on_accepted`` is awaited with the recipients the server accepted once it has answered
    for each, before the connection is closed (see :func:`~mailward.delivery.relay.relay_message`).
    """
    rcpts = tuple(dict.fromkeys(recipients))
    out = _Outcome()
    if not rcpts:
        return out.result()
    where = settings.path or f"{settings.host}:{settings.port}"
    if not settings.path and not settings.host:
        out.fail_rest(rcpts, False, "no LMTP host configured")
        return out.result()
    if _unsafe(mail_from):
        out.fail_rest(rcpts, True, "the sender address has control characters or spaces")
        return out.result()
    for rcpt in rcpts:
        if _unsafe(rcpt):
            out.settle(rcpt, 550, "the recipient address has control characters or spaces")
    rcpts = tuple(r for r in rcpts if r not in out.perm)
    if not rcpts:
        return out.result()
    conn: _Conn | None = None
    finished = False
    try:
        conn = await _open(settings, where)
        await _transaction(conn, helo, mail_from, rcpts, raw, out)
        finished = True
        if on_accepted is not None:
            await on_accepted(tuple(r for r in rcpts if r in out.accepted))
    except LmtpError as exc:
        out.fail_rest(rcpts, exc.code >= 500, str(exc))
    except (OSError, TimeoutError, EOFError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, UnicodeEncodeError, ValueError) as exc:
        out.fail_rest(rcpts, False, f"{where}: {str(exc) or type(exc).__name__}")
    finally:
        if conn is not None:
            await conn.close(polite=finished)
    out.fail_rest(rcpts, False, f"{where}: no reply for this recipient")
    return out.result()
