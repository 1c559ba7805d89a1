"""The cluster's held backlog, counted cheaply: how many messages wait in the shared
``held_mail`` table, read from the store at most once per ``ttl`` seconds (default 1 s) however
many SMTP sessions, milter calls or console pages ask.

In a cluster a held message leaves the node's spool for the shared store, so the node's spool
alone no longer measures the backlog: ``lockdown.max_held_messages`` (the 4xx at hold-all)
and the console's lockdown page add this count to the node's own spool. A store that does not
answer keeps the last count (0 before the first): a count never stops mail on its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from mailward.cluster.held import HeldStore
from mailward.errors import MailwardError

log = logging.getLogger(__name__)
#: Seconds a count is reused before the store is asked again.
TTL_SECONDS = 1.0


class HeldCount:
    """The shared held count of ``held``, cached ``ttl`` seconds; thread-safe."""

    def __init__(self, held: HeldStore, ttl: float = TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.held, self.ttl, self.clock = held, ttl, clock
        self._value = 0
        self._at: float | None = None
        self._lock = threading.Lock()

    def fresh(self) -> int | None:
        """The cached count while it is fresh, else None (never blocks)."""
        at = self._at
        return self._value if at is not None and self.clock() - at < self.ttl else None

    def get(self) -> int:
        """The count, from the store when the cached one is stale (blocking: call it from a
        thread in the event loop, or use :meth:`aget`)."""
        with self._lock:
            found = self.fresh()
            if found is not None:
                return found
            try:
                self._value = self.held.count()
            except (MailwardError, OSError) as exc:  # keep the last count; retried after ttl
                log.warning("cannot count the cluster's held mail (%s); using %d", exc,
                            self._value)
            self._at = self.clock()
            return self._value

    async def aget(self) -> int:
        """:meth:`get` without blocking the event loop (a thread only when stale)."""
        found = self.fresh()
        return found if found is not None else await asyncio.to_thread(self.get)
