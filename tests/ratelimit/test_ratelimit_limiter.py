"""The rate limiter: which buckets MAIL and RCPT take from, exemptions, the 450 reply, and
failing open when Redis cannot be reached."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from mailward.config.ratelimit import RateLimitSettings
from mailward.config.settings import Settings
from mailward.ratelimit import STATS, MemoryBuckets, RateLimiter
from mailward.ratelimit.limiter import client_key
from mailward.runtime.reload import keep_restart_only, needs_restart

REDIS_URL = "redis://127.0.0.1:6379/0"  # as the redis_prefix fixture (conftest.py)


def settings(**kw: Any) -> RateLimitSettings:
    data: dict[str, Any] = {
        "enabled": True,
        "client_address": {"per_minute": 1, "burst": 3},
        "sender": {"per_minute": 1, "burst": 2},
        "recipient": {"per_minute": 1, "burst": 2},
    }
    data.update(kw)
    return RateLimitSettings.model_validate(data)


def limiter(internal: tuple[str, ...] = (), **kw: Any) -> RateLimiter:
    return RateLimiter(settings(**kw), internal, MemoryBuckets())


def mails(lim: RateLimiter, peer: str, sender: str, n: int, **kw: Any) -> list[str | None]:
    async def main() -> list[str | None]:
        out = []
        for _ in range(n):
            refusal = await lim.check_mail(peer, sender, **kw)
            out.append(None if refusal is None else refusal.scope)
        return out

    return asyncio.run(main())


def test_off_by_default() -> None:
    assert not Settings().ratelimit.enabled
    lim = RateLimiter(Settings().ratelimit, (), MemoryBuckets())
    assert mails(lim, "192.0.2.1", "a@b.example", 500) == [None] * 500


def test_sender_bucket_refuses_first_and_other_senders_go_on() -> None:
    lim = limiter()
    assert mails(lim, "192.0.2.1", "a@b.example", 3) == [None, None, "sender"]
    assert mails(lim, "192.0.2.1", "A@B.EXAMPLE", 1) == ["sender"]  # any case, same sender
    assert mails(lim, "192.0.2.1", "c@b.example", 2) == [None, "client_address"]
    assert mails(lim, "192.0.2.2", "c@b.example", 1) == [None]  # another client


def test_the_null_sender_is_counted_by_client_only() -> None:
    lim = limiter()
    assert mails(lim, "192.0.2.1", "", 4) == [None, None, None, "client_address"]


def test_recipient_bucket() -> None:
    lim = limiter()

    async def main() -> list[object]:
        got: list[object] = []
        for peer, rcpt in [("192.0.2.1", "x@example.com"), ("192.0.2.2", "X@example.com"),
                           ("192.0.2.3", "x@example.com"), ("192.0.2.3", "y@example.com")]:
            refusal = await lim.check_rcpt(peer, rcpt)
            got.append(refusal and refusal.reply)
        return got

    got = asyncio.run(main())
    assert got[:2] == [None, None] and got[3] is None
    assert got[2] == "450 4.7.1 Too many messages for this recipient; try again in 60 seconds"


def test_internal_networks_and_authenticated_clients_are_exempt_as_configured() -> None:
    lim = limiter(internal=("10.0.0.0/8",), exempt_networks=["198.51.100.0/24"])
    assert mails(lim, "10.1.2.3", "a@b.example", 10) == [None] * 10
    assert mails(lim, "::ffff:198.51.100.9", "a@b.example", 10) == [None] * 10
    assert mails(lim, "192.0.2.1", "a@b.example", 3, authenticated=True)[-1] == "sender"
    lim = limiter(internal=("10.0.0.0/8",), exempt_internal=False, exempt_authenticated=True)
    assert mails(lim, "10.1.2.3", "a@b.example", 3)[-1] == "sender"
    assert mails(lim, "192.0.2.1", "z@b.example", 10, authenticated=True) == [None] * 10


def test_a_scope_at_zero_per_minute_is_off() -> None:
    lim = limiter(sender={"per_minute": 0, "burst": 1})
    assert mails(lim, "192.0.2.1", "a@b.example", 4) == [None, None, None, "client_address"]


def test_ipv6_clients_count_by_their_64() -> None:
    assert client_key("2001:db8:1:2::5", 64) == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7", 64) == "192.0.2.7"
    lim = limiter()
    assert mails(lim, "2001:db8:1:2::5", "", 3) == [None] * 3
    assert mails(lim, "2001:db8:1:2::6", "", 1) == ["client_address"]
    assert mails(lim, "2001:db8:1:3::6", "", 1) == [None]


def test_reload_changes_rates_but_keeps_the_store() -> None:
    lim = limiter()
    store = lim.store
    lim.update(settings(sender={"per_minute": 1, "burst": 5}, redis_url="redis://x:1"), ())
    assert lim.store is store and lim.settings.redis_url == ""
    assert mails(lim, "192.0.2.1", "a@b.example", 4) == [None, None, None, "client_address"]
    assert needs_restart("ratelimit.redis_url") and not needs_restart("ratelimit.sender")
    old = Settings.model_validate({"ratelimit": {"redis_url": "redis://a:1"}})
    new = Settings.model_validate({"ratelimit": {"redis_url": "redis://b:1", "enabled": True}})
    kept = keep_restart_only(old, new).ratelimit
    assert kept.redis_url == "redis://a:1" and kept.enabled


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="redis_url"):
        settings(redis_url="http://127.0.0.1:6379")
    with pytest.raises(ValueError, match="not an IP network"):
        settings(exempt_networks=["nope"])
    with pytest.raises(ValueError):
        settings(sender={"per_minute": 1, "burst": 0})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_redis_unreachable_fails_open_and_counts_it() -> None:
    lim = RateLimiter(settings(redis_url=f"redis://127.0.0.1:{closed_port()}/0"), ())
    before = STATS.failed_open

    async def main() -> list[object]:
        try:
            got: list[object] = [await lim.check_mail("192.0.2.1", "a@b.example")
                                 for _ in range(5)]
            got.append(await lim.check_rcpt("192.0.2.1", "x@example.com"))
            return got
        finally:
            await lim.aclose()

    started = time.monotonic()
    assert asyncio.run(main()) == [None] * 6  # over the burst, yet every command passes
    assert STATS.failed_open - before == 6
    assert time.monotonic() - started < 5  # asked once, then left alone for a while


def test_redis_store_is_shared_by_limiters(redis_prefix: str) -> None:
    """Two nodes (two limiters on one Redis) spend the same buckets."""
    s = settings(redis_url=REDIS_URL, key_prefix=redis_prefix)

    async def main() -> list[object]:
        a, b = RateLimiter(s, ()), RateLimiter(s, ())
        try:
            got = []
            for lim in (a, b, a):
                refusal = await lim.check_mail("192.0.2.1", "a@b.example")
                got.append(refusal and refusal.scope)
            return got
        finally:
            await a.aclose()
            await b.aclose()

    before = STATS.failed_open
    assert asyncio.run(main()) == [None, None, "sender"]
    assert STATS.failed_open == before
