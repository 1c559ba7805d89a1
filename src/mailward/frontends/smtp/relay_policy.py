"""Who may send to whom: the gateway is never an open relay.

A recipient in an accepted domain is taken from anyone. Any other recipient only from a client
in an internal network or one that authenticated. Addresses that hide a second destination in
their local part (``user%other@``, ``other!user@``, quoted ``@``) or carry a source route
(``@hop:user@``) are refused from outside clients: nmap's smtp-open-relay probes use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailward.networks import Network, ip_in_networks, parse_networks

__all__ = ["Network", "RcptDecision", "RelayPolicy", "ip_in_networks", "parse_networks"]

_ROUTING_CHARS = ("%", "!", "@", "\\")


@dataclass(frozen=True, slots=True)
class RcptDecision:
    ok: bool
    reply: str


class RelayPolicy:
    def __init__(self, accepted_domains: Sequence[str], internal_networks: Sequence[str]) -> None:
        self.accepted = frozenset(d.lower() for d in accepted_domains)
        self.networks = parse_networks(internal_networks)

    def is_internal(self, peer_ip: str) -> bool:
        return ip_in_networks(peer_ip, self.networks)

    def is_accepted_domain(self, address: str) -> bool:
        return address.rpartition("@")[2].lower().rstrip(".") in self.accepted

    def check_rcpt(self, address: str, *, trusted: bool) -> RcptDecision:
        """``trusted``: the client is internal or authenticated."""
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain:
            return RcptDecision(False, "501 5.1.3 Bad recipient address syntax")
        if address.startswith("@") or ":" in local:
            return RcptDecision(False, "550 5.7.1 Source routes are not accepted")
        hidden = any(c in local.strip('"') for c in _ROUTING_CHARS)
        if hidden and not trusted:
            return RcptDecision(False, "550 5.7.1 Relaying denied: routing in the local part")
        if domain.lower().rstrip(".") in self.accepted or trusted:
            return RcptDecision(True, "250 2.1.5 Recipient ok")
        return RcptDecision(False, f"550 5.7.1 Relaying denied: {domain} is not a local domain")
