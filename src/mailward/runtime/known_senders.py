"""The sender history as a scan process reads it: senders once seen are remembered.

The impersonation detector asks the history whether a sender address was ever seen (a
first-time sender is suspicious). A sender once seen stays seen: the history only grows (rows
are added and updated, never deleted). So an answer "seen" can be kept, and a scan process asks
the database (a query and a worker-thread hop, about a millisecond of CPU with SQLAlchemy) only
about senders it has not found seen yet; an answer "never seen" is never kept, since the sender
may be recorded a moment later.

The stats kept are those of the first "seen" answer (their counts and dates grow stale): the
detector reads only whether there are any.

On a SQLite store the question is a point read on one connection held by the scan process,
made in its event loop's thread (:meth:`SqlSenderHistory.point_reader`: microseconds; a WAL
reader never waits for the writer), instead of a worker-thread hop and SQLAlchemy's per-call
work (0.5-0.7 CPU ms per message from a sender not seen yet); on PostgreSQL it stays
``await history.seen`` in a worker thread.
"""

from __future__ import annotations

from typing import Any

from mailward.store.history import SenderHistory, SenderStats, SqlitePointReader

#: Addresses remembered at most (then the memory starts afresh); about 200 bytes each.
DEFAULT_LIMIT = 50_000


class KnownSenders:
    """A read-only sender history (``seen``) that remembers the senders found seen."""

    def __init__(self, history: SenderHistory, limit: int = DEFAULT_LIMIT) -> None:
        self.history = history
        self.limit = limit
        self._seen: dict[str, SenderStats] = {}
        point_reader = getattr(history, "point_reader", None)
        #: The blocking point read of a SQLite history (None: ask ``history.seen``).
        self._reader: SqlitePointReader | None = (
            point_reader() if callable(point_reader) else None)

    async def seen(self, address: str) -> SenderStats | None:
        """What the history says about ``address`` (None: never seen)."""
        key = address.strip().lower()
        stats = self._seen.get(key)
        if stats is not None:
            return stats
        reader = self._reader
        stats = (reader.seen(address) if reader is not None
                 else await self.history.seen(address))
        if stats is not None:
            if len(self._seen) >= self.limit:
                self._seen.clear()
            self._seen[key] = stats
        return stats

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        close = getattr(self.history, "close", None)
        if callable(close):
            close()


def remember_known_senders(clients: dict[str, Any]) -> dict[str, Any]:
    """``clients`` with its sender history (if any) wrapped in :class:`KnownSenders`; for
    clients that only scan (a scan process), never for those that record the history."""
    history = clients.get("history")
    if history is not None:
        clients = {**clients, "history": KnownSenders(history)}
    return clients
