"""RelayPolicy: never an open relay; routing tricks refused; internal networks."""

from __future__ import annotations

import pytest

from mailward.frontends.smtp.relay_policy import RelayPolicy

POLICY = RelayPolicy(
    ["Example.com", "mail.example.net"], ["10.0.0.0/8", "192.168.5.0/24", "fd00::/8"]
)


@pytest.mark.parametrize("trusted", [False, True])
@pytest.mark.parametrize(
    "address", ["bob@example.com", "Bob@EXAMPLE.COM", "bob@example.com.", "x@mail.example.net"]
)
def test_accepted_domain_is_accepted_from_anyone(address: str, trusted: bool) -> None:
    decision = POLICY.check_rcpt(address, trusted=trusted)
    assert decision.ok
    assert decision.reply.startswith("250 ")


def test_outside_domain_refused_for_untrusted() -> None:
    decision = POLICY.check_rcpt("victim@elsewhere.example", trusted=False)
    assert not decision.ok
    assert decision.reply.startswith("550 5.7.1")
    assert "elsewhere.example" in decision.reply


@pytest.mark.parametrize(
    "address", ["bob@sub.example.com", "bob@example.com.evil.example", "bob@notexample.com"]
)
def test_lookalike_domains_are_outside(address: str) -> None:
    assert not POLICY.check_rcpt(address, trusted=False).ok
    assert not POLICY.is_accepted_domain(address)


def test_outside_domain_accepted_for_trusted() -> None:
    decision = POLICY.check_rcpt("friend@elsewhere.example", trusted=True)
    assert decision.ok


@pytest.mark.parametrize(
    "address",
    [
        "victim%elsewhere.example@example.com",
        "elsewhere.example!victim@example.com",
        '"victim@elsewhere.example"@example.com',
        '"victim\\@elsewhere.example"@example.com',
    ],
)
def test_routing_in_local_part_refused_for_untrusted(address: str) -> None:
    decision = POLICY.check_rcpt(address, trusted=False)
    assert not decision.ok
    assert decision.reply.startswith("550 5.7.1")


def test_routing_in_local_part_allowed_for_trusted() -> None:
    assert POLICY.check_rcpt("victim%elsewhere.example@example.com", trusted=True).ok


@pytest.mark.parametrize(
    "address",
    ["@relay.example:victim@example.com", "@a.example,@b.example:victim@elsewhere.example"],
)
def test_source_routes_refused(address: str) -> None:
    decision = POLICY.check_rcpt(address, trusted=False)
    assert not decision.ok
    assert "Source routes" in decision.reply


@pytest.mark.parametrize("address", ["", "bob", "@example.com", "bob@"])
def test_bad_syntax_refused(address: str) -> None:
    decision = POLICY.check_rcpt(address, trusted=True)
    assert not decision.ok
    assert decision.reply[0] == "5"


def test_plain_local_part_with_dots_and_plus_is_fine() -> None:
    assert POLICY.check_rcpt("first.last+tag@example.com", trusted=False).ok


@pytest.mark.parametrize(
    "peer",
    [
        "10.1.2.3",
        "192.168.5.200",
        "::ffff:10.9.9.9",
        "::ffff:192.168.5.1",
        "fd12::1",
        "fd12::1%eth0",
    ],
)
def test_internal_peers(peer: str) -> None:
    assert POLICY.is_internal(peer)


@pytest.mark.parametrize(
    "peer",
    [
        "11.0.0.1",
        "192.168.6.1",
        "::ffff:11.0.0.1",
        "2001:db8::1",
        "127.0.0.1",
        "",
        "garbage",
        "10.0.0",
    ],
)
def test_external_or_garbage_peers(peer: str) -> None:
    assert not POLICY.is_internal(peer)


def test_no_internal_networks_means_nothing_is_internal() -> None:
    assert not RelayPolicy(["example.com"], []).is_internal("10.0.0.1")
