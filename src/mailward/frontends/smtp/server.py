"""The SMTP protocol object: aiosmtpd's SMTP hardened for a gateway facing the Internet.

aiosmtpd handles the protocol (pipelining, SIZE with 552, STARTTLS with the plaintext buffer
discarded, AUTH, CRLF.CRLF-only end of data, 500 for a command line over 512 octets); this
subclass adds what a gateway needs on top:

- a total and a per-address connection limit (421 when exceeded);
- a separate time limit for the whole DATA transfer, and a least data rate
  (``smtp.min_data_rate``, Postfix's smtpd_min_data_rate): a client trickling its message gets
  421 and is closed once ``smtp.min_data_rate_grace`` seconds have passed;
- a command line longer than ``COMMAND_BUFFER_LIMIT`` octets without a line end gets 500 and
  the connection is closed as soon as that much has arrived (aiosmtpd would read on, dropping
  it, until a line end that may never come, answering nothing);
- an error budget: after ``smtp.max_errors`` 4xx/5xx replies the connection gets 421 and is
  closed (Postfix's smtpd_hard_error_limit);
- command arguments with control characters (NUL, bare CR/LF...) or bytes that are not UTF-8
  get 501; non-ASCII in HELO/EHLO gets 501, and in MAIL/RCPT without SMTPUTF8 gets 553;
- pipelining synchronisation (RFC 2920 3.1, Postfix's smtpd_forbid_unauth_pipelining): a client
  that sends anything after DATA before the 354 gets 554 and is disconnected, so message
  content can never be read as commands;
- reply lines never carry control characters (aiosmtpd echoes unknown command names);
- a client that half-closes while its message is being stored still gets the DATA reply
  before the connection is closed; the DATA time limit stops once the data is in;
- a connection the server ends itself (error budget, pipelining violation) is closed the way
  Postfix and Apache do it, a "lingering close": the replies go out, then a FIN, and what the
  client still sends is read and dropped for up to ``LINGER_SECONDS``. Closing the socket at
  once would answer the client's next segment with a TCP RST, and a RST makes the client's
  kernel discard replies it has received and not yet read, among them a 250 for a message
  already queued: the client would send it again;
- text lines in DATA up to ``MAX_LINE`` octets are accepted (RFC 5321 says 1000, real mail
  breaks it); the MIME limits decide about oversized headers. Longer lines get 500.

Who the client is can be said by a trusted intermediary only:

- PROXY protocol (HAProxy v1 text / v2 binary, parsed by aiosmtpd.proxy_protocol): a connection
  from ``smtp.trusted_proxies`` must start with a PROXY header within ``PROXY_TIMEOUT`` seconds;
  a TCP/IPv4 or IPv6 source becomes the session's peer (relay policy, per-address connection
  limit, Received header, logs); v2 LOCAL (the proxy's own health check) keeps the proxy's
  address; anything else (UNKNOWN, UNIX, UDP, a malformed header) closes the connection.
  From any other address ``PROXY ...`` is an unknown command (500) and the peer stays.
- XCLIENT (Postfix): advertised in EHLO and accepted only from ``smtp.xclient_hosts`` (checked
  against the peer after PROXY); attributes are validated by ``xclient.parse_xclient``. On
  success the peer, HELO name and LOGIN (authenticated as) change, the session is reset and
  the 220 greeting is sent again; not inside a mail transaction (503). From anyone else it
  is an unknown command (500) and nothing changes. The peer survives STARTTLS; LOGIN does not.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import ipaddress
import logging
import os
import re
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, AnyStr

from aiosmtpd.proxy_protocol import AF, PROTO, V2_CMD, ProxyData
from aiosmtpd.smtp import SMTP

from mailward.config.settings import SmtpSettings
from mailward.frontends.smtp.address import simple_address
from mailward.frontends.smtp.auth import PasswordAuthenticator
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.frontends.smtp.relay_policy import Network, ip_in_networks, parse_networks
from mailward.frontends.smtp.xclient import EHLO_LINE, ClientInfo, XclientError, parse_xclient

log = logging.getLogger(__name__)

#: Longest line (command or DATA text line) read; it also bounds the reader's buffer.
MAX_LINE = 256 * 1024
#: RFC 5321 4.5.3.1.4: a command line, CRLF included (MAIL gets room for its ESMTP parameters).
COMMAND_LIMIT = 512
#: Octets of a command line (no line end yet) after which the client gets 500 and is closed.
#: A longer line that does end below it gets 500 and the session goes on (aiosmtpd reads the
#: excess over MAX_LINE and drops it, so neither is ever buffered whole).
COMMAND_BUFFER_LIMIT = 2 * MAX_LINE
#: Seconds between two checks of the data rate while DATA content arrives.
DATA_RATE_CHECK = 1.0
#: C0 controls except TAB, DEL, and the surrogates that stand for bytes that are not UTF-8.
_BAD_ARG = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
_REPLY_CONTROL = re.compile("[\x00-\x1f\x7f]")
_REPLY_CONTROL_BYTES = re.compile(b"[\x00-\x1f\x7f]")
#: Seconds a trusted proxy has to send its PROXY header.
PROXY_TIMEOUT = 10.0
#: Seconds a connection the server closes keeps reading (and dropping) what the client sends.
LINGER_SECONDS = 5.0
#: Lingering closes in progress (a reference keeps each task alive until it ends).
_LINGERING: set[asyncio.Task[None]] = set()

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
            authenticator=PasswordAuthenticator(
                settings.auth_users, getattr(handler, "auth_observer", None)),
            enable_SMTPUTF8=True,
        )
        self._settings = settings
        self._counter = counter
        self._counted = False
        self._counted_ip: str | None = None
        #: The client as a trusted proxy or XCLIENT named it; None: the TCP peer itself.
        self._client: ClientInfo | None = None
        self._xclient_allowed = False
        self._handle_hooks["PROXY"] = self._accept_proxy
        self._in_data_hook = False
        self._eof_pending = False
        #: DATA content is arriving: since when (loop time), how many octets so far.
        self._data_started: float | None = None
        self._data_octets = 0
        self._rate_check: asyncio.TimerHandle | None = None
        #: Octets received since the last line end, outside DATA content.
        self._line_octets = 0
        self._handler_data = self._handle_hooks.get("DATA")
        if self._handler_data is not None:
            self._handle_hooks["DATA"] = self._data_hook
        if self._ehlo_hook_ver != "old":
            self._handler_ehlo = self._handle_hooks.get("EHLO")
            self._handle_hooks["EHLO"] = self._ehlo_hook
            self._ehlo_hook_ver = "new"
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

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The plain ``<local@domain> PARAMS`` form without the header parser (the same
        answer, see :mod:`~mailward.frontends.smtp.address`); anything else as aiosmtpd."""
        simple = simple_address(arg, self.local_part_limit)
        return simple if simple is not None else super()._getaddr(arg)

    def _refuse_arg(self, command: str, arg: str | None) -> str | None:
        if not arg or command == "XCLIENT":  # XCLIENT checks its decoded values itself
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
        if self.transport is not None:  # STARTTLS: aiosmtpd starts a new session
            super().connection_made(transport)
            session: Any = self.session  # aiosmtpd types peer as str; it is (host, port)
            if self._client is not None and session is not None:
                session.peer = (self._client.addr, self._client.port)
            return
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        proxied = ip_in_networks(ip, _networks(self._settings.trusted_proxies))
        if not self._count(ip, per_ip=not proxied):
            log.warning("refusing connection from %s: connection limit reached", ip)
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            transport.close()
            return
        if proxied:
            self._proxy_timeout = PROXY_TIMEOUT
        self._xclient_allowed = ip_in_networks(ip, _networks(self._settings.xclient_hosts))
        super().connection_made(transport)

    def _count(self, ip: str, *, per_ip: bool) -> bool:
        """Count this connection (in total, and for ``ip`` when ``per_ip``) if under the limits."""
        c = self._counter
        if not self._counted and c.total >= self._settings.max_connections:
            return False
        if per_ip and c.by_ip[ip] >= self._settings.max_connections_per_ip:
            return False
        if not self._counted:
            c.total += 1
            self._counted = True
        if per_ip:
            c.by_ip[ip] += 1
            self._counted_ip = ip
        return True

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self._counter.total -= 1
            self._counted = False
        if self._counted_ip is not None:
            self._counter.by_ip[self._counted_ip] -= 1
            if self._counter.by_ip[self._counted_ip] <= 0:
                del self._counter.by_ip[self._counted_ip]
            self._counted_ip = None
        if self.session is not None:
            super().connection_lost(error)

    async def _accept_proxy(
        self, server: Any, session: Any, envelope: Any, data: ProxyData
    ) -> bool:
        """aiosmtpd's PROXY hook (trusted proxies only): the source becomes the peer."""
        if data.version == 2 and data.command == V2_CMD.LOCAL:
            return True  # the proxy's own connection (health check): its address stays
        src = data.src_addr
        if (
            data.protocol != PROTO.STREAM
            or data.family not in (AF.INET, AF.INET6)
            or not isinstance(src, ipaddress.IPv4Address | ipaddress.IPv6Address)
        ):
            log.warning("%s sent a PROXY header without a TCP source; closing", session.peer)
            return False
        ip = str(src)
        if not self._count(ip, per_ip=True):
            log.warning("refusing proxied connection from %s: connection limit reached", ip)
            await SMTP.push(self, "421 4.7.0 Too many connections, try again later")
            return False
        log.info("%s: PROXY names client %s", session.peer, ip)
        self._client = ClientInfo(addr=ip, port=int(data.src_port or 0))
        session.peer = (ip, self._client.port)
        self._xclient_allowed = ip_in_networks(ip, _networks(self._settings.xclient_hosts))
        return True

    async def _ehlo_hook(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """The handler's EHLO hook, plus XCLIENT for the hosts allowed to use it."""
        if self._handler_ehlo is not None:
            responses = await self._handler_ehlo(server, session, envelope, hostname, responses)
        else:
            session.host_name = hostname
        if self._xclient_allowed:
            responses = [*responses[:-1], EHLO_LINE, responses[-1]]
        return responses

    async def smtp_XCLIENT(self, arg: str | None) -> None:
        """Postfix XCLIENT; to anyone not in ``smtp.xclient_hosts`` an unknown command."""
        if not self._xclient_allowed:
            await self.push('500 Error: command "XCLIENT" not recognized')
            return
        assert self.envelope is not None and self.session is not None
        if self.envelope.mail_from is not None:
            await self.push("503 5.5.1 Error: MAIL transaction in progress")
            return
        peer = self.session.peer
        current = self._client or ClientInfo(
            addr=str(peer[0]) if isinstance(peer, tuple) and peer else "",
            port=int(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else 0,
        )
        try:
            client = parse_xclient(arg or "", current)
        except XclientError as exc:
            await self.push(exc.reply)
            return
        log.info("%s: XCLIENT names client %s (%s) helo=%s login=%s proto=%s", peer,
                 client.addr, client.name or "-", client.helo or "-", client.login or "-",
                 client.proto or "-")
        self._client = client
        self._restart_session(client)
        await self.push(f"220 {self.hostname} {self.__ident__}")

    def _restart_session(self, client: ClientInfo) -> None:
        """Back to the greeting stage, as the client XCLIENT describes (TLS state is kept)."""
        self._set_rset_state()  # type: ignore[no-untyped-call]
        self.command_size_limits["MAIL"] = COMMAND_LIMIT
        session: Any = self.session  # aiosmtpd types peer as str; it is (host, port)
        assert session is not None
        session.peer = (client.addr, client.port)
        session.extended_smtp = False
        session.host_name = client.helo or None
        session.authenticated = bool(client.login) or None
        session.auth_data = client.login or None

    def eof_received(self) -> bool | None:
        if self._in_data_hook:
            # The message is being stored: its reply still goes out, then the connection is
            # closed (smtp_DATA). Cancelling now would store it without the client seeing 250.
            self._eof_pending = True
            return True
        # A client that half-closes is done. aiosmtpd would keep the transport open when the
        # EOF comes before its client task first runs, leaking the connection slot until the
        # idle timeout; returning False makes asyncio close the transport now.
        super().eof_received()
        return False

    async def _data_hook(self, server: Any, session: Any, envelope: Any) -> Any:
        assert self._handler_data is not None
        # The transfer is complete: data_timeout and the data rate no longer apply (the
        # inline scan has its own time limit)
        self._reset_timeout()
        self._stop_rate_check()
        self._in_data_hook = True
        try:
            return await self._handler_data(server, session, envelope)
        finally:
            self._in_data_hook = False

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd echoes an unknown command name, control characters included: a bare CR in
        # a reply can end the line for a lenient client. Every reply line is cleaned here.
        if self._closing:
            return  # the closing reply was the last; the sending side may be shut already
        if isinstance(status, str):
            await super().push(_REPLY_CONTROL.sub("?", status))
        else:
            await super().push(_REPLY_CONTROL_BYTES.sub(b"?", status))
        code = status[:1] if isinstance(status, str) else status[:1].decode("ascii", "replace")
        if code not in ("4", "5") or self._closing:
            return
        self._errors += 1
        if self._errors >= self._max_errors:
            log.warning("closing connection from %s: %d errors", self._counted_ip, self._errors)
            await self._close_with("421 4.7.0 Too many errors, closing connection")

    async def _close_with(self, reply: str) -> None:
        """Say ``reply``, close, and stop the client task so no buffered command runs."""
        if self._closing:  # already closing: the client task stops at its next await
            return
        self._closing = True
        await super().push(reply)
        if self.transport is not None:
            close_lingering(self.transport)
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()

    def _input_pending(self) -> bool:
        return bool(getattr(self._reader, "_buffer", b""))

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._closing:
            return
        if self._data_started is not None:
            self._data_octets += len(data)
            self._line_octets = 0
            return
        end = data.rfind(b"\n")
        self._line_octets = len(data) - end - 1 if end >= 0 else self._line_octets + len(data)
        if self._line_octets > COMMAND_BUFFER_LIMIT:
            log.warning("%s sent a command line over %d octets without a line end; closing",
                        self._counted_ip, COMMAND_BUFFER_LIMIT)
            buffered = getattr(self._reader, "_buffer", None)
            if isinstance(buffered, bytearray):
                buffered.clear()  # not kept: the line is refused whole
            self._spawn_close("500 5.5.2 Error: command line too long, closing connection")

    def _spawn_close(self, reply: str) -> None:
        """:meth:`_close_with` from a callback (not the client task)."""
        task = self.loop.create_task(self._close_with(reply))
        _LINGERING.add(task)
        task.add_done_callback(_LINGERING.discard)

    def _start_rate_check(self) -> None:
        self._data_started = self.loop.time()
        self._data_octets = len(getattr(self._reader, "_buffer", b""))
        if self._settings.min_data_rate:
            self._rate_check = self.loop.call_later(DATA_RATE_CHECK, self._check_rate)

    def _stop_rate_check(self) -> None:
        self._data_started = None
        if self._rate_check is not None:
            self._rate_check.cancel()
            self._rate_check = None

    def _check_rate(self) -> None:
        """421 and close when DATA content comes slower than ``smtp.min_data_rate``."""
        self._rate_check = None
        if self._data_started is None or self._closing or self.transport is None:
            return
        s = self._settings
        late = self.loop.time() - self._data_started - s.min_data_rate_grace
        if late > 0 and self._data_octets < s.min_data_rate * late:
            log.warning("%s sends DATA slower than %d octets/s (%d octets in %.0fs); closing",
                        self._counted_ip, s.min_data_rate, self._data_octets,
                        late + s.min_data_rate_grace)
            self._stop_rate_check()
            self._spawn_close("421 4.4.2 Error: data arrives too slowly, closing connection")
            return
        self._rate_check = self.loop.call_later(DATA_RATE_CHECK, self._check_rate)

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
        self._start_rate_check()
        try:
            await super().smtp_DATA(arg)
        finally:
            self._stop_rate_check()
        if self._eof_pending and self.transport is not None:
            self.transport.close()  # the client half-closed while its message was stored


def close_lingering(transport: asyncio.BaseTransport) -> None:
    """Close ``transport`` so that what was written reaches a client that is still sending.

    The transport writes what it holds, then shuts the sending side (FIN) and closes; a
    duplicate of its socket keeps the connection open meanwhile and reads and drops the
    client's data until the client closes or ``LINGER_SECONDS`` pass. Where that cannot be
    done (TLS, no socket), the transport is just closed.
    """
    sock = transport.get_extra_info("socket")
    copy: socket.socket | None = None
    if (sock is not None and isinstance(transport, asyncio.WriteTransport)
            and transport.can_write_eof() and transport.get_extra_info("sslcontext") is None):
        try:
            copy = socket.socket(fileno=os.dup(sock.fileno()))
            copy.setblocking(False)
        except OSError:
            copy = None
        else:
            transport.write_eof()
    transport.close()
    if copy is not None:
        task = asyncio.get_running_loop().create_task(_drain_then_close(copy))
        _LINGERING.add(task)
        task.add_done_callback(_LINGERING.discard)


async def _drain_then_close(sock: socket.socket) -> None:
    """Read and drop what the peer sends until it closes or ``LINGER_SECONDS`` pass."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            while await loop.sock_recv(sock, 65536):
                pass
    except (TimeoutError, OSError):
        pass
    finally:
        sock.close()


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(cidrs)


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
