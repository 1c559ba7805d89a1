"""The I/O clients detectors get through ScanContext.clients, built from settings.

``dns``      a DnsClient (None when dns.enabled is off)
``feeds``    ThreatFeeds from feeds.paths (None when there are none)
``history``  the organisation's sender history in the store (gateway only)
"""

from __future__ import annotations

from typing import Any

from mailward.config.settings import Settings
from mailward.dns import build_dns_client
from mailward.feeds import build_threat_feeds
from mailward.store.history import SqlSenderHistory


def build_clients(
    settings: Settings, *, offline: bool = False, history: bool = False
) -> dict[str, Any]:
    """Clients for scanning. ``offline`` leaves out DNS (eval and scans of stored mail);
    ``history`` adds the organisation's sender history (the gateway; not for eval, where every
    sender would be new)."""
    clients: dict[str, Any] = {"feeds": build_threat_feeds(settings.feeds)}
    if not offline:
        clients["dns"] = build_dns_client(settings.dns)
    if history:
        clients["history"] = SqlSenderHistory(settings.store_url)
    return clients
