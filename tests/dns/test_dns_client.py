"""ResolverDnsClient and SyncDnsBridge against a real DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailward.config.settings import DnsSettings
from mailward.dns import DnsTempError, ResolverDnsClient, SyncDnsBridge, build_dns_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dnsserver"))
from local_dns import LocalDnsServer

LONG_TXT = "v=DKIM1; k=rsa; p=" + "A" * 600

RECORDS = {
    "example.net": [
        ("TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
        ("TXT", "hello world"),
        ("A", "192.0.2.10"),
        ("AAAA", "2001:db8::10"),
        ("MX", "10 mx1.example.net"),
        ("MX", "20 mx2.example.net"),
    ],
    "long.example.net": [("TXT", LONG_TXT)],
    "10.2.0.192.in-addr.arpa": [("PTR", "host.example.net")],
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalDnsServer]:
    with LocalDnsServer(
        RECORDS, servfail=["broken.example.net"], silent=["slow.example.net"]
    ) as srv:
        yield srv


def client(server: LocalDnsServer, timeout: float = 2.0) -> ResolverDnsClient:
    return ResolverDnsClient(["127.0.0.1"], server.port, timeout)


def test_txt_a_aaaa_mx_ptr_answer(server: LocalDnsServer) -> None:
    async def go() -> None:
        c = client(server)
        assert sorted(await c.txt("example.net")) == ["hello world", "v=spf1 ip4:192.0.2.0/24 -all"]
        assert await c.a("example.net") == ["192.0.2.10"]
        assert await c.aaaa("example.net") == ["2001:db8::10"]
        assert sorted(await c.mx("example.net")) == [
            (10, "mx1.example.net"),
            (20, "mx2.example.net"),
        ]
        assert await c.ptr("192.0.2.10") == ["host.example.net"]

    asyncio.run(go())


def test_long_txt_strings_are_joined(server: LocalDnsServer) -> None:
    assert asyncio.run(client(server).txt("long.example.net")) == [LONG_TXT]


def test_nxdomain_nodata_and_bad_names_are_empty(server: LocalDnsServer) -> None:
    async def go() -> None:
        c = client(server)
        assert await c.txt("nothing.example.net") == []  # NXDOMAIN
        assert await c.txt("10.2.0.192.in-addr.arpa") == []  # name exists, no TXT
        assert await c.a("long.example.net") == []
        assert await c.ptr("192.0.2.99") == []
        assert await c.ptr("not an ip") == []
        assert await c.txt("a" * 70 + ".example.net") == []  # label too long

    asyncio.run(go())


def test_servfail_and_timeout_raise_temp_error(server: LocalDnsServer) -> None:
    with pytest.raises(DnsTempError):
        asyncio.run(client(server).txt("broken.example.net"))
    with pytest.raises(DnsTempError):
        asyncio.run(client(server, timeout=0.3).txt("slow.example.net"))


def test_truncated_udp_answer_is_retried_over_tcp() -> None:
    with LocalDnsServer(RECORDS, udp_max=512) as srv:
        assert asyncio.run(client(srv).txt("long.example.net")) == [LONG_TXT]
        assert srv.queries.count(("long.example.net", "TXT")) == 2  # UDP, then TCP
        assert asyncio.run(client(srv).txt("example.net"))
        assert srv.queries.count(("example.net", "TXT")) == 1  # fits: UDP only


def test_answers_are_cached_within_their_ttl() -> None:
    with LocalDnsServer(RECORDS, ttl=300) as srv:
        c = client(srv)
        asyncio.run(c.a("example.net"))
        asyncio.run(c.a("example.net"))
        assert srv.queries.count(("example.net", "A")) == 1
    with LocalDnsServer(RECORDS, ttl=0) as srv:
        c = client(srv)
        asyncio.run(c.a("example.net"))
        asyncio.run(c.a("example.net"))
        assert srv.queries.count(("example.net", "A")) == 2


def test_cache_evicts_least_recently_used() -> None:
    with LocalDnsServer(RECORDS) as srv:
        c = ResolverDnsClient(["127.0.0.1"], srv.port, 2.0, cache_size=1)

        async def go() -> None:
            await c.a("example.net")
            await c.txt("example.net")  # evicts the A answer
            await c.a("example.net")

        asyncio.run(go())
        assert srv.queries.count(("example.net", "A")) == 2


def test_build_dns_client_follows_settings() -> None:
    assert build_dns_client(DnsSettings(enabled=False)) is None
    built = build_dns_client(DnsSettings(nameservers=("127.0.0.1",), port=5353, timeout=1.5))
    assert isinstance(built, ResolverDnsClient)
    assert built.resolver.nameservers == ["127.0.0.1"]
    assert built.resolver.port == 5353
    assert built.resolver.lifetime == 1.5


def test_bridge_serves_worker_threads_through_the_loop(server: LocalDnsServer) -> None:
    async def go() -> tuple[bytes | None, bytes | None, int]:
        bridge = SyncDnsBridge(client(server), asyncio.get_running_loop(), timeout=2.0)
        found = await asyncio.to_thread(bridge.dkim_txt, b"long.example.net")
        missing = await asyncio.to_thread(bridge.dkim_txt, b"nothing.example.net")
        return found, missing, bridge.temp_errors

    assert asyncio.run(go()) == (LONG_TXT.encode(), None, 0)


def test_bridge_counts_temp_errors(server: LocalDnsServer) -> None:
    async def go() -> tuple[bytes | None, int]:
        bridge = SyncDnsBridge(client(server), asyncio.get_running_loop(), timeout=2.0)
        answer = await asyncio.to_thread(bridge.dkim_txt, b"broken.example.net")
        return answer, bridge.temp_errors

    assert asyncio.run(go()) == (None, 1)


def test_bridge_refuses_the_loop_thread(server: LocalDnsServer) -> None:
    async def go() -> None:
        bridge = SyncDnsBridge(client(server), asyncio.get_running_loop())
        bridge.txt("example.net")

    with pytest.raises(RuntimeError, match="own event loop"):
        asyncio.run(go())
