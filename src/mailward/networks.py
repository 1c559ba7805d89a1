"""IP networks from settings, and whether a client address is in one of them (relay policy,
rate-limit exemptions, configuration checks)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in cidrs)


def check_networks(cidrs: tuple[str, ...]) -> tuple[str, ...]:
    """``cidrs`` unchanged when each is an IP network; ValueError naming the first that is not
    (a settings validator)."""
    for net in cidrs:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError as exc:
            raise ValueError(f"{net!r} is not an IP network ({exc})") from exc
    return cidrs


def ip_in_networks(peer_ip: str, networks: Sequence[Network]) -> bool:
    """Whether ``peer_ip`` (IPv4-mapped IPv6 counts as IPv4) is in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
