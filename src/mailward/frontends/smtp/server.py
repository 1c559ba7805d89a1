"""The SMTP protocol object: aiosmtpd's SMTP hardened for a gateway facing the Internet.

aiosmtpd handles the protocol (pipelining, SIZE with 552, STARTTLS with the plaintext buffer
discarded, AUTH, CRLF.CRLF-only end of data, 500 for a command line over 512 octets); this
subclass adds what a gateway needs on top:

- a total and a per-address connection limit (421 when exceeded);
- a separate time limit for the whole DATA transfer;
- an error budget: after ``smtp.max_errors`` 4xx/5xx replies the connection gets 421 and is
  closed (Postfix's smtpd_hard_error_limit);
- command arguments with control characters (NUL, bare CR/LF...) or bytes that are not UTF-8
  get 501; non-ASCII in HELO/EHLO gets 501, and in MAIL/RCPT without SMTPUTF8 gets 553;
- pipelining synchronisation (RFC 2920 3.1, Postfix's smtpd_forbid_unauth_pipelining): a client
  that sends anything after DATA before the 354 gets 554 and is disconnected, so message
  content can never be read as commands;
- text lines in DATA up to ``MAX_LINE`` octets are accepted (RFC 5321 says 1000, real mail
  breaks it); the MIME limits decide about oversized headers. Longer lines get 500.
XCLIENT is not implemented (500, peer unchanged) and the PROXY protocol is not enabled.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import re
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP

from mailward.config.settings import SmtpSettings
from mailward.frontends.smtp.auth import PasswordAuthenticator
from mailward.frontends.smtp.handler import GatewayHandler

log = logging.getLogger(__name__)

#: Longest line (command or DATA text line) read; it also bounds the reader's buffer.
MAX_LINE = 256 * 1024
#: RFC 5321 4.5.3.1.4: a command line, CRLF included (MAIL gets room for its ESMTP parameters).
COMMAND_LIMIT = 512
#: C0 controls except TAB, DEL, and the surrogates that stand for bytes that are not UTF-8.
_BAD_ARG = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")

SmtpMethod = Callable[[str | None], Awaitable[None]]


@dataclass
class ConnectionCounter:
    """Open connections in total and by peer address, shared by every protocol instance."""

    total: int = 0
    by_ip: Counter[str] = field(default_factory=Counter)


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with the gateway's limits and input checks (see the module docstring)."""

    line_length_limit = MAX_LINE

    def __init__(
        self,
        handler: GatewayHandler,
        settings: SmtpSettings,
        counter: ConnectionCounter,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(
            handler,
            data_size_limit=settings.max_message_size,
            hostname=settings.hostname,
            ident="mailward",
            tls_context=tls_context,
            require_starttls=settings.require_tls,
            timeout=settings.command_timeout,
            auth_require_tls=True,
            authenticator=PasswordAuthenticator(settings.auth_users),
            enable_SMTPUTF8=True,
        )
        self._settings = settings
        self._counter = counter
        self._counted_ip: str | None = None
        # aiosmtpd keeps these in a class-level dict and adds to MAIL's on every EHLO, so the
        # limit grows with every session; each connection gets its own, reset on EHLO.
        self.command_size_limits = collections.defaultdict(lambda: COMMAND_LIMIT)
        self._errors = 0
        self._max_errors = settings.max_errors
        self._closing = False
        self._smtp_methods = {
            name: self._guarded(name, method) for name, method in self._smtp_methods.items()
        }

    def _guarded(self, name: str, method: SmtpMethod) -> SmtpMethod:
        @functools.wraps(method)
        async def run(arg: str | None) -> None:
            refusal = self._refuse_arg(name, arg)
            if refusal is not None:
                await self.push(refusal)
                return
            await method(arg)

        return run

    def _refuse_arg(self, command: str, arg: str | None) -> str | None:
        if not arg:
            return None
        if _BAD_ARG.search(arg):
            return "501 5.5.2 Syntax error: control characters or invalid bytes in the command"
        if not _NON_ASCII.search(arg):
            return None
        if command in ("HELO", "EHLO"):
            return "501 5.5.2 Syntax error: the host name must be ASCII"
        utf8 = False
        if command == "MAIL":
            utf8 = "SMTPUTF8" in arg.upper().split()
        elif command == "RCPT":
            utf8 = bool(getattr(self.envelope, "smtp_utf8", False))
        else:
            return None
        if utf8:
            return None
        return "553 5.6.7 Non-ASCII address needs SMTPUTF8"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        if first:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            c = self._counter
            if (
                c.total >= self._settings.max_connections
                or c.by_ip[ip] >= self._settings.max_connections_per_ip
            ):
                log.warning("refusing connection from %s: connection limit reached", ip)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
                transport.close()
                return
            c.total += 1
            c.by_ip[ip] += 1
            self._counted_ip = ip
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted_ip is not None:
            self._counter.total -= 1
            self._counter.by_ip[self._counted_ip] -= 1
            if self._counter.by_ip[self._counted_ip] <= 0:
                del self._counter.by_ip[self._counted_ip]
            self._counted_ip = None
        if self.session is not None:
            super().connection_lost(error)

    def eof_received(self) -> bool | None:
        # A client that half-closes is done. aiosmtpd would keep the transport open when the
        # EOF comes before its client task first runs, leaking the connection slot until the
        # idle timeout; returning False makes asyncio close the transport now.
        super().eof_received()
        return False

    async def push(self, status: AnyStr) -> None:
        await super().push(status)
        code = status[:1] if isinstance(status, str) else status[:1].decode("ascii", "replace")
        if code not in ("4", "5") or self._closing:
            return
        self._errors += 1
        if self._errors >= self._max_errors:
            log.warning("closing connection from %s: %d errors", self._counted_ip, self._errors)
            await self._close_with("421 4.7.0 Too many errors, closing connection")

    async def _close_with(self, reply: str) -> None:
        """Say ``reply``, close, and stop the client task so no buffered command runs."""
        self._closing = True
        await super().push(reply)
        if self.transport is not None:
            self.transport.close()
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()

    def _input_pending(self) -> bool:
        return bool(getattr(self._reader, "_buffer", b""))

    async def smtp_EHLO(self, hostname: str) -> None:
        self.command_size_limits["MAIL"] = COMMAND_LIMIT
        await super().smtp_EHLO(hostname)

    async def smtp_DATA(self, arg: str) -> None:
        if self._input_pending():
            log.warning("%s sent data before the DATA reply: pipelining violation",
                        self._counted_ip)
            await self._close_with("554 5.5.0 Error: SMTP protocol synchronization")
            return
        self._reset_timeout(self._settings.data_timeout)
        await super().smtp_DATA(arg)


def build_tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


async def start_smtp_server(
    handler: GatewayHandler, settings: SmtpSettings
) -> asyncio.Server:
    tls = build_tls_context(settings)
    counter = ConnectionCounter()
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return GatewaySMTP(handler, settings, counter, tls)

    return await loop.create_server(
        factory, host=settings.listen_host, port=settings.listen_port, reuse_address=True
    )
