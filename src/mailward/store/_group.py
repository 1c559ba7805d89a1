"""Group transactions: the writes that several threads ask for at the same time, committed in
one database transaction (one BEGIN, one COMMIT, one write-ahead-log fsync) instead of one each.

:meth:`GroupTransaction.run` returns once the caller's write is committed, as a transaction of
its own would: a caller that returns has its rows on disk (the commit's durability is the
engine's: see :mod:`mailward.store._engine`). One thread (the leader) writes the batch of every
request waiting when it starts; the others wait for it, and the next leader takes the requests
made meanwhile. When the batch fails (a unique key refused, a database error), it is rolled
back and every write of it is made again on its own (``alone``), so one bad write never takes
the others down and each caller gets its own outcome, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection

Item = TypeVar("Item")
log = logging.getLogger(__name__)

#: Writes in one transaction at most (bounds the time the write lock is held).
MAX_BATCH = 64


@dataclass(slots=True)
class _Request(Generic[Item]):
    item: Item
    done: bool = False
    written: bool = False
    error: BaseException | None = field(default=None)


class GroupTransaction(Generic[Item]):
    """Batches written by ``write(conn, items)`` in one transaction each (opened by
    ``begin``); a batch that fails is retried item by item with ``alone(item)`` (its own
    transaction(s)). A lone request goes to ``alone`` directly."""

    def __init__(
        self,
        begin: Callable[[], AbstractContextManager[Connection]],
        write: Callable[[Connection, list[Item]], None],
        alone: Callable[[Item], None],
    ) -> None:
        self._begin = begin
        self._write = write
        self._alone = alone
        self._cond = threading.Condition()
        self._pending: list[_Request[Item]] = []
        self._running = False
        #: Transactions committed and writes made (for tests and benchmarks).
        self.batches = 0
        self.writes = 0

    def run(self, item: Item) -> None:
        """Write ``item``; returns once it is committed, or raises what its write raised."""
        error = self.run_all([item])[0]
        if error is not None:
            raise error

    def run_all(self, items: list[Item]) -> list[BaseException | None]:
        """Write ``items`` (in this order, in as few transactions as the batch size allows);
        returns once each is committed, with what each one's write raised (None: written)."""
        requests = [_Request(item) for item in items]
        with self._cond:
            self._pending.extend(requests)
            while not all(request.done for request in requests):
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                self._cond.release()
                try:
                    self._commit(batch)
                finally:
                    self._cond.acquire()
                    self._running = False
                    for done in batch:
                        done.done = True
                        if not done.written and done.error is None:  # the leader was stopped
                            done.error = RuntimeError("the group transaction was interrupted")
                    self._cond.notify_all()
        return [request.error for request in requests]

    def _commit(self, batch: list[_Request[Item]]) -> None:
        if len(batch) > 1:
            try:
                with self._begin() as conn:
                    self._write(conn, [request.item for request in batch])
            except Exception:  # each write again on its own, below
                log.debug("a group transaction of %d writes failed; writing each alone",
                          len(batch), exc_info=True)
            else:
                for request in batch:
                    request.written = True
                self.batches += 1
                self.writes += len(batch)
                return
        for request in batch:
            try:
                self._alone(request.item)
            except Exception as exc:  # handed to its own caller
                request.error = exc
            else:
                request.written = True
                self.batches += 1
                self.writes += 1
