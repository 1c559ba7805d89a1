"""The SMTP protocol object: aiosmtpd's SMTP with connection limits and a DATA time limit.

aiosmtpd handles the protocol (pipelining, SIZE with 552, STARTTLS with the plaintext buffer
discarded, AUTH, CRLF.CRLF-only end of data); this subclass adds what a gateway needs on top:
a total and a per-address connection limit (421 when exceeded) and a separate timeout for DATA.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP

from mailward.config.settings import SmtpSettings
from mailward.frontends.smtp.auth import PasswordAuthenticator
from mailward.frontends.smtp.handler import GatewayHandler

log = logging.getLogger(__name__)


@dataclass
class ConnectionCounter:
    """Open connections in total and by peer address, shared by every protocol instance."""

    total: int = 0
    by_ip: Counter[str] = field(default_factory=Counter)


class GatewaySMTP(SMTP):
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

    async def smtp_DATA(self, arg: str) -> None:
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
