"""The rate limiter the front ends ask at MAIL and RCPT: which buckets a command takes from,
who is exempt, the 450 reply, and failing open when the bucket store (Redis) is unavailable.

At MAIL a client takes one token from its client-address bucket and one from its sender's
bucket (both or neither); at RCPT one from the recipient's bucket. A short bucket refuses the
command with ``450 4.7.1`` and the session goes on (as Postfix's anvil and rspamd's ratelimit
do). When the store fails, the command passes, a warning is logged and
:data:`STATS` ``failed_open`` counts it; for ``redis_retry_seconds`` after a failure the store
is not asked at all, so a Redis that times out does not slow every command down.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailward.config.ratelimit import BucketSettings, RateLimitSettings
from mailward.networks import Network, ip_in_networks, parse_networks
from mailward.ratelimit.buckets import Bucket, BucketStore, MemoryBuckets, Take, retry_seconds
from mailward.ratelimit.redis_buckets import RedisBuckets
from mailward.ratelimit.redis_conn import open_redis

log = logging.getLogger(__name__)


_REPLIES = {
    "client_address": "Too many messages from your address",
    "sender": "Too many messages from this sender",
    "recipient": "Too many messages for this recipient",
}


@dataclass
class RateLimitStats:
    """Counts since the process started, for /metrics."""

    refused: Counter[str] = field(default_factory=Counter)
    failed_open: int = 0


#: The process's counts (one gateway per process).
STATS = RateLimitStats()


@dataclass(frozen=True, slots=True)
class Refusal:
    """A command refused by a bucket: which scope, and when to try again."""

    scope: str
    retry_after: int

    @property
    def reply(self) -> str:
        return f"450 4.7.1 {_REPLIES[self.scope]}; try again in {self.retry_after} seconds"


def client_key(peer_ip: str, ipv6_prefix: int) -> str:
    """The client-address bucket's name: the IPv4 address, or the IPv6 network of the given
    prefix (an IPv4-mapped IPv6 address counts as IPv4)."""
    try:
        ip = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return peer_ip.lower()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


class RateLimiter:
    """Checks MAIL and RCPT against the buckets of ``[ratelimit]`` (see the module docstring)."""

    def __init__(
        self, settings: RateLimitSettings, internal_networks: Sequence[str],
        store: BucketStore | None = None,
    ) -> None:
        self.settings = settings
        self._exempt = _networks(settings, internal_networks)
        self.store: BucketStore = store if store is not None else _open_store(settings)
        self._down_until = 0.0

    def update(self, settings: RateLimitSettings, internal_networks: Sequence[str]) -> None:
        """New rates and exemptions (a configuration reload); the store stays (redis_url and
        key_prefix need a restart)."""
        self.settings = settings.model_copy(update={
            "redis_url": self.settings.redis_url, "key_prefix": self.settings.key_prefix})
        self._exempt = _networks(settings, internal_networks)

    def exempt(self, peer_ip: str, authenticated: bool) -> bool:
        s = self.settings
        if authenticated and s.exempt_authenticated:
            return True
        return ip_in_networks(peer_ip, self._exempt)

    async def check_mail(
        self, peer_ip: str, sender: str, *, authenticated: bool = False
    ) -> Refusal | None:
        """None when MAIL may go on (tokens taken), else the refusal."""
        if not self.settings.enabled or self.exempt(peer_ip, authenticated):
            return None
        s = self.settings
        scoped: list[tuple[str, Bucket]] = []
        if s.client_address.enabled:
            scoped.append(self._bucket("client_address", s.client_address,
                                       client_key(peer_ip, s.client_ipv6_prefix)))
        if s.sender.enabled and sender.strip("<> "):
            scoped.append(self._bucket("sender", s.sender, sender.lower()))
        return await self._take(scoped, peer_ip)

    async def check_rcpt(
        self, peer_ip: str, recipient: str, *, authenticated: bool = False
    ) -> Refusal | None:
        """None when RCPT may go on (a token taken), else the refusal."""
        s = self.settings
        if not s.enabled or not s.recipient.enabled or self.exempt(peer_ip, authenticated):
            return None
        return await self._take([self._bucket("recipient", s.recipient, recipient.lower())],
                                peer_ip)

    def _bucket(self, scope: str, shape: BucketSettings, value: str) -> tuple[str, Bucket]:
        key = f"{self.settings.key_prefix}{scope}:{value}"
        return scope, Bucket(key, shape.per_second, shape.burst)

    async def _take(self, scoped: list[tuple[str, Bucket]], peer_ip: str) -> Refusal | None:
        if not scoped:
            return None
        take = await self._ask([b for _s, b in scoped])
        if take.denied is None:
            return None
        scope = scoped[take.denied][0]
        STATS.refused[scope] += 1
        log.info("rate limit %s exceeded by %s", scope, peer_ip)
        return Refusal(scope, retry_seconds(take))

    async def _ask(self, buckets: list[Bucket]) -> Take:
        """The store's answer; an allowing one when the store fails (fail open)."""
        now = time.monotonic()
        if now < self._down_until:
            STATS.failed_open += 1
            return Take()
        try:
            async with asyncio.timeout(self.settings.redis_timeout * 2):
                take = await self.store.take(buckets)
        except Exception as exc:  # never let the limiter hold mail up: accept and count
            STATS.failed_open += 1
            self._down_until = now + self.settings.redis_retry_seconds
            log.warning("rate limits not checked (failing open for %gs): %s: %s",
                        self.settings.redis_retry_seconds, type(exc).__name__, exc)
            return Take()
        if self._down_until:
            log.info("rate limit store answers again")
            self._down_until = 0.0
        return take

    async def aclose(self) -> None:
        try:
            await self.store.aclose()
        except Exception as exc:
            log.warning("closing the rate limit store: %s", exc)


def _networks(settings: RateLimitSettings, internal: Sequence[str]) -> tuple[Network, ...]:
    return parse_networks([*settings.exempt_networks,
                           *(internal if settings.exempt_internal else ())])


def _open_store(settings: RateLimitSettings) -> BucketStore:
    if not settings.redis_url:
        return MemoryBuckets()
    return RedisBuckets(open_redis(settings.redis_url, settings.redis_timeout))
