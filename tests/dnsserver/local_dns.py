"""A real authoritative DNS server on 127.0.0.1 for tests (dnslib), over UDP and TCP.

Usage::

    sys.path.insert(0, str(Path(__file__).parents[1] / "dnsserver"))
    from local_dns import LocalDnsServer

    with LocalDnsServer({"example.com": [("TXT", "v=spf1 -all"), ("A", "192.0.2.1")]}) as srv:
        client = ResolverDnsClient(["127.0.0.1"], srv.port, timeout=1)

Records are given as a dict ``name -> [(type, value), ...]`` and/or as zone-file text.
Every name served is authoritative: an unknown name answers NXDOMAIN, a known name without
the asked type answers NOERROR with no records. ``servfail`` names answer SERVFAIL and
``silent`` names get no answer at all (the client times out). Answers bigger than ``udp_max``
bytes are truncated over UDP, so the client must retry over TCP. ``queries`` records every
(name, type) asked, in order.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.dns import CNAME, DNSError
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

Records = Mapping[str, Sequence[tuple[str, str]]]


def _key(name: object) -> str:
    return str(name).lower().rstrip(".")


def _rdata(rtype: str, value: str) -> Any:
    if rtype == "TXT":
        chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
        return TXT(chunks)
    if rtype == "MX":
        pref, _, host = value.partition(" ")
        return MX(host, int(pref))
    builders = {"A": A, "AAAA": AAAA, "PTR": PTR, "CNAME": CNAME}
    return builders[rtype](value)


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, server: LocalDnsServer) -> None:
        self.server = server

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        qname = _key(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        self.server.queries.append((qname, qtype))
        if qname in self.server.silent:
            raise DNSError("dropped on purpose")
        reply = request.reply()
        if qname in self.server.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        rrs = self.server.rrs.get(qname)
        if rrs is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rr in rrs:
            if QTYPE[rr.rtype] in (qtype, "CNAME"):
                reply.add_answer(rr)
        return reply


class _Handler(DNSHandler):  # type: ignore[misc]
    """dnslib's handler, but a truncated UDP answer keeps its question (dnspython checks it)."""

    udplen = 0

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed: bytes = reply.pack()
        if self.protocol == "udp" and self.udplen and len(packed) > self.udplen:
            truncated = request.reply()
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed


class LocalDnsServer:
    """An authoritative DNS server on 127.0.0.1, UDP and TCP on one free port."""

    def __init__(
        self,
        records: Records | None = None,
        zone_text: str = "",
        *,
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        udp_max: int = 0,
        ttl: int = 300,
    ) -> None:
        self.rrs: dict[str, list[RR]] = {}
        self.servfail = {_key(n) for n in servfail}
        self.silent = {_key(n) for n in silent}
        self.queries: list[tuple[str, str]] = []
        self.ttl = ttl
        self.add(records or {})
        if zone_text:
            for rr in RR.fromZone(zone_text):
                self.rrs.setdefault(_key(rr.rname), []).append(rr)
        self.udp_max = udp_max
        self.port = 0
        self._servers: list[DNSServer] = []

    def add(self, records: Records) -> None:
        """Serve more records (also while running)."""
        for name, entries in records.items():
            bucket = self.rrs.setdefault(_key(name), [])
            for rtype, value in entries:
                rr = RR(name, getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=self.ttl)
                bucket.append(rr)

    def start(self) -> LocalDnsServer:
        handler = type("_SizedHandler", (_Handler,), {"udplen": self.udp_max})
        quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-error,-data", logf=_drop)
        resolver = _Resolver(self)
        for _ in range(20):
            port = _free_port()
            servers: list[DNSServer] = []
            try:
                for tcp in (False, True):
                    servers.append(
                        DNSServer(
                            resolver,
                            port=port,
                            address="127.0.0.1",
                            tcp=tcp,
                            logger=quiet,
                            handler=handler,
                        )
                    )
            except OSError:
                for server in servers:
                    server.server.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port for the local DNS server")
        for server in servers:
            server.start_thread()
        self._servers, self.port = servers, port
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
        self._servers = []

    def __enter__(self) -> LocalDnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _drop(_: str) -> None:
    return None


def _free_port() -> int:
    """A port free for UDP right now (the TCP bind of the same number is then tried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
