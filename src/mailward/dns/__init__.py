"""DNS for the detectors: an async client interface, a dnspython implementation, a sync bridge.

Detectors never resolve names themselves: they use the :class:`DnsClient` found in
``ScanContext.clients["dns"]`` (built by :func:`build_dns_client` from ``[dns]`` settings), so a
test can point them at a local server or hand them a fake.

Libraries that want a *synchronous* lookup function (pyspf, dkimpy) run in a worker thread and
reach the same async client through :class:`SyncDnsBridge`, which submits each lookup to the
event loop and waits for it in the worker thread. The loop itself never blocks on DNS, every
lookup goes through one client (one cache, one set of name servers), and fakes work for them too.
"""

from __future__ import annotations

from mailward.dns.bridge import SyncDnsBridge
from mailward.dns.client import (
    DnsClient,
    DnsTempError,
    ResolverDnsClient,
    build_dns_client,
)

__all__ = [
    "DnsClient",
    "DnsTempError",
    "ResolverDnsClient",
    "SyncDnsBridge",
    "build_dns_client",
]
