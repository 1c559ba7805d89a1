"""The async DNS client interface and its dnspython implementation, with a small TTL cache.

``DnsClient`` is what detectors ask. Every method returns ``[]`` when the name does not exist
(NXDOMAIN), has no record of the type (NODATA) or is not a valid DNS name, and raises
:class:`DnsTempError` when no answer could be had (timeout, SERVFAIL, refused, no server).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename
from dns.rdata import Rdata
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT

from mailward.config.settings import DnsSettings
from mailward.errors import MailwardError

#: Seconds a "no such record" answer is cached.
NEGATIVE_TTL = 60
#: The longest any answer is cached, whatever its TTL says.
MAX_TTL = 3600


class DnsTempError(MailwardError):
    """A lookup got no usable answer (timeout, SERVFAIL, refused); trying later may work."""


class DnsClient(Protocol):
    """Async DNS lookups for the detectors."""

    async def txt(self, name: str) -> list[str]:
        """Each TXT record of ``name``, its character-strings joined into one string."""
        ...

    async def a(self, name: str) -> list[str]: ...

    async def aaaa(self, name: str) -> list[str]: ...

    async def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, exchange) pairs, exchange without its trailing dot."""
        ...

    async def ptr(self, ip: str) -> list[str]:
        """The names the reverse zone gives for an IPv4 or IPv6 address."""
        ...


_Value = list[Rdata]


class _TtlCache:
    """A least-recently-used map whose entries also expire after their TTL."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[str, str], tuple[float, _Value]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _Value | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: tuple[str, str], value: _Value, ttl: float) -> None:
        if ttl <= 0 or self.maxsize <= 0:
            return
        self._items[key] = (time.monotonic() + min(ttl, MAX_TTL), value)
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)


class ResolverDnsClient:
    """A :class:`DnsClient` on dnspython's async resolver.

    ``nameservers`` empty means the system's resolver configuration. ``timeout`` bounds each
    whole lookup (all servers and retries, TCP fallback on truncation included).
    """

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        port: int = 53,
        timeout: float = 3.0,
        cache_size: int = 2048,
    ) -> None:
        self.resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self.resolver.nameservers = list(nameservers)
        self.resolver.port = port
        self.resolver.timeout = timeout
        self.resolver.lifetime = timeout
        self.cache = _TtlCache(cache_size)

    async def txt(self, name: str) -> list[str]:
        rdatas = await self._lookup(name, "TXT")
        return [
            b"".join(r.strings).decode("utf-8", "replace") for r in rdatas if isinstance(r, TXT)
        ]

    async def a(self, name: str) -> list[str]:
        return [r.to_text() for r in await self._lookup(name, "A")]

    async def aaaa(self, name: str) -> list[str]:
        return [r.to_text() for r in await self._lookup(name, "AAAA")]

    async def mx(self, name: str) -> list[tuple[int, str]]:
        return [
            (r.preference, r.exchange.to_text(omit_final_dot=True))
            for r in await self._lookup(name, "MX")
            if isinstance(r, MX)
        ]

    async def ptr(self, ip: str) -> list[str]:
        try:
            name = dns.reversename.from_address(ip).to_text()
        except (ValueError, dns.exception.SyntaxError):
            return []
        return [
            r.target.to_text(omit_final_dot=True)
            for r in await self._lookup(name, "PTR")
            if isinstance(r, PTR)
        ]

    async def _lookup(self, name: str, rdtype: str) -> list[Rdata]:
        key = (name.lower().rstrip("."), rdtype)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        rdatas, ttl = await self._query(name, rdtype)
        self.cache.put(key, rdatas, ttl)
        return rdatas

    async def _query(self, name: str, rdtype: str) -> tuple[list[Rdata], float]:
        """The rdata of one lookup and how long it may be cached."""
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            return [], 0
        try:
            answer = await self.resolver.resolve(
                qname, dns.rdatatype.from_text(rdtype), raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN:
            return [], NEGATIVE_TTL
        except dns.exception.DNSException as exc:
            raise DnsTempError(f"{rdtype} {name}: {type(exc).__name__}: {exc}") from exc
        if answer.rrset is None:
            return [], NEGATIVE_TTL
        return list(answer.rrset), answer.rrset.ttl


def build_dns_client(settings: DnsSettings) -> DnsClient | None:
    """The client the ``[dns]`` settings describe; None when DNS is switched off."""
    if not settings.enabled:
        return None
    return ResolverDnsClient(settings.nameservers, settings.port, settings.timeout)
